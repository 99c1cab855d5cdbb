//! No hot partitions on the write path: a synthetic load of many users through the real
//! handlers, over a store that counts the write capacity each partition key takes, must
//! project under DynamoDB's per-partition limit at the design target of 1,000 requests/s
//! (the arithmetic is in `docs/partitions.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lambda_http::{Body, RequestExt};
use serde_json::json;
use shared::audit::AuditRecord;
use shared::auth::Role;
use shared::store::{Item, ItemStore, Key, Page, StoreError, WriteOp};
use shared::{AppState, Route};
use store_embedded::SqliteStore;

use crate::helpers::{SAMPLE_CSV, in_process};

/// DynamoDB's write limit per partition, in write capacity units per second.
const PARTITION_WCU_PER_SECOND: f64 = 1_000.0;
/// The sustained request rate the layout is designed for.
const TARGET_REQUESTS_PER_SECOND: f64 = 1_000.0;

/// Write capacity of one item written inside a transaction: 2 units per started KB.
fn transactional_wcu(bytes: usize) -> f64 {
    2.0 * bytes.div_ceil(1024).max(1) as f64
}

/// An item store that counts the write capacity taken per partition key.
#[derive(Debug)]
struct Counting {
    inner: SqliteStore,
    wcu: Mutex<HashMap<String, f64>>,
}

impl Counting {
    fn add(&self, pk: &str, bytes: usize) {
        *self.wcu.lock().unwrap().entry(pk.to_owned()).or_default() += transactional_wcu(bytes);
    }

    fn add_audit(&self, audit: &AuditRecord) {
        self.add(&shared::store::audit::partition(audit), serde_json::to_string(audit).unwrap().len() + 64);
    }
}

#[async_trait::async_trait]
impl ItemStore for Counting {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        self.inner.query_keys(pk, prefix, after, limit).await
    }
    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<shared::store::ScanPage, StoreError> {
        self.inner.scan_keys(after, limit).await
    }
    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        for write in &writes {
            match write {
                WriteOp::Put { item, .. } => self.add(&item.key.pk, item.body.to_string().len() + item.key.pk.len() + item.key.sk.len()),
                WriteOp::Delete { key, .. } => self.add(&key.pk, 64),
            }
        }
        self.add_audit(audit);
        self.inner.commit(writes, audit).await
    }
    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        self.inner.increment(key, expires_at).await
    }
    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        self.inner.counter(key, now).await
    }
    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        self.add_audit(audit);
        self.inner.append_audit(audit).await
    }
    async fn audit_newest_first(
        &self,
        source: shared::store::audit::AuditSource<'_>,
        range: &shared::store::audit::PositionRange,
        limit: usize,
    ) -> Result<shared::store::Page<shared::audit::AuditRecord>, shared::store::StoreError> {
        self.inner.audit_newest_first(source, range, limit).await
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        self.inner.erase_audit_identity(stored, erased).await
    }

    async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, shared::store::StoreError> {
        self.inner.purge_expired_audit(now, limit).await
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        self.inner.audit_partition(pk, after, limit).await
    }
}

fn request(method: &str, uri: &str, token: &str, body: Option<serde_json::Value>, params: &[(&str, &str)]) -> lambda_http::Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("if-match", "*");
    let body = match body {
        Some(json) => {
            builder = builder.header("content-type", "application/json");
            Body::Text(json.to_string())
        }
        None => Body::Empty,
    };
    let params: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    builder.body(body).unwrap().with_path_parameters(params)
}

async fn call(state: &AppState, route: Route, req: lambda_http::Request) -> lambda_http::Response<Body> {
    shared::handle(state, route, req).await
}

#[tokio::test]
async fn no_partition_takes_more_than_half_its_limit_at_the_target_rate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Counting { inner: SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap(), wcu: Mutex::default() });
    let (state, issuer) = in_process(store.clone(), dir.path());

    // 40 analysts and 40 viewers: each analyst creates datasets, reads, lists, renames and
    // shares them; each viewer lists and reads what is shared. Writes dominate on purpose.
    let mut requests = 0usize;
    for user in 0..40 {
        let analyst = format!("analyst-{user}");
        let viewer = format!("viewer-{user}");
        crate::helpers::register(&state, &analyst, Role::Analyst).await;
        crate::helpers::register(&state, &viewer, Role::Viewer).await;
        let token = issuer.mint_access_token(&analyst, &analyst, Role::Analyst).unwrap();
        let viewer_token = issuer.mint_access_token(&viewer, &viewer, Role::Viewer).unwrap();
        for n in 0..5 {
            let created = call(
                &state,
                Route::CreateDataset,
                request("POST", "/v1/datasets", &token, Some(json!({"name": format!("d{n}"), "csv": SAMPLE_CSV})), &[]),
            )
            .await;
            assert_eq!(created.status().as_u16(), 201, "{:?}", created.body());
            let Body::Text(text) = created.body() else { panic!("no body") };
            let id = serde_json::from_str::<serde_json::Value>(text).unwrap()["id"].as_str().unwrap().to_owned();
            let one = format!("/v1/datasets/{id}");
            let patch = request("PATCH", &one, &token, Some(json!({"name": format!("renamed {n}")})), &[("datasetId", &id)]);
            let share = request("PUT", &format!("{one}/shares/{viewer}"), &token, None, &[("datasetId", &id), ("userId", &viewer)]);
            let calls = [
                (Route::GetDataset, request("GET", &one, &token, None, &[("datasetId", &id)])),
                (Route::UpdateDataset, patch),
                (Route::ShareDataset, share),
                (Route::ListDatasets, request("GET", "/v1/datasets", &token, None, &[])),
                (Route::GetDataset, request("GET", &one, &viewer_token, None, &[("datasetId", &id)])),
                (Route::ListDatasets, request("GET", "/v1/datasets", &viewer_token, None, &[])),
                (Route::GetMe, request("GET", "/v1/me", &viewer_token, None, &[])),
            ];
            for (route, req) in calls {
                let response = call(&state, route, req).await;
                assert!(response.status().is_success(), "{route:?}: {:?}", response.body());
            }
            requests += 8;
        }
    }

    let wcu = store.wcu.lock().unwrap().clone();
    let total: f64 = wcu.values().sum();
    let (hottest, taken) = wcu.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, v)| (k.clone(), *v)).unwrap();
    // What the hottest partition would take per second if this mix ran at the target rate.
    let projected = taken / requests as f64 * TARGET_REQUESTS_PER_SECOND;
    println!(
        "{requests} requests, {total:.0} WCU in {} partitions; hottest `{hottest}` {taken:.0} WCU ({:.1} %): {projected:.0} WCU/s at {TARGET_REQUESTS_PER_SECOND} requests/s",
        wcu.len(),
        100.0 * taken / total
    );
    assert!(
        projected <= PARTITION_WCU_PER_SECOND / 2.0,
        "`{hottest}` would take {projected:.0} WCU/s at {TARGET_REQUESTS_PER_SECOND} requests/s ({:.1} % of all writes)",
        100.0 * taken / total
    );
    // The audit trail spreads over its shards: every day's shard takes a share.
    let audit_partitions = wcu.keys().filter(|k| k.starts_with("AUDIT#")).count();
    assert_eq!(
        audit_partitions as u32,
        shared::audit::AUDIT_SHARDS,
        "{:?}",
        wcu.keys().filter(|k| k.starts_with("AUDIT#")).collect::<Vec<_>>()
    );
}
