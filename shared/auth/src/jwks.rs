//! The issuer's signing keys, fetched once and cached.
//!
//! An unknown `kid` triggers a refetch (the issuer may have rotated its keys), but at
//! most once per `min_refresh`, so a flood of tokens with random `kid`s cannot turn into
//! a flood of requests to the issuer. A fetch that fails, hangs until its timeout or
//! serves garbage counts as a fetch too: until the interval has passed, callers get the
//! remembered answer at once instead of each waiting for the dead issuer in turn, and the
//! keys already known stay in use.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, KeyAlgorithm, PublicKeyUse};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

/// Where the key set comes from.
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync + std::fmt::Debug {
    async fn fetch(&self) -> Result<JwkSet, AuthError>;
}

/// Fetches the key set over HTTPS, on the SDK's HTTP stack ([`https::HttpsClient`]: its
/// connection is built at the first fetch, and a function behind API Gateway's authorizer
/// never fetches, the authorizer verified the token).
#[derive(Debug)]
pub struct HttpJwks {
    url: String,
    client: https::HttpsClient,
}

/// A key set larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 64 * 1024;

impl HttpJwks {
    /// Trusting `tls`; gives up after 2 s connecting and 3 s in all: an unknown `kid`
    /// waits at most that long, once per refresh interval.
    pub fn new(url: String, tls: https::TlsContext) -> Self {
        Self::with_timeouts(url, tls, Duration::from_secs(2), Duration::from_secs(3))
    }

    pub fn with_timeouts(url: String, tls: https::TlsContext, connect: Duration, total: Duration) -> Self {
        Self { url, client: https::HttpsClient::new(tls, connect, total) }
    }
}

#[async_trait::async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |e: &dyn std::fmt::Display| AuthError::KeysUnavailable(e.to_string());
        let request = http::Request::get(&self.url).header("accept", "application/json").body(Vec::new()).map_err(|e| unavailable(&e))?;
        let answer = self.client.send(request, MAX_JWKS_BYTES).await.map_err(|e| match e {
            https::HttpsError::TooLarge(_) => AuthError::KeysUnavailable("key set too large".into()),
            other => unavailable(&other),
        })?;
        if answer.status != 200 {
            return Err(AuthError::KeysUnavailable(format!("the issuer answered {} for its key set", answer.status)));
        }
        serde_json::from_slice(&answer.body).map_err(|e| AuthError::KeysUnavailable(format!("key set is not a JWK set: {e}")))
    }
}

/// A key set held in memory (the local identity provider's own keys).
#[derive(Debug)]
pub struct StaticJwks(pub Arc<RwLock<JwkSet>>);

#[async_trait::async_trait]
impl JwksSource for StaticJwks {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        Ok(self.0.read().await.clone())
    }
}

/// The last fetch: when it started, and why it failed if it did.
#[derive(Debug, Default)]
struct LastFetch {
    at: Option<Instant>,
    failure: Option<String>,
}

/// Decoding keys by `kid`, refreshed on demand at a bounded rate.
#[derive(Debug)]
pub struct KeyCache {
    source: Box<dyn JwksSource>,
    min_refresh: Duration,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_fetch: Mutex<LastFetch>,
}

impl KeyCache {
    pub fn new(source: Box<dyn JwksSource>, min_refresh: Duration) -> Self {
        Self { source, min_refresh, keys: RwLock::new(HashMap::new()), last_fetch: Mutex::new(LastFetch::default()) }
    }

    /// A cache over a fixed key set held in memory (the local issuer's own keys).
    pub fn with_keys(set: JwkSet, min_refresh: Duration) -> Self {
        Self::new(Box::new(StaticJwks(Arc::new(RwLock::new(set)))), min_refresh)
    }

