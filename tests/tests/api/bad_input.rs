//! Bad input on every route gets a 4xx problem+json and an audit record, never a 500,
//! and never a partial write (SR-34, SR-35).

use std::collections::HashMap;
use std::sync::Arc;

use lambda_http::{Body, RequestExt};
use reqwest::Method;
use serde_json::json;
use shared::Route;
use shared::audit::AuditOutcome;
use shared::auth::Role;
use shared::domain::ids::DatasetId;
use shared::keys::dataset as keys;
use store_embedded::SqliteStore;

use crate::helpers::{TestApp, in_process, in_process_trusting, sample_dataset, spawn_app};
use crate::racing::{Gate, RacingStore};

async fn dataset_count(app: &TestApp) -> usize {
    let admin = app.token("admin-count", Role::Admin).await;
    app.call(Method::GET, "/v1/datasets?limit=100", Some(&admin), None).await.body["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn malformed_create_requests_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let csv = "date,v\n2024-01-01,1\n";
    let json_cases: Vec<(&str, serde_json::Value, u16, &str)> = vec![
        ("owner set by the client", json!({"name": "x", "csv": csv, "owner": "admin"}), 400, "validation"),
        ("id set by the client", json!({"name": "x", "csv": csv, "id": "0190a0b0-0000-7000-8000-000000000000"}), 400, "validation"),
        ("created_at set by the client", json!({"name": "x", "csv": csv, "created_at": "2020-01-01"}), 400, "validation"),
        ("name of the wrong type", json!({"name": 7, "csv": csv}), 400, "validation"),
        ("csv missing", json!({"name": "x"}), 400, "validation"),
        ("empty name", json!({"name": "  ", "csv": csv}), 400, "validation"),
        ("name too long", json!({"name": "n".repeat(201), "csv": csv}), 400, "validation"),
        ("control characters in the name", json!({"name": "a\u{0007}b", "csv": csv}), 400, "validation"),
        ("a right-to-left override in the name", json!({"name": "invoice\u{202E}vsc.exe", "csv": csv}), 400, "validation"),
        ("a bidi isolate in the name", json!({"name": "a\u{2066}b\u{2069}", "csv": csv}), 400, "validation"),
        ("a zero-width space in the name", json!({"name": "admin\u{200B}", "csv": csv}), 400, "validation"),
        ("a bidi override in the description", json!({"name": "x", "description": "\u{202E}gnp", "csv": csv}), 400, "validation"),
        (
            "a bidi override in a column name",
            json!({"name": "x", "csv": "date,\u{202E}v\n2024-01-01,1\n2024-01-02,2\n"}),
            400,
            "validation",
        ),
        ("ragged CSV", json!({"name": "x", "csv": "a,b\n1\n"}), 400, "validation"),
        ("CSV with no rows", json!({"name": "x", "csv": "a,b\n"}), 400, "validation"),
        ("empty CSV", json!({"name": "x", "csv": ""}), 400, "validation"),
        ("one data row", json!({"name": "x", "csv": csv}), 400, "validation"),
        ("formula injection", json!({"name": "x", "csv": "date,v\n2024-01-01,1\n2024-01-02,=cmd|' /C calc'!A0\n"}), 400, "validation"),
        ("all-NaN column", json!({"name": "x", "csv": "date,v\n2024-01-01,NaN\n2024-01-02,\n"}), 400, "validation"),
        ("UTF-16 read as text", json!({"name": "x", "csv": "d\u{0}a\u{0}t\u{0}e\u{0}\n1\n2\n"}), 400, "validation"),
        (
            "cell over the length limit",
            json!({"name": "x", "csv": format!("date,v\n2024-01-01,{}\n2024-01-02,1\n", "x".repeat(1001))}),
            400,
            "validation",
        ),
        ("an array instead of an object", json!([1, 2]), 400, "validation"),
        ("semicolon-separated CSV", json!({"name": "x", "csv": "date;sales\n2024-01-01;1,5\n2024-01-02;2,5\n"}), 400, "validation"),
    ];
    for (name, body, status, kind) in json_cases {
        let answer = app.call(Method::POST, "/v1/datasets", Some(&token), Some(body)).await;
        assert_eq!(answer.assert_problem(status), kind, "{name}: {}", answer.text);
        assert!(answer.body["detail"].as_str().is_some_and(|d| d.len() > 10), "{name}: the problem is named: {}", answer.text);
        let record = app.audit_for(&answer).await;
        assert_eq!(record.outcome, AuditOutcome::Failure, "{name}");
        assert_eq!(record.reason.as_deref(), Some(kind), "{name}");
    }

    let raw_cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("truncated JSON", "application/json", br#"{"name": "x", "csv": "#.to_vec(), 400),
        ("not JSON at all", "application/json", b"name=x".to_vec(), 400),
        ("empty body", "application/json", Vec::new(), 400),
        ("invalid UTF-8", "application/json", vec![b'{', 0xff, 0xfe, b'}'], 400),
        ("form content type", "application/x-www-form-urlencoded", b"name=x&csv=a".to_vec(), 415),
        ("text content type", "text/csv", csv.as_bytes().to_vec(), 415),
        ("body over the limit", "application/json", vec![b' '; 6 * 1024 * 1024], 413),
    ];
    for (name, content_type, body, status) in raw_cases {
        let answer = app.call_raw(Method::POST, "/v1/datasets", Some(&token), content_type, body).await;
        answer.assert_problem(status);
        assert_eq!(app.audit_for(&answer).await.status, status, "{name}");
    }

    assert_eq!(dataset_count(&app).await, 0);
    let blobs = app.blob_keys().await;
    assert!(blobs.is_empty(), "a refused create left a blob behind: {blobs:?}");
}

#[tokio::test]
async fn bad_ids_cursors_and_limits_are_client_errors() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let id = app.create_dataset("analyst-1", "d").await;
    let other = app.create_dataset("analyst-2", "theirs").await;
    let cases: Vec<(Method, String, u16)> = vec![
        (Method::GET, "/v1/datasets/not-a-uuid".into(), 404),
        (Method::GET, "/v1/datasets/..%2F..%2Fetc%2Fpasswd".into(), 404),
        (Method::GET, format!("/v1/datasets/{}", id.to_uppercase()), 404),
        (Method::PATCH, "/v1/datasets/123".into(), 404),
        (Method::DELETE, "/v1/datasets/%00".into(), 404),
        (Method::PUT, format!("/v1/datasets/{id}/shares/bad%20user"), 400),
        (Method::PUT, format!("/v1/datasets/{id}/shares/{}", "u".repeat(200)), 400),
        (Method::PUT, format!("/v1/datasets/{id}/shares/analyst-1"), 400),
        // Someone else's dataset: the bad user id must not reveal that it exists.
        (Method::PUT, format!("/v1/datasets/{other}/shares/bad%20user"), 404),
        (Method::DELETE, format!("/v1/datasets/{other}/shares/bad%20user"), 404),
        (Method::GET, "/v1/datasets?cursor=not-a-cursor".into(), 400),
        (Method::GET, "/v1/datasets?cursor=REFUU0VUI3g".into(), 400),
        (Method::GET, "/v1/datasets?limit=0".into(), 400),
        (Method::GET, "/v1/datasets?limit=101".into(), 400),
        (Method::GET, "/v1/datasets?limit=abc".into(), 400),
        (Method::GET, "/v1/datasets?limit=1&limit=2".into(), 400),
    ];
    for (method, path, status) in cases {
        let answer = app.call(method.clone(), &path, Some(&token), None).await;
        answer.assert_problem(status);
        assert_eq!(app.audit_for(&answer).await.status, status, "{method} {path}");
    }
}

