//! TOTP (RFC 6238) for the local identity provider's MFA (SR-11): SHA-1, six digits,
//! 30-second steps, one step of clock skew either way, the parameters every authenticator
//! app and Cognito use. A code is good once: the caller keeps the last step used and
//! passes it back in ([`TotpKey::verify`]).

use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;

/// A TOTP key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("totp key: {0}")]
pub struct TotpError(String);

/// One user's TOTP key.
#[derive(Debug, Clone)]
pub struct TotpKey {
    totp: Totp,
}

impl TotpKey {
    /// A fresh random 160-bit key (RFC 4226's recommended length).
    pub fn generate(issuer: &str, account: &str) -> Result<Self, TotpError> {
        let mut bytes = [0u8; 20];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TotpError("no random bytes".into()))?;
        Self::build(Secret::new(Box::new(bytes)), issuer, account)
    }

    /// The key stored as base32 (what [`TotpKey::secret_base32`] gave).
    pub fn from_base32(secret: &str, issuer: &str, account: &str) -> Result<Self, TotpError> {
        let secret = Secret::try_from_base32(secret).map_err(|e| TotpError(e.to_string()))?;
        Self::build(secret, issuer, account)
    }

    fn build(secret: Secret, issuer: &str, account: &str) -> Result<Self, TotpError> {
        // The otpauth label may not hold a colon.
        let clean = |text: &str| text.replace(':', "");
        let totp = Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(STEP_SECONDS)
            .with_secret(secret)
            .with_issuer(Some(clean(issuer)))
            .with_account_name(clean(account))
            .build()
            .map_err(|e| TotpError(e.to_string()))?;
        Ok(Self { totp })
    }

    /// The key in base32, as stored and as typed into an app by hand.
    pub fn secret_base32(&self) -> String {
        self.totp.secret().to_base32()
    }

    /// The `otpauth://` URI an authenticator app reads (from a QR code or a link).
    pub fn uri(&self) -> Result<String, TotpError> {
        self.totp.to_url().map_err(|e| TotpError(e.to_string()))
    }

    /// The code for the step holding `unix_seconds` (tests, and the enrolment check).
    pub fn code_at(&self, unix_seconds: u64) -> String {
        self.totp.generate(unix_seconds).to_string()
    }

    /// The step `code` belongs to when it is right for `unix_seconds` (within a step either
    /// way) and later than `last_used`, the step of the code last accepted: a code seen
    /// once is refused, even inside its 90 seconds.
    pub fn verify(&self, code: &str, unix_seconds: u64, last_used: Option<u64>) -> Option<u64> {
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let step = self.totp.check(code, unix_seconds)?;
        if last_used.is_some_and(|last| step <= last) { None } else { Some(step) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_015;

    #[test]
    fn the_rfc_6238_test_vector_is_reproduced() {
        // RFC 6238 appendix B, SHA-1, the key "12345678901234567890", T = 59 s: 94287082
        // (eight digits); six digits are its last six.
        let key = TotpKey::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "Forecast", "alice").unwrap();
        assert_eq!(key.code_at(59), "287082");
        assert_eq!(key.code_at(1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_accepted_within_one_step_either_way_and_only_once() {
        let key = TotpKey::generate("Forecast", "alice@example.com").unwrap();
        let code = key.code_at(NOW);
        let step = NOW / STEP_SECONDS;
        assert_eq!(key.verify(&code, NOW, None), Some(step));
        assert_eq!(key.verify(&code, NOW + STEP_SECONDS, None), Some(step), "a step late");
        assert_eq!(key.verify(&code, NOW - STEP_SECONDS, None), Some(step), "a step early");
        assert_eq!(key.verify(&code, NOW + 2 * STEP_SECONDS, None), None, "two steps late");
        assert_eq!(key.verify(&code, NOW, Some(step)), None, "replayed");
        assert_eq!(key.verify(&code, NOW, Some(step - 1)), Some(step));
    }

    #[test]
    fn malformed_codes_match_nothing() {
        let key = TotpKey::generate("Forecast", "alice").unwrap();
        let code = key.code_at(NOW);
        for bad in ["", "12345", "1234567", "abcdef", &format!("{code}0"), &format!("+{}", &code[1..])] {
            assert_eq!(key.verify(bad, NOW, None), None, "{bad}");
        }
        assert_eq!(key.verify(&format!(" {code} "), NOW, None), Some(NOW / STEP_SECONDS), "spaces around are forgiven");
    }

    #[test]
    fn the_key_round_trips_through_base32_and_the_uri_names_issuer_and_account() {
        let key = TotpKey::generate("Forecast: local", "alice@example.com").unwrap();
        let again = TotpKey::from_base32(&key.secret_base32(), "Forecast: local", "alice@example.com").unwrap();
        assert_eq!(again.code_at(NOW), key.code_at(NOW));
        let uri = key.uri().unwrap();
        assert!(uri.starts_with("otpauth://totp/Forecast%20local:alice%40example.com?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", key.secret_base32())), "{uri}");
        assert!(TotpKey::from_base32("not base32!", "Forecast", "alice").is_err());
    }
}
