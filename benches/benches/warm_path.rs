//! The warm handler path in process on the embedded store: principal from a bearer
//! token, policy decision, store read, audit write, response. Reports percentiles over
//! many sequential requests (criterion reports means, the budget is a p99).
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
    let (state, issuer) = benches::embedded_app(dir.path()).unwrap();
    let token = issuer.mint_access_token("analyst-1", "alice", Role::Analyst).unwrap();
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

    let mut latencies = Vec::with_capacity(REQUESTS);
    for i in 0..WARMUP + REQUESTS {
        let req = request(Route::GetDataset, None, Some(&id));
        let started = Instant::now();
        let response = runtime.block_on(shared::handle(&state, Route::GetDataset, req));
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 200);
        if i >= WARMUP {
            latencies.push(elapsed);
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "warm GET /v1/datasets/{{id}} (verify token, Cedar decision, SQLite read, audit insert), {REQUESTS} sequential requests:\n  p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
        micros(at(0.50)),
        micros(at(0.90)),
        micros(at(0.99)),
        micros(*latencies.last().unwrap())
    );
}
