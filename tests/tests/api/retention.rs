//! Retention (SR-20, SR-29) on the store the suite runs on: what the purge removes from
//! every store (records, files, purge entries, expired audit records) and what it keeps
//! (everything not yet due, and the audit trail of what it did).

use reqwest::Method;
use serde_json::json;
use shared::audit::AuditDraft;
use shared::auth::Role;
use shared::http::RequestMeta;
use shared::keys::purge;
use shared::store::{ItemStore, Key};

use crate::helpers::{TestApp, spawn_app};

pub(crate) fn daily_csv(days: i64) -> String {
    let mut csv = String::from("date,sales\n");
    for day in 0..days {
        let date = time::macros::date!(2024 - 01 - 01) + time::Duration::days(day);
        csv.push_str(&format!("{date},{}\n", 100 + [0, 5, 9, 4, -3, -8, -7][day as usize % 7] + day));
    }
    csv
}

async fn purge_entries(store: &dyn ItemStore) -> Vec<Key> {
    let mut keys = Vec::new();
    for pk in purge::partitions() {
        keys.extend(store.query_keys(&pk, "", None, 100).await.unwrap().items);
    }
    keys
}

async fn run_purge(app: &TestApp, days_later: i64) -> shared::purge::PurgeReport {
    let now = time::OffsetDateTime::now_utc() + time::Duration::days(days_later);
    let meta = RequestMeta { request_id: format!("test-purge-{days_later}"), ..RequestMeta::default() };
    shared::purge::purge(app.server.state.store.as_ref(), app.server.state.blobs.as_ref(), now, usize::MAX, &meta).await.unwrap()
}

#[tokio::test]
async fn deleted_datasets_and_forecasts_go_with_their_files_after_the_grace_period_and_the_trail_stays() {
    let app = spawn_app().await;
    let owner = app.token("analyst-r", Role::Analyst).await;
    let gone = app.upload_csv("analyst-r", &daily_csv(42)).await;
    let kept = app.upload_csv("analyst-r", &daily_csv(42)).await;
    let forecast = app
        .call(
            Method::POST,
            "/v1/forecasts",
            Some(&owner),
            Some(json!({"dataset_id": gone, "time_column": "date", "target_column": "sales", "horizon": 7})),
        )
        .await;
    assert_eq!(forecast.status.as_u16(), 201, "{}", forecast.text);
    let forecast = forecast.body["id"].as_str().unwrap().to_owned();
    let files_before = app.blob_keys().await;
    assert_eq!(files_before.len(), 3, "two datasets and a forecast result: {files_before:?}");
    app.call(Method::DELETE, &format!("/v1/forecasts/{forecast}"), Some(&owner), None).await;
    app.call(Method::DELETE, &format!("/v1/datasets/{gone}"), Some(&owner), None).await;
    let raw = app.server.state.store.as_ref();
    assert_eq!(purge_entries(raw).await.len(), 2, "each deletion leaves its entry");

    // Within the grace period (30 days by default): nothing goes.
    let early = run_purge(&app, 29).await;
    assert_eq!((early.datasets, early.forecasts, early.files), (0, 0, 0), "{early:?}");
    assert!(raw.get(&Key::new(format!("DATASET#{gone}"), "META")).await.unwrap().is_some());

    let due = run_purge(&app, 31).await;
    assert_eq!((due.datasets, due.forecasts, due.files, due.complete), (1, 1, 2, true), "{due:?}");
    for key in [Key::new(format!("DATASET#{gone}"), "META"), Key::new(format!("FORECAST#{forecast}"), "META")] {
        assert_eq!(raw.get(&key).await.unwrap(), None, "{key:?} is gone from the item store");
    }
    assert!(raw.get(&Key::new(format!("DATASET#{kept}"), "META")).await.unwrap().is_some(), "the live dataset stays");
    let files_after = app.blob_keys().await;
    assert_eq!(files_after, [format!("datasets/{kept}/data.csv")], "only the live dataset's file is left");
    assert!(purge_entries(raw).await.is_empty());

    // Done is done: a second run finds nothing; the trail says what went, and still holds
    // every request about them.
    let again = run_purge(&app, 32).await;
    assert_eq!((again.datasets, again.forecasts, again.files), (0, 0, 0), "{again:?}");
    let records = app.audit_records().await;
    let mut purged: Vec<(&str, Option<&str>)> = records
        .iter()
        .filter(|r| r.action.starts_with("purge-") && r.action != "purge-expired")
        .map(|r| (r.action.as_str(), r.resource_id.as_deref()))
        .collect();
    purged.sort_unstable();
    assert_eq!(purged, [("purge-dataset", Some(gone.as_str())), ("purge-forecast", Some(forecast.as_str()))]);
    let run = records.iter().find(|r| r.action == "purge-expired" && r.request_id == "test-purge-31").unwrap();
    assert_eq!(run.detail.as_deref(), Some("datasets 1, forecasts 1, files 2, audit records 0, findings 0"));
    assert!(records.iter().any(|r| r.action == "delete-dataset" && r.resource_id.as_deref() == Some(gone.as_str())));
    // The deleted dataset is still a 404 (not a 500) now its record is gone.
    app.call(Method::GET, &format!("/v1/datasets/{gone}"), Some(&owner), None).await.assert_problem(404);
}

