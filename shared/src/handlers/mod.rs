//! Route handlers and the request pipeline they all run in.
//!
//! [`serve`] is the one entry point for every host (Lambda, local server, tests):
//! it authenticates, dispatches, audits and adds the security and CORS headers, so no
//! handler can forget any of them.

pub mod access_review;
pub mod analysis;
pub mod audit_log;
pub mod datasets;
pub mod forecasts;
pub mod health;
pub mod me;
pub mod paging;
pub mod personal_data;
pub mod security;
pub mod session;
pub mod settings;
pub mod users;

use std::time::Instant;

use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use crate::audit::{AuditDecision, AuditDraft};
use crate::auth::{self, AuthError, Principal};
use crate::authz::{Action, Resource};
use crate::error::ApiError;
use crate::http::response::problem_response;
use crate::http::{Reply, RequestMeta, Route, headers};
use crate::state::AppState;
use crate::store::rate::Verdict;
use crate::store::{BlobError, BlobKey};
use crate::store::{StoreError, WriteOp};

/// Per-request context: who is calling and the audit record being filled in.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub meta: RequestMeta,
    pub audit: AuditDraft,
    principal: Option<Principal>,
    /// Set once the audit record went out with a mutation, so it isn't written twice.
    audit_committed: bool,
    /// When the answer is due (the route's time budget from the request's start).
    pub deadline: Instant,
    /// Whether the request's change was conditioned on `If-Match`: a lost race is then a
    /// failed precondition (412) rather than a conflict (409).
    conditional: bool,
}

impl<'a> Ctx<'a> {
    /// Establishes the caller and checks their standing; fails closed.
    pub async fn authenticate(&mut self, req: &Request) -> Result<Principal, ApiError> {
        let verified = auth::authenticate(req, &self.state.auth, &self.state.verifier).await.map_err(|e| self.refuse(e))?;
        let principal = match self.state.standing.check(self.state.store.as_ref(), verified.clone()).await {
            Ok(principal) => principal,
            Err(error) => {
                // The token is genuine: the record says who was turned away.
                self.audit.set_actor(&verified);
                return Err(self.refuse(error));
            }
        };
        tracing::Span::current().record("subject", principal.subject.as_str());
        self.audit.set_actor(&principal);
        self.principal = Some(principal.clone());
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let limit = self.state.limits.api_rate.limit(principal.role);
        match limit.hit(self.state.store.as_ref(), &principal.subject, now).await.map_err(store_error)? {
            Verdict::Allowed { .. } => Ok(principal),
            Verdict::Limited { retry_after } => {
                self.audit.reason = Some("rate-limited".to_owned());
                tracing::info!(retry_after, "request rate limit reached");
                Err(ApiError::TooManyRequests { retry_after })
            }
        }
    }

    /// Records why authentication failed and answers 401 (503 when the keys or records
    /// can't be read).
    fn refuse(&mut self, error: AuthError) -> ApiError {
        self.audit.reason = Some(error.code().to_owned());
        tracing::info!(reason = error.code(), "authentication failed");
        match error {
            AuthError::KeysUnavailable(cause) | AuthError::StandingUnavailable(cause) => ApiError::Unavailable { cause },
            _ => ApiError::Unauthenticated,
        }
    }

    /// Asks the policy engine and records the decision for the audit record.
    /// `Ok(false)` is a deny; the caller chooses 403 or 404.
    pub fn decide(&mut self, principal: &Principal, action: Action, resource: &Resource<'_>) -> Result<bool, ApiError> {
        let verdict = self.state.authorizer.decide(principal, action, resource).map_err(ApiError::internal)?;
        self.audit.decision = if verdict.allowed { AuditDecision::Allow } else { AuditDecision::Deny };
        self.audit.policies = verdict.policies;
        Ok(verdict.allowed)
    }

    /// A policy question whose answer shapes the response (what is listed or shown) but is
    /// not the request's decision, so it is not recorded; an evaluation error counts as no.
    pub fn can(&self, principal: &Principal, action: Action, resource: &Resource<'_>) -> bool {
        self.state.authorizer.decide(principal, action, resource).is_ok_and(|v| v.allowed)
    }

    /// Like [`Ctx::decide`], answering a deny with 403.
    pub fn authorize(&mut self, principal: &Principal, action: Action, resource: &Resource<'_>) -> Result<(), ApiError> {
        if self.decide(principal, action, resource)? { Ok(()) } else { Err(ApiError::Forbidden) }
    }

