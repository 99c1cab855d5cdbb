//! Audit records: present and complete for allowed, denied and failed requests, and no
//! data served or changed when the record cannot be written (SR-17, SR-18).

use std::sync::Arc;

use lambda_http::{Body, RequestExt};
use reqwest::Method;
use shared::Route;
use shared::audit::{AuditDecision, AuditOutcome, AuditRecord};
use shared::auth::Role;
use shared::store::{Item, ItemStore, Key, Page, StoreError, WriteOp};
use store_embedded::SqliteStore;

use crate::helpers::{in_process, sample_dataset, spawn_app};

#[tokio::test]
async fn allowed_denied_and_failed_requests_each_leave_a_complete_record() {
    let app = spawn_app().await;
    let owner = app.token("analyst-1", Role::Analyst).await;
    let id = app.create_dataset("analyst-1", "d").await;

    let allowed = app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&owner), None).await;
    let record = app.audit_for(&allowed).await;
    assert_eq!(record.actor.as_deref(), Some("analyst-1"));
    assert_eq!(record.actor_role, Some(Role::Analyst));
    assert_eq!(record.action, "get-dataset");
    assert_eq!(record.resource_type, "dataset");
    assert_eq!(record.resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(record.decision, AuditDecision::Allow);
    assert_eq!(record.policies, ["analyst-own-datasets"]);
    assert_eq!((record.outcome, record.status), (AuditOutcome::Success, 200));
    assert_eq!(record.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(record.user_agent.as_deref(), Some("api-tests/1.0"));
    assert_eq!(record.request_id, allowed.request_id());
    assert!(time::OffsetDateTime::parse(&record.time, &time::format_description::well_known::Rfc3339).is_ok());

    let viewer = app.token("viewer-1", Role::Viewer).await;
    let denied = app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&viewer), None).await;
    let record = app.audit_for(&denied).await;
    assert_eq!((record.decision, record.outcome, record.status), (AuditDecision::Deny, AuditOutcome::Failure, 404));
    assert_eq!(record.reason.as_deref(), Some("not-found"));

    let failed = app
        .call_with(
            Method::PATCH,
            &format!("/v1/datasets/{id}"),
            Some(&owner),
            Some(serde_json::json!({"name": ""})),
            &[("if-match", "\"1\"")],
        )
        .await;
    let record = app.audit_for(&failed).await;
    assert_eq!((record.decision, record.outcome, record.status), (AuditDecision::Allow, AuditOutcome::Failure, 400));
    assert_eq!(record.reason.as_deref(), Some("validation"));

    let created = app.call(Method::POST, "/v1/datasets", Some(&owner), Some(sample_dataset("e"))).await;
    let record = app.audit_for(&created).await;
    assert_eq!((record.action.as_str(), record.status), ("create-dataset", 201));
    assert_eq!(record.resource_id.as_deref(), created.body["id"].as_str());
}

#[tokio::test]
async fn records_hold_no_pii_values_or_request_bodies() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let secret_name = "Quarterly revenue for jane.doe@example.com";
    let mut body = sample_dataset(secret_name);
    body["csv"] = serde_json::Value::String("email,amount\njane.doe@example.com,12\njohn.roe@example.com,15\n".into());
    // Accepted: the record of a stored upload names the dataset, not what it holds.
    let created = app.call(Method::POST, "/v1/datasets", Some(&token), Some(body.clone())).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    let stored = app.audit_for(&created).await;
    assert_eq!(stored.resource_id.as_deref(), created.body["id"].as_str());
    // Refused: the record of a rejected one doesn't repeat the request either.
    body["owner"] = serde_json::Value::String("jane.doe@example.com".into());
    let refused = app.call(Method::POST, "/v1/datasets", Some(&token), Some(body)).await;
    refused.assert_problem(400);
    assert_eq!(app.audit_for(&refused).await.status, 400);

    let records = app.audit_records().await;
    assert!(records.len() >= 2);
    for record in records {
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains("jane.doe") && !text.contains("Quarterly") && !text.contains("john.roe"), "{text}");
    }
}

/// An item store whose audit table is down: reads and writes of items work, audit fails.
#[derive(Debug)]
pub struct AuditDown(pub Arc<SqliteStore>);

