//! A user's standing (SR-09): the per-user security record every request is checked
//! against after its token verifies, so that a sign-out, a disable, a deletion or a role
//! change takes effect within seconds, not when the 15-minute access token expires.
//!
//! The record holds the user's current role (decisions use it, not the token's groups),
//! whether the account is enabled, and the instant before which its tokens are revoked.
//! Records are read through a small per-process cache whose entries live at most
//! [`CACHE_SECONDS`], so a change reaches every Lambda instance within that time.
//!
//! A token whose subject has no record is refused: accounts exist only by invitation
//! (SR-10), and every path that creates one writes its record in the same commit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::auth::{AuthError, Principal, Role};
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// How long a record read is reused. A change waits at most this long to apply everywhere;
/// the promise is 5 seconds.
pub const CACHE_SECONDS: u64 = 2;
/// Records cached at most; past it the cache starts over (one read each, then warm again).
const CACHE_ENTRIES: usize = 10_000;

/// Every security record's partition starts with this (IAM lets every function read there).
pub const PARTITION_PREFIX: &str = "USER#";

/// Where a user's security record lives.
pub fn key(subject: &str) -> Key {
    Key::new(format!("{PARTITION_PREFIX}{subject}"), "SECURITY")
}

/// What the request pipeline checks a verified token against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityRecord {
    pub role: Role,
    pub enabled: bool,
    /// Tokens issued at or before this instant (Unix seconds) are revoked: a whole second,
    /// so a token minted a moment before a sign-out in the same second is refused too.
    pub revoked_through: Option<i64>,
}

impl SecurityRecord {
    pub fn new(role: Role) -> Self {
        Self { role, enabled: true, revoked_through: None }
    }

    /// The record with every token issued up to `now` revoked (never moving an earlier,
    /// later-reaching revocation back).
    pub fn revoked_at(self, now: i64) -> Self {
        Self { revoked_through: Some(self.revoked_through.map_or(now, |through| through.max(now))), ..self }
    }

    /// The write that creates the record (with the account).
    pub fn create(&self, subject: &str) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::Put { item: Item { key: key(subject), version: 1, body: to_json(self)? }, condition: Condition::Absent })
    }

    /// The write that replaces the record read at `version`.
    pub fn replace(&self, subject: &str, version: u64) -> Result<WriteOp, StoreError> {
        Ok(WriteOp::Put {
            item: Item { key: key(subject), version: version + 1, body: to_json(self)? },
            condition: Condition::Version(version),
        })
    }

    /// Whether a token issued at `issued_at` still speaks for the user.
    fn admits(&self, issued_at: Option<i64>) -> Result<(), AuthError> {
        if !self.enabled {
            return Err(AuthError::Disabled);
        }
        match (self.revoked_through, issued_at) {
            (Some(through), Some(iat)) if iat <= through => Err(AuthError::Revoked),
            // A revoked account's token must say when it was issued.
            (Some(_), None) => Err(AuthError::Revoked),
            _ => Ok(()),
        }
    }
}

fn to_json(record: &SecurityRecord) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads a user's record and its version.
pub async fn read(store: &dyn ItemStore, subject: &str) -> Result<Option<(u64, SecurityRecord)>, StoreError> {
    let Some(item) = store.get(&key(subject)).await? else { return Ok(None) };
    let record = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("security record of `{subject}`: {e}")))?;
    Ok(Some((item.version, record)))
}

