//! `/v1/users/{userId}/data-export` and `/erase`: a person's right of access and right to
//! erasure (SR-28). What is gathered and erased, and how, is [`crate::personal_data`].

use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

use super::users::{UserView, directory, directory_error, remove_account, target};
use super::{Ctx, store_error};
use crate::auth::standing;
use crate::authz::Action;
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::personal_data::{Erasure, ErasureReport, HeldData, PersonalDataError, gather};

/// What the API holds about a person.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PersonalDataView {
    pub user_id: String,
    /// The account, while it exists (content outlives a deleted account until erased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<UserView>,
    #[serde(flatten)]
    pub held: HeldData,
    pub exported_at: String,
}

fn personal_data_error(error: PersonalDataError) -> ApiError {
    match error {
        PersonalDataError::Store(error) => store_error(error),
        PersonalDataError::Blob(error) => super::blob_error(error),
        PersonalDataError::Key(error) => ApiError::Unavailable { cause: error.to_string() },
    }
}

/// Everything the API holds about a user: their profile, the datasets they own and the
/// forecasts they ran (metadata), the shares both ways, and the audit records they made or
/// are the subject of (the newest 2,000; the admin audit export lists every one). A user
/// exports their own; an admin anyone's.
#[utoipa::path(get, path = "/v1/users/{userId}/data-export", operation_id = "exportUserData", tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "What is held about the user", body = PersonalDataView),
        (status = 400, description = "Not a user id", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn export(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::ExportUserData).await?;
    let profile = directory(ctx)?.get(&id).await.map_err(directory_error)?.map(UserView::from);
    let now = time::OffsetDateTime::now_utc();
    let held = gather(ctx.state.store.as_ref(), id.as_str(), now).await.map_err(personal_data_error)?;
    Reply::ok(&PersonalDataView { user_id: id.as_str().to_owned(), profile, held, exported_at: crate::audit::format_time(now) })
}

/// Erases a user: deletes the datasets they own (files included, deleted ones too), the
/// forecasts they ran and the shares to them, replaces their identity in the audit trail
/// and the findings by a pseudonym (the records still verify), and deletes the account.
/// Only a disabled account is erased. 202 when the time of one request ran out first:
/// repeat the call to continue (each step is whole, and a repeat finds what is left).
#[utoipa::path(post, path = "/v1/users/{userId}/erase", operation_id = "eraseUser", tag = "users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Erased, account included", body = ErasureReport),
        (status = 202, description = "Partly erased: call again to continue", body = ErasureReport),
        (status = 400, description = "Not a user id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account is enabled, or the last enabled admin", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn erase(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (_, id) = target(ctx, req, Action::EraseUser).await?;
    let directory = directory(ctx)?;
    let account = directory.get(&id).await.map_err(directory_error)?;
    let store = ctx.state.store.as_ref();
    let standing = standing::read(store, id.as_str()).await.map_err(store_error)?;
    if account.as_ref().is_some_and(|user| user.enabled) || standing.as_ref().is_some_and(|(_, record)| record.enabled) {
        return Err(ApiError::Conflict("disable the account first: only an account that can no longer act is erased".into()));
    }
    let deadline = ctx.work_deadline();
    let erasure =
        Erasure { store, blobs: ctx.state.blobs.as_ref(), keys: &ctx.state.audit_keys, user: id.as_str(), meta: &ctx.meta, deadline };
    let report = erasure.run(time::OffsetDateTime::now_utc()).await.map_err(personal_data_error)?;
    // This request's own record names the pseudonym, not the person.
    ctx.audit.subject = Some(report.pseudonym.clone());
    ctx.audit.resource_id = Some(report.pseudonym.clone());
    ctx.audit.detail = Some(format!(
        "datasets {}, forecasts {}, files {}, shares {}, audit records {}, findings {}{}",
        report.datasets,
        report.forecasts,
        report.files,
        report.shares_removed,
        report.audit_records,
        report.findings,
        if report.complete { "" } else { ", more to do" }
    ));
    if !report.complete {
        let mut reply = Reply::ok(&report)?;
        reply.status = StatusCode::ACCEPTED;
        return Ok(reply);
    }
    remove_account(ctx, directory, &id, account.is_some(), standing.as_ref(), 200).await?;
    Reply::ok(&report)
}
