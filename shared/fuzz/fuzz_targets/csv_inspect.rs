//! The CSV inspector on any text: it answers, never panics, and what it accepts is a
//! table it can describe; what it refuses names the `csv` field.
#![no_main]

use domain::csv_table::{CsvLimits, MIN_ROWS, inspect};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match inspect(text, &CsvLimits::default()) {
        Ok(summary) => {
            assert!(!summary.columns.is_empty(), "accepted a table without columns");
            assert!(summary.row_count >= MIN_ROWS, "accepted {} rows", summary.row_count);
            assert!(summary.preview.len() as u64 <= summary.row_count, "a preview longer than the table");
        }
        Err(refusal) => {
            assert_eq!(refusal.field, "csv");
            assert!(!refusal.detail.is_empty(), "a refusal that says nothing");
        }
    }
});