#[async_trait::async_trait]
impl ItemStore for AuditDown {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.0.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.0.get_many(keys).await
    }
    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        self.0.query_keys(pk, prefix, after, limit).await
    }
    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<shared::store::ScanPage, StoreError> {
        self.0.scan_keys(after, limit).await
    }
    async fn commit(&self, _writes: Vec<WriteOp>, _audit: &AuditRecord) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("audit table unreachable".into()))
    }
    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        self.0.increment(key, expires_at).await
    }
    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        self.0.counter(key, now).await
    }
    async fn append_audit(&self, _audit: &AuditRecord) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("audit table unreachable".into()))
    }
    async fn audit_newest_first(
        &self,
        source: shared::store::audit::AuditSource<'_>,
        range: &shared::store::audit::PositionRange,
        limit: usize,
    ) -> Result<shared::store::Page<shared::audit::AuditRecord>, shared::store::StoreError> {
        self.0.audit_newest_first(source, range, limit).await
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        self.0.erase_audit_identity(stored, erased).await
    }

    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, shared::store::StoreError> {
        self.0.purge_expired_audit(now, limit).await
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        self.0.audit_partition(pk, after, limit).await
    }
}

#[tokio::test]
async fn nothing_is_served_or_changed_when_the_audit_record_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(AuditDown(Arc::new(SqliteStore::in_memory().unwrap())));
    let (state, issuer) = in_process(store.clone(), dir.path());
    // The account exists from before the audit table went down.
    crate::helpers::register_in(&*crate::helpers::sealed(store.0.clone(), dir.path()), "analyst-1", Role::Analyst).await;
    let token = issuer.mint_access_token("analyst-1", "Alice Analyst", Role::Analyst).unwrap();

    let me =
        lambda_http::http::Request::builder().uri("/v1/me").header("authorization", format!("Bearer {token}")).body(Body::Empty).unwrap();
    let response = shared::handle(&state, Route::GetMe, me).await;
    assert_eq!(response.status().as_u16(), 503);
    let body = format!("{:?}", response.body());
    assert!(!body.contains("Alice"), "profile served without an audit record: {body}");

    let create = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/v1/datasets")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::Text(sample_dataset("d").to_string()))
        .unwrap()
        .with_path_parameters(std::collections::HashMap::<String, String>::new());
    let response = shared::handle(&state, Route::CreateDataset, create).await;
    assert_eq!(response.status().as_u16(), 503);
    let page = store.query_keys("ACCESS#analyst-1", "", None, 10).await.unwrap();
    assert!(page.items.is_empty(), "the mutation went through without its audit record");
    let leftovers = crate::helpers::files_below(&dir.path().join("blobs"));
    assert!(leftovers.is_empty(), "blob left behind: {leftovers:?}");
}

/// Collects log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A subscriber interested in every callsite and enabled for none, held while a test
/// captures logs on its own thread. With a single dispatcher registered, `tracing` lets
/// whichever thread first reaches a callsite fix its interest for the whole process, so a
/// sibling test with no subscriber could silence the capture's events; with this one also
/// registered, interest is taken from every live dispatcher.
struct Anchor;

impl tracing::Subscriber for Anchor {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn every_log_line_is_json_with_the_request_id_and_never_the_token() {
    let _anchor = tracing::Dispatch::new(Anchor);
    let dir = tempfile::tempdir().unwrap();
    let (state, issuer) = in_process(Arc::new(SqliteStore::in_memory().unwrap()), dir.path());
    let token = issuer.mint_access_token("analyst-1", "alice", Role::Analyst).unwrap();

    let captured = Captured::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(crate::helpers::register(&state, "analyst-1", Role::Analyst));
    tracing::subscriber::with_default(shared::telemetry::subscriber(true, captured.clone()), || {
        // Callsites a sibling test reached first are re-asked, now that both are registered.
        tracing::callsite::rebuild_interest_cache();
        runtime.block_on(async {
            for (route, authorization) in [(Route::GetMe, format!("Bearer {token}")), (Route::GetMe, "Bearer nope".to_owned())] {
                let request =
                    lambda_http::http::Request::builder().uri("/v1/me").header("authorization", authorization).body(Body::Empty).unwrap();
                shared::handle(&state, route, request).await;
            }
        });
    });

    let output = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = output.lines().collect();
    assert!(lines.len() >= 3, "{output}");
    for line in lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(entry["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
        assert!(!line.contains(&token[..40]), "token in the logs: {line}");
    }
    assert!(output.contains(r#""subject":"analyst-1""#), "the caller's subject id is on its lines: {output}");
}
