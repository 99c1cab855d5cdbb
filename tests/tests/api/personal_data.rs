//! A person's data (SR-28) on the store the suite runs on: the data export holds what the
//! API keeps about them; erasure leaves nothing of them in the item store, the files or the
//! audit indexes, while the audit trail keeps its records (pseudonymised) and still
//! verifies. The access review (SR-42), and the permission matrix of these routes.

use reqwest::Method;
use serde_json::{Value, json};
use shared::Route;
use shared::audit_tags::is_pseudonym;
use shared::auth::Role;
use shared::http::RequestMeta;
use shared::store::{Condition, Item, Key, WriteOp};

use crate::helpers::{CALLERS, TestApp, spawn_app};
use crate::retention::daily_csv;
use crate::users::{account, invite};

fn ids(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap_or_else(|| item.as_str().unwrap()).to_owned()).collect()
}

async fn forecast(app: &TestApp, token: &str, dataset: &str) -> String {
    let body = json!({"dataset_id": dataset, "time_column": "date", "target_column": "sales", "horizon": 7});
    let answer = app.call(Method::POST, "/v1/forecasts", Some(token), Some(body)).await;
    assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
    answer.body["id"].as_str().unwrap().to_owned()
}

async fn disable(app: &TestApp, admin: &str, user: &str) {
    let answer = app.call(Method::PATCH, &format!("/v1/users/{user}"), Some(admin), Some(json!({"enabled": false}))).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
}

