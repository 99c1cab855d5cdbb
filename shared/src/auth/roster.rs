//! The admin roster (SR-16): the one item that lists every enabled admin, so that "the
//! last enabled admin can't be demoted, disabled or deleted" is a check on one item, and
//! two concurrent changes can't each leave the other as the last admin and both succeed.
//!
//! Every change to a security record that makes or unmakes an enabled admin rewrites the
//! roster in the same commit, conditioned on the version it read: of two racing changes,
//! one commits and the other fails its condition and is refused. A missing roster counts
//! as no admins, so a deployment that never recorded one refuses to lose one (fail safe).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::standing::SecurityRecord;
use crate::auth::Role;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// Where the roster lives.
pub fn key() -> Key {
    Key::new("ROSTER", "ADMINS")
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    admins: BTreeSet<String>,
}

/// The roster as read, with its version (0 when it doesn't exist yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRoster {
    version: u64,
    admins: BTreeSet<String>,
}

/// A change would leave no enabled admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this is the last enabled admin: make another user an admin first")]
pub struct LastAdmin;

/// Why a change to a user's standing can't be written.
#[derive(Debug, thiserror::Error)]
pub enum StandingChangeError {
    #[error(transparent)]
    LastAdmin(#[from] LastAdmin),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a record stands for an enabled admin.
fn counts(record: Option<&SecurityRecord>) -> bool {
    record.is_some_and(|r| r.enabled && r.role == Role::Admin)
}

impl AdminRoster {
    pub async fn read(store: &dyn ItemStore) -> Result<Self, StoreError> {
        let Some(item) = store.get(&key()).await? else { return Ok(Self { version: 0, admins: BTreeSet::new() }) };
        let body: Body = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("admin roster: {e}")))?;
        Ok(Self { version: item.version, admins: body.admins })
    }

    /// The enabled admins.
    pub fn admins(&self) -> &BTreeSet<String> {
        &self.admins
    }

    /// The roster write that goes with `subject`'s record changing from `before` to `after`
    /// (`None`: no record), or none when the change doesn't touch the roster; refused when
    /// it would leave no enabled admin.
    pub fn change(
        &self,
        subject: &str,
        before: Option<&SecurityRecord>,
        after: Option<&SecurityRecord>,
    ) -> Result<Option<WriteOp>, LastAdmin> {
        let mut admins = self.admins.clone();
        if counts(after) {
            admins.insert(subject.to_owned());
        } else {
            admins.remove(subject);
        }
        // A record that loses admin standing must leave someone else holding it, even if
        // the roster never listed this subject (then the roster is behind; refusing is safe).
        if counts(before) && !counts(after) && admins.is_empty() {
            return Err(LastAdmin);
        }
        if admins == self.admins {
            return Ok(None);
        }
        let body = serde_json::to_value(Body { admins }).map_err(|_| LastAdmin)?;
        let condition = if self.version == 0 { Condition::Absent } else { Condition::Version(self.version) };
        Ok(Some(WriteOp::Put { item: Item { key: key(), version: self.version + 1, body }, condition }))
    }
}

