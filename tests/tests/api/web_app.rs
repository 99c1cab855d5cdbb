//! The web app beside the API on the local server: the built files at `/` under the
//! app's strict policy, its settings in `/config.json`, and its own origin trusted by the
//! session routes and registered with the identity provider. (The app itself is tested in
//! a browser: `web/tests/`.)

use devserver::DevConfig;
use reqwest::Method;

use crate::helpers::{TestApp, cheap_hasher, spawn_app_with};

/// A built app of two files, as `npm run build` lays them out.
async fn app_with_web() -> (TestApp, tempfile::TempDir) {
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(web.path().join("assets")).unwrap();
    std::fs::write(
        web.path().join("index.html"),
        "<!doctype html><title>Forecast</title><script type=module src=/assets/app-1a2b.js></script>",
    )
    .unwrap();
    std::fs::write(web.path().join("assets/app-1a2b.js"), "export {};").unwrap();
    let app = spawn_app_with(DevConfig { hasher: cheap_hasher(), web_dir: web.path().to_path_buf(), ..DevConfig::default() }).await;
    (app, web)
}

const HTML: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

#[tokio::test]
async fn the_app_is_served_at_its_paths_under_a_policy_with_no_inline_code_and_the_api_keeps_its_answers() {
    let (app, _web) = app_with_web().await;
    for path in ["/", "/datasets", "/datasets/01a232b4-c968-762c-b3f7-15aca2d28660/forecast", "/callback?code=x&state=y"] {
        let page = app.call_with(Method::GET, path, None, None, &[HTML]).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(page.content_type(), "text/html; charset=utf-8", "{path}");
        assert!(page.text.starts_with("<!doctype html><title>Forecast</title>"), "{path}: {}", page.text);
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
        ] {
            assert!(policy.contains(directive), "{path}: `{directive}` missing from {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["x-content-type-options"], "nosniff");
        assert_eq!(page.headers["cache-control"], "no-cache");
    }
    let script = app.call(Method::GET, "/assets/app-1a2b.js", None, None).await;
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type(), "text/javascript; charset=utf-8");
    assert_eq!(script.headers["cache-control"], "public, max-age=31536000, immutable");

    // API paths stay the API's, navigations or not; so do paths the app does not have.
    let api = app.call_with(Method::GET, "/v1/datasets", None, None, &[HTML]).await;
    api.assert_problem(401);
    for path in ["/assets/missing.js", "/store.sqlite3", "/master-keys/personal-data", "/admin", "/datasets.json"] {
        app.call_with(Method::GET, path, None, None, &[HTML]).await.assert_problem(404);
    }
    // A script asking for an app path gets the API's 404, not a page.
    app.call(Method::GET, "/datasets", None, None).await.assert_problem(404);
}

#[tokio::test]
async fn the_app_origin_may_call_the_session_routes_and_its_callback_is_registered() {
    let (app, _web) = app_with_web().await;
    let config = app.call(Method::GET, "/config.json", None, None).await;
    assert_eq!(config.status, 200);
    assert_eq!(config.body["redirectUri"], format!("{}/callback", app.base));
    assert_eq!(config.body["logoutRedirectUri"], format!("{}/", app.base));
    assert_eq!(config.body["authorizeUrl"], format!("{}/oauth2/authorize", app.base));
    assert_eq!(config.body["clientId"], devserver::BACKEND_CLIENT_ID);
    assert_eq!(config.body["apiBaseUrl"], "");

    // From the app's own origin, the session routes answer (no cookie yet: 401); from
    // another origin they refuse.
    let csrf = ("x-csrf-token", "1");
    let own = app.call_with(Method::POST, "/auth/refresh", None, None, &[("origin", &app.base), csrf]).await;
    own.assert_problem(401);
    let other = app.call_with(Method::POST, "/auth/refresh", None, None, &[("origin", "http://127.0.0.1:1"), csrf]).await;
    other.assert_problem(403);

    // The identity provider sends a browser back to the app's callback, and nowhere else.
    let authorize = |redirect: String| {
        let app = &app;
        async move {
            let query = [
                ("client_id", devserver::BACKEND_CLIENT_ID.to_owned()),
                ("redirect_uri", redirect),
                ("response_type", "code".into()),
                ("scope", "openid profile email".into()),
                ("state", "s".repeat(43)),
                ("code_challenge", "c".repeat(43)),
                ("code_challenge_method", "S256".into()),
            ];
            let url = reqwest::Url::parse_with_params(&format!("{}/oauth2/authorize", app.base), &query).unwrap();
            app.client.get(url).send().await.unwrap().status()
        }
    };
    assert_eq!(authorize(format!("{}/callback", app.base)).await, 200);
    assert_eq!(authorize(format!("{}/elsewhere", app.base)).await, 400);
}

#[tokio::test]
async fn a_navigation_by_another_name_of_loopback_goes_to_the_origin_that_signs_in() {
    let (app, _web) = app_with_web().await;
    let port = app.server.addr.port();
    let page = app.call_with(Method::GET, "/datasets?q=1", None, None, &[HTML, ("host", &format!("localhost:{port}"))]).await;
    assert_eq!(page.status, 307);
    assert_eq!(page.headers["location"], format!("http://127.0.0.1:{port}/datasets?q=1"));
}

#[tokio::test]
async fn without_a_built_app_the_index_says_how_to_build_it() {
    let missing = tempfile::tempdir().unwrap();
    let app = spawn_app_with(DevConfig { hasher: cheap_hasher(), web_dir: missing.path().join("dist"), ..DevConfig::default() }).await;
    let page = app.call_with(Method::GET, "/", None, None, &[HTML]).await;
    assert_eq!(page.status, 503);
    assert!(page.text.contains("npm ci && npm run build"), "{}", page.text);
    app.call(Method::GET, "/health", None, None).await;
}
