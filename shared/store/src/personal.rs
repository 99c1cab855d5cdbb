//! The one seam personal data (e-mail addresses, names) passes through on its way into and
//! out of the item store, and the look-up key an e-mail is found by.
//!
//! Every record holding personal data calls [`PersonalData::seal`] before it writes and
//! [`PersonalData::open`] after it reads; nothing else touches those fields. The API
//! crate's `personal::SealedPersonalData` encrypts them (AES-256-GCM under data keys the
//! personal-data master key wraps) and keys the e-mail index; [`Plaintext`] stores them
//! as they are, for tests of the callers only.

use serde_json::Value;

/// A personal field could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonalDataError {
    /// The stored form is not one this seam wrote.
    #[error("personal field `{field}` of `{record}` does not open")]
    Unreadable { record: String, field: &'static str },
    /// The keys that seal and open fields are out of reach.
    #[error("personal data keys unavailable: {0}")]
    Unavailable(String),
}

/// Seals and opens personal fields, and makes look-up keys for e-mail addresses.
#[async_trait::async_trait]
pub trait PersonalData: Send + Sync + std::fmt::Debug {
    /// The stored form of `value`, field `field` of record `record` (its key): an
    /// implementation that encrypts binds both, so a sealed value copied to another
    /// record or field does not open there.
    async fn seal(&self, record: &str, field: &'static str, value: &str) -> Result<Value, PersonalDataError>;

    /// The value [`PersonalData::seal`] stored for the same record and field.
    async fn open(&self, record: &str, field: &'static str, stored: &Value) -> Result<String, PersonalDataError>;

    /// The key an e-mail address (already normalised) is looked up by: the same for the
    /// same address, different for different ones, and, once keyed, telling nothing of it.
    async fn email_index(&self, email: &str) -> Result<String, PersonalDataError>;
}

/// Personal data stored as it is: the seam before field encryption plugs in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Plaintext;

#[async_trait::async_trait]
impl PersonalData for Plaintext {
    async fn seal(&self, _record: &str, _field: &'static str, value: &str) -> Result<Value, PersonalDataError> {
        Ok(Value::String(value.to_owned()))
    }

    async fn open(&self, record: &str, field: &'static str, stored: &Value) -> Result<String, PersonalDataError> {
        stored.as_str().map(str::to_owned).ok_or_else(|| PersonalDataError::Unreadable { record: record.to_owned(), field })
    }

    async fn email_index(&self, email: &str) -> Result<String, PersonalDataError> {
        Ok(email.to_owned())
    }
}
