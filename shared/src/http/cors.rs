//! CORS from a configured allow-list of origins (SR-32).
//!
//! Only listed origins get `Access-Control-Allow-*` headers, and only they may send
//! credentials. Preflight requests are answered here, before authentication, because a
//! browser never sends credentials on a preflight.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode};
use lambda_http::{Body, Response};

// What preflights allow. `template.yaml` answers preflights at API Gateway with the same
// values, and the methods are those the routes are served with: tests tie all three.
pub const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
pub const ALLOWED_HEADERS: &str = "authorization, content-type, x-csrf-token, x-request-id";
pub const MAX_AGE_SECONDS: &str = "600";

/// The configured allow-list.
#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// An allow-list of origins, each checked by [`crate::config::parse_origin`] (https, or
    /// plain http on loopback; written exactly as browsers send it).
    pub fn new<S: AsRef<str>>(origins: &[S]) -> Result<Self, crate::config::ConfigError> {
        let origins = origins
            .iter()
            .map(|o| crate::config::parse_origin(o.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| crate::config::ConfigError::Invalid { name: "CORS_ALLOWED_ORIGINS", reason })?;
        Ok(Self { origins })
    }

    /// Whether `origin` is on the list.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed(Some(origin)).is_some()
    }

    fn allowed<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|o| self.origins.iter().any(|allowed| allowed == o))
    }

    /// Adds CORS headers for an allowed origin; always adds `Vary: Origin` so caches
    /// don't serve one origin's answer to another.
    pub fn apply(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        headers.insert("vary", HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed(origin).and_then(|o| HeaderValue::from_str(o).ok()) {
            headers.insert("access-control-allow-origin", origin);
            headers.insert("access-control-allow-credentials", HeaderValue::from_static("true"));
            headers.insert("access-control-expose-headers", HeaderValue::from_static("x-request-id, x-next-cursor"));
        }
    }

    /// Answers a preflight: 204 with the allowed methods for a listed origin, 403 otherwise.
    pub fn preflight(&self, origin: Option<&str>) -> Response<Body> {
        let mut response = Response::new(Body::Empty);
        if self.allowed(origin).is_some() {
            *response.status_mut() = StatusCode::NO_CONTENT;
            let headers = response.headers_mut();
            headers.insert("access-control-allow-methods", HeaderValue::from_static(ALLOWED_METHODS));
            headers.insert("access-control-allow-headers", HeaderValue::from_static(ALLOWED_HEADERS));
            headers.insert("access-control-max-age", HeaderValue::from_static(MAX_AGE_SECONDS));
        } else {
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        self.apply(origin, response.headers_mut());
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_credentials() {
        let cors = CorsPolicy::new(&["https://app.example"]).unwrap();
        let mut allowed = HeaderMap::new();
        cors.apply(Some("https://app.example"), &mut allowed);
        assert_eq!(allowed["access-control-allow-origin"], "https://app.example");
        assert_eq!(allowed["access-control-allow-credentials"], "true");

        let mut other = HeaderMap::new();
        cors.apply(Some("https://evil.example"), &mut other);
        assert!(other.get("access-control-allow-origin").is_none());
        assert_eq!(other["vary"], "Origin");
    }

    #[test]
    fn preflight_from_an_unlisted_origin_is_refused() {
        let cors = CorsPolicy::new(&["https://app.example"]).unwrap();
        assert_eq!(cors.preflight(Some("https://app.example")).status(), StatusCode::NO_CONTENT);
        assert_eq!(cors.preflight(Some("null")).status(), StatusCode::FORBIDDEN);
        assert_eq!(cors.preflight(None).status(), StatusCode::FORBIDDEN);
    }

    #[test]
    fn preflights_allow_exactly_the_methods_the_routes_are_served_with() {
        let mut served: Vec<String> = crate::Route::all_methods().iter().map(|m| m.as_str().to_owned()).collect();
        served.sort_unstable();
        let mut allowed: Vec<String> = ALLOWED_METHODS.split(", ").map(str::to_owned).collect();
        allowed.sort_unstable();
        assert_eq!(allowed, served);
    }

    #[test]
    fn a_lookalike_origin_cannot_be_configured() {
        assert!(CorsPolicy::new(&["http://localhost.evil.example"]).is_err());
        assert!(CorsPolicy::new(&["http://localhost:5173"]).is_ok());
    }
}
