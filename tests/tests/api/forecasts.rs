//! Forecasts through the API: the permission matrix, the dataset's own calendar, metrics
//! checked independently, and bad requests.

use reqwest::Method;
use serde_json::{Value, json};
use shared::audit::AuditDecision;
use shared::auth::Role;

use crate::helpers::{CALLERS, Caller, MatrixCase, RELATIONS, Relation, spawn_app};

/// Daily sales over `days` days from 2022-01-03 with a weekly and a yearly pattern and a
/// gentle trend; the days in `skip` have no row at all.
fn seasonal_csv(days: i64, skip: &[i64]) -> String {
    let mut csv = String::from("date,store,sales\n");
    for day in 0..days {
        if skip.contains(&day) {
            continue;
        }
        let date = time::macros::date!(2022 - 01 - 03) + time::Duration::days(day);
        let weekly = [0.0, 6.0, 9.0, 5.0, 2.0, -10.0, -12.0][(day % 7) as usize];
        let yearly = 15.0 * (2.0 * std::f64::consts::PI * day as f64 / 365.25).sin();
        let noise = ((day * 7919) % 11) as f64 * 0.2;
        csv.push_str(&format!("{date},north,{:.2}\n", 200.0 + 0.05 * day as f64 + weekly + yearly + noise));
    }
    csv
}

fn request(dataset: &str, horizon: usize) -> Value {
    json!({"dataset_id": dataset, "time_column": "date", "target_column": "sales", "horizon": horizon, "missing": "interpolate"})
}

