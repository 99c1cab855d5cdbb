//! The item store port: keyed JSON items with versions, conditional writes, and atomic
//! commits that always carry the request's audit record (SR-18).
//!
//! Adapters implement only these primitives; keys and item shapes are the domain's
//! business (see `crate::domain`).

pub mod attr;
pub mod dynamodb;
pub mod sqlite;

use serde_json::Value;

use crate::audit::AuditRecord;

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
}

/// Items and the audit log.
#[async_trait::async_trait]
pub trait ItemStore: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;

    /// Items for the keys that exist, in no particular order.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// Items of partition `pk` whose sort key starts with `prefix` and is greater than `after`.
    async fn query(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Item>, StoreError>;

    /// Applies every write and appends `audit`, all or nothing.
    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError>;

    /// Appends an audit record on its own (reads, denials, failures).
    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError>;

    /// Audit records of one UTC day (`YYYY-MM-DD`), oldest first.
    async fn audit_records(&self, day: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError>;
}

/// Cuts a `limit + 1` fetch down to `limit`, with a continuation when there was more.
fn paginate<T>(mut items: Vec<T>, limit: usize, sort_key: impl Fn(&T) -> String) -> Page<T> {
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next = if has_more { items.last().map(sort_key) } else { None };
    Page { items, next }
}

fn check_size(writes: &[WriteOp]) -> Result<(), StoreError> {
    if writes.len() > MAX_OPS_PER_COMMIT {
        return Err(StoreError::TooManyOperations(writes.len()));
    }
    Ok(())
}
