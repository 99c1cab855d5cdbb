//! Field-level encryption in the item store layer: every record written is sealed as its
//! type in [`crate::records`] declares, and every record read is opened and checked, so no
//! handler stores personal data in clear or reads a record edited outside the API.
//!
//! A sealed record keeps its signed and plain attributes as they are and replaces the
//! encrypted ones with one attribute, `_sealed`: `"enc1:<base64url>"` of an envelope
//! (AES-256-GCM under a data key the personal-data master key wraps) whose plaintext is
//! the encrypted attributes as a JSON object. The envelope is bound to the table, the
//! record type, the record's key and a digest of its signed attributes, so:
//! - a ciphertext moved to another record (or kind of record) does not open there;
//! - a signed attribute changed in the table makes the whole record refuse to open;
//! - a record whose encrypted attributes were replaced by clear text is refused.
//!
//! One envelope per record (not one per attribute) keeps one wrapped key and one
//! authentication tag per item, however many fields it encrypts. Counters and audit
//! records pass through: counters carry no body, and audit records get an integrity tag
//! of their own purpose.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::audit::AuditRecord;
use crate::audit_tags::{AuditKeys, TaggedAudit};
use crate::records::{RecordType, record_type};
use crate::store::{Item, ItemStore, JsonItem, Key, Page, ScanPage, StoreError, WriteOp};
use crypto::cache::{Envelopes, SealError};
use crypto::envelope::EncryptionContext;
use crypto::keys::{KeyError, Purpose};

/// The attribute a sealed record keeps its envelope in; no record may use it otherwise.
pub const SEALED_ATTRIBUTE: &str = "_sealed";
/// What the envelope's stored form starts with: the format, so that it can change.
const PREFIX: &str = "enc1:";
/// The table's name in every data key's context: logical, so a renamed table still opens.
const TABLE: &str = "items";

/// An item store whose records are sealed on the way in and opened on the way out.
#[derive(Debug)]
pub struct SealedItems {
    /// The layer underneath, which tags audit records (SR-19), as a store.
    inner: Arc<dyn ItemStore>,
    tagged: Arc<TaggedAudit>,
    envelopes: Arc<Envelopes>,
    /// The run-time settings, for the audit retention each record is written with.
    settings: Arc<crate::runtime_settings::SettingsCache>,
    /// Sees every audit record once it is stored (the threat detector, in process).
    observer: std::sync::OnceLock<Arc<dyn crate::detector::AuditObserver>>,
}

impl SealedItems {
    /// Records sealed with `envelopes`, over a store that tags every audit record: the
    /// type admits no other, so no host writes audit records without their tag.
    pub fn new(tagged: Arc<TaggedAudit>, envelopes: Arc<Envelopes>) -> Self {
        let inner: Arc<dyn ItemStore> = tagged.clone();
        Self { inner, tagged, envelopes, settings: Arc::default(), observer: std::sync::OnceLock::new() }
    }

    /// Over `raw`, with the local master keys kept in `master_keys` (created there on first
    /// use): audit records tagged under keys they wrap, records sealed under branch keys
    /// they wrap, both kept in `raw`.
    pub fn with_local_keys(raw: Arc<dyn ItemStore>, master_keys: &std::path::Path) -> Self {
        let tagged = Arc::new(TaggedAudit::new(raw, Arc::new(crypto::keys::LocalKeys::new(master_keys))));
        let inner: Arc<dyn ItemStore> = tagged.clone();
        let envelopes = crate::branch_keys::local_envelopes(&inner, master_keys);
        Self::new(tagged, envelopes)
    }

    /// The store underneath, which sees records as they are at rest.
    pub fn inner(&self) -> &Arc<dyn ItemStore> {
        &self.inner
    }

    /// `audit` with its expiry: its time plus the audit retention in force (SR-20).
    async fn with_expiry(&self, audit: &AuditRecord) -> Result<AuditRecord, StoreError> {
        let days = i64::from(self.settings.get(self).await?.retention.audit_days);
        let at = audit.unix_time().ok_or_else(|| StoreError::Corrupt(format!("audit record time `{}`", audit.time)))?;
        Ok(AuditRecord { expires_at: Some(at + days * 86_400), ..audit.clone() })
    }

    /// Has `observer` see every audit record written through this store from now on (once;
    /// a second observer is refused and returned).
    pub fn set_observer(&self, observer: Arc<dyn crate::detector::AuditObserver>) -> Result<(), Arc<dyn crate::detector::AuditObserver>> {
        self.observer.set(observer)
    }

