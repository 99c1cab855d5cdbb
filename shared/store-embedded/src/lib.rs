//! The embedded adapters behind the local server and most tests: items and audit records
//! in one SQLite file, blobs as files in the data folder.

mod fs;
mod sqlite;

pub use fs::FsBlobStore;
pub use sqlite::SqliteStore;
