//! An item store that makes races happen: chosen operations wait at a barrier until a set
//! number of them are in flight, then all go ahead. A concurrency test built on it can
//! show that its requests really overlapped (every racer read before any wrote) instead
//! of hoping the scheduler interleaved them.

use std::sync::atomic::{AtomicUsize, Ordering};

use shared::audit::AuditRecord;
use shared::store::{Item, ItemStore, Key, Page, StoreError, WriteOp};
use store_embedded::SqliteStore;
use tokio::sync::Barrier;

/// Where the racers wait for each other.
#[derive(Debug)]
pub enum Gate {
    /// Reads of this key that find nothing (everyone sees it missing, then creates it).
    MissingRead(Key),
    /// Commits that write this key (everyone has read the same version, then writes).
    CommitOf(Key),
}

#[derive(Debug)]
pub struct RacingStore {
    pub inner: std::sync::Arc<SqliteStore>,
    gate: Gate,
    barrier: Barrier,
    /// Commits that went to the store, and those refused for a failed condition.
    pub commits: AtomicUsize,
    pub lost: AtomicUsize,
}

impl RacingStore {
    pub fn new(inner: SqliteStore, gate: Gate, racers: usize) -> Self {
        Self {
            inner: std::sync::Arc::new(inner),
            gate,
            barrier: Barrier::new(racers),
            commits: AtomicUsize::new(0),
            lost: AtomicUsize::new(0),
        }
    }

    pub fn commits(&self) -> (usize, usize) {
        (self.commits.load(Ordering::SeqCst), self.lost.load(Ordering::SeqCst))
    }
}

#[async_trait::async_trait]
impl ItemStore for RacingStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let found = self.inner.get(key).await;
        if matches!(&self.gate, Gate::MissingRead(gated) if gated == key) && matches!(found, Ok(None)) {
            self.barrier.wait().await;
        }
        found
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        self.inner.query_keys(pk, prefix, after, limit).await
    }
    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<shared::store::ScanPage, StoreError> {
        self.inner.scan_keys(after, limit).await
    }
    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        let writes_gated = |write: &WriteOp| match (&self.gate, write) {
            (Gate::CommitOf(gated), WriteOp::Put { item, .. }) => &item.key == gated,
            (Gate::CommitOf(gated), WriteOp::Delete { key, .. }) => key == gated,
            (Gate::MissingRead(_), _) => false,
        };
        if writes.iter().any(writes_gated) {
            self.barrier.wait().await;
        }
        self.commits.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.commit(writes, audit).await;
        if result == Err(StoreError::ConditionFailed) {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        result
    }
    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        self.inner.increment(key, expires_at).await
    }
    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        self.inner.counter(key, now).await
    }
    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        self.inner.append_audit(audit).await
    }
    async fn audit_newest_first(
        &self,
        source: shared::store::audit::AuditSource<'_>,
        range: &shared::store::audit::PositionRange,
        limit: usize,
    ) -> Result<shared::store::Page<shared::audit::AuditRecord>, shared::store::StoreError> {
        self.inner.audit_newest_first(source, range, limit).await
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        self.inner.erase_audit_identity(stored, erased).await
    }

    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, shared::store::StoreError> {
        self.inner.purge_expired_audit(now, limit).await
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.audit_partition(pk, after, limit).await
    }
}
