//! The Lambda host: what each function's thin `main` calls. It builds the production
//! state (DynamoDB with records sealed under KMS data keys, S3 where the route needs
//! blobs, the issuer's JWKS) once per cold start and serves one endpoint from
//! `shared::routes`.

pub mod aws_env;
mod init_steps;
pub mod secret;
pub mod waf;

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use aws_types::SdkConfig;
use lambda_http::{Request, service_fn};

use aws_env::AwsEnv;
use init_steps::InitSteps;

use keys_kms::KmsKeys;
use shared::Route;
use shared::audit_tags::TaggedAudit;
use shared::auth::jwks::{HttpJwks, KeyCache};
use shared::branch_keys::BranchKeys;
use shared::config::{AwsSettings, Settings};
use shared::crypto::cache::{CacheLimits, Envelopes};
use shared::crypto::keys::Purpose;
use shared::handlers::{Endpoint, serve};
use shared::http::cors::CorsPolicy;
use shared::sealed_items::SealedItems;
use shared::session::HttpTokenEndpoint;
use shared::state::{AppState, StartupError};
use store::{BlobStore, NoBlobStore};
use store_aws::{DynamoStore, S3BlobStore};

/// How a function gets its blob store. Chosen at compile time in each `main`, so a
/// function whose route never touches blobs doesn't link the S3 SDK at all.
pub trait BlobBackend {
    fn build(config: &SdkConfig, aws: &AwsSettings) -> Arc<dyn BlobStore>;
}

/// S3 with SSE-KMS: for routes where [`Route::uses_blobs`] holds.
#[derive(Debug)]
pub struct S3Blobs;

impl BlobBackend for S3Blobs {
    fn build(config: &SdkConfig, aws: &AwsSettings) -> Arc<dyn BlobStore> {
        Arc::new(S3BlobStore::new(aws_sdk_s3::Client::new(config), aws.bucket_name.clone(), aws.bucket_kms_key_id.clone()))
    }
}

/// No blob store: for every other route.
#[derive(Debug)]
pub struct NoBlobs;

impl BlobBackend for NoBlobs {
    fn build(_config: &SdkConfig, _aws: &AwsSettings) -> Arc<dyn BlobStore> {
        Arc::new(NoBlobStore)
    }
}

/// What a function talks to AWS with, read once per cold start: the SDK's configuration
/// (region, credentials, one shared HTTPS client) and the TLS settings its other HTTPS
/// clients (key set, token endpoint) use.
#[derive(Debug, Clone)]
pub struct Aws {
    pub config: SdkConfig,
    pub tls: https::TlsContext,
}

/// The state of a deployed function: DynamoDB, the blob backend `B`, the issuer's JWKS.
pub async fn aws_state<B: BlobBackend>(settings: &Settings, aws: &Aws) -> Result<AppState, StartupError> {
    let config = &aws.config;
    let store = sealed_items(&settings.aws, aws_sdk_dynamodb::Client::new(config), aws_sdk_kms::Client::new(config));
    let keys = KeyCache::new(Box::new(HttpJwks::new(settings.auth.jwks_url.clone(), aws.tls.clone())), settings.auth.jwks_min_refresh);
    AppState::new(settings.auth.clone(), keys, store, B::build(config, &settings.aws), CorsPolicy::new(&settings.cors_allowed_origins)?)
}

/// The item store of every function and job: DynamoDB with every record sealed under data
/// keys derived from a branch key that KMS wraps (retired keys still unwrap what they
/// wrapped). KMS is not asked until a record is read or written.
pub fn sealed_items(aws: &AwsSettings, dynamodb: aws_sdk_dynamodb::Client, kms: aws_sdk_kms::Client) -> Arc<SealedItems> {
    let table = Arc::new(DynamoStore::new(dynamodb, aws.table_name.clone(), aws.audit_table_name.clone()));
    let kms: Arc<KmsKeys> = Arc::new(
        KmsKeys::new(
            kms,
            HashMap::from([
                (Purpose::PersonalData, aws.personal_data_key_id.clone()),
                (Purpose::AuditIntegrity, aws.audit_integrity_key_id.clone()),
            ]),
        )
        .with_retired(aws.personal_data_retired_key_ids.clone()),
    );
    // Audit records are tagged under a key KMS wraps, unwrapped once per instance.
    let tagged = Arc::new(TaggedAudit::new(table, kms.clone()));
    // Data keys derive from a branch key KMS wraps: one KMS call per instance per branch
    // key, however many records it reads (`shared::branch_keys`).
    let branches = BranchKeys::new(kms, tagged.clone());
    let envelopes = Arc::new(Envelopes::new(Arc::new(branches), CacheLimits::default()));
    Arc::new(SealedItems::new(tagged, envelopes))
}

