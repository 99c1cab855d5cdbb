//! `/v1/admin/findings` and `/v1/admin/blocked-ips`: what the detector found, and the
//! addresses refused before any route runs (SR-21, SR-40). Admins list findings, list the
//! block list, block an address for a while and unblock it. To sign a user out everywhere,
//! `POST /v1/users/{userId}/sign-out`.

use std::net::IpAddr;

use lambda_http::Request;
use serde::{Deserialize, Serialize};

use super::paging::{PageRequest, open_cursor, seal_cursor};
use super::{Ctx, path_param, store_error};
use crate::audit::format_time;
use crate::authz::{Action, Resource};
use crate::blocklist::{self, BlockedIp};
use crate::cursor::ListScope;
use crate::detector::{FINDINGS_PARTITION, Finding};
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::json_body;
use crate::store::StoreError;

const FINDINGS: Resource<'static> = Resource::Collection("findings");
const BLOCKED: Resource<'static> = Resource::Collection("blocked-ips");
const MAX_BODY_BYTES: usize = 2 * 1024;
const MAX_REASON_CHARS: usize = 200;

/// A page of findings, newest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FindingPage {
    pub items: Vec<Finding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The addresses blocked now.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockedIpList {
    pub items: Vec<BlockedIp>,
}

/// How long, and why, an admin blocks an address.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// 1 to 10,080 (a week); the detector's `block_minutes` when absent.
    pub minutes: Option<u32>,
    pub reason: Option<String>,
}

async fn admin(ctx: &mut Ctx<'_>, req: &Request, action: Action, resource: &Resource<'_>) -> Result<crate::auth::Principal, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, action, resource)?;
    Ok(principal)
}

/// Findings, newest first.
#[utoipa::path(get, path = "/v1/admin/findings", operation_id = "listFindings", tag = "admin",
    params(
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` from the previous page"),
    ),
    responses(
        (status = 200, description = "A page of findings", body = FindingPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn list_findings(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = admin(ctx, req, Action::ListFindings, &FINDINGS).await?;
    let wanted = PageRequest::from_query(req)?;
    let partitions = [FINDINGS_PARTITION.to_owned()];
    let scope = ListScope { caller: &principal.subject, partitions: &partitions, prefix: "" };
    let after = match &wanted.cursor {
        Some(cursor) => Some(open_cursor(ctx, &scope, cursor).await?),
        None => None,
    };
    let page = ctx.state.store.query_keys(FINDINGS_PARTITION, "", after.as_deref(), wanted.limit).await.map_err(store_error)?;
    let mut items: Vec<(String, Finding)> = Vec::with_capacity(page.items.len());
    for item in ctx.state.store.get_many_json(&page.items).await.map_err(store_error)? {
        let finding = serde_json::from_str(&item.json).map_err(|e| store_error(StoreError::Corrupt(format!("finding: {e}"))))?;
        items.push((item.key.sk, finding));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let next_cursor = match page.next {
        Some(next) => Some(seal_cursor(ctx, &scope, &next).await?),
        None => None,
    };
    Reply::ok(&FindingPage { items: items.into_iter().map(|(_, finding)| finding).collect(), next_cursor })
}

/// The addresses blocked now, by the detector or by admins.
#[utoipa::path(get, path = "/v1/admin/blocked-ips", operation_id = "listBlockedIps", tag = "admin",
    responses(
        (status = 200, description = "The addresses blocked now", body = BlockedIpList),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn list_blocked(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    admin(ctx, req, Action::ListBlockedIps, &BLOCKED).await?;
    let (_, list) = blocklist::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    Reply::ok(&BlockedIpList { items: list.active(time::OffsetDateTime::now_utc()) })
}

/// The address a path names, normalised (`::ffff:1.2.3.4` and `1.2.3.4` are one).
fn address(ctx: &mut Ctx<'_>, req: &Request) -> Result<String, ApiError> {
    let raw = path_param(req, "ip")?;
    let ip = raw.parse::<IpAddr>().map_err(|_| ApiError::validation("ip", "not an IPv4 or IPv6 address"))?;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
    .to_string();
    ctx.audit.resource_id = Some(ip.clone());
    Ok(ip)
}

/// Blocks an address for a while: its requests get a 403 before any route runs, within
/// five seconds everywhere. An admin can't block the address they call from.
#[utoipa::path(put, path = "/v1/admin/blocked-ips/{ip}", operation_id = "blockIp", tag = "admin",
    params(("ip" = String, Path, description = "An IPv4 or IPv6 address")),
    request_body = BlockRequest,
    responses(
        (status = 200, description = "Blocked", body = BlockedIp),
        (status = 400, description = "Not an address, or a bad duration or reason", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Your own address, a full block list, or a concurrent change", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn block(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = admin(ctx, req, Action::BlockIp, &BLOCKED).await?;
    let ip = address(ctx, req)?;
    let body: BlockRequest = json_body(req, MAX_BODY_BYTES)?;
    if ctx.meta.source_ip.as_deref() == Some(ip.as_str()) {
        return Err(ApiError::Conflict("that is the address this request comes from: blocking it would lock you out".into()));
    }
    let reason = match body.reason {
        Some(reason) if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) => {
            return Err(ApiError::validation("reason", format!("a reason is 1 to {MAX_REASON_CHARS} printable characters")));
        }
        Some(reason) => reason,
        None => "blocked by an admin".to_owned(),
    };
    let settings = ctx.state.settings.get(ctx.state.store.as_ref()).await.map_err(store_error)?;
    let minutes = body.minutes.unwrap_or(settings.detection.block_minutes);
    if !(1..=10_080).contains(&minutes) {
        return Err(ApiError::validation("minutes", "`minutes` must be from 1 to 10080 (a week)"));
    }
    let now = time::OffsetDateTime::now_utc();
    let entry = BlockedIp {
        ip: ip.clone(),
        until: format_time(now + time::Duration::minutes(i64::from(minutes))),
        reason,
        by: principal.subject.clone(),
        created_at: format_time(now),
        finding: None,
    };
    let (version, list) = blocklist::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    let next = list.with(entry.clone(), now).ok_or_else(|| ApiError::Conflict("the block list is full".into()))?;
    ctx.audit.detail = Some(format!("until {}: {}", entry.until, entry.reason));
    ctx.commit(vec![blocklist::write(version, &next).map_err(store_error)?], 200).await?;
    ctx.state.blocklist.forget();
    Reply::ok(&entry)
}

/// Lifts a block at once (everywhere within five seconds).
#[utoipa::path(delete, path = "/v1/admin/blocked-ips/{ip}", operation_id = "unblockIp", tag = "admin",
    params(("ip" = String, Path, description = "An IPv4 or IPv6 address")),
    responses(
        (status = 204, description = "Unblocked"),
        (status = 400, description = "Not an address", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The address is not blocked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A concurrent change", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn unblock(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    admin(ctx, req, Action::UnblockIp, &BLOCKED).await?;
    let ip = address(ctx, req)?;
    let now = time::OffsetDateTime::now_utc();
    let (version, list) = blocklist::read(ctx.state.store.as_ref()).await.map_err(store_error)?;
    if list.blocking(&ip, now).is_none() {
        return Err(ApiError::NotFound);
    }
    ctx.commit(vec![blocklist::write(version, &list.without(&ip, now)).map_err(store_error)?], 204).await?;
    ctx.state.blocklist.forget();
    Ok(Reply::no_content())
}
