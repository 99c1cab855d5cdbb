//! `/v1/admin/audit`: the audit trail for admins (SR-17, SR-19). Search it by who, what,
//! which resource, outcome, source address and time, newest first; export the same query
//! as CSV or JSON Lines; verify a range against the signed digests.
//!
//! Searches read the audit table's indexes (`store::audit`), never a scan. Every search,
//! export and verification is itself audited, like every request.

use std::net::IpAddr;

use lambda_http::Request;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::paging::{PageRequest, open_cursor, seal_cursor};
use super::{Ctx, store_error};
use crate::audit::{AuditOutcome, AuditRecord, format_time};
use crate::audit_digest::{self, VerifyReport};
use crate::authz::{Action, Resource};
use crate::cursor::ListScope;
use crate::domain::audit::AuditQuery;
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::query_param;
use crate::store::audit::search;

const COLLECTION: Resource<'static> = Resource::Collection("audit");
/// The default span of a search or verification that names no `from`.
const DEFAULT_SPAN: time::Duration = time::Duration::days(1);
/// The longest span one verification request covers (the local command covers any).
const MAX_VERIFY_SPAN: time::Duration = time::Duration::days(7);
/// Longest text accepted for a filter value.
const MAX_FILTER_CHARS: usize = 200;
/// Records an export reads per page.
const EXPORT_PAGE: usize = 100;

/// A page of audit records.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub items: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; absent on the last. A page may hold fewer
    /// records than asked (even none) and still have a next one: a search reads at most
    /// 5,000 records per request, whatever its filters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn parse_time(name: &'static str, raw: Option<String>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|text| {
        OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| ApiError::validation(name, format!("`{name}` must be an RFC 3339 time")))
    })
    .transpose()
}

/// `from` and `to`: both optional (the last day up to now by default), `from` before `to`.
fn time_range(req: &Request) -> Result<(OffsetDateTime, OffsetDateTime), ApiError> {
    let to = parse_time("to", query_param(req, "to")?)?.unwrap_or_else(OffsetDateTime::now_utc);
    let from = parse_time("from", query_param(req, "from")?)?.unwrap_or(to - DEFAULT_SPAN);
    if from > to {
        return Err(ApiError::validation("from", "`from` must not be after `to`"));
    }
    Ok((from, to))
}

fn filter(req: &Request, name: &'static str) -> Result<Option<String>, ApiError> {
    match query_param(req, name)? {
        Some(value) if value.is_empty() || value.chars().count() > MAX_FILTER_CHARS || value.chars().any(char::is_control) => {
            Err(ApiError::validation(name, format!("`{name}` must be 1 to {MAX_FILTER_CHARS} printable characters")))
        }
        other => Ok(other),
    }
}

/// The query a request asks for.
fn audit_query(req: &Request) -> Result<AuditQuery, ApiError> {
    let (from, to) = time_range(req)?;
    let outcome = match query_param(req, "outcome")?.as_deref() {
        None => None,
        Some("success") => Some(AuditOutcome::Success),
        Some("failure") => Some(AuditOutcome::Failure),
        Some("error") => Some(AuditOutcome::Error),
        Some(_) => return Err(ApiError::validation("outcome", "`outcome` is one of success, failure, error")),
    };
    // Addresses are stored as the edge saw them: normalised so `::ffff:…` or leading zeros
    // don't miss.
    let source_ip = match query_param(req, "source_ip")? {
        Some(text) => Some(
            text.parse::<IpAddr>()
                .map_err(|_| ApiError::validation("source_ip", "`source_ip` must be an IPv4 or IPv6 address"))?
                .to_string(),
        ),
        None => None,
    };
    Ok(AuditQuery {
        from,
        to,
        actor: filter(req, "actor")?,
        subject: filter(req, "subject")?,
        action: filter(req, "action")?,
        resource_type: filter(req, "resource_type")?,
        resource_id: filter(req, "resource_id")?,
        outcome,
        source_ip,
    })
}

