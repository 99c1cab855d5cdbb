//! The local identity provider: the endpoints and token shapes of a Cognito user-pool
//! domain, so one SPA and one token backend work against both.
//!
//! | endpoint | does |
//! |---|---|
//! | `GET /oauth2/authorize` | checks the request (client, exact redirect URI, `code`, PKCE S256, scopes) and shows the sign-in form |
//! | `POST /login` | the form's steps: password (rate-limited per IP and per account), a new password on first sign-in, the TOTP code; then redirects with a code |
//! | `POST /oauth2/token` | `authorization_code` (single use, 5 min, PKCE verified) and `refresh_token` (rotated; a reused token revokes its family) |
//! | `POST /oauth2/revoke` | revokes a refresh token's family |
//! | `GET /logout` | back to a registered logout URL |
//! | `GET /.well-known/openid-configuration` | the discovery document (the key set is served beside it) |
//!
//! Every sign-in, refresh, revocation and refusal writes an audit record; none holds a
//! password, code or token. There is no single sign-on session: each authorization shows
//! the form again.

pub mod clients;
pub mod grants;
pub mod pages;
pub mod pkce;
pub mod signin;
mod token;

use std::collections::HashMap;
use std::sync::Arc;

use shared::audit::{AuditDraft, AuditRecord};
use shared::auth::local::LocalIssuer;
use shared::http::RequestMeta;
use shared::identity::embedded::EmbeddedDirectory;
use shared::identity::hashing::PasswordHasher;
use shared::store::ItemStore;
use shared::store::rate::{Backoff, RateLimit};

pub use clients::Client;

/// Sign-in attempts per IP address (SR-08).
pub const SIGN_IN_PER_IP: RateLimit = RateLimit { name: "sign-in-ip", max: 5, window_seconds: 60 };
/// Failed sign-ins per account, growing: five a minute, ten a quarter hour, twenty a day.
pub const ACCOUNT_LOCKOUT: Backoff = Backoff(&[
    RateLimit { name: "sign-in-account-1m", max: 5, window_seconds: 60 },
    RateLimit { name: "sign-in-account-15m", max: 10, window_seconds: 15 * 60 },
    RateLimit { name: "sign-in-account-1d", max: 20, window_seconds: 24 * 3600 },
]);
/// Token and revocation requests per IP address.
pub const TOKEN_PER_IP: RateLimit = RateLimit { name: "idp-token-ip", max: 30, window_seconds: 60 };

/// Largest form accepted: a sign-in form is well under 4 KiB.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// How the provider is set up.
#[derive(Debug, Clone)]
pub struct IdpConfig {
    /// The provider's base URL: the `iss` of its tokens.
    pub issuer: String,
    pub clients: Vec<Client>,
    /// Admins must sign in with TOTP (and set it up at their next sign-in).
    pub mfa_required_for_admins: bool,
}

/// The provider.
#[derive(Debug)]
pub struct LocalIdp {
    pub config: IdpConfig,
    pub store: Arc<dyn ItemStore>,
    pub directory: EmbeddedDirectory,
    pub hasher: PasswordHasher,
    pub issuer: Arc<LocalIssuer>,
}

/// A request to the provider, read by the server.
#[derive(Debug)]
pub struct IdpRequest {
    pub method: String,
    pub path: String,
    /// Query parameters; a repeated one is an error, so each is kept as a list.
    pub query: HashMap<String, Vec<String>>,
    pub content_type: Option<String>,
    pub authorization: Option<String>,
    pub cookies: HashMap<String, String>,
    pub body: Vec<u8>,
    pub meta: RequestMeta,
}

/// What the provider answers.
#[derive(Debug, PartialEq, Eq)]
pub struct IdpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl IdpResponse {
    fn html(status: u16, body: String, form_targets: &[&str]) -> Self {
        // Forms post to this origin, and the redirect after the last step goes to the
        // client's origin: both must be allowed, or browsers stop the redirect.
        let mut form_action = String::from("'self'");
        for target in form_targets {
            if let Some(origin) = origin_of(target) {
                form_action.push(' ');
                form_action.push_str(&origin);
            }
        }
        Self {
            status,
            headers: vec![
                ("content-type", "text/html; charset=utf-8".into()),
                (
                    "content-security-policy",
                    format!("default-src 'none'; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"),
                ),
            ],
            body,
        }
    }

    fn json(status: u16, body: &serde_json::Value) -> Self {
        Self { status, headers: vec![("content-type", "application/json".into())], body: body.to_string() }
    }

