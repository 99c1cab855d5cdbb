//! The local server: every API route on one loopback port through the same handler the
//! Lambda functions run, over the embedded store, a data folder and a local token issuer.
//!
//! Besides the API it serves `/openapi.json` and the issuer's `/.well-known/jwks.json`.
//! With [`Backend::AwsLocal`] it runs on the DynamoDB and S3 adapters instead, against
//! local emulators (see [`aws_local`]).

pub mod aws_local;

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

/// The client id of the local "SPA" app client.
pub const LOCAL_CLIENT_ID: &str = "local-spa";

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
        }
    }
}

/// A running local server.
#[derive(Debug)]
pub struct DevServer {
    pub addr: SocketAddr,
    pub issuer: Arc<LocalIssuer>,
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
    issuer: Arc<LocalIssuer>,
    openapi: String,
    body_timeout: Duration,
}

/// Binds 127.0.0.1 and starts serving in the background.
pub async fn spawn(config: DevConfig) -> Result<DevServer, Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let issuer = Arc::new(local_issuer(&config, addr.port())?);

    let auth = AuthSettings::for_issuer(issuer.issuer(), LOCAL_CLIENT_ID);
    // The key set is in this process: a rotation is seen at the first token it signs, with
    // no interval to wait out (that interval protects a remote issuer).
    let keys = KeyCache::new(Box::new(IssuerJwks(Arc::clone(&issuer))), Duration::ZERO);
    let (store, blobs) = open_stores(&config).await?;
    let mut state = AppState::new(auth, keys, store, blobs, CorsPolicy::new(&config.cors_origins)?)?;
    // Many requests share a few async workers here: CPU work goes to a bounded pool.
    state.compute = ComputePool::bounded(config.compute_workers, config.compute_queue);
    state.limits.api_rate = config.api_rate;
    // One process: the list cursor key is loaded (created on the first run, audited as a
    // start-up event) before any request, so no request's trail carries that record.
    let startup = RequestMeta { request_id: format!("devserver-start-{}", uuid::Uuid::new_v4()), ..RequestMeta::default() };
    state.cursor_keys.get(state.store.as_ref(), || shared::cursor::creation_record(&startup, None)).await?;
    let state = Arc::new(state);

    let app = Arc::new(App {
        state: Arc::clone(&state),
        issuer: Arc::clone(&issuer),
        openapi: shared::openapi::json(),
        body_timeout: config.body_timeout,
    });
    let router = axum::Router::new().fallback(serve).with_state(app);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await {
            tracing::error!(%error, "local server stopped");
        }
    });
    Ok(DevServer { addr, issuer, state, backend: config.backend, task })
}

/// The item store and blob store `config` names.
pub async fn open_stores(config: &DevConfig) -> Result<(Arc<dyn ItemStore>, Arc<dyn BlobStore>), Box<dyn std::error::Error + Send + Sync>> {
    Ok(match &config.backend {
        Backend::Embedded => (
            Arc::new(SqliteStore::open(&config.data_dir.join("store.sqlite3"))?),
            Arc::new(FsBlobStore::new(config.data_dir.join("blobs"))),
        ),
        Backend::AwsLocal(aws) => aws.adapters().await?,
    })
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
    shared::auth::standing::grant_role(store.as_ref(), subject, role, &audit.finish(&meta, 200)).await?;
    Ok(local_issuer(config, config.port)?.mint_access_token(subject, username, role)?)
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
    let document = match path.as_str() {
        "/openapi.json" => Some(app.openapi.clone()),
        "/.well-known/jwks.json" => Some(serde_json::to_string(&app.issuer.jwks()).unwrap_or_default()),
        _ => None,
    };
    if let Some(document) = document {
        let meta = RequestMeta::from_request(&lambda_request(&parts, context));
        return to_axum(document_response(&app.state, &meta, document));
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
