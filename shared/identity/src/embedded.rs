//! The embedded user directory: the local identity provider's accounts, kept in the item
//! store (SQLite for the local server, DynamoDB Local in its AWS-local mode) under `IDP#`
//! keys of their own, as a Cognito user pool keeps its users apart from the API's data.
//!
//! | key (pk / sk) | holds |
//! |---|---|
//! | `IDP#USER#<id>` / `ACCOUNT` | e-mail and name, role, state |
//! | `IDP#USER#<id>` / `CREDENTIALS` | the password hash, whether it is temporary, the TOTP key |
//! | `IDP#EMAIL#<index>` / `USER` | the id an e-mail address signs in as (unique) |
//! | `IDP#USERS` / `<id>` | the list, in creation order (ids are UUIDv7) |
//! | `IDP#OUTBOX` / `<time>#<id>` | invitations "sent", for `devserver outbox` |
//!
//! The store given is expected to seal records at rest as their types declare (the API
//! crate's `sealed_items`: e-mail addresses, names, password hashes, TOTP keys and the
//! invitation messages, which hold temporary passwords, are encrypted). E-mail addresses
//! are found through an [`EmailIndex`], a keyed blind index, never by the address itself.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use domain::Role;
use domain::ids::UserId;
use domain::user::{AccountStatus, DisplayName, Email, Invitation, User};
use store::email_index::EmailIndex;
use store::{Condition, Item, ItemStore, Key, WriteOp};

use crate::directory::{AccountChange, DirectoryError, FollowUp, Staged, UserDirectory, UserPage};
use crate::hashing::PasswordHasher;

/// A temporary password is good for this long (Cognito's default is 7 days).
pub const TEMPORARY_PASSWORD_SECONDS: i64 = 7 * 24 * 3600;

const ACCOUNT: &str = "ACCOUNT";
const CREDENTIALS: &str = "CREDENTIALS";
const USERS: &str = "IDP#USERS";
const OUTBOX: &str = "IDP#OUTBOX";

fn user_pk(id: &UserId) -> String {
    format!("IDP#USER#{}", id.as_str())
}

/// The account item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountRecord {
    email: String,
    name: Option<String>,
    role: Role,
    enabled: bool,
    status: AccountStatus,
    mfa_enabled: bool,
    created_at: String,
    /// Refresh tokens issued before this (Unix seconds) are revoked.
    signed_out_at: Option<i64>,
}

/// What a user signs in with. Only the local identity provider reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Set by an invitation: the password must be replaced at first sign-in, by then.
    pub temporary_until: Option<i64>,
    /// Base32 TOTP key, once an authenticator is set up.
    pub totp_secret: Option<String>,
    /// The step of the last TOTP code accepted (a code is good once).
    pub totp_last_step: Option<u64>,
}

/// An invitation as the local outbox holds it, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub to: String,
    pub user: UserId,
    pub body: String,
    pub sent_at: String,
}

/// The embedded directory.
#[derive(Debug, Clone)]
pub struct EmbeddedDirectory {
    store: Arc<dyn ItemStore>,
    index: Arc<dyn EmailIndex>,
    hasher: PasswordHasher,
    /// Where invitees are told to sign in (the local server's base URL).
    sign_in_url: String,
}

impl EmbeddedDirectory {
    pub fn new(store: Arc<dyn ItemStore>, index: Arc<dyn EmailIndex>, hasher: PasswordHasher, sign_in_url: String) -> Self {
        Self { store, index, hasher, sign_in_url }
    }

    async fn account(&self, id: &UserId) -> Result<Option<(Item, AccountRecord)>, DirectoryError> {
        let Some(item) = self.store.get(&Key::new(user_pk(id), ACCOUNT)).await? else { return Ok(None) };
        let record = serde_json::from_value(item.body.clone()).map_err(|e| DirectoryError::Corrupt(e.to_string()))?;
        Ok(Some((item, record)))
    }

