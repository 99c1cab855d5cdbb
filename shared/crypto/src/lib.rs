//! Cryptography of our own making, on aws-lc-rs: list cursors a client can't forge, and
//! envelope encryption (values sealed with AES-256-GCM under data keys that master keys
//! wrap, cached within limits), with the key provider port and its local adapter.

pub mod cache;
pub mod cursor;
pub mod envelope;
pub mod keys;
pub mod private_file;
pub mod signing;

#[cfg(test)]
mod tests {
    /// aws-lc is built without CPU jitter entropy (`.cargo/config.toml`): its random
    /// generator is seeded by the kernel's getrandom, with RDRAND/RNDR as the second
    /// source. Jitter sampling costs ~40 ms at the first random number of every process,
    /// which a Lambda pays on its first TLS handshake after each cold start.
    #[test]
    fn random_numbers_are_seeded_by_the_kernel_not_cpu_jitter() {
        assert_eq!(aws_lc_rs::try_fips_cpu_jitter_entropy(), Err("FIPS CPU Jitter Entropy not enabled!"));
    }
}
