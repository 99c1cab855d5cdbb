//! Master keys and the data keys they wrap: the key provider port, and its local adapter
//! (a key folder, for the local server and tests). The KMS adapter is in `store-aws`.
//!
//! Each purpose has its own master key, so a key that leaks opens one kind of data only,
//! and each can be rotated alone.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::envelope::{DATA_KEY_BYTES, EncryptionContext, WrappedKey};
use crate::private_file;

/// What a master key protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// E-mail addresses, names, free text that can name people.
    PersonalData,
    /// Uploaded datasets and what is computed from them.
    DatasetContent,
    /// The keys that make audit records tamper-evident.
    AuditIntegrity,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::PersonalData, Purpose::DatasetContent, Purpose::AuditIntegrity];

    /// The purpose's name in encryption contexts, key files and key aliases.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PersonalData => "personal-data",
            Purpose::DatasetContent => "dataset-content",
            Purpose::AuditIntegrity => "audit-integrity",
        }
    }
}

/// A data key could not be made or unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The wrapped key does not unwrap with its context: altered, moved, or another key's.
    #[error("the data key does not unwrap with this context")]
    Refused,
    /// The master key is not one this provider has (a retired local key, another account's KMS key).
    #[error("unknown master key `{0}`")]
    UnknownMasterKey(String),
    /// The provider can't be reached, or its keys can't be read.
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
}

/// Where master keys live. Every call is bound to an encryption context, which the
/// provider checks again on unwrap (KMS does; the local adapter authenticates it).
#[async_trait::async_trait]
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// A fresh data key for `purpose`, in plaintext and wrapped by the purpose's current
    /// master key.
    async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError>;

    /// The plaintext of a data key [`KeyProvider::generate`] made with the same context.
    async fn unwrap(&self, purpose: Purpose, wrapped: &WrappedKey, context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyError>;

    /// The master key that wraps `purpose`'s new data keys, as [`WrappedKey::master_key`]
    /// names it: a value wrapped under any other is due for re-sealing.
    async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError>;
}

/// Master keys in a folder: `<dir>/<purpose>/<version>.key`, 32 random bytes each, mode
/// 0600, made on first use; the highest version wraps new data keys, every version
/// unwraps. A key file others can read is refused.
#[derive(Debug, Clone)]
pub struct LocalKeys {
    dir: PathBuf,
}

impl LocalKeys {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Adds a version to `purpose`'s master key and returns its reference; data keys are
    /// wrapped with it from now on, and the older versions still unwrap theirs.
    pub fn rotate(&self, purpose: Purpose) -> Result<String, KeyError> {
        let next = self.versions(purpose)?.last().copied().unwrap_or(0) + 1;
        self.create(purpose, next)?;
        Ok(reference(purpose, next))
    }

    fn folder(&self, purpose: Purpose) -> PathBuf {
        self.dir.join(purpose.as_str())
    }

    fn versions(&self, purpose: Purpose) -> Result<Vec<u32>, KeyError> {
        let folder = self.folder(purpose);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(unavailable(&folder, error)),
        };
        let mut versions: Vec<u32> =
            entries.filter_map(Result::ok).filter_map(|entry| entry.file_name().to_str()?.strip_suffix(".key")?.parse().ok()).collect();
        versions.sort_unstable();
        Ok(versions)
    }

    fn create(&self, purpose: Purpose, version: u32) -> Result<(), KeyError> {
        let folder = self.folder(purpose);
        std::fs::create_dir_all(&folder).map_err(|e| unavailable(&folder, e))?;
        let mut bytes = Zeroizing::new(vec![0u8; DATA_KEY_BYTES]);
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| KeyError::Unavailable("no random bytes".into()))?;
        let path = key_path(&folder, version);
        private_file::write(&path, &bytes).map_err(|e| unavailable(&path, e))
    }

    /// The current version, made if there is none yet.
    fn current(&self, purpose: Purpose) -> Result<u32, KeyError> {
        match self.versions(purpose)?.last() {
            Some(version) => Ok(*version),
            None => {
                self.create(purpose, 1)?;
                Ok(1)
            }
        }
    }

    fn master(&self, purpose: Purpose, version: u32) -> Result<LessSafeKey, KeyError> {
        let path = key_path(&self.folder(purpose), version);
        if !path.exists() {
            return Err(KeyError::UnknownMasterKey(reference(purpose, version)));
        }
        private_file::check(&path).map_err(|reason| KeyError::Unavailable(format!("`{}`: {reason}", path.display())))?;
        let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| unavailable(&path, e))?);
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KeyError::Unavailable(format!("`{}` is not a key", path.display())))?;
        Ok(LessSafeKey::new(key))
    }
}

