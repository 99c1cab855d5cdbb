//! Dataset exports: the content round-trips, JSON is typed, and a CSV export never
//! carries a cell a spreadsheet would run, whatever is stored.

use reqwest::Method;
use serde_json::json;
use shared::auth::Role;

use crate::helpers::spawn_app;

const CONTENT: &str =
    "date,sales,note,promo\n2024-01-01,10,\"north, main\",true\n2024-01-02,-3.5,\"said \"\"hi\"\"\",false\n2024-01-03,,plain,\n";

#[tokio::test]
async fn a_dataset_exports_as_the_csv_it_was_and_as_typed_json() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let created = app.call(Method::POST, "/v1/datasets", Some(&token), Some(json!({"name": "sales", "csv": CONTENT}))).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
    assert_eq!(created.body["time_axis"], json!({"column": "date", "frequency": "P1D"}));
    let id = created.body["id"].as_str().unwrap();

    let csv = app.call(Method::GET, &format!("/v1/datasets/{id}/export"), Some(&token), None).await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    assert_eq!(csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(csv.headers["content-disposition"], format!("attachment; filename=\"dataset-{id}.csv\"").as_str());
    assert_eq!(cells(&csv.text), cells(CONTENT), "same cells, negative numbers untouched");

    let exported = app.call(Method::GET, &format!("/v1/datasets/{id}/export?format=json"), Some(&token), None).await;
    assert_eq!(exported.content_type(), "application/json");
    assert_eq!(
        exported.body["rows"],
        json!([
            {"date": "2024-01-01", "sales": 10.0, "note": "north, main", "promo": true},
            {"date": "2024-01-02", "sales": -3.5, "note": "said \"hi\"", "promo": false},
            {"date": "2024-01-03", "sales": null, "note": "plain", "promo": null},
        ])
    );
    assert_eq!(exported.body["columns"][1], json!({"name": "sales", "type": "float", "missing": 1}));
    let record = app.audit_for(&exported).await;
    assert_eq!((record.action.as_str(), record.resource_id.as_deref(), record.status), ("export-dataset", Some(id), 200));

    app.call(Method::GET, &format!("/v1/datasets/{id}/export?format=xml"), Some(&token), None).await.assert_problem(400);
}

#[tokio::test]
async fn formulas_that_reached_storage_leave_neutralised() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let id = app.create_dataset("analyst-a", "legacy").await;
    // Content stored before ingestion refused formulas (or by any other path): written
    // straight into blob storage, under the dataset's key.
    let stored = "date,note,value\n2024-01-01,=cmd|' /C calc'!A0,1\n2024-01-02,+1+1,-2\n2024-01-03,@SUM(A1),3\n2024-01-04,\"\tx\",-2+3\n";
    let blob = app.blob_keys().await.into_iter().find(|key| key.contains(&id)).unwrap();
    app.server.state.blobs.put(&shared::store::BlobKey::parse(&blob).unwrap(), stored.as_bytes().to_vec(), "text/csv").await.unwrap();

    let csv = app.call(Method::GET, &format!("/v1/datasets/{id}/export"), Some(&token), None).await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    let rows = cells(&csv.text);
    assert_eq!(rows[1], ["2024-01-01", "'=cmd|' /C calc'!A0", "1"]);
    assert_eq!(rows[2], ["2024-01-02", "'+1+1", "-2"]);
    assert_eq!(rows[3], ["2024-01-03", "'@SUM(A1)", "3"]);
    assert_eq!(rows[4], ["2024-01-04", "'\tx", "'-2+3"]);
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '@', '\t', '\r']), "{cell:?} would run in a spreadsheet");
        }
    }
}

#[tokio::test]
async fn an_export_too_large_for_one_response_is_refused_with_a_way_out() {
    let app = spawn_app().await;
    let token = app.token("analyst-a", Role::Analyst).await;
    // 4.6 MB of CSV: its JSON export (a key per cell) is well over the 6 MB a response can carry.
    let start = time::macros::datetime!(2000-01-01 0:00 UTC);
    let mut csv = String::from("recorded_at,reading_value,station_comment\n");
    for hour in 0..80_000i64 {
        let at = (start + time::Duration::hours(hour)).format(&time::format_description::well_known::Rfc3339).unwrap();
        csv.push_str(&format!("{at},{}.25,ok station {}\n", hour % 1000, hour % 7));
    }
    let id = app.upload_csv("analyst-a", &csv).await;

    let as_json = app.call(Method::GET, &format!("/v1/datasets/{id}/export?format=json"), Some(&token), None).await;
    as_json.assert_problem(422);
    assert!(as_json.body["detail"].as_str().unwrap().contains("CSV export is smaller"), "{}", as_json.text);
    let as_csv = app.call(Method::GET, &format!("/v1/datasets/{id}/export"), Some(&token), None).await;
    assert_eq!(as_csv.status.as_u16(), 200);
    assert_eq!(cells(&as_csv.text).len(), 80_001);
}

fn cells(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}
