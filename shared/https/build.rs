//! Writes the root certificates the functions trust into one PEM bundle at build time, so a
//! cold start neither scans the system's store nor encodes certificates.
//!
//! Only the roots that AWS's endpoints chain to are kept: Amazon Trust Services' four and
//! the Starfield Services G2 root that cross-signs them. Every host a function talks to
//! (DynamoDB, S3, KMS, Cognito, Secrets Manager) presents a certificate from them, so a
//! certificate mis-issued by any other authority is refused too.

#![allow(clippy::expect_used, reason = "a build script fails the build by panicking")]

use std::io::Write as _;

use base64::Engine as _;

/// Common names of the trusted roots, as they appear in each certificate's subject.
const TRUSTED: [&[u8]; 5] = [
    b"Amazon Root CA 1",
    b"Amazon Root CA 2",
    b"Amazon Root CA 3",
    b"Amazon Root CA 4",
    b"Starfield Services Root Certificate Authority - G2",
];

fn main() {
    let mut pem = Vec::new();
    let mut found = 0;
    for certificate in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let der = certificate.as_ref();
        if !TRUSTED.iter().any(|name| der.windows(name.len()).any(|w| w == *name)) {
            continue;
        }
        found += 1;
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        pem.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        pem.extend_from_slice(b"-----END CERTIFICATE-----\n");
    }
    // A root dropped from (or renamed in) Mozilla's list must fail the build, not quietly
    // shrink what the functions trust.
    assert_eq!(found, TRUSTED.len(), "expected {} AWS roots in webpki-root-certs, found {found}", TRUSTED.len());
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("aws-roots.pem");
    std::fs::File::create(out).and_then(|mut f| f.write_all(&pem)).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
