//! Who is calling: the [`Principal`], from API Gateway's verified claims or from a bearer
//! token this crate verifies itself. Never anonymous by accident: every path that cannot
//! establish a principal fails closed.

pub mod claims;
pub mod jwks;
pub mod jwt;

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::request::RequestContext;

use crate::config::AuthSettings;
pub use jwt::TokenVerifier;

pub use domain::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable subject id (`sub`); the only identity that goes into logs and audit records.
    pub subject: String,
    pub username: String,
    pub role: Role,
    pub groups: Vec<String>,
    pub client_id: String,
    /// Epoch seconds the token was issued at, for revocation checks.
    pub issued_at: Option<i64>,
}

/// Why a request could not be authenticated. The client only ever learns "401"; the
/// variant goes into the audit record and the failed-authentication metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("more than one authorization header")]
    AmbiguousCredentials,
    #[error("malformed token")]
    Malformed,
    #[error("token too large")]
    Oversized,
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("forbidden header parameter `{0}`")]
    ForbiddenHeader(&'static str),
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong client")]
    WrongClient,
    #[error("not an access token")]
    NotAccessToken,
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    #[error("signing keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl AuthError {
    /// Stable reason code for audit records and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingToken => "missing-token",
            AuthError::AmbiguousCredentials => "ambiguous-credentials",
            AuthError::Malformed => "malformed",
            AuthError::Oversized => "oversized",
            AuthError::AlgorithmNotAllowed => "algorithm-not-allowed",
            AuthError::ForbiddenHeader(_) => "forbidden-header",
            AuthError::UnknownKey => "unknown-key",
            AuthError::BadSignature => "bad-signature",
            AuthError::Expired => "expired",
            AuthError::NotYetValid => "not-yet-valid",
            AuthError::IssuedInFuture => "issued-in-future",
            AuthError::WrongIssuer => "wrong-issuer",
            AuthError::WrongClient => "wrong-client",
            AuthError::NotAccessToken => "not-access-token",
            AuthError::MissingClaim(_) => "missing-claim",
            AuthError::KeysUnavailable(_) => "keys-unavailable",
        }
    }
}

/// Establishes the principal for a request.
///
/// When API Gateway's Cognito authorizer ran, its claims are in the request context and
/// are used (after re-checking issuer, client and token use, which costs nothing). When
/// they are absent (local server, tests, a route deployed without the authorizer), the
/// bearer token is verified here.
pub async fn authenticate(req: &Request, settings: &AuthSettings, verifier: &TokenVerifier) -> Result<Principal, AuthError> {
    // Two credentials are ambiguous: which one a proxy, the authorizer and this code each
    // read could differ, so none is used.
    if req.headers().get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(AuthError::AmbiguousCredentials);
    }
    if let Some(Some(fields)) = req.request_context_ref().map(authorizer_claims) {
        return claims::principal_from_claims(fields, settings);
    }
    let token = bearer_token(req)?;
    verifier.verify(token).await
}

fn authorizer_claims(context: &RequestContext) -> Option<&serde_json::Map<String, serde_json::Value>> {
    match context {
        RequestContext::ApiGatewayV1(context) => context.authorizer.fields.get("claims").and_then(|c| c.as_object()),
        _ => None,
    }
}

fn bearer_token(req: &Request) -> Result<&str, AuthError> {
    let value = req.headers().get(AUTHORIZATION).ok_or(AuthError::MissingToken)?;
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_privileged_known_group_wins_and_none_means_viewer() {
        assert_eq!(Role::from_groups(&["viewer", "admin"]), Role::Admin);
        assert_eq!(Role::from_groups(&["analyst", "other"]), Role::Analyst);
        assert_eq!(Role::from_groups::<&str>(&[]), Role::Viewer);
        assert_eq!(Role::from_groups(&["Admin", "root"]), Role::Viewer);
    }
}
