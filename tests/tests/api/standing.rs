//! Every request is checked against the caller's security record after their token
//! verifies (SR-09): an unknown subject, a disabled account and a revoked token are
//! refused, and the record's role, not the token's, decides.

use reqwest::Method;
use shared::auth::Role;
use shared::auth::standing::{self, SecurityRecord};

use crate::helpers::{SETUP_PREFIX, TestApp, spawn_app};

/// Replaces `subject`'s record through `change`, as an admin route would.
async fn change(app: &TestApp, subject: &str, change: impl FnOnce(&mut SecurityRecord)) {
    let store = app.server.state.store.as_ref();
    let (version, mut record) = standing::read(store, subject).await.unwrap().unwrap();
    change(&mut record);
    let meta = shared::http::RequestMeta { request_id: format!("{SETUP_PREFIX}{}", uuid::Uuid::new_v4()), ..Default::default() };
    let audit = shared::audit::AuditDraft::new("test-setup", "user").finish(&meta, 200);
    store.commit(vec![record.replace(subject, version).unwrap()], &audit).await.unwrap();
}

/// Calls `/v1/me` until it answers `status`, for at most five seconds; how long it took.
async fn answers_within_five_seconds(app: &TestApp, token: &str, status: u16) -> std::time::Duration {
    let started = std::time::Instant::now();
    loop {
        let answer = app.call(Method::GET, "/v1/me", Some(token), None).await;
        if answer.status.as_u16() == status {
            return started.elapsed();
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "still {} after 5 s: {}", answer.status, answer.text);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_genuine_token_for_someone_without_an_account_is_refused() {
    let app = spawn_app().await;
    let token = app.server.issuer.mint_access_token("never-invited", "never-invited", Role::Admin).unwrap();
    let answer = app.call(Method::GET, "/v1/me", Some(&token), None).await;
    answer.assert_problem(401);
    let record = app.audit_for(&answer).await;
    assert_eq!(record.reason.as_deref(), Some("unknown-user"));
    assert_eq!(record.actor.as_deref(), Some("never-invited"), "the token is genuine: the record says who it was");
}

#[tokio::test]
async fn a_disabled_account_is_refused_on_its_next_requests_and_back_when_enabled() {
    let app = spawn_app().await;
    let token = app.token("analyst-d", Role::Analyst).await;
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&token), None).await.status.as_u16(), 200);
    change(&app, "analyst-d", |r| r.enabled = false).await;
    answers_within_five_seconds(&app, &token, 401).await;
    let refused = app.call(Method::GET, "/v1/datasets", Some(&token), None).await;
    refused.assert_problem(401);
    assert_eq!(app.audit_for(&refused).await.reason.as_deref(), Some("user-disabled"));
    change(&app, "analyst-d", |r| r.enabled = true).await;
    answers_within_five_seconds(&app, &token, 200).await;
}

#[tokio::test]
async fn a_revocation_refuses_tokens_issued_up_to_it_and_not_after() {
    let app = spawn_app().await;
    let old = app.token("analyst-r", Role::Analyst).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    change(&app, "analyst-r", |r| r.revoked_through = Some(now)).await;
    answers_within_five_seconds(&app, &old, 401).await;
    let refused = app.call(Method::GET, "/v1/me", Some(&old), None).await;
    assert_eq!(app.audit_for(&refused).await.reason.as_deref(), Some("token-revoked"));
    // A token from after the revocation (a new sign-in) is good.
    while time::OffsetDateTime::now_utc().unix_timestamp() <= now {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let fresh = app.server.issuer.mint_access_token("analyst-r", "analyst-r", Role::Analyst).unwrap();
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&fresh), None).await.status.as_u16(), 200);
}

#[tokio::test]
async fn decisions_use_the_records_role_not_the_tokens() {
    let app = spawn_app().await;
    let admin_token = app.token("demoted", Role::Admin).await;
    let me = app.call(Method::GET, "/v1/me", Some(&admin_token), None).await;
    assert_eq!(me.body["role"], "admin", "{}", me.text);
    change(&app, "demoted", |r| r.role = Role::Viewer).await;
    // The token still says admin; the record says viewer, and viewers may not create.
    let started = std::time::Instant::now();
    loop {
        let answer = app.call(Method::POST, "/v1/datasets", Some(&admin_token), Some(crate::helpers::sample_dataset("d"))).await;
        if answer.status.as_u16() == 403 {
            break;
        }
        assert_eq!(answer.status.as_u16(), 201, "{}", answer.text);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the demotion did not apply within 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let me = app.call(Method::GET, "/v1/me", Some(&admin_token), None).await;
    assert_eq!(me.body["role"], "viewer", "{}", me.text);
    let record = app.audit_for(&me).await;
    assert_eq!(record.actor_role, Some(Role::Viewer));
}

#[tokio::test]
async fn each_user_has_a_request_rate_and_admins_a_larger_one() {
    let app = crate::helpers::spawn_app_with(devserver::DevConfig {
        api_rate: shared::state::ApiRate { user: 5, admin: 8 },
        ..devserver::DevConfig::default()
    })
    .await;
    let analyst = app.token("analyst-rate", Role::Analyst).await;
    let other = app.token("analyst-other", Role::Analyst).await;
    let admin = app.token("admin-rate", Role::Admin).await;
    // The window may turn over while this runs: then the count starts again, which the
    // loop allows for by retrying once in the next window.
    for attempt in 0..2 {
        let window_end = 60 - time::OffsetDateTime::now_utc().unix_timestamp().rem_euclid(60);
        if window_end < 5 {
            tokio::time::sleep(std::time::Duration::from_secs(u64::try_from(window_end).unwrap() + 1)).await;
        }
        let mut statuses = Vec::new();
        for _ in 0..7 {
            statuses.push(app.call(Method::GET, "/v1/me", Some(&analyst), None).await.status.as_u16());
        }
        let admin_statuses: Vec<u16> = futures::future::join_all((0..9).map(|_| app.call(Method::GET, "/v1/me", Some(&admin), None)))
            .await
            .iter()
            .map(|a| a.status.as_u16())
            .collect();
        if statuses != [200, 200, 200, 200, 200, 429, 429] && attempt == 0 {
            continue;
        }
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429]);
        assert_eq!(admin_statuses.iter().filter(|s| **s == 200).count(), 8, "{admin_statuses:?}");
        assert_eq!(admin_statuses.iter().filter(|s| **s == 429).count(), 1, "{admin_statuses:?}");
        break;
    }
    let limited = app.call(Method::GET, "/v1/datasets", Some(&analyst), None).await;
    assert_eq!(limited.assert_problem(429), "too-many-requests");
    let retry: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let record = app.audit_for(&limited).await;
    assert_eq!((record.reason.as_deref(), record.actor.as_deref(), record.status), (Some("rate-limited"), Some("analyst-rate"), 429));
    // Someone else is not held back by it.
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&other), None).await.status.as_u16(), 200);
}
