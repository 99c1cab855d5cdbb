//! The look-up key an e-mail address is found by, for directories that keep accounts in
//! the item store: the address itself can't be the key, since keys are never encrypted.
//!
//! The API crate's `blind_index::KeyedEmailIndex` makes it an HMAC of the address under a
//! key of its own (a *blind index*): equal for equal addresses, and telling nothing of the
//! address to whoever reads the table. [`PlainIndex`] uses the address as it is, for tests
//! of the callers only.

use crate::StoreError;

/// Makes the look-up keys of e-mail addresses.
#[async_trait::async_trait]
pub trait EmailIndex: Send + Sync + std::fmt::Debug {
    /// The key `email` (already normalised) is looked up by: the same for the same
    /// address, different for different ones.
    async fn email_index(&self, email: &str) -> Result<String, StoreError>;
}

/// The address as its own index: for tests of the callers, never for stored data.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainIndex;

#[async_trait::async_trait]
impl EmailIndex for PlainIndex {
    async fn email_index(&self, email: &str) -> Result<String, StoreError> {
        Ok(email.to_owned())
    }
}