#[tokio::test]
async fn a_forecast_follows_the_datasets_calendar_and_its_metrics_check_out() {
    let app = spawn_app().await;
    // Three years, with a few days missing.
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(3 * 365, &[40, 41, 500, 900])).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let answer = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(request(&dataset, 28))).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    let body = &answer.body;
    let result = &body["result"];

    // The series' own axis: daily, continuing the day after the last row (2025-01-01).
    assert_eq!(result["frequency"], "P1D");
    assert_eq!(result["seasonal_periods"], json!([7, 365]));
    let timestamps: Vec<&str> = result["timestamps"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(timestamps.len(), 28);
    assert_eq!(timestamps[0], "2025-01-02");
    assert_eq!(timestamps[27], "2025-01-29");
    assert_eq!(body["series"]["gaps"], 4);
    assert_eq!(body["series"]["filled"], 4);

    // Intervals nest and widen with the horizon.
    let intervals = result["intervals"].as_array().unwrap();
    assert_eq!(intervals.len(), 2);
    let bound = |i: usize, side: &str, h: usize| intervals[i][side][h].as_f64().unwrap();
    let point = |h: usize| result["point"][h].as_f64().unwrap();
    for h in 0..28 {
        assert!(bound(1, "lower", h) <= bound(0, "lower", h) && bound(0, "lower", h) <= point(h));
        assert!(point(h) <= bound(0, "upper", h) && bound(0, "upper", h) <= bound(1, "upper", h));
    }
    assert!(bound(1, "upper", 27) - bound(1, "lower", 27) > bound(1, "upper", 0) - bound(1, "lower", 0));

    // The model's cross-validation metrics, recomputed here from its forecasts at each
    // origin: means over the windows, each scaled by its own training part.
    let backtest = &result["backtest"];
    let holdout = backtest["holdout"].as_u64().unwrap() as usize;
    let windows = backtest["windows"].as_u64().unwrap() as usize;
    let season = backtest["mase_season"].as_u64().unwrap() as usize;
    assert_eq!((holdout, windows, season), (28, 3, 7));
    let mut values: Vec<f64> = seasonal_values(3 * 365);
    // The four missing days were interpolated linearly; recompute them the same way.
    for (a, b) in [(39usize, 42usize), (499, 501), (899, 901)] {
        for k in a + 1..b {
            values[k] = values[a] + (values[b] - values[a]) * (k - a) as f64 / (b - a) as f64;
        }
    }
    // Weekly and yearly seasons: MSTL over both beats every other candidate by more than
    // the combination's margin, so it is used alone (and reports its own metrics).
    assert_eq!(result["model"]["kind"], "mstl_ets", "{}", result["model"]);
    assert!(result.get("members").is_none());
    let used = [json!({"model": result["model"], "accuracy": result["accuracy"]})];
    for member in &used {
        let candidate = backtest["candidates"].as_array().unwrap().iter().find(|c| c["model"] == member["model"]["kind"]).unwrap();
        let predicted: Vec<f64> = candidate["holdout_forecast"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(predicted.len(), windows * holdout);
        let (mut mae, mut rmse, mut mase) = (0.0, 0.0, 0.0);
        for (w, forecast) in predicted.chunks(holdout).enumerate() {
            let cut = values.len() - (windows - w) * holdout;
            let (train, actual) = (&values[..cut], &values[cut..cut + holdout]);
            let window_mae = actual.iter().zip(forecast).map(|(a, p)| (a - p).abs()).sum::<f64>() / holdout as f64;
            let scale = train.windows(season + 1).map(|w| (w[season] - w[0]).abs()).sum::<f64>() / (train.len() - season) as f64;
            mae += window_mae / windows as f64;
            rmse += (actual.iter().zip(forecast).map(|(a, p)| (a - p).powi(2)).sum::<f64>() / holdout as f64).sqrt() / windows as f64;
            mase += window_mae / scale / windows as f64;
        }
        let metrics = &candidate["accuracy"];
        assert!((metrics["mae"].as_f64().unwrap() - mae).abs() < 1e-6, "{metrics} vs mae {mae}");
        assert!((metrics["rmse"].as_f64().unwrap() - rmse).abs() < 1e-6);
        assert!((metrics["mase"].as_f64().unwrap() - mase).abs() < 1e-6);
        assert_eq!(member["accuracy"], *metrics, "the headline metrics are the model's cross-validation metrics");
    }

    // It reads back as stored, and the audit names it.
    let id = body["id"].as_str().unwrap();
    let read = app.call(Method::GET, &format!("/v1/forecasts/{id}"), Some(&token), None).await;
    assert_eq!(read.status.as_u16(), 200);
    // Byte for byte: every float of the stored result reads back exactly as it was sent.
    assert_eq!(read.text, answer.text);
    let record = app.audit_for(&answer).await;
    assert_eq!((record.action.as_str(), record.resource_id.as_deref()), ("create-forecast", Some(id)));
}

/// The ids on a page of forecasts.
fn listed(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| items.iter().map(|f| f["id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

/// The CSV's values, before gaps (same formula as `seasonal_csv`, rounded as written).
fn seasonal_values(days: i64) -> Vec<f64> {
    seasonal_csv(days, &[]).lines().skip(1).map(|line| line.rsplit(',').next().unwrap().parse::<f64>().unwrap()).collect()
}

#[tokio::test]
async fn forecast_routes_follow_the_matrix_for_every_role_and_ownership() {
    let app = spawn_app().await;
    let csv = seasonal_csv(60, &[]);
    let mut n = 0;
    for caller in CALLERS {
        for relation in RELATIONS {
            n += 1;
            let MatrixCase { sub, owner, dataset, token } = app.matrix_case(caller, relation, n, &csv).await;

            // Running a forecast on the dataset.
            let expected_create = match (caller, relation) {
                (Caller::Anonymous, _) => 401,
                (Caller::Viewer, _) => 403,
                (Caller::Admin, _) => 201,
                (Caller::Analyst, Relation::Other) => 404,
                (Caller::Analyst, _) => 201,
            };
            let answer = app.call(Method::POST, "/v1/forecasts", token.as_deref(), Some(request(&dataset, 7))).await;
            let label = format!("create by {caller:?} on {relation:?}");
            assert_eq!(answer.status.as_u16(), expected_create, "{label}: {}", answer.text);
            let record = app.audit_for(&answer).await;
            assert_eq!(record.status, expected_create, "{label}");
            assert_eq!(
                record.decision,
                match expected_create {
                    201 => AuditDecision::Allow,
                    401 => AuditDecision::NotEvaluated,
                    _ => AuditDecision::Deny,
                },
                "{label}"
            );

            // Reading a forecast: the caller's own (made while an analyst, for viewers),
            // one on a dataset shared with them, or someone else's.
            let author = if relation == Relation::Own && caller != Caller::Anonymous { sub.clone() } else { owner.clone() };
            let made =
                app.call(Method::POST, "/v1/forecasts", Some(&app.token(&author, Role::Analyst).await), Some(request(&dataset, 7))).await;
            assert_eq!(made.status.as_u16(), 201, "{}", made.text);
            let forecast = made.body["id"].as_str().unwrap();
            // The author's token made them an analyst again; the caller is back in their role.
            if let Some(role) = caller.role() {
                app.register(&sub, role).await;
            }
            let expected_get = match (caller, relation) {
                (Caller::Anonymous, _) => 401,
                (Caller::Admin, _) => 200,
                (Caller::Analyst, Relation::Other) | (Caller::Viewer, Relation::Other) => 404,
                // A viewer who made it as an analyst no longer reads it by ownership.
                (Caller::Viewer, Relation::Own) => 404,
                _ => 200,
            };
            let answer = app.call(Method::GET, &format!("/v1/forecasts/{forecast}"), token.as_deref(), None).await;
            let label = format!("get by {caller:?} on {relation:?}");
            assert_eq!(answer.status.as_u16(), expected_get, "{label}: {}", answer.text);
            assert_eq!(app.audit_for(&answer).await.status, expected_get, "{label}");
            for format in ["csv", "json"] {
                let answer =
                    app.call(Method::GET, &format!("/v1/forecasts/{forecast}/export?format={format}"), token.as_deref(), None).await;
                let label = format!("export as {format} by {caller:?} on {relation:?}");
                assert_eq!(answer.status.as_u16(), expected_get, "{label}: {}", answer.text);
                let record = app.audit_for(&answer).await;
                assert_eq!((record.status, record.action.as_str()), (expected_get, "export-forecast"), "{label}");
            }

            // Listing the dataset's forecasts: whoever may read the dataset sees the ones
            // they may read; anyone else learns nothing about the dataset.
            let expected_list = match (caller, relation) {
                (Caller::Anonymous, _) => 401,
                (Caller::Admin, _) | (_, Relation::Shared) | (Caller::Analyst, Relation::Own) => 200,
                _ => 404,
            };
            let answer = app.call(Method::GET, &format!("/v1/forecasts?dataset_id={dataset}"), token.as_deref(), None).await;
            let label = format!("list by {caller:?} on {relation:?}");
            assert_eq!(answer.status.as_u16(), expected_list, "{label}: {}", answer.text);
            if expected_list == 200 {
                assert!(listed(&answer.body).contains(&forecast.to_owned()), "{label}: {}", answer.text);
            } else {
                answer.assert_problem(expected_list);
            }
            assert_eq!(app.audit_for(&answer).await.status, expected_list, "{label}");
            // The caller's own list holds it only if they ran it and may still read it (or are an admin).
            if let Some(token) = &token {
                let own = app.call(Method::GET, "/v1/forecasts", Some(token), None).await;
                let expected_in_own = caller == Caller::Admin || (caller == Caller::Analyst && relation == Relation::Own);
                assert_eq!(listed(&own.body).contains(&forecast.to_owned()), expected_in_own, "own list by {caller:?} on {relation:?}");
            }

            // Deleting it: its owner and admins may; readers are refused openly; others get 404.
            let expected_delete = match (caller, relation) {
                (Caller::Anonymous, _) => 401,
                (Caller::Admin, _) | (Caller::Analyst, Relation::Own) => 204,
                (_, Relation::Shared) => 403,
                _ => 404,
            };
            let answer = app.call(Method::DELETE, &format!("/v1/forecasts/{forecast}"), token.as_deref(), None).await;
            let label = format!("delete by {caller:?} on {relation:?}");
            assert_eq!(answer.status.as_u16(), expected_delete, "{label}: {}", answer.text);
            let record = app.audit_for(&answer).await;
            let resource = (caller != Caller::Anonymous).then_some(forecast);
            assert_eq!((record.status, record.resource_id.as_deref()), (expected_delete, resource), "{label}");
            let afterwards =
                app.call(Method::GET, &format!("/v1/forecasts/{forecast}"), Some(&app.token(&author, Role::Analyst).await), None).await;
            assert_eq!(afterwards.status.as_u16(), if expected_delete == 204 { 404 } else { 200 }, "{label}: afterwards");
        }
    }
}

#[tokio::test]
async fn a_datasets_owner_reads_the_forecasts_its_readers_ran_but_cannot_delete_them() {
    let app = spawn_app().await;
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(60, &[])).await;
    app.share("analyst-a", &dataset, "analyst-b").await;
    let reader = app.token("analyst-b", Role::Analyst).await;
    let made = app.call(Method::POST, "/v1/forecasts", Some(&reader), Some(request(&dataset, 7))).await;
    assert_eq!(made.status.as_u16(), 201, "{}", made.text);
    let forecast = made.body["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/forecasts/{forecast}");

    let owner = app.token("analyst-a", Role::Analyst).await;
    let read = app.call(Method::GET, &path, Some(&owner), None).await;
    assert_eq!(read.status.as_u16(), 200, "{}", read.text);
    assert_eq!(app.audit_for(&read).await.policies, ["dataset-owner-forecast-read"]);
    let export = app.call(Method::GET, &format!("{path}/export"), Some(&owner), None).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.text);
    let list = app.call(Method::GET, &format!("/v1/forecasts?dataset_id={dataset}"), Some(&owner), None).await;
    assert_eq!(listed(&list.body), std::slice::from_ref(&forecast));
    app.call(Method::DELETE, &path, Some(&owner), None).await.assert_problem(403);

    // Demoted to viewer, the owner keeps no access, as with the dataset itself.
    app.call(Method::GET, &path, Some(&app.token("analyst-a", Role::Viewer).await), None).await.assert_problem(404);
    // Another analyst with no tie to the dataset sees nothing.
    app.call(Method::GET, &path, Some(&app.token("analyst-c", Role::Analyst).await), None).await.assert_problem(404);
    // Once the dataset is deleted, its former owner has no claim; the forecast's own owner keeps it.
    app.call(Method::DELETE, &format!("/v1/datasets/{dataset}"), Some(&owner), None).await;
    app.call(Method::GET, &path, Some(&owner), None).await.assert_problem(404);
    assert_eq!(app.call(Method::GET, &path, Some(&reader), None).await.status.as_u16(), 200);
}

#[tokio::test]
async fn an_hourly_forecast_writes_every_timestamp_in_one_form() {
    let app = spawn_app().await;
    let mut csv = String::from("time,load\n");
    let start = time::macros::datetime!(2024-03-01 0:00 UTC);
    for hour in 0..(14 * 24) {
        let at = start + time::Duration::hours(hour);
        let load = 50.0 + 10.0 * (2.0 * std::f64::consts::PI * (hour % 24) as f64 / 24.0).sin() + (hour % 5) as f64;
        csv.push_str(&format!("{},{load:.2}\n", at.format(&time::format_description::well_known::Rfc3339).unwrap()));
    }
    let dataset = app.upload_csv("analyst-a", &csv).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let body = json!({"dataset_id": dataset, "time_column": "time", "target_column": "load", "horizon": 30, "models": ["seasonal_naive"]});
    let answer = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(body)).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    let timestamps: Vec<&str> = answer.body["result"]["timestamps"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(timestamps[0], "2024-03-15T00:00:00Z");
    assert_eq!(timestamps[1], "2024-03-15T01:00:00Z");
    assert_eq!(timestamps[24], "2024-03-16T00:00:00Z");
    assert!(timestamps.iter().all(|t| t.len() == 20 && t.ends_with('Z')), "{timestamps:?}");
}

#[tokio::test]
async fn unsharing_the_dataset_takes_its_forecasts_away() {
    let app = spawn_app().await;
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(60, &[])).await;
    app.share("analyst-a", &dataset, "viewer-v").await;
    let owner = app.token("analyst-a", Role::Analyst).await;
    let made = app.call(Method::POST, "/v1/forecasts", Some(&owner), Some(request(&dataset, 7))).await;
    let path = format!("/v1/forecasts/{}", made.body["id"].as_str().unwrap());
    let viewer = app.token("viewer-v", Role::Viewer).await;
    assert_eq!(app.call(Method::GET, &path, Some(&viewer), None).await.status.as_u16(), 200);
    app.call(Method::DELETE, &format!("/v1/datasets/{dataset}/shares/viewer-v"), Some(&owner), None).await;
    app.call(Method::GET, &path, Some(&viewer), None).await.assert_problem(404);
}

#[tokio::test]
async fn a_deleted_forecast_leaves_every_list_and_lists_page_in_order() {
    let app = spawn_app().await;
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(60, &[])).await;
    app.share("analyst-a", &dataset, "viewer-v").await;
    let owner = app.token("analyst-a", Role::Analyst).await;
    let mut made = Vec::new();
    for _ in 0..5 {
        let answer = app.call(Method::POST, "/v1/forecasts", Some(&owner), Some(request(&dataset, 7))).await;
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
        made.push(answer.body["id"].as_str().unwrap().to_owned());
    }
    // Pages of two walk the dataset's list in creation order, as the viewer sees it.
    let viewer = app.token("viewer-v", Role::Viewer).await;
    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/forecasts?dataset_id={dataset}&limit=2&cursor={c}"),
            None => format!("/v1/forecasts?dataset_id={dataset}&limit=2"),
        };
        let page = app.call(Method::GET, &path, Some(&viewer), None).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        seen.extend(listed(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, made);
    let first = &app.call(Method::GET, &format!("/v1/forecasts?dataset_id={dataset}&limit=1"), Some(&viewer), None).await.body["items"][0];
    assert_eq!(
        (first["target_column"].as_str(), first["horizon"].as_u64(), first["owner"].as_str()),
        (Some("sales"), Some(7), Some("analyst-a"))
    );

    let gone = &made[2];
    assert_eq!(app.call(Method::DELETE, &format!("/v1/forecasts/{gone}"), Some(&owner), None).await.status.as_u16(), 204);
    let admin = app.token("admin-x", Role::Admin).await;
    for (token, path) in [
        (&owner, "/v1/forecasts".to_owned()),
        (&admin, "/v1/forecasts".to_owned()),
        (&viewer, format!("/v1/forecasts?dataset_id={dataset}")),
    ] {
        let page = app.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(listed(&page.body).len(), 4, "{path}: {}", page.text);
        assert!(!listed(&page.body).contains(gone), "{path}");
    }
    // Deleting again finds nothing; the audit trail shows both attempts.
    app.call(Method::DELETE, &format!("/v1/forecasts/{gone}"), Some(&owner), None).await.assert_problem(404);
    for bad in ["limit=0", "cursor=bm90LWEtY3Vyc29y", "dataset_id=nope"] {
        app.call(Method::GET, &format!("/v1/forecasts?{bad}"), Some(&owner), None).await.assert_problem(400);
    }
    app.call(Method::GET, "/v1/forecasts?dataset_id=01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c", Some(&owner), None).await.assert_problem(404);
}

