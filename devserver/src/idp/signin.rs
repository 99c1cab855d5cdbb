//! `GET /oauth2/authorize` and the sign-in form's steps at `POST /login`.
//!
//! The authorization request travels in the form's hidden fields and is checked again on
//! every post, so nothing is stored until a password is right. The form carries a CSRF
//! token that must equal the `__Host-idp-csrf` cookie set with it (double submit: another
//! site can make a browser post, but can neither read nor set that cookie).
//!
//! A wrong password, an unknown address and a disabled account get the same words, and an
//! unknown address is checked against a decoy hash, so neither text nor timing tells which
//! addresses have accounts. Limits and lockouts count addresses whether or not they exist.

use std::collections::HashMap;

use shared::auth::Role;
use shared::auth::standing;
use shared::domain::ids::UserId;
use shared::domain::user::{AccountStatus, Email, User};
use shared::identity::embedded::Credentials;
use shared::identity::totp::TotpKey;
use shared::store::WriteOp;
use shared::store::rate::Verdict;

use super::grants::{self, AuthRequest, ChallengeRecord, CodeRecord, Step};
use super::{ACCOUNT_LOCKOUT, IdpRequest, IdpResponse, LocalIdp, SCOPES, SIGN_IN_PER_IP, event, form, pages, pkce, repeated, single};

/// The CSRF cookie: host-only, HTTPS (or loopback) only, never sent cross-site.
pub const CSRF_COOKIE: &str = "__Host-idp-csrf";
/// The issuer name authenticator apps show beside the account.
pub const TOTP_ISSUER: &str = "Forecast (local)";
/// What every credential failure says.
const WRONG: &str = "The e-mail address or password is wrong.";

/// A request that cannot go on: to a page (client or redirect URI not to be trusted), or
/// back to the client with an OAuth error.
enum Refusal {
    Page(&'static str),
    Redirect { redirect_uri: String, state: Option<String>, error: &'static str, description: &'static str },
}

impl Refusal {
    fn respond(self) -> IdpResponse {
        match self {
            Refusal::Page(detail) => IdpResponse::html(400, pages::error("Cannot sign in", detail), &[]),
            Refusal::Redirect { redirect_uri, state, error, description } => {
                let mut pairs = vec![("error", error), ("error_description", description)];
                if let Some(state) = state.as_deref() {
                    pairs.push(("state", state));
                }
                back_to_client(&redirect_uri, &pairs)
            }
        }
    }
}

impl LocalIdp {
    /// Checks an authorization request's parameters, from the query or the form.
    fn auth_request(&self, params: &HashMap<String, Vec<String>>) -> Result<AuthRequest, Refusal> {
        let client_id = single(params, "client_id").ok_or(Refusal::Page("The request names no client."))?;
        let client = self.client(client_id).ok_or(Refusal::Page("The request names an unknown client."))?;
        let redirect_uri = single(params, "redirect_uri").ok_or(Refusal::Page("The request has no return address."))?;
        // INVARIANT: nothing is ever sent to a return address the client did not register.
        if !client.allows_redirect(redirect_uri) {
            return Err(Refusal::Page("The return address is not registered for this client."));
        }
        let state = single(params, "state").map(str::to_owned);
        let refuse =
            |error, description| Refusal::Redirect { redirect_uri: redirect_uri.to_owned(), state: state.clone(), error, description };
        if repeated(params) {
            return Err(refuse("invalid_request", "a parameter was given twice"));
        }
        if single(params, "response_type") != Some("code") {
            return Err(refuse("unsupported_response_type", "only the authorization code flow is supported"));
        }
        if single(params, "code_challenge_method") != Some("S256") {
            return Err(refuse("invalid_request", "PKCE with code_challenge_method S256 is required; plain is refused"));
        }
        let challenge = single(params, "code_challenge")
            .filter(|c| pkce::well_formed(c))
            .ok_or_else(|| refuse("invalid_request", "code_challenge is missing or malformed"))?;
        let state_ok = state.as_deref().is_some_and(|s| s.len() <= 1024);
        if !state_ok {
            return Err(refuse("invalid_request", "state is required (at most 1024 characters)"));
        }
        let scope = single(params, "scope").unwrap_or("openid");
        let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        if scopes.is_empty() || !scopes.iter().all(|s| SCOPES.contains(s)) || !scopes.contains(&"openid") {
            return Err(refuse("invalid_scope", "scopes are openid with profile and email"));
        }
        let nonce = single(params, "nonce").map(str::to_owned);
        if nonce.as_ref().is_some_and(|n| n.len() > 1024) {
            return Err(refuse("invalid_request", "nonce is too long"));
        }
        Ok(AuthRequest {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scopes.join(" "),
            state: state.unwrap_or_default(),
            nonce,
            code_challenge: challenge.to_owned(),
        })
    }

