//! The password policy (SR-06): at least 12 characters with an upper-case letter, a
//! lower-case letter, a digit and a symbol; long passphrases welcome (up to 256
//! characters); not holding the user's own name or e-mail; and not common or guessable,
//! judged by zxcvbn, which knows the leaked-password lists, keyboard walks, dates and
//! repeats, and wants an estimated 10^10 guesses or more (its top score).
//!
//! The same rules as the Cognito user pool's policy in `template.yaml`, plus the
//! guessability check, which Cognito does with its own compromised-credentials check.

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have: passphrases fit, while the work per attempt stays
/// bounded.
pub const MAX_CHARS: usize = 256;

/// Parts of a name or e-mail this long or longer may not appear in the password (shorter
/// ones, `li` or `com`, would refuse too much by accident).
const IDENTITY_PART_CHARS: usize = 4;

/// A character class the policy asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CharClass {
    Upper,
    Lower,
    Digit,
    Symbol,
}

impl CharClass {
    fn describe(self) -> &'static str {
        match self {
            CharClass::Upper => "an upper-case letter",
            CharClass::Lower => "a lower-case letter",
            CharClass::Digit => "a digit",
            CharClass::Symbol => "a symbol",
        }
    }

    fn of(c: char) -> Option<Self> {
        if c.is_uppercase() {
            Some(CharClass::Upper)
        } else if c.is_lowercase() {
            Some(CharClass::Lower)
        } else if c.is_numeric() {
            Some(CharClass::Digit)
        } else if c.is_alphabetic() || c.is_control() {
            // Letters without case (CJK, for instance) count as neither.
            None
        } else {
            // Punctuation, spaces and marks: what Cognito calls special characters.
            Some(CharClass::Symbol)
        }
    }
}

/// Why a password is refused. The message is for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejected {
    #[error("a password needs at least {MIN_CHARS} characters")]
    TooShort,
    #[error("a password may have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("a password may not contain control characters")]
    ControlCharacter,
    #[error("a password needs {}", describe(.0))]
    MissingClasses(Vec<CharClass>),
    #[error("a password may not contain your name or e-mail address")]
    ContainsIdentity,
    #[error("this password is too easy to guess{}", .0.as_deref().map(|hint| format!(": {hint}")).unwrap_or_default())]
    Guessable(Option<String>),
}

