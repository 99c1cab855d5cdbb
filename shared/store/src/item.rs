//! The item store port: keyed JSON items with versions, conditional writes, and atomic
//! commits that always carry the request's audit record (SR-18).
//!
//! Adapters implement only these primitives; keys and item shapes are the API's business
//! (its `keys` module).

use serde_json::Value;

use domain::audit::AuditRecord;

/// DynamoDB's transaction limit, enforced for every adapter so behaviour matches.
pub const MAX_OPS_PER_COMMIT: usize = 99;

/// Partition and sort key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// A stored item: its key, a version for optimistic concurrency, and a JSON object body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: Key,
    pub version: u64,
    pub body: Value,
}

/// A stored item with its body as JSON text, for readers that parse it straight into their
/// own type (lists: no intermediate `Value` tree per item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonItem {
    pub key: Key,
    pub version: u64,
    pub json: String,
}

/// What must hold for a write to go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// The key must not exist (create).
    Absent,
    /// The item must exist at exactly this version (update, delete).
    Version(u64),
}

/// One write inside a commit.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Put { item: Item, condition: Condition },
    Delete { key: Key, condition: Condition },
}

/// One page of a query, in ascending sort-key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Sort key to continue after, when there is more.
    pub next: Option<String>,
}

/// One page of [`ItemStore::scan_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    pub keys: Vec<Key>,
    /// Where to continue, when there may be more.
    pub next: Option<Key>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// A write's condition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    #[error("too many writes in one commit: {0}")]
    TooManyOperations(usize),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A write of a kind of record nobody declared (how its fields are kept at rest).
    #[error("undeclared record type: {0}")]
    Undeclared(String),
    /// A rewrite of an audit record that is not an erasure of its identity.
    #[error(transparent)]
    NotAnErasure(domain::audit::NotAnErasure),
}

/// Items and the audit log.
#[async_trait::async_trait]
pub trait ItemStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Items for the keys that exist, in no particular order.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// The same, bodies as JSON text. Adapters that store text return it as it is.
    async fn get_many_json(&self, keys: &[Key]) -> Result<Vec<JsonItem>, StoreError> {
        Ok(self
            .get_many(keys)
            .await?
            .into_iter()
            .map(|item| JsonItem { json: item.body.to_string(), key: item.key, version: item.version })
            .collect())
    }

    /// Keys of the items of partition `pk` whose sort key starts with `prefix` and is
    /// greater than `after`. Keys only: a list's entries point at the items it shows,
    /// which are then read in one batch.
    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError>;

    /// Keys of every item (never counters or audit records), `limit` or fewer at a time,
    /// in the adapter's own order, continuing after `after`, the `next` of the page before:
    /// for maintenance jobs that visit every record (re-sealing under a new key). Not for
    /// requests: on DynamoDB it is a table scan.
    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<ScanPage, StoreError>;

    /// Applies every write and appends `audit`, all or nothing.
    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError>;

    /// Adds one to the counter at `key` and returns its new value, atomically: of any
    /// number of concurrent increments, from any number of processes, each sees its own
    /// value. The counter starts at 1; the store may drop it once `expires_at` (Unix
    /// seconds) has passed. Counters live under keys of their own ([`crate::rate`]'s
    /// `RATE#` partitions), read only with [`ItemStore::counter`], and carry no audit
    /// record (the limits they count write their own).
    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError>;

    /// The counter at `key`, 0 when it doesn't exist or expired before `now` (Unix seconds).
    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError>;

    /// Appends an audit record on its own (reads, denials, failures).
    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError>;

    /// Audit records of one audit partition (one shard of a UTC day), oldest first.
    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError>;

    /// Audit records of one day partition of the audit table, or of one partition of one
    /// of its indexes, newest first, whose position ([`crate::audit::sort_key`]) lies in
    /// `range`: `limit` or fewer, and in `next` the position of the last when there are
    /// more. What searches read ([`crate::audit::search`]).
    async fn audit_newest_first(
        &self,
        source: crate::audit::AuditSource<'_>,
        range: &crate::audit::PositionRange,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError>;

    /// Removes audit records whose expiry ([`AuditRecord::expires_at`]) is before `now`
    /// (Unix seconds), at most `limit`, and says how many went: the embedded store's
    /// stand-in for DynamoDB's TTL, which does this by itself (that adapter removes none).
    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, StoreError>;

    /// Replaces a stored audit record by `erased`, the same record with its identity
    /// pseudonymised (GDPR erasure; [`domain::audit::check_erasure`] says what may differ),
    /// and moves it in the indexes accordingly; only if it is still stored as `stored`
    /// ([`StoreError::ConditionFailed`] otherwise, [`StoreError::NotAnErasure`] when
    /// `erased` changes more). The only change the audit log takes besides expiry.
    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError>;

    /// Audit records of one UTC day (`YYYY-MM-DD`), oldest first, read from every shard of
    /// the day (see [`crate::audit::day_partitions`]).
    async fn audit_records(&self, day: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        let shards = crate::audit::day_partitions(day);
        let pages = futures::future::try_join_all(shards.iter().map(|pk| self.audit_partition(pk, after, limit))).await?;
        Ok(merge_shards(pages, limit, crate::audit::sort_key))
    }
}

