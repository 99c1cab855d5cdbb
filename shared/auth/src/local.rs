//! The local identity provider's token issuer: RSA signing keys kept in the data folder
//! (mode 0600, the first created on first run) and tokens shaped like Cognito's, so the
//! same verifier checks both.
//!
//! Keys rotate ([`LocalIssuer::rotate`], the `devserver rotate-keys` command): a new key
//! signs from then on, and the key set keeps publishing the previous ones
//! ([`KEPT_KEYS`] in all), so tokens they signed keep verifying until they expire. A
//! running server notices a rotation made by another process at its next signature.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

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
/// Keys published at once: the signing key and the two before it. Rotating more often than
/// a token lives would cut tokens short; the command says so.
pub const KEPT_KEYS: usize = 3;

/// The first key's file name, from before keys rotated; it sorts before every rotated one.
const FIRST_KEY_FILE: &str = "local-signing-key.pk8";

/// An error loading or creating the signing key.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("signing key file `{path}`: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("signing failed")]
    Signing,
}

/// One signing key and its id.
#[derive(Debug)]
struct SigningKey {
    key: RsaKeyPair,
    kid: String,
}

impl SigningKey {
    fn from_pkcs8(der: &[u8]) -> Result<Self, IssuerError> {
        let key = RsaKeyPair::from_pkcs8(der).map_err(|_| IssuerError::Signing)?;
        // The kid is a digest of the public key, so a rotated key gets a new kid.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.public_key().as_ref());
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        Ok(Self { key, kid })
    }

    fn generate() -> Result<(Self, Vec<u8>), IssuerError> {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| IssuerError::Signing)?;
        let der = key.as_der().map_err(|_| IssuerError::Signing)?.as_ref().to_vec();
        Ok((Self::from_pkcs8(&der)?, der))
    }

    fn jwk(&self) -> Jwk {
        let public = self.key.public_key();
        Jwk {
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
        }
    }
}

/// The keys in use: oldest first, the last one signs.
#[derive(Debug)]
struct KeyRing {
    keys: Vec<SigningKey>,
    /// The key folder's modification time when the ring was read (none in memory).
    read_at: Option<SystemTime>,
}

impl KeyRing {
    fn signer(&self) -> Result<&SigningKey, IssuerError> {
        self.keys.last().ok_or(IssuerError::Signing)
    }
}

/// Signs tokens for the local server.
#[derive(Debug)]
pub struct LocalIssuer {
    ring: RwLock<KeyRing>,
    /// Where the keys live; `None` for an in-memory issuer (tests).
    dir: Option<PathBuf>,
    issuer: String,
    client_id: String,
}

impl LocalIssuer {
    /// Loads the signing keys from `key_dir`, creating the first (0600) on first use.
    pub fn load_or_create(key_dir: &Path, issuer: String, client_id: String) -> Result<Self, IssuerError> {
        let error = |reason: String| IssuerError::KeyFile { path: key_dir.display().to_string(), reason };
        std::fs::create_dir_all(key_dir).map_err(|e| error(e.to_string()))?;
        if key_files(key_dir)?.is_empty() {
            let (_, der) = SigningKey::generate()?;
            let path = key_dir.join(FIRST_KEY_FILE);
            crate::private_file::write(&path, &der)
                .map_err(|e| IssuerError::KeyFile { path: path.display().to_string(), reason: e.to_string() })?;
        }
        let ring = read_ring(key_dir)?;
        Ok(Self { ring: RwLock::new(ring), dir: Some(key_dir.to_path_buf()), issuer, client_id })
    }

    /// An issuer with a fresh in-memory key (tests).
    pub fn ephemeral(issuer: String, client_id: String) -> Result<Self, IssuerError> {
        let (key, _) = SigningKey::generate()?;
        Ok(Self { ring: RwLock::new(KeyRing { keys: vec![key], read_at: None }), dir: None, issuer, client_id })
    }