    fn open_user(id: UserId, record: &AccountRecord) -> Result<User, DirectoryError> {
        let email = Email::parse(&record.email).map_err(|e| DirectoryError::Corrupt(e.detail))?;
        let name = match &record.name {
            Some(name) => Some(DisplayName::parse(name).map_err(|e| DirectoryError::Corrupt(e.detail))?),
            None => None,
        };
        Ok(User {
            id,
            email,
            name,
            role: record.role,
            enabled: record.enabled,
            status: record.status,
            mfa_enabled: record.mfa_enabled,
            created_at: record.created_at.clone(),
        })
    }

    /// A change to one account: read it, let `change` alter it, stage the write at the
    /// version read (a concurrent change makes the commit fail, not get lost).
    async fn stage_change(&self, id: &UserId, change: impl FnOnce(&mut AccountRecord)) -> Result<Staged<()>, DirectoryError> {
        let (item, mut record) = self.account(id).await?.ok_or(DirectoryError::NotFound)?;
        change(&mut record);
        let write = WriteOp::Put {
            item: Item { key: item.key, version: item.version + 1, body: to_json(&record)? },
            condition: Condition::Version(item.version),
        };
        Ok(Staged::writes((), vec![write]))
    }

    /// The id an e-mail address signs in as.
    pub async fn id_for_email(&self, email: &Email) -> Result<Option<UserId>, DirectoryError> {
        let key = Key::new(format!("IDP#EMAIL#{}", self.index.email_index(email.as_str()).await?), "USER");
        let Some(item) = self.store.get(&key).await? else { return Ok(None) };
        let id = item.body.get("id").and_then(Value::as_str).ok_or_else(|| DirectoryError::Corrupt("e-mail index without an id".into()))?;
        UserId::parse(id).map(Some).map_err(|e| DirectoryError::Corrupt(e.detail))
    }

    /// A user's credentials and their version, for the local identity provider.
    pub async fn credentials(&self, id: &UserId) -> Result<Option<(u64, Credentials)>, DirectoryError> {
        let Some(item) = self.store.get(&Key::new(user_pk(id), CREDENTIALS)).await? else { return Ok(None) };
        let credentials = serde_json::from_value(item.body).map_err(|e| DirectoryError::Corrupt(e.to_string()))?;
        Ok(Some((item.version, credentials)))
    }

    /// The write that replaces a user's credentials read at `version`.
    pub fn stage_credentials(&self, id: &UserId, version: u64, credentials: &Credentials) -> Result<WriteOp, DirectoryError> {
        let item = Item { key: Key::new(user_pk(id), CREDENTIALS), version: version + 1, body: to_json(credentials)? };
        Ok(WriteOp::Put { item, condition: Condition::Version(version) })
    }

    /// The write that marks an invited account active once its password is chosen, or
    /// records that an authenticator was set up.
    pub async fn stage_account_state(&self, id: &UserId, status: AccountStatus, mfa_enabled: bool) -> Result<Staged<()>, DirectoryError> {
        self.stage_change(id, |record| {
            record.status = status;
            record.mfa_enabled = mfa_enabled;
        })
        .await
    }

    /// When refresh tokens issued before it stopped counting (a global sign-out), if ever.
    pub async fn signed_out_at(&self, id: &UserId) -> Result<Option<i64>, DirectoryError> {
        Ok(self.account(id).await?.and_then(|(_, record)| record.signed_out_at))
    }

    /// The invitations in the outbox, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxMessage>, DirectoryError> {
        let mut messages = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.query_keys(OUTBOX, "", after.as_deref(), 100).await?;
            for item in self.store.get_many(&page.items).await? {
                let text = |name: &str| item.body.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
                let user = UserId::parse(&text("user")).map_err(|e| DirectoryError::Corrupt(e.detail))?;
                messages.push(OutboxMessage { to: text("to"), body: text("body"), user, sent_at: text("sent_at") });
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        messages.sort_by(|a, b| a.sent_at.cmp(&b.sent_at));
        Ok(messages)
    }

