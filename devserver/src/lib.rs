//! The local server: every API route on one loopback port through the same handler the
//! Lambda functions run, over the embedded store, a data folder and a local token issuer.
//!
//! Besides the API it serves `/openapi.json` and the issuer's `/.well-known/jwks.json`.
//! With [`Backend::AwsLocal`] it runs on the DynamoDB and S3 adapters instead, against
//! local emulators (see [`aws_local`]).

pub mod aws_local;
pub mod idp;
pub mod web;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use shared::audit::AuditDraft;
use shared::auth::Role;
use shared::auth::jwks::KeyCache;
use shared::auth::local::{IssuerJwks, LocalIssuer};
use shared::domain::user::{DisplayName, Email, Invitation};
use shared::identity::embedded::EmbeddedDirectory;
use shared::identity::hashing::PasswordHasher;
use shared::sealed_items::SealedItems;
use shared::session::{FileSecret, HttpTokenEndpoint};

use idp::{Client, IdpConfig, IdpRequest, LocalIdp};
use shared::compute::ComputePool;
use shared::config::AuthSettings;
use shared::error::ApiError;
use shared::handlers::{document_response, unrouted};
use shared::http::RequestMeta;
use shared::http::cors::CorsPolicy;
use shared::state::StartupError;
use shared::store::BlobStore;
use shared::store::ItemStore;
use shared::{AppState, Route};
use store_embedded::FsBlobStore;
use store_embedded::SqliteStore;

/// The client id of the local "SPA" app client (public: PKCE, no secret).
pub const LOCAL_CLIENT_ID: &str = "local-spa";
/// The client id of the token-mediating backend (confidential: PKCE and a secret).
pub const BACKEND_CLIENT_ID: &str = "local-backend";
/// The first admin's address, created on the first start of an empty data folder.
pub const FIRST_ADMIN_EMAIL: &str = "admin@forecast.local";

/// How to run the local server.
#[derive(Debug, Clone)]
pub struct DevConfig {
    pub data_dir: PathBuf,
    /// Loopback port; 0 picks a free one (tests).
    pub port: u16,
    pub cors_origins: Vec<String>,
    /// Forecasts, analyses and CSV inspections run at once (default: one per core)...
    pub compute_workers: usize,
    /// ...and waiting beyond those before a request is refused with 503.
    pub compute_queue: usize,
    /// How long a request body may take to arrive before the request is refused with 408.
    pub body_timeout: Duration,
    /// Where items and blobs live.
    pub backend: Backend,
    /// Requests per minute per user (SR-08).
    pub api_rate: shared::state::ApiRate,
    /// Calls to `/auth/*` per minute per IP address.
    pub auth_rate_per_ip: u64,
    /// Where the identity provider may send a browser back with a code...
    pub redirect_uris: Vec<String>,
    /// ...and after signing out.
    pub logout_uris: Vec<String>,
    /// Admins must sign in with TOTP.
    pub mfa_required_for_admins: bool,
    /// Password hashing (the default: Argon2id with RFC 9106's parameters).
    pub hasher: PasswordHasher,
    /// The built web app (`npm run build` in `web/`), served at `/`.
    pub web_dir: PathBuf,
    /// How often the server digests the audit hours that are due (the deployed job runs
    /// hourly); `None` leaves it to the `audit-digest` command.
    pub digest_every: Option<Duration>,
    /// Whether the threat detector watches the audit trail (and blocks addresses over its
    /// thresholds). On for the server; the API tests turn it off but in their own cases,
    /// so that a test's deliberate 401s and 404s don't block the test itself.
    pub detect_threats: bool,
}

/// Where the local server keeps items and blobs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file and a blob folder in the data folder.
    #[default]
    Embedded,
    /// The production adapters, DynamoDB and S3, on local emulators.
    AwsLocal(aws_local::AwsLocal),
}

impl Default for DevConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self {
            data_dir: PathBuf::from(".data"),
            port: 3000,
            cors_origins: vec!["http://localhost:5173".into()],
            compute_workers: cores,
            compute_queue: 2 * cores,
            body_timeout: Duration::from_secs(10),
            backend: Backend::Embedded,
            api_rate: shared::state::ApiRate::default(),
            auth_rate_per_ip: shared::state::Limits::default().auth_rate_per_ip,
            redirect_uris: vec!["http://localhost:5173/callback".into()],
            logout_uris: vec!["http://localhost:5173/".into()],
            mfa_required_for_admins: false,
            hasher: PasswordHasher::default(),
            web_dir: PathBuf::from("web/dist"),
            digest_every: Some(Duration::from_secs(300)),
            detect_threats: true,
        }
    }
}

