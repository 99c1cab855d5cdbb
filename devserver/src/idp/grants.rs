//! What the identity provider hands out and keeps: authorization codes (single use, five
//! minutes), refresh tokens (rotated on every use, grouped in families that die whole when
//! a used token comes back), and the short-lived challenges between sign-in steps.
//!
//! Codes, refresh tokens and challenges are random 256-bit strings; the store holds only
//! their SHA-256, so reading the store gives no usable token.
//!
//! | key (pk / sk) | holds |
//! |---|---|
//! | `IDP#CODE#<hash>` / `CODE` | the authorization request it answers, and its family once redeemed |
//! | `IDP#REFRESH#<hash>` / `TOKEN` | family, subject, client, scope; whether it was used |
//! | `IDP#FAMILY#<id>` / `FAMILY` | one sign-in's chain of refresh tokens: subject, client, expiry, revoked |
//! | `IDP#CHALLENGE#<hash>` / `STEP` | a sign-in half done (password ok, new password or code due) |

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use shared::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// Codes are good for five minutes (Cognito's limit too).
pub const CODE_SECONDS: i64 = 5 * 60;
/// A sign-in's refresh tokens stop working seven days after it (SR-02).
pub const REFRESH_SECONDS: i64 = 7 * 24 * 3600;
/// A half-done sign-in (a new password or a code due) must finish within this.
pub const CHALLENGE_SECONDS: i64 = 5 * 60;

/// A fresh random secret, base64url (43 characters).
pub fn secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| StoreError::Unavailable("no random bytes".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()))
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_value(item.body.clone()).map_err(|e| StoreError::Corrupt(format!("{}: {e}", item.key.pk)))
}

/// What an authorization request asked for; carried from the sign-in form to the code,
/// and from the code to the tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: String,
}

/// A code as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRecord {
    pub request: AuthRequest,
    pub subject: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// Set when redeemed: a second redemption revokes what the first one got.
    pub family: Option<String>,
}

pub fn code_key(code: &str) -> Key {
    Key::new(format!("IDP#CODE#{}", hash(code)), "CODE")
}

/// A refresh token as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRecord {
    pub family: String,
    pub subject: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    pub used: bool,
}

pub fn refresh_key(token: &str) -> Key {
    Key::new(format!("IDP#REFRESH#{}", hash(token)), "TOKEN")
}

/// One sign-in's family of refresh tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyRecord {
    pub subject: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

pub fn family_key(family: &str) -> Key {
    Key::new(format!("IDP#FAMILY#{family}"), "FAMILY")
}

/// Where a sign-in stands between its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The temporary password was right; a password of the user's own is due.
    NewPassword,
    /// The password was right; the TOTP code is due.
    Totp,
    /// The password was right; an admin without an authenticator must set one up.
    EnrollTotp,
}

/// A sign-in half done.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRecord {
    pub step: Step,
    pub subject: String,
    pub request: AuthRequest,
    pub expires_at: i64,
    /// The key being set up, for [`Step::EnrollTotp`].
    pub totp_secret: Option<String>,
}

pub fn challenge_key(challenge: &str) -> Key {
    Key::new(format!("IDP#CHALLENGE#{}", hash(challenge)), "STEP")
}

/// The write that creates an item of `value` at `key`.
pub fn create<T: Serialize>(key: Key, value: &T) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put { item: Item { key, version: 1, body: to_json(value)? }, condition: Condition::Absent })
}

/// The write that replaces the item read at `version` with `value`.
pub fn replace<T: Serialize>(key: Key, version: u64, value: &T) -> Result<WriteOp, StoreError> {
    Ok(WriteOp::Put { item: Item { key, version: version + 1, body: to_json(value)? }, condition: Condition::Version(version) })
}

/// The item at `key` and its version, read as `T`.
pub async fn read<T: for<'de> Deserialize<'de>>(store: &dyn ItemStore, key: &Key) -> Result<Option<(u64, T)>, StoreError> {
    match store.get(key).await? {
        Some(item) => Ok(Some((item.version, from_item(&item)?))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_only_their_hashes_make_keys() {
        let (a, b) = (secret().unwrap(), secret().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        let key = refresh_key(&a);
        assert!(!key.pk.contains(&a), "{key:?}");
        assert_eq!(key, refresh_key(&a));
        assert_ne!(code_key(&a).pk, refresh_key(&a).pk);
    }
}
