//! Outbound HTTPS, on the AWS SDK's own HTTP stack (hyper and rustls on aws-lc), so a
//! binary carries one HTTP client and one TLS implementation, with one trust policy.
//!
//! - [`sdk_http_client`]: the client every SDK client of a function shares.
//! - [`HttpsClient`]: plain requests the SDK doesn't make, the issuer's key set and the
//!   OAuth token endpoint, through the same connector code.
//!
//! Both trust only the roots AWS's endpoints chain to ([`AWS_ROOTS_PEM`], written into
//! the binary by `build.rs`), plus any the deployer adds (`AWS_CA_BUNDLE` in the
//! functions). The SDK's default reads the system's store instead: a directory scan of a
//! few hundred files at every cold start, and every authority in it trusted.

use std::time::Duration;

pub use aws_smithy_http_client::tls::TlsContext;
use aws_smithy_http_client::tls::{Provider, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings, SharedHttpClient};
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt as _;

/// Amazon Trust Services' four roots and the Starfield root that cross-signs them, as PEM.
pub const AWS_ROOTS_PEM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/aws-roots.pem"));

/// TLS settings trusting [`AWS_ROOTS_PEM`] and `extra_roots` (PEM). Certificates are
/// parsed when a connection first needs them, not here.
pub fn aws_tls(extra_roots: Option<Vec<u8>>) -> TlsContext {
    let mut trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS_PEM);
    if let Some(pem) = extra_roots {
        trust.add_pem_certificate(pem);
    }
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => context,
        // Not reachable with a trust store and no extra server names; if it were, the
        // connection still verifies, against the system's store.
        Err(error) => {
            tracing::warn!(%error, "the AWS roots were refused; trusting the system's store");
            TlsContext::default()
        }
    }
}

/// The HTTP client the SDK clients share, on `tls`.
pub fn sdk_http_client(tls: TlsContext) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::AwsLc)).tls_context(tls).build_https()
}

/// A request that did not end in an answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpsError {
    #[error("bad request: {0}")]
    Request(String),
    #[error("{0}")]
    Failed(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
}

/// An answer: its status and its body, read whole (up to the cap the caller set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Plain HTTP(S) requests with a connect timeout and a total one. Redirects are not
/// followed (an answer is what the first server said), and `http://` works too, for
/// loopback stand-ins: callers decide which URLs they accept.
#[derive(Debug)]
pub struct HttpsClient {
    tls: TlsContext,
    connect: Duration,
    total: Duration,
    /// Built at the first request: building it parses the trusted roots, and a function
    /// behind API Gateway's authorizer never fetches a key set.
    connector: std::sync::OnceLock<aws_smithy_http_client::Connector>,
}

impl HttpsClient {
    pub fn new(tls: TlsContext, connect: Duration, total: Duration) -> Self {
        Self { tls, connect, total, connector: std::sync::OnceLock::new() }
    }

    /// Whether a request has been made (and the connection machinery built) yet.
    pub fn connector_built(&self) -> bool {
        self.connector.get().is_some()
    }

    fn connector(&self) -> &aws_smithy_http_client::Connector {
        self.connector.get_or_init(|| {
            let settings = HttpConnectorSettings::builder().connect_timeout(self.connect).read_timeout(self.total).build();
            aws_smithy_http_client::Connector::builder()
                .connector_settings(settings)
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .tls_context(self.tls.clone())
                .build()
        })
    }

    /// Sends `request` and reads the answer's body, refusing one larger than `max_body`.
    pub async fn send(&self, request: http::Request<Vec<u8>>, max_body: usize) -> Result<Answer, HttpsError> {
        let request = request.map(SdkBody::from);
        let request = aws_smithy_runtime_api::http::Request::try_from(request).map_err(|e| HttpsError::Request(e.to_string()))?;
        let exchange = async {
            let response = self.connector().call(request).await.map_err(|e| HttpsError::Failed(describe(&e)))?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            // Read frame by frame and stop at the cap: a hostile or broken server can't
            // make the caller buffer an endless body.
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| HttpsError::Failed(describe(e.as_ref())))?;
                if let Some(data) = frame.data_ref() {
                    if bytes.len() + data.len() > max_body {
                        return Err(HttpsError::TooLarge(max_body));
                    }
                    bytes.extend_from_slice(data);
                }
            }
            Ok(Answer { status, body: bytes })
        };
        tokio::time::timeout(self.total, exchange).await.map_err(|_| HttpsError::TimedOut(self.total))?
    }
}

/// An error and its causes on one line (the connector's own message is often just
/// "io error").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed step fails the test loudly")]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;

    /// Exactly AWS's five roots, each byte for byte the one in Mozilla's list.
    #[test]
    fn the_trusted_roots_are_exactly_those_aws_endpoints_chain_to() {
        let roots: Vec<CertificateDer<'_>> = CertificateDer::pem_slice_iter(AWS_ROOTS_PEM).collect::<Result<_, _>>().unwrap();
        let names = [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ];
        assert_eq!(roots.len(), 5);
        for name in names {
            let holding: Vec<_> = roots.iter().filter(|r| r.as_ref().windows(name.len()).any(|w| w == name.as_bytes())).collect();
            assert_eq!(holding.len(), 1, "{name}");
            assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().any(|c| c.as_ref() == holding[0].as_ref()), "{name}");
        }
    }
}
