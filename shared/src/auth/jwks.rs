//! The issuer's signing keys, fetched once and cached.
//!
//! An unknown `kid` triggers a refetch (the issuer may have rotated its keys), but at
//! most once per `min_refresh`, so a flood of tokens with random `kid`s cannot turn into
//! a flood of requests to the issuer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

/// A JSON Web Key Set document, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// One public key. Only RSA signing keys are used; others are skipped.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
}

/// Where the key set comes from.
#[async_trait::async_trait]
pub trait JwksSource: Send + Sync + std::fmt::Debug {
    async fn fetch(&self) -> Result<JwkSet, AuthError>;
}

/// Fetches the key set over HTTPS.
#[derive(Debug)]
pub struct HttpJwks {
    url: String,
    client: reqwest::Client,
}

/// A key set larger than this is not a key set.
const MAX_JWKS_BYTES: usize = 64 * 1024;

impl HttpJwks {
    pub fn new(url: String) -> Result<Self, AuthError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| AuthError::KeysUnavailable(e.to_string()))?;
        Ok(Self { url, client })
    }
}

#[async_trait::async_trait]
impl JwksSource for HttpJwks {
    async fn fetch(&self) -> Result<JwkSet, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::KeysUnavailable(e.to_string());
        let response = self.client.get(&self.url).send().await.map_err(unavailable)?.error_for_status().map_err(unavailable)?;
        let bytes = response.bytes().await.map_err(unavailable)?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(AuthError::KeysUnavailable("key set too large".into()));
        }
        serde_json::from_slice(&bytes).map_err(|e| AuthError::KeysUnavailable(format!("key set is not JSON: {e}")))
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

/// Decoding keys by `kid`, refreshed on demand at a bounded rate.
#[derive(Debug)]
pub struct KeyCache {
    source: Box<dyn JwksSource>,
    min_refresh: Duration,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl KeyCache {
    pub fn new(source: Box<dyn JwksSource>, min_refresh: Duration) -> Self {
        Self { source, min_refresh, keys: RwLock::new(HashMap::new()), last_fetch: Mutex::new(None) }
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
        // One refresh at a time; callers queued behind it see its result.
        let mut last_fetch = self.last_fetch.lock().await;
        if let Some(key) = self.keys.read().await.get(kid) {
            return Ok(Arc::clone(key));
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return Err(AuthError::UnknownKey);
        }
        let set = self.source.fetch().await?;
        *last_fetch = Some(Instant::now());
        let fresh = decoding_keys(&set);
        let found = fresh.get(kid).cloned();
        *self.keys.write().await = fresh;
        found.ok_or(AuthError::UnknownKey)
    }
}

fn decoding_keys(set: &JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    set.keys
        .iter()
        .filter(|k| k.kty == "RSA" && k.alg.as_deref().is_none_or(|a| a == "RS256") && k.key_use.as_deref().is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            let kid = k.kid.clone()?;
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((kid, Arc::new(key)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct CountingSource(AtomicUsize);

    #[async_trait::async_trait]
    impl JwksSource for CountingSource {
        async fn fetch(&self) -> Result<JwkSet, AuthError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(JwkSet { keys: vec![] })
        }
    }

    #[tokio::test]
    async fn unknown_kids_refetch_at_most_once_per_interval() {
        let source = Arc::new(CountingSource::default());
        #[derive(Debug)]
        struct Shared(Arc<CountingSource>);
        #[async_trait::async_trait]
        impl JwksSource for Shared {
            async fn fetch(&self) -> Result<JwkSet, AuthError> {
                self.0.fetch().await
            }
        }
        let cache = KeyCache::new(Box::new(Shared(Arc::clone(&source))), Duration::from_secs(3600));
        for i in 0..50 {
            assert_eq!(cache.key(&format!("random-{i}")).await.err(), Some(AuthError::UnknownKey));
        }
        assert_eq!(source.0.load(Ordering::SeqCst), 1);
    }
}
