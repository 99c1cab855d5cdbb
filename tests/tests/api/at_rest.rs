//! Nothing personal is stored in clear: values written through the API with marker strings
//! are searched for, byte for byte, in everything the server keeps at rest: every file of
//! its data folder (the SQLite database with its journal, blobs, keys) and, on the
//! AWS-local backend, a dump of both DynamoDB tables.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::auth::Role;

use crate::helpers::{TestApp, spawn_app};

/// Every file below `dir` that holds `needle`.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let holds = |path: &std::path::PathBuf| std::fs::read(path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle));
    crate::helpers::files_below(dir).into_iter().filter(holds).collect()
}

/// Each table's items, one per line as the SDK sees them (attribute names and values).
async fn dynamodb_dump(aws: &devserver::aws_local::AwsLocal) -> Vec<(String, String)> {
    let client = devserver::aws_local::dynamodb_client(&aws.dynamodb_url).unwrap();
    let mut dump = Vec::new();
    for table in [&aws.items_table, &aws.audit_table] {
        let mut start = None;
        loop {
            let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
            dump.extend(page.items().iter().map(|item| (table.clone(), format!("{item:?}"))));
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
    }
    assert!(!dump.is_empty(), "the dump read nothing: a check that can't fail");
    dump
}

/// Where `marker` is at rest in clear: files of the data folder and, on AWS-local, items of
/// the DynamoDB tables.
async fn held_in_clear(app: &TestApp, marker: &str) -> Vec<String> {
    let mut holding: Vec<String> = files_holding(app.dir.path(), marker.as_bytes()).iter().map(|p| p.display().to_string()).collect();
    if let devserver::Backend::AwsLocal(aws) = &app.server.backend {
        holding.extend(
            dynamodb_dump(aws).await.into_iter().filter(|(_, item)| item.contains(marker)).map(|(table, item)| format!("{table}: {item}")),
        );
    }
    holding
}

#[tokio::test]
async fn a_users_address_and_name_are_nowhere_in_the_data_folder() {
    let app = spawn_app().await;
    let admin = app.token("at-rest-admin", Role::Admin).await;
    let invited = app
        .call(Method::POST, "/v1/users", Some(&admin), Some(json!({"email": "zq.marker7731@example.com", "name": "Quillon Markerby"})))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    // Read back through the API: sealed at rest, served in clear to who may see it.
    let shown = app.call(Method::GET, &format!("/v1/users/{}", invited.body["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!((shown.body["email"].as_str(), shown.body["name"].as_str()), (Some("zq.marker7731@example.com"), Some("Quillon Markerby")));
    let email = shared::domain::user::Email::parse("ZQ.Marker7731@example.com").unwrap();
    use shared::identity::directory::UserDirectory;
    assert!(app.server.idp.directory.find_by_email(&email).await.unwrap().is_some(), "found by the keyed index");
    for marker in ["zq.marker7731", "Quillon", "Markerby"] {
        let holding = held_in_clear(&app, marker).await;
        assert!(holding.is_empty(), "`{marker}` in clear in {holding:?}");
    }
}

#[tokio::test]
async fn dataset_names_descriptions_columns_cells_and_forecast_targets_are_nowhere_at_rest() {
    let app = spawn_app().await;
    let analyst = app.token("at-rest-analyst", Role::Analyst).await;
    let mut csv = String::from("date,qzcolmarker,note\n");
    for day in 1..=28 {
        csv.push_str(&format!("2024-02-{day:02},{},qzcellmarker {day}\n", 10 + day % 7));
    }
    let body = json!({"name": "Qzname Markerset", "description": "kept by qzdesc.marker@example.com", "csv": csv});
    let created = app.call(Method::POST, "/v1/datasets", Some(&analyst), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    let rename = json!({"name": "Qzrenamed Markerset"});
    let renamed = app.call_with(Method::PATCH, &format!("/v1/datasets/{id}"), Some(&analyst), Some(rename), &[("if-match", "\"1\"")]).await;
    assert!(renamed.status.is_success(), "{}", renamed.text);
    let forecast = json!({"dataset_id": id, "time_column": "date", "target_column": "qzcolmarker", "horizon": 3});
    let ran = app.call(Method::POST, "/v1/forecasts", Some(&analyst), Some(forecast)).await;
    assert_eq!(ran.status, StatusCode::CREATED, "{}", ran.text);
    // Served in clear to who may read them.
    let shown = app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&analyst), None).await;
    assert_eq!(shown.body["name"], "Qzrenamed Markerset");
    assert!(shown.text.contains("qzcellmarker 1") && shown.text.contains("qzdesc.marker"), "{}", shown.text);
    let listed = app.call(Method::GET, "/v1/datasets", Some(&analyst), None).await;
    assert!(listed.text.contains("Qzrenamed Markerset"), "{}", listed.text);
    for marker in ["Qzname", "Qzrenamed", "qzdesc.marker", "qzcolmarker", "qzcellmarker"] {
        let holding = held_in_clear(&app, marker).await;
        assert!(holding.is_empty(), "`{marker}` in clear in {holding:?}");
    }
}

#[tokio::test]
async fn uploaded_files_are_sealed_in_the_blob_folder_and_a_tampered_one_is_refused_not_served() {
    let app = spawn_app().await;
    if app.server.backend != devserver::Backend::Embedded {
        return; // blobs are in S3 (SSE-KMS) on the other backend: nothing in the folder to read
    }
    let analyst = app.token("at-rest-analyst", Role::Analyst).await;
    let csv = "date,sales,note\n2024-01-01,10,qzcellmarker one\n2024-01-02,12,qzcellmarker two\n2024-01-03,11,plain\n";
    let created = app.call(Method::POST, "/v1/datasets", Some(&analyst), Some(json!({"name": "sealed", "csv": csv}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().unwrap();
    // The blob files; the dataset record's preview rows are in the item store, sealed by
    // the field declarations of the next step.
    let holding = files_holding(&app.dir.path().join("blobs"), b"qzcellmarker");
    assert!(holding.is_empty(), "CSV content in clear in {holding:?}");
    let export = app.call(Method::GET, &format!("/v1/datasets/{id}/export?format=csv"), Some(&analyst), None).await;
    assert!(export.status.is_success() && export.text.contains("qzcellmarker one"), "{}", export.text);

    // One flipped byte in the stored file: a clear 500, audited, never the altered content.
    let blobs = app.dir.path().join("blobs");
    let file = crate::helpers::files_below(&blobs).into_iter().find(|p| p.to_string_lossy().contains(id)).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&file, bytes).unwrap();
    let refused = app.call(Method::GET, &format!("/v1/datasets/{id}/export?format=csv"), Some(&analyst), None).await;
    refused.assert_problem(500);
    assert!(!refused.text.contains("qzcellmarker"), "{}", refused.text);
    assert_eq!(app.audit_for(&refused).await.reason.as_deref(), Some("internal"));
}

/// The server's item store as it is at rest, around the sealing layer: what someone with
/// write access to the database (not to the keys) can do.
fn raw_store(app: &TestApp) -> std::sync::Arc<dyn shared::store::ItemStore> {
    match &app.server.backend {
        devserver::Backend::Embedded => {
            std::sync::Arc::new(store_embedded::SqliteStore::open(&app.dir.path().join("store.sqlite3")).unwrap())
        }
        devserver::Backend::AwsLocal(aws) => std::sync::Arc::new(store_aws::DynamoStore::new(
            devserver::aws_local::dynamodb_client(&aws.dynamodb_url).unwrap(),
            aws.items_table.clone(),
            aws.audit_table.clone(),
        )),
    }
}

#[tokio::test]
async fn a_record_altered_or_moved_in_the_database_is_refused_with_an_audited_500_never_served() {
    use shared::store::{Condition, Item, WriteOp};
    let app = spawn_app().await;
    let raw = raw_store(&app);
    let owner = app.token("tamper-owner", Role::Analyst).await;
    let intruder = app.token("tamper-intruder", Role::Analyst).await;
    let first = app.create_dataset("tamper-owner", "qzfirst dataset").await;
    let second = app.create_dataset("tamper-owner", "qzsecond dataset").await;
    let key = |id: &str| shared::keys::dataset::record(&shared::domain::ids::DatasetId::parse(id).unwrap());
    let stored = raw.get(&key(&first)).await.unwrap().unwrap();
    let overwrite = |body: serde_json::Value| {
        let raw = raw.clone();
        let item = Item { key: key(&first), version: stored.version, body };
        let meta = shared::http::RequestMeta {
            request_id: format!("{}tamper-{}", crate::helpers::SETUP_PREFIX, uuid::Uuid::new_v4()),
            ..Default::default()
        };
        let audit = shared::audit::AuditDraft::new("test-setup", "dataset").finish(&meta, 200);
        async move { raw.commit(vec![WriteOp::Put { item, condition: Condition::Always }], &audit).await.unwrap() }
    };
    let refused = |caller: String| {
        let app = &app;
        let first = first.clone();
        async move {
            let answer = app.call(Method::GET, &format!("/v1/datasets/{first}"), Some(&caller), None).await;
            answer.assert_problem(500);
            assert!(!answer.text.contains("qz"), "{}", answer.text);
            assert_eq!(app.audit_for(&answer).await.reason.as_deref(), Some("internal"));
        }
    };

    // One character of the envelope changed to a different one.
    let sealed = stored.body["_sealed"].as_str().unwrap().to_owned();
    let at = sealed.len() / 2;
    let other = if &sealed[at..=at] == "A" { "B" } else { "A" };
    let mut flipped = stored.body.clone();
    flipped["_sealed"] = json!(format!("{}{other}{}", &sealed[..at], &sealed[at + 1..]));
    overwrite(flipped).await;
    refused(owner.clone()).await;

    // The other dataset's record moved over this one.
    overwrite(raw.get(&key(&second)).await.unwrap().unwrap().body).await;
    refused(owner.clone()).await;

    // Ownership handed to another user in the table: the record no longer opens for anyone.
    let mut stolen = stored.body.clone();
    stolen["owner"] = json!("tamper-intruder");
    overwrite(stolen).await;
    refused(intruder).await;
    refused(owner.clone()).await;

    // Put back as it was, it serves again.
    overwrite(stored.body.clone()).await;
    let restored = app.call(Method::GET, &format!("/v1/datasets/{first}"), Some(&owner), None).await;
    assert_eq!(restored.body["name"], "qzfirst dataset", "{}", restored.text);
}

/// The rotation runbook, locally: a new personal-data master key, `reseal` while the server
/// runs, and every record is under the new key, still served, its ETag unchanged.
#[tokio::test]
async fn after_a_master_key_rotation_reseal_moves_every_record_and_the_server_still_serves_them() {
    let app = spawn_app().await;
    let id = app.create_dataset("rotation-owner", "qzrotated dataset").await;
    let owner = app.token("rotation-owner", Role::Analyst).await;
    let before = app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&owner), None).await;
    let config = devserver::DevConfig { data_dir: app.dir.path().to_owned(), backend: app.server.backend.clone(), ..Default::default() };
    let rotated = devserver::rotate_master_key(&config, shared::crypto::keys::Purpose::PersonalData).await.unwrap();
    assert_eq!(rotated, ("local:personal-data:2".to_owned(), "branch:personal-data:2".to_owned()));

    let (report, resealed) = devserver::reseal(&config).await.unwrap();
    assert!(resealed >= 5, "the dataset, its entries, the accounts: {resealed}");
    assert!(report.complete && report.unreadable.is_empty(), "{report:?}");
    let raw = raw_store(&app);
    let keys = crate::helpers::all_keys(raw.as_ref()).await;
    for chunk in keys.chunks(100) {
        for item in raw.get_many(chunk).await.unwrap() {
            if shared::records::record_type(&item.key.pk, &item.key.sk).is_some() {
                let under = shared::sealed_items::SealedItems::sealed_under(&item.body);
                assert_eq!(under.as_deref(), Some("branch:personal-data:2"), "{:?}", item.key);
            }
        }
    }
    let served = app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&owner), None).await;
    assert_eq!(served.body["name"], "qzrotated dataset", "{}", served.text);
    assert_eq!(served.headers.get("etag"), before.headers.get("etag"), "the record's version is unchanged");
}