    /// Commits `writes` together with this request's audit record, as ending with `status`.
    pub async fn commit(&mut self, writes: Vec<WriteOp>, status: u16) -> Result<(), ApiError> {
        let record = self.audit.finish(&self.meta, status);
        match self.state.store.commit(writes, &record).await {
            Ok(()) => {
                self.audit_committed = true;
                Ok(())
            }
            Err(StoreError::ConditionFailed) if self.conditional => Err(crate::http::conditional::stale()),
            Err(StoreError::ConditionFailed) => Err(ApiError::Conflict("the resource changed while this request ran; retry".into())),
            Err(error) => Err(store_error(error)),
        }
    }

    /// After a commit, a failure of what had to follow it: the request's audit record goes
    /// out again, with this failure, so the trail shows both.
    /// When work that could fill the request's time stops: a quarter of what is left stays
    /// for the reply and its audit record.
    pub fn work_deadline(&self) -> Instant {
        self.deadline - (self.deadline - Instant::now()) / 4
    }

    pub fn reopen_audit(&mut self, reason: &str) {
        self.audit_committed = false;
        self.audit.reason = Some(reason.to_owned());
    }

    /// Checks the request's `If-Match` against a resource now at `version` (see
    /// [`crate::http::conditional`]); `required` refuses a change without one.
    pub fn precondition(&mut self, req: &Request, version: u64, required: bool) -> Result<(), ApiError> {
        self.conditional = crate::http::conditional::check(req, version, required)?;
        Ok(())
    }
}

/// Maps a store failure to the client-facing error.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::ConditionFailed => ApiError::Conflict("the resource changed while this request ran; retry".into()),
        StoreError::TooManyOperations(_) | StoreError::Corrupt(_) | StoreError::Undeclared(_) | StoreError::NotAnErasure(_) => {
            ApiError::internal(error)
        }
        StoreError::Unavailable(cause) => ApiError::Unavailable { cause },
    }
}

/// One route's handler as a type, generated for each row of [`crate::routes`]. A Lambda's
/// `main` names its endpoint, so the binary links that handler (and its dependencies, such
/// as the forecast engine) and no other.
pub trait Endpoint {
    const ROUTE: Route;
    fn call<'a>(ctx: &'a mut Ctx<'_>, req: &'a Request) -> impl Future<Output = Result<Reply, ApiError>> + Send + 'a;
}

/// The current time as records store it (UTC, RFC 3339 with milliseconds).
pub(crate) fn now() -> String {
    crate::audit::format_time(time::OffsetDateTime::now_utc())
}

/// Maps a blob store failure to the client-facing error: a blob that does not open is
/// our fault (500, the cause logged and the reason audited), never served.
pub fn blob_error(error: BlobError) -> ApiError {
    match error {
        BlobError::Corrupt(_) => ApiError::internal(error),
        other => ApiError::Unavailable { cause: other.to_string() },
    }
}

/// The blob key for a path the domain built from validated ids; a bad one is our bug.
pub fn blob_key(path: &str) -> Result<BlobKey, ApiError> {
    BlobKey::parse(path).map_err(ApiError::internal)
}

/// A blob a stored record says exists; its absence is a fault of ours, named by `what`.
pub(crate) async fn read_blob(ctx: &Ctx<'_>, path: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    ctx.state.blobs.get(&blob_key(path)?).await.map_err(blob_error)?.ok_or_else(|| ApiError::internal(format!("{what} missing")))
}

