//! The key that seals list cursors ([`crypto::cursor`]): one per deployment, so that any
//! function instance accepts a cursor another one issued: 32 random bytes kept as an item of the store (encrypted at rest with the
//! table's key), created by the first request that needs it (a conditional put: concurrent
//! first requests agree on one key) and read once per process after that. Holding the key
//! beside the data is enough against the threat it answers, a client editing a cursor;
//! whoever can read the table can read the lists anyway.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
pub use crypto::cursor::{CursorKey, KEY_BYTES, ListScope};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::audit::{AuditDraft, AuditRecord};
use crate::auth::Role;
use crate::http::RequestMeta;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// Where the deployment's cursor key is stored.
pub fn key_item() -> Key {
    Key::new("CONFIG", "CURSOR_KEY")
}

/// The audit record that goes out with the key's creation: caused by the request (or the
/// start-up) `meta` describes, on behalf of `actor` when there is one.
pub fn creation_record(meta: &RequestMeta, actor: Option<(String, Role)>) -> AuditRecord {
    AuditDraft { actor, ..AuditDraft::new("create-cursor-key", "config") }.finish(meta, 201)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    /// Base64 of the key bytes.
    key: String,
    created_at: String,
}

/// The deployment's cursor key, loaded (or created) on first use and kept for the process.
#[derive(Debug, Default)]
pub struct CursorKeys {
    loaded: OnceCell<CursorKey>,
}

impl CursorKeys {
    /// The key, reading it from `store` the first time; creating it if no process has.
    /// `audit` is the record that goes out with a creation (the request that caused it).
    pub async fn get(&self, store: &dyn ItemStore, audit: impl FnOnce() -> AuditRecord) -> Result<&CursorKey, StoreError> {
        self.loaded.get_or_try_init(|| load_or_create(store, audit)).await
    }
}

async fn load_or_create(store: &dyn ItemStore, audit: impl FnOnce() -> AuditRecord) -> Result<CursorKey, StoreError> {
    if let Some(item) = store.get(&key_item()).await? {
        return parse(item);
    }
    let mut bytes = [0u8; KEY_BYTES];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Unavailable("no randomness for the cursor key".into()))?;
    let stored = StoredKey { key: STANDARD.encode(bytes), created_at: crate::audit::format_time(time::OffsetDateTime::now_utc()) };
    let body = serde_json::to_value(&stored).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let create = WriteOp::Put { item: Item { key: key_item(), version: 1, body }, condition: Condition::Absent };
    match store.commit(vec![create], &audit()).await {
        Ok(()) => Ok(CursorKey::from_bytes(&bytes)),
        // Another process created it first: theirs is the deployment's key.
        Err(StoreError::ConditionFailed) => {
            store.get(&key_item()).await?.map_or_else(|| Err(StoreError::Corrupt("cursor key vanished".into())), parse)
        }
        Err(error) => Err(error),
    }
}

fn parse(item: Item) -> Result<CursorKey, StoreError> {
    let corrupt = |why: &str| StoreError::Corrupt(format!("cursor key: {why}"));
    let stored: StoredKey = serde_json::from_value(item.body).map_err(|e| corrupt(&e.to_string()))?;
    let bytes = STANDARD.decode(stored.key).map_err(|_| corrupt("not base64"))?;
    if bytes.len() != KEY_BYTES {
        return Err(corrupt("wrong length"));
    }
    Ok(CursorKey::from_bytes(&bytes))
}
