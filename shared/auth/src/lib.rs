//! Bearer tokens: who a caller is ([`Principal`]), how an access token is verified (RS256
//! against the issuer's key set, [`TokenVerifier`]) or read from claims API Gateway already
//! verified ([`claims`]), the key set cache ([`jwks`]), and the local issuer that signs
//! tokens of Cognito's shape for the local server and the tests ([`local`]). Nothing here
//! knows of HTTP requests: the API's edge finds the token and calls in.

pub mod claims;
pub mod jwks;
pub mod jwt;
pub mod local;
pub use crypto::private_file;
pub mod settings;

pub use domain::Role;
pub use jwt::TokenVerifier;
pub use settings::AuthSettings;

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
    /// The token verifies, but no account has its subject.
    #[error("no such user")]
    UnknownUser,
    #[error("account disabled")]
    Disabled,
    /// Issued before the user signed out, was signed out, or had a password reset.
    #[error("token revoked")]
    Revoked,
    #[error("security records unavailable: {0}")]
    StandingUnavailable(String),
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
            AuthError::UnknownUser => "unknown-user",
            AuthError::Disabled => "user-disabled",
            AuthError::Revoked => "token-revoked",
            AuthError::StandingUnavailable(_) => "standing-unavailable",
        }
    }
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
