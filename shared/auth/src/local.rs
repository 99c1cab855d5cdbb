//! The local identity provider's token issuer: an RSA signing key kept in the data folder
//! (mode 0600, created on first run) and access tokens shaped like Cognito's, so the same
//! verifier checks both.

use std::path::Path;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use jsonwebtoken::jwk::{AlgorithmParameters, CommonParameters, KeyAlgorithm, PublicKeyUse, RSAKeyParameters, RSAKeyType};

use crate::Role;
use crate::jwks::{Jwk, JwkSet};

/// Access tokens live 15 minutes, as in the Cognito app client (SR-01).
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

/// An error loading or creating the signing key.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("signing key file `{path}`: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("signing failed")]
    Signing,
}

/// Signs access tokens for the local server.
#[derive(Debug)]
pub struct LocalIssuer {
    key: RsaKeyPair,
    kid: String,
    issuer: String,
    client_id: String,
}

impl LocalIssuer {
    /// Loads the signing key from `key_dir`, creating it (0600) on first use.
    pub fn load_or_create(key_dir: &Path, issuer: String, client_id: String) -> Result<Self, IssuerError> {
        let path = key_dir.join("local-signing-key.pk8");
        let key_error = |reason: String| IssuerError::KeyFile { path: path.display().to_string(), reason };
        let der = if path.exists() {
            check_private(&path).map_err(key_error)?;
            std::fs::read(&path).map_err(|e| key_error(e.to_string()))?
        } else {
            let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| key_error("generation failed".into()))?;
            let der = key.as_der().map_err(|_| key_error("encoding failed".into()))?.as_ref().to_vec();
            std::fs::create_dir_all(key_dir).map_err(|e| key_error(e.to_string()))?;
            write_private(&path, &der).map_err(|e| key_error(e.to_string()))?;
            der
        };
        Self::from_pkcs8(&der, issuer, client_id).map_err(|_| key_error("not an RSA PKCS#8 key".into()))
    }

    /// An issuer with a fresh in-memory key (tests).
    pub fn ephemeral(issuer: String, client_id: String) -> Result<Self, IssuerError> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| IssuerError::Signing)?;
        let der = key.as_der().map_err(|_| IssuerError::Signing)?.as_ref().to_vec();
        Self::from_pkcs8(&der, issuer, client_id)
    }

    fn from_pkcs8(der: &[u8], issuer: String, client_id: String) -> Result<Self, IssuerError> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|_| IssuerError::Signing)?;
        // The kid is a digest of the public key, so a rotated key gets a new kid.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        Ok(Self { key, kid, issuer, client_id })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half, as the issuer's JWKS document.
    pub fn jwks(&self) -> JwkSet {
        let public = self.key.public_key();
        JwkSet {
            keys: vec![Jwk {
                common: CommonParameters {
                    public_key_use: Some(PublicKeyUse::Signature),
                    key_algorithm: Some(KeyAlgorithm::RS256),
                    key_id: Some(self.kid.clone()),
                    ..CommonParameters::default()
                },
                algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                    key_type: RSAKeyType::RSA,
                    n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                }),
            }],
        }
    }

    /// An access token for `subject` with Cognito's claim names.
    pub fn mint_access_token(&self, subject: &str, username: &str, role: Role) -> Result<String, IssuerError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({
            "sub": subject,
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": "openid profile email",
            "username": username,
            "cognito:groups": [role.as_str()],
            "auth_time": now,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        self.sign_jwt(&json!({"alg": "RS256", "typ": "JWT", "kid": self.kid}), &claims)
    }

    /// Signs an arbitrary header and claims set with RS256. Tests use it to build tokens
    /// that are validly signed but wrong in some other way.
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> Result<String, IssuerError> {
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.sign(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, IssuerError> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature).map_err(|_| IssuerError::Signing)?;
        Ok(signature)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

/// Refuses a key file others can read: a leaked local key mints admin tokens.
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!("mode {:o} lets others read it; run `chmod 600` on it", mode & 0o777));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_private_and_reloaded_with_the_same_kid() {
        let dir = tempfile::tempdir().unwrap();
        let first = LocalIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000".into(), "local".into()).unwrap();
        let second = LocalIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000".into(), "local".into()).unwrap();
        assert_eq!(first.kid(), second.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("local-signing-key.pk8")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        LocalIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000".into(), "local".into()).unwrap();
        let path = dir.path().join("local-signing-key.pk8");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(LocalIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000".into(), "local".into()).is_err());
    }

    #[test]
    fn access_tokens_last_fifteen_minutes_and_carry_cognitos_claims() {
        use base64::Engine;
        let issuer = LocalIssuer::ephemeral("http://127.0.0.1:3000".into(), "local-spa".into()).unwrap();
        let token = issuer.mint_access_token("u-1", "alice", Role::Analyst).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);
        assert_eq!((claims["token_use"].as_str(), claims["client_id"].as_str()), (Some("access"), Some("local-spa")));
        assert_eq!(claims["cognito:groups"], serde_json::json!(["analyst"]));
    }
}
