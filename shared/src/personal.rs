//! Personal data sealed at rest: the [`PersonalData`] seam with field-level envelope
//! encryption (`crypto::cache::Envelopes`, under the personal-data master key) and a keyed
//! blind index for e-mail look-ups.
//!
//! A sealed field is stored as `"enc1:<base64url>"` and bound to its record and field, so
//! a value copied elsewhere does not open. Anything else in a sealed field is refused:
//! a plaintext that slipped in is an error, not data.
//!
//! The blind index is an HMAC-SHA256 of the normalised address under a key of its own,
//! which is stored in the item store *wrapped* by the personal-data master key: whoever
//! reads the table can't test candidate addresses against the index. It is loaded on the
//! first look-up (created then by the first process that needs it), never at start.

use std::sync::Arc;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::audit::AuditDraft;
use crate::http::RequestMeta;
use crate::store::personal::{PersonalData, PersonalDataError};
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};
use crypto::cache::{Envelopes, SealError};
use crypto::envelope::EncryptionContext;
use crypto::keys::{KeyError, Purpose};

/// What a sealed field's stored form starts with.
const PREFIX: &str = "enc1:";
const INDEX_KEY_BYTES: usize = 32;

/// Where the wrapped blind-index key is kept.
pub fn index_key_item() -> Key {
    Key::new("CONFIG", "BLIND_INDEX_KEY")
}

/// Personal fields sealed with envelope encryption, e-mails indexed with a keyed HMAC.
#[derive(Debug)]
pub struct SealedPersonalData {
    envelopes: Arc<Envelopes>,
    store: Arc<dyn ItemStore>,
    /// The table the sealed fields live in: part of every data key's context.
    table: String,
    index_key: OnceCell<hmac::Key>,
}

impl SealedPersonalData {
    pub fn new(envelopes: Arc<Envelopes>, store: Arc<dyn ItemStore>, table: impl Into<String>) -> Self {
        Self { envelopes, store, table: table.into(), index_key: OnceCell::new() }
    }

    fn key_context(&self) -> EncryptionContext {
        EncryptionContext::new([("table", self.table.as_str())])
    }

    async fn index_key(&self) -> Result<&hmac::Key, PersonalDataError> {
        self.index_key.get_or_try_init(|| self.load_or_create_index_key()).await
    }

    async fn load_or_create_index_key(&self) -> Result<hmac::Key, PersonalDataError> {
        if let Some(item) = self.store.get(&index_key_item()).await.map_err(store_error)? {
            return self.open_index_key(&item.body).await;
        }
        let mut bytes = zeroize::Zeroizing::new(vec![0u8; INDEX_KEY_BYTES]);
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PersonalDataError::Unavailable("no random bytes".into()))?;
        let sealed = self.seal_bytes(&index_key_item().pk, "blind-index-key", &bytes).await?;
        let create =
            WriteOp::Put { item: Item { key: index_key_item(), version: 1, body: json!({"key": sealed}) }, condition: Condition::Absent };
        let meta = RequestMeta { request_id: format!("blind-index-key-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
        match self.store.commit(vec![create], &AuditDraft::new("create-blind-index-key", "config").finish(&meta, 201)).await {
            Ok(()) => Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes)),
            // Another process made it first: theirs is the deployment's.
            Err(StoreError::ConditionFailed) => match self.store.get(&index_key_item()).await.map_err(store_error)? {
                Some(item) => self.open_index_key(&item.body).await,
                None => Err(PersonalDataError::Unavailable("the blind-index key vanished".into())),
            },
            Err(error) => Err(store_error(error)),
        }
    }

    async fn open_index_key(&self, body: &Value) -> Result<hmac::Key, PersonalDataError> {
        let record = index_key_item().pk;
        let bytes = zeroize::Zeroizing::new(self.open_bytes(&record, "blind-index-key", &body["key"]).await?);
        if bytes.len() != INDEX_KEY_BYTES {
            return Err(PersonalDataError::Unreadable { record, field: "blind-index-key" });
        }
        Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    async fn seal_bytes(&self, record: &str, field: &'static str, value: &[u8]) -> Result<Value, PersonalDataError> {
        let context = EncryptionContext::new([("attribute", field), ("record", record)]);
        let sealed = self.envelopes.seal(Purpose::PersonalData, &self.key_context(), &context, value).await.map_err(seal_error)?;
        Ok(Value::String(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))))
    }

    async fn open_bytes(&self, record: &str, field: &'static str, stored: &Value) -> Result<Vec<u8>, PersonalDataError> {
        let unreadable = || PersonalDataError::Unreadable { record: record.to_owned(), field };
        let text = stored.as_str().and_then(|s| s.strip_prefix(PREFIX)).ok_or_else(unreadable)?;
        let sealed = URL_SAFE_NO_PAD.decode(text).map_err(|_| unreadable())?;
        let context = EncryptionContext::new([("attribute", field), ("record", record)]);
        match self.envelopes.open(Purpose::PersonalData, &self.key_context(), &context, &sealed).await {
            Ok(plaintext) => Ok(plaintext),
            Err(SealError::Key(KeyError::Unavailable(cause))) => Err(PersonalDataError::Unavailable(cause)),
            Err(_) => Err(unreadable()),
        }
    }
}