    async fn observed(&self, record: &AuditRecord) {
        if let Some(observer) = self.observer.get() {
            observer.observe(self, record).await;
        }
    }

    /// The settings as this store last read them (the API's handlers share it).
    pub fn settings_cache(&self) -> &Arc<crate::runtime_settings::SettingsCache> {
        &self.settings
    }

    /// The keys audit records are tagged and verified with.
    pub fn audit_keys(&self) -> &Arc<AuditKeys> {
        self.tagged.keys()
    }

    /// The stored form of `body`, the body of a record at `key`.
    pub async fn seal(&self, key: &Key, body: Value) -> Result<Value, StoreError> {
        let record = declared(key)?;
        let Value::Object(mut fields) = body else {
            return Err(StoreError::Corrupt(format!("{}: a record body must be an object", describe(key))));
        };
        if fields.contains_key(SEALED_ATTRIBUTE) {
            return Err(StoreError::Corrupt(format!("{}: `{SEALED_ATTRIBUTE}` is reserved", describe(key))));
        }
        let mut secret = Map::new();
        for name in record.encrypted {
            if let Some(value) = fields.remove(*name) {
                secret.insert((*name).to_owned(), value);
            }
        }
        let plaintext = serde_json::to_vec(&Value::Object(secret)).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let context = value_context(record, key, &fields);
        let sealed = self.envelopes.seal(Purpose::PersonalData, &key_context(), &context, &plaintext).await.map_err(seal_failed)?;
        fields.insert(SEALED_ATTRIBUTE.to_owned(), Value::String(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))));
        Ok(Value::Object(fields))
    }

    /// The body [`SealedItems::seal`] was given, from its stored form; an error, never a
    /// guess, when the stored form was altered, moved or not sealed.
    pub async fn open(&self, key: &Key, stored: Value) -> Result<Value, StoreError> {
        let (record, mut fields, plaintext) = self.verify(key, stored).await?;
        let Ok(Value::Object(secret)) = serde_json::from_slice(&plaintext) else { return Err(corrupt(key)) };
        for (name, value) in secret {
            // What was sealed is only ever the declared attributes; anything else is not ours.
            if !record.encrypted.contains(&name.as_str()) || fields.contains_key(&name) {
                return Err(corrupt(key));
            }
            fields.insert(name, value);
        }
        Ok(Value::Object(fields))
    }

    /// [`SealedItems::open`] as JSON text, for readers that parse it into their own types:
    /// the decrypted members are spliced in as they were sealed (authenticated, so as this
    /// layer wrote them), not parsed and written out again.
    async fn open_text(&self, key: &Key, stored: Value) -> Result<String, StoreError> {
        let (_, fields, plaintext) = self.verify(key, stored).await?;
        let secret = std::str::from_utf8(&plaintext).ok().and_then(|text| text.strip_prefix('{')).ok_or_else(|| corrupt(key))?;
        let mut text = Value::Object(fields).to_string();
        if secret != "}" {
            text.pop();
            if text.len() > 1 {
                text.push(',');
            }
            text.push_str(secret);
        }
        Ok(text)
    }

    /// The record's type, its signed and plain attributes, and the plaintext of its sealed
    /// ones, once its envelope opened under its key and signed attributes.
    async fn verify(&self, key: &Key, stored: Value) -> Result<(&'static RecordType, Map<String, Value>, Vec<u8>), StoreError> {
        let record = record_type(&key.pk, &key.sk).ok_or_else(|| corrupt(key))?;
        let Value::Object(mut fields) = stored else { return Err(corrupt(key)) };
        let envelope = match fields.remove(SEALED_ATTRIBUTE) {
            Some(Value::String(text)) => text,
            _ => return Err(corrupt(key)),
        };
        let bytes = envelope_bytes(&envelope).ok_or_else(|| corrupt(key))?;
        let context = value_context(record, key, &fields);
        match self.envelopes.open(Purpose::PersonalData, &key_context(), &context, &bytes).await {
            Ok(plaintext) => Ok((record, fields, plaintext)),
            Err(SealError::Key(KeyError::Unavailable(cause))) => Err(StoreError::Unavailable(cause)),
            Err(_) => Err(corrupt(key)),
        }
    }

    /// The master key records are sealed under from now on.
    pub async fn current_master_key(&self) -> Result<String, StoreError> {
        self.envelopes.current_master_key(Purpose::PersonalData).await.map_err(|error| StoreError::Unavailable(error.to_string()))
    }

    /// The master key the record stored as `stored` was sealed under, if it reads as sealed.
    pub fn sealed_under(stored: &Value) -> Option<String> {
        Envelopes::master_key_of(&envelope_bytes(stored.get(SEALED_ATTRIBUTE)?.as_str()?)?).ok()
    }

    /// Seals with fresh data keys from here on (see [`Envelopes::retire_sealing_keys`]).
    pub fn retire_sealing_keys(&self) {
        self.envelopes.retire_sealing_keys();
    }

    async fn open_item(&self, item: Item) -> Result<Item, StoreError> {
        let body = self.open(&item.key, item.body).await?;
        Ok(Item { body, ..item })
    }
}

