//! The AWS stand-in over TLS, as a function sees DynamoDB: a certificate for `localhost`
//! made at start, which the function trusts through `AWS_CA_BUNDLE`, so its first request
//! pays the handshake (key exchange, certificate check) as it does against AWS.

use std::path::Path;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A listener whose connections are TLS, for `axum::serve`.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    /// Binds loopback and writes the certificate to trust to `ca_path` (PEM).
    pub async fn bind(ca_path: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
        std::fs::write(ca_path, certified.cert.pem())?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)?;
        Ok(Self { tcp: TcpListener::bind("127.0.0.1:0").await?, acceptor: TlsAcceptor::from(std::sync::Arc::new(config)) })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else { continue };
            // Without it the session tickets rustls sends after the handshake hold the
            // response back behind Nagle's algorithm until the client's delayed ACK
            // (40 ms on Linux): the stand-in's delay, not the function's.
            if stream.set_nodelay(true).is_err() {
                continue;
            }
            // A failed handshake is that client's problem; keep serving the others.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
