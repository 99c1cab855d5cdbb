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
#[allow(clippy::unwrap_used, clippy::panic, reason = "test code: a failed step fails the test loudly")]
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

    /// A loopback HTTPS server for `localhost` whose certificate a fresh authority
    /// signed: it answers each connection `200 ok`. Returns its URL and the
    /// authority's certificate (PEM).
    async fn server() -> (String, Vec<u8>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Each authority has a name of its own, so a certificate's issuer is found only
        // among the roots it really chains to.
        let mut authority = rcgen::CertificateParams::new(Vec::new()).unwrap();
        authority.distinguished_name.push(rcgen::DnType::CommonName, format!("test authority {port}"));
        authority.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let authority_key = rcgen::KeyPair::generate().unwrap();
        let authority_pem = authority.self_signed(&authority_key).unwrap().pem();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &rcgen::Issuer::from_params(&authority, &authority_key))
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake here.
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut request = Vec::new();
                    let mut chunk = [0_u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (format!("https://localhost:{port}/keys"), authority_pem.into_bytes())
    }

    fn get(url: &str) -> http::Request<Vec<u8>> {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    fn client(extra_roots: Option<Vec<u8>>) -> HttpsClient {
        HttpsClient::new(aws_tls(extra_roots), Duration::from_secs(2), Duration::from_secs(3))
    }

    #[tokio::test]
    async fn a_server_whose_authority_was_added_is_answered() {
        let (url, authority) = server().await;
        let answer = client(Some(authority)).send(get(&url), 1024).await.unwrap();
        assert_eq!(answer, Answer { status: 200, body: b"ok".to_vec() });
    }

    /// The system's store is not consulted, and a root the deployer added for one
    /// authority doesn't vouch for another's certificates.
    #[tokio::test]
    async fn a_server_chaining_to_no_trusted_root_is_refused() {
        let (url, _) = server().await;
        let (_, other_authority) = server().await;
        for roots in [None, Some(other_authority)] {
            let added = roots.is_some();
            let error = client(roots).send(get(&url), 1024).await.unwrap_err();
            let HttpsError::Failed(message) = error else { panic!("added root {added}: {error:?}") };
            assert!(message.contains("UnknownIssuer"), "added root {added}: {message}");
        }
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused() {
        let (url, authority) = server().await;
        assert_eq!(client(Some(authority)).send(get(&url), 1).await, Err(HttpsError::TooLarge(1)));
    }
}
