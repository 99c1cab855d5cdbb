//! Text a user gives that other users will see (names, descriptions, column names).
//!
//! Besides control characters, some Unicode format characters change how text is shown
//! without being visible: bidirectional overrides, embeddings, isolates and marks can make
//! `invoice_exe.csv` display as something else, and zero-width or separator characters hide
//! in plain sight. None has a place in a name.

/// Whether `c` can change or hide what a reader sees: a control character, a bidirectional
/// formatting character, a zero-width character, or a line/paragraph separator.
pub fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidirectional marks, embeddings, overrides and isolates (Unicode UAX #9).
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Zero-width space, non-joiner, joiner, word joiner, invisible operators, BOM.
            | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
            // Line and paragraph separators.
            | '\u{2028}' | '\u{2029}'
        )
}

/// The first deceptive character in `text`, ignoring those in `allowed`, for a message.
pub fn first_deceptive(text: &str, allowed: &[char]) -> Option<char> {
    text.chars().find(|c| is_deceptive(*c) && !allowed.contains(c))
}

/// How a deceptive character is named in an error message (`U+202E`).
pub fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_zero_width_and_control_characters_are_caught_and_letters_are_not() {
        for c in ['\u{202E}', '\u{202A}', '\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}', '\u{200B}', '\u{FEFF}', '\u{2028}', '\u{7}', '\n']
        {
            assert!(is_deceptive(c), "{}", code_point(c));
        }
        for c in ['a', 'Ä', 'ب', 'א', '日', '✓', ' ', '-', '\u{00A0}'] {
            assert!(!is_deceptive(c), "{}", code_point(c));
        }
        assert_eq!(first_deceptive("report\u{202E}vsc.exe", &[]), Some('\u{202E}'));
        assert_eq!(first_deceptive("two\nlines", &['\n']), None);
        assert_eq!(code_point('\u{202E}'), "U+202E");
    }
}
