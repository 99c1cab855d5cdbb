//! The permission matrix: every route × {admin, analyst, viewer, no token} × {own,
//! shared, other's} object, with the audit record of every call checked.

use reqwest::Method;
use serde_json::json;
use shared::Route;
use shared::audit::AuditDecision;
use shared::auth::Role;

use crate::helpers::{CALLERS, Caller, MatrixCase, RELATIONS, Relation, SAMPLE_CSV, TestApp, sample_dataset, spawn_app};

const SHARE_TARGET: &str = "target-user";

/// The status the matrix promises for a route on an existing dataset.
fn expected_on_dataset(route: Route, caller: Caller, relation: Relation) -> u16 {
    let success = match route {
        Route::GetDataset | Route::UpdateDataset | Route::ExportDataset => 200,
        _ => 204,
    };
    let is_read = matches!(route, Route::GetDataset | Route::ExportDataset);
    match (caller, relation) {
        (Caller::Anonymous, _) => 401,
        (Caller::Admin, _) => success,
        (Caller::Analyst, Relation::Own) => success,
        // Shared with you: you may read; other actions are refused openly (you know it exists).
        (Caller::Analyst | Caller::Viewer, Relation::Shared) => {
            if is_read {
                200
            } else {
                403
            }
        }
        // A viewer who owns a dataset (an analyst demoted since) keeps no access to it.
        (Caller::Viewer, Relation::Own) => 404,
        (_, Relation::Other) => 404,
    }
}

/// A matrix case whose dataset is also shared with [`SHARE_TARGET`], so unsharing has
/// something to remove.
async fn arrange(app: &TestApp, caller: Caller, relation: Relation, n: usize) -> MatrixCase {
    let case = app.matrix_case(caller, relation, n, SAMPLE_CSV).await;
    app.share(&case.owner, &case.dataset, SHARE_TARGET).await;
    // Sharing as the owner made them an analyst; an owner who is the caller gets their role back.
    if let Some(role) = caller.role() {
        app.register(&case.sub, role).await;
    }
    case
}

fn request_for(route: Route, dataset: &str) -> (Method, String, Option<serde_json::Value>) {
    let one = format!("/v1/datasets/{dataset}");
    let share = format!("/v1/datasets/{dataset}/shares/{SHARE_TARGET}");
    match route {
        Route::GetDataset => (Method::GET, one, None),
        Route::ExportDataset => (Method::GET, format!("{one}/export"), None),
        Route::UpdateDataset => (Method::PATCH, one, Some(json!({"name": "renamed"}))),
        Route::DeleteDataset => (Method::DELETE, one, None),
        // Sharing with someone new, so an allowed call really writes.
        Route::ShareDataset => (Method::PUT, format!("/v1/datasets/{dataset}/shares/new-reader"), None),
        Route::UnshareDataset => (Method::DELETE, share, None),
        other => panic!("{other:?} is not a dataset route"),
    }
}

#[tokio::test]
async fn dataset_routes_follow_the_matrix_for_every_role_and_ownership() {
    let app = spawn_app().await;
    let mut n = 0;
    for route in
        [Route::GetDataset, Route::ExportDataset, Route::UpdateDataset, Route::DeleteDataset, Route::ShareDataset, Route::UnshareDataset]
    {
        for caller in CALLERS {
            for relation in RELATIONS {
                n += 1;
                let case = arrange(&app, caller, relation, n).await;
                // An admin reads the version: the owner's token would put an owner who is the
                // caller back in the analyst role.
                let admin = app.token("matrix-admin", Role::Admin).await;
                let before = app.call(Method::GET, &format!("/v1/datasets/{}", case.dataset), Some(&admin), None).await;

                let (method, path, body) = request_for(route, &case.dataset);
                let etag = before.etag().unwrap().to_owned();
                let answer = app.call_with(method, &path, case.token.as_deref(), body, &[("if-match", &etag)]).await;
                let expected = expected_on_dataset(route, caller, relation);
                let label = format!("{route:?} by {caller:?} on {relation:?}");
                assert_eq!(answer.status.as_u16(), expected, "{label}: {}", answer.text);
                if expected >= 400 {
                    answer.assert_problem(expected);
                }

                let record = app.audit_for(&answer).await;
                assert_eq!(record.status, expected, "{label}");
                assert_eq!(record.action, route.function_name(), "{label}");
                let actor = (caller != Caller::Anonymous).then(|| case.sub.clone());
                assert_eq!(record.actor, actor, "{label}");
                let decision = match expected {
                    401 => AuditDecision::NotEvaluated,
                    403 | 404 => AuditDecision::Deny,
                    _ => AuditDecision::Allow,
                };
                assert_eq!(record.decision, decision, "{label}");
                assert!(
                    record.resource_id.as_deref().is_some_and(|id| id.starts_with(&case.dataset)) || caller == Caller::Anonymous,
                    "{label}"
                );

                // A refused mutation changes nothing.
                if expected >= 400 {
                    let after = app.call(Method::GET, &format!("/v1/datasets/{}", case.dataset), Some(&admin), None).await;
                    assert_eq!(after.body, before.body, "{label}: refused call changed the dataset");
                }
            }
        }
    }
}

