//! List cursors a client can't forge: the sort key to continue after, sealed with an
//! HMAC-SHA256 tag over the list it belongs to (the caller, the entry kind and the
//! partitions read). The tag is compared in constant time.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Length of a cursor key.
pub const KEY_BYTES: usize = 32;
const TAG_BYTES: usize = 32;
/// Bumped if the sealed layout ever changes: older cursors then fail to open.
const DOMAIN: &[u8] = b"forecast-api/list-cursor/v1";

/// The list a cursor continues: who reads it, and which entries.
#[derive(Debug, Clone, Copy)]
pub struct ListScope<'a> {
    pub caller: &'a str,
    pub partitions: &'a [String],
    pub prefix: &'a str,
}

impl ListScope<'_> {
    /// The bytes the tag covers: the domain, then each part length-prefixed so no two
    /// scopes and sort keys can run together into the same message.
    fn message(&self, sort_key: &str) -> Vec<u8> {
        let mut message = DOMAIN.to_vec();
        let mut part = |bytes: &[u8]| {
            message.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            message.extend_from_slice(bytes);
        };
        part(self.caller.as_bytes());
        part(self.prefix.as_bytes());
        for partition in self.partitions {
            part(partition.as_bytes());
        }
        part(sort_key.as_bytes());
        message
    }
}

/// A loaded cursor key.
#[derive(Debug)]
pub struct CursorKey(hmac::Key);

impl CursorKey {
    /// The key of `bytes` ([`KEY_BYTES`] random bytes, one per deployment).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The opaque cursor for a page of `scope` that ended at `sort_key`.
    pub fn seal(&self, scope: &ListScope<'_>, sort_key: &str) -> String {
        let tag = hmac::sign(&self.0, &scope.message(sort_key));
        let mut sealed = tag.as_ref().to_vec();
        sealed.extend_from_slice(sort_key.as_bytes());
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The sort key sealed in `cursor`, if this key sealed it for this very `scope`.
    pub fn open(&self, scope: &ListScope<'_>, cursor: &str) -> Option<String> {
        let sealed = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        // Exactly a tag is the seal of an empty sort key: `open` undoes every `seal`.
        if sealed.len() < TAG_BYTES {
            return None;
        }
        let (tag, sort_key) = sealed.split_at(TAG_BYTES);
        let sort_key = std::str::from_utf8(sort_key).ok()?;
        // Constant-time comparison of the whole tag.
        hmac::verify(&self.0, &scope.message(sort_key), tag).ok()?;
        Some(sort_key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(caller: &'a str, partitions: &'a [String]) -> ListScope<'a> {
        ListScope { caller, partitions, prefix: "DATASET#" }
    }

    #[test]
    fn a_cursor_opens_only_for_the_list_and_key_that_sealed_it() {
        let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
        let mine = vec!["ACCESS#alice".to_owned()];
        let sort_key = "DATASET#0193a0b0-0000-7000-8000-000000000000";
        let cursor = key.seal(&scope("alice", &mine), sort_key);
        assert_eq!(key.open(&scope("alice", &mine), &cursor).as_deref(), Some(sort_key));

        // Someone else, another partition set, another kind of entry, another key: refused.
        assert_eq!(key.open(&scope("bob", &mine), &cursor), None);
        assert_eq!(key.open(&scope("alice", &["ACCESS#bob".to_owned()]), &cursor), None);
        assert_eq!(key.open(&scope("alice", &[]), &cursor), None);
        assert_eq!(key.open(&ListScope { prefix: "FORECAST#", ..scope("alice", &mine) }, &cursor), None);
        assert_eq!(CursorKey::from_bytes(&[8; KEY_BYTES]).open(&scope("alice", &mine), &cursor), None);

        // The bare sort key, any flipped byte, a cut or an extended cursor: refused.
        assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(sort_key)), None);
        let sealed = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for at in [0, TAG_BYTES - 1, TAG_BYTES, sealed.len() - 1] {
            let mut flipped = sealed.clone();
            flipped[at] ^= 1;
            assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(&flipped)), None, "byte {at}");
        }
        for bad in [&sealed[..TAG_BYTES], &sealed[..sealed.len() - 1], &[sealed.as_slice(), b"0"].concat()] {
            assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode(bad)), None);
        }
        assert_eq!(key.open(&scope("alice", &mine), "not base64!"), None);
    }

    #[test]
    fn opening_undoes_sealing_even_for_an_empty_sort_key() {
        let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
        let mine = vec!["ACCESS#alice".to_owned()];
        for sort_key in ["", "DATASET#1", "é"] {
            assert_eq!(key.open(&scope("alice", &mine), &key.seal(&scope("alice", &mine), sort_key)).as_deref(), Some(sort_key));
        }
        // Shorter than a tag is never a cursor.
        assert_eq!(key.open(&scope("alice", &mine), &URL_SAFE_NO_PAD.encode([0u8; TAG_BYTES - 1])), None);
    }

    #[test]
    fn scope_parts_cannot_run_together() {
        let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
        // Same bytes end to end, split differently between the parts.
        let one = ["AB".to_owned()];
        let two = ["A".to_owned(), "B".to_owned()];
        let cursor = key.seal(&scope("x", &one), "DATASET#1");
        assert_eq!(key.open(&scope("x", &two), &cursor), None);
        assert_eq!(key.open(&ListScope { caller: "xA", partitions: &["B".to_owned()], prefix: "DATASET#" }, &cursor), None);
    }
}