#[tokio::test]
async fn a_forecast_exports_as_csv_and_json_with_the_numbers_it_was_given() {
    let app = spawn_app().await;
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(60, &[])).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let made = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(request(&dataset, 7))).await;
    let id = made.body["id"].as_str().unwrap();
    let result = &made.body["result"];

    let csv = app.call(Method::GET, &format!("/v1/forecasts/{id}/export"), Some(&token), None).await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(csv.headers["content-disposition"], format!("attachment; filename=\"forecast-{id}.csv\"").as_str());
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["timestamp", "forecast", "lower_80", "upper_80", "lower_95", "upper_95"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 7);
    for (h, row) in rows.iter().enumerate() {
        assert_eq!(row[0], *result["timestamps"][h].as_str().unwrap());
        assert_eq!(row[1].parse::<f64>().unwrap(), result["point"][h].as_f64().unwrap());
        assert_eq!(row[5].parse::<f64>().unwrap(), result["intervals"][1]["upper"][h].as_f64().unwrap());
    }

    let json = app.call(Method::GET, &format!("/v1/forecasts/{id}/export?format=json"), Some(&token), None).await;
    assert_eq!(json.content_type(), "application/json");
    assert_eq!(json.body["rows"].as_array().unwrap().len(), 7);
    assert_eq!(json.body["rows"][3]["timestamp"], result["timestamps"][3]);
    assert_eq!(json.body["rows"][3]["lower_80"], result["intervals"][0]["lower"][3]);
    assert_eq!((json.body["target_column"].as_str(), json.body["dataset_id"].as_str()), (Some("sales"), Some(dataset.as_str())));

    app.call(Method::GET, &format!("/v1/forecasts/{id}/export?format=xlsx"), Some(&token), None).await.assert_problem(400);
}

