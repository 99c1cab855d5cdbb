//! The embedded item store: one SQLite file.
//!
//! Chosen over `redb` because the file can be inspected with the `sqlite3` shell, SQL
//! triggers make the audit table append-only at the storage layer, and one SQLite
//! transaction gives the same all-or-nothing commit as `TransactWriteItems`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use domain::audit::AuditRecord;
use store::audit::{AuditIndex, AuditSource, PositionRange, partition, sort_key};
use store::{Condition, Item, ItemStore, JsonItem, Key, Page, ScanPage, StoreError, WriteOp, check_size, paginate};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
  pk TEXT NOT NULL, sk TEXT NOT NULL, n INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires_at);
-- The `i_*` columns are the record's keys in the audit indexes (`store::audit::AuditIndex`),
-- the same values the DynamoDB table's index attributes hold.
CREATE TABLE IF NOT EXISTS audit (
  pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL,
  i_actor TEXT, i_subject TEXT, i_resource TEXT, i_ip TEXT, i_action TEXT, expires_at INTEGER,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_by_expiry ON audit (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_actor ON audit (i_actor, sk) WHERE i_actor IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit (i_subject, sk) WHERE i_subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_resource ON audit (i_resource, sk) WHERE i_resource IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_ip ON audit (i_ip, sk) WHERE i_ip IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_action ON audit (i_action, sk) WHERE i_action IS NOT NULL;
-- Records change only by erasure (GDPR): the actor, subject, source IP and user agent each
-- kept or replaced by a pseudonym (`~` and 22 base64url characters), the resource id kept
-- or with the old subject replaced by the new, the index keys following the body, and
-- everything else as it was (`domain::audit::check_erasure` is the same rule, checked first).
DROP TRIGGER IF EXISTS audit_no_update;
CREATE TRIGGER IF NOT EXISTS audit_only_erasure BEFORE UPDATE ON audit
  WHEN NOT (
    NEW.pk = OLD.pk AND NEW.sk = OLD.sk AND NEW.expires_at IS OLD.expires_at AND NEW.i_action IS OLD.i_action
    AND json_remove(NEW.body, '$.actor', '$.subject', '$.source_ip', '$.user_agent', '$.resource_id') = json_remove(OLD.body, '$.actor', '$.subject', '$.source_ip', '$.user_agent', '$.resource_id')
    AND (json_extract(NEW.body, '$.actor') IS json_extract(OLD.body, '$.actor') OR json_extract(NEW.body, '$.actor') GLOB '~[A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-]')
    AND (json_extract(NEW.body, '$.subject') IS json_extract(OLD.body, '$.subject') OR json_extract(NEW.body, '$.subject') GLOB '~[A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-]')
    AND (json_extract(NEW.body, '$.source_ip') IS json_extract(OLD.body, '$.source_ip') OR json_extract(NEW.body, '$.source_ip') GLOB '~[A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-]')
    AND (json_extract(NEW.body, '$.user_agent') IS json_extract(OLD.body, '$.user_agent') OR json_extract(NEW.body, '$.user_agent') GLOB '~[A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-][A-Za-z0-9_-]')
    AND (json_extract(NEW.body, '$.resource_id') IS json_extract(OLD.body, '$.resource_id')
         OR json_extract(NEW.body, '$.resource_id') = replace(json_extract(OLD.body, '$.resource_id'),
              json_extract(OLD.body, '$.subject'), json_extract(NEW.body, '$.subject')))
    AND NEW.i_actor IS json_extract(NEW.body, '$.actor') || '#' || substr(NEW.pk, -2)
    AND NEW.i_subject IS json_extract(NEW.body, '$.subject') || '#' || substr(NEW.pk, -2)
    AND NEW.i_resource IS json_extract(NEW.body, '$.resource_id') || '#' || substr(NEW.pk, -2)
    AND NEW.i_ip IS json_extract(NEW.body, '$.source_ip') || '#' || substr(NEW.pk, -2)
  )
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only but for erasure'); END;
-- A record goes only once its retention is over (the purge; DynamoDB's TTL in AWS).
DROP TRIGGER IF EXISTS audit_no_delete;
CREATE TRIGGER IF NOT EXISTS audit_kept_until_expiry BEFORE DELETE ON audit
  WHEN OLD.expires_at IS NULL OR OLD.expires_at >= CAST(strftime('%s', 'now') AS INTEGER)
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only until they expire'); END;
-- `INSERT OR REPLACE` deletes the conflicting row without firing delete triggers (unless
-- recursive triggers are on, a per-connection setting); refuse any insert over an
-- existing key before conflict resolution runs, whatever the connection.
CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit
  WHEN EXISTS (SELECT 1 FROM audit WHERE pk = NEW.pk AND sk = NEW.sk)
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
";

/// Item store in a SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(unavailable)?;
        Self::init(conn)
    }

    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(unavailable)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(unavailable)?;
        add_index_columns(&conn)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Unavailable("store lock poisoned".into()))
    }
}

