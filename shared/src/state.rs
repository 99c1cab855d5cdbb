//! Everything a handler needs, built once per cold start and shared by every request.

use std::sync::Arc;

use crate::auth::TokenVerifier;
use crate::auth::jwks::KeyCache;
use crate::auth::standing::Standing;
use crate::authz::Authorizer;
use crate::compute::ComputePool;
use crate::config::AuthSettings;
use crate::cursor::CursorKeys;
use crate::domain::csv_table::CsvLimits;
use crate::http::cors::CorsPolicy;
use crate::sealed_items::SealedItems;
use crate::store::BlobStore;
use crate::store::ItemStore;

/// Request body limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON body accepted on any route (API Gateway → Lambda caps at 6 MB).
    pub max_body_bytes: usize,
    /// Largest response body (Lambda caps a synchronous response at 6 MB too).
    pub max_response_bytes: usize,
    pub csv: CsvLimits,
    /// A shorter time budget than the routes' own ([`crate::Route::time_budget`]), if set.
    pub max_request_time: Option<std::time::Duration>,
    /// Requests a user may make per minute (SR-08), by role.
    pub api_rate: ApiRate,
    /// Calls to `/auth/*` an IP address may make per minute (SR-08). Every page load of the
    /// app renews its session there, so this counts page loads per address.
    pub auth_rate_per_ip: u64,
}

/// Requests per minute per user: admins do bulk work (reviews, exports) and get more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRate {
    pub user: u64,
    pub admin: u64,
}

impl Default for ApiRate {
    fn default() -> Self {
        Self { user: 100, admin: 200 }
    }
}

impl ApiRate {
    /// The limit a caller in `role` is counted against.
    pub fn limit(self, role: crate::auth::Role) -> crate::store::rate::RateLimit {
        let max = if role == crate::auth::Role::Admin { self.admin } else { self.user };
        crate::store::rate::RateLimit { name: "api-user", max, window_seconds: 60 }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 6 * 1024 * 1024 - 64 * 1024,
            max_response_bytes: 6_000_000 - 64 * 1024,
            csv: CsvLimits::default(),
            max_request_time: None,
            api_rate: ApiRate::default(),
            auth_rate_per_ip: 30,
        }
    }
}

/// The ports and policies every handler runs against.
#[derive(Debug)]
pub struct AppState {
    pub auth: AuthSettings,
    /// Records sealed at rest as [`crate::records`] declares.
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub authorizer: Authorizer,
    pub verifier: TokenVerifier,
    pub cors: CorsPolicy,
    pub limits: Limits,
    /// Where forecasts, analyses and CSV inspection run.
    pub compute: ComputePool,
    /// The key list cursors are sealed with, loaded on first use.
    pub cursor_keys: CursorKeys,
    /// Users' security records, briefly cached: what every token is checked against.
    pub standing: Standing,
    /// The identity provider's token endpoint, for the session routes (`None` elsewhere).
    pub token_endpoint: Option<std::sync::Arc<dyn crate::session::TokenEndpoint>>,
    /// The user directory, for the user routes and `/v1/me` (`None` elsewhere).
    pub directory: Option<Arc<dyn crate::identity::directory::UserDirectory>>,
    /// The keys audit records are tagged with, to verify them.
    pub audit_keys: Arc<crate::audit_tags::AuditKeys>,
    /// The blocked addresses, briefly cached: checked before every route but `/health`.
    pub blocklist: Arc<crate::blocklist::BlocklistCache>,
    /// The run-time settings, briefly cached.
    pub settings: Arc<crate::runtime_settings::SettingsCache>,
    /// The signed audit digests, for the verification route (`None` elsewhere).
    pub audit_digests: Option<crate::audit_digest::DigestStore>,
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
    Issuer(#[from] crate::auth::local::IssuerError),
    #[error("session endpoint: {0}")]
    Session(String),
}

impl AppState {
    /// Builds the state from its parts (see the `functions` crate for AWS, the local server for
    /// the embedded default). The item store is a [`SealedItems`] by type: no host can hand
    /// the handlers a store that keeps records in clear.
    pub fn new(
        auth: AuthSettings,
        keys: KeyCache,
        store: Arc<SealedItems>,
        blobs: Arc<dyn BlobStore>,
        cors: CorsPolicy,
    ) -> Result<Self, StartupError> {
        Ok(Self {
            verifier: TokenVerifier::new(auth.clone(), keys),
            auth,
            audit_keys: Arc::clone(store.audit_keys()),
            audit_digests: None,
            blocklist: Arc::default(),
            settings: Arc::clone(store.settings_cache()),
            store,
            blobs,
            authorizer: Authorizer::new()?,
            cors,
            limits: Limits::default(),
            compute: ComputePool::inline(),
            cursor_keys: CursorKeys::default(),
            standing: Standing::default(),
            token_endpoint: None,
            directory: None,
        })
    }
}
