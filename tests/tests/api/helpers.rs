//! `spawn_app()`: the whole local server on an ephemeral loopback port with a temporary
//! data folder, plus a client and token helpers.

use std::sync::Arc;

use devserver::aws_local::AwsLocal;
use devserver::{Backend, DevConfig, DevServer};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use shared::audit::{AuditDecision, AuditRecord};
use shared::auth::Role;

pub const APP_ORIGIN: &str = "https://app.example";

/// Who calls, in the permission-matrix tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Analyst,
    Viewer,
    Anonymous,
}

/// How the caller relates to the object they call about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Own,
    Shared,
    Other,
}

pub const CALLERS: [Caller; 4] = [Caller::Admin, Caller::Analyst, Caller::Viewer, Caller::Anonymous];
pub const RELATIONS: [Relation; 3] = [Relation::Own, Relation::Shared, Relation::Other];

impl Caller {
    /// The token role, `None` for no token.
    pub fn role(self) -> Option<Role> {
        match self {
            Caller::Admin => Some(Role::Admin),
            Caller::Analyst => Some(Role::Analyst),
            Caller::Viewer => Some(Role::Viewer),
            Caller::Anonymous => None,
        }
    }
}

/// One case of a permission matrix, arranged.
pub struct MatrixCase {
    /// The caller's subject id.
    pub sub: String,
    /// The dataset's owner (the caller, for `Own`).
    pub owner: String,
    pub dataset: String,
    /// The caller's token; `None` for the anonymous caller.
    pub token: Option<String>,
}

pub struct TestApp {
    pub server: DevServer,
    pub client: reqwest::Client,
    pub base: String,
    /// When the server started: its audit records lie between then and now.
    pub started: time::OffsetDateTime,
    // Dropped last: the server's files live here.
    pub dir: tempfile::TempDir,
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn request_id(&self) -> String {
        self.headers.get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    pub fn etag(&self) -> Option<&str> {
        self.headers.get("etag").and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// Asserts a problem+json error with this status and returns its `type` slug.
    pub fn assert_problem(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.content_type(), "application/problem+json", "{}", self.text);
        assert_eq!(self.body["status"], status);
        let kind = self.body["type"].as_str().unwrap_or_default();
        kind.rsplit('/').next().unwrap_or_default().to_owned()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(DevConfig { hasher: cheap_hasher(), detect_threats: false, ..DevConfig::default() }).await
}

/// Argon2id at a fraction of the real cost, for tests about something else than hashing.
pub fn cheap_hasher() -> shared::identity::hashing::PasswordHasher {
    shared::identity::hashing::PasswordHasher::new(1024, 1, 1).unwrap()
}

/// The backend the API tests run on: the embedded store by default, or with
/// `FORECAST_TEST_BACKEND=aws-local` the DynamoDB and S3 adapters on the emulators
/// `scripts/test.sh` starts, each server on its own fresh tables and bucket.
fn test_backend() -> Backend {
    match std::env::var("FORECAST_TEST_BACKEND").as_deref() {
        Ok("aws-local") => Backend::AwsLocal(fresh_aws_local()),
        Ok("embedded") | Err(_) => Backend::Embedded,
        Ok(other) => panic!("FORECAST_TEST_BACKEND={other}: use embedded or aws-local"),
    }
}

/// A table pair and a bucket of their own on the emulators `scripts/test.sh` starts.
pub fn fresh_aws_local() -> AwsLocal {
    let url = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run through scripts/test.sh"));
    let unique = uuid::Uuid::new_v4().simple().to_string();
    AwsLocal {
        items_table: format!("items-{unique}"),
        audit_table: format!("audit-{unique}"),
        bucket: format!("datasets-{unique}"),
        ..AwsLocal::at(url("FORECAST_TEST_DYNAMODB_URL"), url("FORECAST_TEST_S3_URL"))
    }
}

/// The local server with `config`, on an ephemeral port over a temporary data folder.
pub async fn spawn_app_with(config: DevConfig) -> TestApp {
    let started = time::OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    // A test that names its backend keeps it; the others run on the suite's.
    let backend = if config.backend == Backend::Embedded { test_backend() } else { config.backend.clone() };
    let config = DevConfig { data_dir: dir.path().to_path_buf(), port: 0, cors_origins: vec![APP_ORIGIN.into()], backend, ..config };
    let server = devserver::spawn(config).await.unwrap();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let base = server.base_url();
    TestApp { server, client, base, started, dir }
}

impl TestApp {
    /// An access token for `subject` in `role`, from the local issuer, with the security
    /// record that lets it in (what an invitation or a role change writes).
    pub async fn token(&self, subject: &str, role: Role) -> String {
        self.register(subject, role).await;
        self.server.issuer.mint_access_token(subject, subject, role).unwrap()
    }

    /// Puts `subject` in `role` (their security record), as an admin's change would.
    pub async fn register(&self, subject: &str, role: Role) {
        register(&self.server.state, subject, role).await;
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.call_with(method, path, token, body, &[]).await
    }

    /// Like [`TestApp::call`], with extra request headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("user-agent")) {
            request = request.header("user-agent", "api-tests/1.0");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.unwrap()).await
    }

