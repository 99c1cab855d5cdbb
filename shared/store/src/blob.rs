//! The blob store port: dataset contents and results, by key.

/// An object key: slash-separated segments of `[A-Za-z0-9._-]`, no `.`/`..` segments.
/// Keys are built by the domain from validated ids, never from raw input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn parse(key: &str) -> Result<Self, BlobError> {
        let valid = !key.is_empty()
            && key.len() <= 512
            && key.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        if valid { Ok(Self(key.to_owned())) } else { Err(BlobError::InvalidKey(key.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    #[error("invalid blob key `{0}`")]
    InvalidKey(String),
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// What is stored does not read back as it was written (altered, moved, or sealed
    /// under keys this process doesn't have).
    #[error("blob `{0}` does not open: altered, moved or sealed under other keys")]
    Corrupt(String),
}

/// The blob store of a function whose route never touches blobs, so its binary links no
/// S3 client. Any use is a wiring mistake, reported as unavailable.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

#[async_trait::async_trait]
impl BlobStore for NoBlobStore {
    async fn put(&self, _key: &BlobKey, _bytes: Vec<u8>, _content_type: &str) -> Result<(), BlobError> {
        Err(BlobError::Unavailable("this function has no blob store".into()))
    }
    async fn get(&self, _key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        Err(BlobError::Unavailable("this function has no blob store".into()))
    }
    async fn delete(&self, _key: &BlobKey) -> Result<(), BlobError> {
        Err(BlobError::Unavailable("this function has no blob store".into()))
    }
}

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key`, replacing what was there.
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError>;
    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_their_folder() {
        for bad in ["", "../etc/passwd", "a/../b", "a//b", "/abs", "a/./b", "a b", "a\\b", "ä"] {
            assert!(BlobKey::parse(bad).is_err(), "{bad}");
        }
        assert!(BlobKey::parse("datasets/0190-abc/data.csv").is_ok());
    }
}
