//! Blobs sealed before they reach a store that would keep them in clear (the local data
//! folder): every object is envelope-encrypted under the dataset-content key and bound to
//! its blob key, so a file copied over another opens as neither. S3 needs none of this: it
//! encrypts with SSE-KMS under the dataset key, and the bucket policy refuses puts without.

use std::sync::Arc;

use crate::store::{BlobError, BlobKey, BlobStore};
use crypto::cache::{Envelopes, SealError};
use crypto::envelope::EncryptionContext;
use crypto::keys::{KeyError, Purpose};

/// A blob store whose objects are sealed on the way in and opened on the way out.
#[derive(Debug)]
pub struct SealedBlobs<B> {
    inner: B,
    envelopes: Arc<Envelopes>,
}

impl<B: BlobStore> SealedBlobs<B> {
    pub fn new(inner: B, envelopes: Arc<Envelopes>) -> Self {
        Self { inner, envelopes }
    }
}

fn key_context() -> EncryptionContext {
    EncryptionContext::new([("store", "blobs")])
}

fn value_context(key: &BlobKey) -> EncryptionContext {
    EncryptionContext::new([("blob", key.as_str())])
}

#[async_trait::async_trait]
impl<B: BlobStore> BlobStore for SealedBlobs<B> {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        let sealed = self
            .envelopes
            .seal(Purpose::DatasetContent, &key_context(), &value_context(key), &bytes)
            .await
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        self.inner.put(key, sealed, content_type).await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(sealed) = self.inner.get(key).await? else { return Ok(None) };
        match self.envelopes.open(Purpose::DatasetContent, &key_context(), &value_context(key), &sealed).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(SealError::Key(KeyError::Unavailable(cause))) => Err(BlobError::Unavailable(cause)),
            Err(_) => Err(BlobError::Corrupt(key.as_str().to_owned())),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
}
