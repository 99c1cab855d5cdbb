//! Sealing and opening values with data keys from a [`KeyProvider`], reusing each data key
//! within limits (the AWS Encryption SDK's caching model): a key seals at most
//! `max_messages` values and `max_bytes` bytes, and is used for at most `max_age`, so under
//! steady load the provider is asked once per `max_messages` values, and a stolen data
//! key opens a bounded slice of the data. Nothing is asked of the provider until a value
//! is sealed or opened.
//!
//! A data key is bound to its *key context* (purpose, table: coarse, so it can be shared);
//! each value is bound to the key context and its own *value context* (attribute, record),
//! so it opens only where it was written.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::envelope::{DataKey, EncryptionContext, EnvelopeError, Sealed, canonical_pairs};
use crate::keys::{KeyError, KeyProvider, Purpose};

/// How long and how much one data key may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub max_age: Duration,
    pub max_messages: u64,
    pub max_bytes: u64,
    /// Unwrapped data keys kept for opening.
    pub max_entries: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self { max_age: Duration::from_secs(300), max_messages: 4096, max_bytes: 1 << 30, max_entries: 1024 }
    }
}

/// Why a value did not seal or open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// An unwrapped data key, and when it was unwrapped.
type Opening = (Instant, Arc<DataKey>);

#[derive(Debug)]
struct Sealing {
    key: Arc<DataKey>,
    created: Instant,
    messages: u64,
    bytes: u64,
}

/// Seals and opens values, caching data keys.
#[derive(Debug)]
pub struct Envelopes {
    provider: Arc<dyn KeyProvider>,
    limits: CacheLimits,
    sealing: Mutex<HashMap<Purpose, HashMap<EncryptionContext, Sealing>>>,
    /// Keyed by the header of the values each data key sealed (it names the wrapped key).
    opening: Mutex<HashMap<Vec<u8>, Opening>>,
}

impl Envelopes {
    pub fn new(provider: Arc<dyn KeyProvider>, limits: CacheLimits) -> Self {
        Self { provider, limits, sealing: Mutex::new(HashMap::new()), opening: Mutex::new(HashMap::new()) }
    }

    /// Seals `plaintext` under a data key for `purpose` and `key_context`, bound to both
    /// contexts.
    pub async fn seal(
        &self,
        purpose: Purpose,
        key_context: &EncryptionContext,
        value_context: &EncryptionContext,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let size = u64::try_from(plaintext.len()).unwrap_or(u64::MAX);
        let key = match self.reserve(purpose, key_context, size) {
            Some(key) => key,
            None => {
                let (bytes, wrapped) = self.provider.generate(purpose, &key_context.clone().with("purpose", purpose.as_str())).await?;
                let key = Arc::new(DataKey::new(&bytes, wrapped)?);
                self.store_sealing(purpose, key_context, Arc::clone(&key), size);
                key
            }
        };
        Ok(key.seal_canonical(plaintext, &bound(purpose, key_context, value_context))?)
    }

    /// Opens what [`Envelopes::seal`] sealed with the same purpose and contexts.
    pub async fn open(
        &self,
        purpose: Purpose,
        key_context: &EncryptionContext,
        value_context: &EncryptionContext,
        sealed: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let parsed = Sealed::parse(sealed)?;
        let key = match self.cached_opening(parsed.header()) {
            Some(key) => key,
            None => {
                let wrapped = parsed.wrapped();
                let bytes = self.provider.unwrap(purpose, &wrapped, &key_context.clone().with("purpose", purpose.as_str())).await?;
                let key = Arc::new(DataKey::new(&bytes, wrapped)?);
                self.store_opening(Arc::clone(&key));
                key
            }
        };
        Ok(key.open_canonical(&parsed, &bound(purpose, key_context, value_context))?)
    }

