//! The token-mediating backend's side of the identity provider (SR-02, SR-04): a
//! confidential client that exchanges the SPA's code and verifier for tokens, refreshes
//! and revokes, at the IdP's token and revocation endpoints (Cognito's domain in AWS, the
//! local identity provider locally). The refresh token it gets never leaves the backend
//! but in the `__Host-` cookie the `/auth/*` routes set.

use std::sync::Arc;
use std::time::Duration;

/// What the identity provider answered a grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
    /// A new refresh token (always on a code; on a refresh when the IdP rotates them).
    pub refresh_token: Option<String>,
    pub expires_in: u64,
}

/// Why the identity provider did not give tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The code, verifier or refresh token was refused (`invalid_grant`): the client's fault.
    #[error("the identity provider refused the grant")]
    Refused,
    /// The endpoint could not be reached, refused our client, or answered nonsense.
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
}

/// The identity provider's token and revocation endpoints, as the backend client.
#[async_trait::async_trait]
pub trait TokenEndpoint: Send + Sync + std::fmt::Debug {
    async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<Tokens, EndpointError>;
    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, EndpointError>;
    /// Revokes a refresh token and its sign-in; an unknown one is no error (RFC 7009).
    async fn revoke(&self, refresh_token: &str) -> Result<(), EndpointError>;
}

/// Where the backend client's secret comes from: Secrets Manager in AWS, a 0600 file
/// locally. Read when needed, so a rotated secret is picked up.
#[async_trait::async_trait]
pub trait ClientSecret: Send + Sync + std::fmt::Debug {
    async fn get(&self) -> Result<String, EndpointError>;
}

/// A secret in a file only its owner may read.
#[derive(Debug)]
pub struct FileSecret(pub std::path::PathBuf);

#[async_trait::async_trait]
impl ClientSecret for FileSecret {
    async fn get(&self) -> Result<String, EndpointError> {
        crate::auth::private_file::check(&self.0).map_err(EndpointError::Unavailable)?;
        let text = tokio::fs::read_to_string(&self.0).await.map_err(|e| EndpointError::Unavailable(e.to_string()))?;
        Ok(text.trim().to_owned())
    }
}

/// The answer bodies read at most (a token response is a few KiB).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The endpoints over HTTPS (or loopback HTTP locally) with `client_secret_basic`, on the
/// SDK's HTTP stack ([`https::HttpsClient`]).
#[derive(Debug)]
pub struct HttpTokenEndpoint {
    token_url: String,
    revoke_url: String,
    client_id: String,
    secret: Arc<dyn ClientSecret>,
    client: https::HttpsClient,
}

impl HttpTokenEndpoint {
    /// Trusting `tls`; gives up after 2 s connecting and 5 s in all.
    pub fn new(token_url: String, revoke_url: String, client_id: String, secret: Arc<dyn ClientSecret>, tls: https::TlsContext) -> Self {
        let client = https::HttpsClient::new(tls, Duration::from_secs(2), Duration::from_secs(5));
        Self { token_url, revoke_url, client_id, secret, client }
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Vec<u8>), EndpointError> {
        let unavailable = |e: &dyn std::fmt::Display| EndpointError::Unavailable(e.to_string());
        let secret = self.secret.get().await?;
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        // RFC 6749 section 2.3.1: the id and secret are form-encoded inside Basic.
        let encode = |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
        let credentials = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(&self.client_id), encode(&secret)))
        };
        let request = lambda_http::http::Request::post(url)
            .header("authorization", format!("Basic {credentials}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body.into_bytes())
            .map_err(|e| unavailable(&e))?;
        let answer = self.client.send(request, MAX_ANSWER_BYTES).await.map_err(|e| match e {
            https::HttpsError::TooLarge(_) => EndpointError::Unavailable("identity provider answer too large".into()),
            other => unavailable(&other),
        })?;
        Ok((answer.status, answer.body))
    }

    async fn grant(&self, form: &[(&str, &str)]) -> Result<Tokens, EndpointError> {
        let (status, body) = self.post(&self.token_url, form).await?;
        match status {
            200 => serde_json::from_slice(&body).map_err(|e| EndpointError::Unavailable(format!("token answer does not read: {e}"))),
            400 if oauth_error(&body).as_deref() == Some("invalid_grant") => Err(EndpointError::Refused),
            other => Err(EndpointError::Unavailable(format!("token endpoint answered {other} {}", oauth_error(&body).unwrap_or_default()))),
        }
    }
}

/// The `error` of an OAuth error answer.
fn oauth_error(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body).ok()?.get("error")?.as_str().map(str::to_owned)
}

#[async_trait::async_trait]
impl TokenEndpoint for HttpTokenEndpoint {
    async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<Tokens, EndpointError> {
        self.grant(&[("grant_type", "authorization_code"), ("code", code), ("code_verifier", verifier), ("redirect_uri", redirect_uri)])
            .await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, EndpointError> {
        self.grant(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    async fn revoke(&self, refresh_token: &str) -> Result<(), EndpointError> {
        let (status, body) = self.post(&self.revoke_url, &[("token", refresh_token)]).await?;
        match status {
            200 => Ok(()),
            other => {
                Err(EndpointError::Unavailable(format!("revocation endpoint answered {other} {}", oauth_error(&body).unwrap_or_default())))
            }
        }
    }
}
