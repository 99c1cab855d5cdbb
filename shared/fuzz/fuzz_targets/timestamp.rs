//! The timestamp parser on any text: it never panics, and an instant it reads comes back
//! the same when written as RFC 3339 and read again.
#![no_main]

use time::format_description::well_known::Rfc3339;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(instant) = forecast::series::parse_timestamp(text) {
        // Years past 9999 or before 0 have no RFC 3339 form; the parser must not make them.
        let written = instant.format(&Rfc3339).expect("a parsed instant has an RFC 3339 form");
        assert_eq!(forecast::series::parse_timestamp(&written), Some(instant), "{text:?} -> {written}");
    }
});
