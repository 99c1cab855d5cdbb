//! Cryptography of our own making, on aws-lc-rs: list cursors a client can't forge, and
//! envelope encryption (values sealed with AES-256-GCM under data keys that master keys
//! wrap, cached within limits), with the key provider port and its local adapter.

pub mod cache;
pub mod cursor;
pub mod envelope;
pub mod keys;
pub mod private_file;