    pub(super) async fn authorize(&self, request: &IdpRequest) -> IdpResponse {
        match self.auth_request(&request.query) {
            Ok(auth) => match grants::secret() {
                Ok(csrf) => sign_in_page(&auth, &csrf, "", None, 200).with_header("set-cookie", csrf_cookie(&csrf)),
                Err(_) => IdpResponse::html(503, pages::error("Cannot sign in", "Try again in a moment."), &[]),
            },
            Err(refusal) => refusal.respond(),
        }
    }

    pub(super) async fn login(&self, request: &IdpRequest, now: i64) -> IdpResponse {
        let params = match form(request) {
            Ok(params) => params,
            Err(response) => return response,
        };
        let csrf = single(&params, "csrf").unwrap_or_default();
        let cookie = request.cookies.get(CSRF_COOKIE).map(String::as_str).unwrap_or_default();
        if csrf.is_empty() || aws_lc_rs::constant_time::verify_slices_are_equal(csrf.as_bytes(), cookie.as_bytes()).is_err() {
            self.audit(event("idp-sign-in", &request.meta, None, 403, Some("csrf"))).await;
            return IdpResponse::html(403, pages::error("Sign-in form expired", "Go back to the app and sign in again."), &[]);
        }
        match single(&params, "challenge") {
            Some(challenge) => self.continue_sign_in(request, &params, challenge, csrf, now).await,
            None => self.password_step(request, &params, csrf, now).await,
        }
    }

    async fn password_step(&self, request: &IdpRequest, params: &HashMap<String, Vec<String>>, csrf: &str, now: i64) -> IdpResponse {
        let auth = match self.auth_request(params) {
            Ok(auth) => auth,
            Err(refusal) => return refusal.respond(),
        };
        let typed = single(params, "email").unwrap_or_default();
        let password = single(params, "password").unwrap_or_default().to_owned();
        let meta = &request.meta;
        let ip = meta.source_ip.clone().unwrap_or_default();
        match SIGN_IN_PER_IP.hit(self.store.as_ref(), &ip, now).await {
            Ok(Verdict::Allowed { .. }) => {}
            Ok(Verdict::Limited { retry_after }) => {
                self.audit(event("idp-sign-in", meta, None, 429, Some("rate-limited-ip"))).await;
                let alert = format!("Too many sign-in attempts from your network. Try again in {retry_after} seconds.");
                return sign_in_page(&auth, csrf, typed, Some(&alert), 429).with_header("retry-after", retry_after.to_string());
            }
            Err(_) => return unavailable(),
        }
        // The lockout counts the address as typed (normalised), account or not.
        let address = typed.trim().to_lowercase();
        match ACCOUNT_LOCKOUT.locked_for(self.store.as_ref(), &address, now).await {
            Ok(None) => {}
            Ok(Some(wait)) => {
                self.audit(event("idp-sign-in", meta, None, 429, Some("account-locked"))).await;
                let alert = format!("Too many failed sign-ins for this address. Try again in {wait} seconds.");
                return sign_in_page(&auth, csrf, typed, Some(&alert), 429).with_header("retry-after", wait.to_string());
            }
            Err(_) => return unavailable(),
        }
        let found = match self.account_for(&address).await {
            Ok(found) => found,
            Err(()) => return unavailable(),
        };
        let hasher = self.hasher.clone();
        let checked = found.as_ref().map(|(_, _, version_credentials)| version_credentials.1.password_hash.clone());
        let verified = tokio::task::spawn_blocking(move || match checked {
            Some(stored) => hasher.verify(&password, &stored),
            None => hasher.verify_nobody(&password),
        })
        .await
        .unwrap_or(false);
        let refused = match &found {
            None => Some(("unknown-account", None)),
            Some((user, _, _)) if !verified => Some(("wrong-password", Some(user.id.as_str().to_owned()))),
            Some((user, _, _)) if !user.enabled => Some(("disabled", Some(user.id.as_str().to_owned()))),
            Some((user, _, (_, credentials))) if credentials.temporary_until.is_some_and(|until| until < now) => {
                Some(("temporary-password-expired", Some(user.id.as_str().to_owned())))
            }
            Some(_) => None,
        };
        if let Some((reason, subject)) = refused {
            if ACCOUNT_LOCKOUT.record_failure(self.store.as_ref(), &address, now).await.is_err() {
                return unavailable();
            }
            self.audit(event("idp-sign-in", meta, subject.as_deref(), 401, Some(reason))).await;
            return sign_in_page(&auth, csrf, typed, Some(WRONG), 401);
        }
        let Some((user, role, (_, credentials))) = found else { return unavailable() };
        let next = if user.status == AccountStatus::Invited || credentials.temporary_until.is_some() {
            Some(Step::NewPassword)
        } else {
            self.second_factor(role, &credentials).await
        };
        match next {
            Some(step) => self.next_step(request, auth, &user, step, csrf, now, Vec::new()).await,
            None => self.issue_code(request, auth, user.id.as_str(), Vec::new(), now).await,
        }
    }

