//! The local server on the production adapters: DynamoDB and S3 at local endpoints
//! (DynamoDB Local, the moto server), so the whole API runs on the code that ships, not
//! only on the embedded store.
//!
//! Loopback endpoints only, with fixed stand-in credentials: this mode is for emulators,
//! never for an AWS account.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use shared::store::BlobStore;
use shared::store::ItemStore;
use shared::store::audit::AuditIndex;
use store_aws::DynamoStore;
use store_aws::S3BlobStore;

/// The KMS key id S3 puts name; moto records it without a KMS of its own.
pub const LOCAL_KMS_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const REGION: &str = "eu-west-1";

/// Endpoints and names of the emulated resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsLocal {
    pub dynamodb_url: String,
    pub s3_url: String,
    pub items_table: String,
    pub audit_table: String,
    pub bucket: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsLocalError {
    #[error("`{0}` is not a loopback http URL: this mode talks only to local emulators")]
    NotLoopback(String),
    #[error("cannot create {what}: {cause}")]
    Create { what: String, cause: String },
}

impl AwsLocal {
    /// The default resource names at these endpoints.
    pub fn at(dynamodb_url: impl Into<String>, s3_url: impl Into<String>) -> Self {
        Self {
            dynamodb_url: dynamodb_url.into(),
            s3_url: s3_url.into(),
            items_table: "forecast-items".into(),
            audit_table: "forecast-audit".into(),
            bucket: "forecast-datasets".into(),
        }
    }

    /// The item store and blob store, creating the tables and the bucket if missing.
    pub async fn adapters(&self) -> Result<(Arc<dyn ItemStore>, Arc<dyn BlobStore>), AwsLocalError> {
        let dynamodb = dynamodb_client(&self.dynamodb_url)?;
        ensure_tables(&dynamodb, &self.items_table, &self.audit_table).await?;
        let s3 = s3_client(&self.s3_url)?;
        ensure_bucket(&s3, &self.bucket).await?;
        let store = DynamoStore::new(dynamodb, self.items_table.clone(), self.audit_table.clone());
        let blobs = S3BlobStore::new(s3, self.bucket.clone(), LOCAL_KMS_KEY.into());
        Ok((Arc::new(store), Arc::new(blobs)))
    }
}

fn loopback(url: &str) -> Result<&str, AwsLocalError> {
    let parsed = url::Url::parse(url).map_err(|_| AwsLocalError::NotLoopback(url.to_owned()))?;
    let host_is_loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if parsed.scheme() == "http" && host_is_loopback && parsed.username().is_empty() && parsed.password().is_none() {
        Ok(url)
    } else {
        Err(AwsLocalError::NotLoopback(url.to_owned()))
    }
}

/// A DynamoDB client for a local emulator at `url`.
pub fn dynamodb_client(url: &str) -> Result<aws_sdk_dynamodb::Client, AwsLocalError> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new(REGION))
        .endpoint_url(loopback(url)?)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "aws-local"))
        .build();
    Ok(aws_sdk_dynamodb::Client::from_conf(config))
}

/// An S3 client for a local emulator at `url` (path-style addressing).
pub fn s3_client(url: &str) -> Result<aws_sdk_s3::Client, AwsLocalError> {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(loopback(url)?)
        .credentials_provider(aws_sdk_s3::config::Credentials::new("local", "local", None, None, "aws-local"))
        .force_path_style(true)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(config))
}

/// Creates the item table and the audit table shaped as in `template.yaml` (string `pk`
/// and `sk`, on demand; the audit table with its indexes) unless they exist.
pub async fn ensure_tables(client: &aws_sdk_dynamodb::Client, items: &str, audit: &str) -> Result<(), AwsLocalError> {
    ensure_table(client, items, &[]).await?;
    ensure_table(client, audit, &AuditIndex::ALL).await
}

async fn ensure_table(client: &aws_sdk_dynamodb::Client, name: &str, indexes: &[AuditIndex]) -> Result<(), AwsLocalError> {
    let failed = |cause: String| AwsLocalError::Create { what: format!("table {name}"), cause };
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let attribute = |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk").map_err(|e| failed(e.to_string()))?)
        .attribute_definitions(attribute("sk").map_err(|e| failed(e.to_string()))?)
        .key_schema(key("pk", KeyType::Hash).map_err(|e| failed(e.to_string()))?)
        .key_schema(key("sk", KeyType::Range).map_err(|e| failed(e.to_string()))?);
    for index in indexes {
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(index.name())
            .key_schema(key(index.attribute(), KeyType::Hash).map_err(|e| failed(e.to_string()))?)
            .key_schema(key("sk", KeyType::Range).map_err(|e| failed(e.to_string()))?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|e| failed(e.to_string()))?;
        request =
            request.attribute_definitions(attribute(index.attribute()).map_err(|e| failed(e.to_string()))?).global_secondary_indexes(gsi);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
        Err(error) => Err(failed(aws_sdk_dynamodb::error::DisplayErrorContext(error).to_string())),
    }
}

/// Creates a bucket unless it exists.
pub async fn ensure_bucket(client: &aws_sdk_s3::Client, bucket: &str) -> Result<(), AwsLocalError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
        .build();
    client.create_bucket().bucket(bucket).create_bucket_configuration(location).send().await.map(|_| ()).map_err(|error| {
        AwsLocalError::Create { what: format!("bucket {bucket}"), cause: aws_sdk_s3::error::DisplayErrorContext(error).to_string() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_endpoints_are_accepted() {
        for good in ["http://127.0.0.1:8000", "http://localhost:4566/", "http://[::1]:9000"] {
            assert!(loopback(good).is_ok(), "{good}");
        }
        for bad in [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "http://localhost.evil.example",
            "http://10.0.0.1:8000",
            "http://u:p@127.0.0.1",
            "nope",
        ] {
            assert!(matches!(loopback(bad), Err(AwsLocalError::NotLoopback(_))), "{bad}");
        }
    }
}
