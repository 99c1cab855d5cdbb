//! `GET /health`: public liveness, no data.

use serde::Serialize;

use crate::error::ApiError;
use crate::http::Reply;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness check.
#[utoipa::path(get, path = "/health", operation_id = "health", security(()), tag = "health",
    responses((status = 200, description = "The function is up", body = Health)))]
pub fn get() -> Result<Reply, ApiError> {
    Reply::ok(&Health { status: "ok" })
}
