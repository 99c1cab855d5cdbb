//! Every kind of record the item store holds, and how each attribute of it is kept at rest:
//! the one table [`crate::sealed_items::SealedItems`] applies to every write and read, so
//! no handler chooses (or can forget) what is encrypted.
//!
//! Each attribute of a record body is one of:
//! - **encrypted** (and signed): personal data and any free text that can hold it (e-mail
//!   addresses, names, dataset names and descriptions, column names, preview cells), and
//!   secrets (password hashes, TOTP keys, the deployment's own keys);
//! - **plain**: left out of the signature, for attributes the database itself must read
//!   (none yet: keys are the item's partition and sort key, which are always plain);
//! - **signed**: every other attribute. Stored in clear, so an operator can read who owns
//!   what, but any change to it outside the application makes the record refuse to open.
//!
//! A key that matches no record type can't be written: a new kind of record is declared
//! here first, with its personal fields named.

/// How a record type's keys look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Exactly this text.
    Exact(&'static str),
    /// This text, then anything.
    Prefix(&'static str),
}

impl Part {
    fn matches(self, text: &str) -> bool {
        match self {
            Part::Exact(exact) => text == exact,
            Part::Prefix(prefix) => text.starts_with(prefix),
        }
    }
}

/// One kind of record and the treatment of its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordType {
    /// Bound into every sealed record of the type: a record copied under another type's
    /// key does not open.
    pub name: &'static str,
    pub pk: Part,
    pub sk: Part,
    pub encrypted: &'static [&'static str],
    pub plain: &'static [&'static str],
}

use Part::{Exact, Prefix};

const fn signed(name: &'static str, pk: Part, sk: Part) -> RecordType {
    RecordType { name, pk, sk, encrypted: &[], plain: &[] }
}

/// Every record type. Order doesn't matter: no key matches two (a test checks it).
pub const RECORD_TYPES: &[RecordType] = &[
    // Datasets and forecasts (`crate::keys`).
    RecordType {
        name: "dataset",
        pk: Prefix("DATASET#"),
        sk: Exact("META"),
        encrypted: &["name", "description", "columns", "preview", "time_axis"],
        plain: &[],
    },
    signed("dataset-catalogue-entry", Prefix("DATASETS#"), Prefix("DATASET#")),
    signed("dataset-access-entry", Prefix("ACCESS#"), Prefix("DATASET#")),
    RecordType { name: "forecast", pk: Prefix("FORECAST#"), sk: Exact("META"), encrypted: &["target_column"], plain: &[] },
    signed("forecast-catalogue-entry", Prefix("FORECASTS#"), Prefix("FORECAST#")),
    signed("forecast-owner-entry", Prefix("FORECASTS_BY#"), Prefix("FORECAST#")),
    signed("forecast-dataset-entry", Prefix("FORECASTS_OF#"), Prefix("FORECAST#")),
    // Who may act (`crate::auth`).
    signed("security-record", Prefix("USER#"), Exact("SECURITY")),
    // When each user last signed in (`crate::access_review`).
    signed("last-sign-in", Prefix("USER#"), Exact("SIGN_IN")),
    signed("admin-roster", Exact("ROSTER"), Exact("ADMINS")),
    // The deployment's own keys.
    RecordType { name: "cursor-key", pk: Exact("CONFIG"), sk: Exact("CURSOR_KEY"), encrypted: &["key"], plain: &[] },
    RecordType { name: "blind-index-key", pk: Exact("CONFIG"), sk: Exact("BLIND_INDEX_KEY"), encrypted: &["key"], plain: &[] },
    signed("reseal-progress", Exact("CONFIG"), Exact("RESEAL_PROGRESS")),
    // Deleted datasets and forecasts waiting for their purge (`crate::keys::purge`).
    signed("purge-entry", Prefix("PURGE#"), Prefix("")),
    // Blocked addresses and the detector's findings (`crate::blocklist`, `crate::detector`).
    signed("blocklist", Exact("BLOCKLIST"), Exact("CURRENT")),
    signed("finding", Exact("FINDINGS"), Prefix("")),
    // What admins change at run time (`crate::runtime_settings`).
    signed("settings", Exact("SETTINGS"), Exact("CURRENT")),
    // Where each shard's chain of audit digests stands (`crate::audit_digest`).
    signed("audit-digest-head", Exact("AUDIT_DIGESTS"), Prefix("HEAD#")),
    // The embedded user directory (`identity::embedded`).
    RecordType { name: "account", pk: Prefix("IDP#USER#"), sk: Exact("ACCOUNT"), encrypted: &["email", "name", "phone"], plain: &[] },
    RecordType {
        name: "credentials",
        pk: Prefix("IDP#USER#"),
        sk: Exact("CREDENTIALS"),
        encrypted: &["password_hash", "totp_secret"],
        plain: &[],
    },
    signed("email-index-entry", Prefix("IDP#EMAIL#"), Exact("USER")),
    signed("user-list-entry", Exact("IDP#USERS"), Prefix("")),
    RecordType { name: "outbox-message", pk: Exact("IDP#OUTBOX"), sk: Prefix(""), encrypted: &["to", "body"], plain: &[] },
    // The local identity provider's grants (the local server's `idp::grants`).
    signed("authorization-code", Prefix("IDP#CODE#"), Exact("CODE")),
    signed("refresh-token", Prefix("IDP#REFRESH#"), Exact("TOKEN")),
    signed("refresh-family", Prefix("IDP#FAMILY#"), Exact("FAMILY")),
    RecordType { name: "sign-in-challenge", pk: Prefix("IDP#CHALLENGE#"), sk: Exact("STEP"), encrypted: &["totp_secret"], plain: &[] },
];