#[tokio::test]
async fn bad_forecast_requests_name_the_problem() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let dataset = app.upload_csv("analyst-a", &seasonal_csv(60, &[10])).await;
    let with = |changes: Value| {
        let mut body = request(&dataset, 7);
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(&str, Value, u16, Option<&str>)> = vec![
        ("unknown target column", with(json!({"target_column": "revenue"})), 400, Some("target_column")),
        ("text column as the time axis", with(json!({"time_column": "store"})), 400, Some("time_column")),
        ("gaps with the default policy", with(json!({"missing": "reject"})), 400, Some("missing")),
        ("zero horizon", with(json!({"horizon": 0})), 400, Some("horizon")),
        ("horizon longer than the series", with(json!({"horizon": 61})), 400, Some("horizon")),
        ("no models", with(json!({"models": []})), 400, Some("models")),
        ("10,000 repeats of one model", with(json!({"models": vec!["naive"; 10_000]})), 400, Some("models")),
        ("auto twice", with(json!({"models": ["auto", "ets", "auto"]})), 400, Some("models")),
        ("a level twice", with(json!({"levels": [80, 95, 80]})), 400, Some("levels")),
        ("unknown model", with(json!({"models": ["prophet"]})), 400, None),
        ("level over 100", with(json!({"levels": [120]})), 400, Some("levels")),
        ("negative horizon", with(json!({"horizon": -1})), 400, None),
        ("malformed dataset id", with(json!({"dataset_id": "../x"})), 400, Some("dataset_id")),
        ("unknown field", with(json!({"owner": "someone"})), 400, None),
        ("no such dataset", with(json!({"dataset_id": "01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c"})), 404, None),
        ("unknown missing policy", with(json!({"missing": "guess"})), 400, None),
    ];
    for (name, body, status, field) in cases {
        let answer = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(body)).await;
        answer.assert_problem(status);
        if let Some(field) = field {
            assert_eq!(answer.body["field"], field, "{name}: {}", answer.text);
        }
        assert_eq!(app.audit_for(&answer).await.status, status, "{name}");
    }
    for bad in ["not-a-uuid", "01939A8E-5F5E-7D3C-9B6A-3C1E2F4A5B6C"] {
        app.call(Method::GET, &format!("/v1/forecasts/{bad}"), Some(&token), None).await.assert_problem(404);
    }
}