#[tokio::test]
async fn malformed_updates_change_nothing() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let id = app.create_dataset("analyst-1", "original").await;
    let path = format!("/v1/datasets/{id}");
    let before = app.call(Method::GET, &path, Some(&token), None).await.body;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"owner": "analyst-2"}),
        json!({"name": "ok", "readers": ["x"]}),
        json!({"description": 5}),
        json!({"name": "evil\u{202E}gpj.exe"}),
    ] {
        let answer = app.call_with(Method::PATCH, &path, Some(&token), Some(body.clone()), &[("if-match", "\"1\"")]).await;
        answer.assert_problem(400);
    }
    let answer = app.call_raw(Method::PATCH, &path, Some(&token), "text/plain", b"{}".to_vec()).await;
    answer.assert_problem(428);
    assert_eq!(app.call(Method::GET, &path, Some(&token), None).await.body, before);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_problems_too() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let unknown = app.call(Method::GET, "/v1/nothing-here", Some(&token), None).await;
    unknown.assert_problem(404);
    assert!(unknown.headers.get("allow").is_none());
    let cases = [
        (Method::POST, "/v1/me".to_owned(), "GET, OPTIONS"),
        (Method::PUT, "/v1/datasets".to_owned(), "POST, GET, OPTIONS"),
        (Method::POST, "/v1/datasets/01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c".to_owned(), "GET, PATCH, DELETE, OPTIONS"),
        (Method::GET, "/v1/datasets/01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c/shares/u-1".to_owned(), "PUT, DELETE, OPTIONS"),
        (Method::DELETE, "/health".to_owned(), "GET, OPTIONS"),
    ];
    for (method, path, allow) in cases {
        let answer = if path == "/v1/datasets" {
            app.call(method.clone(), &path, Some(&token), Some(sample_dataset("x"))).await
        } else {
            app.call(method.clone(), &path, Some(&token), None).await
        };
        answer.assert_problem(405);
        assert_eq!(answer.headers.get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
    }
}

