//! The user directory port: who has an account, in which role, in which state. Cognito's
//! user pool in AWS; the embedded directory ([`crate::embedded`]) for the local server.
//!
//! A change comes back [`Staged`]: the writes an embedded directory needs, which the
//! caller commits together with its own records and the request's audit record, so the
//! change and its audit are one transaction. A remote directory (Cognito) has made the
//! change by the time it returns, and stages nothing.

use domain::Role;
use domain::ids::UserId;
use domain::user::{Email, Invitation, User};
use store::WriteOp;

/// A directory change a caller makes after its commit: to undo a remote change whose
/// commit failed, or to finish one that must wait for the commit (see [`Staged`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    Delete(UserId),
    Change(UserId, AccountChange),
}

/// A change to one account, made as one: a new role, enabling or disabling, revoking its
/// refresh tokens. (One account item changes once per commit: a transaction may not
/// touch an item twice.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub role: Option<Role>,
    pub enabled: Option<bool>,
    /// Revokes every refresh token the user holds (Cognito's `AdminUserGlobalSignOut`).
    pub sign_out: bool,
}

impl AccountChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A change the caller completes by committing `writes` (none when the directory applied
/// it itself), with what it produced.
///
/// A remote directory has already made its change, so it says how to take it back
/// (`undo`, for when the caller's commit fails) and what it left for after the commit
/// (`then`: a deletion, which can't be undone, waits until the API's side of it is
/// committed; meanwhile the account is disabled).
#[derive(Debug)]
#[must_use = "a staged change happens only when its writes are committed"]
pub struct Staged<T> {
    pub value: T,
    pub writes: Vec<WriteOp>,
    /// What reverses the change already applied, in order.
    pub undo: Vec<FollowUp>,
    /// What completes the change once the caller has committed, in order.
    pub then: Vec<FollowUp>,
}

impl<T> Staged<T> {
    /// A change already applied, with nothing to undo.
    pub fn done(value: T) -> Self {
        Self { value, writes: Vec::new(), undo: Vec::new(), then: Vec::new() }
    }

    /// A change already applied that `undo` reverses.
    pub fn applied(value: T, undo: FollowUp) -> Self {
        Self { undo: vec![undo], ..Self::done(value) }
    }

    /// A change of the embedded kind: it happens when `writes` are committed.
    pub fn writes(value: T, writes: Vec<WriteOp>) -> Self {
        Self { writes, ..Self::done(value) }
    }
}

/// One page of users, oldest account first where the directory keeps an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<User>,
    /// The directory's own continuation, opaque (the API seals it into a cursor).
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("an account with this e-mail address exists")]
    EmailTaken,
    #[error("no such user")]
    NotFound,
    /// The directory's data or answer does not read.
    #[error("directory data is corrupt: {0}")]
    Corrupt(String),
    #[error("directory unavailable: {0}")]
    Unavailable(String),
}

impl From<store::StoreError> for DirectoryError {
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Corrupt(cause) => DirectoryError::Corrupt(cause),
            other => DirectoryError::Unavailable(other.to_string()),
        }
    }
}

/// The accounts users sign in with.
#[async_trait::async_trait]
pub trait UserDirectory: Send + Sync + std::fmt::Debug {
    /// Creates an invited account (SR-10: no one signs up on their own); the invitee hears
    /// how to sign in from the directory (Cognito's e-mail, the local outbox) and chooses a
    /// password at first sign-in.
    async fn invite(&self, invitation: &Invitation) -> Result<Staged<User>, DirectoryError>;

    async fn get(&self, id: &UserId) -> Result<Option<User>, DirectoryError>;

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, DirectoryError>;

    /// Up to `limit` users after the continuation `after`.
    async fn list(&self, after: Option<&str>, limit: usize) -> Result<UserPage, DirectoryError>;

    /// Changes an account as one step ([`AccountChange`]).
    async fn change(&self, id: &UserId, change: &AccountChange) -> Result<Staged<()>, DirectoryError>;

    /// Puts the user in `role`'s group and out of the others.
    async fn set_role(&self, id: &UserId, role: Role) -> Result<Staged<()>, DirectoryError> {
        self.change(id, &AccountChange { role: Some(role), ..AccountChange::default() }).await
    }

    /// A disabled account can't sign in or refresh.
    async fn set_enabled(&self, id: &UserId, enabled: bool) -> Result<Staged<()>, DirectoryError> {
        self.change(id, &AccountChange { enabled: Some(enabled), ..AccountChange::default() }).await
    }

    async fn delete(&self, id: &UserId) -> Result<Staged<()>, DirectoryError>;

    /// Revokes every refresh token the user holds.
    async fn sign_out_everywhere(&self, id: &UserId) -> Result<Staged<()>, DirectoryError> {
        self.change(id, &AccountChange { sign_out: true, ..AccountChange::default() }).await
    }

    /// Makes a follow-up of a change this directory staged ([`Staged::undo`], [`Staged::then`]).
    async fn apply(&self, follow_up: &FollowUp) -> Result<(), DirectoryError>;
}