/// A file made before the audit indexes: their columns are added and filled in from each
/// record (the append-only triggers are dropped for that and made again by [`SCHEMA`]).
fn add_index_columns(conn: &Connection) -> Result<(), StoreError> {
    let has_audit: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'audit'", [], |row| row.get::<_, i64>(0))
        .map_err(unavailable)?
        > 0;
    let has_column = |name: &str| -> Result<bool, StoreError> {
        conn.query_row("SELECT count(*) FROM pragma_table_info('audit') WHERE name = ?1", [name], |row| row.get::<_, i64>(0))
            .map(|n| n > 0)
            .map_err(unavailable)
    };
    if has_audit && !has_column("expires_at")? {
        conn.execute_batch("ALTER TABLE audit ADD COLUMN expires_at INTEGER").map_err(unavailable)?;
    }
    if !has_audit || has_column("i_actor")? {
        return Ok(());
    }
    let mut tx = conn.unchecked_transaction().map_err(unavailable)?;
    tx.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update;
         ALTER TABLE audit ADD COLUMN i_actor TEXT; ALTER TABLE audit ADD COLUMN i_subject TEXT;
         ALTER TABLE audit ADD COLUMN i_resource TEXT; ALTER TABLE audit ADD COLUMN i_ip TEXT;
         ALTER TABLE audit ADD COLUMN i_action TEXT;",
    )
    .map_err(unavailable)?;
    let rows: Vec<(String, String, String)> = {
        let mut statement = tx.prepare("SELECT pk, sk, body FROM audit").map_err(unavailable)?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).map_err(unavailable)?;
        rows.collect::<Result<_, _>>().map_err(unavailable)?
    };
    for (pk, sk, body) in rows {
        let record: AuditRecord = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let keys = index_keys(&record);
        tx.execute(
            "UPDATE audit SET i_actor = ?3, i_subject = ?4, i_resource = ?5, i_ip = ?6, i_action = ?7 WHERE pk = ?1 AND sk = ?2",
            params![pk, sk, keys[0], keys[1], keys[2], keys[3], keys[4]],
        )
        .map_err(unavailable)?;
    }
    tx.set_drop_behavior(rusqlite::DropBehavior::Commit);
    tx.commit().map_err(unavailable)
}

