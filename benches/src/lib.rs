//! Shared set-up for the benchmarks: an embedded-store app state with a local issuer.

use std::sync::Arc;

use shared::AppState;
use shared::audit::AuditDraft;
use shared::auth::Role;
use shared::auth::jwks::KeyCache;
use shared::auth::local::LocalIssuer;
use shared::auth::standing::SecurityRecord;
use shared::config::AuthSettings;
use shared::http::RequestMeta;
use shared::http::cors::CorsPolicy;
use shared::sealed_items::SealedItems;
use store_embedded::FsBlobStore;
use store_embedded::SqliteStore;

/// The user the benchmarks call as: an analyst with an account.
pub const ANALYST: &str = "analyst-1";

/// An app on the embedded store in `dir`, and the issuer whose tokens it accepts; the
/// [`ANALYST`] has an account (a security record), as an invitation would leave it.
pub fn embedded_app(dir: &std::path::Path) -> Result<(AppState, LocalIssuer), Box<dyn std::error::Error>> {
    let issuer = LocalIssuer::ephemeral("http://127.0.0.1:3000".into(), "local-spa".into())?;
    let auth = AuthSettings::for_issuer(issuer.issuer(), issuer.client_id());
    let keys = KeyCache::with_keys(issuer.jwks(), auth.jwks_min_refresh);
    let store = Arc::new(SealedItems::with_local_keys(Arc::new(SqliteStore::open(&dir.join("store.sqlite3"))?), &dir.join("master-keys")));
    let blobs = Arc::new(FsBlobStore::new(dir.join("blobs")));
    let state = AppState::new(auth, keys, store, blobs, CorsPolicy::default())?;
    let record = SecurityRecord::new(Role::Analyst).create(ANALYST)?;
    let audit =
        AuditDraft::new("bench-setup", "user").finish(&RequestMeta { request_id: "bench-setup".into(), ..RequestMeta::default() }, 201);
    tokio::runtime::Builder::new_current_thread().build()?.block_on(state.store.commit(vec![record], &audit))?;
    Ok((state, issuer))
}
