//! Branch keys: the AWS Database Encryption SDK's hierarchical keyring, for records.
//!
//! Wrapping each data key with KMS directly costs a KMS call for every data key a reader
//! meets: a list of 50 records written by 50 different instances would cost 50 `Decrypt`s
//! on a cold instance. Instead, a *branch key* (32 random bytes) is made once by the master
//! key (`GenerateDataKey`), stored wrapped in the item store, and every data key is
//! derived from it locally: HKDF-SHA256 of the branch key with a random 32-byte salt and the
//! value's key context. The envelope names the branch key version and carries the salt
//! where a wrapped data key would be. So each process asks the master key once per branch
//! key per [`BRANCH_KEY_TTL`], however many records it reads or writes.
//!
//! Branch keys live in `BRANCH_KEYS#<purpose>` / `<version>` (zero-padded), outside the
//! record layer: they are protected by the master key itself (its encryption context names
//! the purpose and version, so a wrapped branch key moved to another version does not
//! unwrap). The highest version is the active one. A new version is made when the master
//! key moves on (see [`BranchKeys::current_master_key`]) or by [`BranchKeys::rotate`];
//! older versions keep deriving what they derived until every record is re-sealed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::hkdf;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::AuditDraft;
use crate::http::RequestMeta;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};
use crypto::envelope::{DATA_KEY_BYTES, EncryptionContext, WrappedKey};
use crypto::keys::{KeyError, KeyProvider, Purpose};

/// How long a process keeps a branch key, and its idea of which one is active.
pub const BRANCH_KEY_TTL: Duration = Duration::from_secs(300);
/// Every branch key's partition starts with this (IAM lets the functions read and create
/// there, and nowhere else in the CONFIG space).
pub const PARTITION_PREFIX: &str = "BRANCH_KEYS#";
const SALT_BYTES: usize = 32;

/// Envelopes whose data keys derive from branch keys kept in `store`, wrapped by the local
/// master keys kept in `master_keys` (created there on first use): the local server's keys.
pub fn local_envelopes(store: &Arc<dyn ItemStore>, master_keys: &std::path::Path) -> Arc<crypto::cache::Envelopes> {
    let branches = BranchKeys::new(Arc::new(crypto::keys::LocalKeys::new(master_keys)), Arc::clone(store));
    Arc::new(crypto::cache::Envelopes::new(Arc::new(branches), crypto::cache::CacheLimits::default()))
}

/// Where version `version` of `purpose`'s branch key is stored.
pub fn branch_key_item(purpose: Purpose, version: u32) -> Key {
    Key::new(format!("{PARTITION_PREFIX}{}", purpose.as_str()), format!("{version:06}"))
}

/// How envelopes name a branch key: in place of a master key.
fn reference(purpose: Purpose, version: u32) -> String {
    format!("branch:{}:{version}", purpose.as_str())
}

fn parse_reference(purpose: Purpose, reference: &str) -> Option<u32> {
    reference.strip_prefix(&format!("branch:{}:", purpose.as_str()))?.parse().ok()
}

/// A branch key as stored: wrapped by the master key named.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredBranchKey {
    master_key: String,
    /// Base64 of the wrapped key.
    wrapped: String,
    created_at: String,
}

type Secret = Arc<Zeroizing<Vec<u8>>>;

/// A key provider that derives data keys from branch keys the master provider wraps.
#[derive(Debug)]
pub struct BranchKeys {
    master: Arc<dyn KeyProvider>,
    /// The store branch keys are kept in, as it is at rest (not the record layer).
    store: Arc<dyn ItemStore>,
    /// The active version per purpose, and when this process learnt it.
    active: Mutex<HashMap<Purpose, (Instant, u32)>>,
    /// Unwrapped branch keys, by purpose and version, and when they were unwrapped.
    unwrapped: Mutex<HashMap<(Purpose, u32), (Instant, Secret)>>,
    ttl: Duration,
}

impl BranchKeys {
    pub fn new(master: Arc<dyn KeyProvider>, store: Arc<dyn ItemStore>) -> Self {
        Self { master, store, active: Mutex::new(HashMap::new()), unwrapped: Mutex::new(HashMap::new()), ttl: BRANCH_KEY_TTL }
    }

