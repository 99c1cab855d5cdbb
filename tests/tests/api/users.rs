//! User administration: the user routes' permission matrix with its audit records, the
//! last enabled admin (SR-16) one request at a time and under racing requests, bad input,
//! and a role change, a disable and a deletion ending a real sign-in's tokens.

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::Route;
use shared::audit::AuditDecision;
use shared::auth::Role;
use shared::domain::ids::UserId;
use shared::domain::user::{AccountStatus, Email, Invitation, User};
use shared::identity::directory::{AccountChange, DirectoryError, FollowUp, Staged, UserDirectory, UserPage};
use shared::store::ItemStore;

use crate::helpers::{CALLERS, Caller, TestApp, spawn_app};
use crate::sign_in::{Browser, REDIRECT, code_of, pkce, token_request};

/// Invites `email` in `role` as `admin` and returns the new user's id.
pub(crate) async fn invite(app: &TestApp, admin: &str, email: &str, role: Role) -> String {
    let answer = app.call(Method::POST, "/v1/users", Some(admin), Some(json!({"email": email, "role": role.as_str()}))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["id"].as_str().unwrap().to_owned()
}

/// A user with an account in `role`, and an access token for them.
pub(crate) async fn account(app: &TestApp, admin: &str, email: &str, role: Role) -> (String, String) {
    let id = invite(app, admin, email, role).await;
    let token = app.token(&id, role).await;
    (id, token)
}

/// The first admin's id: the server created their account on its first start.
async fn first_admin_id(app: &TestApp) -> String {
    let email = shared::domain::user::Email::parse(devserver::FIRST_ADMIN_EMAIL).unwrap();
    app.server.idp.directory.find_by_email(&email).await.unwrap().unwrap().id.as_str().to_owned()
}

/// A route, its request, and the statuses for admin, analyst, viewer and no token.
type MatrixRow = (Route, Method, String, Option<serde_json::Value>, [u16; 4]);

#[tokio::test]
async fn user_routes_follow_the_matrix_for_every_role_on_oneself_and_on_others() {
    let app = spawn_app().await;
    let setup = app.token("matrix-setup-admin", Role::Admin).await;
    let mut n = 0;
    for caller in CALLERS {
        n += 1;
        let (me, token) = match caller.role() {
            Some(role) => {
                let (id, token) = account(&app, &setup, &format!("caller{n}@example.com"), role).await;
                (id, Some(token))
            }
            None => ("nobody".to_owned(), None),
        };
        // A fresh target for each route that changes it.
        let mut cases: Vec<MatrixRow> = vec![
            (Route::ListUsers, Method::GET, "/v1/users".into(), None, [200, 200, 403, 401]),
            (
                Route::InviteUser,
                Method::POST,
                "/v1/users".into(),
                Some(json!({"email": format!("new{n}@example.com")})),
                [201, 403, 403, 401],
            ),
            (Route::GetUser, Method::GET, format!("/v1/users/{me}"), None, [200, 200, 403, 401]),
        ];
        for (route, method, suffix, body, statuses) in [
            (Route::GetUser, Method::GET, "", None, [200, 200, 403, 401]),
            (Route::UpdateUser, Method::PATCH, "", Some(json!({"role": "analyst"})), [200, 403, 403, 401]),
            (Route::SignOutUser, Method::POST, "/sign-out", None, [204, 403, 403, 401]),
            (Route::DeleteUser, Method::DELETE, "", None, [204, 403, 403, 401]),
        ] {
            n += 1;
            let other = invite(&app, &setup, &format!("target{n}@example.com"), Role::Viewer).await;
            cases.push((route, method, format!("/v1/users/{other}{suffix}"), body, statuses));
        }
        for (route, method, path, body, statuses) in cases {
            let expected = statuses[CALLERS.iter().position(|c| *c == caller).unwrap()];
            let answer = app.call(method, &path, token.as_deref(), body).await;
            let label = format!("{route:?} {path} by {caller:?}");
            assert_eq!(answer.status.as_u16(), expected, "{label}: {}", answer.text);
            let record = app.audit_for(&answer).await;
            assert_eq!((record.action.as_str(), record.status), (route.function_name(), expected), "{label}");
            assert_eq!(record.actor.is_some(), caller != Caller::Anonymous, "{label}");
            let decision = match expected {
                401 => AuditDecision::NotEvaluated,
                403 => AuditDecision::Deny,
                _ => AuditDecision::Allow,
            };
            assert_eq!(record.decision, decision, "{label}");
            if route != Route::ListUsers && expected != 401 {
                let id = if route == Route::InviteUser {
                    answer.body["id"].as_str().map(str::to_owned)
                } else {
                    path.split('/').nth(3).map(str::to_owned)
                };
                assert_eq!(record.resource_id, id, "{label}");
            }
        }
    }
}

#[tokio::test]
async fn an_admins_changes_show_in_the_directory_and_in_what_the_user_may_do() {
    let app = spawn_app().await;
    let admin = app.token("changes-admin", Role::Admin).await;
    let (id, token) = account(&app, &admin, "Ingrid.Viewer@Example.com", Role::Viewer).await;
    let shown = app.call(Method::GET, &format!("/v1/users/{id}"), Some(&admin), None).await;
    assert_eq!(shown.body["email"], "ingrid.viewer@example.com");
    assert_eq!(
        (shown.body["role"].as_str(), shown.body["enabled"].as_bool(), shown.body["status"].as_str()),
        (Some("viewer"), Some(true), Some("invited"))
    );
    // A viewer may not create datasets; promoted, a fresh token may.
    assert_eq!(
        app.call(Method::POST, "/v1/datasets", Some(&token), Some(crate::helpers::sample_dataset("a"))).await.status,
        StatusCode::FORBIDDEN
    );
    let promoted = app.call(Method::PATCH, &format!("/v1/users/{id}"), Some(&admin), Some(json!({"role": "analyst"}))).await;
    assert_eq!((promoted.status, promoted.body["role"].as_str()), (StatusCode::OK, Some("analyst")), "{}", promoted.text);
    assert_eq!(app.server.idp.directory.get(&shared::domain::ids::UserId::parse(&id).unwrap()).await.unwrap().unwrap().role, Role::Analyst);
    // The old token was revoked with the change.
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&token), None).await.status, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = app.server.issuer.mint_access_token(&id, &id, Role::Viewer).unwrap();
    let created = app.call(Method::POST, "/v1/datasets", Some(&fresh), Some(crate::helpers::sample_dataset("a"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "the record's role decides, not the token's: {}", created.text);
    let me = app.call(Method::GET, "/v1/me", Some(&fresh), None).await;
    assert_eq!((me.body["role"].as_str(), me.body["account"]["email"].as_str()), (Some("analyst"), Some("ingrid.viewer@example.com")));

    let listed = app.call(Method::GET, "/v1/users?limit=100", Some(&admin), None).await;
    assert!(listed.body["items"].as_array().unwrap().iter().any(|u| u["id"] == id.as_str()), "{}", listed.text);
    let deleted = app.call(Method::DELETE, &format!("/v1/users/{id}"), Some(&admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    assert_eq!(app.call(Method::GET, &format!("/v1/users/{id}"), Some(&admin), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&fresh), None).await.status, StatusCode::UNAUTHORIZED, "a deleted user's token");
}

#[tokio::test]
async fn user_lists_page_with_sealed_cursors() {
    let app = spawn_app().await;
    let admin = app.token("pages-admin", Role::Admin).await;
    for n in 0..5 {
        invite(&app, &admin, &format!("paged{n}@example.com"), Role::Viewer).await;
    }
    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=2".to_owned();
    loop {
        let page = app.call(Method::GET, &path, Some(&admin), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["email"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    // The first admin, then the five in the order they were invited.
    let expected: Vec<String> =
        std::iter::once(devserver::FIRST_ADMIN_EMAIL.to_owned()).chain((0..5).map(|n| format!("paged{n}@example.com"))).collect();
    assert_eq!(seen, expected);
    // Another caller's cursor, or an edited one, is refused.
    let first = app.call(Method::GET, "/v1/users?limit=2", Some(&admin), None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let other = app.token("pages-other-admin", Role::Admin).await;
    app.call(Method::GET, &format!("/v1/users?cursor={cursor}"), Some(&other), None).await.assert_problem(400);
    // The first character: all six of its bits are the seal's (the last may hold unused ones).
    let edited = format!("{}{}", if cursor.starts_with('A') { 'B' } else { 'A' }, &cursor[1..]);
    app.call(Method::GET, &format!("/v1/users?cursor={edited}"), Some(&admin), None).await.assert_problem(400);
}

#[tokio::test]
async fn bad_user_requests_get_a_clear_4xx_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.token("input-admin", Role::Admin).await;
    let id = invite(&app, &admin, "taken@example.com", Role::Viewer).await;
    let one = format!("/v1/users/{id}");
    for (method, path, body, status, field) in [
        (Method::POST, "/v1/users", json!({"email": "not-an-address"}), 400, Some("email")),
        (Method::POST, "/v1/users", json!({"email": "a@example.com", "role": "root"}), 400, None),
        (Method::POST, "/v1/users", json!({"email": "a@example.com", "admin": true}), 400, None),
        (Method::POST, "/v1/users", json!({"email": "a@example.com", "name": "   "}), 400, Some("name")),
        (Method::POST, "/v1/users", json!({"email": " TAKEN@example.com "}), 409, None),
        (Method::PATCH, one.as_str(), json!({}), 400, Some("role")),
        (Method::PATCH, one.as_str(), json!({"enabled": "no"}), 400, None),
        (Method::PATCH, "/v1/users/no%20such", json!({"role": "viewer"}), 400, Some("userId")),
        (Method::PATCH, "/v1/users/0193aaaa-0000-7000-8000-000000000000", json!({"role": "viewer"}), 404, None),
    ] {
        let answer = app.call(method.clone(), path, Some(&admin), Some(body.clone())).await;
        answer.assert_problem(status);
        if let Some(field) = field {
            assert_eq!(answer.body["field"], field, "{method} {path} {body}: {}", answer.text);
        }
    }
    let big = json!({"email": format!("{}@example.com", "a".repeat(5000))});
    app.call(Method::POST, "/v1/users", Some(&admin), Some(big)).await.assert_problem(413);
    let text = app
        .client
        .post(format!("{}/v1/users", app.base))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Nothing changed: the one invited user is as invited, and no account was added.
    let shown = app.call(Method::GET, &one, Some(&admin), None).await;
    assert_eq!((shown.body["role"].as_str(), shown.body["enabled"].as_bool()), (Some("viewer"), Some(true)));
    let listed = app.call(Method::GET, "/v1/users?limit=100", Some(&admin), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2, "the first admin and the invitee: {}", listed.text);
}

#[tokio::test]
async fn the_last_enabled_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let first = first_admin_id(&app).await;
    let token = app.token(&first, Role::Admin).await;
    let me = format!("/v1/users/{first}");
    for (method, body) in
        [(Method::PATCH, Some(json!({"role": "analyst"}))), (Method::PATCH, Some(json!({"enabled": false}))), (Method::DELETE, None)]
    {
        let answer = app.call(method.clone(), &me, Some(&token), body).await;
        assert_eq!(answer.assert_problem(409), "conflict");
        assert!(answer.body["detail"].as_str().unwrap().contains("last enabled admin"), "{}", answer.text);
        let record = app.audit_for(&answer).await;
        assert_eq!((record.status, record.reason.as_deref()), (409, Some("conflict")));
    }
    // With a second admin, the first may step down; then the second is the last.
    let second = invite(&app, &token, "second.admin@example.com", Role::Admin).await;
    let stepped_down = app.call(Method::PATCH, &me, Some(&token), Some(json!({"role": "analyst"}))).await;
    assert_eq!(stepped_down.status, StatusCode::OK, "{}", stepped_down.text);
    let second_token = app.token(&second, Role::Admin).await;
    let last = app.call(Method::DELETE, &format!("/v1/users/{second}"), Some(&second_token), None).await;
    last.assert_problem(409);
    // Disabled admins don't count: re-promoted but disabled, the first still leaves the second last.
    let promoted = app.call(Method::PATCH, &me, Some(&second_token), Some(json!({"role": "admin", "enabled": false}))).await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
    app.call(Method::PATCH, &format!("/v1/users/{second}"), Some(&second_token), Some(json!({"enabled": false}))).await.assert_problem(409);
}

/// Two admins, each disabling the other at the same moment: exactly one succeeds, so one
/// enabled admin always remains. The store holds both commits until both requests have
/// read the roster, so the race happens every time (and the test shows it did).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_removing_each_other_at_once_leave_one() {
    let dir = tempfile::tempdir().unwrap();
    let racing = std::sync::Arc::new(crate::racing::RacingStore::new(
        store_embedded::SqliteStore::open(&dir.path().join("store.sqlite3")).unwrap(),
        crate::racing::Gate::CommitOf(shared::auth::roster::key()),
        2,
    ));
    let (mut state, issuer) = crate::helpers::in_process(racing.clone(), dir.path());
    let directory = shared::identity::embedded::EmbeddedDirectory::new(
        std::sync::Arc::clone(&state.store),
        std::sync::Arc::new(shared::store::email_index::PlainIndex),
        crate::helpers::cheap_hasher(),
        "http://127.0.0.1:1".into(),
    );
    // Two admin accounts, set up beside the gate.
    let beside = crate::helpers::sealed(racing.inner.clone(), dir.path());
    let mut ids = Vec::new();
    for email in ["first.admin@example.com", "second.admin@example.com"] {
        let invitation = Invitation { email: Email::parse(email).unwrap(), name: None, role: Role::Admin };
        let (user, _, mut writes) = directory.stage_account(&invitation, time::OffsetDateTime::now_utc()).await.unwrap();
        let roster = shared::auth::roster::AdminRoster::read(&*beside).await.unwrap();
        let record = shared::auth::standing::SecurityRecord::new(Role::Admin);
        writes.extend(shared::auth::roster::standing_writes(&roster, user.id.as_str(), None, Some(&record)).unwrap());
        let meta = shared::http::RequestMeta { request_id: format!("{}admin", crate::helpers::SETUP_PREFIX), ..Default::default() };
        beside.commit(writes, &shared::audit::AuditDraft::new("test-setup", "user").finish(&meta, 201)).await.unwrap();
        ids.push(user.id.as_str().to_owned());
    }
    state.directory = Some(std::sync::Arc::new(directory));
    let disable = |caller: &str, target: &str| {
        use lambda_http::RequestExt;
        let token = issuer.mint_access_token(caller, caller, Role::Admin).unwrap();
        lambda_http::http::Request::builder()
            .method("PATCH")
            .uri(format!("/v1/users/{target}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(json!({"enabled": false}).to_string()))
            .unwrap()
            .with_path_parameters(std::collections::HashMap::from([("userId".to_owned(), target.to_owned())]))
    };
    let (one, two) = tokio::join!(
        shared::handle(&state, Route::UpdateUser, disable(&ids[0], &ids[1])),
        shared::handle(&state, Route::UpdateUser, disable(&ids[1], &ids[0])),
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "one wins, the other is refused");
    assert_eq!(racing.commits(), (2, 1), "both reached the commit having read the same roster; one lost there");
    let winner = if one.status().as_u16() == 200 { &ids[0] } else { &ids[1] };
    let roster = shared::auth::roster::AdminRoster::read(&*beside).await.unwrap();
    assert_eq!(roster.admins().iter().collect::<Vec<_>>(), [winner], "the winner is the one admin left");
}

/// Signs `email` in through the browser flow, choosing `new_password` when the password is
/// temporary, and exchanges the code: the token response.
async fn sign_in(app: &TestApp, email: &str, password: &str, new_password: Option<&str>) -> Result<serde_json::Value, String> {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let form = browser.authorize(&challenge, &[]).await;
    let mut page = browser.submit(&form, &[("email", email), ("password", password)]).await;
    if let Some(new_password) = new_password {
        if page.status != StatusCode::OK || !page.text.contains("Choose your password") {
            return Err(page.text);
        }
        page = browser.submit(&page, &[("new_password", new_password)]).await;
    }
    if page.status != StatusCode::FOUND {
        return Err(page.text);
    }
    let (code, _) = code_of(&page);
    let answer = token_request(
        app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    Ok(answer.body)
}

async fn refused_within_five_seconds(app: &TestApp, access: &str) {
    let started = std::time::Instant::now();
    while app.call(Method::GET, "/v1/me", Some(access), None).await.status != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the access token still works after 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn refresh(app: &TestApp, refresh_token: &str) -> StatusCode {
    token_request(app, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await.status
}

#[tokio::test]
async fn an_invitee_signs_in_and_a_role_change_a_disable_and_a_deletion_end_their_tokens() {
    let app = spawn_app().await;
    let first = first_admin_id(&app).await;
    let admin = app.token(&first, Role::Admin).await;
    let id = invite(&app, &admin, "olga.invitee@example.com", Role::Viewer).await;
    let mail = app.server.idp.directory.outbox().await.unwrap().into_iter().find(|m| m.user.as_str() == id).unwrap();
    let temporary = mail.body.lines().find_map(|l| l.trim().strip_prefix("temporary password: ")).unwrap().trim().to_owned();
    // The invitation's audit record holds neither the password nor the address.
    let trail = serde_json::to_string(&app.audit_records().await).unwrap();
    assert!(!trail.contains(&temporary) && !trail.contains("olga.invitee"), "{trail}");

    let password = "Saffron#Lattice42Wharf";
    let tokens = sign_in(&app, "olga.invitee@example.com", &temporary, Some(password)).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.call(Method::GET, "/v1/me", Some(access), None).await;
    assert_eq!((me.body["role"].as_str(), me.body["account"]["status"].as_str()), (Some("viewer"), Some("active")), "{}", me.text);

    // A role change: the tokens end, the next sign-in carries the new role.
    let changed = app.call(Method::PATCH, &format!("/v1/users/{id}"), Some(&admin), Some(json!({"role": "analyst"}))).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    refused_within_five_seconds(&app, access).await;
    assert_eq!(refresh(&app, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST, "refresh after a role change");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let tokens = sign_in(&app, "olga.invitee@example.com", password, None).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let me = app.call(Method::GET, "/v1/me", Some(access), None).await;
    assert_eq!(me.body["role"], "analyst", "{}", me.text);

    // A disable: the tokens end and no sign-in or refresh works.
    let disabled = app.call(Method::PATCH, &format!("/v1/users/{id}"), Some(&admin), Some(json!({"enabled": false}))).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
    refused_within_five_seconds(&app, access).await;
    assert_eq!(refresh(&app, tokens["refresh_token"].as_str().unwrap()).await, StatusCode::BAD_REQUEST, "refresh while disabled");
    assert!(sign_in(&app, "olga.invitee@example.com", password, None).await.is_err(), "sign-in while disabled");

    // Enabled again, then deleted: gone from the directory, its sign-in with it.
    let enabled = app.call(Method::PATCH, &format!("/v1/users/{id}"), Some(&admin), Some(json!({"enabled": true}))).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.text);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let tokens = sign_in(&app, "olga.invitee@example.com", password, None).await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.call(Method::GET, "/v1/me", Some(access), None).await.status, StatusCode::OK);
    let deleted = app.call(Method::DELETE, &format!("/v1/users/{id}"), Some(&admin), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    refused_within_five_seconds(&app, access).await;
    assert!(sign_in(&app, "olga.invitee@example.com", password, None).await.is_err(), "sign-in once deleted");

    let actions: Vec<(String, u16)> = app
        .audit_records()
        .await
        .into_iter()
        .filter(|r| r.resource_id.as_deref() == Some(id.as_str()))
        .map(|r| (r.action, r.status))
        .collect();
    for expected in [("invite-user", 201), ("update-user", 200), ("delete-user", 204)] {
        assert!(actions.iter().any(|(a, s)| (a.as_str(), *s) == expected), "{expected:?} in {actions:?}");
    }
}

/// A directory that, like Cognito, makes each change at once and says how to undo it;
/// it records the follow-ups it is asked to make.
#[derive(Debug, Default)]
struct RemoteDirectory {
    applied: std::sync::Mutex<Vec<FollowUp>>,
}

fn remote_user(id: &UserId) -> User {
    User {
        id: id.clone(),
        email: Email::parse("remote.user@example.com").unwrap(),
        name: None,
        role: Role::Viewer,
        enabled: true,
        status: AccountStatus::Active,
        mfa_enabled: false,
        created_at: "2026-12-01T00:00:00Z".into(),
    }
}

#[async_trait::async_trait]
impl UserDirectory for RemoteDirectory {
    async fn invite(&self, _: &Invitation) -> Result<Staged<User>, DirectoryError> {
        let id = UserId::parse(REMOTE_USER).unwrap();
        Ok(Staged::applied(remote_user(&id), FollowUp::Delete(id)))
    }
    async fn get(&self, id: &UserId) -> Result<Option<User>, DirectoryError> {
        Ok(Some(remote_user(id)))
    }
    async fn find_by_email(&self, _: &Email) -> Result<Option<User>, DirectoryError> {
        Err(DirectoryError::Unavailable("not asked".into()))
    }
    async fn list(&self, _: Option<&str>, _: usize) -> Result<UserPage, DirectoryError> {
        Err(DirectoryError::Unavailable("not asked".into()))
    }
    async fn change(&self, id: &UserId, _: &AccountChange) -> Result<Staged<()>, DirectoryError> {
        let undo = AccountChange { role: Some(Role::Viewer), enabled: Some(true), sign_out: false };
        Ok(Staged::applied((), FollowUp::Change(id.clone(), undo)))
    }
    async fn delete(&self, id: &UserId) -> Result<Staged<()>, DirectoryError> {
        let undo = AccountChange { enabled: Some(true), ..AccountChange::default() };
        Ok(Staged { then: vec![FollowUp::Delete(id.clone())], ..Staged::applied((), FollowUp::Change(id.clone(), undo)) })
    }
    async fn apply(&self, follow_up: &FollowUp) -> Result<(), DirectoryError> {
        self.applied.lock().unwrap().push(follow_up.clone());
        Ok(())
    }
}

const REMOTE_USER: &str = "5b0f6c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e";

fn admin_request(token: &str, method: &str, path: &str, body: Option<serde_json::Value>) -> lambda_http::Request {
    use lambda_http::RequestExt;
    let builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    let body = body.map_or(lambda_http::Body::Empty, |b| lambda_http::Body::Text(b.to_string()));
    builder.body(body).unwrap().with_path_parameters(std::collections::HashMap::from([("userId".to_owned(), REMOTE_USER.to_owned())]))
}

#[tokio::test]
async fn a_remote_directory_change_is_undone_when_its_commit_fails_and_a_deletion_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let store = std::sync::Arc::new(crate::audit::AuditDown(std::sync::Arc::new(store_embedded::SqliteStore::open(&path).unwrap())));
    let sealed = crate::helpers::sealed(store.0.clone(), dir.path());
    let (mut state, issuer) = crate::helpers::in_process(store.clone(), dir.path());
    let directory = std::sync::Arc::new(RemoteDirectory::default());
    state.directory = Some(directory.clone());
    crate::helpers::register_in(&*sealed, "remote-admin", Role::Admin).await;
    crate::helpers::register_in(&*sealed, REMOTE_USER, Role::Viewer).await;
    let token = issuer.mint_access_token("remote-admin", "remote-admin", Role::Admin).unwrap();
    let id = UserId::parse(REMOTE_USER).unwrap();

    // The store refuses every commit: each change is made remotely, then taken back.
    let invite = admin_request(&token, "POST", "/v1/users", Some(json!({"email": "remote.user@example.com"})));
    assert_eq!(shared::handle(&state, Route::InviteUser, invite).await.status().as_u16(), 503);
    let update = admin_request(&token, "PATCH", &format!("/v1/users/{REMOTE_USER}"), Some(json!({"role": "analyst"})));
    assert_eq!(shared::handle(&state, Route::UpdateUser, update).await.status().as_u16(), 503);
    let delete = admin_request(&token, "DELETE", &format!("/v1/users/{REMOTE_USER}"), None);
    assert_eq!(shared::handle(&state, Route::DeleteUser, delete).await.status().as_u16(), 503);
    let restored = AccountChange { role: Some(Role::Viewer), enabled: Some(true), sign_out: false };
    let enabled = AccountChange { enabled: Some(true), ..AccountChange::default() };
    assert_eq!(
        *directory.applied.lock().unwrap(),
        [FollowUp::Delete(id.clone()), FollowUp::Change(id.clone(), restored), FollowUp::Change(id.clone(), enabled)],
        "undone, and the deletion never made"
    );
    let record = shared::auth::standing::read(&*sealed, REMOTE_USER).await.unwrap().unwrap().1;
    assert_eq!((record.role, record.enabled), (Role::Viewer, true), "the API's side is unchanged");

    // Over a store that commits, the deletion is made after the commit, and nothing undone.
    let (mut state, issuer) =
        crate::helpers::in_process(std::sync::Arc::new(store_embedded::SqliteStore::open(&path).unwrap()), dir.path());
    let directory = std::sync::Arc::new(RemoteDirectory::default());
    state.directory = Some(directory.clone());
    let token = issuer.mint_access_token("remote-admin", "remote-admin", Role::Admin).unwrap();
    let delete = admin_request(&token, "DELETE", &format!("/v1/users/{REMOTE_USER}"), None);
    assert_eq!(shared::handle(&state, Route::DeleteUser, delete).await.status().as_u16(), 204);
    assert_eq!(*directory.applied.lock().unwrap(), [FollowUp::Delete(id)]);
    assert!(shared::auth::standing::read(&*sealed, REMOTE_USER).await.unwrap().is_none());
}