/// A running local server.
#[derive(Debug)]
pub struct DevServer {
    pub addr: SocketAddr,
    pub issuer: Arc<LocalIssuer>,
    pub idp: Arc<LocalIdp>,
    /// The first admin's temporary password, when this start created them.
    pub first_admin: Option<String>,
    pub state: Arc<AppState>,
    /// Where its items and blobs live.
    pub backend: Backend,
    task: tokio::task::JoinHandle<()>,
}

impl DevServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the process is stopped.
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The issuer URL for a port: tokens carry it as `iss`.
pub fn issuer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Loads (or creates) the local signing key for the server on `port`.
pub fn local_issuer(config: &DevConfig, port: u16) -> Result<LocalIssuer, StartupError> {
    Ok(LocalIssuer::load_or_create(&config.data_dir.join("keys"), issuer_url(port), LOCAL_CLIENT_ID.to_owned())?)
}

#[derive(Debug)]
struct App {
    state: Arc<AppState>,
    idp: Arc<LocalIdp>,
    issuer: Arc<LocalIssuer>,
    openapi: String,
    body_timeout: Duration,
    web: web::WebApp,
    /// `host:port` of the server's own origin: navigations to another name are sent there.
    own_host: String,
}

/// Binds 127.0.0.1 and starts serving in the background.
pub async fn spawn(mut config: DevConfig) -> Result<DevServer, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let issuer = Arc::new(local_issuer(&config, addr.port())?);
    // The web app is served here, on the issuer's origin: it signs in and calls the API
    // from there, so that origin is allowed, and its callback and sign-out pages registered.
    let own_origin = issuer.issuer().trim_end_matches('/').to_owned();
    let (callback, signed_out) = (format!("{own_origin}/callback"), format!("{own_origin}/"));
    config.cors_origins.push(own_origin.clone());
    config.redirect_uris.push(callback.clone());
    config.logout_uris.push(signed_out.clone());
    let web = web::WebApp::load(
        &config.web_dir,
        &web::WebConfig {
            api_base_url: String::new(),
            authorize_url: format!("{own_origin}/oauth2/authorize"),
            logout_url: format!("{own_origin}/logout"),
            client_id: BACKEND_CLIENT_ID.to_owned(),
            scope: idp::SCOPES.join(" "),
            redirect_uri: callback,
            logout_redirect_uri: signed_out,
        },
    )?;
    if !web.is_built() {
        tracing::warn!(web_dir = %config.web_dir.display(), "the web app is not built: `bash scripts/serve.sh` builds it (or `npm ci && npm run build` in web/); the API is served all the same");
    }

    let mut auth = AuthSettings::for_issuer(issuer.issuer(), LOCAL_CLIENT_ID);
    auth.client_ids.push(BACKEND_CLIENT_ID.to_owned());
    // The key set is in this process: a rotation is seen at the first token it signs, with
    // no interval to wait out (that interval protects a remote issuer).
    let keys = KeyCache::new(Box::new(IssuerJwks(Arc::clone(&issuer))), Duration::ZERO);
    let (store, blobs) = open_stores(&config).await?;
    let sealed = Arc::clone(&store);
    let mut state = AppState::new(auth, keys, store, blobs, CorsPolicy::new(&config.cors_origins)?)?;
    // The detector sees every audit record as it is written, as the stream function does in AWS.
    if config.detect_threats {
        let detector = Arc::new(shared::detector::Detector::new(Arc::clone(&state.blocklist)));
        if sealed.set_observer(detector).is_err() {
            return Err("the store already has an observer".into());
        }
    }
    // Many requests share a few async workers here: CPU work goes to a bounded pool.
    state.compute = ComputePool::bounded(config.compute_workers, config.compute_queue);
    state.limits.api_rate = config.api_rate;
    state.limits.auth_rate_per_ip = config.auth_rate_per_ip;
    // The session routes reach this server's own identity provider, as the deployed ones
    // reach Cognito's domain: over HTTP, as the confidential client.
    let backend_secret = client_secret(&config.data_dir)?;
    let secret_file = Arc::new(FileSecret(config.data_dir.join("secrets").join("backend-client-secret")));
    state.token_endpoint = Some(Arc::new(HttpTokenEndpoint::new(
        format!("{own_origin}/oauth2/token"),
        format!("{own_origin}/oauth2/revoke"),
        BACKEND_CLIENT_ID.to_owned(),
        secret_file,
        https::aws_tls(None),
    )));
    // One process: the list cursor key is loaded (created on the first run, audited as a
    // start-up event) before any request, so no request's trail carries that record.
    let startup = RequestMeta { request_id: format!("devserver-start-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    state.cursor_keys.get(state.store.as_ref(), || shared::cursor::creation_record(&startup, None)).await?;
    let directory =
        EmbeddedDirectory::new(Arc::clone(&state.store), email_index(&state.store), config.hasher.clone(), issuer.issuer().to_owned());
    state.directory = Some(Arc::new(directory.clone()));
    state.audit_digests = Some(digest_store(&config));
    let state = Arc::new(state);
    if let Some(every) = config.digest_every {
        tokio::spawn(digest_while_serving(Arc::downgrade(&state), every));
    }

    let clients = vec![
        Client {
            id: LOCAL_CLIENT_ID.into(),
            secret: None,
            redirect_uris: config.redirect_uris.clone(),
            logout_uris: config.logout_uris.clone(),
        },
        Client {
            id: BACKEND_CLIENT_ID.into(),
            secret: Some(backend_secret),
            redirect_uris: config.redirect_uris.clone(),
            logout_uris: config.logout_uris.clone(),
        },
    ];
    let idp_config = IdpConfig { issuer: issuer.issuer().to_owned(), clients, mfa_required_for_admins: config.mfa_required_for_admins };
    let idp = Arc::new(LocalIdp {
        config: idp_config,
        store: Arc::clone(&state.store),
        directory,
        hasher: config.hasher.clone(),
        issuer: Arc::clone(&issuer),
    });
    let first_admin = first_admin(&idp, &startup).await.map_err(|error| {
        // The likeliest cause: a folder from before personal data was sealed, or another's keys.
        format!(
            "{error}\n(if `{}` was written by an older version, or its master-keys/ folder is not the one it was written with, move it aside to start afresh)",
            config.data_dir.display()
        )
    })?;

    let app = Arc::new(App {
        state: Arc::clone(&state),
        idp: Arc::clone(&idp),
        issuer: Arc::clone(&issuer),
        openapi: shared::openapi::json(),
        body_timeout: config.body_timeout,
        web,
        own_host: addr.to_string(),
    });
    let router = axum::Router::new().fallback(serve).with_state(app);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await {
            tracing::error!(%error, "local server stopped");
        }
    });
    Ok(DevServer { addr, issuer, idp, first_admin, state, backend: config.backend, task })
}

