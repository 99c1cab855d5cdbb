//! Signatures over audit digests: the signer port (ECDSA P-256 with SHA-256, DER
//! signatures, X.509 public keys), its local adapter (a key file), and verification.
//!
//! Asymmetric on purpose: the function that writes digests signs, and whoever verifies
//! needs only the public key, so no reader of the log (or of its digests) can forge one.
//! The KMS adapter is in `keys-kms`.

use std::path::PathBuf;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey};

use crate::keys::KeyError;
use crate::private_file;

/// A signature, and the key that made it (what a verifier asks the public key of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub key_id: String,
    /// ECDSA P-256 / SHA-256, ASN.1 DER.
    pub der: Vec<u8>,
}

/// Where the digest signing key lives.
#[async_trait::async_trait]
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// The id of the key [`Signer::sign`] signs with (what a digest names).
    fn key_id(&self) -> &str;

    async fn sign(&self, message: &[u8]) -> Result<Signature, KeyError>;

    /// The public key (X.509 `SubjectPublicKeyInfo`, DER) of `key_id`, if it is a key this
    /// deployment signs with; any other id is refused, so a digest can't name its own key.
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, KeyError>;
}

/// Whether `der` is a signature of `message` by the key `public_key` (SPKI DER).
pub fn verify(public_key: &[u8], message: &[u8], der: &[u8]) -> bool {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key).verify(message, der).is_ok()
}

/// A P-256 key in a file (`<dir>/audit-digest/signing.p8`, PKCS #8, mode 0600), made on
/// first use: the local server's digest key.
#[derive(Debug, Clone)]
pub struct LocalSigner {
    path: PathBuf,
}

/// The local key's id in signatures.
pub const LOCAL_KEY_ID: &str = "local:audit-digest:1";

impl LocalSigner {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { path: dir.into().join("audit-digest").join("signing.p8") }
    }

    fn key_pair(&self) -> Result<EcdsaKeyPair, KeyError> {
        let unavailable = |e: std::io::Error| KeyError::Unavailable(format!("{}: {e}", self.path.display()));
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => {
                private_file::check(&self.path).map_err(KeyError::Unavailable)?;
                bytes
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                    .map_err(|_| KeyError::Unavailable("could not make a signing key".into()))?;
                if let Some(parent) = self.path.parent() {
                    std::fs::create_dir_all(parent).map_err(unavailable)?;
                }
                private_file::write(&self.path, document.as_ref()).map_err(unavailable)?;
                document.as_ref().to_vec()
            }
            Err(error) => return Err(unavailable(error)),
        };
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &bytes).map_err(|_| KeyError::Refused)
    }
}

#[async_trait::async_trait]
impl Signer for LocalSigner {
    fn key_id(&self) -> &str {
        LOCAL_KEY_ID
    }

    async fn sign(&self, message: &[u8]) -> Result<Signature, KeyError> {
        let signature = self.key_pair()?.sign(&SystemRandom::new(), message).map_err(|_| KeyError::Unavailable("signing failed".into()))?;
        Ok(Signature { key_id: LOCAL_KEY_ID.to_owned(), der: signature.as_ref().to_vec() })
    }

    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, KeyError> {
        if key_id != LOCAL_KEY_ID {
            return Err(KeyError::UnknownMasterKey(key_id.to_owned()));
        }
        let der = self.key_pair()?.public_key().as_der().map_err(|_| KeyError::Refused)?;
        Ok(der.as_ref().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_signature_verifies_with_the_public_key_and_nothing_else_does() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LocalSigner::new(dir.path());
        let signature = signer.sign(b"digest").await.unwrap();
        let public = signer.public_key(&signature.key_id).await.unwrap();
        assert!(verify(&public, b"digest", &signature.der));
        assert!(!verify(&public, b"digest!", &signature.der), "another message");
        let other = LocalSigner::new(dir.path().join("other")).sign(b"digest").await.unwrap();
        assert!(!verify(&public, b"digest", &other.der), "another key");
        assert!(matches!(signer.public_key("arn:aws:kms:eu-west-1:1:key/forged").await, Err(KeyError::UnknownMasterKey(_))));
        // The key is kept: a second signer over the folder signs with the same one.
        let again = LocalSigner::new(dir.path()).sign(b"digest").await.unwrap();
        assert!(verify(&public, b"digest", &again.der));
    }
}
