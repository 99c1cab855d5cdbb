//! The domain: datasets, forecasts, analyses, exports, users, roles and audit records, as types
//! that parse (invalid ids, names or CSV content can't be constructed). It knows nothing
//! of HTTP, storage or policies: its refusals are its own errors ([`error`]), which the
//! API's edge gives statuses.

pub mod analysis;
pub mod audit;
pub mod csv_table;
pub mod dataset;
pub mod error;
pub mod export;
pub mod forecast;
pub mod formula;
pub mod ids;
mod role;
pub mod settings;
pub mod text;
pub mod user;

pub use role::Role;
