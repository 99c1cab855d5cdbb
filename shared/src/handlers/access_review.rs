//! `/v1/admin/access-review`: the periodic review of who holds which access (SR-42), as
//! JSON or CSV. What it holds and flags is [`crate::access_review`].

use lambda_http::Request;

use super::users::{directory, directory_error};
use super::{Ctx, store_error};
use crate::access_review::{AccessReview, ReviewError, csv, review as build};
use crate::authz::{Action, Resource};
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::query_param;

/// Every account with its role, state, last sign-in, MFA, datasets owned and shared out,
/// and flags: enabled admins without MFA, enabled accounts idle over 90 days, datasets
/// shared with disabled or deleted accounts. `format=csv` for a spreadsheet.
#[utoipa::path(get, path = "/v1/admin/access-review", operation_id = "reviewAccess", tag = "admin",
    params(("format" = Option<String>, Query, description = "`json` (default) or `csv`")),
    responses(
        (status = 200, description = "The review (CSV as a download with `format=csv`)", body = AccessReview),
        (status = 400, description = "Not a format", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn review(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::ReviewAccess, &Resource::Collection("access-review"))?;
    let as_csv = match query_param(req, "format")?.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::validation("format", "`format` is `json` or `csv`")),
    };
    let now = time::OffsetDateTime::now_utc();
    let review = build(directory(ctx)?, ctx.state.store.as_ref(), now, ctx.work_deadline()).await.map_err(|error| match error {
        ReviewError::Store(error) => store_error(error),
        ReviewError::Directory(error) => directory_error(error),
    })?;
    ctx.audit.detail = Some(format!("{} accounts{}", review.users.len(), if review.complete { "" } else { ", incomplete" }));
    if !as_csv {
        return Reply::ok(&review);
    }
    let text = csv(&review, ctx.state.limits.max_response_bytes)?;
    let day = &review.generated_at[..10];
    Ok(Reply::download("text/csv; charset=utf-8", format!("access-review-{day}.csv"), text))
}