/// The envelope in a sealed attribute's stored form (`enc1:<base64url>`).
fn envelope_bytes(stored: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(stored.strip_prefix(PREFIX)?).ok()
}

fn declared(key: &Key) -> Result<&'static RecordType, StoreError> {
    record_type(&key.pk, &key.sk).ok_or_else(|| StoreError::Undeclared(describe(key)))
}

fn describe(key: &Key) -> String {
    format!("{} / {}", key.pk, key.sk)
}

fn corrupt(key: &Key) -> StoreError {
    StoreError::Corrupt(format!("{} does not open: altered, moved, or not sealed", describe(key)))
}

fn seal_failed(error: SealError) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn key_context() -> EncryptionContext {
    EncryptionContext::new([("table", TABLE)])
}

/// What a record's envelope is bound to: its type and key, and its signed attributes
/// (every attribute left once the encrypted ones are out, but the plain ones).
fn value_context(record: &RecordType, key: &Key, fields: &Map<String, Value>) -> EncryptionContext {
    let mut names: Vec<&String> = fields.keys().filter(|name| !record.plain.contains(&name.as_str())).collect();
    names.sort_unstable();
    let mut signed = Vec::with_capacity(512);
    canonical_object(names.into_iter().map(|name| (name, &fields[name.as_str()])), &mut signed);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed);
    let digest = URL_SAFE_NO_PAD.encode(digest.as_ref());
    EncryptionContext::new([("type", record.name), ("pk", key.pk.as_str()), ("sk", key.sk.as_str()), ("signed", digest.as_str())])
}

/// A byte form that is the same for equal values wherever they were stored, and different
/// for different ones: each value tagged, strings and lists length-prefixed, object keys
/// sorted, numbers as `f64` bits (DynamoDB hands back `1.0` as `1`).
fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(b'n'),
        Value::Bool(true) => out.push(b't'),
        Value::Bool(false) => out.push(b'f'),
        Value::Number(number) => {
            out.push(b'#');
            out.extend_from_slice(&number.as_f64().unwrap_or(f64::NAN).to_bits().to_be_bytes());
        }
        Value::String(text) => canonical_str(text, out),
        Value::Array(items) => {
            out.push(b'[');
            out.extend_from_slice(&u32::try_from(items.len()).unwrap_or(u32::MAX).to_be_bytes());
            items.iter().for_each(|item| canonical(item, out));
        }
        Value::Object(fields) => {
            let mut names: Vec<&String> = fields.keys().collect();
            names.sort_unstable();
            canonical_object(names.into_iter().map(|name| (name, &fields[name.as_str()])), out);
        }
    }
}

fn canonical_str(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// An object from its members in key order (their count goes in front, once known).
fn canonical_object<'a>(members: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut Vec<u8>) {
    out.push(b'{');
    let count_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count = 0u32;
    for (name, value) in members {
        canonical_str(name, out);
        canonical(value, out);
        count += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&count.to_be_bytes());
}

