//! The storage ports: the item store ([`ItemStore`]) and the blob store ([`BlobStore`]);
//! where audit records live ([`audit`]); the fixed-window rate limits counted in the item
//! store ([`rate`]); and the look-up keys of e-mail addresses ([`email_index`]). Narrow
//! traits that the adapters implement, one crate each (`store-embedded`, `store-aws`), so a
//! change in one adapter rebuilds neither the API nor the other adapter.

pub mod audit;
mod blob;
pub mod email_index;
mod item;
pub mod rate;

pub use blob::{BlobError, BlobKey, BlobStore, NoBlobStore};
pub use item::*;