    /// The master key new values of `purpose` are sealed under (see
    /// [`KeyProvider::current_master_key`]).
    pub async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
        self.provider.current_master_key(purpose).await
    }

    /// The master key `sealed` was sealed under.
    pub fn master_key_of(sealed: &[u8]) -> Result<String, EnvelopeError> {
        Ok(Sealed::parse(sealed)?.master_key().to_owned())
    }

    /// Stops sealing with the data keys made so far: the next value gets a fresh data key,
    /// wrapped under the current master key (after a rotation, before re-sealing).
    pub fn retire_sealing_keys(&self) {
        if let Ok(mut cache) = self.sealing.lock() {
            cache.clear();
        }
    }

    /// A cached sealing key still within its limits once this value counts, or none.
    fn reserve(&self, purpose: Purpose, key_context: &EncryptionContext, size: u64) -> Option<Arc<DataKey>> {
        let mut cache = self.sealing.lock().ok()?;
        let entry = cache.get_mut(&purpose)?.get_mut(key_context)?;
        let fits = entry.created.elapsed() < self.limits.max_age
            && entry.messages < self.limits.max_messages
            && entry.bytes.saturating_add(size) <= self.limits.max_bytes;
        if !fits {
            return None;
        }
        entry.messages += 1;
        entry.bytes = entry.bytes.saturating_add(size);
        Some(Arc::clone(&entry.key))
    }

    fn store_sealing(&self, purpose: Purpose, key_context: &EncryptionContext, key: Arc<DataKey>, size: u64) {
        if let Ok(mut cache) = self.sealing.lock() {
            cache
                .entry(purpose)
                .or_default()
                .insert(key_context.clone(), Sealing { key, created: Instant::now(), messages: 1, bytes: size });
        }
    }

    fn cached_opening(&self, header: &[u8]) -> Option<Arc<DataKey>> {
        let cache = self.opening.lock().ok()?;
        let (at, key) = cache.get(header)?;
        (at.elapsed() < self.limits.max_age).then(|| Arc::clone(key))
    }

    fn store_opening(&self, key: Arc<DataKey>) {
        if let Ok(mut cache) = self.opening.lock() {
            if cache.len() >= self.limits.max_entries {
                cache.clear();
            }
            cache.insert(key.header().to_vec(), (Instant::now(), key));
        }
    }
}

