//! `/v1/ml/analyze` through the API: who may run it, and findings checked against what
//! was put into the data.

use reqwest::Method;
use serde_json::{Value, json};
use shared::audit::AuditDecision;
use shared::auth::Role;

use crate::helpers::{CALLERS, Caller, MatrixCase, RELATIONS, Relation, spawn_app};

/// 26 weeks of daily visits with a weekly pattern, a rising trend, a level shift up on
/// day 120, one spike on day 45, a few missing days, and a flat `stock` column.
fn visits_csv() -> String {
    let mut csv = String::from("day,visits,stock,site\n");
    for day in 0..182i64 {
        if [10, 11, 77].contains(&day) {
            continue;
        }
        let date = time::macros::date!(2024 - 01 - 01) + time::Duration::days(day);
        let weekly = [0.0, 8.0, 10.0, 9.0, 6.0, -14.0, -19.0][(day % 7) as usize];
        let shift = if day >= 120 { 60.0 } else { 0.0 };
        let spike = if day == 45 { 150.0 } else { 0.0 };
        let noise = ((day * 7919) % 13) as f64 * 0.3;
        csv.push_str(&format!("{date},{:.1},{},north\n", 100.0 + 0.1 * day as f64 + weekly + shift + spike + noise, 40 + day % 2));
    }
    csv
}

fn column<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["columns"].as_array().unwrap().iter().find(|c| c["column"] == name).unwrap_or_else(|| panic!("no `{name}` in {body}"))
}

