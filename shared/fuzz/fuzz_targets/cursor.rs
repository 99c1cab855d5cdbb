//! The list-cursor opener on any text: nothing but a cursor the key sealed for this very
//! list opens, and a sealed sort key always comes back whole.
#![no_main]

use crypto::cursor::{CursorKey, KEY_BYTES, ListScope};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let key = CursorKey::from_bytes(&[7; KEY_BYTES]);
    let partitions = ["ACCESS#alice".to_owned()];
    let scope = ListScope { caller: "alice", partitions: &partitions, prefix: "DATASET#" };
    let Ok(text) = std::str::from_utf8(data) else { return };
    assert_eq!(key.open(&scope, text), None, "opened a cursor nobody sealed: {text:?}");
    let sealed = key.seal(&scope, text);
    assert_eq!(key.open(&scope, &sealed).as_deref(), Some(text));
    let other = ListScope { caller: "bob", ..scope };
    assert_eq!(key.open(&other, &sealed), None, "another caller opened alice's cursor");
});
