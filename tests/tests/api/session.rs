//! The token-mediating backend end to end, as the SPA uses it with a browser's cookie jar:
//! sign in at the identity provider, `/auth/token` (the refresh token only in the
//! `__Host-` cookie), an API call, `/auth/refresh` (the cookie rotates), a reused refresh
//! token ending the whole sign-in, `/auth/logout`; and the CSRF defences.

use reqwest::StatusCode;

use crate::helpers::{APP_ORIGIN, Answer, TestApp, read, spawn_app};
use crate::sign_in::{Browser, REDIRECT, code_of, first_sign_in, pkce};

/// A call to an `/auth/*` route from the SPA's origin with the CSRF header.
async fn auth_call(client: &reqwest::Client, app: &TestApp, path: &str, body: Option<serde_json::Value>, extra: &[(&str, &str)]) -> Answer {
    let mut request = client.post(format!("{}{path}", app.base)).header("origin", APP_ORIGIN).header("x-csrf-token", "1");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    read(request.send().await.unwrap()).await
}

fn set_cookie(answer: &Answer) -> String {
    answer.headers.get("set-cookie").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned()
}

/// Signs the first admin in and exchanges the code through `/auth/token`.
async fn signed_in(app: &TestApp) -> (Browser, Answer) {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let (code, _) = code_of(&first_sign_in(app, &browser, &challenge).await);
    let body = serde_json::json!({"code": code, "code_verifier": verifier, "redirect_uri": REDIRECT});
    let answer = auth_call(&browser.client, app, "/auth/token", Some(body), &[]).await;
    (browser, answer)
}

async fn refused_within_five_seconds(app: &TestApp, access: &str) {
    let started = std::time::Instant::now();
    while app.call(reqwest::Method::GET, "/v1/me", Some(access), None).await.status != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the access token still works after 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_session_signs_in_refreshes_with_a_rotating_cookie_detects_reuse_and_logs_out() {
    let app = spawn_app().await;
    let (browser, session) = signed_in(&app).await;
    assert_eq!(session.status, StatusCode::OK, "{}", session.text);
    let cookie = set_cookie(&session);
    for attribute in ["__Host-refresh=", "Path=/", "Secure", "HttpOnly", "SameSite=Strict", "Max-Age=604800"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let first_refresh = cookie_value(&cookie);
    assert!(!session.text.contains(&first_refresh), "the refresh token is never in a body");
    assert!(session.body.get("refresh_token").is_none());
    let access = session.body["access_token"].as_str().unwrap().to_owned();
    let me = app.call(reqwest::Method::GET, "/v1/me", Some(&access), None).await;
    assert_eq!((me.status.as_u16(), me.body["role"].as_str()), (200, Some("admin")));
    // The exchange recorded the sign-in the access review shows.
    let review = app.call(reqwest::Method::GET, "/v1/admin/access-review", Some(&access), None).await;
    let row = review.body["users"].as_array().unwrap().iter().find(|u| u["id"] == me.body["id"]).cloned().unwrap();
    let signed_in = row["last_sign_in"].as_str().expect("last sign-in recorded");
    assert!(signed_in >= shared::audit::format_time(app.started).as_str(), "{row}");

    // Refresh: a new access token, and the cookie now holds the next refresh token.
    let refreshed = auth_call(&browser.client, &app, "/auth/refresh", None, &[]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text);
    let second_refresh = cookie_value(&set_cookie(&refreshed));
    assert_ne!(second_refresh, first_refresh, "rotated");
    let access = refreshed.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.call(reqwest::Method::GET, "/v1/me", Some(&access), None).await.status, StatusCode::OK);

    // A copy of the first cookie comes back: the whole sign-in ends, the jar's cookie too.
    let stolen = reqwest::Client::new();
    let replayed = auth_call(&stolen, &app, "/auth/refresh", None, &[("cookie", &format!("__Host-refresh={first_refresh}"))]).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED, "{}", replayed.text);
    let after = auth_call(&browser.client, &app, "/auth/refresh", None, &[]).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
    refused_within_five_seconds(&app, &access).await;

    let records = app.audit_records().await;
    let text = serde_json::to_string(&records).unwrap();
    for secret in [&first_refresh, &second_refresh] {
        assert!(!text.contains(secret.as_str()), "a refresh token in the audit trail");
    }
    assert!(records.iter().any(|r| r.action == "auth-refresh" && r.reason.as_deref() == Some("grant-refused")));
}