/// Audit records carry their expiry (their time plus the retention in force); the embedded
/// store's purge removes those past it, and DynamoDB's TTL is handed the same attribute.
#[tokio::test]
async fn audit_records_carry_their_expiry_and_go_after_it() {
    let app = spawn_app().await;
    let store = app.server.state.store.as_ref();
    let written = |days_ago: i64, label: &str| {
        let mut record =
            AuditDraft::new("old-request", "test").finish(&RequestMeta { request_id: label.to_owned(), ..RequestMeta::default() }, 200);
        let at = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
        record.time = shared::audit::format_time(at);
        record
    };
    let (old, recent) = (written(91, "aged-91-days"), written(89, "aged-89-days"));
    store.append_audit(&old).await.unwrap();
    store.append_audit(&recent).await.unwrap();
    let days = [old.time[..10].to_owned(), recent.time[..10].to_owned()];
    let stored = |label: &'static str| {
        let days = days.clone();
        async move {
            let mut found = None;
            for day in &days {
                let page = store.audit_records(day, None, 100).await.unwrap();
                found = found.or(page.items.into_iter().find(|r| r.request_id == label));
            }
            found
        }
    };
    let at_rest = stored("aged-91-days").await.expect("written");
    assert_eq!(at_rest.expires_at, Some(old.unix_time().unwrap() + 90 * 86_400), "its time plus 90 days");
    if let devserver::Backend::AwsLocal(aws) = &app.server.backend {
        // The attribute the table's TTL reads.
        let client = devserver::aws_local::dynamodb_client(&aws.dynamodb_url).unwrap();
        let item = client
            .get_item()
            .table_name(&aws.audit_table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(shared::store::audit::partition(&at_rest)))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(at_rest.position()))
            .send()
            .await
            .unwrap();
        let expires = item.item().and_then(|i| i.get("expires_at")).and_then(|v| v.as_n().ok()).cloned();
        assert_eq!(expires, at_rest.expires_at.map(|e| e.to_string()));
        return;
    }
    let report = run_purge(&app, 0).await;
    assert_eq!(report.audit_records, 1, "{report:?}");
    assert_eq!(stored("aged-91-days").await, None, "past its expiry: gone");
    assert!(stored("aged-89-days").await.is_some(), "not yet: kept");
}

#[tokio::test]
async fn findings_go_after_their_retention() {
    let app = spawn_app().await;
    let store = app.server.state.store.as_ref();
    let finding = shared::detector::Finding {
        id: uuid::Uuid::now_v7().to_string(),
        time: shared::audit::format_time(time::OffsetDateTime::now_utc()),
        pattern: shared::detector::Pattern::Enumeration,
        source: shared::detector::Source::Address("203.0.113.9".into()),
        count: 30,
        window_minutes: 5,
        request_id: "r".into(),
        blocked_until: None,
    };
    let put = shared::store::WriteOp::Put {
        item: shared::store::Item {
            key: shared::detector::finding_key(&finding),
            version: 1,
            body: serde_json::to_value(&finding).unwrap(),
        },
        condition: shared::store::Condition::Absent,
    };
    let meta = RequestMeta { request_id: "test-setup-finding".into(), ..RequestMeta::default() };
    store.commit(vec![put], &AuditDraft::new("detector-finding", "finding").finish(&meta, 201)).await.unwrap();
    assert_eq!(run_purge(&app, 364).await.findings, 0, "kept 365 days by default");
    assert_eq!(run_purge(&app, 366).await.findings, 1);
    assert!(store.query_keys(shared::detector::FINDINGS_PARTITION, "", None, 10).await.unwrap().items.is_empty());
}