/// The token backend's client secret, kept in `secrets/` in the data folder (0600; made on
/// first run): the local stand-in for Secrets Manager.
pub fn client_secret(data_dir: &std::path::Path) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let path = data_dir.join("secrets").join("backend-client-secret");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap_or(data_dir))?;
        let secret = idp::grants::secret()?;
        shared::auth::private_file::write(&path, secret.as_bytes())?;
    }
    shared::auth::private_file::check(&path).map_err(|reason| format!("`{}`: {reason}", path.display()))?;
    Ok(std::fs::read_to_string(&path)?.trim().to_owned())
}

/// On the first start of an empty directory, creates an admin account with a temporary
/// password (its security record in the same commit) and returns the password, to be shown
/// once; later starts create nothing.
async fn first_admin(idp: &LocalIdp, startup: &RequestMeta) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
    use shared::identity::directory::UserDirectory;
    if !idp.directory.list(None, 1).await?.users.is_empty() {
        return Ok(None);
    }
    let invitation =
        Invitation { email: Email::parse(FIRST_ADMIN_EMAIL)?, name: Some(DisplayName::parse("First admin")?), role: Role::Admin };
    let (user, temporary, mut writes) = idp.directory.stage_account(&invitation, time::OffsetDateTime::now_utc()).await?;
    let roster = shared::auth::roster::AdminRoster::read(idp.store.as_ref()).await?;
    let record = shared::auth::standing::SecurityRecord::new(Role::Admin);
    writes.extend(shared::auth::roster::standing_writes(&roster, user.id.as_str(), None, Some(&record))?);
    let mut audit = AuditDraft::new("devserver-first-admin", "user");
    audit.resource_id = Some(user.id.as_str().to_owned());
    audit.subject = Some(user.id.as_str().to_owned());
    idp.store.commit(writes, &audit.finish(startup, 201)).await?;
    Ok(Some(temporary))
}