#[tokio::test]
async fn collection_routes_follow_the_matrix_for_every_role() {
    let app = spawn_app().await;
    for caller in CALLERS {
        let sub = format!("{caller:?}-collection").to_lowercase();
        let token = match caller.role() {
            Some(role) => Some(app.token(&sub, role).await),
            None => None,
        };
        let cases = [
            (Route::ListDatasets, Method::GET, "/v1/datasets", None, [200, 200, 200, 401]),
            (Route::CreateDataset, Method::POST, "/v1/datasets", Some(sample_dataset("new")), [201, 201, 403, 401]),
            (Route::GetMe, Method::GET, "/v1/me", None, [200, 200, 200, 401]),
            (Route::Health, Method::GET, "/health", None, [200, 200, 200, 200]),
        ];
        for (route, method, path, body, statuses) in cases {
            let expected = statuses[CALLERS.iter().position(|c| *c == caller).unwrap()];
            let answer = app.call(method, path, token.as_deref(), body).await;
            let label = format!("{route:?} by {caller:?}");
            assert_eq!(answer.status.as_u16(), expected, "{label}: {}", answer.text);
            if route == Route::Health {
                continue;
            }
            let record = app.audit_for(&answer).await;
            assert_eq!(record.status, expected, "{label}");
            assert_eq!(record.actor.is_some(), caller != Caller::Anonymous, "{label}");
        }
    }
}

#[tokio::test]
async fn a_viewer_cannot_create_a_dataset_even_with_a_valid_body_and_nothing_is_stored() {
    let app = spawn_app().await;
    let token = app.token("viewer-1", Role::Viewer).await;
    let answer = app.call(Method::POST, "/v1/datasets", Some(&token), Some(sample_dataset("x"))).await;
    answer.assert_problem(403);
    assert!(app.blob_keys().await.is_empty());
    let admin = app.token("admin-1", Role::Admin).await;
    let list = app.call(Method::GET, "/v1/datasets", Some(&admin), None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn each_role_lists_exactly_what_it_may_read() {
    let app = spawn_app().await;
    let a1 = app.create_dataset("analyst-a", "a1").await;
    let a2 = app.create_dataset("analyst-a", "a2").await;
    let b1 = app.create_dataset("analyst-b", "b1").await;
    let c1 = app.create_dataset("admin-c", "c1").await;
    app.share("analyst-b", &b1, "analyst-a").await;
    app.share("analyst-b", &b1, "viewer-v").await;

    let cases = [
        ("admin-x", Role::Admin, vec![&a1, &a2, &b1, &c1]),
        ("analyst-a", Role::Analyst, vec![&a1, &a2, &b1]),
        ("analyst-b", Role::Analyst, vec![&b1]),
        ("viewer-v", Role::Viewer, vec![&b1]),
        ("viewer-w", Role::Viewer, vec![]),
    ];
    for (sub, role, expected) in cases {
        let answer = app.call(Method::GET, "/v1/datasets", Some(&app.token(sub, role).await), None).await;
        let mut ids: Vec<&str> = answer.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        let mut expected: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
        expected.sort_unstable();
        assert_eq!(ids, expected, "{sub}");
    }

    // Readers see the dataset but not who else it is shared with.
    let as_viewer = app.call(Method::GET, &format!("/v1/datasets/{b1}"), Some(&app.token("viewer-v", Role::Viewer).await), None).await;
    assert!(as_viewer.body.get("shared_with").is_none(), "{}", as_viewer.text);
    let as_owner = app.call(Method::GET, &format!("/v1/datasets/{b1}"), Some(&app.token("analyst-b", Role::Analyst).await), None).await;
    assert_eq!(as_owner.body["shared_with"], json!(["analyst-a", "viewer-v"]));

    // Deleting removes it from every list at once.
    let delete = app.call(Method::DELETE, &format!("/v1/datasets/{b1}"), Some(&app.token("analyst-b", Role::Analyst).await), None).await;
    assert_eq!(delete.status.as_u16(), 204);
    for (sub, role) in [("viewer-v", Role::Viewer), ("analyst-a", Role::Analyst), ("admin-x", Role::Admin)] {
        let answer = app.call(Method::GET, "/v1/datasets", Some(&app.token(sub, role).await), None).await;
        assert!(!answer.text.contains(&b1), "{sub} still lists the deleted dataset");
    }
    app.call(Method::GET, &format!("/v1/datasets/{b1}"), Some(&app.token("admin-x", Role::Admin).await), None).await.assert_problem(404);
}

#[tokio::test]
async fn unsharing_takes_access_away_at_once() {
    let app = spawn_app().await;
    let id = app.create_dataset("analyst-a", "d").await;
    app.share("analyst-a", &id, "viewer-v").await;
    let viewer = app.token("viewer-v", Role::Viewer).await;
    assert_eq!(app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&viewer), None).await.status.as_u16(), 200);
    let owner = app.token("analyst-a", Role::Analyst).await;
    let answer = app.call(Method::DELETE, &format!("/v1/datasets/{id}/shares/viewer-v"), Some(&owner), None).await;
    assert_eq!(answer.status.as_u16(), 204);
    app.call(Method::GET, &format!("/v1/datasets/{id}"), Some(&viewer), None).await.assert_problem(404);
    let list = app.call(Method::GET, "/v1/datasets", Some(&viewer), None).await;
    assert_eq!(list.body["items"], json!([]));
}

#[tokio::test]
async fn pages_walk_the_whole_list_in_order_without_repeats() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_dataset("analyst-p", &format!("p{i}")).await);
    }
    let token = app.token("analyst-p", Role::Analyst).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/datasets?limit=3&cursor={c}"),
            None => "/v1/datasets?limit=3".to_owned(),
        };
        let answer = app.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
        pages += 1;
        seen.extend(answer.body["items"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        match answer.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "ids are time-ordered, so pages come out in creation order");
}
