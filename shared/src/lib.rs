//! The API: configuration, authentication, authorization, the audit of each request, list
//! cursors, the HTTP edge, the route table and every handler. Every function, the local
//! server and the tests share it.
//!
//! The layers below are crates of their own, re-exported here under their names: the
//! forecast engine ([`forecast`]), the domain ([`domain`]), the storage ports ([`store`]);
//! the token crate is re-exported through [`auth`], the cursor seal through [`cursor`]. The storage adapters are not: the functions link `store-aws`, the local
//! server `store-embedded` (and `store-aws` for its AWS-local mode), so a change in one
//! adapter rebuilds neither this crate nor the other adapter.

pub mod access_review;
pub mod audit;
pub mod audit_digest;
pub mod audit_tags;
pub mod auth;
pub mod authz;
pub mod blind_index;
pub mod blocklist;
pub mod branch_keys;
pub mod compute;
pub mod config;
pub mod cursor;
pub mod detector;
pub mod error;
pub mod handlers;
pub mod http;
pub mod keys;
pub mod openapi;
pub mod personal_data;
pub mod purge;
pub mod records;
pub mod reseal;
pub mod routes;
pub mod runtime_settings;
pub mod sealed_blobs;
pub mod sealed_items;
pub mod session;
pub mod state;
pub mod telemetry;

pub use crypto;
pub use domain;
pub use forecast;
pub use identity;
pub use routes::{Route, handle};
pub use state::AppState;
pub use store;