#[tokio::test]
async fn erasure_removes_what_a_person_made_and_was_given_and_pseudonymises_the_trail_that_still_verifies() {
    let app = spawn_app().await;
    let admin = app.token("gdpr-admin", Role::Admin).await;
    let (ada, ada_token) = account(&app, &admin, "ada@example.com", Role::Analyst).await;
    let (bob, _) = account(&app, &admin, "bob@example.com", Role::Analyst).await;
    let bobs = app.upload_csv(&bob, &daily_csv(42)).await;
    app.share(&bob, &bobs, &ada).await;
    let own = app.upload_csv(&ada, &daily_csv(42)).await;
    let deleted = app.upload_csv(&ada, &daily_csv(42)).await;
    assert_eq!(app.call(Method::DELETE, &format!("/v1/datasets/{deleted}"), Some(&ada_token), None).await.status.as_u16(), 204);
    app.share(&ada, &own, &bob).await;
    let ada_token = app.token(&ada, Role::Analyst).await;
    let ran = forecast(&app, &ada_token, &own).await;

    // Her export: her profile, what she owns and ran, what she was given, her trail.
    let export = app.call(Method::GET, &format!("/v1/users/{ada}/data-export"), Some(&ada_token), None).await;
    assert_eq!(export.status.as_u16(), 200, "{}", export.text);
    assert_eq!(export.body["profile"]["email"], "ada@example.com");
    assert_eq!(ids(&export.body["datasets"]), [own.as_str()], "the deleted one is not hers to see any more");
    assert_eq!(export.body["datasets"][0]["shared_with"], json!([bob]));
    assert_eq!(export.body["shared_with_them"], json!([bobs]));
    assert_eq!(ids(&export.body["forecasts"]), [ran.as_str()]);
    let trail: Vec<(String, Option<String>, Option<String>)> = export.body["audit_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["action"].as_str().unwrap().to_owned(), r["actor"].as_str().map(str::to_owned), r["subject"].as_str().map(str::to_owned))
        })
        .collect();
    assert!(trail.contains(&("create-forecast".into(), Some(ada.clone()), None)), "{trail:?}");
    assert!(trail.contains(&("share-dataset".into(), Some(bob.clone()), Some(ada.clone()))), "shared with her: {trail:?}");
    assert!(trail.contains(&("invite-user".into(), Some("gdpr-admin".into()), Some(ada.clone()))), "{trail:?}");
    assert_eq!(export.body["audit_records_complete"], true);
    let invited = export.body["audit_records"].as_array().unwrap().iter().find(|r| r["action"] == "invite-user").unwrap();
    assert!(invited.get("source_ip").is_none_or(Value::is_null), "the admin's address is not hers: {invited}");

    // Only an account that can no longer act is erased.
    let refused = app.call(Method::POST, &format!("/v1/users/{ada}/erase"), Some(&admin), None).await;
    refused.assert_problem(409);
    disable(&app, &admin, &ada).await;
    let erased = app.call(Method::POST, &format!("/v1/users/{ada}/erase"), Some(&admin), None).await;
    assert_eq!(erased.status.as_u16(), 200, "{}", erased.text);
    let report = &erased.body;
    assert_eq!(
        (&report["datasets"], &report["forecasts"], &report["files"], &report["shares_removed"], &report["complete"]),
        (&json!(2), &json!(1), &json!(3), &json!(1), &json!(true)),
        "{report}"
    );
    let pseudonym = report["pseudonym"].as_str().unwrap().to_owned();
    assert!(is_pseudonym(&pseudonym), "{pseudonym}");
    assert!(report["audit_records"].as_u64().unwrap() >= 8, "{report}");

    // No record of the trail names her any more (asked before any request about her id).
    let records = app.audit_records().await;
    let naming: Vec<_> = records.iter().filter(|r| serde_json::to_string(r).unwrap().contains(&ada)).collect();
    assert!(naming.is_empty(), "records still naming her: {naming:?}");

    // Gone: her files, records, list entries, shares, account; nothing in the item store
    // is keyed by her or names her.
    assert_eq!(app.blob_keys().await, [format!("datasets/{bobs}/data.csv")]);
    let store = app.server.state.store.as_ref();
    for key in [format!("DATASET#{own}"), format!("DATASET#{deleted}"), format!("FORECAST#{ran}")] {
        assert_eq!(store.get(&Key::new(key.clone(), "META")).await.unwrap(), None, "{key}");
    }
    let keys = crate::helpers::all_keys(store).await;
    assert!(
        keys.iter().all(|key| !key.pk.contains(&ada) && !key.sk.contains(&ada)),
        "{:?}",
        keys.iter().filter(|k| k.pk.contains(&ada) || k.sk.contains(&ada)).collect::<Vec<_>>()
    );
    // Read opened (encrypted fields too); the deployment's own wrapped keys are not records.
    let records: Vec<Key> = keys.iter().filter(|key| shared::records::record_type(&key.pk, &key.sk).is_some()).cloned().collect();
    for item in store.get_many(&records).await.unwrap() {
        assert!(!item.body.to_string().contains(&ada), "{:?} names her: {}", item.key, item.body);
    }
    let shared = app.call(Method::GET, &format!("/v1/datasets/{bobs}"), Some(&admin), None).await;
    assert_eq!(shared.body["shared_with"], json!([]), "{}", shared.text);
    assert_eq!(app.call(Method::GET, &format!("/v1/users/{ada}"), Some(&admin), None).await.status.as_u16(), 404);

    // Stays, without her: every record of the trail, found by her pseudonym.
    let by_her = app.call(Method::GET, &format!("/v1/admin/audit?actor={ada}"), Some(&admin), None).await;
    assert_eq!(by_her.body["items"], json!([]), "{}", by_her.text);
    let by_pseudonym = app.call(Method::GET, &format!("/v1/admin/audit?actor={pseudonym}&limit=100"), Some(&admin), None).await;
    let actions: Vec<&str> = by_pseudonym.body["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    for action in ["create-forecast", "create-dataset", "delete-dataset", "share-dataset", "export-user-data"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let one = &by_pseudonym.body["items"][0];
    assert!(is_pseudonym(one["source_ip"].as_str().unwrap_or("~missing")), "her address goes too: {one}");
    let about = app.call(Method::GET, &format!("/v1/admin/audit?subject={pseudonym}&action=share-dataset"), Some(&admin), None).await;
    assert_eq!(about.body["items"][0]["actor"], json!(bob), "the other party stays named: {}", about.text);
    assert_eq!(about.body["items"][0]["resource_id"], json!(format!("{bobs}:{pseudonym}")));
    let verify = app.call(Method::GET, "/v1/admin/audit/verify", Some(&admin), None).await;
    assert_eq!(verify.body["clean"], true, "the pseudonymised records still verify: {}", verify.text);

    // Done is done: a repeat finds nothing left but the one request about her id since
    // (the admin's lookup that answered 404).
    let again = app.call(Method::POST, &format!("/v1/users/{ada}/erase"), Some(&admin), None).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.text);
    assert_eq!(
        (&again.body["datasets"], &again.body["audit_records"], &again.body["pseudonym"]),
        (&json!(0), &json!(1), &json!(pseudonym))
    );
}

