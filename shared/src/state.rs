//! Everything a handler needs, built once per cold start and shared by every request.

use std::sync::Arc;

use crate::auth::TokenVerifier;
use crate::auth::jwks::{HttpJwks, KeyCache};
use crate::authz::Authorizer;
use crate::blob::BlobStore;
use crate::blob::fs::FsBlobStore;
use crate::blob::s3::S3BlobStore;
use crate::config::{AuthSettings, Backend, Settings};
use crate::domain::csv_table::CsvLimits;
use crate::http::cors::CorsPolicy;
use crate::store::ItemStore;
use crate::store::dynamodb::DynamoStore;
use crate::store::sqlite::SqliteStore;

/// Request body limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON body accepted on any route (API Gateway → Lambda caps at 6 MB).
    pub max_body_bytes: usize,
    pub csv: CsvLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_body_bytes: 6 * 1024 * 1024 - 64 * 1024, csv: CsvLimits::default() }
    }
}

/// The ports and policies every handler runs against.
#[derive(Debug)]
pub struct AppState {
    pub auth: AuthSettings,
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub authorizer: Authorizer,
    pub verifier: TokenVerifier,
    pub cors: CorsPolicy,
    pub limits: Limits,
}

/// Start-up failed; the function cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Authz(#[from] crate::authz::AuthzError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Issuer(#[from] crate::identity::local::IssuerError),
}

impl AppState {
    /// Builds the state a deployed function or the embedded default needs.
    pub async fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let (store, blobs): (Arc<dyn ItemStore>, Arc<dyn BlobStore>) = match &settings.backend {
            Backend::Aws(aws) => {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let dynamodb = aws_sdk_dynamodb::Client::new(&config);
                let s3 = aws_sdk_s3::Client::new(&config);
                (
                    Arc::new(DynamoStore::new(dynamodb, aws.table_name.clone(), aws.audit_table_name.clone())),
                    Arc::new(S3BlobStore::new(s3, aws.bucket_name.clone(), aws.bucket_kms_key_id.clone())),
                )
            }
            Backend::Embedded { data_dir } => {
                (Arc::new(SqliteStore::open(&data_dir.join("store.sqlite3"))?), Arc::new(FsBlobStore::new(data_dir.join("blobs"))))
            }
        };
        let keys = KeyCache::new(Box::new(HttpJwks::new(settings.auth.jwks_url.clone())?), settings.auth.jwks_min_refresh);
        Self::new(settings.auth.clone(), keys, store, blobs, CorsPolicy::new(settings.cors_allowed_origins.clone()))
    }

    /// Builds the state from explicit parts (local server, tests).
    pub fn new(
        auth: AuthSettings,
        keys: KeyCache,
        store: Arc<dyn ItemStore>,
        blobs: Arc<dyn BlobStore>,
        cors: CorsPolicy,
    ) -> Result<Self, StartupError> {
        Ok(Self {
            verifier: TokenVerifier::new(auth.clone(), keys),
            auth,
            store,
            blobs,
            authorizer: Authorizer::new()?,
            cors,
            limits: Limits::default(),
        })
    }
}
