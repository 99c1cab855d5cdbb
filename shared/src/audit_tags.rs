//! Integrity tags on audit records (SR-19): every record is written with an HMAC-SHA256
//! under a key of the audit-integrity purpose, so a record edited in the table no longer
//! verifies. The signed digests over each hour's records ([`crate::audit_digest`]) then
//! catch what a tag cannot: a record deleted, or inserted by someone who holds the key.
//!
//! The tag covers the record's *pseudonymised* form: the actor, the subject, the source IP
//! and the user agent are replaced by keyed pseudonyms ([`TagKey::pseudonym`]) before the
//! HMAC, and the subject's id inside the resource id likewise. Erasing a person (GDPR)
//! replaces those fields in the stored record by the same pseudonyms, so the record still
//! verifies and still links to the person's other records, without naming them.
//!
//! Tag keys are 32 random bytes per version, wrapped by the audit-integrity master key
//! and kept in the item store (`AUDIT_KEYS#integrity` / `<version>`), made by the first
//! process that writes a record; the highest version tags new records, every version
//! verifies. [`TaggedAudit`] is the store layer that tags every record on its way in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{AuditDraft, AuditRecord};
use crate::domain::audit::PSEUDONYM_CHARS;
pub use crate::domain::audit::is_pseudonym;
use crate::http::RequestMeta;
use crate::store::audit::{AuditSource, PositionRange};
use crate::store::{Condition, Item, ItemStore, JsonItem, Key, Page, ScanPage, StoreError, WriteOp};
use crypto::envelope::{EncryptionContext, WrappedKey};
use crypto::keys::{KeyError, KeyProvider, Purpose};

/// The partition tag keys are kept in (IAM lets every function read and create there).
pub const PARTITION: &str = "AUDIT_KEYS#integrity";
/// How long a process keeps its idea of the active version.
const ACTIVE_TTL: Duration = Duration::from_secs(300);
const SECRET_BYTES: usize = 32;
/// What every tagged byte string starts with: the format, so that it can change.
const TAG_DOMAIN: &[u8] = b"forecast-api/audit-record/v1\n";

/// Where version `version` of the tag key is stored.
pub fn key_item(version: u32) -> Key {
    Key::new(PARTITION, format!("{version:06}"))
}

/// One version of the tag key: the HMAC key of tags and the one of pseudonyms, both
/// derived from its secret.
pub struct TagKey {
    version: u32,
    tag: hmac::Key,
    pseudonym: hmac::Key,
}

impl std::fmt::Debug for TagKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TagKey").field("version", &self.version).finish_non_exhaustive()
    }
}

