//! The app's own block list of source addresses (SR-40): checked by the request pipeline
//! before any route runs (a blocked address gets a 403, audited), filled by the detector
//! and by admins, each entry until a time. In AWS the WAF's IP set mirrors it at the edge.
//!
//! One record holds the whole list (`BLOCKLIST` / `CURRENT`, at most [`MAX_ENTRIES`]), so a
//! process reads it once per [`CACHE_TTL`] and every check is a lookup in memory: the check
//! costs a request nothing measurable, and a block reaches every instance within seconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// How long a process trusts the list it read.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
/// The most addresses blocked at once; past it, the WAF's rate rules are the tool.
pub const MAX_ENTRIES: usize = 1_000;

pub fn key() -> Key {
    Key::new("BLOCKLIST", "CURRENT")
}

/// One blocked address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockedIp {
    pub ip: String,
    /// Blocked until then (RFC 3339).
    pub until: String,
    /// Why: a detector pattern (`failed-sign-ins`, `enumeration`, …) or an admin's words.
    pub reason: String,
    /// Who: `detector`, or the admin's subject id.
    pub by: String,
    pub created_at: String,
    /// The finding that caused it, when the detector blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<String>,
}

impl BlockedIp {
    fn active_at(&self, now: OffsetDateTime) -> bool {
        OffsetDateTime::parse(&self.until, &Rfc3339).is_ok_and(|until| until > now)
    }
}

/// Every address blocked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Blocklist {
    pub entries: Vec<BlockedIp>,
}

impl Blocklist {
    /// The entry blocking `ip` at `now`, if any.
    pub fn blocking(&self, ip: &str, now: OffsetDateTime) -> Option<&BlockedIp> {
        self.entries.iter().find(|entry| entry.ip == ip && entry.active_at(now))
    }

    /// The entries still in force at `now`.
    pub fn active(&self, now: OffsetDateTime) -> Vec<BlockedIp> {
        self.entries.iter().filter(|entry| entry.active_at(now)).cloned().collect()
    }

    /// The list with `entry` in place of any entry for its address, expired ones dropped;
    /// `None` when it would exceed [`MAX_ENTRIES`].
    pub fn with(&self, entry: BlockedIp, now: OffsetDateTime) -> Option<Blocklist> {
        let mut entries: Vec<BlockedIp> = self.active(now).into_iter().filter(|e| e.ip != entry.ip).collect();
        entries.push(entry);
        (entries.len() <= MAX_ENTRIES).then_some(Blocklist { entries })
    }

    /// The list without `ip`, expired entries dropped.
    pub fn without(&self, ip: &str, now: OffsetDateTime) -> Blocklist {
        Blocklist { entries: self.active(now).into_iter().filter(|e| e.ip != ip).collect() }
    }
}

/// The list and its version (0: never written).
pub async fn read(store: &dyn ItemStore) -> Result<(u64, Blocklist), StoreError> {
    match store.get(&key()).await? {
        Some(item) => Ok((item.version, serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("block list: {e}")))?)),
        None => Ok((0, Blocklist::default())),
    }
}

/// The write that replaces the list at `version`.
pub fn write(version: u64, list: &Blocklist) -> Result<WriteOp, StoreError> {
    let body = serde_json::to_value(list).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let condition = if version == 0 { Condition::Absent } else { Condition::Version(version) };
    Ok(WriteOp::Put { item: Item { key: key(), version: version + 1, body }, condition })
}

/// The list as this process last read it.
#[derive(Debug, Default)]
pub struct BlocklistCache {
    cached: Mutex<Option<(Instant, Arc<Blocklist>)>>,
}

impl BlocklistCache {
    pub async fn get(&self, store: &dyn ItemStore) -> Result<Arc<Blocklist>, StoreError> {
        if let Some((at, list)) = self.cached.lock().ok().and_then(|cached| cached.clone())
            && at.elapsed() < CACHE_TTL
        {
            return Ok(list);
        }
        let (_, list) = read(store).await?;
        let list = Arc::new(list);
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some((Instant::now(), Arc::clone(&list)));
        }
        Ok(list)
    }

    /// Forgets the list, after a change made in this process.
    pub fn forget(&self) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(ip: &str, until: &str) -> BlockedIp {
        BlockedIp {
            ip: ip.into(),
            until: until.into(),
            reason: "test".into(),
            by: "detector".into(),
            created_at: String::new(),
            finding: None,
        }
    }

    #[test]
    fn an_entry_blocks_until_its_time_and_a_new_one_replaces_it() {
        let now = datetime!(2026-12-02 10:00 UTC);
        let list = Blocklist {
            entries: vec![entry("203.0.113.9", "2026-12-02T11:00:00.000Z"), entry("198.51.100.1", "2026-12-02T09:00:00.000Z")],
        };
        assert!(list.blocking("203.0.113.9", now).is_some());
        assert!(list.blocking("198.51.100.1", now).is_none(), "expired");
        assert!(list.blocking("203.0.113.9", datetime!(2026-12-02 11:00 UTC)).is_none(), "until is exclusive");
        let longer = list.with(entry("203.0.113.9", "2026-12-03T00:00:00.000Z"), now).unwrap();
        assert_eq!(longer.entries.len(), 1, "one entry per address, expired ones dropped");
        assert_eq!(longer.entries[0].until, "2026-12-03T00:00:00.000Z");
        assert!(longer.without("203.0.113.9", now).entries.is_empty());
        let full = Blocklist {
            entries: (0..MAX_ENTRIES).map(|n| entry(&format!("10.0.{}.{}", n / 256, n % 256), "2027-01-01T00:00:00.000Z")).collect(),
        };
        assert!(full.with(entry("10.9.9.9", "2027-01-01T00:00:00.000Z"), now).is_none(), "no more than the maximum");
    }
}
