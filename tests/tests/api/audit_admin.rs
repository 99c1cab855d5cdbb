//! `/v1/admin/audit`: search, export and verification of the audit trail, over HTTP on the
//! local server (SR-17, SR-19), with the permission matrix of the three routes.

use reqwest::Method;
use shared::Route;
use shared::audit::AuditRecord;
use shared::auth::Role;

use crate::audit_backdoor::{Backdoor, DynamoBackdoor, SqliteBackdoor};
use crate::helpers::{CALLERS, Caller, TestApp, spawn_app};

impl TestApp {
    /// Direct access to where this server's backend keeps audit records.
    fn backdoor(&self) -> Box<dyn Backdoor> {
        match &self.server.backend {
            devserver::Backend::Embedded => Box::new(SqliteBackdoor(self.dir.path().join("store.sqlite3"))),
            devserver::Backend::AwsLocal(aws) => Box::new(DynamoBackdoor {
                client: devserver::aws_local::dynamodb_client(&aws.dynamodb_url).unwrap(),
                table: aws.audit_table.clone(),
            }),
        }
    }
}

fn ids(answer: &crate::helpers::Answer) -> Vec<String> {
    answer.body["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn only_admins_search_export_and_verify_the_audit_trail() {
    let app = spawn_app().await;
    for caller in CALLERS {
        let sub = format!("{caller:?}-audit").to_lowercase();
        let token = match caller.role() {
            Some(role) => Some(app.token(&sub, role).await),
            None => None,
        };
        for (route, path) in [
            (Route::SearchAudit, "/v1/admin/audit"),
            (Route::ExportAudit, "/v1/admin/audit/export"),
            (Route::VerifyAudit, "/v1/admin/audit/verify"),
        ] {
            let answer = app.call(Method::GET, path, token.as_deref(), None).await;
            let expected = match caller {
                Caller::Admin => 200,
                Caller::Analyst | Caller::Viewer => 403,
                Caller::Anonymous => 401,
            };
            let label = format!("{route:?} by {caller:?}");
            let record = app.assert_matrix_call(&answer, route, expected, &label).await;
            assert_eq!(record.actor.is_some(), caller != Caller::Anonymous, "{label}");
        }
    }
}

/// Requests of three users, then searches that find each one's and page through them.
#[tokio::test]
async fn searches_find_records_by_actor_action_outcome_and_address_newest_first_and_page() {
    let app = spawn_app().await;
    let admin = app.token("auditor", Role::Admin).await;
    let mut by_ada = Vec::new();
    for n in 0..7 {
        let token = app.token("ada", Role::Analyst).await;
        let path = if n % 2 == 0 { "/v1/datasets".to_owned() } else { format!("/v1/datasets/{}", uuid::Uuid::now_v7()) };
        let answer = app.call(Method::GET, &path, Some(&token), None).await;
        by_ada.push(answer.request_id());
    }
    let viewer = app.token("vic", Role::Viewer).await;
    app.call(Method::POST, "/v1/datasets", Some(&viewer), Some(crate::helpers::sample_dataset("no"))).await.assert_problem(403);

    // Every request of ada's, newest first, in pages of 3 that carry the query along.
    let mut found: Vec<AuditRecord> = Vec::new();
    let mut path = "/v1/admin/audit?actor=ada&limit=3".to_owned();
    loop {
        let page = app.call(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(page.status.as_u16(), 200, "{}", page.text);
        found.extend(serde_json::from_value::<Vec<AuditRecord>>(page.body["items"].clone()).unwrap());
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/admin/audit?actor=ada&limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected = by_ada.clone();
    expected.reverse();
    assert_eq!(found.iter().map(|r| r.request_id.clone()).collect::<Vec<_>>(), expected);

    // Filters combine: ada's failures are her four reads of datasets that don't exist.
    let failures = app.call(Method::GET, "/v1/admin/audit?actor=ada&outcome=failure&action=get-dataset", Some(&admin), None).await;
    assert_eq!(ids(&failures).len(), 3, "{}", failures.text);
    assert!(failures.body["items"].as_array().unwrap().iter().all(|r| r["status"] == 404));
    // The viewer's refusal, by who was refused and by what was refused.
    let refused = app.call(Method::GET, "/v1/admin/audit?actor=vic&action=create-dataset", Some(&admin), None).await;
    assert_eq!(refused.body["items"][0]["decision"], "deny", "{}", refused.text);
    // The test client comes from loopback.
    let local = app.call(Method::GET, "/v1/admin/audit?source_ip=127.0.0.1&actor=vic", Some(&admin), None).await;
    assert_eq!(ids(&local), ids(&refused));
    // A range before any of it: nothing.
    let before =
        app.call(Method::GET, "/v1/admin/audit?actor=ada&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z", Some(&admin), None).await;
    assert_eq!(ids(&before), Vec::<String>::new());

    // A cursor belongs to its query and its caller.
    let first = app.call(Method::GET, "/v1/admin/audit?actor=ada&limit=2", Some(&admin), None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let other_query = app.call(Method::GET, &format!("/v1/admin/audit?actor=vic&limit=2&cursor={cursor}"), Some(&admin), None).await;
    assert_eq!(other_query.assert_problem(400), "validation");
    let other_admin = app.token("auditor-2", Role::Admin).await;
    let other_caller = app.call(Method::GET, &format!("/v1/admin/audit?actor=ada&limit=2&cursor={cursor}"), Some(&other_admin), None).await;
    other_caller.assert_problem(400);
}

#[tokio::test]
async fn bad_filters_are_named_400s() {
    let app = spawn_app().await;
    let admin = app.token("auditor", Role::Admin).await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
        ("outcome=maybe", "outcome"),
        ("source_ip=999.1.1.1", "source_ip"),
        ("limit=0", "limit"),
        ("actor=", "actor"),
        ("actor=a&actor=b", "actor"),
        ("cursor=forged", "cursor"),
    ] {
        for route in ["/v1/admin/audit", "/v1/admin/audit/export"] {
            if route.ends_with("export") && query.starts_with("limit") {
                continue;
            }
            let answer = app.call(Method::GET, &format!("{route}?{query}"), Some(&admin), None).await;
            assert_eq!(answer.assert_problem(400), "validation", "{route}?{query}: {}", answer.text);
            assert_eq!(answer.body["field"], field, "{route}?{query}");
        }
    }
    let format = app.call(Method::GET, "/v1/admin/audit/export?format=xlsx", Some(&admin), None).await;
    assert_eq!(format.body["field"], "format");
    let long = app.call(Method::GET, "/v1/admin/audit/verify?from=2026-11-01T00:00:00Z&to=2026-11-20T00:00:00Z", Some(&admin), None).await;
    assert_eq!(long.assert_problem(400), "validation");
}

#[tokio::test]
async fn an_export_holds_what_the_search_finds_as_csv_or_json_lines_with_formulas_neutralised() {
    let app = spawn_app().await;
    let admin = app.token("auditor", Role::Admin).await;
    let token = app.token("eve", Role::Analyst).await;
    let sneaky =
        app.call_with(Method::GET, "/v1/datasets", Some(&token), None, &[("user-agent", "=HYPERLINK(\"http://x.example\")")]).await;
    assert_eq!(sneaky.status.as_u16(), 200);
    app.call(Method::GET, "/v1/datasets", Some(&token), None).await;

    let search = app.call(Method::GET, "/v1/admin/audit?actor=eve", Some(&admin), None).await;
    let csv = app.call(Method::GET, "/v1/admin/audit/export?actor=eve", Some(&admin), None).await;
    assert_eq!(csv.status.as_u16(), 200, "{}", csv.text);
    assert_eq!(csv.content_type(), "text/csv");
    let mut reader = csv::Reader::from_reader(csv.text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!(header.iter().take(3).collect::<Vec<_>>(), ["id", "time", "request_id"]);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(), ids(&search));
    let agent = rows.iter().find(|r| r[column("request_id")] == sneaky.request_id()).unwrap();
    assert_eq!(&agent[column("user_agent")], "'=HYPERLINK(\"http://x.example\")", "a formula is kept as text");
    assert!(csv.headers.get("x-next-cursor").is_none(), "all of it fits");

    let lines = app.call(Method::GET, "/v1/admin/audit/export?actor=eve&format=jsonl", Some(&admin), None).await;
    assert_eq!(lines.content_type(), "application/x-ndjson");
    let records: Vec<AuditRecord> = lines.text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(records.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids(&search));
    assert_eq!(
        records.iter().find(|r| r.request_id == sneaky.request_id()).unwrap().user_agent.as_deref(),
        Some("=HYPERLINK(\"http://x.example\")")
    );
}

/// The route checks the hour under way by its tags (its digest is written once it is
/// over): a record changed in the database is named by id; the rest stays clean.
#[tokio::test]
async fn verification_names_a_record_changed_in_the_database() {
    let app = spawn_app().await;
    let admin = app.token("auditor", Role::Admin).await;
    let token = app.token("mallory", Role::Viewer).await;
    let refused = app.call(Method::POST, "/v1/datasets", Some(&token), Some(crate::helpers::sample_dataset("x"))).await;
    refused.assert_problem(403);
    let clean = app.call(Method::GET, "/v1/admin/audit/verify", Some(&admin), None).await;
    assert_eq!(clean.status.as_u16(), 200, "{}", clean.text);
    assert_eq!(clean.body["clean"], true, "{}", clean.text);
    assert!(clean.body["records_pending"].as_u64().unwrap() >= 2, "{}", clean.text);

    // The refusal made a success, straight in the table.
    let record = app.audit_for(&refused).await;
    app.backdoor().overwrite(&AuditRecord { status: 201, ..record.clone() }).await;
    let tampered = app.call(Method::GET, "/v1/admin/audit/verify", Some(&admin), None).await;
    assert_eq!(tampered.body["clean"], false, "{}", tampered.text);
    assert_eq!(tampered.body["modified"], serde_json::json!([{"id": record.id, "time": record.time, "reason": "tag-mismatch"}]));
    // The verification that found it says so in its own record.
    assert_eq!(app.audit_for(&tampered).await.reason.as_deref(), Some("tampering-found"));
}