impl TagKey {
    fn from_secret(version: u32, secret: &[u8]) -> Result<Self, KeyError> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"forecast-api/audit-keys").extract(secret);
        let derive = |info: &[u8]| -> Result<hmac::Key, KeyError> {
            let info = [info];
            let okm = prk.expand(&info, hmac::HMAC_SHA256).map_err(|_| KeyError::Unavailable("HKDF failed".into()))?;
            Ok(hmac::Key::from(okm))
        };
        Ok(Self { version, tag: derive(b"tag")?, pseudonym: derive(b"pseudonym")? })
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The pseudonym of `value` under this key: the same for the same value, and a value
    /// that already is a pseudonym stays as it is.
    pub fn pseudonym(&self, value: &str) -> String {
        if is_pseudonym(value) {
            return value.to_owned();
        }
        let mac = hmac::sign(&self.pseudonym, value.as_bytes());
        let mut text = URL_SAFE_NO_PAD.encode(mac.as_ref());
        text.truncate(PSEUDONYM_CHARS);
        format!("~{text}")
    }

    /// The record as its tag sees it: who and from where replaced by their pseudonyms.
    pub fn pseudonymised(&self, record: &AuditRecord) -> AuditRecord {
        let mut seen = record.clone();
        seen.tag = None;
        let pseudonym = |value: &Option<String>| value.as_deref().map(|v| self.pseudonym(v));
        if let (Some(subject), Some(resource)) = (record.subject.as_deref(), seen.resource_id.as_mut())
            && !subject.is_empty()
        {
            *resource = resource.replace(subject, &self.pseudonym(subject));
        }
        seen.actor = pseudonym(&record.actor);
        seen.subject = pseudonym(&record.subject);
        seen.source_ip = pseudonym(&record.source_ip);
        seen.user_agent = pseudonym(&record.user_agent);
        seen
    }

    /// The bytes a tag is the HMAC of.
    fn tagged_bytes(&self, record: &AuditRecord) -> Result<Vec<u8>, StoreError> {
        let mut bytes = TAG_DOMAIN.to_vec();
        serde_json::to_writer(&mut bytes, &self.pseudonymised(record)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(bytes)
    }

    /// `record`'s tag under this key: `<version>.<base64url HMAC>`.
    pub fn tag(&self, record: &AuditRecord) -> Result<String, StoreError> {
        let mac = hmac::sign(&self.tag, &self.tagged_bytes(record)?);
        Ok(format!("{}.{}", self.version, URL_SAFE_NO_PAD.encode(mac.as_ref())))
    }

    /// Whether `record`'s tag is this key's for the record as it is now (constant time).
    pub fn verifies(&self, record: &AuditRecord) -> bool {
        let Some(mac) = record.tag.as_deref().and_then(|tag| tag.split_once('.')).and_then(|(_, mac)| URL_SAFE_NO_PAD.decode(mac).ok())
        else {
            return false;
        };
        self.tagged_bytes(record).is_ok_and(|bytes| hmac::verify(&self.tag, &bytes, &mac).is_ok())
    }
}

/// The key version a tag names, if it names one.
pub fn tag_version(tag: &str) -> Option<u32> {
    tag.split_once('.')?.0.parse().ok()
}

/// A tag key version as stored: wrapped by the master key named.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredTagKey {
    master_key: String,
    /// Base64 of the wrapped secret.
    wrapped: String,
    created_at: String,
}

/// What a tag key's wrap is bound to.
fn wrap_context(version: u32) -> EncryptionContext {
    EncryptionContext::new([("audit-key", format!("integrity:{version}").as_str())])
}

/// The tag keys of a deployment, unwrapped once per process and kept.
#[derive(Debug)]
pub struct AuditKeys {
    master: Arc<dyn KeyProvider>,
    /// Where the wrapped keys are kept: the store as it is at rest.
    store: Arc<dyn ItemStore>,
    keys: Mutex<HashMap<u32, Arc<TagKey>>>,
    active: Mutex<Option<(Instant, u32)>>,
}

impl AuditKeys {
    pub fn new(master: Arc<dyn KeyProvider>, store: Arc<dyn ItemStore>) -> Self {
        Self { master, store, keys: Mutex::new(HashMap::new()), active: Mutex::new(None) }
    }

    /// The key new records are tagged with: the highest version (made if there is none).
    pub async fn active(&self) -> Result<Arc<TagKey>, KeyError> {
        let cached = self.active.lock().ok().and_then(|active| *active);
        let version = match cached.filter(|(at, _)| at.elapsed() < ACTIVE_TTL) {
            Some((_, version)) => version,
            None => {
                let version = match self.versions().await?.last() {
                    Some(version) => *version,
                    None => self.create(1).await?,
                };
                if let Ok(mut active) = self.active.lock() {
                    *active = Some((Instant::now(), version));
                }
                version
            }
        };
        self.version(version).await
    }

