//! Shared set-up for the benchmarks: an embedded-store app state with a local issuer.

use std::sync::Arc;

use shared::AppState;
use shared::auth::jwks::KeyCache;
use shared::auth::local::LocalIssuer;
use shared::config::AuthSettings;
use shared::http::cors::CorsPolicy;
use store_embedded::FsBlobStore;
use store_embedded::SqliteStore;

/// An app on the embedded store in `dir`, and the issuer whose tokens it accepts.
pub fn embedded_app(dir: &std::path::Path) -> Result<(AppState, LocalIssuer), Box<dyn std::error::Error>> {
    let issuer = LocalIssuer::ephemeral("http://127.0.0.1:3000".into(), "local-spa".into())?;
    let auth = AuthSettings::for_issuer(issuer.issuer(), issuer.client_id());
    let keys = KeyCache::with_keys(issuer.jwks(), auth.jwks_min_refresh);
    let store = Arc::new(SqliteStore::open(&dir.join("store.sqlite3"))?);
    let blobs = Arc::new(FsBlobStore::new(dir.join("blobs")));
    Ok((AppState::new(auth, keys, store, blobs, CorsPolicy::default())?, issuer))
}