    /// The key for `kid`, fetching the key set if it is not known yet and the last fetch
    /// is old enough.
    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Arc::clone(key));
        }
        // One fetch at a time; callers queued behind it see its result.
        let mut last = self.last_fetch.lock().await;
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Arc::clone(key));
        }
        if last.at.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(match &last.failure {
                Some(cause) => AuthError::KeysUnavailable(format!("last key set fetch failed: {cause}")),
                None => AuthError::UnknownKey,
            });
        }
        // INVARIANT: the attempt is recorded before it is made, so a fetch that fails or
        // hangs still counts against the interval.
        last.at = Some(Instant::now());
        let outcome = self.source.fetch().await.and_then(|set| {
            let fresh = decoding_keys(&set);
            // A set with no usable key is a broken answer, not a rotation to nothing.
            if fresh.is_empty() { Err(AuthError::KeysUnavailable("key set holds no RS256 signing key".into())) } else { Ok(fresh) }
        });
        match outcome {
            Ok(fresh) => {
                last.failure = None;
                let found = fresh.get(kid).cloned();
                *self.keys.write().await = fresh;
                found.ok_or(AuthError::UnknownKey)
            }
            Err(error) => {
                last.failure = Some(error.to_string());
                Err(error)
            }
        }
    }
}

/// The RS256 signature keys of a set, by `kid`; keys of other types, algorithms or uses
/// (an `oct` key could otherwise become an HMAC secret) are left out.
fn decoding_keys(set: &JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    set.keys
        .iter()
        .filter(|k| matches!(k.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|k| k.common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::RS256))
        .filter(|k| k.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature))
        .filter_map(|k| Some((k.common.key_id.clone()?, Arc::new(DecodingKey::from_jwk(k).ok()?))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalIssuer;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// No TLS client (and no parse of the trusted roots) until a key set is needed: a
    /// function behind the authorizer never needs one.
    #[tokio::test]
    async fn the_https_client_is_built_at_the_first_fetch_not_at_start() {
        let source = HttpJwks::with_timeouts(
            "https://127.0.0.1:9/jwks.json".into(),
            https::aws_tls(None),
            Duration::from_millis(100),
            Duration::from_millis(200),
        );
        assert!(!source.client.connector_built(), "built at start");
        assert!(matches!(source.fetch().await, Err(AuthError::KeysUnavailable(_))), "nothing listens on port 9");
        assert!(source.client.connector_built(), "the fetch needed it");
    }

    /// Serves a fixed set and counts fetches.
    #[derive(Debug)]
    struct CountingSource(JwkSet, Arc<AtomicUsize>);

    #[async_trait::async_trait]
    impl JwksSource for CountingSource {
        async fn fetch(&self) -> Result<JwkSet, AuthError> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Ok(self.0.clone())
        }
    }

    fn issuer_keys() -> JwkSet {
        LocalIssuer::ephemeral("http://127.0.0.1:1".into(), "c".into()).unwrap().jwks()
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let fetches = Arc::new(AtomicUsize::new(0));
        let cache = KeyCache::new(Box::new(CountingSource(issuer_keys(), Arc::clone(&fetches))), Duration::from_secs(3600));
        for i in 0..50 {
            assert_eq!(cache.key(&format!("random-{i}")).await.err(), Some(AuthError::UnknownKey));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_set_without_usable_keys_is_a_failure_and_keeps_the_known_keys() {
        let keys = issuer_keys();
        let kid = keys.keys[0].common.key_id.clone().unwrap();
        let mut useless = keys.clone();
        useless.keys[0].common.key_algorithm = Some(KeyAlgorithm::RS512);
        let cache = KeyCache::new(Box::new(CountingSource(keys, Arc::new(AtomicUsize::new(0)))), Duration::ZERO);
        assert!(cache.key(&kid).await.is_ok());
        let broken = KeyCache::new(Box::new(CountingSource(useless, Arc::new(AtomicUsize::new(0)))), Duration::ZERO);
        assert!(matches!(broken.key(&kid).await, Err(AuthError::KeysUnavailable(_))));
    }
}