    /// Sends a raw body with a chosen content type.
    pub async fn call_raw(&self, method: Method, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Answer {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        read(request.send().await.unwrap()).await
    }

    /// Creates a dataset as `owner` (an analyst token) and returns its id.
    pub async fn create_dataset(&self, owner: &str, name: &str) -> String {
        let token = self.token(owner, Role::Analyst).await;
        let answer = self.call(Method::POST, "/v1/datasets", Some(&token), Some(sample_dataset(name))).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// Uploads `csv` as a dataset of `owner` (an analyst token) and returns its id.
    pub async fn upload_csv(&self, owner: &str, csv: &str) -> String {
        let token = self.token(owner, Role::Analyst).await;
        let body = serde_json::json!({"name": "uploaded", "csv": csv});
        let answer = self.call(Method::POST, "/v1/datasets", Some(&token), Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["id"].as_str().unwrap().to_owned()
    }

    /// Case `n` of a permission matrix: a caller, and a dataset holding `csv` that is
    /// theirs, shared with them, or someone else's (`relation`).
    pub async fn matrix_case(&self, caller: Caller, relation: Relation, n: usize, csv: &str) -> MatrixCase {
        let sub = format!("{caller:?}-{relation:?}-{n}").to_lowercase();
        let owner = if relation == Relation::Own && caller != Caller::Anonymous { sub.clone() } else { format!("owner-{n}") };
        let dataset = self.upload_csv(&owner, csv).await;
        if relation == Relation::Shared {
            self.share(&owner, &dataset, &sub).await;
        }
        let token = match caller.role() {
            Some(role) => Some(self.token(&sub, role).await),
            None => None,
        };
        MatrixCase { sub, owner, dataset, token }
    }

    /// Shares a dataset with `reader` as its owner.
    pub async fn share(&self, owner: &str, dataset: &str, reader: &str) {
        let token = self.token(owner, Role::Analyst).await;
        let answer = self.call(Method::PUT, &format!("/v1/datasets/{dataset}/shares/{reader}"), Some(&token), None).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }

    /// Every audit record since the server started, oldest first, but those of the tests'
    /// own set-up ([`register`]).
    pub async fn audit_records(&self) -> Vec<AuditRecord> {
        let records = crate::audit_walk::audit_since(self.server.state.store.as_ref(), self.started).await;
        records.into_iter().filter(|r| !r.request_id.starts_with(SETUP_PREFIX)).collect()
    }

    /// The one audit record of the request that produced `answer`.
    pub async fn audit_for(&self, answer: &Answer) -> AuditRecord {
        let request_id = answer.request_id();
        let matching: Vec<_> = self.audit_records().await.into_iter().filter(|r| r.request_id == request_id).collect();
        assert_eq!(matching.len(), 1, "expected exactly one audit record for request {request_id}: {matching:?}");
        matching.into_iter().next().unwrap()
    }

    /// The key of every stored blob, wherever the backend keeps them.
    pub async fn blob_keys(&self) -> Vec<String> {
        match &self.server.backend {
            Backend::Embedded => {
                let root = self.dir.path().join("blobs");
                files_below(&root).iter().map(|path| path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/")).collect()
            }
            Backend::AwsLocal(aws) => {
                let s3 = devserver::aws_local::s3_client(&aws.s3_url).unwrap();
                let listed = s3.list_objects_v2().bucket(&aws.bucket).send().await.unwrap();
                listed.contents().iter().filter_map(|object| object.key().map(str::to_owned)).collect()
            }
        }
    }
}

/// Every key of the item store `store`, scanned a page at a time.
pub async fn all_keys(store: &dyn shared::store::ItemStore) -> Vec<shared::store::Key> {
    let mut keys = Vec::new();
    let mut after = None;
    loop {
        let page = store.scan_keys(after.as_ref(), 100).await.unwrap();
        keys.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => return keys,
        }
    }
}

/// What a matrix call's audit record holds as its decision: none before there is a
/// principal (401), a refusal (403, and 404 for what the caller may not learn of), else an
/// allow.
pub fn decision_for(status: u16) -> AuditDecision {
    match status {
        401 => AuditDecision::NotEvaluated,
        403 | 404 => AuditDecision::Deny,
        _ => AuditDecision::Allow,
    }
}

impl TestApp {
    /// Checks one call of a permission matrix: the status expected, a problem body when it
    /// is refused, and its one audit record (the route, the status, the decision), which it
    /// returns for the caller's own checks.
    pub async fn assert_matrix_call(&self, answer: &Answer, route: shared::Route, expected: u16, label: &str) -> AuditRecord {
        assert_eq!(answer.status.as_u16(), expected, "{label}: {}", answer.text);
        if expected >= 400 {
            answer.assert_problem(expected);
        }
        let record = self.audit_for(answer).await;
        assert_eq!((record.action.as_str(), record.status), (route.function_name(), expected), "{label}");
        assert_eq!(record.decision, decision_for(expected), "{label}");
        record
    }
}

pub async fn read(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer { status, headers, body, text }
}

/// A small valid CSV: three days of sales by region, one sales value missing.
/// Waits, if need be, until the current minute has `seconds` left: rate limits count in
/// fixed windows aligned to the minute, and a test that counts to a limit must not have
/// its attempts split across two.
pub async fn with_a_minute_window_of(seconds: i64) {
    let left = 60 - time::OffsetDateTime::now_utc().unix_timestamp().rem_euclid(60);
    if left < seconds {
        tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0) + 1)).await;
    }
}

