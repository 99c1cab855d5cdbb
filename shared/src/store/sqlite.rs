//! The embedded item store: one SQLite file.
//!
//! Chosen over `redb` because the file can be inspected with the `sqlite3` shell, SQL
//! triggers make the audit table append-only at the storage layer, and one SQLite
//! transaction gives the same all-or-nothing commit as `TransactWriteItems`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Condition, Item, ItemStore, JsonItem, Key, Page, StoreError, WriteOp, check_size, paginate};
use crate::audit::AuditRecord;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS items (
  pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
  pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
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
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Unavailable("store lock poisoned".into()))
    }
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn parse_body(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn row_to_item(pk: String, sk: String, version: i64, body: &str) -> Result<Item, StoreError> {
    let version = u64::try_from(version).map_err(|_| StoreError::Corrupt("negative version".into()))?;
    Ok(Item { key: Key { pk, sk }, version, body: parse_body(body)? })
}

// Every statement below is prepared once per connection and reused (`prepare_cached`):
// parsing SQL on every call cost more than running it.

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
    let mut statement = conn.prepare_cached("INSERT INTO audit (pk, sk, body) VALUES (?1, ?2, ?3)").map_err(unavailable)?;
    match statement.execute(params![audit.partition(), audit.sort_key(), body]) {
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

    async fn query(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Item>, StoreError> {
        let conn = self.conn()?;
        // `>= prefix` and `< prefix + U+10FFFF` bound the prefix without LIKE's wildcards.
        let upper = format!("{prefix}\u{10FFFF}");
        let lower = after.filter(|a| *a >= prefix).unwrap_or(prefix);
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut statement = conn
            .prepare_cached("SELECT sk, version, body FROM items WHERE pk = ?1 AND sk >= ?2 AND sk < ?3 AND (?4 IS NULL OR sk > ?4) ORDER BY sk LIMIT ?5")
            .map_err(unavailable)?;
        let rows = statement
            .query_map(params![pk, lower, upper, after, fetch], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, String>(2)?))
            })
            .map_err(unavailable)?;
        let mut items = Vec::new();
        for row in rows {
            let (sk, version, body) = row.map_err(unavailable)?;
            items.push(row_to_item(pk.to_owned(), sk, version, &body)?);
        }
        Ok(paginate(items, limit, |i| i.key.sk.clone()))
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

    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        // One statement is its own transaction.
        insert_audit(&*self.conn()?, audit)
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        let conn = self.conn()?;
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut statement = conn
            .prepare_cached("SELECT body FROM audit WHERE pk = ?1 AND (?2 IS NULL OR sk > ?2) ORDER BY sk LIMIT ?3")
            .map_err(unavailable)?;
        let rows = statement.query_map(params![pk, after, fetch], |row| row.get::<_, String>(0)).map_err(unavailable)?;
        let mut records = Vec::new();
        for row in rows {
            let body = row.map_err(unavailable)?;
            records.push(serde_json::from_str::<AuditRecord>(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        }
        Ok(paginate(records, limit, AuditRecord::sort_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