/// The record's key in each index, in [`AuditIndex::ALL`]'s order (the columns' order).
fn index_keys(record: &AuditRecord) -> [Option<String>; 5] {
    AuditIndex::ALL.map(|index| index.key_of(record))
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn parse_body(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

// Every statement below is prepared once per connection and reused (`prepare_cached`):
// parsing SQL on every call cost more than running it. A statement SQLite planned with
// a bound value in mind is prepared again each time it is bound, which undoes that:
// `pk = ?1` with an ORDER BY is one such (`pk IN (?1)` gives the same plan without it),
// and so is a bound LIMIT, so pages are cut by the reader instead. The test
// `page_reads_are_prepared_once_whatever_the_page` holds these to it.

/// Sort keys of a partition from the start of a prefix range: pk, prefix, prefix end.
const KEYS_FROM_START: &str = "SELECT sk FROM items WHERE pk IN (?1) AND sk >= ?2 AND sk < ?3 ORDER BY sk";
/// The same, after a sort key: pk, after, prefix end.
const KEYS_AFTER: &str = "SELECT sk FROM items WHERE pk IN (?1) AND sk > ?2 AND sk < ?3 ORDER BY sk";
/// One page of an audit partition after a sort key: pk, after.
const AUDIT_PAGE: &str = "SELECT body FROM audit WHERE pk IN (?1) AND sk > ?2 ORDER BY sk";

/// Newest first, a range of positions of one day partition or index partition: the key,
/// oldest, newest, before (exclusive).
fn newest_first_sql(source: AuditSource<'_>) -> String {
    let column = match source {
        AuditSource::Day(_) => "pk",
        AuditSource::Index(index, _) => index.attribute(),
    };
    format!("SELECT body FROM audit WHERE {column} IN (?1) AND sk >= ?2 AND sk <= ?3 AND sk < ?4 ORDER BY sk DESC")
}

fn current_version(conn: &Connection, key: &Key) -> Result<Option<u64>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT version FROM items WHERE pk = ?1 AND sk = ?2").map_err(unavailable)?;
    let version: Option<i64> = statement.query_row(params![key.pk, key.sk], |row| row.get(0)).optional().map_err(unavailable)?;
    Ok(version.and_then(|v| u64::try_from(v).ok()))
}

fn check(condition: Condition, current: Option<u64>) -> Result<(), StoreError> {
    let holds = match condition {
        Condition::Always => true,
        Condition::Absent => current.is_none(),
        Condition::Version(expected) => current == Some(expected),
    };
    if holds { Ok(()) } else { Err(StoreError::ConditionFailed) }
}

fn insert_audit(conn: &Connection, audit: &AuditRecord) -> Result<(), StoreError> {
    let body = serde_json::to_string(audit).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut statement = conn
        .prepare_cached(
            "INSERT INTO audit (pk, sk, body, i_actor, i_subject, i_resource, i_ip, i_action, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(unavailable)?;
    let [actor, subject, resource, ip, action] = index_keys(audit);
    match statement.execute(params![partition(audit), sort_key(audit), body, actor, subject, resource, ip, action, audit.expires_at]) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => Err(StoreError::ConditionFailed),
        Err(e) => Err(unavailable(e)),
    }
}

fn read_json_item(conn: &Connection, key: &Key) -> Result<Option<JsonItem>, StoreError> {
    let mut statement = conn.prepare_cached("SELECT version, body FROM items WHERE pk = ?1 AND sk = ?2").map_err(unavailable)?;
    let row: Option<(i64, String)> =
        statement.query_row(params![key.pk, key.sk], |row| Ok((row.get(0)?, row.get(1)?))).optional().map_err(unavailable)?;
    row.map(|(version, json)| {
        let version = u64::try_from(version).map_err(|_| StoreError::Corrupt("negative version".into()))?;
        Ok(JsonItem { key: key.clone(), version, json })
    })
    .transpose()
}

fn read_item(conn: &Connection, key: &Key) -> Result<Option<Item>, StoreError> {
    read_json_item(conn, key)?.map(|item| Ok(Item { body: parse_body(&item.json)?, key: item.key, version: item.version })).transpose()
}

/// Reads `keys` with `read` in one read transaction: one lock, one WAL snapshot taken
/// once, and one prepared statement for the whole batch.
fn read_batch<T>(
    conn: &Connection,
    keys: &[Key],
    read: fn(&Connection, &Key) -> Result<Option<T>, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(unavailable)?;
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        found.extend(read(&snapshot, key)?);
    }
    snapshot.commit().map_err(unavailable)?;
    Ok(found)
}