#[tokio::test]
async fn the_store_takes_an_erasure_of_identity_and_nothing_more() {
    let app = spawn_app().await;
    let viewer = app.token("store-erasure", Role::Viewer).await;
    let answer = app.call(Method::GET, "/v1/me", Some(&viewer), None).await;
    let record = app.audit_for(&answer).await;
    let store = app.server.state.store.as_ref();
    let key = app.server.state.audit_keys.version(1).await.unwrap();
    let erased = shared::personal_data::erased(&record, "store-erasure", &key);
    // More than identity: refused by the store, whatever the caller.
    let forged = shared::audit::AuditRecord { status: 500, ..erased.clone() };
    assert!(matches!(store.erase_audit_identity(&record, &forged).await, Err(shared::store::StoreError::NotAnErasure(_))));
    let renamed = shared::audit::AuditRecord { actor: Some("someone-else".into()), ..erased.clone() };
    assert!(matches!(store.erase_audit_identity(&record, &renamed).await, Err(shared::store::StoreError::NotAnErasure(_))));
    // The record as it was read, or nothing.
    let stale = shared::audit::AuditRecord { status: 201, ..record.clone() };
    assert!(matches!(
        store.erase_audit_identity(&stale, &shared::audit::AuditRecord { status: 201, ..erased.clone() }).await,
        Err(shared::store::StoreError::ConditionFailed)
    ));
    store.erase_audit_identity(&record, &erased).await.unwrap();
    assert_eq!(app.audit_for(&answer).await, erased);
    assert!(matches!(store.erase_audit_identity(&record, &erased).await, Err(shared::store::StoreError::ConditionFailed)), "once");
}

#[tokio::test]
async fn personal_data_and_access_review_routes_follow_the_matrix() {
    let app = spawn_app().await;
    let setup = app.token("pd-setup-admin", Role::Admin).await;
    let mut n = 0;
    for caller in CALLERS {
        n += 1;
        let (me, token) = match caller.role() {
            Some(role) => {
                let (id, token) = account(&app, &setup, &format!("pd-caller{n}@example.com"), role).await;
                (id, Some(token))
            }
            None => ("nobody".to_owned(), None),
        };
        let other = invite(&app, &setup, &format!("pd-other{n}@example.com"), Role::Viewer).await;
        let leaving = invite(&app, &setup, &format!("pd-leaving{n}@example.com"), Role::Viewer).await;
        disable(&app, &setup, &leaving).await;
        let rows: [(Route, Method, String, [u16; 4]); 4] = [
            (Route::ExportUserData, Method::GET, format!("/v1/users/{me}/data-export"), [200, 200, 200, 401]),
            (Route::ExportUserData, Method::GET, format!("/v1/users/{other}/data-export"), [200, 403, 403, 401]),
            (Route::EraseUser, Method::POST, format!("/v1/users/{leaving}/erase"), [200, 403, 403, 401]),
            (Route::ReviewAccess, Method::GET, "/v1/admin/access-review".into(), [200, 403, 403, 401]),
        ];
        for (route, method, path, statuses) in rows {
            let expected = statuses[CALLERS.iter().position(|c| *c == caller).unwrap()];
            let answer = app.call(method, &path, token.as_deref(), None).await;
            app.assert_matrix_call(&answer, route, expected, &format!("{route:?} {path} by {caller:?}")).await;
            // A refused erasure leaves the account and what it holds.
            if route == Route::EraseUser && expected != 200 {
                let still = app.call(Method::GET, &format!("/v1/users/{leaving}"), Some(&setup), None).await;
                assert_eq!(still.status.as_u16(), 200, "{route:?} by {caller:?}");
            }
        }
    }
}

