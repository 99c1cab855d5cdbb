//! The access review (SR-42): every account with its role, state, last sign-in, MFA, what
//! it owns and shares, and the flags a reviewer acts on. Built from the user directory, the
//! sign-in times the session route records, and the dataset catalogue (read once).

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;

use crate::auth::Role;
use crate::domain::dataset::DatasetRecord;
use crate::domain::user::{AccountStatus, User};
use crate::identity::directory::{DirectoryError, UserDirectory};
use crate::store::{Item, ItemStore, Key, StoreError};

/// Days without a sign-in after which an enabled account is flagged.
pub const IDLE_DAYS: i64 = 90;
/// Accounts a review covers at most (the directory is read 60 at a time).
pub const MAX_REVIEWED_USERS: usize = 5_000;
const DIRECTORY_PAGE: usize = 60;
const BATCH: usize = 100;

/// Where the time of a user's last sign-in is kept (written by the code exchange).
pub fn last_sign_in_key(subject: &str) -> Key {
    Key::new(format!("{}{subject}", crate::auth::standing::PARTITION_PREFIX), "SIGN_IN")
}

/// The body of a last-sign-in record.
pub fn last_sign_in_body(at: OffsetDateTime) -> serde_json::Value {
    serde_json::json!({ "at": crate::audit::format_time(at) })
}

/// What a reviewer should look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Flag {
    /// An enabled admin with no authenticator set up.
    AdminWithoutMfa,
    /// Enabled, and no sign-in for [`IDLE_DAYS`] (or never, since being created that long ago).
    #[serde(rename = "idle-over-90-days")]
    IdleOver90Days,
    /// Owns datasets shared with disabled accounts.
    SharesToDisabledUsers,
    /// Owns datasets shared with ids no account has (deleted accounts).
    SharesToUnknownUsers,
}

impl Flag {
    fn as_str(self) -> &'static str {
        match self {
            Flag::AdminWithoutMfa => "admin-without-mfa",
            Flag::IdleOver90Days => "idle-over-90-days",
            Flag::SharesToDisabledUsers => "shares-to-disabled-users",
            Flag::SharesToUnknownUsers => "shares-to-unknown-users",
        }
    }
}

/// One account in the review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReviewedUser {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub enabled: bool,
    pub status: AccountStatus,
    pub mfa_enabled: bool,
    pub created_at: String,
    /// Absent: never signed in (since sign-ins were recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sign_in: Option<String>,
    pub datasets_owned: usize,
    /// Shares of their datasets to others (one per dataset and reader).
    pub shares_out: usize,
    /// Datasets others shared with them.
    pub shared_with_them: usize,
    pub flags: Vec<Flag>,
}

/// The review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessReview {
    pub generated_at: String,
    pub users: Vec<ReviewedUser>,
    /// False when it stopped at [`MAX_REVIEWED_USERS`] or at the request's time.
    pub complete: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// What the catalogue says about each user: datasets owned, shares out and in, and the
/// readers of their datasets.
#[derive(Default)]
struct Holdings {
    owned: usize,
    shares_out: usize,
    shared_with_them: usize,
    readers: Vec<String>,
}

