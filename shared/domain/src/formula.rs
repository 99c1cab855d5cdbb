//! CSV injection: cells a spreadsheet would run as a formula (OWASP "CSV Injection").
//!
//! Uploads with such cells are refused, so stored data holds none; exports neutralise them
//! anyway, so a file produced here is safe to open whatever it holds.

use std::borrow::Cow;

/// Characters that make Excel, LibreOffice or Google Sheets treat a cell as a formula.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would evaluate `cell`. Numbers (`-3.5`, `+1e3`) are only numbers,
/// so they are let through; leading spaces don't disarm a trigger in every spreadsheet.
pub fn is_formula_like(cell: &str) -> bool {
    let starts_with_trigger = cell.starts_with(TRIGGERS) || cell.trim_start_matches(' ').starts_with(TRIGGERS);
    starts_with_trigger && !cell.trim().parse::<f64>().is_ok_and(f64::is_finite)
}

/// The cell as text a spreadsheet shows rather than runs: prefixed with `'`.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if is_formula_like(cell) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_caught_and_numbers_are_not() {
        for formula in ["=1+1", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", " =1", "-", "+", "-inf", "-NaN"] {
            assert!(is_formula_like(formula), "{formula:?}");
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        for plain in ["-3.5", "+1e3", "-0", "sales", "2024-01-01", "", "a=b", "x-y", "'=already quoted"] {
            assert!(!is_formula_like(plain), "{plain:?}");
            assert_eq!(neutralise(plain), plain);
        }
    }
}
