//! List cursors a client can't forge: the sort key to continue after, sealed with an
//! HMAC-SHA256 tag over the list it belongs to (the caller and the partitions read).
//!
//! The key is one per deployment, so that any function instance accepts a cursor another
//! one issued: 32 random bytes kept as an item of the store (encrypted at rest with the
//! table's key), created by the first request that needs it (a conditional put: concurrent
//! first requests agree on one key) and read once per process after that. Holding the key
//! beside the data is enough against the threat it answers, a client editing a cursor;
//! whoever can read the table can read the lists anyway.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::audit::{AuditDraft, AuditRecord};
use crate::auth::Role;
use crate::http::RequestMeta;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 32;
/// Bumped if the sealed layout ever changes: older cursors then fail to open.
const DOMAIN: &[u8] = b"forecast-api/list-cursor/v1";

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

/// The list a cursor continues: who reads it, and which entries.
#[derive(Debug, Clone, Copy)]
pub struct ListScope<'a> {
    pub caller: &'a str,
    pub partitions: &'a [String],
    pub prefix: &'a str,
}

impl ListScope<'_> {
    /// The bytes the tag covers: the domain, then each part length-prefixed so no two
    /// scopes and sort keys can run together into the same message.
    fn message(&self, sort_key: &str) -> Vec<u8> {
        let mut message = DOMAIN.to_vec();
        let mut part = |bytes: &[u8]| {
            message.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            message.extend_from_slice(bytes);
        };
        part(self.caller.as_bytes());
        part(self.prefix.as_bytes());
        for partition in self.partitions {
            part(partition.as_bytes());
        }
        part(sort_key.as_bytes());
        message
    }
}

/// A loaded cursor key.
#[derive(Debug)]
pub struct CursorKey(hmac::Key);

impl CursorKey {
    fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The opaque cursor for a page of `scope` that ended at `sort_key`.
    pub fn seal(&self, scope: &ListScope<'_>, sort_key: &str) -> String {
        let tag = hmac::sign(&self.0, &scope.message(sort_key));
        let mut sealed = tag.as_ref().to_vec();
        sealed.extend_from_slice(sort_key.as_bytes());
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The sort key sealed in `cursor`, if this key sealed it for this very `scope`.
    pub fn open(&self, scope: &ListScope<'_>, cursor: &str) -> Option<String> {
        let sealed = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        if sealed.len() <= TAG_BYTES {
            return None;
        }
        let (tag, sort_key) = sealed.split_at(TAG_BYTES);
        let sort_key = std::str::from_utf8(sort_key).ok()?;
        // Constant-time comparison of the whole tag.
        hmac::verify(&self.0, &scope.message(sort_key), tag).ok()?;
        Some(sort_key.to_owned())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(caller: &'a str, partitions: &'a [String]) -> ListScope<'a> {
        ListScope { caller, partitions, prefix: "DATASET#" }
    }

    #[test]
    fn a_cursor_opens_only_for_the_list_and_key_that_sealed_it() {
        let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
        let mine = vec!["ACCESS#alice".to_owned()];
        let sort_key = "DATASET#0193a0b0-0000-7000-8000-000000000000";
        let cursor = key.seal(&scope("alice", &mine), sort_key);
        assert_eq!(key.open(&scope("alice", &mine), &cursor).as_deref(), Some(sort_key));

        // Someone else, another partition set, another kind of entry, another key: refused.
        assert_eq!(key.open(&scope("bob", &mine), &cursor), None);
        assert_eq!(key.open(&scope("alice", &["ACCESS#bob".to_owned()]), &cursor), None);
        assert_eq!(key.open(&scope("alice", &[]), &cursor), None);
        assert_eq!(key.open(&ListScope { prefix: "FORECAST#", ..scope("alice", &mine) }, &cursor), None);
        assert_eq!(CursorKey::from_bytes(&[8; KEY_BYTES]).open(&scope("alice", &mine), &cursor), None);

        // The bare sort key, any flipped byte, a cut or an extended cursor: refused.
        assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(sort_key)), None);
        let sealed = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for at in [0, TAG_BYTES - 1, TAG_BYTES, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 1;
            assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(&flipped)), None, "byte {at}");
        }
        for bad in [&sealed[..TAG_BYTES], &sealed[..sealed.len() - 1], &[sealed.as_slice(), b"0"].concat()] {
            assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(bad)), None);
        }
        assert_eq!(key.open(&scope("alice", &mine), "not base64!"), None);
    }

    #[test]
    fn scope_parts_cannot_run_together() {
        let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
        // Same bytes end to end, split differently between the parts.
        let one = ["AB".to_owned()];
        let two = ["A".to_owned(), "B".to_owned()];
        let cursor = key.seal(&scope("x", &one), "DATASET#1");
        assert_eq!(key.open(&scope("x", &two), &cursor), None);
        assert_eq!(key.open(&ListScope { caller: "xA", partitions: &["B".to_owned()], prefix: "DATASET#" }, &cursor), None);
    }
}
