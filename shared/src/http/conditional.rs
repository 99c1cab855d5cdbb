//! Conditional requests (RFC 9110 section 13): every resource carries an `ETag` made from
//! its version, and a change names the version it was based on in `If-Match`, so two
//! clients can't overwrite each other's edits unknowingly.
//!
//! `If-Match` is evaluated after authorization (a 412 must not reveal what a 404 hides)
//! and before the request body is read, as RFC 9110 section 13.2.1 orders it.

use lambda_http::Request;
use lambda_http::http::header::IF_MATCH;

use crate::error::ApiError;

/// The strong entity tag of a resource at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// What a request's `If-Match` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags, as sent (weak ones included: they never match, RFC 9110 13.1.1).
    Tags(Vec<String>),
}

impl IfMatch {
    /// Reads `If-Match`; every occurrence of the header counts (they form one list).
    pub fn from_request(req: &Request) -> Result<Option<Self>, ApiError> {
        let mut tags = Vec::new();
        let mut any = false;
        for value in req.headers().get_all(IF_MATCH) {
            let text = value.to_str().map_err(|_| malformed())?;
            for member in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                if member == "*" {
                    any = true;
                } else if is_entity_tag(member) {
                    tags.push(member.to_owned());
                } else {
                    return Err(malformed());
                }
            }
        }
        Ok(match (any, tags.is_empty()) {
            (true, true) => Some(IfMatch::Any),
            (true, false) => return Err(malformed()),
            (false, true) => None,
            (false, false) => Some(IfMatch::Tags(tags)),
        })
    }

    /// Strong comparison against the resource's current tag.
    pub fn matches(&self, current: &str) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|tag| tag == current),
        }
    }
}

fn is_entity_tag(text: &str) -> bool {
    let opaque = text.strip_prefix("W/").unwrap_or(text);
    opaque.len() >= 2
        && opaque.starts_with('"')
        && opaque.ends_with('"')
        && opaque[1..opaque.len() - 1].bytes().all(|b| b == 0x21 || (0x23..=0x7e).contains(&b))
}

fn malformed() -> ApiError {
    ApiError::validation("If-Match", "`If-Match` must be `*` or a list of entity tags such as `\"3\"`")
}

/// Whether a change may go ahead on a resource now at `version`. `required` changes refuse
/// to run without `If-Match` (428). Returns whether the request carried a precondition.
pub fn check(req: &Request, version: u64, required: bool) -> Result<bool, ApiError> {
    match IfMatch::from_request(req)? {
        None if required => Err(ApiError::PreconditionRequired),
        None => Ok(false),
        Some(condition) if condition.matches(&etag(version)) => Ok(true),
        Some(_) => Err(stale()),
    }
}

/// The answer when the resource is no longer at the version the client based its change on.
pub fn stale() -> ApiError {
    ApiError::PreconditionFailed("the resource has changed since you read it; read it again and retry".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn with(values: &[&str]) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        for value in values {
            builder = builder.header("if-match", *value);
        }
        builder.body(Body::Empty).unwrap()
    }

    #[test]
    fn tags_compare_strongly_and_weak_ones_never_match() {
        assert!(check(&with(&["\"3\""]), 3, true).unwrap());
        assert!(check(&with(&["\"1\", \"3\""]), 3, true).unwrap());
        assert!(check(&with(&["\"1\"", "\"3\""]), 3, true).unwrap());
        assert!(check(&with(&["*"]), 3, true).unwrap());
        assert_eq!(check(&with(&["\"2\""]), 3, true).unwrap_err().status(), 412);
        assert_eq!(check(&with(&["W/\"3\""]), 3, true).unwrap_err().status(), 412);
        assert!(!check(&with(&[]), 3, false).unwrap());
        assert_eq!(check(&with(&[]), 3, true).unwrap_err().status(), 428);
        for bad in ["3", "\"3", "*, \"3\"", "\"a b\""] {
            assert_eq!(check(&with(&[bad]), 3, true).unwrap_err().status(), 400, "{bad}");
        }
    }
}