/// The scheduled re-sealing job: each invocation re-seals records from where the last one
/// stopped (`shared::reseal`), in slices of a few pages, until the pass completes or less
/// than a minute of the invocation is left; it answers with what it did.
pub fn run_reseal() -> ExitCode {
    start(|Started { settings, aws, .. }| async move {
        let store = sealed_items(&settings.aws, aws_sdk_dynamodb::Client::new(&aws.config), aws_sdk_kms::Client::new(&aws.config));
        let handler = lambda_http::service_fn(move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let store = Arc::clone(&store);
            async move { reseal_until(&store, &event.context).await }
        });
        serve_events(handler).await
    })
}

async fn reseal_until(store: &SealedItems, context: &lambda_http::Context) -> Result<serde_json::Value, lambda_http::Error> {
    let meta = shared::http::RequestMeta { request_id: context.request_id.clone(), ..shared::http::RequestMeta::default() };
    let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(context.deadline);
    let (mut visited, mut resealed, mut changed_meanwhile, mut unreadable) = (0, 0, 0, Vec::new());
    loop {
        let report = shared::reseal::reseal(store, Some(20), &meta).await?;
        visited += report.visited;
        resealed += report.resealed;
        changed_meanwhile += report.changed_meanwhile;
        unreadable.extend(report.unreadable.iter().map(|key| format!("{} / {}", key.pk, key.sk)));
        let time_left = deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        if !report.stopped_early || time_left < std::time::Duration::from_secs(60) {
            tracing::info!(master_key = %report.master_key, visited, resealed, complete = report.complete, ?unreadable, "re-sealing");
            return Ok(serde_json::json!({
                "master_key": report.master_key, "visited": visited, "resealed": resealed,
                "changed_meanwhile": changed_meanwhile, "unreadable": unreadable, "complete": report.complete,
            }));
        }
    }
}

/// Serves a job's events with `handler` until the Lambda runtime stops the process.
async fn serve_events<S>(handler: S) -> ExitCode
where
    S: lambda_http::Service<lambda_http::LambdaEvent<serde_json::Value>, Response = serde_json::Value, Error = lambda_http::Error>,
    S::Future: Send,
{
    match lambda_http::lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// Builds the state once (settings, clients, policies) and serves endpoint `E` until the
/// Lambda runtime stops the process.
pub fn run<B: BlobBackend + 'static, E: Endpoint>() -> ExitCode {
    host::<E>(|settings, aws| Box::pin(aws_state::<B>(settings, aws)))
}

/// [`run`] for a session route: the state also holds the identity provider's token
/// endpoint, with the backend client's secret from Secrets Manager. Only these functions
/// link the Secrets Manager SDK.
pub fn run_session<E: Endpoint>() -> ExitCode {
    host::<E>(|settings, aws| Box::pin(session_state(settings, aws)))
}

async fn session_state(settings: &Settings, aws: &Aws) -> Result<AppState, StartupError> {
    let mut state = aws_state::<NoBlobs>(settings, aws).await?;
    let session = settings.session.clone().ok_or(shared::config::ConfigError::Missing("AUTH_TOKEN_URL"))?;
    let secret = Arc::new(secret::SecretsManagerSecret::new(aws_sdk_secretsmanager::Client::new(&aws.config), session.client_secret_arn));
    let endpoint = HttpTokenEndpoint::new(session.token_url, session.revoke_url, session.client_id, secret, aws.tls.clone());
    state.token_endpoint = Some(Arc::new(endpoint));
    Ok(state)
}

/// [`run`] for a route that reads or changes users ([`Route::uses_directory`]): the state
/// also holds the Cognito user pool as the user directory. Only these functions link the
/// Cognito SDK.
pub fn run_directory<E: Endpoint>() -> ExitCode {
    host::<E>(|settings, aws| Box::pin(directory_state::<NoBlobs>(settings, aws)))
}

/// [`run_directory`] for a route that also removes blobs (erasing a user's content).
pub fn run_directory_with_blobs<E: Endpoint>() -> ExitCode {
    host::<E>(|settings, aws| Box::pin(directory_state::<S3Blobs>(settings, aws)))
}

async fn directory_state<B: BlobBackend + 'static>(settings: &Settings, aws: &Aws) -> Result<AppState, StartupError> {
    let mut state = aws_state::<B>(settings, aws).await?;
    let pool_id = settings.user_pool_id.clone().ok_or(shared::config::ConfigError::Missing("USER_POOL_ID"))?;
    let client = aws_sdk_cognitoidentityprovider::Client::new(&aws.config);
    state.directory = Some(Arc::new(identity_cognito::CognitoDirectory::new(client, pool_id)));
    Ok(state)
}

