//! The library every function, the local server and the tests share: configuration,
//! authentication, authorization, audit, storage ports and adapters, domain types and
//! the route handlers themselves.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod blob;
pub mod compute;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod forecast;
pub mod handlers;
pub mod http;
pub mod identity;
pub mod lambda;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod store;
pub mod telemetry;

pub use routes::{Route, handle};
pub use state::AppState;