    /// The writes that create an account with a temporary password, and the password.
    pub async fn stage_account(
        &self,
        invitation: &Invitation,
        now: time::OffsetDateTime,
    ) -> Result<(User, String, Vec<WriteOp>), DirectoryError> {
        let id = UserId::parse(&uuid::Uuid::now_v7().to_string()).map_err(|e| DirectoryError::Corrupt(e.detail))?;
        self.stage_account_as(id, invitation, now).await
    }

    /// [`EmbeddedDirectory::stage_account`] with a given id: for seeding fixtures (the
    /// `events/` files name their users).
    pub async fn stage_account_as(
        &self,
        id: UserId,
        invitation: &Invitation,
        now: time::OffsetDateTime,
    ) -> Result<(User, String, Vec<WriteOp>), DirectoryError> {
        let pk = user_pk(&id);
        let created_at = now.format(&time::format_description::well_known::Rfc3339).map_err(|e| DirectoryError::Corrupt(e.to_string()))?;
        let record = AccountRecord {
            email: invitation.email.as_str().to_owned(),
            name: invitation.name.as_ref().map(|name| name.as_str().to_owned()),
            role: invitation.role,
            enabled: true,
            status: AccountStatus::Invited,
            mfa_enabled: false,
            created_at: created_at.clone(),
            signed_out_at: None,
        };
        let temporary = temporary_password()?;
        let credentials = Credentials {
            password_hash: self.hasher.hash(&temporary).map_err(|e| DirectoryError::Unavailable(e.to_string()))?,
            temporary_until: Some(now.unix_timestamp() + TEMPORARY_PASSWORD_SECONDS),
            totp_secret: None,
            totp_last_step: None,
        };
        let put = |key: Key, body: Value| WriteOp::Put { item: Item { key, version: 1, body }, condition: Condition::Absent };
        let writes = vec![
            put(Key::new(&pk, ACCOUNT), to_json(&record)?),
            put(Key::new(&pk, CREDENTIALS), to_json(&credentials)?),
            // INVARIANT: one account per address; the index entry is created with the
            // account, so a second invitation for the address fails as a whole.
            put(
                Key::new(format!("IDP#EMAIL#{}", self.index.email_index(invitation.email.as_str()).await?), "USER"),
                json!({"id": id.as_str()}),
            ),
            put(Key::new(USERS, id.as_str()), json!({})),
        ];
        let user = Self::open_user(id, &record)?;
        Ok((user, temporary, writes))
    }

    /// The write that puts an invitation for `user` in the outbox.
    fn stage_invitation_mail(&self, user: &User, temporary: &str, now: &str) -> WriteOp {
        let record = format!("{now}#{}", user.id.as_str());
        let body = format!(
            "You have been invited to Forecast as {}.\n\nSign in at {} with\n  e-mail:             {}\n  temporary password: {temporary}\n\nYou will choose your own password when you first sign in. The temporary password works for 7 days.\n",
            user.role.as_str(),
            self.sign_in_url,
            user.email.as_str(),
        );
        let message = json!({"to": user.email.as_str(), "body": body, "user": user.id.as_str(), "sent_at": now});
        WriteOp::Put { item: Item { key: Key::new(OUTBOX, record), version: 1, body: message }, condition: Condition::Absent }
    }
}

/// A stored record as JSON.
fn to_json<T: Serialize>(value: &T) -> Result<Value, DirectoryError> {
    serde_json::to_value(value).map_err(|e| DirectoryError::Corrupt(e.to_string()))
}

/// Sixteen random characters with every class the policy asks for, from an alphabet
/// without look-alikes (no `0`/`O`, `1`/`l`/`I`), so it can be read off a screen.
fn temporary_password() -> Result<String, DirectoryError> {
    const CLASSES: [&[u8]; 4] = [b"ABCDEFGHJKMNPQRSTUVWXYZ", b"abcdefghijkmnpqrstuvwxyz", b"23456789", b"!#%+-=?@"];
    let mut random = [0u8; 16];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| DirectoryError::Unavailable("no random bytes".into()))?;
    let password = random
        .iter()
        .enumerate()
        .map(|(i, byte)| {
            // The first four positions take one of each class; the rest any.
            let class = if i < CLASSES.len() { CLASSES[i] } else { CLASSES[usize::from(*byte) % CLASSES.len()] };
            char::from(class[usize::from(*byte / 4) % class.len()])
        })
        .collect();
    Ok(password)
}

