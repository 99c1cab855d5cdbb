//! Detection and containment (SR-21, SR-40), on the whole local server: a credential-
//! stuffing burst and an id-enumeration run, each from an address of its own (loopback
//! addresses: 127.0.0.x), are found at their threshold, the address is blocked, its next
//! request is refused and audited, and an admin's unblock lets it back in.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Method;
use serde_json::json;
use shared::auth::Role;

use crate::helpers::{TestApp, cheap_hasher, read, spawn_app_with};
use crate::sign_in::{Browser, pkce};

async fn detecting_app() -> TestApp {
    spawn_app_with(devserver::DevConfig { hasher: cheap_hasher(), detect_threats: true, ..devserver::DevConfig::default() }).await
}

fn client_from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .build()
        .unwrap()
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str, token: Option<&str>) -> crate::helpers::Answer {
    let mut request = client.get(format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_credential_stuffing_burst_is_blocked_at_its_threshold_refused_audited_and_released() {
    let app = detecting_app().await;
    let admin = app.token("soc-admin", Role::Admin).await;
    // Ten failed sign-ins in five minutes from one address (the default threshold).
    let attacker = Browser { client: client_from(66), base: app.base.clone() };
    let (_, challenge) = pkce();
    let form = attacker.authorize(&challenge, &[]).await;
    let mut statuses = Vec::new();
    for n in 0..10 {
        let email = format!("victim{n}@example.com");
        let answer = attacker.submit(&form, &[("email", email.as_str()), ("password", "Autumn!Leaves2026")]).await;
        statuses.push(answer.status.as_u16());
    }
    // The identity provider's own limit answered 429 after five; all ten count.
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);

    // The tenth reached the threshold: a finding, and the address blocked.
    let findings = app.call(Method::GET, "/v1/admin/findings", Some(&admin), None).await;
    assert_eq!(findings.status.as_u16(), 200, "{}", findings.text);
    let finding = &findings.body["items"][0];
    assert_eq!(finding["pattern"], "failed-sign-ins", "{}", findings.text);
    assert_eq!(finding["source"], json!({"kind": "address", "value": "127.0.0.66"}));
    assert_eq!((finding["count"].as_u64(), finding["window_minutes"].as_u64()), (Some(10), Some(5)));
    let blocked = app.call(Method::GET, "/v1/admin/blocked-ips", Some(&admin), None).await;
    assert_eq!(blocked.body["items"][0]["ip"], "127.0.0.66", "{}", blocked.text);
    assert_eq!(blocked.body["items"][0]["finding"], finding["id"]);

    // Its next request, to the API or to the sign-in pages, is refused and audited.
    let refused = get(&app, &attacker.client, "/v1/me", None).await;
    refused.assert_problem(403);
    let record = app.audit_for(&refused).await;
    assert_eq!((record.status, record.reason.as_deref(), record.source_ip.as_deref()), (403, Some("ip-blocked"), Some("127.0.0.66")));
    let page = attacker.authorize(&challenge, &[]).await;
    assert_eq!(page.status.as_u16(), 403);
    // Others are not: the admin works on, from 127.0.0.1.
    assert_eq!(app.call(Method::GET, "/v1/me", Some(&admin), None).await.status.as_u16(), 200);
    let trail = app.audit_records().await;
    let block = trail.iter().find(|r| r.action == "detector-block-ip").expect("the block is audited");
    assert_eq!(block.resource_id.as_deref(), Some("127.0.0.66"));

    // Unblocking restores access at once.
    let unblock = app.call(Method::DELETE, "/v1/admin/blocked-ips/127.0.0.66", Some(&admin), None).await;
    assert_eq!(unblock.status.as_u16(), 204, "{}", unblock.text);
    assert_eq!(app.audit_for(&unblock).await.action, "unblock-ip");
    let back = get(&app, &attacker.client, "/v1/me", None).await;
    back.assert_problem(401);
    assert_eq!(attacker.authorize(&challenge, &[]).await.status.as_u16(), 200);
}

#[tokio::test]
async fn an_id_enumeration_run_is_found_per_address_and_per_principal_and_blocked() {
    let app = detecting_app().await;
    let admin = app.token("soc-admin", Role::Admin).await;
    let scanner = app.token("curious-analyst", Role::Analyst).await;
    let client = client_from(77);
    // Thirty datasets that don't exist in five minutes (the default threshold).
    for n in 0..30 {
        let answer = get(&app, &client, &format!("/v1/datasets/{}", uuid::Uuid::now_v7()), Some(&scanner)).await;
        assert_eq!(answer.status.as_u16(), 404, "attempt {n}: {}", answer.text);
    }
    let next = get(&app, &client, "/v1/datasets", Some(&scanner)).await;
    next.assert_problem(403);
    let findings = app.call(Method::GET, "/v1/admin/findings", Some(&admin), None).await;
    let mut sources: Vec<String> =
        findings.body["items"].as_array().unwrap().iter().map(|f| format!("{} {}", f["pattern"], f["source"]["value"])).collect();
    sources.sort();
    assert_eq!(sources, ["\"enumeration\" \"127.0.0.77\"", "\"enumeration\" \"curious-analyst\""], "{}", findings.text);
    // The principal's finding blocks nothing by itself (signing them out is the admin's call).
    let principal = findings.body["items"].as_array().unwrap().iter().find(|f| f["source"]["kind"] == "principal").unwrap();
    assert!(principal.get("blocked_until").is_none());
    // Blocking by hand, and the guard against blocking oneself.
    let own = app.call_with(Method::PUT, "/v1/admin/blocked-ips/127.0.0.1", Some(&admin), Some(json!({})), &[]).await;
    own.assert_problem(409);
    let manual = app
        .call(Method::PUT, "/v1/admin/blocked-ips/198.51.100.7", Some(&admin), Some(json!({"minutes": 15, "reason": "seen in WAF logs"})))
        .await;
    assert_eq!(manual.status.as_u16(), 200, "{}", manual.text);
    let list = app.call(Method::GET, "/v1/admin/blocked-ips", Some(&admin), None).await;
    let mut ips: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|e| e["ip"].as_str().unwrap()).collect();
    ips.sort_unstable();
    assert_eq!(ips, ["127.0.0.77", "198.51.100.7"]);
    for (path, field) in [("/v1/admin/blocked-ips/not-an-ip", "ip")] {
        let bad = app.call(Method::PUT, path, Some(&admin), Some(json!({}))).await;
        assert_eq!(bad.body["field"], field, "{}", bad.text);
    }
    let long = app.call(Method::PUT, "/v1/admin/blocked-ips/198.51.100.8", Some(&admin), Some(json!({"minutes": 0}))).await;
    assert_eq!(long.body["field"], "minutes");
    app.call(Method::DELETE, "/v1/admin/blocked-ips/198.51.100.9", Some(&admin), None).await.assert_problem(404);
    // Only admins.
    let analyst = app.token("plain-analyst", Role::Analyst).await;
    for (method, path) in
        [(Method::GET, "/v1/admin/findings"), (Method::GET, "/v1/admin/blocked-ips"), (Method::DELETE, "/v1/admin/blocked-ips/127.0.0.77")]
    {
        app.call(method, path, Some(&analyst), None).await.assert_problem(403);
    }
    app.call(Method::PUT, "/v1/admin/blocked-ips/198.51.100.10", Some(&analyst), Some(json!({}))).await.assert_problem(403);
}