/// The item store and blob store `config` names.
pub async fn open_stores(config: &DevConfig) -> Result<(Arc<SealedItems>, Arc<dyn BlobStore>), Box<dyn std::error::Error + Send + Sync>> {
    let (items, s3): (Arc<dyn ItemStore>, Option<Arc<dyn BlobStore>>) = match &config.backend {
        Backend::Embedded => (Arc::new(SqliteStore::open(&config.data_dir.join("store.sqlite3"))?), None),
        Backend::AwsLocal(aws) => {
            let (items, blobs) = aws.adapters().await?;
            (items, Some(blobs))
        }
    };
    // Every audit record is tagged under a key the local audit-integrity key wraps.
    let master: Arc<dyn shared::crypto::keys::KeyProvider> = Arc::new(shared::crypto::keys::LocalKeys::new(master_keys_dir(config)));
    let tagged = Arc::new(shared::audit_tags::TaggedAudit::new(items, master));
    let items: Arc<dyn ItemStore> = tagged.clone();
    // One set of keys for records and files: each branch key is unwrapped once.
    let envelopes = shared::branch_keys::local_envelopes(&items, &master_keys_dir(config));
    // S3 encrypts itself (SSE-KMS); the folder would keep uploads in clear, so each is
    // sealed under the dataset-content key.
    let blobs = s3.unwrap_or_else(|| {
        Arc::new(shared::sealed_blobs::SealedBlobs::new(FsBlobStore::new(config.data_dir.join("blobs")), Arc::clone(&envelopes)))
    });
    // Every record is sealed as its type declares, whichever database holds it.
    Ok((Arc::new(SealedItems::new(tagged, envelopes)), blobs))
}

