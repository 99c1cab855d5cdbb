//! Identifiers from paths and bodies, validated before they touch storage keys.

use super::error::{Invalid, MalformedId};

/// Declares a resource id: a UUIDv7 (time-ordered, so listings come out oldest first).
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        /// A canonical lowercase UUID.
        // The one statement of the pattern: every parameter and field naming such an id
        // refers to this schema in the OpenAPI document.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
        #[schema(value_type = String, pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
        pub struct $name(String);

        impl $name {
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// Parses a path parameter. Anything but a canonical lowercase UUID is not
            /// found: an id that can't exist is answered like one that doesn't.
            pub fn parse(text: &str) -> Result<Self, MalformedId> {
                match uuid::Uuid::try_parse(text) {
                    Ok(id) if id.hyphenated().to_string() == text => Ok(Self(text.to_owned())),
                    _ => Err(MalformedId),
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// A dataset id.
    DatasetId
);
uuid_id!(
    /// A forecast id.
    ForecastId
);

/// A user's subject id (Cognito `sub`, a UUID; the local provider uses the same shape
/// or a short slug): 1 to 128 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let valid = !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
        if valid { Ok(Self(text.to_owned())) } else { Err(Invalid::new("userId", format!("`{}` is not a user id", truncate(text, 40)))) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Cuts user input quoted back in an error message.
pub fn truncate(text: &str, max_chars: usize) -> String {
    // Quoted text must not reorder or hide the message around it either.
    let mut out: String = text.chars().filter(|c| !super::text::is_deceptive(*c)).take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_uuids_are_dataset_ids() {
        let id = DatasetId::new();
        assert_eq!(DatasetId::parse(id.as_str()).unwrap(), id);
        for bad in ["", "x", "../a", "0190a0b0-0000-7000-8000-00000000000", &id.as_str().to_uppercase(), &id.as_str().replace('-', "")] {
            assert!(DatasetId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_ids_are_short_slugs() {
        assert!(UserId::parse("3f1c2a9e-0b7d-4c55-9a61-2b7f7f0c9a11").is_ok());
        assert!(UserId::parse("local-alice").is_ok());
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(129)] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }
}