/// The writes that move `subject`'s security record from `before` (as read, with its
/// version) to `after` (`None` deletes it), with the roster's own write when it changes.
pub fn standing_writes(
    roster: &AdminRoster,
    subject: &str,
    before: Option<&(u64, SecurityRecord)>,
    after: Option<&SecurityRecord>,
) -> Result<Vec<WriteOp>, StandingChangeError> {
    let mut writes: Vec<WriteOp> = roster.change(subject, before.map(|(_, r)| r), after)?.into_iter().collect();
    writes.push(match (before, after) {
        (Some((version, _)), Some(record)) => record.replace(subject, *version)?,
        (None, Some(record)) => record.create(subject)?,
        (Some((version, _)), None) => WriteOp::Delete { key: super::standing::key(subject), condition: Condition::Version(*version) },
        (None, None) => return Ok(writes),
    });
    Ok(writes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(enabled: bool) -> SecurityRecord {
        SecurityRecord { role: Role::Admin, enabled, revoked_through: None }
    }

    fn roster(version: u64, admins: &[&str]) -> AdminRoster {
        AdminRoster { version, admins: admins.iter().map(|a| (*a).to_owned()).collect() }
    }

    fn written(write: Option<WriteOp>) -> (Vec<String>, u64, Condition) {
        let Some(WriteOp::Put { item, condition }) = write else { panic!("expected a roster put, got {write:?}") };
        let body: Body = serde_json::from_value(item.body).unwrap();
        (body.admins.into_iter().collect(), item.version, condition)
    }

    #[test]
    fn the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted() {
        let one = roster(4, &["a"]);
        let analyst = SecurityRecord::new(Role::Analyst);
        assert_eq!(one.change("a", Some(&admin(true)), Some(&analyst)), Err(LastAdmin));
        assert_eq!(one.change("a", Some(&admin(true)), Some(&admin(false))), Err(LastAdmin));
        assert_eq!(one.change("a", Some(&admin(true)), None), Err(LastAdmin));
        // An admin the roster doesn't list (a roster behind) is protected all the same.
        assert_eq!(roster(0, &[]).change("a", Some(&admin(true)), None), Err(LastAdmin));
    }

    #[test]
    fn with_another_admin_the_change_is_written_at_the_version_read() {
        let two = roster(4, &["a", "b"]);
        assert_eq!(written(two.change("a", Some(&admin(true)), None).unwrap()), (vec!["b".to_owned()], 5, Condition::Version(4)));
        let promoted = roster(0, &[]).change("c", Some(&SecurityRecord::new(Role::Viewer)), Some(&admin(true))).unwrap();
        assert_eq!(written(promoted), (vec!["c".to_owned()], 1, Condition::Absent));
    }

    #[test]
    fn a_standing_change_writes_the_record_and_the_roster_together() {
        let two = roster(4, &["a", "b"]);
        let demoted = SecurityRecord::new(Role::Viewer);
        let writes = standing_writes(&two, "a", Some(&(7, admin(true))), Some(&demoted)).unwrap();
        let [roster_write, record_write] = writes.as_slice() else { panic!("{writes:?}") };
        assert_eq!(written(Some(roster_write.clone())), (vec!["b".to_owned()], 5, Condition::Version(4)));
        let WriteOp::Put { item, condition } = record_write else { panic!("{record_write:?}") };
        assert_eq!((item.key.clone(), item.version, *condition), (super::super::standing::key("a"), 8, Condition::Version(7)));
        assert_eq!(serde_json::from_value::<SecurityRecord>(item.body.clone()).unwrap(), demoted);
        // A new viewer: only the record, created; a deleted one: only the record, removed.
        let created = standing_writes(&two, "v", None, Some(&demoted)).unwrap();
        assert!(matches!(created.as_slice(), [WriteOp::Put { condition: Condition::Absent, .. }]), "{created:?}");
        let deleted = standing_writes(&two, "v", Some(&(3, demoted.clone())), None).unwrap();
        assert!(matches!(deleted.as_slice(), [WriteOp::Delete { condition: Condition::Version(3), .. }]), "{deleted:?}");
        assert!(matches!(standing_writes(&roster(1, &["a"]), "a", Some(&(7, admin(true))), None), Err(StandingChangeError::LastAdmin(_))));
    }

    #[test]
    fn changes_that_leave_admin_standing_alone_write_nothing() {
        let two = roster(4, &["a", "b"]);
        assert_eq!(two.change("v", Some(&SecurityRecord::new(Role::Viewer)), Some(&SecurityRecord::new(Role::Analyst))), Ok(None));
        assert_eq!(two.change("a", Some(&admin(true)), Some(&admin(true).revoked_at(10))), Ok(None));
        // Disabling an already-disabled admin, or deleting one, touches nobody's standing.
        assert_eq!(two.change("d", Some(&admin(false)), None), Ok(None));
    }
}