/// The query parameters a cursor is bound to (besides the caller), as sent: a position
/// can't be carried over to another query. (A `to` left to default is "now" at each page;
/// the cursor's position, below the first page's now, keeps the pages one walk.)
const QUERY_PARAMETERS: [&str; 9] = ["from", "to", "actor", "subject", "action", "resource_type", "resource_id", "outcome", "source_ip"];

fn query_scope(req: &Request) -> Result<String, ApiError> {
    let mut parts = vec!["audit".to_owned()];
    for name in QUERY_PARAMETERS {
        parts.push(query_param(req, name)?.unwrap_or_default());
    }
    serde_json::to_string(&parts).map_err(ApiError::internal)
}

async fn authorized(ctx: &mut Ctx<'_>, req: &Request, action: Action) -> Result<crate::auth::Principal, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, action, &COLLECTION)?;
    Ok(principal)
}

/// Searches the audit trail, newest first. Filters combine; without `from` and `to` the
/// last day is searched.
#[utoipa::path(get, path = "/v1/admin/audit", operation_id = "searchAudit", tag = "admin",
    params(
        ("from" = Option<String>, Query, description = "Oldest time included (RFC 3339); default a day before `to`"),
        ("to" = Option<String>, Query, description = "Newest time included (RFC 3339); default now"),
        ("actor" = Option<String>, Query, description = "The caller's subject id"),
        ("subject" = Option<String>, Query, description = "The user the request was about"),
        ("action" = Option<String>, Query, description = "The route's function name, such as `delete-dataset`"),
        ("resource_type" = Option<String>, Query, description = "`dataset`, `forecast`, `user`, `session`, …"),
        ("resource_id" = Option<String>, Query, description = "The resource's id"),
        ("outcome" = Option<String>, Query, description = "`success`, `failure` (4xx) or `error` (5xx)"),
        ("source_ip" = Option<String>, Query, description = "The caller's address"),
        ("limit" = Option<usize>, Query, description = "Page size, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` from the previous page of the same query"),
    ),
    responses(
        (status = 200, description = "A page of records", body = AuditPage),
        (status = 400, description = "A bad filter, time, limit or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn search_records(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = authorized(ctx, req, Action::SearchAudit).await?;
    let query = audit_query(req)?;
    let wanted = PageRequest::from_query(req)?;
    let bound = [query_scope(req)?];
    let scope = ListScope { caller: &principal.subject, partitions: &bound, prefix: "" };
    let before = match &wanted.cursor {
        Some(cursor) => Some(open_cursor(ctx, &scope, cursor).await?),
        None => None,
    };
    let page = search(ctx.state.store.as_ref(), &query, before.as_deref(), wanted.limit).await.map_err(store_error)?;
    let next_cursor = match page.next {
        Some(next) => Some(seal_cursor(ctx, &scope, &next).await?),
        None => None,
    };
    Reply::ok(&AuditPage { items: page.items, next_cursor })
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
}

/// Exports what a search finds, whole, as CSV or JSON Lines (newest first), up to the
/// largest response a function may send; a longer result ends early with the cursor to
/// continue from in `X-Next-Cursor`.
#[utoipa::path(get, path = "/v1/admin/audit/export", operation_id = "exportAudit", tag = "admin",
    params(
        ("format" = Option<String>, Query, description = "`csv` (default) or `jsonl`"),
        ("from" = Option<String>, Query, description = "As for the search"),
        ("to" = Option<String>, Query, description = "As for the search"),
        ("actor" = Option<String>, Query, description = "As for the search"),
        ("subject" = Option<String>, Query, description = "As for the search"),
        ("action" = Option<String>, Query, description = "As for the search"),
        ("resource_type" = Option<String>, Query, description = "As for the search"),
        ("resource_id" = Option<String>, Query, description = "As for the search"),
        ("outcome" = Option<String>, Query, description = "As for the search"),
        ("source_ip" = Option<String>, Query, description = "As for the search"),
        ("cursor" = Option<String>, Query, description = "`X-Next-Cursor` of the previous part of the same export"),
    ),
    responses(
        (status = 200, description = "The records as a file", content(("text/csv"), ("application/x-ndjson")),
            headers(("X-Next-Cursor" = String, description = "Present when the export continues: pass as `cursor`"))),
        (status = 400, description = "A bad format, filter, time or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn export(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = authorized(ctx, req, Action::ExportAudit).await?;
    let format = match query_param(req, "format")?.as_deref() {
        None | Some("csv") => ExportFormat::Csv,
        Some("jsonl") => ExportFormat::JsonLines,
        Some(_) => return Err(ApiError::validation("format", "`format` is `csv` or `jsonl`")),
    };
    let query = audit_query(req)?;
    let cursor = PageRequest::from_query(req)?.cursor;
    let bound = [query_scope(req)?, format!("{format:?}")];
    let scope = ListScope { caller: &principal.subject, partitions: &bound, prefix: "" };
    let mut before = match &cursor {
        Some(cursor) => Some(open_cursor(ctx, &scope, cursor).await?),
        None => None,
    };
    let cap = ctx.state.limits.max_response_bytes;
    let stop_at = ctx.work_deadline();
    let mut out = String::new();
    if format == ExportFormat::Csv {
        out.push_str(&crate::domain::audit::csv_header());
    }
    let mut next = None;
    loop {
        let page = search(ctx.state.store.as_ref(), &query, before.as_deref(), EXPORT_PAGE).await.map_err(store_error)?;
        let mut cut = false;
        for record in &page.items {
            let line = match format {
                ExportFormat::Csv => crate::domain::audit::csv_line(record).map_err(ApiError::internal)?,
                ExportFormat::JsonLines => serde_json::to_string(record).map_err(ApiError::internal)? + "\n",
            };
            if out.len() + line.len() > cap {
                cut = true;
                break;
            }
            out.push_str(&line);
            before = Some(record.position());
        }
        if cut || (page.next.is_some() && std::time::Instant::now() >= stop_at) {
            next = before.clone().or(page.next);
            break;
        }
        match page.next {
            Some(position) => before = Some(position),
            None => break,
        }
    }
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv", "csv"),
        ExportFormat::JsonLines => ("application/x-ndjson", "jsonl"),
    };
    let filename = format!("audit-{}.{extension}", format_time(query.to).replace([':', '.'], "-"));
    let mut reply = Reply::download(content_type, filename, out);
    if let Some(position) = next {
        reply = reply.with_next_cursor(seal_cursor(ctx, &scope, &position).await?);
    }
    Ok(reply)
}

/// Verifies a range of the audit trail against its signed digests: names every record
/// changed, deleted or inserted since it was written, and every digest missing or broken.
/// At most seven days per request (the local command `devserver audit verify` takes any).
#[utoipa::path(get, path = "/v1/admin/audit/verify", operation_id = "verifyAudit", tag = "admin",
    params(
        ("from" = Option<String>, Query, description = "Start of the range (RFC 3339); default a day before `to`"),
        ("to" = Option<String>, Query, description = "End of the range (RFC 3339); default now"),
    ),
    responses(
        (status = 200, description = "What the range holds against its digests", body = VerifyReport),
        (status = 400, description = "A bad time, or a range over seven days", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::Forbidden,
        responses::TooManyRequests,
    ))]
pub async fn verify(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    authorized(ctx, req, Action::VerifyAudit).await?;
    let (from, to) = time_range(req)?;
    if to - from > MAX_VERIFY_SPAN {
        return Err(ApiError::validation("from", "a verification covers at most seven days; split the range"));
    }
    let digests = ctx.state.audit_digests.as_ref().ok_or_else(|| ApiError::internal("this function has no audit digests"))?;
    let keys = &ctx.state.audit_keys;
    let report = audit_digest::verify(
        ctx.state.store.as_ref(),
        digests.blobs.as_ref(),
        keys,
        digests.signer.as_ref(),
        from,
        to,
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|error| match error {
        audit_digest::DigestError::Store(error) => store_error(error),
        other => ApiError::Unavailable { cause: other.to_string() },
    })?;
    if !report.clean {
        tracing::warn!(
            modified = report.modified.len(),
            deleted = report.deleted.len(),
            inserted = report.inserted.len(),
            digests = report.digests.len(),
            "audit verification found tampering"
        );
    }
    ctx.audit.reason = (!report.clean).then(|| "tampering-found".to_owned());
    Reply::ok(&report)
}
