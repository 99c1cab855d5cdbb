//! The storage ports: the item store ([`ItemStore`]), the blob store ([`BlobStore`]) and
//! where audit records live ([`audit`]), and the fixed-window rate limits counted in the
//! item store ([`rate`]). Narrow traits that the adapters implement, one
//! crate each (`store-embedded`, `store-aws`), so a change in one adapter rebuilds neither
//! the API nor the other adapter.

pub mod audit;
mod blob;
mod item;
pub mod rate;

pub use blob::{BlobError, BlobKey, BlobStore, NoBlobStore};
pub use item::*;
