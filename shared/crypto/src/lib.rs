//! Cryptography of our own making, on aws-lc-rs: list cursors a client can't forge.
//! (Envelope encryption of personal data will live here too.)

pub mod cursor;
