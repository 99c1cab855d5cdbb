//! The detector as it runs in AWS: stream records in (DynamoDB's JSON), findings and the
//! block list out, and the block list mirrored into the WAF's IP sets on the moto server.

use std::sync::Arc;

use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use functions::waf::{IpSet, WafIpSets};
use serde_json::{Value, json};
use shared::audit::AuditDraft;
use shared::http::RequestMeta;

fn waf_client() -> aws_sdk_wafv2::Client {
    use aws_sdk_wafv2::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_wafv2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(crate::services::endpoint("FORECAST_TEST_S3_URL"))
        .credentials_provider(Credentials::new("local", "local", None, None, "moto"))
        .build();
    aws_sdk_wafv2::Client::from_conf(config)
}

async fn ip_set(client: &aws_sdk_wafv2::Client, version: IpAddressVersion) -> IpSet {
    let name = format!("blocked-{}", uuid::Uuid::new_v4().simple());
    let made = client
        .create_ip_set()
        .name(&name)
        .scope(Scope::Regional)
        .ip_address_version(version)
        .set_addresses(Some(vec![]))
        .send()
        .await
        .unwrap();
    IpSet { name, id: made.summary().unwrap().id().unwrap().to_owned() }
}

async fn addresses(client: &aws_sdk_wafv2::Client, set: &IpSet) -> Vec<String> {
    let got = client.get_ip_set().name(&set.name).id(&set.id).scope(Scope::Regional).send().await.unwrap();
    got.ip_set().unwrap().addresses().to_vec()
}

/// Plain JSON as DynamoDB's typed JSON, as a stream delivers an item.
fn typed(value: &Value) -> Value {
    match value {
        Value::Null => json!({"NULL": true}),
        Value::Bool(b) => json!({"BOOL": b}),
        Value::Number(n) => json!({"N": n.to_string()}),
        Value::String(s) => json!({"S": s}),
        Value::Array(items) => json!({"L": items.iter().map(typed).collect::<Vec<_>>()}),
        Value::Object(map) => json!({"M": map.iter().map(|(k, v)| (k.clone(), typed(v))).collect::<serde_json::Map<_, _>>()}),
    }
}

fn stream_record(n: usize, ip: &str) -> Value {
    let meta = RequestMeta { request_id: format!("attempt-{n}"), source_ip: Some(ip.to_owned()), ..RequestMeta::default() };
    let mut draft = AuditDraft::new("auth-token", "session");
    draft.reason = Some("invalid-grant".into());
    let record = draft.finish(&meta, 400);
    json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": format!("{n:05}"), "NewImage": {"record": typed(&serde_json::to_value(&record).unwrap())}}})
}

#[tokio::test]
async fn stream_records_over_the_threshold_block_the_address_and_the_waf_mirrors_the_list() {
    let client = waf_client();
    let (v4, v6) = (ip_set(&client, IpAddressVersion::Ipv4).await, ip_set(&client, IpAddressVersion::Ipv6).await);
    let sets = WafIpSets::new(client.clone(), v4.clone(), v6.clone());
    let dir = tempfile::tempdir().unwrap();
    let raw: Arc<dyn shared::store::ItemStore> = Arc::new(store_embedded::SqliteStore::in_memory().unwrap());
    let store = shared::sealed_items::SealedItems::with_local_keys(raw, dir.path());
    let detector = shared::detector::Detector::new(Arc::default());

    // Nine failed code exchanges: under the threshold of ten, nothing yet.
    let nine: Vec<Value> = (0..9).map(|n| stream_record(n, "198.51.100.20")).collect();
    let answer = functions::detect(&store, &detector, &sets, &json!({"Records": nine})).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert!(addresses(&client, &v4).await.is_empty());
    // The tenth, beside an IPv6 burst of ten and a record that doesn't read.
    let mut batch = vec![stream_record(9, "198.51.100.20")];
    batch.extend((10..20).map(|n| stream_record(n, "2001:db8::7")));
    batch.push(json!({"eventName": "INSERT", "dynamodb": {"SequenceNumber": "99999", "NewImage": {"record": {"S": "garbage"}}}}));
    let answer = functions::detect(&store, &detector, &sets, &json!({"Records": batch})).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": [{"itemIdentifier": "99999"}]}), "the unreadable record is retried");
    assert_eq!(addresses(&client, &v4).await, ["198.51.100.20/32"]);
    assert_eq!(addresses(&client, &v6).await, ["2001:db8::7/128"]);
    let (_, list) = shared::blocklist::read(&store).await.unwrap();
    assert_eq!(list.entries.len(), 2);

    // Unblocked in the app: the next scheduled run empties the WAF's sets too.
    let meta = RequestMeta { request_id: "unblock".into(), ..RequestMeta::default() };
    let (version, list) = shared::blocklist::read(&store).await.unwrap();
    let cleared = list.without("198.51.100.20", time::OffsetDateTime::now_utc()).without("2001:db8::7", time::OffsetDateTime::now_utc());
    shared::store::ItemStore::commit(
        &store,
        vec![shared::blocklist::write(version, &cleared).unwrap()],
        &AuditDraft::new("unblock-ip", "blocked-ip").finish(&meta, 204),
    )
    .await
    .unwrap();
    functions::detect(&store, &detector, &sets, &json!({"detail-type": "Scheduled Event"})).await.unwrap();
    assert!(addresses(&client, &v4).await.is_empty());
    assert!(addresses(&client, &v6).await.is_empty());
}