    /// The account for a typed address, with its role and credentials.
    async fn account_for(&self, address: &str) -> Result<Option<(User, Role, (u64, Credentials))>, ()> {
        let Ok(email) = Email::parse(address) else { return Ok(None) };
        match self.directory.id_for_email(&email).await.map_err(|_| ())? {
            Some(id) => self.account_by_id(&id).await,
            None => Ok(None),
        }
    }

    /// The account `id`, with its role and credentials.
    async fn account_by_id(&self, id: &UserId) -> Result<Option<(User, Role, (u64, Credentials))>, ()> {
        let user = shared::identity::directory::UserDirectory::get(&self.directory, id).await.map_err(|_| ())?;
        let credentials = self.directory.credentials(id).await.map_err(|_| ())?;
        let standing = standing::read(self.store.as_ref(), id.as_str()).await.map_err(|_| ())?;
        Ok(match (user, credentials, standing) {
            // The security record decides the role and whether the account may sign in.
            (Some(mut user), Some(credentials), Some((_, record))) => {
                user.enabled &= record.enabled;
                Some((user, record.role, credentials))
            }
            _ => None,
        })
    }

    /// The second factor due after a right password; `None` when none is.
    /// Admins enrol when the server was started so or an admin set `mfa_required_for_admins`
    /// (`PATCH /v1/admin/settings`); settings that can't be read count as required.
    async fn second_factor(&self, role: Role, credentials: &Credentials) -> Option<Step> {
        if credentials.totp_secret.is_some() {
            return Some(Step::Totp);
        }
        if role != Role::Admin {
            return None;
        }
        let required = self.config.mfa_required_for_admins
            || shared::runtime_settings::read(self.store.as_ref()).await.map_or(true, |(_, settings)| settings.mfa_required_for_admins);
        required.then_some(Step::EnrollTotp)
    }

