//! API tests: the whole local server, driven over HTTP, plus in-process checks of the
//! same handlers with the files `sam local invoke` would send.

mod audit;
mod bad_input;
mod contract;
mod edge;
mod helpers;
mod jwt_attacks;
mod matrix;
