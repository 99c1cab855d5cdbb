//! The bearer-token verifier on any text: without the issuer's private key nothing can be
//! a valid token, so every input is refused, and none makes it panic.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use auth::jwks::KeyCache;
use auth::local::LocalIssuer;
use auth::{AuthSettings, TokenVerifier};

const ISSUER: &str = "http://127.0.0.1:1";

fn verifier() -> &'static TokenVerifier {
    static VERIFIER: OnceLock<TokenVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let issuer = LocalIssuer::ephemeral(ISSUER.into(), "fuzz-client".into()).expect("an RSA key");
        let keys = KeyCache::with_keys(issuer.jwks(), Duration::from_secs(3600));
        TokenVerifier::new(AuthSettings::for_issuer(ISSUER, "fuzz-client"), keys)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let verdict = futures::executor::block_on(verifier().verify(token));
    assert!(verdict.is_err(), "accepted a token nobody signed: {token:?}");
});