#[tokio::test]
async fn logging_out_revokes_the_refresh_token_and_the_access_tokens_and_clears_the_cookie() {
    let app = spawn_app().await;
    let (browser, session) = signed_in(&app).await;
    let access = session.body["access_token"].as_str().unwrap().to_owned();
    let refresh = cookie_value(&set_cookie(&session));
    let out = auth_call(&browser.client, &app, "/auth/logout", None, &[("authorization", &format!("Bearer {access}"))]).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    assert!(set_cookie(&out).starts_with("__Host-refresh=;") && set_cookie(&out).contains("Max-Age=0"), "{}", set_cookie(&out));
    refused_within_five_seconds(&app, &access).await;
    // The refresh token is dead at the identity provider, not only gone from the jar.
    let again = auth_call(&reqwest::Client::new(), &app, "/auth/refresh", None, &[("cookie", &format!("__Host-refresh={refresh}"))]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let record = app.audit_for(&out).await;
    assert_eq!((record.action.as_str(), record.actor.as_deref().is_some()), ("auth-logout", true));
}

#[tokio::test]
async fn session_calls_need_the_apps_origin_and_the_csrf_header() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let cases = [
        (vec![("x-csrf-token", "1")], "origin-not-allowed"),
        (vec![("origin", "https://evil.example"), ("x-csrf-token", "1")], "origin-not-allowed"),
        (vec![("origin", APP_ORIGIN)], "csrf-header-missing"),
    ];
    for path in ["/auth/token", "/auth/refresh", "/auth/logout"] {
        for (headers, reason) in &cases {
            let mut request = client.post(format!("{}{path}", app.base));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let answer = read(request.send().await.unwrap()).await;
            answer.assert_problem(403);
            assert_eq!(app.audit_for(&answer).await.reason.as_deref(), Some(*reason), "{path} {headers:?}");
        }
    }
}

#[tokio::test]
async fn bad_code_exchanges_are_4xx_and_say_which_field() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let (verifier, _) = pkce();
    for (body, status, field) in [
        (serde_json::json!({"code": "made-up", "code_verifier": verifier, "redirect_uri": REDIRECT}), 400, None),
        (serde_json::json!({"code": "x", "code_verifier": "short", "redirect_uri": REDIRECT}), 400, Some("code_verifier")),
        (serde_json::json!({"code": "", "code_verifier": verifier, "redirect_uri": REDIRECT}), 400, Some("code")),
        (serde_json::json!({"code": "x", "code_verifier": verifier, "redirect_uri": REDIRECT, "refresh_token": "x"}), 400, None),
        (serde_json::json!({"code": "x".repeat(3000), "code_verifier": verifier, "redirect_uri": REDIRECT}), 400, Some("code")),
    ] {
        let answer = auth_call(&client, &app, "/auth/token", Some(body.clone()), &[]).await;
        answer.assert_problem(status);
        assert_eq!(answer.body["field"].as_str(), field, "{body}");
    }
    let refresh = auth_call(&client, &app, "/auth/refresh", None, &[]).await;
    refresh.assert_problem(401);
    assert_eq!(app.audit_for(&refresh).await.reason.as_deref(), Some("no-session-cookie"));
}

/// Each address may call `/auth/*` 30 times a minute by default (every page load of the app
/// is one call), a limit the local server's `--auth-rate` changes; past it, a 429 with
/// `Retry-After`, audited, and the session itself untouched.
#[tokio::test]
async fn session_calls_per_address_are_limited_and_the_limit_is_a_setting() {
    assert_eq!(devserver::DevConfig::default().auth_rate_per_ip, 30);
    let app = crate::helpers::spawn_app_with(devserver::DevConfig {
        hasher: crate::helpers::cheap_hasher(),
        auth_rate_per_ip: 4,
        ..devserver::DevConfig::default()
    })
    .await;
    crate::helpers::with_a_minute_window_of(10).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(auth_call(&client, &app, "/auth/refresh", None, &[]).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(codes, [401, 401, 401, 401, 429, 429], "no cookie: 401 until the limit, then 429");
    let limited = &statuses[4];
    limited.assert_problem(429);
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let record = app.audit_for(limited).await;
    assert_eq!(record.reason.as_deref(), Some("rate-limited-ip"));
}
