//! The one error type at the HTTP edge, rendered as RFC 9457 `application/problem+json`.
//!
//! Each layer has its own error enum; they convert into [`ApiError`], which owns the
//! status table. Server errors carry no detail to the client: the cause is logged with
//! the request id instead.

use lambda_http::http::StatusCode;
use serde::Serialize;

use crate::domain::error::{ExportError, Invalid, MalformedId};

/// Base of the stable `type` URIs. They name the problem; clients match on them.
const TYPE_BASE: &str = "https://forecast-api.dev/problems/";

/// An error that ends a request, with what the client may know about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated,
    /// The caller may see the resource exists, but may not do this to it.
    #[error("not allowed")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// The path exists, not with this method; `allowed` goes into the `Allow` header.
    #[error("method not allowed here; allowed: {}", allowed.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", "))]
    MethodNotAllowed { allowed: Vec<lambda_http::http::Method> },
    #[error("{0}")]
    BadRequest(String),
    /// A request body failed validation; `field` points at the offending part.
    #[error("{detail}")]
    Validation { field: Option<String>, detail: String },
    #[error("request body too large: at most {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: expected `{expected}`")]
    UnsupportedMediaType { expected: &'static str },
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a version the resource is no longer at.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A change that must say which version it is based on came without `If-Match`.
    #[error("this change needs `If-Match` with the `ETag` you last read, or `*`")]
    PreconditionRequired,
    /// Well-formed, but the data can't support what was asked (e.g. no model fits).
    #[error("{0}")]
    Unprocessable(String),
    /// A rate limit is reached; it lets the caller in again in `retry_after` seconds.
    #[error("too many requests: try again in {retry_after} seconds")]
    TooManyRequests { retry_after: u64 },
    /// The request could not finish within its route's time budget (below API Gateway's
    /// 29 s), and trying again as it is would not help.
    #[error("{0}")]
    TimeBudget(String),
    /// The server's compute capacity is taken; the request can be retried shortly.
    #[error("the server is busy with other forecasts and analyses; retry in a few seconds")]
    Busy,
    /// The request body did not arrive in time.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// A dependency failed; `cause` is logged, never shown.
    #[error("internal error")]
    Internal { cause: String },
    #[error("service unavailable")]
    Unavailable { cause: String },
}

/// Error responses many routes share, for their OpenAPI annotations
/// (`responses((status = 200, …), responses::Unauthenticated, …)`).
pub mod responses {
    use super::Problem;

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 401, description = "No valid token", content_type = "application/problem+json")]
    pub struct Unauthenticated(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 403, description = "The caller's role may not do this", content_type = "application/problem+json")]
    pub struct Forbidden(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 404, description = "No such user", content_type = "application/problem+json")]
    pub struct UserNotFound(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 413, description = "Body larger than the route accepts", content_type = "application/problem+json")]
    pub struct PayloadTooLarge(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 404, description = "No such dataset, or not yours to see", content_type = "application/problem+json")]
    pub struct DatasetNotFound(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 404, description = "No such forecast, or not yours to see", content_type = "application/problem+json")]
    pub struct ForecastNotFound(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(
        status = 429,
        description = "Over the caller's request rate; `Retry-After` says when to come back",
        content_type = "application/problem+json",
        headers(("Retry-After" = u64, description = "Seconds to wait"))
    )]
    pub struct TooManyRequests(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(status = 415, description = "Body is not `application/json`", content_type = "application/problem+json")]
    pub struct UnsupportedMediaType(pub Problem);

    #[derive(Debug, utoipa::IntoResponses)]
    #[response(
        status = 412,
        description = "`If-Match` names a version the resource is no longer at",
        content_type = "application/problem+json"
    )]
    pub struct PreconditionFailed(pub Problem);
}

/// The `problem+json` body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// JSON pointer-ish name of the offending input field, for validation problems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id, to quote to support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal { cause: cause.to_string() }
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation { field: Some(field.into()), detail: detail.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest(_) | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::TimeBudget(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Short, stable slug for the problem `type` and the audit record's reason.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed { .. } => "method-not-allowed",
            Self::BadRequest(_) => "bad-request",
            Self::Validation { .. } => "validation",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::UnsupportedMediaType { .. } => "unsupported-media-type",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition-failed",
            Self::PreconditionRequired => "precondition-required",
            Self::Unprocessable(_) => "unprocessable",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::Busy => "busy",
            Self::TimeBudget(_) => "time-budget-exceeded",
            Self::RequestTimeout => "request-timeout",
            Self::Internal { .. } => "internal",
            Self::Unavailable { .. } => "unavailable",
        }
    }

    /// The body a client sees. Server errors say nothing beyond their title.
    pub fn to_problem(&self, request_id: Option<&str>) -> Problem {
        let status = self.status();
        let detail = match self {
            Self::Internal { .. } | Self::Unavailable { .. } => None,
            other => Some(other.to_string()),
        };
        let field = match self {
            Self::Validation { field, .. } => field.clone(),
            _ => None,
        };
        Problem {
            kind: format!("{TYPE_BASE}{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            field,
            instance: request_id.map(|id| format!("urn:request:{id}")),
        }
    }

    /// Cause to log for server-side errors.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::Internal { cause } | Self::Unavailable { cause } => Some(cause),
            _ => None,
        }
    }
}

// The domain's refusals, given their statuses here at the edge.

impl From<Invalid> for ApiError {
    fn from(error: Invalid) -> Self {
        Self::Validation { field: Some(error.field.to_owned()), detail: error.detail }
    }
}

impl From<MalformedId> for ApiError {
    /// An id that can't exist is answered like one that doesn't.
    fn from(_: MalformedId) -> Self {
        Self::NotFound
    }
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::TooLarge { .. } => Self::Unprocessable(error.to_string()),
            ExportError::Stored(_) => Self::internal(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::export::ExportFormat;

    #[test]
    fn the_domains_refusals_get_their_statuses_at_the_edge() {
        let invalid = ApiError::from(Invalid::new("name", "name must not be empty")).to_problem(None);
        assert_eq!(
            (invalid.status, invalid.field.as_deref(), invalid.detail.as_deref()),
            (400, Some("name"), Some("name must not be empty"))
        );
        assert_eq!(ApiError::from(MalformedId).to_problem(None).status, 404);
        let too_large = ApiError::from(ExportError::TooLarge { format: ExportFormat::Json, max_bytes: 6_000_000 }).to_problem(None);
        assert_eq!(too_large.status, 422);
        assert_eq!(
            too_large.detail.as_deref(),
            Some("the JSON export would be larger than 6 MB, the most one response can carry; the CSV export is smaller")
        );
        let stored = ApiError::from(ExportError::Stored("row 3: bad quote".into())).to_problem(None);
        assert_eq!((stored.status, stored.detail.as_deref()), (500, None));
    }

    #[test]
    fn server_errors_never_carry_their_cause_to_the_client() {
        let error = ApiError::internal("dynamodb: ResourceNotFoundException table items-prod");
        let body = serde_json::to_string(&error.to_problem(Some("r-1"))).unwrap();
        assert!(!body.contains("dynamodb"), "{body}");
        assert!(body.contains("\"status\":500"));
        assert!(body.contains("urn:request:r-1"));
    }

    #[test]
    fn validation_problems_name_the_field() {
        let problem = ApiError::validation("name", "must not be empty").to_problem(None);
        assert_eq!(problem.field.as_deref(), Some("name"));
        assert_eq!(problem.kind, "https://forecast-api.dev/problems/validation");
        assert_eq!(problem.status, 400);
    }
}
