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

/// A purpose's key replaced (say after a suspected compromise): the current key is the new
/// one's ARN, even when configured by alias; what the old key wrapped still unwraps while
/// the old key is listed as retired, and is refused once it is not.
#[tokio::test]
async fn a_replaced_key_still_unwraps_while_retired_and_the_current_key_is_named_by_arn() {
    let client = client();
    let old = keys(&client).await;
    let (plaintext, wrapped) = old.generate(Purpose::PersonalData, &table()).await.unwrap();
    assert_eq!(old.current_master_key(Purpose::PersonalData).await.unwrap(), wrapped.master_key, "data keys name the key's ARN");

    let created = client.create_key().description("replacement").send().await.unwrap();
    let replacement = created.key_metadata().unwrap();
    let alias = format!("alias/test-replacement-{}", uuid::Uuid::new_v4().simple());
    client.create_alias().alias_name(&alias).target_key_id(replacement.key_id()).send().await.unwrap();
    let by_alias = HashMap::from([(Purpose::PersonalData, alias)]);
    let new = KmsKeys::new(client.clone(), by_alias.clone()).with_retired(vec![wrapped.master_key.clone()]);
    assert_eq!(new.current_master_key(Purpose::PersonalData).await.unwrap(), replacement.arn().unwrap());
    assert_eq!(new.unwrap(Purpose::PersonalData, &wrapped, &table()).await.unwrap(), plaintext, "retired: still unwraps");
    let (_, rewrapped) = new.generate(Purpose::PersonalData, &table()).await.unwrap();
    assert_eq!(rewrapped.master_key, replacement.arn().unwrap(), "new data keys are under the replacement");
    let forgotten = KmsKeys::new(client.clone(), by_alias);
    assert_eq!(forgotten.unwrap(Purpose::PersonalData, &wrapped, &table()).await, Err(KeyError::Refused), "no longer retired");
}

/// What the functions seal records with: branch keys that KMS wraps, stored beside the
/// records, so a cold reader asks KMS once per branch key rather than once per writer's
/// data key (the route functions once sealed under KMS data keys directly, which only the
/// re-sealing job did not).
#[tokio::test]
async fn the_functions_seal_records_under_a_branch_key_that_kms_wraps() {
    let client = client();
    let key = client.create_key().description("test personal data").send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let dynamodb = crate::services::dynamodb_client();
    let (items, audit) = (format!("items-{}", uuid::Uuid::new_v4().simple()), format!("audit-{}", uuid::Uuid::new_v4().simple()));
    devserver::aws_local::ensure_tables(&dynamodb, &items, &audit).await.unwrap();
    let aws = shared::config::AwsSettings {
        table_name: items,
        audit_table_name: audit,
        bucket_name: String::new(),
        bucket_kms_key_id: String::new(),
        personal_data_key_id: key.clone(),
        personal_data_retired_key_ids: Vec::new(),
        audit_integrity_key_id: key,
    };
    let store = functions::sealed_items(&aws, dynamodb, client.clone());
    let meta = shared::http::RequestMeta { request_id: "branch-key-test".into(), ..Default::default() };
    let record = shared::audit::AuditDraft::new("test-grant", "user").finish(&meta, 200);
    shared::auth::standing::grant_role(store.as_ref(), "ada", shared::auth::Role::Analyst, &record).await.unwrap();
    assert_eq!(shared::auth::standing::read(store.as_ref(), "ada").await.unwrap().map(|(_, r)| r.role), Some(shared::auth::Role::Analyst));

    let keys = store.inner().scan_keys(None, 100).await.unwrap().keys;
    let branch = shared::branch_keys::branch_key_item(shared::crypto::keys::Purpose::PersonalData, 1);
    assert!(keys.contains(&branch), "no branch key beside the records: {keys:?}");
}