fn store_error(error: StoreError) -> PersonalDataError {
    PersonalDataError::Unavailable(error.to_string())
}

fn seal_error(error: SealError) -> PersonalDataError {
    PersonalDataError::Unavailable(error.to_string())
}

#[async_trait::async_trait]
impl PersonalData for SealedPersonalData {
    async fn seal(&self, record: &str, field: &'static str, value: &str) -> Result<Value, PersonalDataError> {
        self.seal_bytes(record, field, value.as_bytes()).await
    }

    async fn open(&self, record: &str, field: &'static str, stored: &Value) -> Result<String, PersonalDataError> {
        let bytes = self.open_bytes(record, field, stored).await?;
        String::from_utf8(bytes).map_err(|_| PersonalDataError::Unreadable { record: record.to_owned(), field })
    }

    async fn email_index(&self, email: &str) -> Result<String, PersonalDataError> {
        let tag = hmac::sign(self.index_key().await?, email.as_bytes());
        Ok(URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto::cache::CacheLimits;
    use crypto::keys::LocalKeys;
    use store_embedded::SqliteStore;

    fn sealed(dir: &std::path::Path, store: &Arc<dyn ItemStore>) -> SealedPersonalData {
        let envelopes = Envelopes::new(Arc::new(LocalKeys::new(dir)), CacheLimits::default());
        SealedPersonalData::new(Arc::new(envelopes), Arc::clone(store), "items")
    }

    #[tokio::test]
    async fn a_field_opens_where_it_was_sealed_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let personal = sealed(dir.path(), &store);
        let stored = personal.seal("IDP#USER#1", "email", "ada@example.com").await.unwrap();
        assert!(stored.as_str().unwrap().starts_with("enc1:") && !stored.to_string().contains("ada"), "{stored}");
        assert_eq!(personal.open("IDP#USER#1", "email", &stored).await.unwrap(), "ada@example.com");
        let unreadable = |record: &str, field: &'static str| PersonalDataError::Unreadable { record: record.into(), field };
        assert_eq!(personal.open("IDP#USER#2", "email", &stored).await, Err(unreadable("IDP#USER#2", "email")), "moved to another record");
        assert_eq!(personal.open("IDP#USER#1", "name", &stored).await, Err(unreadable("IDP#USER#1", "name")), "moved to another field");
        let text = stored.as_str().unwrap();
        // A character of the sealed payload changed (never a no-op: it differs from the original).
        let middle = text.len() / 2;
        let swapped = if &text[middle..=middle] == "A" { "B" } else { "A" };
        let flipped = format!("{}{swapped}{}", &text[..middle], &text[middle + 1..]);
        assert_eq!(personal.open("IDP#USER#1", "email", &Value::String(flipped)).await, Err(unreadable("IDP#USER#1", "email")));
        // A value in clear is refused, not passed through.
        assert_eq!(personal.open("IDP#USER#1", "email", &json!("ada@example.com")).await, Err(unreadable("IDP#USER#1", "email")));
    }

    #[tokio::test]
    async fn the_email_index_is_keyed_stable_across_processes_and_its_key_stored_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let first = sealed(dir.path(), &store);
        assert!(store.get(&index_key_item()).await.unwrap().is_none(), "no key before the first look-up");
        let index = first.email_index("ada@example.com").await.unwrap();
        assert_ne!(index, first.email_index("bob@example.com").await.unwrap());
        assert!(!index.contains("ada"));
        // A plain hash of the address is not the index: it is keyed.
        let plain = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"ada@example.com").as_ref());
        assert_ne!(index, plain);
        // Another process over the same store and keys computes the same index.
        assert_eq!(sealed(dir.path(), &store).email_index("ada@example.com").await.unwrap(), index);
        let item = store.get(&index_key_item()).await.unwrap().unwrap();
        assert!(item.body["key"].as_str().unwrap().starts_with("enc1:"), "{}", item.body);
        // Other master keys: the stored index key does not open, so no index is made.
        let other = tempfile::tempdir().unwrap();
        assert!(sealed(other.path(), &store).email_index("ada@example.com").await.is_err());
    }
}