#[async_trait::async_trait]
impl ItemStore for SealedItems {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        match self.inner.get(key).await? {
            Some(item) => Ok(Some(self.open_item(item).await?)),
            None => Ok(None),
        }
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        let mut opened = Vec::with_capacity(items.len());
        for item in items {
            opened.push(self.open_item(item).await?);
        }
        Ok(opened)
    }

    async fn get_many_json(&self, keys: &[Key]) -> Result<Vec<JsonItem>, StoreError> {
        let items = self.inner.get_many(keys).await?;
        let mut opened = Vec::with_capacity(items.len());
        for item in items {
            opened.push(JsonItem { json: self.open_text(&item.key, item.body).await?, key: item.key, version: item.version });
        }
        Ok(opened)
    }

    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        self.inner.query_keys(pk, prefix, after, limit).await
    }

    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<ScanPage, StoreError> {
        self.inner.scan_keys(after, limit).await
    }

    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        crate::store::check_size(&writes)?;
        let mut sealed = Vec::with_capacity(writes.len());
        for write in writes {
            sealed.push(match write {
                WriteOp::Put { item, condition } => {
                    let body = self.seal(&item.key, item.body).await?;
                    WriteOp::Put { item: Item { body, ..item }, condition }
                }
                delete @ WriteOp::Delete { .. } => delete,
            });
        }
        let audit = self.with_expiry(audit).await?;
        self.inner.commit(sealed, &audit).await?;
        self.observed(&audit).await;
        Ok(())
    }

    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        self.inner.increment(key, expires_at).await
    }

    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        self.inner.counter(key, now).await
    }

    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let audit = self.with_expiry(audit).await?;
        self.inner.append_audit(&audit).await?;
        self.observed(&audit).await;
        Ok(())
    }

    async fn audit_newest_first(
        &self,
        source: crate::store::audit::AuditSource<'_>,
        range: &crate::store::audit::PositionRange,
        limit: usize,
    ) -> Result<crate::store::Page<crate::audit::AuditRecord>, crate::store::StoreError> {
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

    async fn audit_records(&self, day: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.audit_records(day, after, limit).await
    }
}

