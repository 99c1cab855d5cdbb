//! `POST /oauth2/token` and `POST /oauth2/revoke`.
//!
//! A code is redeemed once, by the client it was issued to, with the redirect URI and the
//! PKCE verifier of its request. A second redemption revokes what the first one got
//! (RFC 6749 section 4.1.2). A refresh token is good once: each use returns a new one, and
//! a used token coming back means it was copied, so its whole family is revoked and the
//! user's access tokens with it (their security record's revocation instant moves to now).

use serde_json::json;
use shared::auth::local::ACCESS_TOKEN_SECONDS;
use shared::auth::standing::{self, SecurityRecord};
use shared::domain::ids::UserId;
use shared::identity::directory::UserDirectory;
use shared::store::rate::Verdict;
use shared::store::{StoreError, WriteOp};

use super::clients::{self, Client};
use super::grants::{self, CodeRecord, FamilyRecord, RefreshRecord};
use super::{IdpRequest, IdpResponse, LocalIdp, TOKEN_PER_IP, event, form, pkce, repeated, single};

/// Why a grant failed, for the audit record; the client hears `invalid_grant` for all.
type Refused = &'static str;

impl LocalIdp {
    pub(super) async fn token(&self, request: &IdpRequest, now: i64) -> IdpResponse {
        let client = match self.token_client(request, now, "idp-token").await {
            Ok(found) => found,
            Err(response) => return response,
        };
        let (client, params) = client;
        let outcome = match single(&params, "grant_type") {
            Some("authorization_code") => self.redeem_code(request, client, &params, now).await,
            Some("refresh_token") => self.refresh(request, client, &params, now).await,
            _ => return IdpResponse::oauth_error(400, "unsupported_grant_type", "grant_type is authorization_code or refresh_token"),
        };
        match outcome {
            Ok(response) => response.with_header("cache-control", "no-store".into()),
            Err(Failure::Refused(reason, subject)) => {
                let action = if single(&params, "grant_type") == Some("refresh_token") { "idp-refresh" } else { "idp-token" };
                self.audit(event(action, &request.meta, subject.as_deref(), 400, Some(reason))).await;
                IdpResponse::oauth_error(400, "invalid_grant", "the code or refresh token is invalid, expired or used")
            }
            Err(Failure::Unavailable) => IdpResponse::temporarily_unavailable(),
        }
    }

    /// The rate limit, the form and the client of a token or revocation request.
    async fn token_client(
        &self,
        request: &IdpRequest,
        now: i64,
        action: &'static str,
    ) -> Result<(&Client, std::collections::HashMap<String, Vec<String>>), IdpResponse> {
        let ip = request.meta.source_ip.clone().unwrap_or_default();
        match TOKEN_PER_IP.hit(self.store.as_ref(), &ip, now).await {
            Ok(Verdict::Allowed { .. }) => {}
            Ok(Verdict::Limited { retry_after }) => {
                self.audit(event(action, &request.meta, None, 429, Some("rate-limited-ip"))).await;
                return Err(IdpResponse::oauth_error(429, "too_many_requests", "too many requests; try again later")
                    .with_header("retry-after", retry_after.to_string()));
            }
            Err(_) => return Err(IdpResponse::temporarily_unavailable()),
        }
        let params = form(request)?;
        if repeated(&params) {
            return Err(IdpResponse::oauth_error(400, "invalid_request", "a parameter was given twice"));
        }
        match clients::authenticate(
            &self.config.clients,
            request.authorization.as_deref(),
            single(&params, "client_id"),
            single(&params, "client_secret"),
        ) {
            Ok(client) => Ok((client, params)),
            Err(clients::InvalidClient) => {
                self.audit(event(action, &request.meta, None, 401, Some("invalid-client"))).await;
                Err(IdpResponse::oauth_error(401, "invalid_client", "client authentication failed"))
            }
        }
    }

