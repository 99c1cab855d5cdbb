//! The warm handler path in process on the embedded store: principal from a bearer
//! token, its security record and rate counter, policy decision, store read, audit write,
//! response; then a list of 50 of the
//! caller's datasets, which should cost a few single reads. Reports percentiles over many
//! sequential requests (criterion reports means, the budget is a p99).
//! `cargo bench -p benches --bench warm_path`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark set-up fails loudly")]

use std::time::{Duration, Instant};

use lambda_http::{Body, RequestExt};
use shared::Route;
use shared::auth::Role;

const WARMUP: usize = 500;
const REQUESTS: usize = 20_000;

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut state, issuer) = benches::embedded_app(dir.path()).unwrap();
    // Every request is still counted (that cost is part of the path), never refused.
    state.limits.api_rate = shared::state::ApiRate { user: u64::MAX, admin: u64::MAX };
    let token = issuer.mint_access_token(benches::ANALYST, "alice", Role::Analyst).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let request = |route: Route, body: Option<String>, id: Option<&str>| {
        let mut builder =
            lambda_http::http::Request::builder().method(route.method()).uri("/").header("authorization", format!("Bearer {token}"));
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let params: std::collections::HashMap<String, String> = id.map(|id| ("datasetId".to_owned(), id.to_owned())).into_iter().collect();
        builder.body(body.map_or(Body::Empty, Body::Text)).unwrap().with_path_parameters(params)
    };

    let created = runtime.block_on(shared::handle(
        &state,
        Route::CreateDataset,
        request(Route::CreateDataset, Some(r#"{"name":"bench","csv":"date,v\n2024-01-01,1\n2024-01-02,2\n"}"#.into()), None),
    ));
    assert_eq!(created.status(), 201);
    let body: serde_json::Value = match created.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    let id = body["id"].as_str().unwrap().to_owned();

    let measure = |route: Route, id: Option<&str>, query: Option<&str>, count: usize| {
        let mut latencies = Vec::with_capacity(count);
        for i in 0..WARMUP + count {
            let mut req = request(route, None, id);
            if let Some(query) = query {
                let params: std::collections::HashMap<String, Vec<String>> =
                    query.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), vec![v.to_owned()])).collect();
                req = req.with_query_string_parameters(params);
            }
            let started = Instant::now();
            let response = runtime.block_on(shared::handle(&state, route, req));
            let elapsed = started.elapsed();
            assert_eq!(response.status(), 200);
            if i >= WARMUP {
                latencies.push(elapsed);
            }
        }
        latencies.sort();
        latencies
    };
    let report = |label: &str, latencies: &[Duration]| {
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "{label}, {} sequential requests:\n  p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
            latencies.len(),
            micros(at(0.50)),
            micros(at(0.90)),
            micros(at(0.99)),
            micros(*latencies.last().unwrap())
        );
    };
    let single = measure(Route::GetDataset, Some(&id), None, REQUESTS);
    report("warm GET /v1/datasets/{id} (verify token, Cedar decision, SQLite read, audit insert)", &single);

    let csv = r#"{"name":"bench","csv":"date,sales,region\n2024-01-01,10,north\n2024-01-02,12.5,south\n2024-01-03,,north\n2024-01-04,11,north\n2024-01-05,13,south\n"}"#;
    for _ in 1..50 {
        let created = runtime.block_on(shared::handle(&state, Route::CreateDataset, request(Route::CreateDataset, Some(csv.into()), None)));
        assert_eq!(created.status(), 201);
    }
    let params: std::collections::HashMap<String, Vec<String>> = [("limit".to_owned(), vec!["50".to_owned()])].into();
    let page = runtime.block_on(shared::handle(
        &state,
        Route::ListDatasets,
        request(Route::ListDatasets, None, None).with_query_string_parameters(params),
    ));
    let Body::Text(text) = page.body() else { panic!("list without a body") };
    assert_eq!(serde_json::from_str::<serde_json::Value>(text).unwrap()["items"].as_array().unwrap().len(), 50);
    let list = measure(Route::ListDatasets, None, Some("limit=50"), REQUESTS / 4);
    report("warm GET /v1/datasets?limit=50 (50 of the caller's datasets)", &list);
}