/// Records a sign-in at `at` for `user`, as the code exchange does.
async fn signed_in_at(app: &TestApp, user: &str, at: time::OffsetDateTime) {
    let item = Item { key: shared::access_review::last_sign_in_key(user), version: 1, body: shared::access_review::last_sign_in_body(at) };
    let meta = RequestMeta { request_id: format!("{}{user}", crate::helpers::SETUP_PREFIX), ..RequestMeta::default() };
    let audit = shared::audit::AuditDraft::new("test-sign-in", "session").finish(&meta, 200);
    app.server.state.store.commit(vec![WriteOp::Put { item, condition: Condition::Always }], &audit).await.unwrap();
}

#[tokio::test]
async fn the_access_review_lists_every_account_with_what_it_holds_and_flags_what_needs_a_look() {
    let app = spawn_app().await;
    let admin = app.token("review-admin", Role::Admin).await;
    let (analyst, _) = account(&app, &admin, "rev-analyst@example.com", Role::Analyst).await;
    let (viewer, _) = account(&app, &admin, "rev-viewer@example.com", Role::Viewer).await;
    let (second_admin, _) = account(&app, &admin, "rev-admin@example.com", Role::Admin).await;
    let dataset = app.upload_csv(&analyst, &daily_csv(20)).await;
    app.share(&analyst, &dataset, &viewer).await;
    app.share(&analyst, &dataset, "ghost-user").await;
    disable(&app, &admin, &viewer).await;
    let now = time::OffsetDateTime::now_utc();
    signed_in_at(&app, &analyst, now - time::Duration::days(100)).await;
    signed_in_at(&app, &second_admin, now - time::Duration::days(2)).await;

    let review = app.call(Method::GET, "/v1/admin/access-review", Some(&admin), None).await;
    assert_eq!(review.status.as_u16(), 200, "{}", review.text);
    assert_eq!(review.body["complete"], true);
    let row = |id: &str| {
        review.body["users"].as_array().unwrap().iter().find(|u| u["id"] == id).cloned().unwrap_or_else(|| panic!("{id} reviewed"))
    };
    let a = row(&analyst);
    assert_eq!(
        (&a["role"], &a["enabled"], &a["datasets_owned"], &a["shares_out"]),
        (&json!("analyst"), &json!(true), &json!(1), &json!(2))
    );
    assert_eq!(a["flags"], json!(["idle-over-90-days", "shares-to-disabled-users", "shares-to-unknown-users"]));
    let v = row(&viewer);
    assert_eq!(
        (&v["enabled"], &v["shared_with_them"], &v["flags"]),
        (&json!(false), &json!(1), &json!([])),
        "disabled: not idle, holds a share"
    );
    assert!(v.get("last_sign_in").is_none());
    let m = row(&second_admin);
    assert_eq!(m["flags"], json!(["admin-without-mfa"]), "signed in two days ago: {m}");
    assert_eq!(m["mfa_enabled"], false);

    let csv = app.call(Method::GET, "/v1/admin/access-review?format=csv", Some(&admin), None).await;
    assert_eq!(csv.status.as_u16(), 200);
    assert!(csv.content_type().starts_with("text/csv"), "{}", csv.content_type());
    let mut lines = csv.text.lines();
    assert_eq!(
        lines.next(),
        Some("id,email,role,enabled,status,mfa_enabled,created_at,last_sign_in,datasets_owned,shares_out,shared_with_them,flags")
    );
    let line = lines.find(|line| line.starts_with(&analyst)).unwrap();
    assert!(line.starts_with(&format!("{analyst},rev-analyst@example.com,analyst,true,")), "{line}");
    assert!(line.ends_with(",1,2,0,idle-over-90-days;shares-to-disabled-users;shares-to-unknown-users"), "{line}");
    app.call(Method::GET, "/v1/admin/access-review?format=xml", Some(&admin), None).await.assert_problem(400);
}
