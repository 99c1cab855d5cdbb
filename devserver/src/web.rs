//! The web app beside the API: the built files of `web/` (`npm run build` writes
//! `web/dist/`), loaded into memory at start, and the app's `config.json`, written here
//! from the server's own settings as the deploy script writes it for CloudFront.
//!
//! Only files found at start are served, by exact path: nothing a request names reaches
//! the file system. A navigation to one of the app's own paths gets `index.html` (the app
//! routes in the browser); API paths keep their problem+json 404.

use std::collections::HashMap;
use std::path::Path;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use shared::http::headers::{WEB_CONTENT_SECURITY_POLICY, WEB_HEADERS};

/// Paths the app's router answers in the browser (besides `/`).
const APP_PATHS: [&str; 6] = ["/callback", "/datasets", "/forecasts", "/users", "/signed-out", "/not-found"];

/// The built app.
#[derive(Debug, Default)]
pub struct WebApp {
    /// Shared buffers: a response takes a reference, not a copy.
    files: HashMap<String, Bytes>,
    config: Bytes,
}

/// What the app needs to know about where it runs: see `web/src/config.ts`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebConfig {
    /// Where the API is; empty: beside the app, on its origin.
    pub api_base_url: String,
    pub authorize_url: String,
    pub logout_url: String,
    pub client_id: String,
    /// Space-separated scopes to ask for.
    pub scope: String,
    pub redirect_uri: String,
    pub logout_redirect_uri: String,
}

impl WebApp {
    /// Loads every file under `dir` (none when it is missing: the index page then says
    /// how to build the app).
    pub fn load(dir: &Path, config: &WebConfig) -> std::io::Result<Self> {
        let mut files = HashMap::new();
        if dir.is_dir() {
            collect(dir, dir, &mut files)?;
        }
        Ok(Self { files, config: Bytes::from(serde_json::to_vec(config).map_err(std::io::Error::other)?) })
    }

    /// Whether `npm run build` had been run.
    pub fn is_built(&self) -> bool {
        self.files.contains_key("/index.html")
    }

    /// The answer for a GET or HEAD of `path`, if it is the app's; `accepts_html` says the
    /// request is a browser navigation.
    pub fn answer(&self, path: &str, accepts_html: bool) -> Option<Response> {
        if path == "/config.json" {
            return Some(respond(self.config.clone(), "application/json", "no-cache"));
        }
        if let Some(bytes) = self.files.get(path).filter(|_| path != "/index.html") {
            // Vite names built assets by their content hash: they never change.
            let cache = if path.starts_with("/assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
            return Some(respond(bytes.clone(), content_type(path), cache));
        }
        let app_path = path == "/" || path == "/index.html" || APP_PATHS.iter().any(|p| path == *p || path.starts_with(&format!("{p}/")));
        if !(app_path && accepts_html) {
            return None;
        }
        Some(match self.files.get("/index.html") {
            Some(index) => respond(index.clone(), "text/html; charset=utf-8", "no-cache"),
            None => {
                let mut response = respond(Bytes::from_static(NOT_BUILT.as_bytes()), "text/plain; charset=utf-8", "no-cache");
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response
            }
        })
    }
}

const NOT_BUILT: &str = "The web app is not built: run `npm ci && npm run build` in web/ (or start the server with `bash scripts/serve.sh`, which does it), then restart the server.\nThe API is served here all the same.\n";

fn collect(root: &Path, dir: &Path, files: &mut HashMap<String, Bytes>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, files)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            let key = format!("/{}", relative.to_string_lossy().replace('\\', "/"));
            files.insert(key, Bytes::from(std::fs::read(&path)?));
        }
    }
    Ok(())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("webmanifest") => "application/manifest+json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn respond(body: Bytes, content_type: &'static str, cache: &'static str) -> Response {
    let mut response = Response::new(axum::body::Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(WEB_CONTENT_SECURITY_POLICY));
    for (name, value) in WEB_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> WebConfig {
        WebConfig {
            api_base_url: String::new(),
            authorize_url: "http://127.0.0.1:1/oauth2/authorize".into(),
            logout_url: "http://127.0.0.1:1/logout".into(),
            client_id: "local-backend".into(),
            scope: "openid profile email".into(),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            logout_redirect_uri: "http://127.0.0.1:1/".into(),
        }
    }

    fn built() -> (tempfile::TempDir, WebApp) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html><title>app</title>").unwrap();
        std::fs::write(dir.path().join("assets/index-abc123.js"), "console.log(1)").unwrap();
        let app = WebApp::load(dir.path(), &config()).unwrap();
        (dir, app)
    }

    #[test]
    fn app_paths_get_the_index_and_api_paths_do_not() {
        let (_dir, app) = built();
        for path in ["/", "/datasets", "/datasets/ds-1", "/callback", "/users/u-1/x"] {
            let response = app.answer(path, true).unwrap_or_else(|| panic!("{path} is the app's"));
            assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        }
        for path in ["/v1/datasets", "/auth/token", "/datasetsx", "/health", "/openapi.json"] {
            assert!(app.answer(path, true).is_none(), "{path} is not the app's");
        }
        // A script's request for an app path is not a navigation: it keeps the API's 404.
        assert!(app.answer("/datasets", false).is_none());
    }

    #[test]
    fn assets_are_served_by_exact_path_with_the_strict_policy() {
        let (_dir, app) = built();
        let asset = app.answer("/assets/index-abc123.js", false).unwrap();
        assert_eq!(asset.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(asset.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        assert!(asset.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self';"));
        assert!(app.answer("/assets/../index.html", false).is_none());
        assert!(app.answer("/assets/missing.js", false).is_none());
    }

    #[test]
    fn the_config_names_where_the_app_signs_in() {
        let (_dir, app) = built();
        let response = app.answer("/config.json", false).unwrap();
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache");
        let config = std::str::from_utf8(&app.config).unwrap();
        assert!(config.contains(r#""redirectUri":"http://127.0.0.1:1/callback""#), "{config}");
        assert!(config.contains(r#""clientId":"local-backend""#));
    }

    #[test]
    fn an_unbuilt_app_says_how_to_build_it() {
        let dir = tempfile::tempdir().unwrap();
        let app = WebApp::load(&dir.path().join("missing"), &config()).unwrap();
        assert!(!app.is_built());
        let response = app.answer("/", true).unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
