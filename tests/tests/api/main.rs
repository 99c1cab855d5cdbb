//! API tests: the whole local server, driven over HTTP, plus in-process checks of the
//! same handlers with the files `sam local invoke` would send.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code: a failed step fails the test loudly")]

mod analysis;
mod at_rest;
mod audit;
mod audit_admin;
#[path = "../support/audit_backdoor.rs"]
mod audit_backdoor;
#[path = "../support/audit_walk.rs"]
mod audit_walk;
mod bad_input;
mod contract;
mod cursors;
mod detection;
mod edge;
mod exports;
mod forecasts;
mod helpers;
mod jwks_client;
mod jwt_attacks;
mod local_server;
mod matrix;
mod partitions;
mod personal_data;
mod racing;
mod retention;
mod session;
mod settings;
mod sign_in;
mod standing;
mod users;
mod web_app;
