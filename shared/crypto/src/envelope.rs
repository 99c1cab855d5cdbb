//! Envelope encryption: each value is sealed with AES-256-GCM under a data key, and the
//! data key travels with it wrapped by a master key that never leaves its provider (KMS,
//! or the local key folder). Modelled on the AWS Encryption SDK's message format, smaller.
//!
//! A sealed value is bound to its encryption context: the pairs that say what it is
//! (purpose, table, attribute, record id). The context is not stored; the reader supplies
//! it again, so a ciphertext moved to another record or attribute fails to open. The
//! header (format version, master key, wrapped data key) is authenticated with it.
//!
//! Format, version 1 (all lengths big-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | format version (`1`) |
//! | 1 + n | master key reference, length-prefixed (`u8`) |
//! | 2 + n | wrapped data key, length-prefixed (`u16`) |
//! | 12 | nonce |
//! | rest | ciphertext and its 16-byte tag |

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// The one format written today; readers dispatch on the first byte.
pub const FORMAT_V1: u8 = 1;
/// AES-256: a data key is 32 bytes.
pub const DATA_KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// What a sealed value is, bound to its ciphertext: sorted pairs, so their order never
/// matters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// This context with another pair (or the pair replaced).
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Whether the context has a pair named `key`.
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// An unambiguous byte form: each key and value length-prefixed, in key order.
    pub fn canonical(&self) -> Vec<u8> {
        canonical_pairs(self.pairs())
    }
}

/// [`EncryptionContext::canonical`] of pairs given in key order (each key once): for
/// callers that merge contexts without building one.
pub fn canonical_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for (key, value) in pairs {
        for part in [key, value] {
            out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// A data key wrapped by a master key: what is stored beside the data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WrappedKey {
    /// Which master key (and version) wrapped it: a KMS key ARN, or `local:<purpose>:<n>`.
    pub master_key: String,
    pub blob: Vec<u8>,
}

/// Why a value does not seal or open. Opening says nothing finer than "does not open":
/// which part failed would help an attacker more than an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the ciphertext is not in a format this code reads")]
    Format,
    #[error("the ciphertext does not open with its context: altered, moved or under another key")]
    Open,
    #[error("a key or a nonce could not be made")]
    Key,
}

/// A plaintext data key, ready to seal and open. Its bytes live inside aws-lc, which
/// clears them when the key is dropped.
#[derive(Debug)]
pub struct DataKey {
    key: LessSafeKey,
    wrapped: WrappedKey,
    /// The header every value sealed under this key starts with (format, wrapped key).
    header: Vec<u8>,
    /// Nonces: a random 96-bit start, then one more per value (NIST SP 800-38D's
    /// deterministic construction, with a random start so that two instances of one key
    /// would still not meet: their runs of at most a few thousand nonces overlap with a
    /// chance near 2^-80). Cheaper than asking the RNG for every value.
    nonce_prefix: [u8; 4],
    nonce_counter: AtomicU64,
}

