//! `/v1/admin/settings`: read and changed by admins only, validated whole, conditional on
//! the version read, and audited with what moved.

use reqwest::Method;
use serde_json::json;
use shared::Route;
use shared::auth::Role;

use crate::helpers::{CALLERS, Caller, spawn_app};

#[tokio::test]
async fn only_admins_read_and_change_the_settings() {
    let app = spawn_app().await;
    for caller in CALLERS {
        let sub = format!("{caller:?}-settings").to_lowercase();
        let token = match caller.role() {
            Some(role) => Some(app.token(&sub, role).await),
            None => None,
        };
        let expected = match caller {
            Caller::Admin => 200,
            Caller::Analyst | Caller::Viewer => 403,
            Caller::Anonymous => 401,
        };
        let read = app.call(Method::GET, "/v1/admin/settings", token.as_deref(), None).await;
        assert_eq!(read.status.as_u16(), expected, "read by {caller:?}: {}", read.text);
        let etag = read.etag().unwrap_or("\"0\"").to_owned();
        let change = json!({"detection": {"block_minutes": 30}});
        let write = app.call_with(Method::PATCH, "/v1/admin/settings", token.as_deref(), Some(change), &[("if-match", &etag)]).await;
        assert_eq!(write.status.as_u16(), expected, "change by {caller:?}: {}", write.text);
        for (answer, route) in [(&read, Route::GetSettings), (&write, Route::UpdateSettings)] {
            app.assert_matrix_call(answer, route, expected, &format!("{route:?} by {caller:?}")).await;
        }
    }
}

#[tokio::test]
async fn a_change_needs_the_version_it_read_is_validated_whole_and_says_what_moved() {
    let app = spawn_app().await;
    let admin = app.token("root", Role::Admin).await;
    let read = app.call(Method::GET, "/v1/admin/settings", Some(&admin), None).await;
    assert_eq!(read.body["retention"], json!({"audit_days": 90, "deleted_days": 30, "findings_days": 365}));
    assert_eq!(read.body["detection"]["enumeration"], json!({"count": 30, "window_minutes": 5}));
    assert_eq!(read.etag(), Some("\"0\""));

    let change = json!({"retention": {"audit_days": 180}, "detection": {"enumeration": {"count": 40}}});
    let without = app.call(Method::PATCH, "/v1/admin/settings", Some(&admin), Some(change.clone())).await;
    without.assert_problem(428);
    let changed = app.call_with(Method::PATCH, "/v1/admin/settings", Some(&admin), Some(change.clone()), &[("if-match", "\"0\"")]).await;
    assert_eq!(changed.status.as_u16(), 200, "{}", changed.text);
    assert_eq!((changed.body["retention"]["audit_days"].as_u64(), changed.etag()), (Some(180), Some("\"1\"")));
    let record = app.audit_for(&changed).await;
    assert_eq!(record.detail.as_deref(), Some("retention.audit_days 90 -> 180; detection.enumeration.count 30 -> 40"));
    // Based on the version before: refused, nothing changed.
    let stale = app
        .call_with(
            Method::PATCH,
            "/v1/admin/settings",
            Some(&admin),
            Some(json!({"retention": {"audit_days": 365}})),
            &[("if-match", "\"0\"")],
        )
        .await;
    stale.assert_problem(412);

    for (body, field) in [
        (json!({"retention": {"audit_days": 7}}), "retention.audit_days"),
        (json!({"detection": {"exports": {"window_minutes": 0}}}), "detection.exports.window_minutes"),
        // A valid value beside an invalid one: neither applies.
        (json!({"mfa_required_for_admins": true, "detection": {"block_minutes": 0}}), "detection.block_minutes"),
    ] {
        let answer = app.call_with(Method::PATCH, "/v1/admin/settings", Some(&admin), Some(body.clone()), &[("if-match", "\"1\"")]).await;
        assert_eq!(answer.assert_problem(400), "validation", "{body}");
        assert_eq!(answer.body["field"], field, "{body}");
    }
    let unknown = app
        .call_with(
            Method::PATCH,
            "/v1/admin/settings",
            Some(&admin),
            Some(json!({"retention": {"forever": true}})),
            &[("if-match", "\"1\"")],
        )
        .await;
    unknown.assert_problem(400);
    let after = app.call(Method::GET, "/v1/admin/settings", Some(&admin), None).await;
    assert_eq!((after.body["retention"]["audit_days"].as_u64(), after.body["mfa_required_for_admins"].as_bool()), (Some(180), Some(false)));
    assert_eq!(after.etag(), Some("\"1\""));
}