/// Every sort key of partition `pk`, in order, read a page at a time: for the small
/// partitions that list a thing's versions (branch keys, audit tag keys).
pub async fn all_sort_keys(store: &dyn ItemStore, pk: &str) -> Result<Vec<String>, StoreError> {
    let mut sort_keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.query_keys(pk, "", after.as_deref(), 100).await?;
        sort_keys.extend(page.items.into_iter().map(|key| key.sk));
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(sort_keys),
        }
    }
}

/// Keys of a logical partition spread over `partitions` (its shards), in sort-key order:
/// each shard is read from `after` on, concurrently, and the pages merged.
///
/// INVARIANT: sort keys are unique across the shards (each item lives in exactly one), so
/// the last sort key served is a position valid in every shard.
pub async fn query_shards(
    store: &dyn ItemStore,
    partitions: &[String],
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page<Key>, StoreError> {
    let pages = futures::future::try_join_all(partitions.iter().map(|pk| store.query_keys(pk, prefix, after, limit))).await?;
    Ok(merge_shards(pages, limit, |key| key.sk.clone()))
}

/// Merges per-shard pages into the first `limit` items overall; there is more when any
/// shard said so or the shards together returned more than `limit`.
fn merge_shards<T>(pages: Vec<Page<T>>, limit: usize, sort_key: impl Fn(&T) -> String) -> Page<T> {
    let shard_has_more = pages.iter().any(|p| p.next.is_some());
    let mut items: Vec<(String, T)> = pages.into_iter().flat_map(|p| p.items).map(|item| (sort_key(&item), item)).collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let has_more = shard_has_more || items.len() > limit;
    items.truncate(limit);
    let next = if has_more { items.last().map(|(key, _)| key.clone()) } else { None };
    Page { items: items.into_iter().map(|(_, item)| item).collect(), next }
}

/// The shard, from 0 to `shards - 1`, that `id` writes to: a stable hash (FNV-1a), the same
/// in every process and version, so writers and readers agree.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3));
    u32::try_from(hash % u64::from(shards.max(1))).unwrap_or(0)
}

/// Cuts a `limit + 1` fetch down to `limit`, with a continuation when there was more.
pub fn paginate<T>(mut items: Vec<T>, limit: usize, sort_key: impl Fn(&T) -> String) -> Page<T> {
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next = if has_more { items.last().map(sort_key) } else { None };
    Page { items, next }
}

pub fn check_size(writes: &[WriteOp]) -> Result<(), StoreError> {
    if writes.len() > MAX_OPS_PER_COMMIT {
        return Err(StoreError::TooManyOperations(writes.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread_evenly() {
        // Literal values: a change of hash would move every stored item to another shard.
        assert_eq!(shard_of("", 16), 5);
        assert_eq!(shard_of("0193a0b0-0000-7000-8000-000000000000", 16), shard_of("0193a0b0-0000-7000-8000-000000000000", 16));
        let mut counts = [0usize; 16];
        for _ in 0..16_000 {
            counts[shard_of(&uuid::Uuid::now_v7().to_string(), 16) as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..=1_200).contains(c)), "{counts:?}");
    }

    #[test]
    fn merged_shards_come_out_in_order_and_say_when_there_is_more() {
        let page = |keys: &[&str], more: bool| Page { items: keys.iter().map(|k| (*k).to_owned()).collect(), next: more.then(String::new) };
        let merged = merge_shards(vec![page(&["a", "d"], false), page(&["b", "c"], false)], 3, Clone::clone);
        assert_eq!((merged.items, merged.next.as_deref()), (vec!["a".to_owned(), "b".into(), "c".into()], Some("c")));
        let all = merge_shards(vec![page(&["a"], false), page(&["b"], false)], 3, Clone::clone);
        assert_eq!((all.items.len(), all.next), (2, None));
        let cut = merge_shards(vec![page(&["a"], true), page(&["b"], false)], 3, Clone::clone);
        assert_eq!(cut.next.as_deref(), Some("b"), "a shard that was cut short means more");
    }
}