impl DataKey {
    /// Takes a plaintext data key and its wrapped form; `bytes` should be wiped by the caller.
    pub fn new(bytes: &[u8], wrapped: WrappedKey) -> Result<Self, EnvelopeError> {
        let key = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| EnvelopeError::Key)?;
        let header = header(&wrapped)?;
        let mut start = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut start).map_err(|_| EnvelopeError::Key)?;
        let [a, b, c, d, rest @ ..] = start;
        let counter = u64::from_be_bytes(rest);
        Ok(Self { key: LessSafeKey::new(key), wrapped, header, nonce_prefix: [a, b, c, d], nonce_counter: AtomicU64::new(counter) })
    }

    pub fn wrapped(&self) -> &WrappedKey {
        &self.wrapped
    }

    /// The header of the values this key seals: what [`Sealed::header`] reads back.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// Seals `plaintext` bound to `context`, with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8], context: &EncryptionContext) -> Result<Vec<u8>, EnvelopeError> {
        self.seal_canonical(plaintext, &context.canonical())
    }

    /// [`DataKey::seal`] with the context already in its canonical form.
    pub fn seal_canonical(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..4].copy_from_slice(&self.nonce_prefix);
        nonce[4..].copy_from_slice(&self.nonce_counter.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let mut out = Vec::with_capacity(self.header.len() + NONCE_LEN + plaintext.len() + TAG_BYTES);
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&nonce);
        let body = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(&self.header, context)),
                &mut out[body..],
            )
            .map_err(|_| EnvelopeError::Key)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`DataKey::seal`] made under this key for the same context.
    pub fn open(&self, sealed: &Sealed<'_>, context: &EncryptionContext) -> Result<Vec<u8>, EnvelopeError> {
        self.open_canonical(sealed, &context.canonical())
    }

    /// [`DataKey::open`] with the context already in its canonical form.
    pub fn open_canonical(&self, sealed: &Sealed<'_>, context: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        if sealed.header != self.header.as_slice() {
            return Err(EnvelopeError::Open);
        }
        let nonce = Nonce::try_assume_unique_for_key(sealed.nonce).map_err(|_| EnvelopeError::Format)?;
        let mut body = sealed.body.to_vec();
        let opened = self
            .key
            .open_in_place(nonce, Aad::from(associated_data(sealed.header, context)), &mut body)
            .map_err(|_| EnvelopeError::Open)?;
        let length = opened.len();
        body.truncate(length);
        Ok(body)
    }
}

/// A ciphertext read apart: which data key it needs, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    master_key: &'a str,
    blob: &'a [u8],
    header: &'a [u8],
    nonce: &'a [u8],
    body: &'a [u8],
}

impl<'a> Sealed<'a> {
    /// Reads the header of a version-1 ciphertext.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, EnvelopeError> {
        let (&version, rest) = bytes.split_first().ok_or(EnvelopeError::Format)?;
        if version != FORMAT_V1 {
            return Err(EnvelopeError::Format);
        }
        let (&key_len, rest) = rest.split_first().ok_or(EnvelopeError::Format)?;
        let (master_key, rest) = split(rest, usize::from(key_len))?;
        let (blob_len, rest) = split(rest, 2)?;
        let (blob, rest) = split(rest, usize::from(u16::from_be_bytes([blob_len[0], blob_len[1]])))?;
        let header_len = bytes.len() - rest.len();
        let (nonce, body) = split(rest, NONCE_LEN)?;
        if body.len() < TAG_BYTES {
            return Err(EnvelopeError::Format);
        }
        let master_key = std::str::from_utf8(master_key).map_err(|_| EnvelopeError::Format)?;
        Ok(Self { master_key, blob, header: &bytes[..header_len], nonce, body })
    }

    /// The master key the data key is wrapped under.
    pub fn master_key(&self) -> &'a str {
        self.master_key
    }

    /// The wrapped data key, for the provider that unwraps it.
    pub fn wrapped(&self) -> WrappedKey {
        WrappedKey { master_key: self.master_key.to_owned(), blob: self.blob.to_vec() }
    }

    /// The header bytes (format and wrapped key): equal for every value under one data key.
    pub fn header(&self) -> &'a [u8] {
        self.header
    }
}

fn split(bytes: &[u8], at: usize) -> Result<(&[u8], &[u8]), EnvelopeError> {
    if bytes.len() < at { Err(EnvelopeError::Format) } else { Ok(bytes.split_at(at)) }
}

fn header(wrapped: &WrappedKey) -> Result<Vec<u8>, EnvelopeError> {
    let key_len = u8::try_from(wrapped.master_key.len()).map_err(|_| EnvelopeError::Key)?;
    let blob_len = u16::try_from(wrapped.blob.len()).map_err(|_| EnvelopeError::Key)?;
    let mut out = vec![FORMAT_V1, key_len];
    out.extend_from_slice(wrapped.master_key.as_bytes());
    out.extend_from_slice(&blob_len.to_be_bytes());
    out.extend_from_slice(&wrapped.blob);
    Ok(out)
}