/// Eight clients read version 1 and edit it at once. The store holds every commit until
/// all eight have read the dataset and passed their `If-Match` check, so the race is real:
/// all eight commits reach the store, and its version condition lets exactly one through.
#[tokio::test]
async fn concurrent_edits_based_on_one_version_let_exactly_one_through() {
    const CLIENTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let setup = Arc::new(SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap());
    let (state, issuer) = in_process(setup, dir.path());
    crate::helpers::register(&state, "analyst-1", Role::Analyst).await;
    let token = issuer.mint_access_token("analyst-1", "analyst-1", Role::Analyst).unwrap();
    let request = |method: &str, body: Option<serde_json::Value>, id: Option<&str>| {
        let mut builder = lambda_http::http::Request::builder()
            .method(method)
            .uri("/v1/datasets")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if id.is_some() {
            builder = builder.header("if-match", "\"1\"");
        }
        let params: HashMap<String, String> = id.map(|id| ("datasetId".to_owned(), id.to_owned())).into_iter().collect();
        builder.body(body.map_or(Body::Empty, |b| Body::Text(b.to_string()))).unwrap().with_path_parameters(params)
    };
    let created = shared::handle(&state, Route::CreateDataset, request("POST", Some(sample_dataset("d")), None)).await;
    assert_eq!(created.status().as_u16(), 201);
    let Body::Text(text) = created.body() else { panic!("no body") };
    let id = serde_json::from_str::<serde_json::Value>(text).unwrap()["id"].as_str().unwrap().to_owned();

    // The same data folder, now behind a store that makes the eight commits race.
    let gate = Gate::CommitOf(keys::record(&DatasetId::parse(&id).unwrap()));
    let racing = Arc::new(RacingStore::new(SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap(), gate, CLIENTS));
    let state = in_process_trusting(racing.clone(), dir.path(), &issuer);
    let edits = (0..CLIENTS).map(|i| {
        let edit = request("PATCH", Some(json!({"description": format!("edit {i}")})), Some(&id));
        shared::handle(&state, Route::UpdateDataset, edit)
    });
    let answers = futures::future::join_all(edits).await;
    assert_eq!(racing.commits(), (CLIENTS, CLIENTS - 1), "every edit reached the store, all but one were refused there");
    let statuses: Vec<u16> = answers.iter().map(|a| a.status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        CLIENTS - 1,
        "a lost race under If-Match is a failed precondition: {statuses:?}"
    );

    let winner = answers.iter().find(|a| a.status().as_u16() == 200).unwrap();
    assert_eq!(winner.headers().get("etag").and_then(|v| v.to_str().ok()), Some("\"2\""));
    let Body::Text(won) = winner.body() else { panic!("no body") };
    let stored = state.store.get(&keys::record(&DatasetId::parse(&id).unwrap())).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.body["description"],
        serde_json::from_str::<serde_json::Value>(won).unwrap()["description"],
        "the stored edit is the one accepted"
    );
}