fn flagged(finding: &Value) -> Vec<&str> {
    finding["points"].as_array().unwrap().iter().map(|p| p["timestamp"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_analysis_finds_what_was_put_into_the_data() {
    let app = spawn_app().await;
    let csv = visits_csv();
    let dataset = app.upload_csv("analyst-a", &csv).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    // Time column and numeric columns come from what the upload detected.
    let answer = app.call(Method::POST, "/v1/ml/analyze", Some(&token), Some(json!({"dataset_id": dataset}))).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    let body = &answer.body;
    assert_eq!((body["time_column"].as_str(), body["frequency"].as_str()), (Some("day"), Some("P1D")));
    assert_eq!(body["columns"].as_array().unwrap().len(), 2, "visits and stock; `site` is text");
    assert_eq!(body["notes"], json!([]));

    let visits = column(body, "visits");
    assert_eq!((visits["series"]["gaps"].as_u64(), visits["series"]["filled"].as_u64()), (Some(3), Some(3)));
    // Summary statistics of the observed values, recomputed here.
    let observed: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    let mean = observed.iter().sum::<f64>() / observed.len() as f64;
    let summary = &visits["summary"];
    assert_eq!(summary["count"].as_u64(), Some(179));
    assert!((summary["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    assert_eq!(summary["max"].as_f64(), observed.iter().copied().reduce(f64::max));
    assert_eq!((visits["first_timestamp"].as_str(), visits["last_timestamp"].as_str()), (Some("2024-01-01"), Some("2024-06-30")));

    assert_eq!(visits["seasonal_periods"][0]["period"], 7, "{}", visits["seasonal_periods"]);
    assert_eq!(visits["trend"]["direction"], "increasing");
    // The spike on day 45 (2024-02-15) is flagged by every rule, by its date.
    for method in ["zscore", "iqr", "mad"] {
        assert!(flagged(&visits["outliers"][method]).contains(&"2024-02-15"), "{method}: {}", visits["outliers"][method]);
    }
    // The level shift on day 120 (2024-04-30) is found within a week of it.
    let shifts: Vec<&str> = visits["changepoints"].as_array().unwrap().iter().map(|c| c["timestamp"].as_str().unwrap()).collect();
    assert!(shifts.iter().any(|t| ("2024-04-23".."2024-05-08").contains(t)), "changepoints {shifts:?} miss the shift on 2024-04-30");

    let stock = column(body, "stock");
    assert_eq!(stock["trend"]["direction"], "none");
    assert_eq!(stock["outliers"]["mad"]["count"], 0);

    let record = app.audit_for(&answer).await;
    assert_eq!((record.action.as_str(), record.resource_id.as_deref()), ("analyze-dataset", Some(dataset.as_str())));
}

#[tokio::test]
async fn analysis_follows_the_matrix_for_every_role_and_ownership() {
    let app = spawn_app().await;
    let csv = visits_csv();
    let mut n = 0;
    for caller in CALLERS {
        for relation in RELATIONS {
            n += 1;
            let MatrixCase { dataset, token, .. } = app.matrix_case(caller, relation, n, &csv).await;
            let expected = match (caller, relation) {
                (Caller::Anonymous, _) => 401,
                (Caller::Viewer, _) => 403,
                (Caller::Analyst, Relation::Other) => 404,
                _ => 200,
            };
            let body = json!({"dataset_id": dataset, "columns": ["visits"]});
            let answer = app.call(Method::POST, "/v1/ml/analyze", token.as_deref(), Some(body)).await;
            let label = format!("analyze by {caller:?} on {relation:?}");
            assert_eq!(answer.status.as_u16(), expected, "{label}: {}", answer.text);
            if expected != 200 {
                answer.assert_problem(expected);
            }
            let record = app.audit_for(&answer).await;
            let decision = match expected {
                200 => AuditDecision::Allow,
                401 => AuditDecision::NotEvaluated,
                _ => AuditDecision::Deny,
            };
            assert_eq!((record.status, record.decision), (expected, decision), "{label}");
        }
    }
}

#[tokio::test]
async fn a_wide_dataset_is_analysed_up_to_the_column_limit_and_says_so() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let header: Vec<String> = std::iter::once("day".to_owned()).chain((0..24).map(|c| format!("m{c}"))).collect();
    let mut csv = header.join(",") + "\n";
    for day in 0..30i64 {
        let date = time::macros::date!(2024 - 01 - 01) + time::Duration::days(day);
        let row: Vec<String> = std::iter::once(date.to_string()).chain((0..24).map(|c| ((day * (c + 3)) % 17).to_string())).collect();
        csv.push_str(&(row.join(",") + "\n"));
    }
    let dataset = app.upload_csv("analyst-a", &csv).await;
    let answer = app.call(Method::POST, "/v1/ml/analyze", Some(&token), Some(json!({"dataset_id": dataset}))).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
    assert_eq!(answer.body["columns"].as_array().unwrap().len(), 20);
    assert_eq!(answer.body["notes"], json!(["analysed the first 20 of 24 numeric columns; name others in `columns`"]));
}

#[tokio::test]
async fn bad_analysis_requests_name_the_problem() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let dataset = app.upload_csv("analyst-a", &visits_csv()).await;
    let no_time = app.upload_csv("analyst-a", "site,visits\nnorth,1\nsouth,2\n").await;
    let text_only = app.upload_csv("analyst-a", "day,site\n2024-01-01,north\n2024-01-02,south\n").await;
    let many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        ("unknown column", json!({"dataset_id": dataset, "columns": ["revenue"]}), 400, Some("columns")),
        ("text column", json!({"dataset_id": dataset, "columns": ["site"]}), 400, Some("columns")),
        ("unknown time column", json!({"dataset_id": dataset, "time_column": "when"}), 400, Some("time_column")),
        ("gaps refused on request", json!({"dataset_id": dataset, "missing": "reject"}), 400, Some("missing")),
        ("too many columns", json!({"dataset_id": dataset, "columns": many}), 400, Some("columns")),
        ("a column twice", json!({"dataset_id": dataset, "columns": ["visits", "visits"]}), 400, Some("columns")),
        ("no time column in the dataset", json!({"dataset_id": no_time}), 400, Some("time_column")),
        ("no numeric column in the dataset", json!({"dataset_id": text_only}), 400, Some("columns")),
        ("malformed dataset id", json!({"dataset_id": "../etc"}), 400, Some("dataset_id")),
        ("unknown field", json!({"dataset_id": dataset, "threshold": 2}), 400, None),
        ("no such dataset", json!({"dataset_id": "01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c"}), 404, None),
    ];
    for (name, body, status, field) in cases {
        let answer = app.call(Method::POST, "/v1/ml/analyze", Some(&token), Some(body)).await;
        answer.assert_problem(status);
        if let Some(field) = field {
            assert_eq!(answer.body["field"], field, "{name}: {}", answer.text);
        }
        assert_eq!(app.audit_for(&answer).await.status, status, "{name}");
    }
}
