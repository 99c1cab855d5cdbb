//! The token-mediating backend (SR-02): `POST /auth/token` exchanges the SPA's code and
//! PKCE verifier for tokens, `POST /auth/refresh` gets a fresh access token, `POST
//! /auth/logout` ends the session. The SPA gets the access token in the body and keeps it
//! in memory; the refresh token goes only into a `__Host-` cookie (Secure, HttpOnly,
//! SameSite=Strict, Path=/) that scripts can't read, and never into a body, a log or an
//! audit record.
//!
//! No bearer token is needed here (the authorizer is off for these routes), so each call
//! must come from an allowed origin and carry the `x-csrf-token` header: a cross-site form
//! can send neither, and a cross-origin script needs a preflight the CORS allow-list refuses.

use lambda_http::Request;
use lambda_http::http::header;
use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::auth::standing;
use crate::error::ApiError;
use crate::http::Reply;
use crate::http::request::{header_str, json_body};
use crate::session::{EndpointError, TokenEndpoint, Tokens};
use crate::store::rate::{RateLimit, Verdict};
use crate::store::{Condition, Item, WriteOp};

/// The refresh token's cookie.
pub const REFRESH_COOKIE: &str = "__Host-refresh";
/// The header every `/auth/*` call must carry (it is in the CORS allow-list).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The refresh token lives 7 days at the IdP; the cookie no longer.
const COOKIE_SECONDS: u64 = 7 * 24 * 3600;
/// The largest code or URI accepted.
const MAX_FIELD_CHARS: usize = 2048;

/// The code the SPA got back from the identity provider, with its PKCE verifier.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeExchange {
    pub code: String,
    /// The PKCE verifier whose S256 challenge went into the authorization request.
    pub code_verifier: String,
    /// The `redirect_uri` of the authorization request, exactly.
    pub redirect_uri: String,
}

/// A session's tokens for the SPA (the refresh token is in the cookie).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionTokens {
    pub access_token: String,
    pub id_token: Option<String>,
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

fn refresh_cookie(token: &str) -> String {
    format!("{REFRESH_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={COOKIE_SECONDS}")
}

fn cleared_cookie() -> String {
    format!("{REFRESH_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The refresh cookie of a request, if it has one.
fn cookie(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == REFRESH_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

/// The CSRF defence, the per-IP limit, and the endpoint.
async fn guard<'s>(ctx: &mut Ctx<'s>, req: &Request) -> Result<&'s dyn TokenEndpoint, ApiError> {
    let origin_allowed = ctx.meta.origin.as_deref().is_some_and(|origin| ctx.state.cors.allows(origin));
    let header_present = header_str(req, CSRF_HEADER).is_some_and(|value| !value.trim().is_empty());
    if !origin_allowed || !header_present {
        ctx.audit.reason = Some(if origin_allowed { "csrf-header-missing" } else { "origin-not-allowed" }.to_owned());
        return Err(ApiError::Forbidden);
    }
    let ip = ctx.meta.source_ip.clone().unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Calls to `/auth/*` per IP address (SR-08): `Limits::auth_rate_per_ip`, 30 by default.
    let per_ip = RateLimit { name: "auth-ip", max: ctx.state.limits.auth_rate_per_ip, window_seconds: 60 };
    if let Verdict::Limited { retry_after } = per_ip.hit(ctx.state.store.as_ref(), &ip, now).await.map_err(super::store_error)? {
        ctx.audit.reason = Some("rate-limited-ip".to_owned());
        return Err(ApiError::TooManyRequests { retry_after });
    }
    let state: &'s crate::state::AppState = ctx.state;
    state.token_endpoint.as_deref().ok_or_else(|| ApiError::Unavailable { cause: "no token endpoint configured".into() })
}

/// The SPA's answer for `tokens`, once the access token is one this API accepts (it says
/// who the audit record is about).
async fn session_reply(ctx: &mut Ctx<'_>, tokens: &Tokens) -> Result<Reply, ApiError> {
    let principal = ctx
        .state
        .verifier
        .verify(&tokens.access_token)
        .await
        .map_err(|e| ApiError::Unavailable { cause: format!("the identity provider's access token does not verify: {e}") })?;
    ctx.audit.set_actor(&principal);
    ctx.audit.subject = Some(principal.subject.clone());
    ctx.audit.resource_id = Some(principal.subject);
    Reply::ok(&SessionTokens {
        access_token: tokens.access_token.clone(),
        id_token: tokens.id_token.clone(),
        token_type: "Bearer".into(),
        expires_in: tokens.expires_in,
    })
}

fn endpoint_error(ctx: &mut Ctx<'_>, error: EndpointError, refused: ApiError) -> ApiError {
    match error {
        EndpointError::Refused => {
            ctx.audit.reason = Some("grant-refused".to_owned());
            refused
        }
        EndpointError::Unavailable(cause) => ApiError::Unavailable { cause },
    }
}

/// Exchanges a code for a session.
#[utoipa::path(post, path = "/auth/token", operation_id = "exchangeCode", security(()), tag = "session",
    params(("x-csrf-token" = String, Header, description = "Any value: proves the call is the SPA's own")),
    request_body = CodeExchange,
    responses(
        (status = 200, description = "The session: the refresh token is in the `__Host-refresh` cookie", body = SessionTokens),
        (status = 400, description = "The code, verifier or return address was refused", content_type = "application/problem+json"),
        (status = 403, description = "Not from an allowed origin, or without `x-csrf-token`", content_type = "application/problem+json"),
        crate::error::responses::TooManyRequests,
    ))]
