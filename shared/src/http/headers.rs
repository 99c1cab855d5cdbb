//! Security headers added to every response, errors included (SR-31).

use lambda_http::http::{HeaderMap, HeaderValue, header};

/// Header name/value pairs that every response carries.
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    // An API never serves documents to render: forbid everything.
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The web app's policy: its own scripts, styles and API only; no inline code, no `eval`,
/// no HTML built from strings (Trusted Types with no policy), no framing. The local server
/// sends it with the app, and CloudFront's response-headers policy in `template.yaml` sends
/// the same (a test ties the two).
pub const WEB_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// What the web app's documents carry besides the policy (HSTS only matters over HTTPS).
pub const WEB_HEADERS: [(&str, &str); 7] = [
    ("strict-transport-security", "max-age=31536000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
];

/// Sets the security headers, replacing any value a handler may have set.
pub fn apply(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.remove(header::SERVER);
}