/// What a value is bound to, in canonical form: its purpose, its data key's context and
/// its own (a pair of the value's replaces the key's of the same name).
fn bound(purpose: Purpose, key_context: &EncryptionContext, value_context: &EncryptionContext) -> Vec<u8> {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(8);
    pairs.extend(key_context.pairs().filter(|(name, _)| *name != "purpose" && !value_context.has(name)));
    if !value_context.has("purpose") {
        pairs.push(("purpose", purpose.as_str()));
    }
    pairs.extend(value_context.pairs());
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    canonical_pairs(pairs.into_iter())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use zeroize::Zeroizing;

    use super::*;
    use crate::envelope::WrappedKey;
    use crate::keys::LocalKeys;

    /// A provider that counts its calls.
    #[derive(Debug)]
    struct Counting {
        inner: LocalKeys,
        generated: AtomicU64,
        unwrapped: AtomicU64,
    }

    #[async_trait::async_trait]
    impl KeyProvider for Counting {
        async fn generate(&self, purpose: Purpose, context: &EncryptionContext) -> Result<(Zeroizing<Vec<u8>>, WrappedKey), KeyError> {
            self.generated.fetch_add(1, Ordering::SeqCst);
            self.inner.generate(purpose, context).await
        }
        async fn unwrap(
            &self,
            purpose: Purpose,
            wrapped: &WrappedKey,
            context: &EncryptionContext,
        ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
            self.unwrapped.fetch_add(1, Ordering::SeqCst);
            self.inner.unwrap(purpose, wrapped, context).await
        }
        async fn current_master_key(&self, purpose: Purpose) -> Result<String, KeyError> {
            self.inner.current_master_key(purpose).await
        }
    }

    fn table() -> EncryptionContext {
        EncryptionContext::new([("table", "items")])
    }

    fn field(record: &str) -> EncryptionContext {
        EncryptionContext::new([("attribute", "email"), ("record", record)])
    }

    /// The merged form is the context the value would have as one: the same bytes.
    #[test]
    fn the_bound_context_is_the_merged_contexts_canonical_form() {
        let key = EncryptionContext::new([("table", "items"), ("purpose", "stale")]);
        let value = EncryptionContext::new([("record", "r-1"), ("table", "other")]);
        let merged = EncryptionContext::new([("purpose", "personal-data"), ("record", "r-1"), ("table", "other")]);
        assert_eq!(bound(Purpose::PersonalData, &key, &value), merged.canonical());
    }

    fn counting(dir: &std::path::Path) -> Arc<Counting> {
        Arc::new(Counting { inner: LocalKeys::new(dir), generated: AtomicU64::new(0), unwrapped: AtomicU64::new(0) })
    }

    #[tokio::test]
    async fn a_thousand_records_cost_one_data_key_and_one_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let provider = counting(dir.path());
        let limits = CacheLimits { max_messages: 1000, ..CacheLimits::default() };
        let writer = Envelopes::new(provider.clone(), limits);
        assert_eq!(provider.generated.load(Ordering::SeqCst), 0, "nothing asked before a value is sealed");
        let mut sealed = Vec::new();
        for n in 0..2000 {
            sealed.push(writer.seal(Purpose::PersonalData, &table(), &field(&format!("USER#{n}")), b"ada@example.com").await.unwrap());
        }
        assert_eq!(provider.generated.load(Ordering::SeqCst), 2, "one data key per 1,000 values");
        // Another instance reads them all: one unwrap per data key.
        let reader = Envelopes::new(provider.clone(), limits);
        for (n, value) in sealed.iter().enumerate() {
            let opened = reader.open(Purpose::PersonalData, &table(), &field(&format!("USER#{n}")), value).await.unwrap();
            assert_eq!(opened, b"ada@example.com");
        }
        assert_eq!(provider.unwrapped.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_data_key_is_retired_by_age_and_by_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let provider = counting(dir.path());
        let by_bytes = Envelopes::new(provider.clone(), CacheLimits { max_bytes: 100, ..CacheLimits::default() });
        for n in 0..4 {
            by_bytes.seal(Purpose::DatasetContent, &table(), &field(&n.to_string()), &[0u8; 40]).await.unwrap();
        }
        // 40 + 40 fit in 100; the third needs a new key, the fourth shares it.
        assert_eq!(provider.generated.load(Ordering::SeqCst), 2);
        let by_age = Envelopes::new(provider.clone(), CacheLimits { max_age: Duration::ZERO, ..CacheLimits::default() });
        for n in 0..3 {
            by_age.seal(Purpose::DatasetContent, &table(), &field(&n.to_string()), b"x").await.unwrap();
        }
        assert_eq!(provider.generated.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_value_moved_to_another_record_table_or_purpose_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let envelopes = Envelopes::new(Arc::new(LocalKeys::new(dir.path())), CacheLimits::default());
        let sealed = envelopes.seal(Purpose::PersonalData, &table(), &field("USER#1"), b"ada@example.com").await.unwrap();
        let open = |purpose, key_context: EncryptionContext, value_context: EncryptionContext| {
            let sealed = sealed.clone();
            let envelopes = &envelopes;
            async move { envelopes.open(purpose, &key_context, &value_context, &sealed).await }
        };
        assert!(matches!(open(Purpose::PersonalData, table(), field("USER#2")).await, Err(SealError::Envelope(EnvelopeError::Open))));
        let audit = EncryptionContext::new([("table", "audit")]);
        // Refused by the cached data key's tag, or by the provider when not cached.
        let moved = open(Purpose::PersonalData, audit, field("USER#1")).await;
        assert!(matches!(moved, Err(SealError::Envelope(EnvelopeError::Open) | SealError::Key(KeyError::Refused))), "{moved:?}");
        assert!(open(Purpose::DatasetContent, table(), field("USER#1")).await.is_err());
        assert_eq!(open(Purpose::PersonalData, table(), field("USER#1")).await.unwrap(), b"ada@example.com");
    }
}
