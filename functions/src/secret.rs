//! The token backend's client secret from Secrets Manager (SR-37): read on first use and
//! kept at most [`MAX_AGE`], so a rotated secret reaches every instance within that time.

use std::time::{Duration, Instant};

use shared::session::{ClientSecret, EndpointError};
use tokio::sync::Mutex;

/// How long a read secret is reused.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// A secret's current value in Secrets Manager.
#[derive(Debug)]
pub struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    cached: Mutex<Option<(Instant, String)>>,
}

impl SecretsManagerSecret {
    pub fn new(client: aws_sdk_secretsmanager::Client, arn: String) -> Self {
        Self { client, arn, cached: Mutex::new(None) }
    }
}

#[async_trait::async_trait]
impl ClientSecret for SecretsManagerSecret {
    async fn get(&self) -> Result<String, EndpointError> {
        let mut cached = self.cached.lock().await;
        if let Some((at, value)) = cached.as_ref()
            && at.elapsed() < MAX_AGE
        {
            return Ok(value.clone());
        }
        let output = self.client.get_secret_value().secret_id(&self.arn).send().await.map_err(|e| {
            EndpointError::Unavailable(format!("client secret unreadable: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
        })?;
        let value = output
            .secret_string()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| EndpointError::Unavailable("the client secret is empty".into()))?;
        *cached = Some((Instant::now(), value.to_owned()));
        Ok(value.to_owned())
    }
}