/// [`run`] for the audit verification route ([`Route::reads_audit_digests`]): the state
/// also holds the digest bucket and the digest key (whose public half it reads).
pub fn run_audit_digests<E: Endpoint>() -> ExitCode {
    host::<E>(|settings, aws| Box::pin(digests_state(settings, aws)))
}

async fn digests_state(settings: &Settings, aws: &Aws) -> Result<AppState, StartupError> {
    let mut state = aws_state::<NoBlobs>(settings, aws).await?;
    state.audit_digests = Some(digest_store(settings, aws)?);
    Ok(state)
}

/// The digest bucket and the KMS key that signs what is kept there.
fn digest_store(settings: &Settings, aws: &Aws) -> Result<shared::audit_digest::DigestStore, StartupError> {
    let digests = settings.audit_digests.clone().ok_or(shared::config::ConfigError::Missing("AUDIT_DIGEST_BUCKET"))?;
    let blobs = Arc::new(S3BlobStore::new(aws_sdk_s3::Client::new(&aws.config), digests.bucket, digests.bucket_kms_key_id));
    let signer = Arc::new(keys_kms::KmsSigner::new(aws_sdk_kms::Client::new(&aws.config), digests.key_arn));
    Ok(shared::audit_digest::DigestStore { blobs, signer })
}

/// The hourly digest job: each invocation digests every hour that is due and not yet
/// digested (`shared::audit_digest::write_digests`), a day's worth per shard at most, and
/// answers with what it did.
pub fn run_digest_audit() -> ExitCode {
    start(|Started { settings, aws, .. }| async move {
        let store = sealed_items(&settings.aws, aws_sdk_dynamodb::Client::new(&aws.config), aws_sdk_kms::Client::new(&aws.config));
        let digests = match digest_store(&settings, &aws) {
            Ok(digests) => digests,
            Err(error) => return configuration_error(&error),
        };
        let handler = lambda_http::service_fn(move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let (store, digests) = (Arc::clone(&store), digests.clone());
            async move {
                let meta =
                    shared::http::RequestMeta { request_id: event.context.request_id.clone(), ..shared::http::RequestMeta::default() };
                let now = time::OffsetDateTime::now_utc();
                let run = digests
                    .write(store.as_ref(), store.audit_keys(), now, shared::audit_digest::PERIODS_PER_RUN, &meta)
                    .await
                    .map_err(|error| lambda_http::Error::from(error.to_string()))?;
                tracing::info!(digests = run.digests, records = run.records, through = ?run.digested_through, stopped_early = run.stopped_early, "audit digests");
                serde_json::to_value(&run).map_err(lambda_http::Error::from)
            }
        });
        serve_events(handler).await
    })
}

/// The daily retention job (`shared::purge`): what is due at each invocation, at most
/// 5,000 items (the rest at the next), and it answers with what it did.
pub fn run_purge() -> ExitCode {
    start(|Started { settings, aws, .. }| async move {
        let store = sealed_items(&settings.aws, aws_sdk_dynamodb::Client::new(&aws.config), aws_sdk_kms::Client::new(&aws.config));
        let blobs = S3Blobs::build(&aws.config, &settings.aws);
        let handler = lambda_http::service_fn(move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let (store, blobs) = (Arc::clone(&store), Arc::clone(&blobs));
            async move {
                let meta =
                    shared::http::RequestMeta { request_id: event.context.request_id.clone(), ..shared::http::RequestMeta::default() };
                let report = shared::purge::purge(store.as_ref(), blobs.as_ref(), time::OffsetDateTime::now_utc(), 5_000, &meta)
                    .await
                    .map_err(|error| lambda_http::Error::from(error.to_string()))?;
                tracing::info!(
                    datasets = report.datasets,
                    forecasts = report.forecasts,
                    files = report.files,
                    complete = report.complete,
                    "purge"
                );
                serde_json::to_value(&report).map_err(lambda_http::Error::from)
            }
        });
        serve_events(handler).await
    })
}

