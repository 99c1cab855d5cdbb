//! The one place that turns verified claims into a [`Principal`], for both paths: the
//! claims API Gateway's Cognito authorizer puts in the event, and the claims of a bearer
//! token this crate verified itself. Issuer, token use, client and subject are checked
//! here and only here.
//!
//! REST APIs deliver every claim as a string. `cognito:groups` arrives as a JSON array,
//! a bracketed space-separated list (`[admin analyst]`), a comma-separated list, or a
//! single name, depending on the integration; all forms are accepted.

use serde_json::{Map, Value};

use super::{AuthError, Principal, Role};
use crate::AuthSettings;

/// The principal the claims name, once issuer, token use and client are the expected ones.
/// Every identity claim must be a JSON string: an `iss` given as an array that happens to
/// contain ours is a different claim, not ours.
pub fn principal_from_claims(claims: &Map<String, Value>, settings: &AuthSettings) -> Result<Principal, AuthError> {
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());

    if text("iss") != Some(settings.issuer.as_str()) {
        return Err(AuthError::WrongIssuer);
    }
    if text("token_use") != Some("access") {
        return Err(AuthError::NotAccessToken);
    }
    let client_id = text("client_id").ok_or(AuthError::MissingClaim("client_id"))?;
    if !settings.client_ids.iter().any(|c| c == client_id) {
        return Err(AuthError::WrongClient);
    }
    let subject = text("sub").ok_or(AuthError::MissingClaim("sub"))?;
    let groups = claims.get("cognito:groups").map(parse_groups).unwrap_or_default();
    Ok(Principal {
        subject: subject.to_owned(),
        username: text("username").or_else(|| text("cognito:username")).unwrap_or(subject).to_owned(),
        role: Role::from_groups(&groups),
        groups,
        client_id: client_id.to_owned(),
        issued_at: numeric_claim(claims, "iat"),
    })
}

/// A NumericDate claim: a JSON integer, a string of one, or the date text REST API
/// authorizers deliver (`Mon Nov 24 16:00:00 UTC 2025`).
pub fn numeric_claim(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    let value = claims.get(name)?;
    if let Some(seconds) = value.as_i64() {
        return Some(seconds);
    }
    let text = value.as_str()?;
    text.parse().ok().or_else(|| {
        let format = time::macros::format_description!(
            "[weekday repr:short] [month repr:short] [day padding:zero] [hour]:[minute]:[second] UTC [year]"
        );
        time::PrimitiveDateTime::parse(text, format).ok().map(|t| t.assume_utc().unix_timestamp())
    })
}

/// Parses `cognito:groups` in any of the shapes API Gateway delivers.
pub fn parse_groups(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Value::String(text) => {
            let text = text.trim();
            if text.starts_with('[')
                && let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text)
            {
                return parse_groups(&Value::Array(items));
            }
            text.trim_start_matches('[')
                .trim_end_matches(']')
                .split([',', ' '])
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> AuthSettings {
        AuthSettings::for_issuer("https://issuer.example", "spa")
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base =
            json!({"iss": "https://issuer.example", "token_use": "access", "client_id": "spa", "sub": "u-1", "username": "alice"});
        if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        base.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn groups_are_parsed_in_every_delivered_form() {
        let expected = vec!["admin".to_owned(), "analyst".to_owned()];
        for form in [
            json!(["admin", "analyst"]),
            json!("[admin analyst]"),
            json!("admin,analyst"),
            json!("[\"admin\",\"analyst\"]"),
            json!("admin, analyst"),
        ] {
            assert_eq!(parse_groups(&form), expected, "{form}");
        }
        assert_eq!(parse_groups(&json!("viewer")), ["viewer"]);
        assert!(parse_groups(&json!(7)).is_empty());
    }

    #[test]
    fn a_principal_is_built_from_valid_claims() {
        let principal = principal_from_claims(&claims(json!({"cognito:groups": "[analyst]", "iat": "1700000000"})), &settings()).unwrap();
        assert_eq!(principal.subject, "u-1");
        assert_eq!(principal.role, Role::Analyst);
        assert_eq!(principal.issued_at, Some(1_700_000_000));
    }

    #[test]
    fn issue_times_are_read_in_every_form_the_gateway_and_issuers_use() {
        for (value, expected) in [
            (json!(1_764_000_000), Some(1_764_000_000)),
            (json!("1764000000"), Some(1_764_000_000)),
            (json!("Mon Nov 24 16:00:00 UTC 2025"), Some(1_764_000_000)),
            (json!("Mon Nov 24 16:00:00 CET 2025"), None),
            (json!("yesterday"), None),
            (json!(1.5), None),
        ] {
            let principal = principal_from_claims(&claims(json!({"iat": value})), &settings()).unwrap();
            assert_eq!(principal.issued_at, expected, "{value}");
        }
    }

    #[test]
    fn id_tokens_foreign_clients_and_issuers_are_refused_even_from_the_authorizer() {
        let cases = [
            (json!({"token_use": "id"}), AuthError::NotAccessToken),
            (json!({"client_id": "other"}), AuthError::WrongClient),
            (json!({"iss": "https://evil.example"}), AuthError::WrongIssuer),
            (json!({"sub": ""}), AuthError::MissingClaim("sub")),
            (json!({"iss": ["https://issuer.example"]}), AuthError::WrongIssuer),
            (json!({"iss": ["https://issuer.example", "https://evil.example"]}), AuthError::WrongIssuer),
            (json!({"token_use": ["access"]}), AuthError::NotAccessToken),
            (json!({"client_id": ["spa"]}), AuthError::MissingClaim("client_id")),
            (json!({"sub": ["u-1"]}), AuthError::MissingClaim("sub")),
        ];
        for (extra, expected) in cases {
            assert_eq!(principal_from_claims(&claims(extra.clone()), &settings()), Err(expected), "{extra}");
        }
    }
}