/// A sealed store over an in-memory SQLite, its master keys in a folder of its own.
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use super::SealedItems;
    use crate::store::ItemStore;

    pub(crate) struct Fixture {
        pub(crate) dir: tempfile::TempDir,
        /// The store underneath, as it is at rest.
        pub(crate) raw: Arc<dyn ItemStore>,
        pub(crate) sealed: SealedItems,
    }

    pub(crate) fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let raw: Arc<dyn ItemStore> = Arc::new(store_embedded::SqliteStore::in_memory().unwrap());
        Fixture { sealed: SealedItems::with_local_keys(Arc::clone(&raw), dir.path()), raw, dir }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::Condition;

    use super::testing::{Fixture, fixture};

    fn audit() -> AuditRecord {
        crate::audit::AuditDraft::new("test", "dataset").finish(&crate::http::RequestMeta::default(), 200)
    }

    fn put(key: &Key, body: Value) -> WriteOp {
        WriteOp::Put { item: Item { key: key.clone(), version: 1, body }, condition: Condition::Always }
    }

    fn dataset_key() -> Key {
        Key::new("DATASET#d-1", "META")
    }

    fn dataset() -> Value {
        json!({"id": "d-1", "name": "Ada's sales", "description": "from ada@example.com", "owner": "u-1",
               "readers": ["u-2"], "size_bytes": 10, "preview": [["2024-01-01", "5"]], "columns": [{"name": "sales"}]})
    }

    #[tokio::test]
    async fn declared_fields_are_encrypted_the_rest_kept_and_all_of_it_opens_again() {
        let f = fixture();
        f.sealed.commit(vec![put(&dataset_key(), dataset())], &audit()).await.unwrap();
        let raw = f.raw.get(&dataset_key()).await.unwrap().unwrap().body;
        let text = raw.to_string();
        for secret in ["Ada's sales", "ada@example.com", "2024-01-01", "sales"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!((raw["owner"].clone(), raw["readers"].clone(), raw["size_bytes"].clone()), (json!("u-1"), json!(["u-2"]), json!(10)));
        assert!(raw[SEALED_ATTRIBUTE].as_str().unwrap().starts_with("enc1:"));
        assert_eq!(f.sealed.get(&dataset_key()).await.unwrap().unwrap().body, dataset());
        let listed = f.sealed.get_many_json(&[dataset_key()]).await.unwrap();
        assert_eq!(serde_json::from_str::<Value>(&listed[0].json).unwrap(), dataset());
        // As text too, whether a record has only sealed, only signed, or no attributes.
        for body in [json!({"name": "n"}), json!({"owner": "u-1"}), json!({})] {
            f.sealed.commit(vec![put(&dataset_key(), body.clone())], &audit()).await.unwrap();
            let listed = f.sealed.get_many_json(&[dataset_key()]).await.unwrap();
            assert_eq!(serde_json::from_str::<Value>(&listed[0].json).unwrap(), body);
        }
    }

    /// Writes `stored` as the raw body at `key` (what someone with table access could do).
    async fn tamper(f: &Fixture, key: &Key, stored: Value) {
        f.raw.commit(vec![put(key, stored)], &audit()).await.unwrap();
    }

    #[tokio::test]
    async fn an_edited_moved_or_clear_record_refuses_to_open() {
        let f = fixture();
        f.sealed.commit(vec![put(&dataset_key(), dataset())], &audit()).await.unwrap();
        let raw = f.raw.get(&dataset_key()).await.unwrap().unwrap().body;
        let refused = |result: Result<Option<Item>, StoreError>| matches!(result, Err(StoreError::Corrupt(_)));

        // A signed attribute changed: another owner.
        let mut edited = raw.clone();
        edited["owner"] = json!("u-9");
        tamper(&f, &dataset_key(), edited).await;
        assert!(refused(f.sealed.get(&dataset_key()).await), "signed attribute edited");
        // A signed attribute added.
        let mut added = raw.clone();
        added["deleted_at"] = json!("2024-01-01T00:00:00Z");
        tamper(&f, &dataset_key(), added).await;
        assert!(refused(f.sealed.get(&dataset_key()).await), "attribute added");
        // The envelope moved to another dataset's record.
        let other = Key::new("DATASET#d-2", "META");
        tamper(&f, &other, raw.clone()).await;
        assert!(refused(f.sealed.get(&other).await), "moved to another record");
        // One character of the envelope changed to a different one.
        let text = raw[SEALED_ATTRIBUTE].as_str().unwrap();
        let middle = text.len() / 2;
        let swapped = if &text[middle..=middle] == "A" { "B" } else { "A" };
        let mut flipped = raw.clone();
        flipped[SEALED_ATTRIBUTE] = json!(format!("{}{swapped}{}", &text[..middle], &text[middle + 1..]));
        tamper(&f, &dataset_key(), flipped).await;
        assert!(refused(f.sealed.get(&dataset_key()).await), "envelope altered");
        // A record written in clear, around the layer.
        tamper(&f, &dataset_key(), dataset()).await;
        assert!(refused(f.sealed.get(&dataset_key()).await), "clear record");
        // A clear value beside a good envelope: the encrypted name must come from the envelope.
        let mut doubled = raw.clone();
        doubled["name"] = json!("Bob's sales");
        tamper(&f, &dataset_key(), doubled).await;
        assert!(refused(f.sealed.get(&dataset_key()).await), "clear field beside the envelope");
        // The original still opens: the checks refuse changes, not the record.
        tamper(&f, &dataset_key(), raw).await;
        assert_eq!(f.sealed.get(&dataset_key()).await.unwrap().unwrap().body, dataset());
    }

    #[tokio::test]
    async fn undeclared_records_and_the_reserved_attribute_are_not_written() {
        let f = fixture();
        let undeclared = f.sealed.commit(vec![put(&Key::new("NOTES#1", "META"), json!({"text": "x"}))], &audit()).await;
        assert_eq!(undeclared, Err(StoreError::Undeclared("NOTES#1 / META".into())));
        let reserved = f.sealed.commit(vec![put(&dataset_key(), json!({"_sealed": "x"}))], &audit()).await;
        assert!(matches!(reserved, Err(StoreError::Corrupt(_))), "{reserved:?}");
        let not_object = f.sealed.commit(vec![put(&dataset_key(), json!(["x"]))], &audit()).await;
        assert!(matches!(not_object, Err(StoreError::Corrupt(_))), "{not_object:?}");
        assert_eq!(f.raw.get(&dataset_key()).await.unwrap(), None, "nothing was written");
    }

    #[tokio::test]
    async fn batch_reads_open_every_record_and_counters_and_audit_records_pass_through() {
        let f = fixture();
        let other = Key::new("DATASET#d-2", "META");
        f.sealed.commit(vec![put(&dataset_key(), dataset()), put(&other, json!({"name": "second"}))], &audit()).await.unwrap();
        let mut read = f.sealed.get_many(&[dataset_key(), other.clone(), Key::new("DATASET#d-3", "META")]).await.unwrap();
        read.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(read.iter().map(|item| item.body.clone()).collect::<Vec<_>>(), [dataset(), json!({"name": "second"})]);
        // Counters: exact, kept by the store underneath.
        let counter = Key::new("RATE#test#abc", "60");
        assert_eq!((f.sealed.increment(&counter, i64::MAX).await.unwrap(), f.sealed.increment(&counter, i64::MAX).await.unwrap()), (1, 2));
        assert_eq!((f.sealed.counter(&counter, 0).await.unwrap(), f.raw.counter(&counter, 0).await.unwrap()), (2, 2));
        // Audit records: appended underneath, read back through the layer.
        let record = crate::audit::AuditDraft::new("pass-through", "dataset")
            .finish(&crate::http::RequestMeta { request_id: "pass-through-1".into(), ..Default::default() }, 200);
        f.sealed.append_audit(&record).await.unwrap();
        let day = &record.time[..10];
        let found = |page: Page<AuditRecord>| page.items.iter().any(|r| r.request_id == "pass-through-1");
        assert!(found(f.raw.audit_records(day, None, 100).await.unwrap()), "appended to the store underneath");
        assert!(found(f.sealed.audit_records(day, None, 100).await.unwrap()), "read back through the layer");
        let partition = crate::store::audit::partition(&record);
        assert!(found(f.sealed.audit_partition(&partition, None, 100).await.unwrap()));
    }

    /// The envelope is bound to the table by name: the same value context under another
    /// table's key context does not open.
    #[tokio::test]
    async fn a_record_envelope_is_bound_to_the_items_table() {
        let f = fixture();
        f.sealed.commit(vec![put(&dataset_key(), dataset())], &audit()).await.unwrap();
        let mut fields = match f.raw.get(&dataset_key()).await.unwrap().unwrap().body {
            Value::Object(fields) => fields,
            other => panic!("{other}"),
        };
        let envelope = fields.remove(SEALED_ATTRIBUTE).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(envelope.as_str().unwrap().strip_prefix("enc1:").unwrap()).unwrap();
        let record = record_type(&dataset_key().pk, &dataset_key().sk).unwrap();
        let context = value_context(record, &dataset_key(), &fields);
        let open = |table: &'static str| {
            let (envelopes, bytes, context) = (&f.sealed.envelopes, &bytes, &context);
            async move { envelopes.open(Purpose::PersonalData, &EncryptionContext::new([("table", table)]), context, bytes).await }
        };
        assert!(open("items").await.is_ok());
        assert!(open("audit").await.is_err());
    }

    /// Sealed members are only ever the declared ones: an envelope holding any other
    /// attribute (a declaration narrowed since, or a bug) is refused, not merged in.
    #[tokio::test]
    async fn an_envelope_holding_an_undeclared_attribute_is_refused() {
        let f = fixture();
        let key = Key::new("DATASET#d-9", "META");
        let record = record_type(&key.pk, &key.sk).unwrap();
        let signed = Map::new();
        for secret in [json!({"owner": "u-9"}), json!({"name": "x", "readers": ["u-9"]})] {
            let plaintext = serde_json::to_vec(&secret).unwrap();
            let sealed = f
                .sealed
                .envelopes
                .seal(Purpose::PersonalData, &key_context(), &value_context(record, &key, &signed), &plaintext)
                .await
                .unwrap();
            let stored = json!({SEALED_ATTRIBUTE: format!("enc1:{}", URL_SAFE_NO_PAD.encode(sealed))});
            assert!(matches!(f.sealed.open(&key, stored).await, Err(StoreError::Corrupt(_))), "{secret}");
        }
        // The same envelope holding a declared attribute opens: the refusal is the check's.
        let sealed = f
            .sealed
            .envelopes
            .seal(Purpose::PersonalData, &key_context(), &value_context(record, &key, &signed), br#"{"name":"x"}"#)
            .await
            .unwrap();
        let stored = json!({SEALED_ATTRIBUTE: format!("enc1:{}", URL_SAFE_NO_PAD.encode(sealed))});
        assert_eq!(f.sealed.open(&key, stored).await.unwrap(), json!({"name": "x"}));
    }

    #[test]
    fn the_canonical_form_ignores_key_order_and_number_spelling_but_nothing_else() {
        let bytes = |value: Value| {
            let mut out = Vec::new();
            canonical(&value, &mut out);
            out
        };
        assert_eq!(bytes(json!({"b": 1, "a": [1.0, "x", null, true]})), bytes(json!({"a": [1, "x", null, true], "b": 1.0})));
        // Literal form: a one-member object holding a string.
        assert_eq!(bytes(json!({"k": "v"})), [b'{', 0, 0, 0, 1, b'"', 0, 0, 0, 1, b'k', b'"', 0, 0, 0, 1, b'v']);
        for (one, other) in [
            (json!(["ab", "c"]), json!(["a", "bc"])),
            (json!({"a": "b"}), json!({"ab": ""})),
            (json!([[1], 2]), json!([1, [2]])),
            (json!(null), json!(false)),
            (json!("1"), json!(1)),
            (json!(1), json!(2)),
        ] {
            assert_ne!(bytes(one.clone()), bytes(other.clone()), "{one} and {other}");
        }
    }
}