    /// Version `version` of the key; [`KeyError::UnknownMasterKey`] if there is none.
    pub async fn version(&self, version: u32) -> Result<Arc<TagKey>, KeyError> {
        if let Some(key) = self.keys.lock().ok().and_then(|keys| keys.get(&version).cloned()) {
            return Ok(key);
        }
        let item = self
            .store
            .get(&key_item(version))
            .await
            .map_err(unavailable)?
            .ok_or_else(|| KeyError::UnknownMasterKey(format!("audit tag key {version}")))?;
        let stored: StoredTagKey = serde_json::from_value(item.body).map_err(|_| KeyError::Refused)?;
        let blob = STANDARD.decode(&stored.wrapped).map_err(|_| KeyError::Refused)?;
        let wrapped = WrappedKey { master_key: stored.master_key, blob };
        let secret = self.master.unwrap(Purpose::AuditIntegrity, &wrapped, &wrap_context(version)).await?;
        if secret.len() != SECRET_BYTES {
            return Err(KeyError::Refused);
        }
        Ok(self.remember(TagKey::from_secret(version, &secret)?))
    }

    /// Adds a version and makes it the active one here at once (elsewhere within five
    /// minutes); records tagged before keep verifying under theirs.
    pub async fn rotate(&self) -> Result<u32, KeyError> {
        let next = self.versions().await?.last().copied().unwrap_or(0) + 1;
        let version = self.create(next).await?;
        if let Ok(mut active) = self.active.lock() {
            *active = Some((Instant::now(), version));
        }
        Ok(version)
    }

    /// When the first version was made: the first record ever written made it, so the audit
    /// log begins then. `None` before anything was audited.
    pub async fn first_made_at(&self) -> Result<Option<time::OffsetDateTime>, KeyError> {
        let Some(item) = self.store.get(&key_item(1)).await.map_err(unavailable)? else { return Ok(None) };
        let stored: StoredTagKey = serde_json::from_value(item.body).map_err(|_| KeyError::Refused)?;
        time::OffsetDateTime::parse(&stored.created_at, &time::format_description::well_known::Rfc3339)
            .map(Some)
            .map_err(|_| KeyError::Refused)
    }

    /// `record` with its tag under the active key.
    pub async fn tagged(&self, record: &AuditRecord) -> Result<AuditRecord, StoreError> {
        let key = self.active().await.map_err(key_unavailable)?;
        Ok(AuditRecord { tag: Some(key.tag(record)?), ..record.clone() })
    }

