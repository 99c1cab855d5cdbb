//! How tokens are verified: issuer, key set, app clients, clock skew.

use std::time::Duration;

/// How bearer tokens are verified when API Gateway has not done it for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Expected `iss` claim.
    pub issuer: String,
    /// Where the issuer's JSON Web Key Set lives. Defaults to `{issuer}/.well-known/jwks.json`.
    pub jwks_url: String,
    /// App clients whose access tokens this API accepts (`client_id` claim).
    pub client_ids: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Smallest interval between two JWKS fetches triggered by an unknown `kid`.
    pub jwks_min_refresh: Duration,
}

impl AuthSettings {
    /// Settings for tokens from `issuer` (its key set at the conventional path) and one
    /// app client, with the default skew and refresh interval.
    pub fn for_issuer(issuer: &str, client_id: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            jwks_url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            client_ids: vec![client_id.to_owned()],
            leeway: Duration::from_secs(DEFAULT_LEEWAY_SECONDS),
            jwks_min_refresh: Duration::from_secs(DEFAULT_JWKS_MIN_REFRESH_SECONDS),
        }
    }
}

/// Clock skew tolerated unless configured.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;
/// Smallest interval between two key set fetches unless configured.
pub const DEFAULT_JWKS_MIN_REFRESH_SECONDS: u64 = 60;