/// In a Lambda the forecast runs on the request's only thread, so nothing can interrupt a
/// fit: the engine checks the deadline between fits and answers in time with a problem
/// that says what to change, audited like any other failure.
#[tokio::test]
async fn a_forecast_that_cannot_finish_in_its_budget_says_so_instead_of_timing_out() {
    let started = time::OffsetDateTime::now_utc();
    use lambda_http::{Body, RequestExt};
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn shared::store::ItemStore> =
        std::sync::Arc::new(store_embedded::SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap());
    let (mut state, issuer) = crate::helpers::in_process(store, dir.path());
    crate::helpers::register(&state, "analyst-a", Role::Analyst).await;
    let token = issuer.mint_access_token("analyst-a", "analyst-a", Role::Analyst).unwrap();
    let call = |route, method: &str, uri: &str, body: Value, params: Vec<(&str, String)>| {
        let request = lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap()
            .with_path_parameters(params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<std::collections::HashMap<_, _>>());
        (route, request)
    };
    let (route, upload) =
        call(shared::Route::CreateDataset, "POST", "/v1/datasets", json!({"name": "d", "csv": seasonal_csv(3 * 365, &[])}), vec![]);
    let created = shared::handle(&state, route, upload).await;
    let lambda_http::Body::Text(text) = created.body() else { panic!("no body") };
    let dataset = serde_json::from_str::<Value>(text).unwrap()["id"].as_str().unwrap().to_owned();

    state.limits.max_request_time = Some(std::time::Duration::from_millis(1));
    let (route, forecast) = call(shared::Route::CreateForecast, "POST", "/v1/forecasts", request(&dataset, 28), vec![]);
    let response = shared::handle(&state, route, forecast).await;
    assert_eq!(response.status().as_u16(), 422);
    let lambda_http::Body::Text(text) = response.body() else { panic!("no body") };
    let problem: Value = serde_json::from_str(text).unwrap();
    assert_eq!(problem["type"], "https://forecast-api.dev/problems/time-budget-exceeded");
    // Whichever gave up first, the engine between fits or the pipeline at an await.
    assert!(problem["detail"].as_str().unwrap().contains("finish within"), "{problem}");
    let records = crate::audit_walk::audit_since(state.store.as_ref(), started).await;
    let record = records.iter().find(|r| r.action == "create-forecast").unwrap();
    assert_eq!((record.status, record.reason.as_deref()), (422, Some("time-budget-exceeded")));
    let forecasts = state.store.query_keys(&format!("FORECASTS_OF#{dataset}"), "", None, 10).await.unwrap();
    assert!(forecasts.items.is_empty(), "nothing is stored for a forecast that did not finish");
}
