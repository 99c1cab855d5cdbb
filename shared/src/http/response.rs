//! Successful replies, and rendering of replies and errors into HTTP responses.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;

/// What a handler returns on success.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: ReplyBody,
    pub location: Option<String>,
    /// The resource's version, sent as its `ETag`.
    pub version: Option<u64>,
    /// A `Set-Cookie` value (the session routes only).
    pub cookie: Option<String>,
    /// Where a download that stopped early continues (`X-Next-Cursor`).
    pub next_cursor: Option<String>,
}

#[derive(Debug)]
pub enum ReplyBody {
    Empty,
    /// JSON text, serialized straight from the handler's type (no intermediate tree).
    Json(String),
    /// A file to save (exports): its media type, a file name, and the content.
    Download {
        content_type: &'static str,
        filename: String,
        content: String,
    },
}

impl Reply {
    pub fn ok(body: &impl Serialize) -> Result<Self, ApiError> {
        Ok(Self {
            status: StatusCode::OK,
            body: ReplyBody::Json(to_text(body)?),
            location: None,
            version: None,
            cookie: None,
            next_cursor: None,
        })
    }

    pub fn created(body: &impl Serialize, location: String) -> Result<Self, ApiError> {
        Ok(Self {
            status: StatusCode::CREATED,
            body: ReplyBody::Json(to_text(body)?),
            location: Some(location),
            version: None,
            cookie: None,
            next_cursor: None,
        })
    }

    pub fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: ReplyBody::Empty, location: None, version: None, cookie: None, next_cursor: None }
    }

    /// A file download. `filename` is built from validated ids, never from user text.
    pub fn download(content_type: &'static str, filename: String, content: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: ReplyBody::Download { content_type, filename, content },
            location: None,
            version: None,
            cookie: None,
            next_cursor: None,
        }
    }

    /// The same reply, setting a cookie.
    pub fn with_cookie(self, cookie: String) -> Self {
        Self { cookie: Some(cookie), ..self }
    }

    /// The same reply, saying where the rest of a download continues.
    pub fn with_next_cursor(self, cursor: String) -> Self {
        Self { next_cursor: Some(cursor), ..self }
    }

    /// The same reply, carrying the resource's version as its `ETag`.
    pub fn at_version(self, version: u64) -> Self {
        Self { version: Some(version), ..self }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = match self.body {
            ReplyBody::Json(body) => json_response(self.status, "application/json", body),
            ReplyBody::Empty => {
                let mut response = Response::new(Body::Empty);
                *response.status_mut() = self.status;
                response
            }
            ReplyBody::Download { content_type, filename, content } => {
                let mut response = Response::new(Body::Text(content));
                *response.status_mut() = self.status;
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
                    response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
                }
                response
            }
        };
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        if let Some(cookie) = self.cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        if let Some(cursor) = self.next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert("x-next-cursor", cursor);
        }
        if let Some(etag) = self.version.and_then(|v| HeaderValue::from_str(&crate::http::conditional::etag(v)).ok()) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        response
    }
}

fn to_text(body: &impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(body).map_err(ApiError::internal)
}

/// Renders an error as `application/problem+json`.
pub fn problem_response(error: &ApiError, request_id: &str) -> Response<Body> {
    let problem = error.to_problem(Some(request_id));
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let mut response = json_response(error.status(), "application/problem+json", body);
    match error {
        ApiError::Unauthenticated => {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::Busy => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        ApiError::TooManyRequests { retry_after } => {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        ApiError::MethodNotAllowed { allowed } => {
            let allow = allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
            if let Ok(value) = HeaderValue::from_str(&allow) {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        _ => {}
    }
    response
}

fn json_response(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