/// The threat detector in AWS: invoked by the audit table's stream with new records (each
/// counted, `shared::detector`), and every five minutes by a schedule; either way it then
/// mirrors the block list into the WAF's IP sets. A record it fails on is reported back
/// (partial batch response), so the stream retries from it.
pub fn run_detect_threats() -> ExitCode {
    start(|Started { settings, aws, .. }| async move {
        let store = sealed_items(&settings.aws, aws_sdk_dynamodb::Client::new(&aws.config), aws_sdk_kms::Client::new(&aws.config));
        let vars: HashMap<String, String> = std::env::vars().collect();
        let set = |name: &str, id: &str| -> Result<waf::IpSet, String> {
            let get = |key: &str| shared::config::var(&vars, key).map(str::to_owned).ok_or_else(|| format!("{key} is not set"));
            Ok(waf::IpSet { name: get(name)?, id: get(id)? })
        };
        let sets = match (set("WAF_IP_SET_V4_NAME", "WAF_IP_SET_V4_ID"), set("WAF_IP_SET_V6_NAME", "WAF_IP_SET_V6_ID")) {
            (Ok(v4), Ok(v6)) => waf::WafIpSets::new(aws_sdk_wafv2::Client::new(&aws.config), v4, v6),
            (Err(error), _) | (_, Err(error)) => return configuration_error(&error),
        };
        let detector = shared::detector::Detector::new(Arc::default());
        let handler = lambda_http::service_fn(move |event: lambda_http::LambdaEvent<serde_json::Value>| {
            let (store, detector, sets) = (Arc::clone(&store), detector.clone(), sets.clone());
            async move { detect(store.as_ref(), &detector, &sets, &event.payload).await }
        });
        serve_events(handler).await
    })
}

/// One invocation of the detector: the stream's new records, then the WAF's sets.
pub async fn detect(
    store: &SealedItems,
    detector: &shared::detector::Detector,
    sets: &waf::WafIpSets,
    event: &serde_json::Value,
) -> Result<serde_json::Value, lambda_http::Error> {
    let mut failures = Vec::new();
    for record in event["Records"].as_array().into_iter().flatten() {
        if record["eventName"] != "INSERT" {
            continue;
        }
        let sequence = record["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned();
        let processed = match store_aws::stream::audit_record_from_image(&record["dynamodb"]["NewImage"]) {
            Ok(audit) => detector.process(store, &audit).await.map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = processed {
            tracing::error!(%error, sequence, "detection failed: the stream retries from this record");
            failures.push(serde_json::json!({"itemIdentifier": sequence}));
            break;
        }
    }
    let (_, list) = shared::blocklist::read(store).await.map_err(|e| lambda_http::Error::from(e.to_string()))?;
    let addresses: Vec<String> = list.active(time::OffsetDateTime::now_utc()).into_iter().map(|entry| entry.ip).collect();
    match sets.sync(&addresses).await {
        Ok(true) => tracing::info!(addresses = addresses.len(), "WAF IP sets updated"),
        Ok(false) => {}
        // The next invocation (at most five minutes on) tries again.
        Err(error) => tracing::error!(%error, "WAF IP sets not updated"),
    }
    Ok(serde_json::json!({"batchItemFailures": failures}))
}

type StateFuture<'a> = std::pin::Pin<Box<dyn Future<Output = Result<AppState, StartupError>> + 'a>>;

fn host<E: Endpoint>(build: impl for<'a> FnOnce(&'a Settings, &'a Aws) -> StateFuture<'a>) -> ExitCode {
    let route: Route = E::ROUTE;
    start(|started| async move {
        let Started { settings, aws, mut steps } = started;
        let state = match build(&settings, &aws).await {
            Ok(state) => Arc::new(state),
            Err(error) => {
                tracing::error!(%error, "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        steps.done("state");
        tracing::info!(route = route.function_name(), stage = %settings.stage, init = %steps, "ready");
        let served = lambda_http::run(service_fn(move |req: Request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, std::convert::Infallible>(serve::<E>(&state, req).await) }
        }))
        .await;
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "runtime stopped");
                ExitCode::FAILURE
            }
        }
    })
}

/// What [`start`] hands a function's `main`.
struct Started {
    settings: Settings,
    aws: Aws,
    steps: InitSteps,
}

/// What every function does first: an async runtime, the settings, logging, the SDK's
/// configuration; then `main`. Each step is timed ([`InitSteps`]).
fn start<F: Future<Output = ExitCode>>(main: impl FnOnce(Started) -> F) -> ExitCode {
    let mut steps = InitSteps::new();
    // One request at a time per instance: a current-thread runtime starts faster.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    steps.done("runtime");
    runtime.block_on(async move {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let settings = Settings::from_vars(&vars);
        let aws = AwsEnv::from_vars(&vars);
        let (settings, aws) = match (settings, aws) {
            (Ok(settings), Ok(aws)) => (settings, aws),
            (Err(error), _) => return configuration_error(&error),
            (_, Err(error)) => return configuration_error(&error),
        };
        steps.done("settings");
        shared::telemetry::init(settings.json_logs);
        steps.done("logging");
        let extra_roots = match aws.extra_roots() {
            Ok(roots) => roots,
            Err(error) => return configuration_error(&error),
        };
        let tls = https::aws_tls(extra_roots);
        let config = aws.sdk_config(https::sdk_http_client(tls.clone()));
        steps.done("sdk");
        main(Started { settings, aws: Aws { config, tls }, steps }).await
    })
}

fn configuration_error(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("configuration error: {error}");
    ExitCode::FAILURE
}