#[async_trait::async_trait]
impl UserDirectory for EmbeddedDirectory {
    async fn invite(&self, invitation: &Invitation) -> Result<Staged<User>, DirectoryError> {
        if self.id_for_email(&invitation.email).await?.is_some() {
            return Err(DirectoryError::EmailTaken);
        }
        let now = time::OffsetDateTime::now_utc();
        let (user, temporary, mut writes) = self.stage_account(invitation, now).await?;
        let sent_at = user.created_at.clone();
        writes.push(self.stage_invitation_mail(&user, &temporary, &sent_at));
        Ok(Staged::writes(user, writes))
    }

    async fn get(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        match self.account(id).await? {
            Some((_, record)) => Ok(Some(Self::open_user(id.clone(), &record)?)),
            None => Ok(None),
        }
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, DirectoryError> {
        match self.id_for_email(email).await? {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    async fn list(&self, after: Option<&str>, limit: usize) -> Result<UserPage, DirectoryError> {
        let page = self.store.query_keys(USERS, "", after, limit).await?;
        let mut users = Vec::with_capacity(page.items.len());
        for key in &page.items {
            let id = UserId::parse(&key.sk).map_err(|e| DirectoryError::Corrupt(e.detail))?;
            // An entry whose account is gone (deleted meanwhile) is skipped.
            if let Some(user) = self.get(&id).await? {
                users.push(user);
            }
        }
        Ok(UserPage { users, next: page.next })
    }

    async fn change(&self, id: &UserId, change: &AccountChange) -> Result<Staged<()>, DirectoryError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.stage_change(id, |record| {
            record.role = change.role.unwrap_or(record.role);
            record.enabled = change.enabled.unwrap_or(record.enabled);
            if change.sign_out {
                record.signed_out_at = Some(now);
            }
        })
        .await
    }

    async fn delete(&self, id: &UserId) -> Result<Staged<()>, DirectoryError> {
        let (item, record) = self.account(id).await?.ok_or(DirectoryError::NotFound)?;
        let pk = user_pk(id);
        let mut writes = vec![
            WriteOp::Delete { key: item.key, condition: Condition::Version(item.version) },
            WriteOp::Delete { key: Key::new(&pk, CREDENTIALS), condition: Condition::Always },
            WriteOp::Delete {
                key: Key::new(format!("IDP#EMAIL#{}", self.index.email_index(&record.email).await?), "USER"),
                condition: Condition::Always,
            },
            WriteOp::Delete { key: Key::new(USERS, id.as_str()), condition: Condition::Always },
        ];
        // Their invitations go with the account: they hold the address and a password.
        let suffix = format!("#{}", id.as_str());
        let invitations = store::all_sort_keys(self.store.as_ref(), OUTBOX).await?.into_iter().filter(|sk| sk.ends_with(&suffix));
        writes.extend(invitations.map(|sk| WriteOp::Delete { key: Key::new(OUTBOX, sk), condition: Condition::Always }));
        Ok(Staged::writes((), writes))
    }

    async fn apply(&self, follow_up: &FollowUp) -> Result<(), DirectoryError> {
        // Its changes are all writes in the caller's commit: there is never a follow-up.
        Err(DirectoryError::Unavailable(format!("the embedded directory stages every change; it has no follow-up {follow_up:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_passwords_meet_the_policy_and_differ() {
        let first = temporary_password().unwrap();
        assert_eq!(first.chars().count(), 16);
        for _ in 0..50 {
            let password = temporary_password().unwrap();
            assert_eq!(crate::password::check(&password, &[]), Ok(()), "{password}");
            assert!(!password.chars().any(|c| "0O1lI".contains(c)), "{password}");
        }
        assert_ne!(first, temporary_password().unwrap());
    }
}