#[tokio::test]
async fn changes_honour_if_match_and_a_rename_requires_it() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let id = app.create_dataset("analyst-1", "d").await;
    let path = format!("/v1/datasets/{id}");
    let rename = |name: &str| Some(json!({"name": name}));

    let missing = app.call(Method::PATCH, &path, Some(&token), rename("x")).await;
    assert_eq!(missing.assert_problem(428), "precondition-required");
    for stale in ["\"7\"", "W/\"1\"", "\"0\", \"2\""] {
        let answer = app.call_with(Method::PATCH, &path, Some(&token), rename("x"), &[("if-match", stale)]).await;
        assert_eq!(answer.assert_problem(412), "precondition-failed", "{stale}");
        assert_eq!(app.audit_for(&answer).await.reason.as_deref(), Some("precondition-failed"));
    }
    let malformed = app.call_with(Method::PATCH, &path, Some(&token), rename("x"), &[("if-match", "1")]).await;
    assert_eq!(malformed.assert_problem(400), "validation");
    let renamed = app.call_with(Method::PATCH, &path, Some(&token), rename("first"), &[("if-match", "\"1\"")]).await;
    assert_eq!((renamed.status.as_u16(), renamed.etag()), (200, Some("\"2\"")));
    let any = app.call_with(Method::PATCH, &path, Some(&token), rename("second"), &[("if-match", "*")]).await;
    assert_eq!((any.status.as_u16(), any.etag()), (200, Some("\"3\"")));

    // Sharing and deleting take If-Match when given, and go ahead without one.
    let share = format!("{path}/shares/viewer-1");
    app.call_with(Method::PUT, &share, Some(&token), None, &[("if-match", "\"1\"")]).await.assert_problem(412);
    let shared = app.call_with(Method::PUT, &share, Some(&token), None, &[("if-match", "\"3\"")]).await;
    assert_eq!((shared.status.as_u16(), shared.etag()), (204, Some("\"4\"")));
    app.call_with(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"3\"")]).await.assert_problem(412);
    assert_eq!(app.call(Method::GET, &path, Some(&token), None).await.body["name"], "second", "a refused delete changed nothing");
    assert_eq!(app.call(Method::DELETE, &path, Some(&token), None).await.status.as_u16(), 204);

    // A precondition never tells a stranger that the dataset exists.
    let other = app.create_dataset("analyst-2", "theirs").await;
    let answer = app.call_with(Method::PATCH, &format!("/v1/datasets/{other}"), Some(&token), rename("x"), &[("if-match", "\"9\"")]).await;
    answer.assert_problem(404);
}

#[tokio::test]
async fn forecasts_carry_an_etag_and_their_delete_honours_if_match() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let mut csv = String::from("date,v\n");
    for day in 0..30 {
        csv.push_str(&format!("{},{}\n", time::macros::date!(2024 - 01 - 01) + time::Duration::days(day), 10 + day % 7));
    }
    let dataset = app.upload_csv("analyst-1", &csv).await;
    let body = json!({"dataset_id": dataset, "time_column": "date", "target_column": "v", "horizon": 3, "models": ["naive"]});
    let made = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(body)).await;
    assert_eq!((made.status.as_u16(), made.etag()), (201, Some("\"1\"")));
    let path = format!("/v1/forecasts/{}", made.body["id"].as_str().unwrap());
    assert_eq!(app.call(Method::GET, &path, Some(&token), None).await.etag(), Some("\"1\""));
    app.call_with(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"2\"")]).await.assert_problem(412);
    assert_eq!(app.call_with(Method::DELETE, &path, Some(&token), None, &[("if-match", "\"1\"")]).await.status.as_u16(), 204);
}
