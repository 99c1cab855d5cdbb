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

/// Sets the security headers, replacing any value a handler may have set.
pub fn apply(headers: &mut HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.remove(header::SERVER);
}