fn key_path(folder: &Path, version: u32) -> PathBuf {
    folder.join(format!("{version}.key"))
}

fn reference(purpose: Purpose, version: u32) -> String {
    format!("local:{}:{version}", purpose.as_str())
}

fn unavailable(path: &Path, error: std::io::Error) -> KeyError {
    KeyError::Unavailable(format!("`{}`: {error}", path.display()))
}

/// What a wrap is bound to: the purpose and the caller's context.
fn wrap_aad(purpose: Purpose, context: &EncryptionContext) -> Vec<u8> {
    context.clone().with("key-purpose", purpose.as_str()).canonical()
}

#[async_trait::async_trait]
impl KeyProvider for LocalKeys {
    async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError> {
        let version = self.current(purpose)?;
        let master = self.master(purpose, version)?;
        let mut plaintext = Zeroizing::new(vec![0u8; DATA_KEY_BYTES]);
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut plaintext).map_err(|_| KeyError::Unavailable("no random bytes".into()))?;
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyError::Unavailable("no random bytes".into()))?;
        let mut blob = plaintext.to_vec();
        master
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(wrap_aad(purpose, context)), &mut blob)
            .map_err(|_| KeyError::Unavailable("the data key could not be wrapped".into()))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&blob);
        Ok((plaintext, WrappedKey { master_key: reference(purpose, version), blob: wrapped }))
    }

    async fn unwrap(&self, purpose: Purpose, wrapped: &WrappedKey, context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let version = wrapped
            .master_key
            .strip_prefix(&format!("local:{}:", purpose.as_str()))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| KeyError::UnknownMasterKey(wrapped.master_key.clone()))?;
        let master = self.master(purpose, version)?;
        if wrapped.blob.len() < NONCE_LEN {
            return Err(KeyError::Refused);
        }
        let (nonce, sealed) = wrapped.blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Refused)?;
        let mut body = Zeroizing::new(sealed.to_vec());
        let plaintext = master.open_in_place(nonce, Aad::from(wrap_aad(purpose, context)), &mut body).map_err(|_| KeyError::Refused)?;
        if plaintext.len() != DATA_KEY_BYTES {
            return Err(KeyError::Refused);
        }
        Ok(Zeroizing::new(plaintext.to_vec()))
    }

    async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
        Ok(reference(purpose, self.current(purpose)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> EncryptionContext {
        EncryptionContext::new([("table", "items")])
    }

    #[tokio::test]
    async fn a_data_key_unwraps_under_its_purpose_and_context_only() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::new(dir.path());
        let (plaintext, wrapped) = keys.generate(Purpose::PersonalData, &context()).await.unwrap();
        assert_eq!(wrapped.master_key, "local:personal-data:1");
        assert_eq!(keys.unwrap(Purpose::PersonalData, &wrapped, &context()).await.unwrap(), plaintext);
        let other = EncryptionContext::new([("table", "audit")]);
        assert_eq!(keys.unwrap(Purpose::PersonalData, &wrapped, &other).await, Err(KeyError::Refused));
        assert!(matches!(keys.unwrap(Purpose::DatasetContent, &wrapped, &context()).await, Err(KeyError::UnknownMasterKey(_))));
        let mut altered = wrapped.clone();
        altered.blob[NONCE_LEN] ^= 1;
        assert_eq!(keys.unwrap(Purpose::PersonalData, &altered, &context()).await, Err(KeyError::Refused));
    }

    #[tokio::test]
    async fn a_rotation_wraps_with_the_new_version_and_the_old_still_unwraps() {
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::new(dir.path());
        let (old_plain, old) = keys.generate(Purpose::DatasetContent, &context()).await.unwrap();
        assert_eq!(keys.rotate(Purpose::DatasetContent).unwrap(), "local:dataset-content:2");
        let (_, new) = keys.generate(Purpose::DatasetContent, &context()).await.unwrap();
        assert_eq!(new.master_key, "local:dataset-content:2");
        assert_eq!(keys.unwrap(Purpose::DatasetContent, &old, &context()).await.unwrap(), old_plain);
        // Each purpose has a key of its own.
        let (_, personal) = keys.generate(Purpose::PersonalData, &context()).await.unwrap();
        assert_eq!(personal.master_key, "local:personal-data:1");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_master_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = LocalKeys::new(dir.path());
        let (_, wrapped) = keys.generate(Purpose::PersonalData, &context()).await.unwrap();
        let path = dir.path().join("personal-data").join("1.key");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = keys.unwrap(Purpose::PersonalData, &wrapped, &context()).await.unwrap_err();
        assert!(matches!(&refused, KeyError::Unavailable(reason) if reason.contains("chmod 600")), "{refused:?}");
    }
}
