//! Blobs as files in the local data folder. Writes go to a temporary file renamed into
//! place, so a crash never leaves half a blob.

use std::path::PathBuf;

use store::{BlobError, BlobKey, BlobStore};

#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // INVARIANT: BlobKey has no `..`, no empty and no absolute segments, so this stays under root.
        self.root.join(key.as_str())
    }
}

fn unavailable(error: std::io::Error) -> BlobError {
    BlobError::Unavailable(error.to_string())
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, _content_type: &str) -> Result<(), BlobError> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(unavailable)?;
        }
        let temporary = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4()));
        tokio::fs::write(&temporary, bytes).await.map_err(unavailable)?;
        tokio::fs::rename(&temporary, &path).await.map_err(unavailable)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Vec<u8>>, BlobError> {
        match tokio::fs::read(self.path(key)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(unavailable(e)),
            _ => Ok(()),
        }
    }
}