    /// The same, keeping branch keys (and the active version) for `ttl` instead.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        Self { ttl, ..self }
    }

    /// Adds a branch key version wrapped under the master key's current version and makes
    /// it the active one (here at once, in other processes within [`BRANCH_KEY_TTL`]).
    pub async fn rotate(&self, purpose: Purpose) -> Result<String, KeyError> {
        let next = self.versions(purpose).await?.last().copied().unwrap_or(0) + 1;
        self.create(purpose, next).await?;
        Ok(reference(purpose, next))
    }

    /// Versions of `purpose`'s branch key, in ascending order, read from the store.
    async fn versions(&self, purpose: Purpose) -> Result<Vec<u32>, KeyError> {
        let pk = branch_key_item(purpose, 0).pk;
        let sort_keys = crate::store::all_sort_keys(self.store.as_ref(), &pk).await.map_err(unavailable)?;
        let mut versions: Vec<u32> = sort_keys.iter().filter_map(|sk| sk.parse().ok()).collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// The active version: cached for the TTL; the highest stored one; made if none is.
    async fn active_version(&self, purpose: Purpose) -> Result<u32, KeyError> {
        let cached = self.active.lock().ok().and_then(|active| active.get(&purpose).copied());
        if let Some((_, version)) = cached.filter(|(at, _)| at.elapsed() < self.ttl) {
            return Ok(version);
        }
        let version = match self.versions(purpose).await?.last() {
            Some(version) => *version,
            None => {
                self.create(purpose, 1).await?;
                1
            }
        };
        self.remember_active(purpose, version);
        Ok(version)
    }

    fn remember_active(&self, purpose: Purpose, version: u32) {
        if let Ok(mut active) = self.active.lock() {
            active.insert(purpose, (Instant::now(), version));
        }
    }

    /// Makes version `version` with the master key; if another process made it first, theirs.
    async fn create(&self, purpose: Purpose, version: u32) -> Result<(), KeyError> {
        let (plaintext, wrapped) = self.master.generate(purpose, &wrap_context(purpose, version)).await?;
        let stored = StoredBranchKey {
            master_key: wrapped.master_key,
            wrapped: STANDARD.encode(&wrapped.blob),
            created_at: crate::audit::format_time(time::OffsetDateTime::now_utc()),
        };
        let body = serde_json::to_value(&stored).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let put = WriteOp::Put { item: Item { key: branch_key_item(purpose, version), version: 1, body }, condition: Condition::Absent };
        let meta = RequestMeta { request_id: format!("branch-key-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
        let audit = AuditDraft { resource_id: Some(reference(purpose, version)), ..AuditDraft::new("create-branch-key", "config") }
            .finish(&meta, 201);
        match self.store.commit(vec![put], &audit).await {
            Ok(()) => {
                self.remember_unwrapped(purpose, version, Arc::new(plaintext));
                self.remember_active(purpose, version);
                Ok(())
            }
            Err(StoreError::ConditionFailed) => Ok(()),
            Err(error) => Err(unavailable(error)),
        }
    }

    fn remember_unwrapped(&self, purpose: Purpose, version: u32, key: Secret) {
        if let Ok(mut unwrapped) = self.unwrapped.lock() {
            unwrapped.insert((purpose, version), (Instant::now(), key));
        }
    }

    /// Version `version` of the branch key, unwrapped (cached for the TTL).
    async fn branch_key(&self, purpose: Purpose, version: u32) -> Result<Secret, KeyError> {
        let cached = self.unwrapped.lock().ok().and_then(|cache| cache.get(&(purpose, version)).cloned());
        if let Some((_, key)) = cached.filter(|(at, _)| at.elapsed() < self.ttl) {
            return Ok(key);
        }
        let stored = self.stored(purpose, version).await?;
        let blob = STANDARD.decode(&stored.wrapped).map_err(|_| KeyError::Refused)?;
        let wrapped = WrappedKey { master_key: stored.master_key, blob };
        let key: Secret = Arc::new(self.master.unwrap(purpose, &wrapped, &wrap_context(purpose, version)).await?);
        if key.len() != DATA_KEY_BYTES {
            return Err(KeyError::Refused);
        }
        self.remember_unwrapped(purpose, version, Arc::clone(&key));
        Ok(key)
    }

    /// Version `version` of the branch key as stored (wrapped).
    async fn stored(&self, purpose: Purpose, version: u32) -> Result<StoredBranchKey, KeyError> {
        let item = self
            .store
            .get(&branch_key_item(purpose, version))
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KeyError::UnknownMasterKey(reference(purpose, version)))?;
        serde_json::from_value(item.body).map_err(|_| KeyError::Refused)
    }
}

/// What a branch key's wrap is bound to.
fn wrap_context(purpose: Purpose, version: u32) -> EncryptionContext {
    EncryptionContext::new([("branch-key", format!("{}:{version}", purpose.as_str()).as_str())])
}

/// The data key for one envelope: HKDF-SHA256 of the branch key, salted, bound to the key
/// context the envelope's data key is asked for with.
fn derive(branch: &[u8], salt: &[u8], purpose: Purpose, context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let info = context.clone().with("key-purpose", purpose.as_str()).canonical();
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(branch);
    let info = [info.as_slice()];
    let okm = prk.expand(&info, hkdf::HKDF_SHA256).map_err(|_| KeyError::Unavailable("HKDF failed".into()))?;
    let mut key = Zeroizing::new(vec![0u8; DATA_KEY_BYTES]);
    okm.fill(&mut key).map_err(|_| KeyError::Unavailable("HKDF failed".into()))?;
    Ok(key)
}

fn unavailable(error: StoreError) -> KeyError {
    KeyError::Unavailable(format!("branch keys: {error}"))
}

#[async_trait::async_trait]
impl KeyProvider for BranchKeys {
    async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError> {
        let version = self.active_version(purpose).await?;
        let branch = self.branch_key(purpose, version).await?;
        let mut salt = vec![0u8; SALT_BYTES];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyError::Unavailable("no random bytes".into()))?;
        let key = derive(&branch, &salt, purpose, context)?;
        Ok((key, WrappedKey { master_key: reference(purpose, version), blob: salt }))
    }

    async fn unwrap(&self, purpose: Purpose, wrapped: &WrappedKey, context: &EncryptionContext) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let version =
            parse_reference(purpose, &wrapped.master_key).ok_or_else(|| KeyError::UnknownMasterKey(wrapped.master_key.clone()))?;
        if wrapped.blob.len() != SALT_BYTES {
            return Err(KeyError::Refused);
        }
        let branch = self.branch_key(purpose, version).await?;
        derive(&branch, &wrapped.blob, purpose, context)
    }

    /// The active branch key, read afresh; made anew first when the master key it is
    /// wrapped under is no longer the master's current one, so that re-sealing after the
    /// master key is replaced (or rotated locally) moves records onto a branch key under
    /// the new one.
    async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
        let master = self.master.current_master_key(purpose).await?;
        let version = match self.versions(purpose).await?.last() {
            Some(version) if self.stored(purpose, *version).await?.master_key == master => *version,
            Some(version) => {
                self.create(purpose, version + 1).await?;
                version + 1
            }
            None => {
                self.create(purpose, 1).await?;
                1
            }
        };
        self.remember_active(purpose, version);
        Ok(reference(purpose, version))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crypto::cache::{CacheLimits, Envelopes};
    use crypto::keys::LocalKeys;
    use store_embedded::SqliteStore;

    /// The master provider, counting its calls.
    #[derive(Debug)]
    struct Counting {
        inner: LocalKeys,
        calls: AtomicU64,
    }

    #[async_trait::async_trait]
    impl KeyProvider for Counting {
        async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.generate(purpose, context).await
        }
        async fn unwrap(
            &self,
            purpose: Purpose,
            wrapped: &WrappedKey,
            context: &EncryptionContext,
        ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.unwrap(purpose, wrapped, context).await
        }
        async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
            self.inner.current_master_key(purpose).await
        }
    }

    fn table() -> EncryptionContext {
        EncryptionContext::new([("table", "items")])
    }

    fn record(n: usize) -> EncryptionContext {
        EncryptionContext::new([("record", n.to_string().as_str())])
    }

    /// Writers that each seal with a data key of their own, as Lambda instances do, and a
    /// cold reader: the master provider is asked once per process, not once per data key.
    #[tokio::test]
    async fn records_from_many_writers_cost_a_reader_one_master_key_call() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let master = Arc::new(Counting { inner: LocalKeys::new(dir.path()), calls: AtomicU64::new(0) });
        let process = || Envelopes::new(Arc::new(BranchKeys::new(master.clone(), Arc::clone(&store))), CacheLimits::default());
        assert_eq!(master.calls.load(Ordering::SeqCst), 0, "nothing asked before a value is sealed");
        let mut sealed = Vec::new();
        // 100 writers of 10 records each: 100 processes, 100 data keys.
        for writer in 0..100 {
            let process = process();
            for n in 0..10 {
                let id = writer * 10 + n;
                sealed.push(process.seal(Purpose::PersonalData, &table(), &record(id), b"ada@example.com").await.unwrap());
            }
        }
        // The first writer made the branch key (one call), each later one unwrapped it.
        assert_eq!(master.calls.load(Ordering::SeqCst), 100);
        let reader = process();
        let before = master.calls.load(Ordering::SeqCst);
        for (id, value) in sealed.iter().enumerate() {
            assert_eq!(reader.open(Purpose::PersonalData, &table(), &record(id), value).await.unwrap(), b"ada@example.com");
        }
        assert_eq!(master.calls.load(Ordering::SeqCst) - before, 1, "1,000 records from 100 writers: one unwrap of the branch key");
        // A moved value still does not open: the derived key is bound to the context too.
        assert!(reader.open(Purpose::PersonalData, &EncryptionContext::new([("table", "audit")]), &record(0), &sealed[0]).await.is_err());
    }

    async fn version(keys: &BranchKeys) -> String {
        keys.generate(Purpose::PersonalData, &table()).await.unwrap().1.master_key
    }

    /// Another process's rotation is seen once this one's idea of the active version
    /// expires, not before; the rotation itself is audited and becomes active at once where
    /// it was made.
    #[tokio::test]
    async fn a_rotation_elsewhere_is_seen_after_the_ttl_and_is_audited() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let local = Arc::new(LocalKeys::new(dir.path()));
        let patient = BranchKeys::new(local.clone(), Arc::clone(&store)).with_ttl(Duration::from_secs(3600));
        let eager = BranchKeys::new(local.clone(), Arc::clone(&store)).with_ttl(Duration::ZERO);
        assert_eq!(version(&patient).await, "branch:personal-data:1");
        assert_eq!(version(&eager).await, "branch:personal-data:1");
        let rotator = BranchKeys::new(local, Arc::clone(&store));
        assert_eq!(rotator.rotate(Purpose::PersonalData).await.unwrap(), "branch:personal-data:2");
        assert_eq!(version(&rotator).await, "branch:personal-data:2", "active at once where it was made");
        assert_eq!(version(&eager).await, "branch:personal-data:2", "seen at once with no TTL");
        assert_eq!(version(&patient).await, "branch:personal-data:1", "kept for the TTL");
        let day = crate::audit::format_time(time::OffsetDateTime::now_utc())[..10].to_owned();
        let records = store.audit_records(&day, None, 100).await.unwrap().items;
        let created: Vec<_> = records.iter().filter(|r| r.action == "create-branch-key").collect();
        assert_eq!(
            created.iter().map(|r| r.resource_id.as_deref()).collect::<Vec<_>>(),
            [Some("branch:personal-data:1"), Some("branch:personal-data:2")]
        );
        assert!(created.iter().all(|r| r.request_id.starts_with("branch-key-")), "{created:?}");
    }

    #[tokio::test]
    async fn a_new_master_key_version_makes_a_new_branch_key_and_old_ones_still_derive() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let local = LocalKeys::new(dir.path());
        let keys = BranchKeys::new(Arc::new(local.clone()), Arc::clone(&store));
        let (old_key, old) = keys.generate(Purpose::PersonalData, &table()).await.unwrap();
        assert_eq!(old.master_key, "branch:personal-data:1");
        assert_eq!(keys.current_master_key(Purpose::PersonalData).await.unwrap(), "branch:personal-data:1", "nothing moved");
        local.rotate(Purpose::PersonalData).unwrap();
        assert_eq!(keys.current_master_key(Purpose::PersonalData).await.unwrap(), "branch:personal-data:2");
        let stored = store.get(&branch_key_item(Purpose::PersonalData, 2)).await.unwrap().unwrap();
        assert_eq!(stored.body["master_key"], "local:personal-data:2");
        let (_, new) = keys.generate(Purpose::PersonalData, &table()).await.unwrap();
        assert_eq!(new.master_key, "branch:personal-data:2");
        let fresh = BranchKeys::new(Arc::new(local), Arc::clone(&store));
        assert_eq!(fresh.unwrap(Purpose::PersonalData, &old, &table()).await.unwrap(), old_key, "version 1 still derives");
        // A branch key copied over another version does not unwrap there.
        let first = store.get(&branch_key_item(Purpose::PersonalData, 1)).await.unwrap().unwrap();
        let audit = AuditDraft::new("test", "config").finish(&RequestMeta::default(), 200);
        let moved = WriteOp::Put { item: Item { key: branch_key_item(Purpose::PersonalData, 3), ..first }, condition: Condition::Absent };
        store.commit(vec![moved], &audit).await.unwrap();
        let forged = WrappedKey { master_key: "branch:personal-data:3".into(), blob: old.blob.clone() };
        assert_eq!(fresh.unwrap(Purpose::PersonalData, &forged, &table()).await, Err(KeyError::Refused));
        // Not a branch reference, or a salt of the wrong size: refused, not guessed.
        let other = WrappedKey { master_key: "local:personal-data:1".into(), blob: old.blob.clone() };
        assert!(matches!(fresh.unwrap(Purpose::PersonalData, &other, &table()).await, Err(KeyError::UnknownMasterKey(_))));
        let short = WrappedKey { master_key: old.master_key.clone(), blob: vec![0; 8] };
        assert_eq!(fresh.unwrap(Purpose::PersonalData, &short, &table()).await, Err(KeyError::Refused));
    }
}