/// Builds the review at `now`, stopping at `deadline`.
pub async fn review(
    directory: &dyn UserDirectory,
    store: &dyn ItemStore,
    now: OffsetDateTime,
    deadline: Instant,
) -> Result<AccessReview, ReviewError> {
    let mut users: Vec<User> = Vec::new();
    let mut after: Option<String> = None;
    let mut complete = true;
    loop {
        let page = directory.list(after.as_deref(), DIRECTORY_PAGE).await?;
        users.extend(page.users);
        match page.next {
            Some(_) if users.len() >= MAX_REVIEWED_USERS || Instant::now() >= deadline => {
                complete = false;
                break;
            }
            Some(next) => after = Some(next),
            None => break,
        }
    }
    users.truncate(MAX_REVIEWED_USERS);
    let sign_ins = last_sign_ins(store, &users).await?;
    let holdings = holdings(store).await?;
    let enabled: HashMap<&str, bool> = users.iter().map(|user| (user.id.as_str(), user.enabled)).collect();
    let idle_before = crate::audit::format_time(now - time::Duration::days(IDLE_DAYS));
    let reviewed = users
        .iter()
        .map(|user| {
            let held = holdings.get(user.id.as_str());
            let last_sign_in = sign_ins.get(user.id.as_str()).cloned();
            let mut flags = Vec::new();
            if user.enabled && user.role == Role::Admin && !user.mfa_enabled {
                flags.push(Flag::AdminWithoutMfa);
            }
            if user.enabled && last_sign_in.as_deref().unwrap_or(&user.created_at) < idle_before.as_str() {
                flags.push(Flag::IdleOver90Days);
            }
            let readers = held.map(|h| h.readers.as_slice()).unwrap_or_default();
            if readers.iter().any(|reader| enabled.get(reader.as_str()) == Some(&false)) {
                flags.push(Flag::SharesToDisabledUsers);
            }
            // Only a complete list of accounts can tell that an id has none.
            if complete && readers.iter().any(|reader| !enabled.contains_key(reader.as_str())) {
                flags.push(Flag::SharesToUnknownUsers);
            }
            ReviewedUser {
                id: user.id.as_str().to_owned(),
                email: user.email.as_str().to_owned(),
                role: user.role,
                enabled: user.enabled,
                status: user.status,
                mfa_enabled: user.mfa_enabled,
                created_at: user.created_at.clone(),
                last_sign_in,
                datasets_owned: held.map_or(0, |h| h.owned),
                shares_out: held.map_or(0, |h| h.shares_out),
                shared_with_them: held.map_or(0, |h| h.shared_with_them),
                flags,
            }
        })
        .collect();
    Ok(AccessReview { generated_at: crate::audit::format_time(now), users: reviewed, complete })
}

/// Each user's last sign-in time, where one was recorded.
async fn last_sign_ins(store: &dyn ItemStore, users: &[User]) -> Result<HashMap<String, String>, StoreError> {
    let keys: Vec<Key> = users.iter().map(|user| last_sign_in_key(user.id.as_str())).collect();
    let mut times = HashMap::new();
    for chunk in keys.chunks(BATCH) {
        for Item { key, body, .. } in store.get_many(chunk).await? {
            if let (Some(subject), Some(at)) = (key.pk.strip_prefix(crate::auth::standing::PARTITION_PREFIX), body["at"].as_str()) {
                times.insert(subject.to_owned(), at.to_owned());
            }
        }
    }
    Ok(times)
}

/// The live datasets of the catalogue, per owner and reader.
async fn holdings(store: &dyn ItemStore) -> Result<HashMap<String, Holdings>, StoreError> {
    let mut holdings: HashMap<String, Holdings> = HashMap::new();
    for pk in crate::keys::dataset::catalogue_partitions() {
        let mut after: Option<String> = None;
        loop {
            let page = store.query_keys(&pk, crate::keys::dataset::ENTRY_PREFIX, after.as_deref(), BATCH).await?;
            let records: Vec<Key> = page
                .items
                .iter()
                .filter_map(|entry| entry.sk.strip_prefix(crate::keys::dataset::ENTRY_PREFIX))
                .map(crate::keys::dataset::record_key)
                .collect();
            for item in store.get_many(&records).await? {
                let record: DatasetRecord = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("dataset: {e}")))?;
                if record.deleted_at.is_some() {
                    continue;
                }
                for reader in &record.readers {
                    holdings.entry(reader.clone()).or_default().shared_with_them += 1;
                }
                let owner = holdings.entry(record.owner.clone()).or_default();
                owner.owned += 1;
                owner.shares_out += record.readers.len();
                owner.readers.extend(record.readers);
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    Ok(holdings)
}

/// The review as CSV, one account per line, flags joined by `;`.
pub fn csv(review: &AccessReview, max_bytes: usize) -> Result<String, crate::domain::error::ExportError> {
    let header = [
        "id",
        "email",
        "role",
        "enabled",
        "status",
        "mfa_enabled",
        "created_at",
        "last_sign_in",
        "datasets_owned",
        "shares_out",
        "shared_with_them",
        "flags",
    ]
    .map(str::to_owned);
    let rows = review.users.iter().map(|user| {
        [
            user.id.clone(),
            user.email.clone(),
            user.role.as_str().to_owned(),
            user.enabled.to_string(),
            serde_json::to_value(user.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            user.mfa_enabled.to_string(),
            user.created_at.clone(),
            user.last_sign_in.clone().unwrap_or_default(),
            user.datasets_owned.to_string(),
            user.shares_out.to_string(),
            user.shared_with_them.to_string(),
            user.flags.iter().map(|flag| flag.as_str()).collect::<Vec<_>>().join(";"),
        ]
    });
    crate::domain::export::csv_text(std::iter::once(header).chain(rows), max_bytes)
}