/// Every file below `dir`.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(files_below(&path)) } else { out.push(path) }
    }
    out
}

pub const SAMPLE_CSV: &str = "date,sales,region\n2024-01-01,10,north\n2024-01-02,12.5,south\n2024-01-03,,north\n";

pub fn sample_dataset(name: &str) -> Value {
    serde_json::json!({"name": name, "description": "daily sales", "csv": SAMPLE_CSV})
}

/// The handlers in process over `store`, with blobs in `dir`, and the issuer they trust.
pub fn in_process(store: Arc<dyn shared::store::ItemStore>, dir: &std::path::Path) -> (shared::AppState, shared::auth::local::LocalIssuer) {
    let issuer = shared::auth::local::LocalIssuer::ephemeral("http://127.0.0.1:1".into(), "local-spa".into()).unwrap();
    (in_process_trusting(store, dir, &issuer), issuer)
}

/// The handlers in process over `store`, with blobs in `dir`, trusting `issuer` (a second
/// instance beside one `in_process` built, for instance).
pub fn in_process_trusting(
    store: Arc<dyn shared::store::ItemStore>,
    dir: &std::path::Path,
    issuer: &shared::auth::local::LocalIssuer,
) -> shared::AppState {
    let auth = shared::config::AuthSettings::for_issuer(issuer.issuer(), issuer.client_id());
    let keys = shared::auth::jwks::KeyCache::with_keys(issuer.jwks(), auth.jwks_min_refresh);
    let blobs = Arc::new(store_embedded::FsBlobStore::new(dir.join("blobs")));
    shared::AppState::new(auth, keys, sealed(store, dir), blobs, shared::http::cors::CorsPolicy::default()).unwrap()
}

/// `store` with its records sealed under master keys kept in `dir` (every in-process state
/// over the same `dir` opens what another sealed).
pub fn sealed(store: Arc<dyn shared::store::ItemStore>, dir: &std::path::Path) -> Arc<shared::sealed_items::SealedItems> {
    Arc::new(shared::sealed_items::SealedItems::with_local_keys(store, &dir.join("master-keys")))
}

/// Request ids of the audit records test set-up writes.
pub const SETUP_PREFIX: &str = "test-setup-";

/// Gives `subject` a security record in `role` (a test's stand-in for an invitation, or a
/// role change), and makes `state` read it afresh.
pub async fn register(state: &shared::AppState, subject: &str, role: Role) {
    register_in(state.store.as_ref(), subject, role).await;
    state.standing.forget(subject);
}

/// [`register`], straight into a store.
pub async fn register_in(store: &dyn shared::store::ItemStore, subject: &str, role: Role) {
    let meta = shared::http::RequestMeta { request_id: format!("{SETUP_PREFIX}{}", uuid::Uuid::new_v4()), ..Default::default() };
    let record = shared::audit::AuditDraft::new("test-setup", "user").finish(&meta, 200);
    shared::auth::standing::grant_role(store, subject, role, &record).await.unwrap();
}