/// What the `token` command does: gives `subject` an account in `role` (or moves it
/// there), audited as the command's own action, and signs an access token for it.
pub async fn mint_token(
    config: &DevConfig,
    subject: &str,
    username: &str,
    role: Role,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let (store, _) = open_stores(config).await?;
    let meta = RequestMeta { request_id: format!("devserver-token-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    let mut audit = AuditDraft::new("devserver-token", "user");
    audit.resource_id = Some(subject.to_owned());
    audit.subject = Some(subject.to_owned());
    shared::auth::standing::grant_role(store.as_ref(), subject, role, &audit.finish(&meta, 200)).await?;
    Ok(local_issuer(config, config.port)?.mint_access_token(subject, username, role)?)
}

/// The local master keys (created on first use, 0600): one per purpose, in
/// `master-keys/` of the data folder; `rotate-keys` has its own for signing.
pub fn master_keys(config: &DevConfig) -> shared::crypto::keys::LocalKeys {
    shared::crypto::keys::LocalKeys::new(master_keys_dir(config))
}

fn master_keys_dir(config: &DevConfig) -> PathBuf {
    config.data_dir.join("master-keys")
}

/// The branch keys data keys derive from, kept in `items` and wrapped by the local master
/// keys.
fn branch_keys(config: &DevConfig, items: &Arc<dyn ItemStore>) -> shared::branch_keys::BranchKeys {
    shared::branch_keys::BranchKeys::new(Arc::new(master_keys(config)), Arc::clone(items))
}

/// What the `rotate-master-key` command does: a new version of `purpose`'s local master
/// key, and a branch key wrapped under it, which new data keys derive from at once (in a
/// running server within 5 minutes). Returns both references.
pub async fn rotate_master_key(
    config: &DevConfig,
    purpose: shared::crypto::keys::Purpose,
) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
    let master = master_keys(config).rotate(purpose)?;
    let (sealed, _) = open_stores(config).await?;
    // Audit records are tagged under keys of their own, not branch keys: a new version of
    // those, wrapped under the new master key.
    let branch = if purpose == shared::crypto::keys::Purpose::AuditIntegrity {
        format!("audit-key:{}", sealed.audit_keys().rotate().await?)
    } else {
        branch_keys(config, sealed.inner()).rotate(purpose).await?
    };
    Ok((master, branch))
}

/// Where the local server keeps the signed audit digests (a folder of the data folder, for
/// either backend) and the key that signs them (a file beside the master keys).
pub fn digest_store(config: &DevConfig) -> shared::audit_digest::DigestStore {
    shared::audit_digest::DigestStore {
        blobs: Arc::new(FsBlobStore::new(config.data_dir.join("audit-digests"))),
        signer: Arc::new(shared::crypto::signing::LocalSigner::new(master_keys_dir(config))),
    }
}

/// The deployed jobs' schedules, in process: every `every`, the audit hours that are due
/// get their digests and what retention says is due is purged. Ends with the server (when
/// the state is dropped).
async fn digest_while_serving(state: std::sync::Weak<AppState>, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let Some(state) = state.upgrade() else { return };
        let Some(digests) = &state.audit_digests else { return };
        let meta = RequestMeta { request_id: format!("devserver-digest-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
        let now = time::OffsetDateTime::now_utc();
        match digests.write(state.store.as_ref(), &state.audit_keys, now, shared::audit_digest::PERIODS_PER_RUN, &meta).await {
            Ok(run) if run.digests > 0 => {
                tracing::info!(digests = run.digests, records = run.records, through = ?run.digested_through, "audit digests")
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "audit digests failed"),
        }
        match shared::purge::purge(state.store.as_ref(), state.blobs.as_ref(), now, 5_000, &meta).await {
            Ok(report) if report.datasets + report.forecasts + report.audit_records > 0 => {
                tracing::info!(datasets = report.datasets, forecasts = report.forecasts, audit_records = report.audit_records, "purge")
            }
            Ok(_) => {}
            Err(error) => tracing::error!(%error, "purge failed"),
        }
    }
}

/// What the `purge` command does: everything retention says is due at `now`.
pub async fn purge(
    config: &DevConfig,
    now: time::OffsetDateTime,
) -> Result<shared::purge::PurgeReport, Box<dyn std::error::Error + Send + Sync>> {
    let (store, blobs) = open_stores(config).await?;
    let meta = RequestMeta { request_id: format!("devserver-purge-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    Ok(shared::purge::purge(store.as_ref(), blobs.as_ref(), now, usize::MAX, &meta).await?)
}

/// What the `audit-digest` command does: digests every hour due at `now`.
pub async fn write_audit_digests(
    config: &DevConfig,
    now: time::OffsetDateTime,
) -> Result<shared::audit_digest::DigestRun, Box<dyn std::error::Error + Send + Sync>> {
    let (store, _) = open_stores(config).await?;
    let digests = digest_store(config);
    let meta = RequestMeta { request_id: format!("devserver-digest-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    Ok(digests.write(store.as_ref(), store.audit_keys(), now, usize::MAX, &meta).await?)
}

/// What the `audit-verify` command does: the range checked against its digests.
pub async fn verify_audit(
    config: &DevConfig,
    from: time::OffsetDateTime,
    to: time::OffsetDateTime,
    now: time::OffsetDateTime,
) -> Result<shared::audit_digest::VerifyReport, Box<dyn std::error::Error + Send + Sync>> {
    let (store, _) = open_stores(config).await?;
    let digests = digest_store(config);
    let keys = Arc::clone(store.audit_keys());
    Ok(shared::audit_digest::verify(store.as_ref(), digests.blobs.as_ref(), &keys, digests.signer.as_ref(), from, to, now).await?)
}

/// E-mail addresses looked up by a keyed blind index, its key a record of `store`.
fn email_index(store: &Arc<dyn ItemStore>) -> Arc<dyn shared::store::email_index::EmailIndex> {
    Arc::new(shared::blind_index::KeyedEmailIndex::new(Arc::clone(store)))
}

/// What the `reseal` command does: re-seals every record sealed under an older master key
/// (after `rotate-master-key`), in passes until one finds nothing to do (at most two: a
/// server running meanwhile may seal with a data key cached from before the rotation for a
/// few minutes more, which a later run picks up). The last pass's report, and the records
/// re-sealed in all.
pub async fn reseal(config: &DevConfig) -> Result<(shared::reseal::ResealReport, u64), Box<dyn std::error::Error + Send + Sync>> {
    let (store, _) = open_stores(config).await?;
    let meta = RequestMeta { request_id: format!("devserver-reseal-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    let first = shared::reseal::reseal(&store, None, &meta).await?;
    if first.complete || !first.unreadable.is_empty() {
        let resealed = first.resealed;
        return Ok((first, resealed));
    }
    let second = shared::reseal::reseal(&store, None, &meta).await?;
    let resealed = first.resealed + second.resealed;
    Ok((second, resealed))
}

/// What the `outbox` command shows: the invitations the local directory "sent", oldest
/// first (Cognito e-mails them; locally they wait here, with the temporary password).
pub async fn outbox(
    config: &DevConfig,
) -> Result<Vec<shared::identity::embedded::OutboxMessage>, Box<dyn std::error::Error + Send + Sync>> {
    let (sealed, _) = open_stores(config).await?;
    let store: Arc<dyn ItemStore> = sealed;
    let directory = EmbeddedDirectory::new(Arc::clone(&store), email_index(&store), config.hasher.clone(), issuer_url(config.port));
    Ok(directory.outbox().await?)
}

/// API Gateway rejects bodies over 10 MB; Lambda takes at most 6 MB. Stop a little above
/// the handlers' own limit so they, not the server, name the problem.
const MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

async fn serve(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let mut context = ApiGatewayProxyRequestContext::default();
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.identity.source_ip = Some(peer.ip().to_string());
    context.identity.user_agent = parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    context.http_method = parts.method.clone();
    let query: HashMap<String, Vec<String>> = parts.uri.query().map(parse_query).unwrap_or_default();
    let path = parts.uri.path().to_owned();
    if idp::serves(&path) {
        // The WAF on the user pool refuses a blocked address in AWS; here, the same list.
        if let Some(refusal) = refuse_blocked(&app, &parts, &context, &path).await {
            return refusal;
        }
        return serve_idp(&app, parts, body, context, query).await;
    }
    let document = match path.as_str() {
        "/openapi.json" => Some(app.openapi.clone()),
        "/.well-known/jwks.json" => Some(serde_json::to_string(&app.issuer.jwks()).unwrap_or_default()),
        _ => None,
    };
    if let Some(document) = document {
        let meta = RequestMeta::from_request(&lambda_request(&parts, context));
        return to_axum(document_response(&app.state, &meta, document));
    }
    if matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD) {
        let accepts_html =
            parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|accept| accept.contains("text/html"));
        if let Some(mut response) = app.web.answer(&path, accepts_html) {
            // `localhost` is another origin than the issuer's `127.0.0.1`: the sign-in
            // cookies and the registered callback belong to the latter.
            let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            if accepts_html && !host.is_empty() && host != app.own_host {
                let target = format!("http://{}{}", app.own_host, parts.uri.path_and_query().map_or("/", |p| p.as_str()));
                if let Ok(location) = header::HeaderValue::from_str(&target) {
                    response = axum::response::Response::new(axum::body::Body::empty());
                    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
                    response.headers_mut().insert(header::LOCATION, location);
                }
            }
            return response;
        }
    }

    // A body that never completes must not hold a connection and a task forever.
    let bytes = match tokio::time::timeout(app.body_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return error_response(&app, &parts, context, ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES }),
        Err(_) => return error_response(&app, &parts, context, ApiError::RequestTimeout),
    };
    // Preflights are answered for any known path, whatever method they ask about.
    let method = if parts.method == axum::http::Method::OPTIONS { None } else { Some(&parts.method) };
    let resolved = match method {
        Some(method) => Route::resolve(method, &path),
        None => Route::ALL.iter().find_map(|r| Route::resolve(&r.method(), &path).ok()).ok_or_else(Vec::new),
    };
    let (route, params) = match resolved {
        Ok(found) => found,
        Err(allowed) => {
            let error = if allowed.is_empty() { ApiError::NotFound } else { ApiError::MethodNotAllowed { allowed } };
            return error_response(&app, &parts, context, error);
        }
    };
    context.resource_path = Some(route.path().to_owned());

    let request = lambda_http::http::Request::from_parts(parts, to_lambda_body(bytes))
        .with_path_parameters(params)
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV1(context));
    to_axum(shared::handle(&app.state, route, request).await)
}

/// Hands a request for the identity provider over, its body read with the same limits.
/// A 403 for a blocked address at the identity provider's pages, audited as the API's are.
async fn refuse_blocked(
    app: &App,
    parts: &axum::http::request::Parts,
    context: &ApiGatewayProxyRequestContext,
    path: &str,
) -> Option<axum::response::Response> {
    let ip = context.identity.source_ip.as_deref()?;
    let blocked = match app.state.blocklist.get(app.state.store.as_ref()).await {
        Ok(list) => list.blocking(ip, time::OffsetDateTime::now_utc()).is_some(),
        Err(error) => {
            tracing::error!(%error, "block list unreadable");
            true
        }
    };
    if !blocked {
        return None;
    }
    let meta = RequestMeta::from_request(&lambda_request(parts, context.clone()));
    let mut draft = AuditDraft::new("idp-request", "session");
    draft.resource_id = Some(path.to_owned());
    draft.reason = Some("ip-blocked".to_owned());
    if let Err(error) = app.state.store.append_audit(&draft.finish(&meta, 403)).await {
        tracing::error!(%error, "audit write failed");
    }
    Some(error_response(app, parts, context.clone(), ApiError::Forbidden))
}

async fn serve_idp(
    app: &App,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    context: ApiGatewayProxyRequestContext,
    query: HashMap<String, Vec<String>>,
) -> axum::response::Response {
    let bytes = match tokio::time::timeout(app.body_timeout, axum::body::to_bytes(body, idp::MAX_FORM_BYTES + 1)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return error_response(app, &parts, context, ApiError::PayloadTooLarge { limit: idp::MAX_FORM_BYTES }),
        Err(_) => return error_response(app, &parts, context, ApiError::RequestTimeout),
    };
    let header = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let cookies = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let meta = RequestMeta::from_request(&lambda_request(&parts, context));
    let request = IdpRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query,
        content_type: header(header::CONTENT_TYPE),
        authorization: header(header::AUTHORIZATION),
        cookies,
        body: bytes.to_vec(),
        meta: meta.clone(),
    };
    let answer = app.idp.handle(request).await;
    let mut response = axum::response::Response::new(axum::body::Body::from(answer.body));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        if let Ok(value) = header::HeaderValue::from_str(&value) {
            headers.append(name, value);
        }
    }
    // The API's security headers, but for the pages' own CSP.
    for (name, value) in [
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ] {
        if !headers.contains_key(name) {
            headers.insert(name, header::HeaderValue::from_static(value));
        }
    }
    if let Ok(id) = header::HeaderValue::from_str(&meta.request_id) {
        headers.insert("x-request-id", id);
    }
    response
}

fn error_response(
    app: &App,
    parts: &axum::http::request::Parts,
    context: ApiGatewayProxyRequestContext,
    error: ApiError,
) -> axum::response::Response {
    to_axum(unrouted(&app.state, &RequestMeta::from_request(&lambda_request(parts, context)), &error))
}

/// A body-less request with `context`, for what is answered before routing.
fn lambda_request(parts: &axum::http::request::Parts, context: ApiGatewayProxyRequestContext) -> lambda_http::Request {
    lambda_http::http::Request::from_parts(parts.clone(), Body::Empty).with_request_context(RequestContext::ApiGatewayV1(context))
}

fn parse_query(query: &str) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        map.entry(key.into_owned()).or_default().push(value.into_owned());
    }
    map
}

/// API Gateway passes text bodies as text and others base64-encoded; mirror that.
fn to_lambda_body(bytes: Bytes) -> Body {
    if bytes.is_empty() {
        return Body::Empty;
    }
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(error) => Body::Binary(error.into_bytes()),
    }
}

fn to_axum(response: lambda_http::Response<Body>) -> axum::response::Response {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let mut response = axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    if response.status() == StatusCode::NO_CONTENT {
        *response.body_mut() = axum::body::Body::empty();
    }
    response
}
