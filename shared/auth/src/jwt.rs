//! Bearer-token verification for when API Gateway has not verified the token (SR-05).
//!
//! Accepts only RS256 access tokens from the configured issuer and app clients, signed by
//! a key in the issuer's key set. Header parameters that would let a token choose its own
//! key (`jku`, `jwk`, `x5u`, `x5c`) or demand unknown processing (`crit`) are refused.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::claims::principal_from_claims;
use super::jwks::KeyCache;
use super::{AuthError, Principal};
use crate::AuthSettings;

/// Cognito access tokens are around 1 KiB; anything far larger is an attack or a mistake.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Verifies bearer tokens against the issuer's key set.
#[derive(Debug)]
pub struct TokenVerifier {
    settings: AuthSettings,
    keys: KeyCache,
    validation: Validation,
}

impl TokenVerifier {
    pub fn new(settings: AuthSettings, keys: KeyCache) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = vec![Algorithm::RS256];
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Cognito access tokens carry `client_id`, not `aud`; it is checked below.
        validation.validate_aud = false;
        // The library enforces only `exp`, `nbf`, `sub`, `iss` and `aud` from this set (it
        // skips `iat`), and accepts an `iss` array that contains ours: `iat` and every
        // identity claim are checked below instead.
        validation.required_spec_claims = HashSet::from(["exp".to_owned(), "iss".to_owned(), "sub".to_owned()]);
        Self { settings, keys, validation }
    }

    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Oversized);
        }
        let well_formed =
            token.split('.').count() == 3 && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !well_formed {
            return Err(AuthError::Malformed);
        }
        // Read `alg` ourselves first: the library rejects `none` and unknown names as
        // generic parse errors, and the audit record should say what was attempted.
        if header_alg(token)?.as_deref() != Some("RS256") {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        // `alg` is RS256 by now, so what fails here is the header's shape.
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::AlgorithmNotAllowed);
        }
        for (name, present) in [
            ("jku", header.jku.is_some()),
            ("jwk", header.jwk.is_some()),
            ("x5u", header.x5u.is_some()),
            ("x5c", header.x5c.is_some()),
            ("crit", header.crit.is_some()),
        ] {
            if present {
                return Err(AuthError::ForbiddenHeader(name));
            }
        }
        let kid = header.kid.ok_or(AuthError::MissingClaim("kid"))?;
        let key = self.keys.key(&kid).await?;

        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => AuthError::BadSignature,
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::MissingRequiredClaim(name) => AuthError::MissingClaim(static_claim(name)),
            _ => AuthError::Malformed,
        })?;
        let claims = data.claims;

        // `iat` is required (revocation compares it) and must be a NumericDate, not text.
        let iat = match claims.get("iat") {
            None => return Err(AuthError::MissingClaim("iat")),
            Some(value) => value.as_i64().ok_or(AuthError::Malformed)?,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        if iat > now.saturating_add(leeway) {
            return Err(AuthError::IssuedInFuture);
        }
        principal_from_claims(&claims, &self.settings)
    }
}

/// The `alg` of a token's header, if the header is a JSON object.
fn header_alg(token: &str) -> Result<Option<String>, AuthError> {
    use base64::Engine;
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(encoded).map_err(|_| AuthError::Malformed)?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let object = header.as_object().ok_or(AuthError::Malformed)?;
    Ok(object.get("alg").and_then(serde_json::Value::as_str).map(str::to_owned))
}

fn static_claim(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "iss" => "iss",
        "sub" => "sub",
        _ => "claim",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalIssuer;
    use serde_json::json;

    const ISSUER: &str = "http://127.0.0.1:1";

    fn setup() -> (LocalIssuer, TokenVerifier) {
        let issuer = LocalIssuer::ephemeral(ISSUER.into(), "spa".into()).unwrap();
        let settings = AuthSettings::for_issuer(ISSUER, "spa");
        let keys = KeyCache::with_keys(issuer.jwks(), settings.jwks_min_refresh);
        (issuer, TokenVerifier::new(settings, keys))
    }

    fn claims(extra: Value) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut base = json!({"sub": "u-1", "iss": ISSUER, "client_id": "spa", "token_use": "access", "iat": now, "exp": now + 600});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            for (name, value) in extra {
                if value.is_null() {
                    base.remove(name);
                } else {
                    base.insert(name.clone(), value.clone());
                }
            }
        }
        base
    }

    fn sign(issuer: &LocalIssuer, claims: &Value) -> String {
        issuer.sign_jwt(&json!({"alg": "RS256", "typ": "JWT", "kid": issuer.kid()}), claims).unwrap()
    }

    #[tokio::test]
    async fn the_size_cap_is_8_kib_exactly() {
        let (_, verifier) = setup();
        let at_cap = format!("a.b.{}", "c".repeat(MAX_TOKEN_BYTES - 4));
        assert_eq!(at_cap.len(), MAX_TOKEN_BYTES);
        assert_ne!(verifier.verify(&at_cap).await, Err(AuthError::Oversized), "8 KiB is allowed");
        assert_eq!(verifier.verify(&format!("{at_cap}c")).await, Err(AuthError::Oversized));
    }

    #[tokio::test]
    async fn a_token_with_characters_outside_base64url_is_malformed_before_any_key_is_looked_up() {
        let (issuer, verifier) = setup();
        let token = sign(&issuer, &claims(json!({})));
        let mut parts: Vec<&str> = token.split('.').collect();
        // A good header naming an unknown kid, and a payload with `+`: never a key lookup.
        let header = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, r#"{"alg":"RS256","kid":"nobody-knows"}"#);
        parts[0] = &header;
        let tampered = format!("{}.{}+.{}", parts[0], parts[1], parts[2]);
        assert_eq!(verifier.verify(&tampered).await, Err(AuthError::Malformed));
    }

    #[tokio::test]
    async fn iat_may_be_ahead_by_the_leeway_and_no_more() {
        let (issuer, verifier) = setup();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let at_leeway = sign(&issuer, &claims(json!({"iat": now + 30})));
        assert!(verifier.verify(&at_leeway).await.is_ok(), "30 s ahead is within the skew");
        let beyond = sign(&issuer, &claims(json!({"iat": now + 32})));
        assert_eq!(verifier.verify(&beyond).await, Err(AuthError::IssuedInFuture));
    }

    #[tokio::test]
    async fn a_missing_registered_claim_is_named() {
        let (issuer, verifier) = setup();
        for claim in ["exp", "iss", "sub", "iat"] {
            let token = sign(&issuer, &claims(json!({claim: null})));
            assert_eq!(verifier.verify(&token).await, Err(AuthError::MissingClaim(claim)), "{claim}");
        }
        assert_eq!(static_claim("aud"), "claim");
    }
}
