//! Typed settings, read once from the environment at cold start.
//!
//! This is the only module that reads environment variables. Everything else takes a
//! [`Settings`] (or a part of it), so tests build settings from a map instead.

use std::collections::HashMap;
use std::time::Duration;

use url::{Host, Url};

/// Names of the AWS resources a function talks to, as set in `template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub table_name: String,
    pub audit_table_name: String,
    pub bucket_name: String,
    /// KMS key used for S3 server-side encryption of dataset blobs (the dataset-content key).
    pub bucket_kms_key_id: String,
    /// KMS key that wraps the data keys of fields encrypted in the application.
    pub personal_data_key_id: String,
    /// Key ARNs that wrapped them before (a replaced key), still accepted for unwrapping
    /// until every record is re-sealed (`PERSONAL_DATA_RETIRED_KEY_IDS`, comma-separated).
    pub personal_data_retired_key_ids: Vec<String>,
    /// KMS key that wraps the keys audit records are tagged with (SR-19).
    pub audit_integrity_key_id: String,
}

pub use auth::AuthSettings;

/// Everything a Lambda function needs to build its [`crate::state::AppState`]. (The local
/// server builds its state from its command line instead.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Deployment stage name (`dev`, `prod`, `local`), used in logs only.
    pub stage: String,
    pub aws: AwsSettings,
    pub auth: AuthSettings,
    /// Browser origins allowed by CORS. Empty means no cross-origin access.
    pub cors_allowed_origins: Vec<String>,
    /// Emit JSON logs (Lambda) rather than human-readable ones (local).
    pub json_logs: bool,
    /// How the session routes reach the identity provider; set for those functions only.
    pub session: Option<SessionSettings>,
    /// The Cognito user pool the user routes manage (`USER_POOL_ID`); set for those only.
    pub user_pool_id: Option<String>,
    /// Where the signed audit digests are kept; set for the digest job and the verification
    /// route only.
    pub audit_digests: Option<DigestSettings>,
}

/// The audit digests' bucket and the KMS key that signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSettings {
    /// `AUDIT_DIGEST_BUCKET`.
    pub bucket: String,
    /// `AUDIT_DIGEST_KEY_ARN`: the asymmetric key's ARN (what signatures name).
    pub key_arn: String,
    /// `AUDIT_DIGEST_BUCKET_KEY_ID`: the KMS key the bucket encrypts objects with.
    pub bucket_kms_key_id: String,
}

/// The token-mediating backend's client at the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// The IdP's token endpoint (Cognito: `https://<domain>/oauth2/token`).
    pub token_url: String,
    /// Its revocation endpoint (Cognito: `https://<domain>/oauth2/revoke`).
    pub revoke_url: String,
    pub client_id: String,
    /// The Secrets Manager secret holding the client secret: never the secret itself.
    pub client_secret_arn: String,
}

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable `{0}` is required")]
    Missing(&'static str),
    #[error("environment variable `{name}` is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    /// Reads the process environment. Call once per cold start.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// Reads settings from a map of variables (the environment, or a test's map).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| var(vars, name);
        let require = |name: &'static str| get(name).map(str::to_owned).ok_or(ConfigError::Missing(name));

        let aws = AwsSettings {
            table_name: require("TABLE_NAME")?,
            audit_table_name: require("AUDIT_TABLE_NAME")?,
            bucket_name: require("BUCKET_NAME")?,
            bucket_kms_key_id: require("BUCKET_KMS_KEY_ID")?,
            personal_data_key_id: require("PERSONAL_DATA_KEY_ID")?,
            personal_data_retired_key_ids: get("PERSONAL_DATA_RETIRED_KEY_IDS").map(split_list).unwrap_or_default(),
            audit_integrity_key_id: require("AUDIT_INTEGRITY_KEY_ID")?,
        };

        let issuer = require("AUTH_ISSUER")?;
        secure_url("AUTH_ISSUER", &issuer)?;
        let jwks_url =
            get("AUTH_JWKS_URL").map_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')), str::to_owned);
        secure_url("AUTH_JWKS_URL", &jwks_url)?;
        let client_ids = split_list(&require("AUTH_CLIENT_IDS")?);
        if client_ids.is_empty() {
            return Err(ConfigError::Invalid { name: "AUTH_CLIENT_IDS", reason: "names no client".into() });
        }
        let leeway =
            Duration::from_secs(parse_u64(get("AUTH_LEEWAY_SECONDS"), "AUTH_LEEWAY_SECONDS", auth::settings::DEFAULT_LEEWAY_SECONDS)?);
        let jwks_min_refresh = Duration::from_secs(parse_u64(
            get("AUTH_JWKS_MIN_REFRESH_SECONDS"),
            "AUTH_JWKS_MIN_REFRESH_SECONDS",
            auth::settings::DEFAULT_JWKS_MIN_REFRESH_SECONDS,
        )?);

        let cors_allowed_origins = get("CORS_ALLOWED_ORIGINS")
            .map(split_list)
            .unwrap_or_default()
            .iter()
            .map(|origin| parse_origin(origin).map_err(|reason| ConfigError::Invalid { name: "CORS_ALLOWED_ORIGINS", reason }))
            .collect::<Result<Vec<_>, _>>()?;

        let session = match get("AUTH_TOKEN_URL") {
            None => None,
            Some(token_url) => {
                secure_url("AUTH_TOKEN_URL", token_url)?;
                let revoke_url = require("AUTH_REVOKE_URL")?;
                secure_url("AUTH_REVOKE_URL", &revoke_url)?;
                Some(SessionSettings {
                    token_url: token_url.to_owned(),
                    revoke_url,
                    client_id: require("AUTH_BACKEND_CLIENT_ID")?,
                    client_secret_arn: require("AUTH_BACKEND_CLIENT_SECRET_ARN")?,
                })
            }
        };

        let audit_digests = match get("AUDIT_DIGEST_BUCKET") {
            None => None,
            Some(bucket) => Some(DigestSettings {
                bucket: bucket.to_owned(),
                key_arn: require("AUDIT_DIGEST_KEY_ARN")?,
                bucket_kms_key_id: require("AUDIT_DIGEST_BUCKET_KEY_ID")?,
            }),
        };

        Ok(Self {
            session,
            audit_digests,
            user_pool_id: get("USER_POOL_ID").map(str::to_owned),
            stage: get("STAGE").unwrap_or("dev").to_owned(),
            aws,
            auth: AuthSettings { issuer, jwks_url, client_ids, leeway, jwks_min_refresh },
            cors_allowed_origins,
            json_logs: get("LOG_FORMAT").map_or_else(|| vars.contains_key("AWS_LAMBDA_FUNCTION_NAME"), |f| f == "json"),
        })
    }
}