    fn remember(&self, key: TagKey) -> Arc<TagKey> {
        let key = Arc::new(key);
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key.version, Arc::clone(&key));
        }
        key
    }

    async fn versions(&self) -> Result<Vec<u32>, KeyError> {
        let sort_keys = crate::store::all_sort_keys(self.store.as_ref(), PARTITION).await.map_err(unavailable)?;
        let mut versions: Vec<u32> = sort_keys.iter().filter_map(|sk| sk.parse().ok()).collect();
        versions.sort_unstable();
        Ok(versions)
    }

    /// Makes version `version`; if another process made it first, theirs. Its creation's
    /// audit record is tagged with the key it creates.
    async fn create(&self, version: u32) -> Result<u32, KeyError> {
        let (secret, wrapped) = self.master.generate(Purpose::AuditIntegrity, &wrap_context(version)).await?;
        let secret = Zeroizing::new(secret.to_vec());
        let stored = StoredTagKey {
            master_key: wrapped.master_key,
            wrapped: STANDARD.encode(&wrapped.blob),
            created_at: crate::audit::format_time(time::OffsetDateTime::now_utc()),
        };
        let body = serde_json::to_value(&stored).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let put = WriteOp::Put { item: Item { key: key_item(version), version: 1, body }, condition: Condition::Absent };
        let key = TagKey::from_secret(version, &secret)?;
        let meta = RequestMeta { request_id: format!("audit-key-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
        let mut record = AuditDraft { resource_id: Some(format!("audit-key:{version}")), ..AuditDraft::new("create-audit-key", "config") }
            .finish(&meta, 201);
        record.tag = Some(key.tag(&record).map_err(unavailable)?);
        match self.store.commit(vec![put], &record).await {
            Ok(()) => {
                self.remember(key);
                Ok(version)
            }
            Err(StoreError::ConditionFailed) => Ok(version),
            Err(error) => Err(unavailable(error)),
        }
    }
}

fn unavailable(error: StoreError) -> KeyError {
    KeyError::Unavailable(format!("audit keys: {error}"))
}

fn key_unavailable(error: KeyError) -> StoreError {
    StoreError::Unavailable(format!("audit tag key: {error}"))
}

/// The store layer that tags every audit record written through it, in a commit or alone;
/// everything else passes through. Every host builds its store on one ([`crate::sealed_items::SealedItems`] takes no other).
#[derive(Debug)]
pub struct TaggedAudit {
    inner: Arc<dyn ItemStore>,
    keys: Arc<AuditKeys>,
}

impl TaggedAudit {
    /// Tags under keys kept in `inner`, wrapped by `master`'s audit-integrity key.
    pub fn new(inner: Arc<dyn ItemStore>, master: Arc<dyn KeyProvider>) -> Self {
        let keys = Arc::new(AuditKeys::new(master, Arc::clone(&inner)));
        Self { inner, keys }
    }

    pub fn keys(&self) -> &Arc<AuditKeys> {
        &self.keys
    }

    /// The store underneath: records as they are at rest.
    pub fn inner(&self) -> &Arc<dyn ItemStore> {
        &self.inner
    }
}

#[async_trait::async_trait]
impl ItemStore for TaggedAudit {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }

    async fn get_many_json(&self, keys: &[Key]) -> Result<Vec<JsonItem>, StoreError> {
        self.inner.get_many_json(keys).await
    }

    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        self.inner.query_keys(pk, prefix, after, limit).await
    }

    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<ScanPage, StoreError> {
        self.inner.scan_keys(after, limit).await
    }

    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        let tagged = self.keys.tagged(audit).await?;
        self.inner.commit(writes, &tagged).await
    }

    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        self.inner.increment(key, expires_at).await
    }

    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        self.inner.counter(key, now).await
    }

    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let tagged = self.keys.tagged(audit).await?;
        self.inner.append_audit(&tagged).await
    }

    async fn audit_newest_first(
        &self,
        source: AuditSource<'_>,
        range: &PositionRange,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.audit_newest_first(source, range, limit).await
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        self.inner.erase_audit_identity(stored, erased).await
    }

    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, crate::store::StoreError> {
        self.inner.purge_expired_audit(now, limit).await
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.audit_partition(pk, after, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto::keys::LocalKeys;
    use store_embedded::SqliteStore;

    fn fixture() -> (tempfile::TempDir, Arc<dyn ItemStore>, TaggedAudit) {
        let dir = tempfile::tempdir().unwrap();
        let raw: Arc<dyn ItemStore> = Arc::new(SqliteStore::in_memory().unwrap());
        let tagged = TaggedAudit::new(Arc::clone(&raw), Arc::new(LocalKeys::new(dir.path())));
        (dir, raw, tagged)
    }

    fn record() -> AuditRecord {
        let meta = RequestMeta {
            request_id: "r-1".into(),
            source_ip: Some("203.0.113.9".into()),
            user_agent: Some("curl/8".into()),
            ..RequestMeta::default()
        };
        let mut draft = AuditDraft::new("update-user", "user");
        draft.actor = Some(("admin-1".into(), crate::auth::Role::Admin));
        draft.subject = Some("7a9c2e41-3b5d-4f60-8e71-9d0a1b2c3d4e".into());
        draft.resource_id = Some("7a9c2e41-3b5d-4f60-8e71-9d0a1b2c3d4e".into());
        draft.finish(&meta, 200)
    }

    async fn stored(raw: &dyn ItemStore, record: &AuditRecord) -> AuditRecord {
        let day = &record.time[..10];
        raw.audit_records(day, None, 100).await.unwrap().items.into_iter().find(|r| r.id == record.id).unwrap()
    }

    #[tokio::test]
    async fn records_written_through_the_layer_carry_a_tag_that_verifies_until_a_field_changes() {
        let (_dir, raw, tagged) = fixture();
        let written = record();
        tagged.append_audit(&written).await.unwrap();
        let at_rest = stored(raw.as_ref(), &written).await;
        let tag = at_rest.tag.clone().expect("tagged at rest");
        assert_eq!(tag_version(&tag), Some(1));
        let key = tagged.keys().version(1).await.unwrap();
        assert!(key.verifies(&at_rest));
        let edits: [fn(&mut AuditRecord); 6] = [
            |r| r.status = 403,
            |r| r.actor = Some("admin-2".into()),
            |r| r.source_ip = Some("198.51.100.1".into()),
            |r| r.action = "get-user".into(),
            |r| r.policies.push("forged".into()),
            |r| r.tag = Some("1.AAAA".into()),
        ];
        for edit in edits {
            let mut edited = at_rest.clone();
            edit(&mut edited);
            assert!(!key.verifies(&edited), "{edited:?}");
        }
        // The key's own creation is audited, and tagged with the key it created.
        let creation = raw.audit_records(&written.time[..10], None, 100).await.unwrap().items;
        let creation = creation.iter().find(|r| r.action == "create-audit-key").unwrap();
        assert!(key.verifies(creation));
    }

    #[tokio::test]
    async fn a_pseudonymised_record_still_verifies_and_its_pseudonyms_are_stable() {
        let (_dir, raw, tagged) = fixture();
        let written = record();
        tagged.append_audit(&written).await.unwrap();
        let at_rest = stored(raw.as_ref(), &written).await;
        let key = tagged.keys().version(1).await.unwrap();
        let erased = AuditRecord { tag: at_rest.tag.clone(), ..key.pseudonymised(&at_rest) };
        assert!(key.verifies(&erased));
        let subject = erased.subject.clone().unwrap();
        assert!(is_pseudonym(&subject) && subject != "7a9c2e41-3b5d-4f60-8e71-9d0a1b2c3d4e");
        assert_eq!(erased.resource_id.as_deref(), Some(subject.as_str()), "the id inside the resource id goes too");
        assert_eq!(key.pseudonym("7a9c2e41-3b5d-4f60-8e71-9d0a1b2c3d4e"), subject, "the same person, the same pseudonym");
        assert_eq!(key.pseudonym(&subject), subject);
        assert_ne!(key.pseudonym("203.0.113.9"), key.pseudonym("203.0.113.10"));
        // Another person's pseudonym in their place does not verify.
        let swapped = AuditRecord { actor: Some(key.pseudonym("admin-2")), ..erased.clone() };
        assert!(!key.verifies(&swapped));
    }

    #[tokio::test]
    async fn a_rotation_tags_new_records_with_the_new_version_and_old_ones_still_verify() {
        let (_dir, raw, tagged) = fixture();
        let first = record();
        tagged.append_audit(&first).await.unwrap();
        assert_eq!(tagged.keys().rotate().await.unwrap(), 2);
        let second = record();
        tagged.append_audit(&second).await.unwrap();
        let (first, second) = (stored(raw.as_ref(), &first).await, stored(raw.as_ref(), &second).await);
        assert_eq!(second.tag.as_deref().and_then(tag_version), Some(2));
        assert!(tagged.keys().version(1).await.unwrap().verifies(&first));
        assert!(tagged.keys().version(2).await.unwrap().verifies(&second));
        assert!(!tagged.keys().version(2).await.unwrap().verifies(&first), "each version its own key");
        // A process that never saw the keys unwraps them from the store.
        let fresh = AuditKeys::new(Arc::new(LocalKeys::new(_dir.path())), Arc::clone(&raw));
        assert!(fresh.version(1).await.unwrap().verifies(&first));
        assert!(matches!(fresh.version(3).await, Err(KeyError::UnknownMasterKey(_))));
    }
}