    async fn redeem_code(
        &self,
        request: &IdpRequest,
        client: &Client,
        params: &std::collections::HashMap<String, Vec<String>>,
        now: i64,
    ) -> Result<IdpResponse, Failure> {
        let code = single(params, "code").ok_or(Failure::Refused("no-code", None))?;
        let key = grants::code_key(code);
        let (version, mut record) =
            grants::read::<CodeRecord>(self.store.as_ref(), &key).await?.ok_or(Failure::Refused("unknown-code", None))?;
        let subject = Some(record.subject.clone());
        if record.request.client_id != client.id {
            return Err(Failure::Refused("code-of-another-client", subject));
        }
        if let Some(family) = &record.family {
            // Redeemed before: whoever holds the first tokens got them with a stolen code,
            // or is replaying; either way they stop working.
            self.revoke_family(family, &record.subject, now).await?;
            return Err(Failure::Refused("code-reused", subject));
        }
        if record.expires_at < now {
            return Err(Failure::Refused("code-expired", subject));
        }
        if single(params, "redirect_uri") != Some(record.request.redirect_uri.as_str()) {
            return Err(Failure::Refused("redirect-uri-mismatch", subject));
        }
        if !single(params, "code_verifier").is_some_and(|verifier| pkce::verifies(verifier, &record.request.code_challenge)) {
            return Err(Failure::Refused("pkce-mismatch", subject));
        }
        let security = self.usable_account(&record.subject).await?.ok_or(Failure::Refused("account-unusable", subject.clone()))?;
        let family = uuid::Uuid::new_v4().to_string();
        record.family = Some(family.clone());
        let refresh = grants::secret()?;
        let writes = vec![
            // INVARIANT: the code is marked redeemed in the same commit that creates the
            // family, conditioned on the version read: of two redemptions racing, one wins.
            grants::replace(key, version, &record)?,
            grants::create(
                grants::family_key(&family),
                &FamilyRecord {
                    subject: record.subject.clone(),
                    client_id: client.id.clone(),
                    created_at: now,
                    expires_at: now + grants::REFRESH_SECONDS,
                    revoked: false,
                },
            )?,
            grants::create(
                grants::refresh_key(&refresh),
                &RefreshRecord {
                    family: family.clone(),
                    subject: record.subject.clone(),
                    client_id: client.id.clone(),
                    scope: record.request.scope.clone(),
                    auth_time: record.auth_time,
                    used: false,
                },
            )?,
        ];
        let audit = event("idp-token", &request.meta, Some(&record.subject), 200, None);
        match self.store.commit(writes, &audit).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed) => return Err(Failure::Refused("code-reused", subject)),
            Err(_) => return Err(Failure::Unavailable),
        }
        let tokens = self.tokens(
            &record.subject,
            security.role,
            client,
            &record.request.scope,
            record.auth_time,
            &family,
            record.request.nonce.as_deref(),
            now,
        )?;
        Ok(token_response(&tokens, &refresh))
    }

    async fn refresh(
        &self,
        request: &IdpRequest,
        client: &Client,
        params: &std::collections::HashMap<String, Vec<String>>,
        now: i64,
    ) -> Result<IdpResponse, Failure> {
        let token = single(params, "refresh_token").ok_or(Failure::Refused("no-refresh-token", None))?;
        let key = grants::refresh_key(token);
        let (version, mut record) =
            grants::read::<RefreshRecord>(self.store.as_ref(), &key).await?.ok_or(Failure::Refused("unknown-refresh-token", None))?;
        let subject = Some(record.subject.clone());
        if record.client_id != client.id {
            return Err(Failure::Refused("refresh-token-of-another-client", subject));
        }
        let family_key = grants::family_key(&record.family);
        let (_, family) = grants::read::<FamilyRecord>(self.store.as_ref(), &family_key)
            .await?
            .ok_or(Failure::Refused("family-gone", subject.clone()))?;
        if family.revoked {
            return Err(Failure::Refused("family-revoked", subject));
        }
        if record.used {
            self.revoke_family(&record.family, &record.subject, now).await?;
            self.audit(event("idp-refresh", &request.meta, subject.as_deref(), 400, Some("reuse-detected"))).await;
            return Err(Failure::Refused("reuse-detected", subject));
        }
        if family.expires_at < now {
            return Err(Failure::Refused("refresh-token-expired", subject));
        }
        let id = UserId::parse(&record.subject).map_err(|_| Failure::Refused("account-unusable", subject.clone()))?;
        // A global sign-out after this family began ends it.
        let signed_out = self.directory.signed_out_at(&id).await.map_err(|_| Failure::Unavailable)?;
        if signed_out.is_some_and(|at| at >= family.created_at) {
            return Err(Failure::Refused("signed-out", subject));
        }
        let security = self.usable_account(&record.subject).await?.ok_or(Failure::Refused("account-unusable", subject.clone()))?;
        let rotated = grants::secret()?;
        let next = RefreshRecord { used: false, ..record.clone() };
        record.used = true;
        let writes = vec![grants::replace(key, version, &record)?, grants::create(grants::refresh_key(&rotated), &next)?];
        let audit = event("idp-refresh", &request.meta, Some(&record.subject), 200, None);
        match self.store.commit(writes, &audit).await {
            Ok(()) => {}
            // The same token used twice at once: one use is a copy.
            Err(StoreError::ConditionFailed) => {
                self.revoke_family(&record.family, &record.subject, now).await?;
                self.audit(event("idp-refresh", &request.meta, subject.as_deref(), 400, Some("reuse-detected"))).await;
                return Err(Failure::Refused("reuse-detected", subject));
            }
            Err(_) => return Err(Failure::Unavailable),
        }
        let tokens = self.tokens(&record.subject, security.role, client, &record.scope, record.auth_time, &record.family, None, now)?;
        Ok(token_response(&tokens, &rotated))
    }

    pub(super) async fn revoke(&self, request: &IdpRequest, now: i64) -> IdpResponse {
        let (client, params) = match self.token_client(request, now, "idp-revoke").await {
            Ok(found) => found,
            Err(response) => return response,
        };
        let Some(token) = single(&params, "token") else {
            return IdpResponse::oauth_error(400, "invalid_request", "token is required");
        };
        // RFC 7009: an unknown token, or another client's, is answered like a revoked one.
        let found = match grants::read::<RefreshRecord>(self.store.as_ref(), &grants::refresh_key(token)).await {
            Ok(found) => found,
            Err(_) => return IdpResponse::temporarily_unavailable(),
        };
        let subject = found.as_ref().map(|(_, r)| r.subject.clone());
        let reason = match &found {
            Some((_, record)) if record.client_id == client.id => {
                if self.revoke_family(&record.family, &record.subject, now).await.is_err() {
                    return IdpResponse::temporarily_unavailable();
                }
                None
            }
            Some(_) => Some("refresh-token-of-another-client"),
            None => Some("unknown-refresh-token"),
        };
        self.audit(event("idp-revoke", &request.meta, subject.as_deref(), 200, reason)).await;
        IdpResponse { status: 200, headers: vec![("cache-control", "no-store".into())], body: String::new() }
    }

    /// Revokes a family, and the user's access tokens issued up to now with it.
    async fn revoke_family(&self, family: &str, subject: &str, now: i64) -> Result<(), Failure> {
        let key = grants::family_key(family);
        let Some((version, mut record)) = grants::read::<FamilyRecord>(self.store.as_ref(), &key).await? else { return Ok(()) };
        let mut writes: Vec<WriteOp> = Vec::new();
        if !record.revoked {
            record.revoked = true;
            writes.push(grants::replace(key, version, &record)?);
        }
        if let Some((version, security)) = standing::read(self.store.as_ref(), subject).await? {
            writes.push(security.revoked_at(now).replace(subject, version)?);
        }
        let meta = shared::http::RequestMeta { request_id: format!("idp-revoke-family-{}", uuid::Uuid::new_v4()), ..Default::default() };
        match self.store.commit(writes, &event("idp-revoke-family", &meta, Some(subject), 200, None)).await {
            Ok(()) => Ok(()),
            // Revoked meanwhile by someone else: what was wanted holds.
            Err(StoreError::ConditionFailed) => Ok(()),
            Err(_) => Err(Failure::Unavailable),
        }
    }

    /// The account's security record when it may get tokens (it exists and is enabled).
    async fn usable_account(&self, subject: &str) -> Result<Option<SecurityRecord>, Failure> {
        let Ok(id) = UserId::parse(subject) else { return Ok(None) };
        let account = self.directory.get(&id).await.map_err(|_| Failure::Unavailable)?;
        let security = standing::read(self.store.as_ref(), subject).await?;
        Ok(match (account, security) {
            (Some(account), Some((_, record))) if account.enabled && record.enabled => Some(record),
            _ => None,
        })
    }

    /// An access token and an ID token of Cognito's shape.
    #[expect(clippy::too_many_arguments, reason = "the claims' sources, each once")]
    fn tokens(
        &self,
        subject: &str,
        role: shared::auth::Role,
        client: &Client,
        scope: &str,
        auth_time: i64,
        family: &str,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<(String, String), Failure> {
        let issuer = self.issuer.issuer();
        let access = json!({
            "sub": subject,
            "iss": issuer,
            "client_id": client.id,
            "token_use": "access",
            "scope": scope,
            "username": subject,
            "cognito:groups": [role.as_str()],
            "auth_time": auth_time,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
            "origin_jti": family,
        });
        let mut id = json!({
            "sub": subject,
            "iss": issuer,
            "aud": client.id,
            "token_use": "id",
            "cognito:username": subject,
            "cognito:groups": [role.as_str()],
            "auth_time": auth_time,
            "iat": now,
            "exp": now + ACCESS_TOKEN_SECONDS,
            "jti": uuid::Uuid::new_v4().to_string(),
            "origin_jti": family,
        });
        if let (Some(nonce), Some(claims)) = (nonce, id.as_object_mut()) {
            claims.insert("nonce".into(), json!(nonce));
        }
        let sign = |claims: &serde_json::Value| self.issuer.sign_claims(claims).map_err(|_| Failure::Unavailable);
        Ok((sign(&access)?, sign(&id)?))
    }
}

/// The token endpoint's answer: the access and ID tokens and the refresh token to use next.
fn token_response(tokens: &(String, String), refresh: &str) -> IdpResponse {
    IdpResponse::json(
        200,
        &json!({"access_token": tokens.0, "id_token": tokens.1, "refresh_token": refresh, "token_type": "Bearer", "expires_in": ACCESS_TOKEN_SECONDS}),
    )
}

/// How a grant ended when it did not succeed.
#[derive(Debug)]
enum Failure {
    Refused(Refused, Option<String>),
    Unavailable,
}

impl From<StoreError> for Failure {
    fn from(_: StoreError) -> Self {
        Failure::Unavailable
    }
}
