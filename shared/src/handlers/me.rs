//! `GET /v1/me`: the caller's own profile, as the token establishes it.

use lambda_http::Request;
use serde::Serialize;

use super::Ctx;
use crate::auth::Role;
use crate::authz::{Action, Resource};
use crate::error::{ApiError, responses};
use crate::http::Reply;

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Me {
    /// Stable subject id.
    pub id: String,
    pub username: String,
    pub role: Role,
    pub groups: Vec<String>,
}

/// The caller's own profile.
#[utoipa::path(get, path = "/v1/me", operation_id = "getMe", tag = "users",
    responses(
        (status = 200, description = "The caller", body = Me),
        responses::Unauthenticated,
        responses::TooManyRequests,
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.audit.resource_id = Some(principal.subject.clone());
    ctx.authorize(&principal, Action::ReadOwnProfile, &Resource::User(&principal.subject))?;
    Reply::ok(&Me { id: principal.subject, username: principal.username, role: principal.role, groups: principal.groups })
}