    /// An OAuth error answer (RFC 6749 section 5.2).
    fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        let mut response = Self::json(status, &serde_json::json!({"error": error, "error_description": description}));
        if error == "invalid_client" {
            response.headers.push(("www-authenticate", "Basic realm=\"token\"".into()));
        }
        response
    }

    /// The token and revocation endpoints' answer when the store or keys are out of reach.
    fn temporarily_unavailable() -> Self {
        Self::oauth_error(503, "temporarily_unavailable", "try again in a moment")
    }

    fn redirect(location: String) -> Self {
        Self { status: 302, headers: vec![("location", location)], body: String::new() }
    }

    fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

fn origin_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    Some(parsed.origin().ascii_serialization()).filter(|o| o != "null")
}

/// The paths the provider answers.
pub fn serves(path: &str) -> bool {
    matches!(path, "/oauth2/authorize" | "/login" | "/oauth2/token" | "/oauth2/revoke" | "/logout" | "/.well-known/openid-configuration")
}

impl LocalIdp {
    /// Answers one request; never fails (every refusal is an answer, audited).
    pub async fn handle(&self, request: IdpRequest) -> IdpResponse {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/oauth2/authorize") => self.authorize(&request).await,
            ("POST", "/login") => self.login(&request, now).await,
            ("POST", "/oauth2/token") => self.token(&request, now).await,
            ("POST", "/oauth2/revoke") => self.revoke(&request, now).await,
            ("GET", "/logout") => self.logout(&request),
            ("GET", "/.well-known/openid-configuration") => IdpResponse::json(200, &self.discovery()),
            (_, path) => {
                let allowed = if matches!(path, "/login" | "/oauth2/token" | "/oauth2/revoke") { "POST" } else { "GET" };
                IdpResponse::oauth_error(405, "invalid_request", "method not allowed").with_header("allow", allowed.into())
            }
        }
    }

    fn discovery(&self) -> serde_json::Value {
        let base = self.config.issuer.trim_end_matches('/');
        serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/oauth2/authorize"),
            "token_endpoint": format!("{base}/oauth2/token"),
            "revocation_endpoint": format!("{base}/oauth2/revoke"),
            "end_session_endpoint": format!("{base}/logout"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": SCOPES,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        })
    }

    fn logout(&self, request: &IdpRequest) -> IdpResponse {
        let (Some(client_id), Some(logout_uri)) = (single(&request.query, "client_id"), single(&request.query, "logout_uri")) else {
            return IdpResponse::html(
                400,
                pages::error("Cannot sign out", "The sign-out link is missing its client or return address."),
                &[],
            );
        };
        match self.client(client_id) {
            Some(client) if client.allows_logout(logout_uri) => IdpResponse::redirect(logout_uri.to_owned()),
            _ => {
                IdpResponse::html(400, pages::error("Cannot sign out", "The sign-out link names an unknown client or return address."), &[])
            }
        }
    }

    fn client(&self, id: &str) -> Option<&Client> {
        self.config.clients.iter().find(|c| c.id == id)
    }

    /// Writes an identity event's audit record on its own.
    async fn audit(&self, record: AuditRecord) {
        if let Err(error) = self.store.append_audit(&record).await {
            tracing::error!(cause = %error, "identity audit record not written");
        }
    }
}

/// Scopes a client may ask for.
pub const SCOPES: [&str; 3] = ["openid", "profile", "email"];

/// A parameter given exactly once; a missing, empty or repeated one is `None`.
fn single<'a>(params: &'a HashMap<String, Vec<String>>, name: &str) -> Option<&'a str> {
    match params.get(name).map(Vec::as_slice) {
        Some([value]) if !value.is_empty() => Some(value.as_str()),
        _ => None,
    }
}

/// Whether a parameter was repeated (RFC 6749 section 3.1: parameters must not be).
fn repeated(params: &HashMap<String, Vec<String>>) -> bool {
    params.values().any(|values| values.len() > 1)
}

/// An identity event's record.
fn event(action: &'static str, meta: &RequestMeta, subject: Option<&str>, status: u16, reason: Option<&str>) -> AuditRecord {
    let mut draft = AuditDraft::new(action, "session");
    draft.resource_id = subject.map(str::to_owned);
    draft.subject = subject.map(str::to_owned);
    draft.reason = reason.map(str::to_owned);
    let mut record = draft.finish(meta, status);
    record.actor = subject.map(str::to_owned);
    record
}

/// The body of a form post, as parameters; `None` when it is not a form or too large.
fn form(request: &IdpRequest) -> Result<HashMap<String, Vec<String>>, IdpResponse> {
    let media = request.content_type.as_deref().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "application/x-www-form-urlencoded" {
        return Err(IdpResponse::oauth_error(415, "invalid_request", "the body must be application/x-www-form-urlencoded"));
    }
    if request.body.len() > MAX_FORM_BYTES {
        return Err(IdpResponse::oauth_error(413, "invalid_request", "the form is too large"));
    }
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(&request.body) {
        params.entry(name.into_owned()).or_default().push(value.into_owned());
    }
    Ok(params)
}
