//! Users as the API and the directory see them: an e-mail address that signs in, an
//! optional display name, a role, and the account's state.

use serde::{Deserialize, Serialize};

use super::Role;
use super::error::Invalid;
use super::ids::{UserId, truncate};
use super::text::{code_point, first_deceptive};

/// Longest e-mail address (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest display name.
pub const MAX_NAME_CHARS: usize = 100;

/// An e-mail address, trimmed and lower-cased: the one form it is stored, compared and
/// looked up in, so `Alice@Example.com` and `alice@example.com` are one account (as in a
/// Cognito pool with case-insensitive user names).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain` with a dotted domain, no spaces or control characters, at
    /// most 254 characters (64 before the `@`). Deliverability is the invitation's test.
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let email = text.trim().to_lowercase();
        let refuse = |why: &str| Err(Invalid::new("email", format!("`{}` is not an e-mail address: {why}", truncate(text, 60))));
        if email.chars().count() > MAX_EMAIL_CHARS {
            return refuse("it is too long");
        }
        let Some((local, domain)) = email.rsplit_once('@') else { return refuse("it has no `@`") };
        if local.is_empty() || local.chars().count() > 64 || local.contains('@') {
            return refuse("the part before the `@` is empty, too long or holds another `@`");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-');
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return refuse("the domain needs a dot and no empty parts");
        }
        if email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | ':' | '\\' | '"' | '[' | ']'))
        {
            return refuse("it holds a space or a character addresses don't have");
        }
        if let Some(c) = first_deceptive(&email, &[]) {
            return refuse(&format!("it holds the invisible character {}", code_point(c)));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters after trimming, nothing invisible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let name = text.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(Invalid::new("name", format!("a name has 1 to {MAX_NAME_CHARS} characters")));
        }
        if let Some(c) = first_deceptive(name, &[]) {
            return Err(Invalid::new("name", format!("a name may not hold the invisible character {}", code_point(c))));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where an account is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Invited; must choose a password at first sign-in (Cognito's `FORCE_CHANGE_PASSWORD`).
    Invited,
    /// Has signed in and chosen a password (Cognito's `CONFIRMED`).
    Active,
}

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: Option<DisplayName>,
    pub role: Role,
    pub enabled: bool,
    pub status: AccountStatus,
    /// Whether a TOTP authenticator is set up.
    pub mfa_enabled: bool,
    /// When the account was created, RFC 3339 UTC.
    pub created_at: String,
}

/// Who an admin invites (SR-10: accounts exist only by invitation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub email: Email,
    pub name: Option<DisplayName>,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(Email::parse("  Alice.Lindqvist+forecast@Example.COM ").unwrap().as_str(), "alice.lindqvist+forecast@example.com");
        assert_eq!(Email::parse("ö@bücher.example").unwrap().as_str(), "ö@bücher.example");
    }

    #[test]
    fn what_is_not_an_address_is_refused_saying_why() {
        for (text, why) in [
            ("alice", "it has no `@`"),
            ("@example.com", "the part before the `@` is empty"),
            ("alice@localhost", "the domain needs a dot"),
            ("alice@example..com", "the domain needs a dot"),
            ("alice@-example.com", "the domain needs a dot"),
            ("al ice@example.com", "it holds a space"),
            ("alice@exa<mple.com", "it holds a space or a character"),
            ("alice\u{202E}@example.com", "the invisible character U+202E"),
        ] {
            let error = Email::parse(text).unwrap_err();
            assert_eq!(error.field, "email");
            assert!(error.detail.contains(why), "{text}: {}", error.detail);
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let longest = format!("{}@{}.com", "a".repeat(64), "b".repeat(254 - 64 - 1 - 4));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        assert!(Email::parse(&format!("{longest}x")).is_err());
    }

    #[test]
    fn names_are_trimmed_bounded_and_visible() {
        assert_eq!(DisplayName::parse("  Marguerite Lindqvist ").unwrap().as_str(), "Marguerite Lindqvist");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert!(DisplayName::parse("Eve\u{200B}").unwrap_err().detail.contains("U+200B"));
    }
}
