//! The keyed blind index e-mail addresses are looked up by ([`EmailIndex`]): an
//! HMAC-SHA256 of the normalised address under a key of its own, so that whoever reads the
//! table can't test candidate addresses against the index.
//!
//! The key is a record of the store (`CONFIG` / `BLIND_INDEX_KEY`), encrypted at rest like
//! every secret field ([`crate::records`]). It is loaded on the first look-up (created then
//! by the first process that needs it, a conditional put: concurrent first look-ups agree
//! on one key), never at start.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::audit::AuditDraft;
use crate::http::RequestMeta;
use crate::store::email_index::EmailIndex;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

const KEY_BYTES: usize = 32;

/// Where the blind-index key is kept.
pub fn index_key_item() -> Key {
    Key::new("CONFIG", "BLIND_INDEX_KEY")
}

/// E-mail addresses indexed with a keyed HMAC.
#[derive(Debug)]
pub struct KeyedEmailIndex {
    /// A store that seals records at rest (the key is one of them).
    store: Arc<dyn ItemStore>,
    key: OnceCell<hmac::Key>,
}

impl KeyedEmailIndex {
    pub fn new(store: Arc<dyn ItemStore>) -> Self {
        Self { store, key: OnceCell::new() }
    }

    async fn key(&self) -> Result<&hmac::Key, StoreError> {
        self.key.get_or_try_init(|| self.load_or_create()).await
    }

    async fn load_or_create(&self) -> Result<hmac::Key, StoreError> {
        if let Some(item) = self.store.get(&index_key_item()).await? {
            return parse(&item);
        }
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; KEY_BYTES]);
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Unavailable("no random bytes".into()))?;
        let body = json!({"key": URL_SAFE_NO_PAD.encode(&bytes)});
        let create = WriteOp::Put { item: Item { key: index_key_item(), version: 1, body }, condition: Condition::Absent };
        let meta = RequestMeta { request_id: format!("blind-index-key-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
        match self.store.commit(vec![create], &AuditDraft::new("create-blind-index-key", "config").finish(&meta, 201)).await {
            Ok(()) => Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes)),
            // Another process made it first: theirs is the deployment's.
            Err(StoreError::ConditionFailed) => match self.store.get(&index_key_item()).await? {
                Some(item) => parse(&item),
                None => Err(StoreError::Corrupt("the blind-index key vanished".into())),
            },
            Err(error) => Err(error),
        }
    }
}

fn parse(item: &Item) -> Result<hmac::Key, StoreError> {
    let corrupt = || StoreError::Corrupt("the blind-index key is not 32 bytes of base64url".into());
    let text = item.body.get("key").and_then(|key| key.as_str()).ok_or_else(corrupt)?;
    let bytes = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.decode(text).map_err(|_| corrupt())?);
    if bytes.len() != KEY_BYTES {
        return Err(corrupt());
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

#[async_trait::async_trait]
impl EmailIndex for KeyedEmailIndex {
    async fn email_index(&self, email: &str) -> Result<String, StoreError> {
        let tag = hmac::sign(self.key().await?, email.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealed_items::SealedItems;
    use crypto::cache::{CacheLimits, Envelopes};
    use crypto::keys::LocalKeys;
    use store_embedded::SqliteStore;

    fn sealed_store(keys: &std::path::Path, raw: &Arc<dyn ItemStore>) -> Arc<dyn ItemStore> {
        let envelopes = Envelopes::new(Arc::new(LocalKeys::new(keys)), CacheLimits::default());
        let tagged = Arc::new(crate::audit_tags::TaggedAudit::new(Arc::clone(raw), Arc::new(LocalKeys::new(keys))));
        Arc::new(SealedItems::new(tagged, Arc::new(envelopes)))
    }

    #[tokio::test]
    async fn the_index_is_keyed_stable_across_processes_and_its_key_stored_encrypted() {
        let dir = tempfile::tempdir().unwrap();
        let raw: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let first = KeyedEmailIndex::new(sealed_store(dir.path(), &raw));
        assert!(raw.get(&index_key_item()).await.unwrap().is_none(), "no key before the first look-up");
        let index = first.email_index("ada@example.com").await.unwrap();
        assert_ne!(index, first.email_index("bob@example.com").await.unwrap());
        assert!(!index.contains("ada"));
        // A plain hash of the address is not the index: it is keyed.
        let plain = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"ada@example.com").as_ref());
        assert_ne!(index, plain);
        // Another process over the same store and keys computes the same index.
        assert_eq!(KeyedEmailIndex::new(sealed_store(dir.path(), &raw)).email_index("ada@example.com").await.unwrap(), index);
        let day = crate::audit::format_time(time::OffsetDateTime::now_utc())[..10].to_owned();
        let audited = raw.audit_records(&day, None, 100).await.unwrap().items;
        let created: Vec<_> = audited.iter().filter(|r| r.action == "create-blind-index-key").collect();
        assert_eq!(created.len(), 1, "made once, audited");
        assert!(created[0].request_id.starts_with("blind-index-key-"), "{:?}", created[0]);
        let stored = raw.get(&index_key_item()).await.unwrap().unwrap().body;
        assert_eq!(stored.get("key"), None, "the key is not in clear: {stored}");
        // Other master keys: the stored index key does not open, so no index is made.
        let other = tempfile::tempdir().unwrap();
        let refused = KeyedEmailIndex::new(sealed_store(other.path(), &raw)).email_index("ada@example.com").await;
        assert!(matches!(refused, Err(StoreError::Corrupt(_))), "{refused:?}");
    }
}
