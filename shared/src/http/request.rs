//! What a handler reads from a request: correlation facts and a strictly parsed body.

use lambda_http::http::header;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// User agents are attacker-controlled: keep what we log short.
const MAX_USER_AGENT_CHARS: usize = 256;

/// Facts about a request that go into logs and audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub origin: Option<String>,
}

impl RequestMeta {
    /// Reads the API Gateway request context (the local server fills one in too).
    pub fn from_request(req: &Request) -> Self {
        let context = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => Some(context),
            _ => None,
        };
        let request_id =
            context.and_then(|c| c.request_id.clone()).filter(|id| !id.is_empty()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let user_agent = context
            .and_then(|c| c.identity.user_agent.clone())
            .or_else(|| header_str(req, header::USER_AGENT.as_str()).map(str::to_owned))
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect());
        Self {
            request_id,
            source_ip: context.and_then(|c| c.identity.source_ip.clone()),
            user_agent,
            origin: header_str(req, header::ORIGIN.as_str()).map(str::to_owned),
        }
    }
}

/// A header's value, if present and valid UTF-8.
pub fn header_str<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The raw body bytes, after checking the size limit.
pub fn body_bytes(req: &Request, limit: usize) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Text(text) => text.as_bytes(),
        // API Gateway sends bodies it deems binary base64-encoded; lambda_http decodes them.
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(bytes)
}

/// Parses a JSON body strictly: `application/json` only, within `limit` bytes, and into a
/// type that rejects unknown fields (every request type has `deny_unknown_fields`).
pub fn json_body<T: DeserializeOwned>(req: &Request, limit: usize) -> Result<T, ApiError> {
    let content_type = header_str(req, header::CONTENT_TYPE.as_str()).unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType { expected: "application/json" });
    }
    let bytes = body_bytes(req, limit)?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("request body is empty".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde's messages name the field and the expected type but never echo values at length.
        let message = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data => ApiError::Validation { field: None, detail: message },
            _ => ApiError::BadRequest(format!("malformed JSON: {message}")),
        }
    })
}

/// A query-string parameter, rejecting repeats (which would otherwise be silently merged).
pub fn query_param(req: &Request, name: &str) -> Result<Option<String>, ApiError> {
    let params = req.query_string_parameters();
    match params.all(name) {
        None => Ok(None),
        Some(values) if values.len() == 1 => Ok(values.first().map(|v| (*v).to_owned())),
        Some(_) => Err(ApiError::validation(name, format!("query parameter `{name}` given more than once"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only parsed")]
    struct Sample {
        name: String,
    }

    fn request(content_type: &str, body: &str) -> Request {
        http::Request::builder().header("content-type", content_type).body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn unknown_fields_wrong_types_and_bad_json_are_400s() {
        for body in [r#"{"name":"a","owner":"x"}"#, r#"{"name":1}"#, r#"{"name":"a""#, "[]"] {
            let error = json_body::<Sample>(&request("application/json", body), 100).unwrap_err();
            assert_eq!(error.status(), 400, "{body}");
        }
    }

    #[test]
    fn other_media_types_are_415_and_large_bodies_413() {
        assert_eq!(json_body::<Sample>(&request("text/plain", r#"{"name":"a"}"#), 100).unwrap_err().status(), 415);
        assert_eq!(json_body::<Sample>(&request("application/json", &"x".repeat(101)), 100).unwrap_err().status(), 413);
        assert!(json_body::<Sample>(&request("application/json; charset=utf-8", r#"{"name":"a"}"#), 100).is_ok());
    }

    #[test]
    fn a_body_is_read_whether_text_or_binary_up_to_its_limit_exactly() {
        let binary = http::Request::builder().body(Body::Binary(b"{\"name\":\"a\"}".to_vec())).unwrap();
        assert_eq!(body_bytes(&binary, 100).unwrap(), br#"{"name":"a"}"#);
        let empty = http::Request::builder().body(Body::Empty).unwrap();
        assert_eq!(body_bytes(&empty, 100).unwrap(), b"");
        let at_limit = request("application/json", &"x".repeat(100));
        assert_eq!(body_bytes(&at_limit, 100).unwrap().len(), 100);
        assert!(matches!(body_bytes(&request("application/json", &"x".repeat(101)), 100), Err(ApiError::PayloadTooLarge { limit: 100 })));
    }
}