#[async_trait::async_trait]
impl ItemStore for SqliteStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        read_item(&*self.conn()?, key)
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        read_batch(&*self.conn()?, keys, read_item)
    }

    async fn get_many_json(&self, keys: &[Key]) -> Result<Vec<JsonItem>, StoreError> {
        read_batch(&*self.conn()?, keys, read_json_item)
    }

    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        let conn = self.conn()?;
        // `>= prefix` and `< prefix + U+10FFFF` bound the prefix without LIKE's wildcards.
        let upper = format!("{prefix}\u{10FFFF}");
        let (sql, lower) = match after.filter(|a| *a >= prefix) {
            Some(after) => (KEYS_AFTER, after),
            None => (KEYS_FROM_START, prefix),
        };
        let mut statement = conn.prepare_cached(sql).map_err(unavailable)?;
        let rows = statement.query_map(params![pk, lower, upper], |row| row.get::<_, String>(0)).map_err(unavailable)?;
        let mut keys = Vec::new();
        // Rows come in key order straight from the primary key, so taking `limit + 1`
        // steps no further than a LIMIT clause would.
        for sk in rows.take(limit.saturating_add(1)) {
            keys.push(Key { pk: pk.to_owned(), sk: sk.map_err(unavailable)? });
        }
        Ok(paginate(keys, limit, |key| key.sk.clone()))
    }

    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<ScanPage, StoreError> {
        let conn = self.conn()?;
        let (pk, sk) = after.map_or(("", ""), |key| (key.pk.as_str(), key.sk.as_str()));
        let mut statement =
            conn.prepare_cached("SELECT pk, sk FROM items WHERE (pk, sk) > (?1, ?2) ORDER BY pk, sk LIMIT ?3").map_err(unavailable)?;
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows =
            statement.query_map(params![pk, sk, limit_sql], |row| Ok(Key { pk: row.get(0)?, sk: row.get(1)? })).map_err(unavailable)?;
        let keys = rows.collect::<Result<Vec<Key>, _>>().map_err(unavailable)?;
        let next = if keys.len() == limit { keys.last().cloned() } else { None };
        Ok(ScanPage { keys, next })
    }

    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        check_size(&writes)?;
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
        for write in &writes {
            match write {
                WriteOp::Put { item, condition } => {
                    check(*condition, current_version(&tx, &item.key)?)?;
                    let version = i64::try_from(item.version).map_err(|_| StoreError::Corrupt("version too large".into()))?;
                    tx.prepare_cached(
                        "INSERT INTO items (pk, sk, version, body) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (pk, sk) DO UPDATE SET version = excluded.version, body = excluded.body",
                    )
                    .and_then(|mut statement| statement.execute(params![item.key.pk, item.key.sk, version, item.body.to_string()]))
                    .map_err(unavailable)?;
                }
                WriteOp::Delete { key, condition } => {
                    check(*condition, current_version(&tx, key)?)?;
                    tx.prepare_cached("DELETE FROM items WHERE pk = ?1 AND sk = ?2")
                        .and_then(|mut statement| statement.execute(params![key.pk, key.sk]))
                        .map_err(unavailable)?;
                }
            }
        }
        insert_audit(&tx, audit)?;
        // Dropping `tx` on any early return above rolls everything back.
        tx.commit().map_err(unavailable)
    }

    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        // Expired counters go as new ones come: the index makes it a short range delete.
        conn.prepare_cached("DELETE FROM counters WHERE expires_at < ?1")
            .and_then(|mut statement| statement.execute(params![now]))
            .map_err(unavailable)?;
        // One statement: the upsert and the read of its result are one atomic step, for
        // every connection to the file.
        let count: i64 = conn
            .prepare_cached(
                "INSERT INTO counters (pk, sk, n, expires_at) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (pk, sk) DO UPDATE SET n = n + 1 RETURNING n",
            )
            .and_then(|mut statement| statement.query_row(params![key.pk, key.sk, expires_at], |row| row.get(0)))
            .map_err(unavailable)?;
        u64::try_from(count).map_err(|_| StoreError::Corrupt("negative counter".into()))
    }

    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let count: Option<i64> = conn
            .prepare_cached("SELECT n FROM counters WHERE pk = ?1 AND sk = ?2 AND expires_at >= ?3")
            .and_then(|mut statement| statement.query_row(params![key.pk, key.sk, now], |row| row.get(0)).optional())
            .map_err(unavailable)?;
        u64::try_from(count.unwrap_or(0)).map_err(|_| StoreError::Corrupt("negative counter".into()))
    }

    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        // One statement is its own transaction.
        insert_audit(&*self.conn()?, audit)
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        domain::audit::check_erasure(stored, erased).map_err(StoreError::NotAnErasure)?;
        let conn = self.conn()?;
        let tx = conn.unchecked_transaction().map_err(unavailable)?;
        let (pk, sk) = (partition(stored), sort_key(stored));
        let body: Option<String> = tx
            .query_row("SELECT body FROM audit WHERE pk = ?1 AND sk = ?2", params![pk, sk], |row| row.get(0))
            .optional()
            .map_err(unavailable)?;
        let current =
            body.map(|body| serde_json::from_str::<AuditRecord>(&body)).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if current.as_ref() != Some(stored) {
            return Err(StoreError::ConditionFailed);
        }
        let body = serde_json::to_string(erased).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let [actor, subject, resource, ip, _] = index_keys(erased);
        tx.execute(
            "UPDATE audit SET body = ?3, i_actor = ?4, i_subject = ?5, i_resource = ?6, i_ip = ?7 WHERE pk = ?1 AND sk = ?2",
            params![pk, sk, body, actor, subject, resource, ip],
        )
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)
    }

    async fn audit_newest_first(
        &self,
        source: AuditSource<'_>,
        range: &PositionRange,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        let key = match source {
            AuditSource::Day(pk) | AuditSource::Index(_, pk) => pk,
        };
        let mut statement = conn.prepare_cached(&newest_first_sql(source)).map_err(unavailable)?;
        let before = range.before.as_deref().unwrap_or("\u{10FFFF}");
        let rows =
            statement.query_map(params![key, range.oldest, range.newest, before], |row| row.get::<_, String>(0)).map_err(unavailable)?;
        let mut records = Vec::new();
        for row in rows.take(limit.saturating_add(1)) {
            let body = row.map_err(unavailable)?;
            records.push(serde_json::from_str::<AuditRecord>(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        Ok(paginate(records, limit, sort_key))
    }

    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, StoreError> {
        let conn = self.conn()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // The trigger checks the same against the clock: a record is never removed early.
        let removed = conn
            .prepare_cached(
                "DELETE FROM audit WHERE (pk, sk) IN
                   (SELECT pk, sk FROM audit WHERE expires_at IS NOT NULL AND expires_at < ?1 ORDER BY expires_at LIMIT ?2)",
            )
            .and_then(|mut statement| statement.execute(params![now, limit]))
            .map_err(unavailable)?;
        Ok(removed)
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        let mut statement = conn.prepare_cached(AUDIT_PAGE).map_err(unavailable)?;
        // Every sort key is greater than '': a first page needs no statement of its own.
        let rows = statement.query_map(params![pk, after.unwrap_or("")], |row| row.get::<_, String>(0)).map_err(unavailable)?;
        let mut records = Vec::new();
        for row in rows.take(limit.saturating_add(1)) {
            let body = row.map_err(unavailable)?;
            records.push(serde_json::from_str::<AuditRecord>(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        Ok(paginate(records, limit, sort_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    #[test]
    fn page_reads_are_prepared_once_whatever_the_page() {
        let store = SqliteStore::in_memory().unwrap();
        {
            let conn = store.conn().unwrap();
            let record = AuditRecord {
                id: "0193a0b0-0000-7000-8000-000000000000".into(),
                time: "2026-12-01T00:00:00.000Z".into(),
                request_id: "r".into(),
                actor: None,
                actor_role: None,
                action: "test".into(),
                resource_type: "test".into(),
                resource_id: None,
                decision: domain::audit::AuditDecision::NotEvaluated,
                policies: vec![],
                outcome: domain::audit::AuditOutcome::Success,
                status: 200,
                reason: None,
                detail: None,
                source_ip: None,
                user_agent: None,
                subject: None,
                expires_at: None,
                tag: None,
            };
            let record = serde_json::to_string(&record).unwrap();
            for i in 0..5 {
                conn.execute("INSERT INTO items (pk, sk, version, body) VALUES ('p', ?1, 1, '{}')", [format!("E#{i}")]).unwrap();
                conn.execute("INSERT INTO audit (pk, sk, body) VALUES ('a', ?1, ?2)", [format!("t{i}"), record.clone()]).unwrap();
            }
        }
        use futures::executor::block_on as run;
        for (after, limit, expected) in [(None, 2, 2), (Some("E#1"), 1, 1), (None, 4, 4), (Some("E#2"), 10, 2)] {
            assert_eq!(run(store.query_keys("p", "E#", after, limit)).unwrap().items.len(), expected);
        }
        for (after, limit, expected) in [(None, 2, 2), (Some("t1"), 1, 1), (None, 10, 5)] {
            assert_eq!(run(store.audit_partition("a", after, limit)).unwrap().items.len(), expected);
        }
        let conn = store.conn().unwrap();
        for sql in [KEYS_FROM_START, KEYS_AFTER, AUDIT_PAGE] {
            // `prepare_cached` hands back the statement the reads above used.
            let statement = conn.prepare_cached(sql).unwrap();
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
            // And the plan is still a primary-key range read, in key order without a sort.
            let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let steps: Vec<String> = explain
                .query_map(rusqlite::params_from_iter(["p", "a", "b"].iter().take(statement.parameter_count())), |row| row.get(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(
                steps.len() == 1 && steps[0].starts_with("SEARCH") && steps[0].contains("USING PRIMARY KEY (pk=? AND sk>"),
                "{sql}: {steps:?}"
            );
        }
    }

    /// The trigger holds whoever writes, the store's own checks passed by.
    #[test]
    fn an_update_is_only_an_erasure_of_identity_even_past_the_stores_checks() {
        let store = SqliteStore::in_memory().unwrap();
        let record = AuditRecord {
            id: "0193a0b0-0000-7000-8000-000000000000".into(),
            time: "2026-12-01T00:00:00.000Z".into(),
            request_id: "r".into(),
            actor: Some("ada".into()),
            actor_role: None,
            action: "share-dataset".into(),
            resource_type: "dataset-share".into(),
            resource_id: Some("d1:bob".into()),
            decision: domain::audit::AuditDecision::Allow,
            policies: vec![],
            outcome: domain::audit::AuditOutcome::Success,
            status: 204,
            reason: None,
            detail: None,
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            subject: Some("bob".into()),
            expires_at: Some(99_999_999_999),
            tag: Some("1.abc".into()),
        };
        let conn = store.conn().unwrap();
        insert_audit(&conn, &record).unwrap();
        let pseudonym = "~AAAAAAAAAAAAAAAAAAAAAA";
        let update = |edited: &AuditRecord, keys: [Option<String>; 5]| {
            conn.execute(
                "UPDATE audit SET body = ?3, i_actor = ?4, i_subject = ?5, i_resource = ?6, i_ip = ?7, i_action = ?8 WHERE pk = ?1 AND sk = ?2",
                params![partition(&record), sort_key(&record), serde_json::to_string(edited).unwrap(), keys[0], keys[1], keys[2], keys[3], keys[4]],
            )
        };
        let refused: [(&str, AuditRecord); 4] = [
            ("a field erasure does not change", AuditRecord { status: 200, actor: Some(pseudonym.into()), ..record.clone() }),
            ("an actor that is no pseudonym", AuditRecord { actor: Some("mallory".into()), ..record.clone() }),
            (
                "another resource",
                AuditRecord { subject: Some(pseudonym.into()), resource_id: Some(format!("d2:{pseudonym}")), ..record.clone() },
            ),
            ("the tag", AuditRecord { tag: Some("1.forged".into()), actor: Some(pseudonym.into()), ..record.clone() }),
        ];
        for (what, edited) in refused {
            assert!(update(&edited, index_keys(&edited)).is_err(), "{what}");
        }
        // Index keys that don't follow the body: a record hidden from its searches.
        let mut hidden = index_keys(&record);
        hidden[0] = Some("someone-else#00".into());
        assert!(update(&record, hidden).is_err(), "index keys alone");

        let erased = AuditRecord {
            actor: Some(pseudonym.into()),
            source_ip: Some("~BBBBBBBBBBBBBBBBBBBBBB".into()),
            subject: Some("~CCCCCCCCCCCCCCCCCCCCCC".into()),
            resource_id: Some("d1:~CCCCCCCCCCCCCCCCCCCCCC".into()),
            ..record.clone()
        };
        assert_eq!(update(&erased, index_keys(&erased)).unwrap(), 1);
    }

    #[test]
    fn the_audit_table_refuses_updates_deletes_and_replacements_at_the_storage_layer() {
        let store = SqliteStore::in_memory().unwrap();
        let conn = store.conn().unwrap();
        conn.execute("INSERT INTO audit (pk, sk, body) VALUES ('p', 's', '{}')", []).unwrap();
        let attempts = [
            "UPDATE audit SET body = '[]'",
            "DELETE FROM audit",
            "INSERT OR REPLACE INTO audit (pk, sk, body) VALUES ('p', 's', 'forged')",
            "REPLACE INTO audit (pk, sk, body) VALUES ('p', 's', 'forged')",
            "INSERT INTO audit (pk, sk, body) VALUES ('p', 's', 'forged') ON CONFLICT (pk, sk) DO UPDATE SET body = excluded.body",
        ];
        for statement in attempts {
            assert!(conn.execute(statement, []).is_err(), "{statement}");
        }
        // The same holds on a connection that turned recursive triggers on.
        conn.execute_batch("PRAGMA recursive_triggers = ON").unwrap();
        assert!(conn.execute("INSERT OR REPLACE INTO audit (pk, sk, body) VALUES ('p', 's', 'forged')", []).is_err());
        let body: String = conn.query_row("SELECT body FROM audit WHERE pk = 'p' AND sk = 's'", [], |row| row.get(0)).unwrap();
        assert_eq!(body, "{}");
        let count: i64 = conn.query_row("SELECT count(*) FROM audit", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 1);
        // A new record still goes in.
        conn.execute("INSERT INTO audit (pk, sk, body) VALUES ('p', 't', '{}')", []).unwrap();
        // One whose expiry has passed may go; one whose expiry is ahead may not.
        conn.execute("INSERT INTO audit (pk, sk, body, expires_at) VALUES ('p', 'old', '{}', 1000)", []).unwrap();
        conn.execute("INSERT INTO audit (pk, sk, body, expires_at) VALUES ('p', 'new', '{}', 99999999999)", []).unwrap();
        assert!(conn.execute("DELETE FROM audit WHERE sk = 'new'", []).is_err());
        assert_eq!(conn.execute("DELETE FROM audit WHERE sk = 'old'", []).unwrap(), 1);
    }
}