/// Gives `subject` an account in `role`, or moves their account to it, keeping its other
/// state, with `audit` in the same commit: what the local token command, the first start
/// and test set-up do in place of an invitation. (The user routes go through the
/// directory instead.) Moving the last enabled admin out of the role is refused.
pub async fn grant_role(
    store: &dyn ItemStore,
    subject: &str,
    role: Role,
    audit: &crate::audit::AuditRecord,
) -> Result<(), super::roster::StandingChangeError> {
    // The roster is one item many grants touch: a lost race is retried on fresh reads.
    for _ in 0..GRANT_ATTEMPTS {
        let before = read(store, subject).await?;
        let after = match &before {
            Some((_, current)) if current.role == role => return Ok(()),
            Some((_, current)) => SecurityRecord { role, ..current.clone() },
            None => SecurityRecord::new(role),
        };
        let roster = super::roster::AdminRoster::read(store).await?;
        let writes = super::roster::standing_writes(&roster, subject, before.as_ref(), Some(&after))?;
        match store.commit(writes, audit).await {
            Err(StoreError::ConditionFailed) => continue,
            done => return Ok(done?),
        }
    }
    Err(StoreError::ConditionFailed.into())
}

/// How often [`grant_role`] tries before giving up on a contended roster.
const GRANT_ATTEMPTS: usize = 20;

/// Security records by subject, cached for [`CACHE_SECONDS`].
#[derive(Debug)]
pub struct Standing {
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Option<SecurityRecord>)>>,
}

impl Default for Standing {
    fn default() -> Self {
        Self::with_ttl(Duration::from_secs(CACHE_SECONDS))
    }
}

impl Standing {
    pub fn with_ttl(ttl: Duration) -> Self {
        Self { ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The principal as the record says it stands: its role and groups the record's, or
    /// an error when the account is unknown, disabled, or the token was revoked.
    pub async fn check(&self, store: &dyn ItemStore, mut principal: Principal) -> Result<Principal, AuthError> {
        let record = self.record(store, &principal.subject).await?.ok_or(AuthError::UnknownUser)?;
        record.admits(principal.issued_at)?;
        // The token's groups are as stale as its role: both come from the record now.
        principal.role = record.role;
        principal.groups = vec![record.role.as_str().to_owned()];
        Ok(principal)
    }

    async fn record(&self, store: &dyn ItemStore, subject: &str) -> Result<Option<SecurityRecord>, AuthError> {
        if let Some(cached) = self.cached(subject) {
            return Ok(cached);
        }
        let record = read(store, subject).await.map_err(|e| AuthError::StandingUnavailable(e.to_string()))?.map(|(_, record)| record);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(subject.to_owned(), (Instant::now(), record.clone()));
        }
        Ok(record)
    }

    fn cached(&self, subject: &str) -> Option<Option<SecurityRecord>> {
        let cache = self.cache.lock().ok()?;
        let (at, record) = cache.get(subject)?;
        (at.elapsed() < self.ttl).then(|| record.clone())
    }

    /// Forgets a subject's cached record: the instance that made a change applies it at once.
    pub fn forget(&self, subject: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(enabled: bool, revoked_through: Option<i64>) -> SecurityRecord {
        SecurityRecord { role: Role::Analyst, enabled, revoked_through }
    }

    #[test]
    fn a_revocation_covers_its_whole_second_and_nothing_after() {
        let revoked = record(true, Some(1_764_000_000));
        assert_eq!(revoked.admits(Some(1_763_999_999)), Err(AuthError::Revoked));
        assert_eq!(revoked.admits(Some(1_764_000_000)), Err(AuthError::Revoked), "the same second");
        assert_eq!(revoked.admits(Some(1_764_000_001)), Ok(()));
        assert_eq!(revoked.admits(None), Err(AuthError::Revoked));
        assert_eq!(record(true, None).admits(None), Ok(()));
    }

    #[test]
    fn a_revocation_moves_forward_never_back() {
        assert_eq!(record(true, None).revoked_at(100).revoked_through, Some(100));
        assert_eq!(record(true, Some(50)).revoked_at(100).revoked_through, Some(100));
        assert_eq!(record(true, Some(150)).revoked_at(100).revoked_through, Some(150));
    }

    #[test]
    fn a_disabled_account_admits_no_token() {
        assert_eq!(record(false, None).admits(Some(1_764_000_001)), Err(AuthError::Disabled));
        assert_eq!(record(false, Some(1)).admits(Some(2)), Err(AuthError::Disabled));
    }
}