/// Serves one request for endpoint `E`. Never fails: every error becomes a problem response.
pub async fn serve<E: Endpoint>(state: &AppState, req: Request) -> Response<Body> {
    let route = E::ROUTE;
    let meta = RequestMeta::from_request(&req);
    let span =
        tracing::info_span!("request", request_id = %meta.request_id, route = route.function_name(), subject = tracing::field::Empty);
    async move {
        let started = Instant::now();
        if req.method() == Method::OPTIONS {
            let mut response = state.cors.preflight(meta.origin.as_deref());
            edge_headers(state, &meta, &mut response);
            return response;
        }
        let budget = state.limits.max_request_time.map_or(route.time_budget(), |cap| cap.min(route.time_budget()));
        let mut ctx = Ctx {
            state,
            meta,
            audit: AuditDraft::new(route.function_name(), route.resource_type()),
            principal: None,
            audit_committed: false,
            conditional: false,
            deadline: started + budget,
        };
        let result = if let Err(refusal) = check_source(&mut ctx, route).await {
            Err(refusal)
        } else if req.method() == route.method() {
            // Waits (store, blobs, the compute pool) end at the deadline; CPU work checks it
            // itself (a single-threaded Lambda can't be interrupted mid-fit).
            match tokio::time::timeout_at(ctx.deadline.into(), E::call(&mut ctx, &req)).await {
                Ok(result) => result,
                Err(_) => Err(ApiError::TimeBudget(format!(
                    "the request did not finish within the {:.1} seconds a request may take",
                    budget.as_secs_f64()
                ))),
            }
        } else {
            Err(ApiError::MethodNotAllowed { allowed: Route::methods_at(route.path()) })
        };
        let mut response = finish(&mut ctx, route, result).await;
        edge_headers(state, &ctx.meta, &mut response);
        let status = response.status().as_u16();
        tracing::info!(status, latency_us = started.elapsed().as_micros() as u64, "request finished");
        let auth_failure = (status == 401).then(|| ctx.audit.reason.as_deref().unwrap_or("unauthenticated"));
        crate::telemetry::request_metrics(
            route.function_name(),
            status,
            ctx.audit.decision == AuditDecision::Deny,
            auth_failure,
            started.elapsed(),
        );
        response
    }
    .instrument(span)
    .await
}

/// Refuses a request from a blocked address before its route runs (SR-40): a 403 whose
/// audit record says why. `/health` stays open (it touches no data).
async fn check_source(ctx: &mut Ctx<'_>, route: Route) -> Result<(), ApiError> {
    let Some(ip) = ctx.meta.source_ip.clone() else { return Ok(()) };
    if route.is_public() {
        return Ok(());
    }
    let list = ctx.state.blocklist.get(ctx.state.store.as_ref()).await.map_err(store_error)?;
    match list.blocking(&ip, time::OffsetDateTime::now_utc()) {
        Some(entry) => {
            ctx.audit.reason = Some("ip-blocked".to_owned());
            tracing::info!(ip, until = entry.until, "blocked address refused");
            Err(ApiError::Forbidden)
        }
        None => Ok(()),
    }
}

/// Turns the handler's result into a response and makes sure the audit record is written.
async fn finish(ctx: &mut Ctx<'_>, route: Route, result: Result<Reply, ApiError>) -> Response<Body> {
    let mut result = result.map(Reply::into_response);
    if let Err(error) = &result {
        ctx.audit.reason.get_or_insert_with(|| error.slug().to_owned());
        if let Some(cause) = error.cause() {
            tracing::error!(cause, "request failed");
        }
    }
    // /health is public and touches no data; auditing it would let anyone write to the
    // audit table without credentials.
    if !ctx.audit_committed && !route.is_public() {
        let status = result.as_ref().map_or_else(|e| e.status().as_u16(), |r| r.status().as_u16());
        let record = ctx.audit.finish(&ctx.meta, status);
        if let Err(error) = ctx.state.store.append_audit(&record).await {
            // No access goes unaudited: if the record can't be written, the data isn't served.
            tracing::error!(cause = %error, "audit write failed");
            result = Err(ApiError::Unavailable { cause: error.to_string() });
        }
    }
    result.unwrap_or_else(|error| problem_response(&error, &ctx.meta.request_id))
}

/// A required path parameter (API Gateway and the local server both fill them in).
pub fn path_param(req: &Request, name: &str) -> Result<String, ApiError> {
    req.path_parameters().first(name).map(str::to_owned).ok_or(ApiError::NotFound)
}

/// The response for a request that matched no route (the local server's 404 and 405;
/// API Gateway answers these itself in production).
pub fn unrouted(state: &AppState, meta: &RequestMeta, error: &ApiError) -> Response<Body> {
    let mut response = problem_response(error, &meta.request_id);
    edge_headers(state, meta, &mut response);
    response
}

/// A public JSON document the local server serves beside the API (the OpenAPI document,
/// the local issuer's key set), with the same edge headers as every API response.
pub fn document_response(state: &AppState, meta: &RequestMeta, json: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(json));
    response.headers_mut().insert(lambda_http::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    edge_headers(state, meta, &mut response);
    response
}

/// Security headers, CORS and the request id, on every response that leaves.
fn edge_headers(state: &AppState, meta: &RequestMeta, response: &mut Response<Body>) {
    headers::apply(response.headers_mut());
    state.cors.apply(meta.origin.as_deref(), response.headers_mut());
    if let Ok(id) = HeaderValue::from_str(&meta.request_id) {
        response.headers_mut().insert("x-request-id", id);
    }
}