    /// Stores the challenge for `step` and shows its form. `writes` are the finished step's
    /// changes, committed with it.
    #[expect(clippy::too_many_arguments, reason = "one step's whole context; a struct would only rename it")]
    async fn next_step(
        &self,
        request: &IdpRequest,
        auth: AuthRequest,
        user: &User,
        step: Step,
        csrf: &str,
        now: i64,
        mut writes: Vec<WriteOp>,
    ) -> IdpResponse {
        let Ok(challenge) = grants::secret() else { return unavailable() };
        let totp_secret = if step == Step::EnrollTotp {
            match TotpKey::generate(TOTP_ISSUER, user.email.as_str()) {
                Ok(key) => Some(key.secret_base32()),
                Err(_) => return unavailable(),
            }
        } else {
            None
        };
        let record = ChallengeRecord {
            step,
            subject: user.id.as_str().to_owned(),
            request: auth,
            expires_at: now + grants::CHALLENGE_SECONDS,
            totp_secret: totp_secret.clone(),
        };
        match grants::create(grants::challenge_key(&challenge), &record) {
            Ok(write) => writes.push(write),
            Err(_) => return unavailable(),
        }
        let audit = event("idp-sign-in-step", &request.meta, Some(user.id.as_str()), 200, Some(step_name(step)));
        if self.store.commit(writes, &audit).await.is_err() {
            return unavailable();
        }
        let fields = [("csrf", csrf), ("challenge", challenge.as_str())];
        let page = match (step, totp_secret) {
            (Step::NewPassword, _) => pages::new_password(&fields, None),
            (Step::Totp, _) => pages::totp(&fields, None),
            (Step::EnrollTotp, Some(secret)) => {
                let uri = TotpKey::from_base32(&secret, TOTP_ISSUER, user.email.as_str()).and_then(|k| k.uri()).unwrap_or_default();
                pages::enroll_totp(&fields, &secret, &uri, None)
            }
            (Step::EnrollTotp, None) => return unavailable(),
        };
        IdpResponse::html(200, page, &[])
    }
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::NewPassword => "new-password-due",
        Step::Totp => "totp-due",
        Step::EnrollTotp => "totp-enrolment-due",
    }
}

pub(super) fn unavailable() -> IdpResponse {
    IdpResponse::html(503, pages::error("Cannot sign in", "The sign-in service is unavailable. Try again in a moment."), &[])
        .with_header("retry-after", "2".into())
}

fn csrf_cookie(value: &str) -> String {
    format!("{CSRF_COOKIE}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=900")
}

