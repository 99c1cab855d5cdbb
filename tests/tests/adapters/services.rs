//! Adapters under test, each on a fresh table, bucket or folder.

use std::sync::Arc;

use devserver::aws_local;
use shared::store::ItemStore;
use shared::store::{BlobKey, BlobStore};
use store_aws::DynamoStore;
use store_aws::S3BlobStore;
use store_embedded::FsBlobStore;
use store_embedded::SqliteStore;

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

pub fn endpoint(variable: &str) -> String {
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
    aws_local::dynamodb_client(&endpoint("FORECAST_TEST_DYNAMODB_URL")).unwrap()
}

/// Tables shaped as in `template.yaml`.
pub async fn dynamo_store() -> Subject<dyn ItemStore> {
    let client = dynamodb_client();
    let (items, audit) = (unique("items"), unique("audit"));
    aws_local::ensure_tables(&client, &items, &audit).await.unwrap();
    Subject { adapter: Arc::new(DynamoStore::new(client, items, audit)), _dir: None }
}

pub async fn folder_blobs() -> Subject<dyn BlobStore> {
    let dir = tempfile::tempdir().unwrap();
    Subject { adapter: Arc::new(FsBlobStore::new(dir.path().join("blobs"))), _dir: Some(dir) }
}

/// The folder as the local server uses it: every object sealed under the local keys.
pub async fn sealed_folder_blobs() -> Subject<dyn BlobStore> {
    let dir = tempfile::tempdir().unwrap();
    let keys = shared::crypto::keys::LocalKeys::new(dir.path().join("master-keys"));
    let envelopes = shared::crypto::cache::Envelopes::new(Arc::new(keys), shared::crypto::cache::CacheLimits::default());
    let sealed = shared::sealed_blobs::SealedBlobs::new(FsBlobStore::new(dir.path().join("blobs")), Arc::new(envelopes));
    Subject { adapter: Arc::new(sealed), _dir: Some(dir) }
}

fn s3_client() -> aws_sdk_s3::Client {
    aws_local::s3_client(&endpoint("FORECAST_TEST_S3_URL")).unwrap()
}

const TEST_KMS_KEY: &str = aws_local::LOCAL_KMS_KEY;

async fn new_bucket(client: &aws_sdk_s3::Client) -> String {
    let bucket = unique("datasets");
    aws_local::ensure_bucket(client, &bucket).await.unwrap();
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

/// A directory with the store its staged writes commit to.
pub struct DirectorySubject {
    pub directory: Arc<dyn shared::identity::directory::UserDirectory>,
    pub store: Subject<dyn ItemStore>,
}

impl DirectorySubject {
    pub fn directory(&self) -> crate::directory_contract::Directory<'_> {
        crate::directory_contract::Directory { directory: self.directory.as_ref(), store: self.store.as_ref() }
    }
}

fn embedded_directory(store: Subject<dyn ItemStore>) -> DirectorySubject {
    use shared::identity::embedded::EmbeddedDirectory;
    use shared::identity::hashing::PasswordHasher;
    // Cheap hashing: the contract is about accounts, not password cost.
    let hasher = PasswordHasher::new(64, 1, 1).unwrap();
    let directory = EmbeddedDirectory::new(
        Arc::clone(&store.adapter),
        Arc::new(shared::store::email_index::PlainIndex),
        hasher,
        "http://127.0.0.1:1".into(),
    );
    DirectorySubject { directory: Arc::new(directory), store }
}

pub async fn embedded_directory_on_sqlite() -> DirectorySubject {
    embedded_directory(sqlite_store().await)
}

pub async fn embedded_directory_on_dynamodb() -> DirectorySubject {
    embedded_directory(dynamo_store().await)
}

/// A Cognito client for the moto server.
pub fn cognito_client() -> aws_sdk_cognitoidentityprovider::Client {
    use aws_sdk_cognitoidentityprovider::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_cognitoidentityprovider::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint("FORECAST_TEST_S3_URL"))
        .credentials_provider(Credentials::new("local", "local", None, None, "moto"))
        .build();
    aws_sdk_cognitoidentityprovider::Client::from_conf(config)
}

/// A fresh user pool shaped as in `template.yaml`: e-mail as the user name, one group per role.
pub async fn cognito_pool(client: &aws_sdk_cognitoidentityprovider::Client) -> String {
    use aws_sdk_cognitoidentityprovider::types::UsernameAttributeType;
    let pool = client.create_user_pool().pool_name(unique("users")).username_attributes(UsernameAttributeType::Email).send().await.unwrap();
    let pool_id = pool.user_pool().and_then(|p| p.id()).unwrap().to_owned();
    for group in ["admin", "analyst", "viewer"] {
        client.create_group().user_pool_id(&pool_id).group_name(group).send().await.unwrap();
    }
    pool_id
}

/// The Cognito directory on a fresh moto pool; it stages nothing, so the store only takes
/// the audit records the suite commits.
pub async fn cognito_directory_on_moto() -> DirectorySubject {
    let client = cognito_client();
    let pool_id = cognito_pool(&client).await;
    DirectorySubject { directory: Arc::new(identity_cognito::CognitoDirectory::new(client, pool_id)), store: sqlite_store().await }
}

/// The token backend's client secret read from moto's Secrets Manager, and re-read only
/// after its cache age: a changed secret is not seen at once.
pub async fn client_secret_comes_from_secrets_manager() {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use shared::session::ClientSecret;
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint("FORECAST_TEST_S3_URL"))
        .credentials_provider(Credentials::new("local", "local", None, None, "moto"))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let created = client.create_secret().name(unique("backend-client")).secret_string("s3cr3t-one").send().await.unwrap();
    let arn = created.arn().unwrap().to_owned();
    let secret = functions::secret::SecretsManagerSecret::new(client.clone(), arn.clone());
    assert_eq!(secret.get().await.unwrap(), "s3cr3t-one");
    client.put_secret_value().secret_id(&arn).secret_string("s3cr3t-two").send().await.unwrap();
    assert_eq!(secret.get().await.unwrap(), "s3cr3t-one", "cached until its age is up");
    let missing = functions::secret::SecretsManagerSecret::new(client, format!("{arn}-gone"));
    assert!(matches!(missing.get().await, Err(shared::session::EndpointError::Unavailable(_))));
}