pub async fn exchange(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let endpoint = guard(ctx, req).await?;
    let body: CodeExchange = json_body(req, 16 * 1024)?;
    for (field, value) in [("code", &body.code), ("redirect_uri", &body.redirect_uri)] {
        if value.is_empty() || value.chars().count() > MAX_FIELD_CHARS {
            return Err(ApiError::validation(field, format!("`{field}` must have 1 to {MAX_FIELD_CHARS} characters")));
        }
    }
    let verifier_ok = (43..=128).contains(&body.code_verifier.len())
        && body.code_verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !verifier_ok {
        return Err(ApiError::validation("code_verifier", "a PKCE verifier has 43 to 128 letters, digits, `-`, `.`, `_` or `~`"));
    }
    let tokens = match endpoint.exchange(&body.code, &body.code_verifier, &body.redirect_uri).await {
        Ok(tokens) => tokens,
        Err(error) => {
            return Err(endpoint_error(
                ctx,
                error,
                ApiError::BadRequest(
                    "the code is invalid, expired or already used, or the verifier or return address is not its own".into(),
                ),
            ));
        }
    };
    let refresh =
        tokens.refresh_token.clone().ok_or_else(|| ApiError::Unavailable { cause: "the code exchange gave no refresh token".into() })?;
    let reply = session_reply(ctx, &tokens).await?;
    // The access review's last sign-in, committed with this request's audit record.
    if let Some(subject) = ctx.audit.subject.clone() {
        let item = Item {
            key: crate::access_review::last_sign_in_key(&subject),
            version: 1,
            body: crate::access_review::last_sign_in_body(time::OffsetDateTime::now_utc()),
        };
        ctx.commit(vec![WriteOp::Put { item, condition: Condition::Always }], 200).await?;
    }
    Ok(reply.with_cookie(refresh_cookie(&refresh)))
}

/// A fresh access token for the session in the cookie; the cookie's token is rotated.
#[utoipa::path(post, path = "/auth/refresh", operation_id = "refreshSession", security(()), tag = "session",
    params(("x-csrf-token" = String, Header, description = "Any value: proves the call is the SPA's own")),
    responses(
        (status = 200, description = "A fresh access token; the cookie holds the next refresh token", body = SessionTokens),
        (status = 401, description = "No session cookie, or its session has ended", content_type = "application/problem+json"),
        (status = 403, description = "Not from an allowed origin, or without `x-csrf-token`", content_type = "application/problem+json"),
        crate::error::responses::TooManyRequests,
    ))]
pub async fn refresh(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let endpoint = guard(ctx, req).await?;
    let Some(current) = cookie(req) else {
        ctx.audit.reason = Some("no-session-cookie".to_owned());
        return Err(ApiError::Unauthenticated);
    };
    let tokens = match endpoint.refresh(&current).await {
        Ok(tokens) => tokens,
        Err(error) => return Err(endpoint_error(ctx, error, ApiError::Unauthenticated)),
    };
    let reply = session_reply(ctx, &tokens).await?;
    // An IdP that does not rotate keeps the cookie's token in use.
    Ok(match &tokens.refresh_token {
        Some(next) => reply.with_cookie(refresh_cookie(next)),
        None => reply,
    })
}

/// Ends the session: the refresh token is revoked at the IdP and the cookie cleared; with
/// the access token, every token the user holds stops working within seconds (SR-09).
#[utoipa::path(post, path = "/auth/logout", operation_id = "endSession", security(()), tag = "session",
    params(("x-csrf-token" = String, Header, description = "Any value: proves the call is the SPA's own")),
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
        (status = 403, description = "Not from an allowed origin, or without `x-csrf-token`", content_type = "application/problem+json"),
        crate::error::responses::TooManyRequests,
    ))]
pub async fn logout(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let endpoint = guard(ctx, req).await?;
    if let Some(current) = cookie(req) {
        endpoint.revoke(&current).await.map_err(|error| endpoint_error(ctx, error, ApiError::Unauthenticated))?;
    }
    let reply = Reply::no_content().with_cookie(cleared_cookie());
    // With a token, its holder's access tokens are revoked too; without one (or with one
    // that no longer works) the cookie's session is all there is to end.
    if req.headers().contains_key(header::AUTHORIZATION)
        && let Ok(principal) = ctx.authenticate(req).await
    {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Some((version, record)) = standing::read(ctx.state.store.as_ref(), &principal.subject).await.map_err(super::store_error)? {
            ctx.commit(vec![record.revoked_at(now).replace(&principal.subject, version).map_err(ApiError::internal)?], 204).await?;
            ctx.state.standing.forget(&principal.subject);
        }
    }
    Ok(reply)
}
