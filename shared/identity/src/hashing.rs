//! Password hashing for the local identity provider (SR-07; Cognito hashes its own).
//!
//! Argon2id rather than bcrypt, with parameters stronger than bcrypt at cost 12:
//! - memory-hard: each guess needs 64 MiB, which is what makes GPU and ASIC farms slow,
//!   where bcrypt needs 4 KiB;
//! - no length limit: bcrypt reads only the first 72 bytes, and the policy accepts 256
//!   characters (a 64-character passphrase in Greek or Cyrillic is already ~128 bytes);
//! - the parameters are RFC 9106's second recommended option (m = 64 MiB, t = 3, p = 4),
//!   above OWASP's minimum for Argon2id (m = 19 MiB, t = 2, p = 1). One hash takes about
//!   as long as bcrypt at cost 12 here (see BENCHMARKS.md).
//!
//! Hashes are PHC strings (`$argon2id$v=19$m=65536,t=3,p=4$salt$hash`): they carry their
//! parameters, so raising them later leaves old hashes verifiable ([`PasswordHasher::needs_rehash`]).

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory per hash, in KiB.
pub const MEMORY_KIB: u32 = 64 * 1024;
/// Passes over the memory.
pub const ITERATIONS: u32 = 3;
/// Lanes.
pub const PARALLELISM: u32 = 4;

/// Hashing failed: the parameters or the system's random source are broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashingError(String);

/// Hashes and verifies passwords with Argon2id.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
    /// The hash [`PasswordHasher::verify_nobody`] checks against, made with these
    /// parameters on first use.
    decoy: OnceLock<Option<String>>,
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new(MEMORY_KIB, ITERATIONS, PARALLELISM).unwrap_or_else(|_| Self { params: Params::DEFAULT, decoy: OnceLock::new() })
    }
}

impl PasswordHasher {
    /// A hasher with other parameters (benchmarks compare them).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, HashingError> {
        let params = Params::new(memory_kib, iterations, parallelism, None).map_err(|e| HashingError(e.to_string()))?;
        Ok(Self { params, decoy: OnceLock::new() })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// The PHC string of `password` under a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String, HashingError> {
        let hash = self.argon2().hash_password(password.as_bytes()).map_err(|e| HashingError(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches `stored`. A stored string that is not an Argon2 hash
    /// matches nothing.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        PasswordHash::new(stored).is_ok_and(|parsed| self.argon2().verify_password(password.as_bytes(), &parsed).is_ok())
    }

    /// Does the work of a verification and fails: what a sign-in for an unknown account
    /// runs, so that it takes as long as one with a wrong password and timing does not
    /// tell which accounts exist.
    pub fn verify_nobody(&self, password: &str) -> bool {
        // The decoy belongs to no account, so its password is no secret: what matters is
        // that the work is the same.
        let decoy = self.decoy.get_or_init(|| self.hash("decoy").ok());
        if let Some(decoy) = decoy {
            let _ = self.verify(password, decoy);
        }
        false
    }

    /// Whether `stored` was made with other parameters than this hasher's: the next
    /// successful sign-in should store a fresh hash.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else { return true };
        let param = |name: &str| parsed.params.get_decimal(name);
        parsed.algorithm.as_str() != "argon2id"
            || param("m") != Some(self.params.m_cost())
            || param("t") != Some(self.params.t_cost())
            || param("p") != Some(self.params.p_cost())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: these tests check behaviour, not cost.
    fn hasher() -> PasswordHasher {
        PasswordHasher::new(64, 1, 1).unwrap()
    }

    #[test]
    fn a_sign_in_for_nobody_does_a_verification_and_fails() {
        let hasher = hasher();
        assert!(hasher.decoy.get().is_none());
        assert!(!hasher.verify_nobody("Tangerine!Cobalt7Drift"));
        // The decoy hash was made and checked against: the same work as a real account's.
        assert!(hasher.decoy.get().is_some_and(|decoy| decoy.as_deref().is_some_and(|d| d.starts_with("$argon2id$"))));
    }

    #[test]
    fn any_one_parameter_changed_asks_for_a_fresh_hash() {
        let current = hasher().hash("Tangerine!Cobalt7Drift").unwrap();
        assert!(!hasher().needs_rehash(&current));
        for other in [PasswordHasher::new(128, 1, 1), PasswordHasher::new(64, 2, 1), PasswordHasher::new(64, 1, 2)] {
            assert!(other.unwrap().needs_rehash(&current), "{current}");
        }
        let argon2i = current.replacen("$argon2id$", "$argon2i$", 1);
        assert!(hasher().needs_rehash(&argon2i));
        assert!(hasher().needs_rehash("not a hash"));
    }

    #[test]
    fn a_hash_verifies_its_password_and_no_other() {
        let hasher = hasher();
        let stored = hasher.hash("Tangerine!Cobalt7Drift").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{stored}");
        assert!(hasher.verify("Tangerine!Cobalt7Drift", &stored));
        assert!(!hasher.verify("Tangerine!Cobalt7Drifu", &stored));
        assert!(!hasher.verify("", &stored));
        assert!(!hasher.verify("Tangerine!Cobalt7Drift", "not a hash"));
        assert!(!hasher.verify_nobody("Tangerine!Cobalt7Drift"));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        let hasher = hasher();
        assert_ne!(hasher.hash("Tangerine!Cobalt7Drift").unwrap(), hasher.hash("Tangerine!Cobalt7Drift").unwrap());
    }

    #[test]
    fn the_default_parameters_are_rfc_9106s_and_weaker_hashes_need_a_rehash() {
        let strong = PasswordHasher::default();
        assert_eq!((strong.params.m_cost(), strong.params.t_cost(), strong.params.p_cost()), (65_536, 3, 4));
        let weak = hasher().hash("Tangerine!Cobalt7Drift").unwrap();
        assert!(strong.needs_rehash(&weak));
        assert!(!hasher().needs_rehash(&weak));
        assert!(strong.needs_rehash("$2b$12$abcdefghijklmnopqrstuu"), "bcrypt");
        // Old parameters still verify.
        assert!(strong.verify("Tangerine!Cobalt7Drift", &weak));
    }
}
