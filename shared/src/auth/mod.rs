//! Who is calling: the [`Principal`], from API Gateway's verified claims or from a bearer
//! token verified here (by the `auth` crate, re-exported whole), then checked against the
//! user's security record ([`standing`]). Never anonymous by accident: every path that
//! cannot establish a principal fails closed.

pub mod roster;
pub mod standing;

pub use ::auth::*;
use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::request::RequestContext;

/// Establishes the principal for a request.
///
/// When API Gateway's Cognito authorizer ran, its claims are in the request context and
/// are used (after re-checking issuer, client and token use, which costs nothing). When
/// they are absent (local server, tests, a route deployed without the authorizer), the
/// bearer token is verified here.
pub async fn authenticate(req: &Request, settings: &AuthSettings, verifier: &TokenVerifier) -> Result<Principal, AuthError> {
    // Two credentials are ambiguous: which one a proxy, the authorizer and this code each
    // read could differ, so none is used.
    if req.headers().get_all(AUTHORIZATION).iter().nth(1).is_some() {
        return Err(AuthError::AmbiguousCredentials);
    }
    if let Some(Some(fields)) = req.request_context_ref().map(authorizer_claims) {
        return claims::principal_from_claims(fields, settings);
    }
    let token = bearer_token(req)?;
    verifier.verify(token).await
}

fn authorizer_claims(context: &RequestContext) -> Option<&serde_json::Map<String, serde_json::Value>> {
    match context {
        RequestContext::ApiGatewayV1(context) => context.authorizer.fields.get("claims").and_then(|c| c.as_object()),
        _ => None,
    }
}

fn bearer_token(req: &Request) -> Result<&str, AuthError> {
    let value = req.headers().get(AUTHORIZATION).ok_or(AuthError::MissingToken)?;
    let value = value.to_str().map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token.trim())
}