/// Whether `url` is safe to trust: `https`, or plain `http` on a loopback host only
/// (`localhost`, 127.0.0.0/8, `::1`). The host is compared after parsing, so look-alikes
/// such as `http://localhost.evil.example` or `http://127.0.0.1@evil.example` are not
/// loopback.
fn secure_or_loopback(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(Host::Domain(domain)) => domain == "localhost",
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// Checks a URL the service fetches from or trusts tokens from (issuer, key set).
fn secure_url(name: &'static str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid { name, reason: format!("`{value}` {reason}") };
    let url = Url::parse(value).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !secure_or_loopback(&url) {
        return Err(invalid("must be an https URL (plain http only on a loopback host)"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not carry credentials, a query or a fragment"));
    }
    Ok(())
}

/// Parses a browser origin for the CORS allow-list: `https://host[:port]`, or plain `http`
/// on a loopback host, written exactly as a browser sends it in `Origin` (lowercase host,
/// no default port, no path), because origins are compared as exact strings.
pub fn parse_origin(value: &str) -> Result<String, String> {
    let url = Url::parse(value).map_err(|e| format!("`{value}` is not an origin ({e})"))?;
    if !secure_or_loopback(&url) {
        return Err(format!("`{value}` is not an https origin (plain http only on a loopback host)"));
    }
    let bare =
        url.username().is_empty() && url.password().is_none() && url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let canonical = url.origin().ascii_serialization();
    if !bare || canonical != value.trim_end_matches('/') {
        return Err(format!("`{value}` is not an origin; write it as `{canonical}`"));
    }
    Ok(canonical)
}

/// A variable's value, trimmed; one set to blank counts as unset. Every host reads its
/// settings through this one rule.
pub fn var<'v>(vars: &'v HashMap<String, String>, name: &str) -> Option<&'v str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn parse_u64(value: Option<&str>, name: &'static str, default: u64) -> Result<u64, ConfigError> {
    value.map_or(Ok(default), |v| v.parse().map_err(|_| ConfigError::Invalid { name, reason: format!("`{v}` is not a whole number") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn aws_vars() -> Vec<(&'static str, &'static str)> {
        vec![
            ("TABLE_NAME", "items"),
            ("AUDIT_TABLE_NAME", "audit"),
            ("BUCKET_NAME", "bucket"),
            ("BUCKET_KMS_KEY_ID", "alias/data"),
            ("PERSONAL_DATA_KEY_ID", "alias/personal"),
            ("AUDIT_INTEGRITY_KEY_ID", "alias/audit"),
            ("AUTH_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"),
            ("AUTH_CLIENT_IDS", "client-a, client-b"),
        ]
    }

    #[test]
    fn resource_names_are_read_and_the_jwks_url_is_derived() {
        let settings = Settings::from_vars(&vars(&aws_vars())).unwrap();
        assert_eq!(settings.aws.table_name, "items");
        assert_eq!(settings.aws.personal_data_key_id, "alias/personal");
        assert!(settings.aws.personal_data_retired_key_ids.is_empty());
        let mut retired = aws_vars();
        retired.push(("PERSONAL_DATA_RETIRED_KEY_IDS", "arn:aws:kms:eu-west-1:1:key/a, arn:aws:kms:eu-west-1:1:key/b"));
        let settings = Settings::from_vars(&vars(&retired)).unwrap();
        assert_eq!(settings.aws.personal_data_retired_key_ids, ["arn:aws:kms:eu-west-1:1:key/a", "arn:aws:kms:eu-west-1:1:key/b"]);
        assert_eq!(settings.auth.jwks_url, "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json");
        assert_eq!(settings.auth.client_ids, ["client-a", "client-b"]);
        assert!(!settings.json_logs);
    }

    #[test]
    fn digest_settings_come_whole_or_not_at_all() {
        assert_eq!(Settings::from_vars(&vars(&aws_vars())).unwrap().audit_digests, None);
        let mut pairs = aws_vars();
        pairs.push(("AUDIT_DIGEST_BUCKET", "digests"));
        assert_eq!(Settings::from_vars(&vars(&pairs)).unwrap_err(), ConfigError::Missing("AUDIT_DIGEST_KEY_ARN"));
        pairs.push(("AUDIT_DIGEST_KEY_ARN", "arn:aws:kms:eu-west-1:1:key/d"));
        pairs.push(("AUDIT_DIGEST_BUCKET_KEY_ID", "arn:aws:kms:eu-west-1:1:key/a"));
        let digests = Settings::from_vars(&vars(&pairs)).unwrap().audit_digests.unwrap();
        assert_eq!((digests.bucket.as_str(), digests.key_arn.as_str()), ("digests", "arn:aws:kms:eu-west-1:1:key/d"));
    }

    #[test]
    fn a_missing_table_name_is_reported_by_name() {
        let mut pairs = aws_vars();
        pairs.retain(|(k, _)| *k != "TABLE_NAME");
        assert_eq!(Settings::from_vars(&vars(&pairs)), Err(ConfigError::Missing("TABLE_NAME")));
    }

    /// Hosts that start like loopback but are not, or hide another host.
    const LOOKALIKES: [&str; 8] = [
        "http://localhost.evil.example",
        "http://localhost.evil.example:3000",
        "http://127.0.0.1.evil.example",
        "http://127.0.0.1@evil.example",
        "http://localhost@evil.example",
        "http://localhostevil.example",
        "http://10.0.0.1",
        "http://[::ffff:8.8.8.8]",
    ];

    fn with(name: &'static str, value: &str) -> HashMap<String, String> {
        let mut map = vars(&aws_vars());
        map.insert(name.into(), value.into());
        map
    }

    fn refused(name: &'static str, value: &str) -> bool {
        matches!(Settings::from_vars(&with(name, value)), Err(ConfigError::Invalid { name: n, .. }) if n == name)
    }

    #[test]
    fn wildcard_plain_http_and_lookalike_cors_origins_are_refused() {
        for origin in ["*", "null", "http://evil.example", "ftp://app.example", "https://", "app.example"].into_iter().chain(LOOKALIKES) {
            assert!(refused("CORS_ALLOWED_ORIGINS", origin), "{origin}");
        }
    }

    #[test]
    fn origins_must_be_written_as_browsers_send_them() {
        for (given, canonical) in [
            ("https://App.Example", "https://app.example"),
            ("https://app.example:443", "https://app.example"),
            ("https://app.example/path", "https://app.example"),
            ("https://user@app.example", "https://app.example"),
        ] {
            let error = parse_origin(given).unwrap_err();
            assert!(error.contains(&format!("write it as `{canonical}`")), "{given}: {error}");
        }
        for (given, stored) in [
            ("https://app.example", "https://app.example"),
            ("https://app.example/", "https://app.example"),
            ("https://app.example:8443", "https://app.example:8443"),
            ("http://localhost:5173", "http://localhost:5173"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.1.2.3", "http://127.1.2.3"),
            ("http://[::1]:3000", "http://[::1]:3000"),
        ] {
            assert_eq!(parse_origin(given).as_deref(), Ok(stored), "{given}");
        }
        let settings = Settings::from_vars(&with("CORS_ALLOWED_ORIGINS", "https://a.example/, http://localhost:5173")).unwrap();
        assert_eq!(settings.cors_allowed_origins, ["https://a.example", "http://localhost:5173"]);
    }

    #[test]
    fn a_plain_http_issuer_or_key_set_is_refused_unless_on_a_loopback_host() {
        for issuer in ["http://issuer.example", "https://issuer.example?x=1", "https://user:pw@issuer.example", "not a url"]
            .into_iter()
            .chain(LOOKALIKES)
        {
            assert!(refused("AUTH_ISSUER", issuer), "{issuer}");
            assert!(refused("AUTH_JWKS_URL", issuer), "{issuer}");
        }
        for issuer in ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000"] {
            assert!(Settings::from_vars(&with("AUTH_ISSUER", issuer)).is_ok(), "{issuer}");
        }
    }
}
