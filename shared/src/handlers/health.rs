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
pub async fn get(_ctx: &mut super::Ctx<'_>, _req: &lambda_http::Request) -> Result<Reply, ApiError> {
    Reply::ok(&Health { status: "ok" })
}