/// The sign-in form for `auth`, the request travelling in hidden fields.
fn sign_in_page(auth: &AuthRequest, csrf: &str, email: &str, alert: Option<&str>, status: u16) -> IdpResponse {
    let mut fields = vec![
        ("csrf", csrf),
        ("client_id", auth.client_id.as_str()),
        ("redirect_uri", auth.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", auth.scope.as_str()),
        ("state", auth.state.as_str()),
        ("code_challenge", auth.code_challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    if let Some(nonce) = &auth.nonce {
        fields.push(("nonce", nonce.as_str()));
    }
    IdpResponse::html(status, pages::sign_in(&fields, email, alert), &[auth.redirect_uri.as_str()])
}

impl LocalIdp {
    /// The later steps: a new password, a TOTP code, or an authenticator set up.
    async fn continue_sign_in(
        &self,
        request: &IdpRequest,
        params: &HashMap<String, Vec<String>>,
        challenge: &str,
        csrf: &str,
        now: i64,
    ) -> IdpResponse {
        let key = grants::challenge_key(challenge);
        let expired = || IdpResponse::html(400, pages::error("Sign-in expired", "Go back to the app and sign in again."), &[]);
        let (version, record) = match grants::read::<ChallengeRecord>(self.store.as_ref(), &key).await {
            Ok(Some((version, record))) if record.expires_at >= now => (version, record),
            Ok(_) => return expired(),
            Err(_) => return unavailable(),
        };
        let Ok(id) = UserId::parse(&record.subject) else { return expired() };
        let Ok(Some((user, role, (credentials_version, mut credentials)))) = self.account_by_id(&id).await else { return expired() };
        if !user.enabled {
            self.audit(event("idp-sign-in", &request.meta, Some(id.as_str()), 401, Some("disabled"))).await;
            return expired();
        }
        let fields = [("csrf", csrf), ("challenge", challenge)];
        // Finishing a step uses the challenge up: a replayed post finds it gone.
        let mut writes = vec![WriteOp::Delete { key: key.clone(), condition: shared::store::Condition::Version(version) }];
        match record.step {
            Step::NewPassword => {
                let chosen = single(params, "new_password").unwrap_or_default().to_owned();
                let context: Vec<&str> =
                    [Some(user.email.as_str()), user.name.as_ref().map(|n| n.as_str())].into_iter().flatten().collect();
                if let Err(rejected) = shared::identity::password::check(&chosen, &context) {
                    let alert = rejected.to_string();
                    return IdpResponse::html(400, pages::new_password(&fields, Some(&capitalise(&alert))), &[]);
                }
                let hasher = self.hasher.clone();
                let Ok(Ok(hash)) = tokio::task::spawn_blocking(move || hasher.hash(&chosen)).await else { return unavailable() };
                credentials.password_hash = hash;
                credentials.temporary_until = None;
                let Ok(write) = self.directory.stage_credentials(&id, credentials_version, &credentials) else { return unavailable() };
                writes.push(write);
                match self.directory.stage_account_state(&id, AccountStatus::Active, user.mfa_enabled).await {
                    Ok(staged) => writes.extend(staged.writes),
                    Err(_) => return unavailable(),
                }
                match self.second_factor(role, &credentials).await {
                    // Another step is due: this one's changes go in with its challenge.
                    Some(next) => self.next_step(request, record.request, &user, next, csrf, now, writes).await,
                    None => self.issue_code(request, record.request, id.as_str(), writes, now).await,
                }
            }
            Step::Totp | Step::EnrollTotp => {
                let code = single(params, "code").unwrap_or_default();
                let secret = if record.step == Step::Totp { credentials.totp_secret.clone() } else { record.totp_secret.clone() };
                let Some(secret) = secret else { return expired() };
                let Ok(key) = TotpKey::from_base32(&secret, TOTP_ISSUER, user.email.as_str()) else { return unavailable() };
                let unix = u64::try_from(now).unwrap_or_default();
                let Some(step) = key.verify(code, unix, credentials.totp_last_step) else {
                    if ACCOUNT_LOCKOUT.record_failure(self.store.as_ref(), user.email.as_str(), now).await.is_err() {
                        return unavailable();
                    }
                    self.audit(event("idp-sign-in", &request.meta, Some(id.as_str()), 401, Some("wrong-totp"))).await;
                    let alert = Some("That code is not right. Enter the code your app shows now.");
                    let page = if record.step == Step::Totp {
                        pages::totp(&fields, alert)
                    } else {
                        pages::enroll_totp(&fields, &secret, &key.uri().unwrap_or_default(), alert)
                    };
                    return IdpResponse::html(401, page, &[]);
                };
                credentials.totp_last_step = Some(step);
                credentials.totp_secret = Some(secret);
                let Ok(write) = self.directory.stage_credentials(&id, credentials_version, &credentials) else { return unavailable() };
                writes.push(write);
                if record.step == Step::EnrollTotp {
                    match self.directory.stage_account_state(&id, user.status, true).await {
                        Ok(staged) => writes.extend(staged.writes),
                        Err(_) => return unavailable(),
                    }
                }
                self.issue_code(request, record.request, id.as_str(), writes, now).await
            }
        }
    }

    /// Issues the code for a finished sign-in and sends the browser back with it.
    async fn issue_code(&self, request: &IdpRequest, auth: AuthRequest, subject: &str, mut writes: Vec<WriteOp>, now: i64) -> IdpResponse {
        let Ok(code) = grants::secret() else { return unavailable() };
        let record = CodeRecord {
            request: auth.clone(),
            subject: subject.to_owned(),
            auth_time: now,
            expires_at: now + grants::CODE_SECONDS,
            family: None,
        };
        match grants::create(grants::code_key(&code), &record) {
            Ok(write) => writes.push(write),
            Err(_) => return unavailable(),
        }
        let audit = event("idp-sign-in", &request.meta, Some(subject), 302, None);
        match self.store.commit(writes, &audit).await {
            Ok(()) => {}
            // A step posted twice at once: the other post finished it.
            Err(shared::store::StoreError::ConditionFailed) => {
                return IdpResponse::html(409, pages::error("Sign-in already finished", "Go back to the app."), &[]);
            }
            Err(_) => return unavailable(),
        }
        back_to_client(&auth.redirect_uri, &[("code", &code), ("state", &auth.state)])
    }
}

/// A redirect to the client's return address with `pairs` added to its query.
fn back_to_client(redirect_uri: &str, pairs: &[(&str, &str)]) -> IdpResponse {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    IdpResponse::redirect(format!("{redirect_uri}{separator}{query}"))
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
}
