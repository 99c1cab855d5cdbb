//! The KMS key provider against moto's KMS: data keys unwrap under their own key and
//! context only, and envelopes sealed with them open where they were sealed.

use std::collections::HashMap;
use std::sync::Arc;

use keys_kms::KmsKeys;
use shared::crypto::cache::{CacheLimits, Envelopes};
use shared::crypto::envelope::EncryptionContext;
use shared::crypto::keys::{KeyError, KeyProvider, Purpose};

fn client() -> aws_sdk_kms::Client {
    use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(crate::services::endpoint("FORECAST_TEST_S3_URL"))
        .credentials_provider(Credentials::new("local", "local", None, None, "moto"))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// A KMS key per purpose, new for each test.
async fn keys(client: &aws_sdk_kms::Client) -> KmsKeys {
    let mut keys = HashMap::new();
    for purpose in Purpose::ALL {
        let created = client.create_key().description(format!("test {}", purpose.as_str())).send().await.unwrap();
        keys.insert(purpose, created.key_metadata().unwrap().key_id().to_owned());
    }
    KmsKeys::new(client.clone(), keys)
}

fn table() -> EncryptionContext {
    EncryptionContext::new([("table", "items")])
}

#[tokio::test]
async fn a_kms_data_key_unwraps_under_its_purpose_and_context_only() {
    let client = client();
    let keys = keys(&client).await;
    let (plaintext, wrapped) = keys.generate(Purpose::PersonalData, &table()).await.unwrap();
    assert_eq!(plaintext.len(), 32);
    assert_eq!(keys.unwrap(Purpose::PersonalData, &wrapped, &table()).await.unwrap(), plaintext);
    let audit = EncryptionContext::new([("table", "audit")]);
    assert_eq!(keys.unwrap(Purpose::PersonalData, &wrapped, &audit).await, Err(KeyError::Refused), "another context");
    assert_eq!(keys.unwrap(Purpose::DatasetContent, &wrapped, &table()).await, Err(KeyError::Refused), "another purpose's key");
    let mut altered = wrapped.clone();
    let last = altered.blob.len() - 1;
    altered.blob[last] ^= 1;
    assert!(keys.unwrap(Purpose::PersonalData, &altered, &table()).await.is_err(), "an altered blob");
}

#[tokio::test]
async fn envelopes_on_kms_seal_and_open_bound_to_their_record() {
    let client = client();
    let envelopes = Envelopes::new(Arc::new(keys(&client).await), CacheLimits::default());
    let field = |record: &str| EncryptionContext::new([("attribute", "email"), ("record", record)]);
    let sealed = envelopes.seal(Purpose::PersonalData, &table(), &field("USER#1"), b"ada@example.com").await.unwrap();
    assert_eq!(envelopes.open(Purpose::PersonalData, &table(), &field("USER#1"), &sealed).await.unwrap(), b"ada@example.com");
    assert!(envelopes.open(Purpose::PersonalData, &table(), &field("USER#2"), &sealed).await.is_err());
}
