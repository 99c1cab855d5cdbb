//! Adapters under test, each on a fresh table, bucket or folder.

use std::sync::Arc;

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use shared::blob::fs::FsBlobStore;
use shared::blob::s3::S3BlobStore;
use shared::blob::{BlobKey, BlobStore};
use shared::store::ItemStore;
use shared::store::dynamodb::DynamoStore;
use shared::store::sqlite::SqliteStore;

/// Holds what an adapter needs alive (a temp folder) next to the adapter.
pub struct Subject<T: ?Sized> {
    pub adapter: Arc<T>,
    _dir: Option<tempfile::TempDir>,
}

impl<T: ?Sized> AsRef<T> for Subject<T> {
    fn as_ref(&self) -> &T {
        &self.adapter
    }
}

fn endpoint(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run the adapter tests through scripts/test.sh, which starts DynamoDB Local and moto on loopback")
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

pub async fn sqlite_store() -> Subject<dyn ItemStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap();
    Subject { adapter: Arc::new(store), _dir: Some(dir) }
}

pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
        .endpoint_url(endpoint("FORECAST_TEST_DYNAMODB_URL"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap())
        .attribute_definitions(AttributeDefinition::builder().attribute_name("sk").attribute_type(ScalarAttributeType::S).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("sk").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// Tables shaped as in `template.yaml`.
pub async fn dynamo_store() -> Subject<dyn ItemStore> {
    let client = dynamodb_client();
    let (items, audit) = (unique("items"), unique("audit"));
    create_table(&client, &items).await;
    create_table(&client, &audit).await;
    Subject { adapter: Arc::new(DynamoStore::new(client, items, audit)), _dir: None }
}

pub async fn folder_blobs() -> Subject<dyn BlobStore> {
    let dir = tempfile::tempdir().unwrap();
    Subject { adapter: Arc::new(FsBlobStore::new(dir.path().join("blobs"))), _dir: Some(dir) }
}

fn s3_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("eu-west-1"))
        .endpoint_url(endpoint("FORECAST_TEST_S3_URL"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "tests"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

const TEST_KMS_KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555";

async fn new_bucket(client: &aws_sdk_s3::Client) -> String {
    let bucket = unique("datasets");
    client
        .create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket
}

pub async fn s3_blobs() -> Subject<dyn BlobStore> {
    let client = s3_client();
    let bucket = new_bucket(&client).await;
    Subject { adapter: Arc::new(S3BlobStore::new(client, bucket, TEST_KMS_KEY.into())), _dir: None }
}

pub async fn s3_puts_are_kms_encrypted() {
    let client = s3_client();
    let bucket = new_bucket(&client).await;
    let store = S3BlobStore::new(client.clone(), bucket.clone(), TEST_KMS_KEY.into());
    let key = BlobKey::parse("datasets/x/data.csv").unwrap();
    store.put(&key, b"a,b\n1,2\n".to_vec(), "text/csv").await.unwrap();
    let head = client.head_object().bucket(&bucket).key(key.as_str()).send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms));
    assert_eq!(head.ssekms_key_id(), Some(TEST_KMS_KEY));
    assert_eq!(head.content_type(), Some("text/csv"));
}
