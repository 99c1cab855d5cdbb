//! `GET /v1/me`: the caller's own profile: who the token says they are, with the role their
//! security record gives them, and their account as the user directory keeps it.

use lambda_http::Request;
use serde::Serialize;

use super::Ctx;
use super::users::UserView;
use crate::auth::Role;
use crate::authz::{Action, Resource};
use crate::domain::ids::UserId;
use crate::error::{ApiError, responses};
use crate::http::Reply;

#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Me {
    /// Stable subject id.
    pub id: String,
    pub username: String,
    pub role: Role,
    pub groups: Vec<String>,
    /// The account, when the directory has one (script tokens from the local `token`
    /// command have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<super::users::UserView>,
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
    ctx.audit.subject = Some(principal.subject.clone());
    ctx.authorize(&principal, Action::ReadOwnProfile, &Resource::User(&principal.subject))?;
    let account = match (&ctx.state.directory, UserId::parse(&principal.subject)) {
        (Some(directory), Ok(id)) => directory.get(&id).await.map_err(super::users::directory_error)?.map(UserView::from),
        _ => None,
    };
    Reply::ok(&Me { id: principal.subject, username: principal.username, role: principal.role, groups: principal.groups, account })
}
