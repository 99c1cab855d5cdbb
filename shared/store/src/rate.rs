//! Fixed-window rate limits counted in the item store (SR-08): sign-in attempts per IP and
//! per account, calls to `/auth/*` per IP, API calls per user.
//!
//! Each window of each subject is one counter ([`crate::ItemStore::increment`]), so the
//! limit is exact across any number of Lambda instances or local server threads: of 50
//! concurrent attempts, exactly `max` see a count within the limit. A window is a fixed
//! slice of the clock (`now - now % window`), so a subject can make up to `2 × max`
//! attempts across a window boundary; a lockout ([`Backoff`]) stacks longer windows on top.
//!
//! Counter keys hold a digest of the subject, not the IP address or e-mail itself.

use crate::{ItemStore, Key, StoreError};

/// Every counter's partition starts with this (IAM holds the functions' updates to it).
pub const PARTITION_PREFIX: &str = "RATE#";

/// Seconds a counter is kept past its window, for clocks a little apart.
const EXPIRY_SLACK_SECONDS: i64 = 60;

/// At most `max` events per `window_seconds` for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Names the limit in counter keys and audit records (`sign-in-ip`, `api-user`).
    pub name: &'static str,
    pub max: u64,
    pub window_seconds: i64,
}

/// What a limit says about one more event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit; `remaining` more fit in this window.
    Allowed { remaining: u64 },
    /// Over the limit until the window ends, in `retry_after` seconds.
    Limited { retry_after: u64 },
}

impl RateLimit {
    /// Counts one event of `subject` at `now` (Unix seconds) and says whether it is within
    /// the limit. The event counts even when it is refused: hammering a closed door keeps it
    /// closed, and the count says how hard it was tried.
    pub async fn hit(&self, store: &dyn ItemStore, subject: &str, now: i64) -> Result<Verdict, StoreError> {
        let window = self.window_start(now);
        let count = store.increment(&self.key(subject, window), window + self.window_seconds + EXPIRY_SLACK_SECONDS).await?;
        Ok(if count <= self.max {
            Verdict::Allowed { remaining: self.max - count }
        } else {
            Verdict::Limited { retry_after: self.retry_after(now) }
        })
    }

    /// Seconds until the limit lets `subject` in again, `None` when it does now. Counts nothing.
    pub async fn blocked_for(&self, store: &dyn ItemStore, subject: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let count = store.counter(&self.key(subject, self.window_start(now)), now).await?;
        Ok((count >= self.max).then(|| self.retry_after(now)))
    }

    fn window_start(&self, now: i64) -> i64 {
        let window = self.window_seconds.max(1);
        now - now.rem_euclid(window)
    }

    fn retry_after(&self, now: i64) -> u64 {
        u64::try_from(self.window_start(now) + self.window_seconds - now).unwrap_or(1).max(1)
    }

    /// The counter of `subject`'s window starting at `window_start`.
    fn key(&self, subject: &str, window_start: i64) -> Key {
        Key::new(format!("{PARTITION_PREFIX}{}#{}", self.name, digest(subject)), window_start.to_string())
    }
}

/// A lockout that grows with persistence: each tier is a limit on failures over a longer
/// window, and the subject is locked while any tier is full, for as long as the longest
/// full tier's window still runs. Five failures in a minute lock for the rest of the
/// minute; ten in a quarter of an hour, for the rest of the quarter; and so on.
#[derive(Debug, Clone, Copy)]
pub struct Backoff(pub &'static [RateLimit]);

impl Backoff {
    /// Seconds `subject` stays locked, `None` when it isn't.
    pub async fn locked_for(&self, store: &dyn ItemStore, subject: &str, now: i64) -> Result<Option<u64>, StoreError> {
        let mut longest = None;
        for tier in self.0 {
            if let Some(wait) = tier.blocked_for(store, subject, now).await? {
                longest = longest.max(Some(wait));
            }
        }
        Ok(longest)
    }

    /// Counts one failure of `subject` in every tier.
    pub async fn record_failure(&self, store: &dyn ItemStore, subject: &str, now: i64) -> Result<(), StoreError> {
        for tier in self.0 {
            tier.hit(store, subject, now).await?;
        }
        Ok(())
    }
}

/// The first 128 bits of the subject's SHA-256, in hex: a key that doesn't spell out the
/// IP address or e-mail it counts for, and that no crafted subject can share with another.
fn digest(subject: &str) -> String {
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, subject.as_bytes());
    hash.as_ref()[..16].iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: RateLimit = RateLimit { name: "test", max: 5, window_seconds: 60 };

    #[test]
    fn windows_are_fixed_slices_of_the_clock() {
        assert_eq!(MINUTE.window_start(1_764_000_059), 1_764_000_000);
        assert_eq!(MINUTE.window_start(1_764_000_060), 1_764_000_060);
        assert_eq!(MINUTE.retry_after(1_764_000_000), 60);
        assert_eq!(MINUTE.retry_after(1_764_000_059), 1);
    }

    #[test]
    fn keys_name_the_limit_and_window_but_not_the_subject() {
        let key = MINUTE.key("203.0.113.9", 1_764_000_000);
        assert_eq!(key.pk, "RATE#test#d861b7e91033ebc1c1e8e7af39290101");
        assert_eq!(key.sk, "1764000000");
        assert!(!key.pk.contains("203.0.113.9"));
        assert_eq!(digest("abc"), "ba7816bf8f01cfea414140de5dae2223", "SHA-256 of `abc`, FIPS 180-2's first example");
        assert_ne!(MINUTE.key("a", 0), MINUTE.key("b", 0));
    }
}