fn describe(classes: &[CharClass]) -> String {
    let names: Vec<&str> = classes.iter().map(|c| c.describe()).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Checks `password` against the policy. `context` holds what the user is known by (e-mail,
/// name): a password built from it is guessable.
pub fn check(password: &str, context: &[&str]) -> Result<(), PasswordRejected> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordRejected::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordRejected::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordRejected::ControlCharacter);
    }
    let missing: Vec<CharClass> = [CharClass::Upper, CharClass::Lower, CharClass::Digit, CharClass::Symbol]
        .into_iter()
        .filter(|class| !password.chars().any(|c| CharClass::of(c) == Some(*class)))
        .collect();
    if !missing.is_empty() {
        return Err(PasswordRejected::MissingClasses(missing));
    }
    // The e-mail's and the name's parts count on their own: `alice` from `alice@example.com`.
    let lower = password.to_lowercase();
    let parts: Vec<String> = context
        .iter()
        .flat_map(|item| item.split(['@', '.', ' ', '-', '_', '+']))
        .map(str::to_lowercase)
        .filter(|part| part.chars().count() >= IDENTITY_PART_CHARS)
        .collect();
    if parts.iter().any(|part| lower.contains(part.as_str())) {
        return Err(PasswordRejected::ContainsIdentity);
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    if estimate.score() < zxcvbn::Score::Four {
        let hint =
            estimate.feedback().and_then(zxcvbn::feedback::Feedback::warning).map(|w| w.to_string().trim_end_matches('.').to_owned());
        return Err(PasswordRejected::Guessable(hint));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_without_case_are_no_symbol() {
        // Han characters are alphabetic with no case: they fill no class, least of all symbols.
        assert_eq!(check("Abcdefgh1234漢字漢字", &[]), Err(PasswordRejected::MissingClasses(vec![CharClass::Symbol])));
    }

    #[test]
    fn a_long_mixed_and_unguessable_password_is_accepted() {
        assert_eq!(check("Tangerine!Cobalt7Drift", &[]), Ok(()));
        // Passphrases far past 64 characters, and letters beyond ASCII.
        let phrase = "Correct Horse Battery Staple, 1 kayak up the Ödeshög river at dawn! ".repeat(3);
        assert_eq!(check(phrase.trim(), &[]), Ok(()));
        assert_eq!(
            check(&format!("Ab1!{}", "x".repeat(MAX_CHARS - 4)), &[]).err(),
            Some(PasswordRejected::Guessable(Some("Repeats like \"aaa\" are easy to guess".into())))
        );
    }

    #[test]
    fn length_is_counted_in_characters_and_bounded_both_ways() {
        assert_eq!(check("Tang!Cob7Dr", &[]), Err(PasswordRejected::TooShort), "11 characters");
        assert_eq!(check("Tang!Cob7Dri", &[]), Ok(()), "12 characters");
        // Twelve characters but more than twelve bytes: still twelve.
        assert_eq!(check("Tängé!Cöb7Dr", &[]), Ok(()));
        let longest = format!("Zq7!{}Mn5%", "Vw3#Kp9$".repeat(31));
        assert_eq!(longest.chars().count(), MAX_CHARS);
        assert_eq!(check(&longest, &[]), Ok(()));
        assert_eq!(check(&format!("{longest}x"), &[]), Err(PasswordRejected::TooLong));
    }

    #[test]
    fn each_missing_class_is_named() {
        use CharClass::*;
        for (password, missing) in [
            ("tangerine!cobalt7drift", vec![Upper]),
            ("TANGERINE!COBALT7DRIFT", vec![Lower]),
            ("Tangerine!CobaltXDrift", vec![Digit]),
            ("Tangerine7Cobalt7Drift", vec![Symbol]),
            ("tangerinecobaltdrift", vec![Upper, Digit, Symbol]),
        ] {
            assert_eq!(check(password, &[]), Err(PasswordRejected::MissingClasses(missing.clone())), "{password}");
        }
        assert_eq!(
            PasswordRejected::MissingClasses(vec![Upper, Digit, Symbol]).to_string(),
            "a password needs an upper-case letter, a digit and a symbol"
        );
        // A space is a symbol, as in Cognito.
        assert_eq!(check("Tangerine Cobalt7Drift", &[]), Ok(()));
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(check("Tangerine!Cobalt7\u{0}Drift", &[]), Err(PasswordRejected::ControlCharacter));
        assert_eq!(check("Tangerine!Cobalt7\nDrift", &[]), Err(PasswordRejected::ControlCharacter));
    }

    #[test]
    fn common_and_guessable_passwords_are_refused_though_they_meet_the_rules() {
        for password in
            ["Password123!", "P@ssw0rd2024!", "Qwerty123456!", "Welcome2024!!", "Spring2025!!x", "Iloveyou2024!", "Aa1!Aa1!Aa1!"]
        {
            assert!(matches!(check(password, &[]), Err(PasswordRejected::Guessable(_))), "{password}");
        }
    }

    #[test]
    fn a_password_made_of_the_users_own_name_or_email_is_refused() {
        let password = "Marguerite.Lindqvist1!";
        assert_eq!(check(password, &[]), Ok(()), "fine for someone else");
        assert_eq!(check(password, &["marguerite.lindqvist@example.com"]), Err(PasswordRejected::ContainsIdentity));
        assert_eq!(check(password, &["Marguerite Lindqvist"]), Err(PasswordRejected::ContainsIdentity));
        assert_eq!(check(password, &["LINDQVIST"]), Err(PasswordRejected::ContainsIdentity), "any case");
        assert_eq!(check(password, &["li@qv.com"]), Ok(()), "parts under four characters don't count");
    }
}