    /// Adds a new signing key to `key_dir` and drops the oldest beyond [`KEPT_KEYS`]; returns
    /// the new key's id. A server using the folder switches to it at its next signature.
    pub fn rotate(key_dir: &Path) -> Result<String, IssuerError> {
        let error = |reason: String| IssuerError::KeyFile { path: key_dir.display().to_string(), reason };
        let (key, der) = SigningKey::generate()?;
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_err(|e| error(e.to_string()))?.as_nanos();
        // Rotated keys sort after the first key's name and in the order they were made.
        let path = key_dir.join(format!("signing-{stamp:024}.pk8"));
        crate::private_file::write(&path, &der).map_err(|e| error(e.to_string()))?;
        let files = key_files(key_dir)?;
        for old in files.iter().take(files.len().saturating_sub(KEPT_KEYS)) {
            std::fs::remove_file(old).map_err(|e| error(e.to_string()))?;
        }
        Ok(key.kid)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The id of the key that signs now.
    pub fn kid(&self) -> String {
        self.refresh();
        self.ring.read().ok().and_then(|ring| ring.signer().ok().map(|k| k.kid.clone())).unwrap_or_default()
    }

    /// The public halves of every kept key, as the issuer's JWKS document.
    pub fn jwks(&self) -> JwkSet {
        self.refresh();
        let keys = self.ring.read().map(|ring| ring.keys.iter().map(SigningKey::jwk).collect()).unwrap_or_default();
        JwkSet { keys }
    }

    /// Re-reads the key folder when another process rotated it.
    fn refresh(&self) {
        let Some(dir) = &self.dir else { return };
        let modified = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
        let stale = self.ring.read().map(|ring| ring.read_at != modified).unwrap_or(false);
        if stale {
            match read_ring(dir) {
                Ok(ring) => {
                    if let Ok(mut current) = self.ring.write() {
                        *current = ring;
                    }
                }
                // A half-written folder is read again next time; the keys in hand still sign.
                Err(error) => tracing::warn!(%error, "signing keys not re-read"),
            }
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
        self.sign_claims(&claims)
    }

    /// Signs `claims` with the current key, its kid in the header.
    pub fn sign_claims(&self, claims: &Value) -> Result<String, IssuerError> {
        self.refresh();
        let ring = self.ring.read().map_err(|_| IssuerError::Signing)?;
        let signer = ring.signer()?;
        sign_with(signer, &json!({"alg": "RS256", "typ": "JWT", "kid": signer.kid}), claims)
    }

    /// Signs an arbitrary header and claims set with RS256. Tests use it to build tokens
    /// that are validly signed but wrong in some other way.
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> Result<String, IssuerError> {
        let ring = self.ring.read().map_err(|_| IssuerError::Signing)?;
        sign_with(ring.signer()?, header, claims)
    }
}

/// The issuer's own key set as a [`crate::jwks::JwksSource`]: a verifier in the same
/// process as the issuer sees a rotation as soon as it happens.
#[derive(Debug)]
pub struct IssuerJwks(pub std::sync::Arc<LocalIssuer>);

#[async_trait::async_trait]
impl crate::jwks::JwksSource for IssuerJwks {
    async fn fetch(&self) -> Result<JwkSet, crate::AuthError> {
        Ok(self.0.jwks())
    }
}

fn sign_with(key: &SigningKey, header: &Value, claims: &Value) -> Result<String, IssuerError> {
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let mut signature = vec![0; key.key.public_modulus_len()];
    key.key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut signature).map_err(|_| IssuerError::Signing)?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// The key files of `dir`, oldest first.
fn key_files(dir: &Path) -> Result<Vec<PathBuf>, IssuerError> {
    let error = |reason: String| IssuerError::KeyFile { path: dir.display().to_string(), reason };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| error(e.to_string()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "pk8"))
        .collect();
    // The first key's name sorts first on its own (`l` < `s`); rotated ones by their stamp.
    files.sort();
    Ok(files)
}

fn read_ring(dir: &Path) -> Result<KeyRing, IssuerError> {
    let read_at = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    let mut keys = Vec::new();
    for path in key_files(dir)? {
        let key_error = |reason: String| IssuerError::KeyFile { path: path.display().to_string(), reason };
        crate::private_file::check(&path).map_err(key_error)?;
        let der = std::fs::read(&path).map_err(|e| key_error(e.to_string()))?;
        keys.push(SigningKey::from_pkcs8(&der).map_err(|_| key_error("not an RSA PKCS#8 key".into()))?);
    }
    if keys.is_empty() {
        return Err(IssuerError::KeyFile { path: dir.display().to_string(), reason: "holds no signing key".into() });
    }
    Ok(KeyRing { keys, read_at })
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

    #[tokio::test]
    async fn a_rotation_signs_with_the_new_key_and_keeps_the_old_ones_verifying() {
        use crate::jwks::KeyCache;
        use crate::{AuthSettings, TokenVerifier};
        let dir = tempfile::tempdir().unwrap();
        let issuer = LocalIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000".into(), "local".into()).unwrap();
        let before = issuer.mint_access_token("u-1", "alice", Role::Analyst).unwrap();
        let first_kid = issuer.kid();

        // Another process (the command) rotates; this issuer notices at its next use.
        let new_kid = LocalIssuer::rotate(dir.path()).unwrap();
        assert_ne!(new_kid, first_kid);
        let after = issuer.mint_access_token("u-1", "alice", Role::Analyst).unwrap();
        assert_eq!(issuer.kid(), new_kid);
        let kids: Vec<String> = issuer.jwks().keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
        assert_eq!(kids, [first_kid.clone(), new_kid.clone()], "both published, oldest first");

        let settings = AuthSettings::for_issuer("http://127.0.0.1:3000", "local");
        let verifier = TokenVerifier::new(settings, KeyCache::with_keys(issuer.jwks(), std::time::Duration::ZERO));
        assert!(verifier.verify(&before).await.is_ok(), "a token from before the rotation still verifies");
        assert!(verifier.verify(&after).await.is_ok());

        // After more rotations the first key is dropped: at most three are kept.
        for _ in 0..KEPT_KEYS {
            LocalIssuer::rotate(dir.path()).unwrap();
        }
        let kids: Vec<String> = issuer.jwks().keys.iter().filter_map(|k| k.common.key_id.clone()).collect();
        assert_eq!(kids.len(), KEPT_KEYS);
        assert!(!kids.contains(&first_kid) && !kids.contains(&new_kid), "{kids:?}");
        #[cfg(unix)]
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(entry.unwrap().metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
