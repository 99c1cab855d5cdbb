//! The AWS SDK's configuration, read from what Lambda puts in a function's environment.
//!
//! The SDK's own loader (`aws-config`) walks a provider chain meant for every place code
//! can run: profile files, SSO, STS web identity, the container and instance metadata
//! endpoints. In Lambda the answer is always in the environment (region, and the execution
//! role's keys for the sandbox's lifetime), so the chain is work and code for nothing at
//! every cold start. This reads those variables and nothing else.

use std::collections::HashMap;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::config::{BehaviorVersion, Region, SharedHttpClient};
use aws_types::SdkConfig;

/// A variable the function cannot start without, or one it cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AwsEnvError {
    #[error("{0} is not set (Lambda sets it for every function)")]
    Missing(&'static str),
    #[error("AWS_CA_BUNDLE: {0}")]
    CaBundle(String),
}

/// What the SDK needs, as read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsEnv {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `AWS_ENDPOINT_URL`: one endpoint for every service (local stand-ins, benchmarks).
    pub endpoint_url: Option<String>,
    /// `AWS_CA_BUNDLE`: a PEM file of extra roots to trust (a local TLS endpoint).
    pub ca_bundle: Option<String>,
}

impl AwsEnv {
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, AwsEnvError> {
        let get = |name: &str| shared::config::var(vars, name).map(str::to_owned);
        let require = |name: &'static str| get(name).ok_or(AwsEnvError::Missing(name));
        Ok(Self {
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).ok_or(AwsEnvError::Missing("AWS_REGION"))?,
            access_key_id: require("AWS_ACCESS_KEY_ID")?,
            secret_access_key: require("AWS_SECRET_ACCESS_KEY")?,
            session_token: get("AWS_SESSION_TOKEN"),
            endpoint_url: get("AWS_ENDPOINT_URL"),
            ca_bundle: get("AWS_CA_BUNDLE"),
        })
    }

    /// The configuration every SDK client of the function is built from, sharing `http`.
    pub fn sdk_config(&self, http: SharedHttpClient) -> SdkConfig {
        let credentials =
            Credentials::new(&self.access_key_id, &self.secret_access_key, self.session_token.clone(), None, "lambda-environment");
        let mut builder = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .http_client(http);
        builder.set_endpoint_url(self.endpoint_url.clone());
        builder.build()
    }

    /// The extra roots of `AWS_CA_BUNDLE`, read once at start, if it is set.
    pub fn extra_roots(&self) -> Result<Option<Vec<u8>>, AwsEnvError> {
        let Some(path) = &self.ca_bundle else { return Ok(None) };
        let pem = std::fs::read(path).map_err(|e| AwsEnvError::CaBundle(format!("{path}: {e}")))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(AwsEnvError::CaBundle(format!("{path} holds no PEM certificate")));
        }
        Ok(Some(pem))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed step fails the test loudly")]
mod tests {
    use super::*;
    use aws_credential_types::provider::ProvideCredentials as _;

    fn lambda_vars() -> HashMap<String, String> {
        [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[tokio::test]
    async fn the_region_and_the_execution_roles_keys_come_from_lambdas_variables() {
        let env = AwsEnv::from_vars(&lambda_vars()).unwrap();
        let config = env.sdk_config(https::sdk_http_client(https::aws_tls(None)));
        assert_eq!(config.region().unwrap().as_ref(), "eu-west-1");
        assert_eq!(config.endpoint_url(), None);
        let credentials = config.credentials_provider().unwrap().provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
    }

    #[test]
    fn a_missing_region_or_key_stops_the_start_naming_the_variable() {
        for (removed, named) in [("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")] {
            let mut vars = lambda_vars();
            vars.remove(removed);
            assert_eq!(AwsEnv::from_vars(&vars), Err(AwsEnvError::Missing(named)));
        }
        let mut vars = lambda_vars();
        vars.remove("AWS_REGION");
        assert_eq!(AwsEnv::from_vars(&vars).unwrap().region, "us-east-1", "AWS_DEFAULT_REGION is the fallback");
        vars.remove("AWS_DEFAULT_REGION");
        assert_eq!(AwsEnv::from_vars(&vars), Err(AwsEnvError::Missing("AWS_REGION")));
    }

    #[test]
    fn an_endpoint_override_and_a_ca_bundle_are_honoured() {
        let dir = tempfile::tempdir().unwrap();
        let mut vars = lambda_vars();
        vars.insert("AWS_ENDPOINT_URL".into(), "https://127.0.0.1:4443".into());
        let bundle = dir.path().join("ca.pem");
        vars.insert("AWS_CA_BUNDLE".into(), bundle.display().to_string());
        let env = AwsEnv::from_vars(&vars).unwrap();
        assert_eq!(env.sdk_config(https::sdk_http_client(https::aws_tls(None))).endpoint_url(), Some("https://127.0.0.1:4443"));

        assert!(matches!(env.extra_roots(), Err(AwsEnvError::CaBundle(m)) if m.contains("ca.pem")), "a missing file is refused");
        std::fs::write(&bundle, "not a certificate").unwrap();
        assert!(matches!(env.extra_roots(), Err(AwsEnvError::CaBundle(m)) if m.contains("no PEM")));
        std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        assert!(env.extra_roots().unwrap().is_some());
        assert_eq!(AwsEnv::from_vars(&lambda_vars()).unwrap().extra_roots(), Ok(None));
    }
}
