//! `/v1/admin/settings`: what an admin may change while the system runs (retention, the
//! detector's thresholds, MFA for admins), read and changed by admins only. A change names
//! the version it read (`If-Match`), is validated whole, and its audit record says what
//! moved from what to what.

use lambda_http::Request;

use super::{Ctx, store_error};
use crate::authz::{Action, Resource};
use crate::domain::settings::{Settings, SettingsChange};
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::json_body;
use crate::runtime_settings;

const COLLECTION: Resource<'static> = Resource::Collection("settings");
const MAX_BODY_BYTES: usize = 4 * 1024;

/// The settings in force.
#[utoipa::path(get, path = "/v1/admin/settings", operation_id = "getSettings", tag = "admin",
    responses(
        (status = 200, description = "The settings, with their version as `ETag`", body = Settings),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.audit.resource_id = Some("settings".into());
    ctx.authorize(&principal, Action::ReadSettings, &COLLECTION)?;
    let (version, settings) = runtime_settings::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    Ok(Reply::ok(&settings)?.at_version(version))
}

/// Changes some settings; the rest stay. Needs `If-Match` with the version read.
#[utoipa::path(patch, path = "/v1/admin/settings", operation_id = "updateSettings", tag = "admin",
    request_body = SettingsChange,
    params(("If-Match" = String, Header, description = "The `ETag` of the settings as read")),
    responses(
        (status = 200, description = "The settings as changed", body = Settings),
        (status = 400, description = "A value out of its range, or an unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The settings changed since they were read", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No `If-Match`", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn update(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.audit.resource_id = Some("settings".into());
    ctx.authorize(&principal, Action::UpdateSettings, &COLLECTION)?;
    let change: SettingsChange = json_body(req, MAX_BODY_BYTES)?;
    let (version, current) = runtime_settings::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    ctx.precondition(req, version, true)?;
    let (next, changed) = current.apply(&change)?;
    if changed.is_empty() {
        return Ok(Reply::ok(&current)?.at_version(version));
    }
    ctx.audit.detail = Some(changed.join("; "));
    ctx.commit(vec![runtime_settings::write(version, &next).map_err(store_error)?], 200).await?;
    ctx.state.settings.forget();
    Ok(Reply::ok(&next)?.at_version(version + 1))
}