/// What the tag covers besides the ciphertext: the header and the context.
fn associated_data(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(master: &str) -> DataKey {
        DataKey::new(&[7u8; DATA_KEY_BYTES], WrappedKey { master_key: master.into(), blob: vec![1, 2, 3] }).unwrap()
    }

    fn context(record: &str) -> EncryptionContext {
        EncryptionContext::new([("purpose", "personal"), ("table", "items"), ("attribute", "email"), ("record", record)])
    }

    #[test]
    fn a_value_opens_with_its_key_and_context_and_nothing_else() {
        let key = key("local:personal:1");
        let sealed = key.seal(b"ada@example.com", &context("USER#1")).unwrap();
        assert!(!sealed.windows(5).any(|w| w == b"ada@e"), "no plaintext in the ciphertext");
        let parsed = Sealed::parse(&sealed).unwrap();
        assert_eq!(parsed.wrapped(), WrappedKey { master_key: "local:personal:1".into(), blob: vec![1, 2, 3] });
        assert_eq!(parsed.header(), key.header());
        assert_eq!(key.open(&parsed, &context("USER#1")).unwrap(), b"ada@example.com");
        // Moved to another record or attribute: refused.
        assert_eq!(key.open(&parsed, &context("USER#2")), Err(EnvelopeError::Open));
        assert_eq!(key.open(&parsed, &context("USER#1").with("attribute", "name")), Err(EnvelopeError::Open));
        assert_eq!(key.open(&parsed, &context("USER#1").with("extra", "x")), Err(EnvelopeError::Open));
        // Sealing twice gives two ciphertexts (fresh nonces).
        assert_ne!(sealed, key.seal(b"ada@example.com", &context("USER#1")).unwrap());
    }

    #[test]
    fn nonces_never_repeat_under_one_key_and_differ_between_instances() {
        let key = key("k");
        let nonce = |sealed: &[u8]| Sealed::parse(sealed).unwrap().nonce.to_vec();
        let nonces: std::collections::HashSet<Vec<u8>> = (0..5_000).map(|_| nonce(&key.seal(b"x", &context("r")).unwrap())).collect();
        assert_eq!(nonces.len(), 5_000);
        let other = super::tests::key("k");
        assert_ne!(
            nonce(&other.seal(b"x", &context("r")).unwrap())[..4],
            nonce(&key.seal(b"x", &context("r")).unwrap())[..4],
            "random starts (a 2^-32 chance of a false failure)"
        );
    }

    #[test]
    fn every_flipped_byte_is_refused_never_garbage() {
        let key = key("local:personal:1");
        let sealed = key.seal(b"Marguerite Lindqvist", &context("USER#1")).unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            let opened = Sealed::parse(&bad).and_then(|parsed| key.open(&parsed, &context("USER#1")));
            assert!(matches!(opened, Err(EnvelopeError::Open | EnvelopeError::Format)), "byte {i}: {opened:?}");
        }
        for cut in 0..sealed.len() {
            assert!(Sealed::parse(&sealed[..cut]).and_then(|p| key.open(&p, &context("USER#1"))).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn the_context_is_canonical_whatever_the_order() {
        let a = EncryptionContext::new([("a", "1"), ("b", "2")]);
        let b = EncryptionContext::new([("b", "2"), ("a", "1")]);
        assert_eq!(a.canonical(), b.canonical());
        // Length prefixes: moving a character from a key to its value is another context.
        assert_ne!(EncryptionContext::new([("ab", "c")]).canonical(), EncryptionContext::new([("a", "bc")]).canonical());
    }

    #[test]
    fn another_format_version_is_not_read() {
        let mut sealed = key("k").seal(b"x", &context("r")).unwrap();
        sealed[0] = 2;
        assert_eq!(Sealed::parse(&sealed), Err(EnvelopeError::Format));
    }
}