/// The record type of the item at `pk`/`sk`, if any is declared.
pub fn record_type(pk: &str, sk: &str) -> Option<&'static RecordType> {
    RECORD_TYPES.iter().find(|record| record.pk.matches(pk) && record.sk.matches(sk))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One key of each type, as the code that writes it builds it.
    fn keys() -> Vec<(&'static str, crate::store::Key)> {
        let dataset = domain::ids::DatasetId::new();
        let forecast = domain::ids::ForecastId::new();
        let [catalogue, by_owner, of_dataset] = crate::keys::forecast::entries(&forecast, "u-1", &dataset);
        vec![
            ("dataset", crate::keys::dataset::record(&dataset)),
            ("dataset-catalogue-entry", crate::keys::dataset::catalogue_entry(&dataset)),
            ("dataset-access-entry", crate::keys::dataset::access_entry("u-1", &dataset)),
            ("forecast", crate::keys::forecast::record(&forecast)),
            ("forecast-catalogue-entry", catalogue),
            ("forecast-owner-entry", by_owner),
            ("forecast-dataset-entry", of_dataset),
            ("security-record", crate::auth::standing::key("u-1")),
            ("last-sign-in", crate::access_review::last_sign_in_key("u-1")),
            ("admin-roster", crate::auth::roster::key()),
            ("cursor-key", crate::cursor::key_item()),
            ("blind-index-key", crate::blind_index::index_key_item()),
            ("reseal-progress", crate::reseal::progress_key()),
            ("audit-digest-head", crate::audit_digest::head_key(3)),
            ("settings", crate::runtime_settings::key()),
            ("blocklist", crate::blocklist::key()),
            ("purge-entry", crate::keys::purge::entry(crate::keys::purge::Kind::Dataset, "d1", "2026-12-02T10:00:00.000Z")),
        ]
    }

    #[test]
    fn every_key_the_api_writes_has_exactly_its_own_type() {
        for (expected, key) in keys() {
            let matching: Vec<&str> =
                RECORD_TYPES.iter().filter(|record| record.pk.matches(&key.pk) && record.sk.matches(&key.sk)).map(|r| r.name).collect();
            assert_eq!(matching, [expected], "{key:?}");
        }
    }

    #[test]
    fn names_are_unique_and_nothing_is_both_encrypted_and_plain() {
        let mut names: Vec<&str> = RECORD_TYPES.iter().map(|record| record.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RECORD_TYPES.len());
        for record in RECORD_TYPES {
            assert!(record.encrypted.iter().all(|name| !record.plain.contains(name)), "{}", record.name);
        }
    }

    #[test]
    fn near_miss_keys_are_undeclared() {
        assert_eq!(record_type("DATASET#1", "PREVIEW"), None);
        assert_eq!(record_type("ROSTER", "OTHERS"), None);
        assert_eq!(record_type("CONFIG", "SOMETHING_ELSE"), None);
        assert_eq!(record_type("SESSION#1", "META"), None);
        assert_eq!(record_type("IDP#USER#1", "ACCOUNT").map(|r| r.name), Some("account"));
        assert_eq!(record_type("IDP#USERS", "0193").map(|r| r.name), Some("user-list-entry"));
    }
}
