//! The local identity provider over HTTP, as a browser and a token backend use it: the
//! authorization request's checks, the sign-in form (CSRF, first-sign-in password, rate
//! limits, no enumeration), codes with PKCE, refresh rotation with reuse detection, and
//! revocation; and the tokens it issues, which the API takes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use shared::auth::Role;

use crate::helpers::{Answer, TestApp, read, spawn_app};

pub const REDIRECT: &str = "http://localhost:5173/callback";
const NEW_PASSWORD: &str = "Tangerine!Cobalt7Drift";

/// A browser: a cookie jar, and redirects shown rather than followed.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client, base: app.base.clone() }
    }

    /// `GET /oauth2/authorize` with these parameters over the usual ones.
    pub async fn authorize(&self, challenge: &str, overrides: &[(&str, &str)]) -> Answer {
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", devserver::BACKEND_CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "state-123"),
            ("nonce", "nonce-456"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in overrides {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        read(self.client.get(format!("{}/oauth2/authorize", self.base)).query(&params).send().await.unwrap()).await
    }

    /// Posts the form of `page` with `fields` filled in.
    pub async fn submit(&self, page: &Answer, fields: &[(&str, &str)]) -> Answer {
        let mut form = hidden_fields(&page.text);
        for (name, value) in fields {
            form.retain(|(n, _)| n != name);
            form.push(((*name).to_owned(), (*value).to_owned()));
        }
        read(self.client.post(format!("{}/login", self.base)).form(&form).send().await.unwrap()).await
    }
}

/// The hidden inputs of a page, as (name, value).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.split("name=\"").nth(1)?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((
                name.to_owned(),
                value.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&"),
            ))
        })
        .collect()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    (verifier, challenge)
}

/// The `code` and `state` of a redirect back to the client.
pub fn code_of(answer: &Answer) -> (String, String) {
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    let location = url::Url::parse(answer.headers["location"].to_str().unwrap()).unwrap();
    assert_eq!(format!("{}{}", location.origin().ascii_serialization(), location.path()), REDIRECT);
    let param = |name: &str| location.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned()).unwrap_or_default();
    (param("code"), param("state"))
}

/// The backend client's credentials, as HTTP Basic.
pub fn backend_basic(app: &TestApp) -> String {
    let secret = devserver::client_secret(app.dir.path()).unwrap();
    format!("Basic {}", STANDARD.encode(format!("{}:{secret}", devserver::BACKEND_CLIENT_ID)))
}

/// `POST /oauth2/token` as the backend client.
pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> Answer {
    let request = app.client.post(format!("{}/oauth2/token", app.base)).header("authorization", backend_basic(app)).form(form);
    read(request.send().await.unwrap()).await
}

/// Signs the first admin in, choosing their password, and returns the code's redirect.
pub async fn first_sign_in(app: &TestApp, browser: &Browser, challenge: &str) -> Answer {
    let temporary = app.server.first_admin.clone().unwrap();
    let form = browser.authorize(challenge, &[]).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    let choose = browser.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", &temporary)]).await;
    assert_eq!(choose.status, StatusCode::OK, "{}", choose.text);
    assert!(choose.text.contains("Choose your password"), "{}", choose.text);
    browser.submit(&choose, &[("new_password", NEW_PASSWORD)]).await
}

/// A signed-in first admin: the code exchanged for tokens.
pub async fn tokens(app: &TestApp) -> serde_json::Value {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let (code, _) = code_of(&first_sign_in(app, &browser, &challenge).await);
    let answer = token_request(
        app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body
}

fn claims(token: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

#[tokio::test]
async fn a_first_sign_in_sets_a_password_and_its_code_buys_tokens_the_api_takes() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let redirect = first_sign_in(&app, &browser, &challenge).await;
    let (code, state) = code_of(&redirect);
    assert_eq!(state, "state-123", "state comes back unchanged");

    let answer = token_request(
        &app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let access = answer.body["access_token"].as_str().unwrap();
    let id = claims(answer.body["id_token"].as_str().unwrap());
    assert_eq!(
        (id["token_use"].as_str(), id["nonce"].as_str(), id["aud"].as_str()),
        (Some("id"), Some("nonce-456"), Some(devserver::BACKEND_CLIENT_ID))
    );
    let access_claims = claims(access);
    for claim in ["sub", "iss", "client_id", "token_use", "scope", "auth_time", "jti", "origin_jti", "iat", "exp"] {
        assert!(access_claims.get(claim).is_some(), "{claim} in {access_claims}");
    }
    assert_eq!(access_claims["exp"].as_i64().unwrap() - access_claims["iat"].as_i64().unwrap(), 900);
    assert_eq!(answer.body["expires_in"], 900);

    let me = app.call(reqwest::Method::GET, "/v1/me", Some(access), None).await;
    assert_eq!((me.status.as_u16(), me.body["role"].as_str()), (200, Some("admin")), "{}", me.text);

    // The next sign-in uses the chosen password, and no new-password step.
    let (_, challenge) = pkce();
    let form = browser.authorize(&challenge, &[]).await;
    let again = browser.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", NEW_PASSWORD)]).await;
    code_of(&again);
    let temporary = app.server.first_admin.clone().unwrap();
    let form = browser.authorize(&challenge, &[]).await;
    let old = browser.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", &temporary)]).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the temporary password is gone");
}

#[tokio::test]
async fn an_untrusted_client_or_return_address_gets_a_page_never_a_redirect() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    for overrides in [
        vec![("client_id", "nobody")],
        vec![("client_id", "")],
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("redirect_uri", "http://localhost:5173/callback/../steal")],
        vec![("redirect_uri", "")],
    ] {
        let answer = browser.authorize(&challenge, &overrides).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{overrides:?}");
        assert!(answer.headers.get("location").is_none(), "{overrides:?}");
        assert!(answer.content_type().starts_with("text/html"), "{overrides:?}");
    }
}

#[tokio::test]
async fn a_request_without_s256_pkce_or_with_bad_parameters_goes_back_with_an_error() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    for (overrides, error) in [
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("state", "")], "invalid_request"),
    ] {
        let answer = browser.authorize(&challenge, &overrides).await;
        assert_eq!(answer.status, StatusCode::FOUND, "{overrides:?}: {}", answer.text);
        let location = url::Url::parse(answer.headers["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(REDIRECT), "{location}");
        let got = location.query_pairs().find(|(n, _)| n == "error").map(|(_, v)| v.into_owned());
        assert_eq!(got.as_deref(), Some(error), "{overrides:?}");
    }
}

#[tokio::test]
async fn codes_need_their_verifier_client_and_return_address_and_work_once() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let (code, _) = code_of(&first_sign_in(&app, &browser, &challenge).await);
    let exchange = |code: String, redirect: &'static str, verifier: String| {
        let app = &app;
        async move {
            token_request(
                app,
                &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect), ("code_verifier", &verifier)],
            )
            .await
        }
    };
    let (other_verifier, _) = pkce();
    for answer in [
        exchange(code.clone(), REDIRECT, other_verifier).await,
        exchange(code.clone(), "http://localhost:5173/other", verifier.clone()).await,
        exchange("made-up".into(), REDIRECT, verifier.clone()).await,
    ] {
        assert_eq!((answer.status.as_u16(), answer.body["error"].as_str()), (400, Some("invalid_grant")), "{}", answer.text);
    }
    // The public client may not redeem the backend's code.
    let public = read(
        app.client
            .post(format!("{}/oauth2/token", app.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", devserver::LOCAL_CLIENT_ID),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(public.body["error"], "invalid_grant", "{}", public.text);

    let first = exchange(code.clone(), REDIRECT, verifier.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = exchange(code.clone(), REDIRECT, verifier.clone()).await;
    assert_eq!(again.body["error"], "invalid_grant");
    // The second redemption revoked what the first one got.
    let refreshed =
        token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", first.body["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(refreshed.body["error"], "invalid_grant", "{}", refreshed.text);
    let reasons: Vec<String> = app.audit_records().await.into_iter().filter(|r| r.action == "idp-token").filter_map(|r| r.reason).collect();
    for reason in ["pkce-mismatch", "redirect-uri-mismatch", "unknown-code", "code-of-another-client", "code-reused"] {
        assert!(reasons.iter().any(|r| r == reason), "{reason} in {reasons:?}");
    }
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_whole_family_and_its_access_tokens() {
    let app = spawn_app().await;
    let first = tokens(&app).await;
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    let rotated = token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh)]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new_refresh = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, old_refresh, "rotated");
    let access = rotated.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.call(reqwest::Method::GET, "/v1/me", Some(&access), None).await.status.as_u16(), 200);

    // The old token again: a copy is in use somewhere; everything from this sign-in ends.
    let reused = token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", &old_refresh)]).await;
    assert_eq!(reused.body["error"], "invalid_grant");
    let after = token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", &new_refresh)]).await;
    assert_eq!(after.body["error"], "invalid_grant", "the family is revoked");
    let started = std::time::Instant::now();
    while app.call(reqwest::Method::GET, "/v1/me", Some(&access), None).await.status.as_u16() != 401 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the access token still works after 5 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let records = app.audit_records().await;
    assert!(records.iter().any(|r| r.action == "idp-refresh" && r.reason.as_deref() == Some("reuse-detected")));
    let text = serde_json::to_string(&records).unwrap();
    for secret in [&old_refresh, &new_refresh, &access] {
        assert!(!text.contains(secret.as_str()), "a token in the audit trail");
    }
}

#[tokio::test]
async fn a_revoked_refresh_token_refreshes_nothing() {
    let app = spawn_app().await;
    let tokens = tokens(&app).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let revoke =
        app.client.post(format!("{}/oauth2/revoke", app.base)).header("authorization", backend_basic(&app)).form(&[("token", refresh)]);
    assert_eq!(revoke.send().await.unwrap().status(), StatusCode::OK);
    let answer = token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(answer.body["error"], "invalid_grant");
    // An unknown token is answered the same (RFC 7009).
    let unknown =
        app.client.post(format!("{}/oauth2/revoke", app.base)).header("authorization", backend_basic(&app)).form(&[("token", "nothing")]);
    assert_eq!(unknown.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_clients_forms_and_grants() {
    let app = spawn_app().await;
    let wrong_secret = format!("Basic {}", STANDARD.encode(format!("{}:wrong", devserver::BACKEND_CLIENT_ID)));
    let bad_client = read(
        app.client
            .post(format!("{}/oauth2/token", app.base))
            .header("authorization", wrong_secret)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((bad_client.status.as_u16(), bad_client.body["error"].as_str()), (401, Some("invalid_client")));
    let grant = token_request(&app, &[("grant_type", "password"), ("username", "a"), ("password", "b")]).await;
    assert_eq!(grant.body["error"], "unsupported_grant_type");
    let json = read(
        app.client
            .post(format!("{}/oauth2/token", app.base))
            .header("authorization", backend_basic(&app))
            .json(&serde_json::json!({"grant_type": "refresh_token"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(json.status.as_u16(), 415);
    let huge = "x".repeat(20_000);
    let oversized = token_request(&app, &[("grant_type", "refresh_token"), ("refresh_token", &huge)]).await;
    assert_eq!(oversized.status.as_u16(), 413);
    let twice = read(
        app.client
            .post(format!("{}/oauth2/token", app.base))
            .header("authorization", backend_basic(&app))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=refresh_token&grant_type=authorization_code")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(twice.body["error"], "invalid_request");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_are_told_apart_by_nothing() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let form = browser.authorize(&challenge, &[]).await;
    let wrong = browser.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", "Not!The7Password")]).await;
    let form = browser.authorize(&challenge, &[]).await;
    let unknown = browser.submit(&form, &[("email", "nobody@forecast.local"), ("password", "Not!The7Password")]).await;
    assert_eq!((wrong.status.as_u16(), unknown.status.as_u16()), (401, 401));
    let message = |answer: &Answer| answer.text.split("role=\"alert\">").nth(1).and_then(|t| t.split('<').next()).map(str::to_owned);
    assert_eq!(message(&wrong), message(&unknown));
    assert_eq!(message(&wrong).as_deref(), Some("The e-mail address or password is wrong."));
    let records = app.audit_records().await;
    let reasons: Vec<&str> = records.iter().filter(|r| r.action == "idp-sign-in").filter_map(|r| r.reason.as_deref()).collect();
    assert!(reasons.contains(&"wrong-password") && reasons.contains(&"unknown-account"), "{reasons:?}");
    let text = serde_json::to_string(&records).unwrap();
    assert!(!text.contains("Not!The7Password") && !text.contains("nobody@forecast.local"), "no password or typed address in the trail");
}

#[tokio::test]
async fn a_post_without_the_forms_csrf_token_is_refused() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let form = browser.authorize(&challenge, &[]).await;
    let forged = browser.submit(&form, &[("csrf", "forged"), ("email", devserver::FIRST_ADMIN_EMAIL), ("password", "x")]).await;
    assert_eq!(forged.status.as_u16(), 403);
    // Another browser (no cookie) posting the real form's token is refused too.
    let stranger = Browser::new(&app);
    let replayed = stranger.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", "x")]).await;
    assert_eq!(replayed.status.as_u16(), 403);
    let csrf_refusals = app.audit_records().await.into_iter().filter(|r| r.reason.as_deref() == Some("csrf")).count();
    assert_eq!(csrf_refusals, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_sign_ins_from_one_address_let_exactly_five_through() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let form = browser.authorize(&challenge, &[]).await;
    // All fifty in one of the limit's windows.
    crate::helpers::with_a_minute_window_of(10).await;
    let attempts = (0..50).map(|i| {
        let email = format!("user{i}@forecast.local");
        let (browser, form) = (&browser, &form);
        async move { browser.submit(form, &[("email", email.as_str()), ("password", "Not!The7Password")]).await.status.as_u16() }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 45, "{statuses:?}");
    let limited = app.audit_records().await.into_iter().filter(|r| r.reason.as_deref() == Some("rate-limited-ip")).count();
    assert_eq!(limited, 45);
    let _ = Role::Admin;
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_locked_from_every_network_account_or_not() {
    let app = spawn_app().await;
    let (_, challenge) = pkce();
    for address in [devserver::FIRST_ADMIN_EMAIL, "nobody@forecast.local"] {
        // The six attempts in one window of the lockout's first tier.
        crate::helpers::with_a_minute_window_of(15).await;
        let mut statuses = Vec::new();
        for source in 2..=7u8 {
            // Each attempt from its own loopback address: the per-IP limit never applies.
            let client = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .local_address(std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, u8::from(address.starts_with('n')), source)))
                .build()
                .unwrap();
            let browser = Browser { client, base: app.base.clone() };
            let form = browser.authorize(&challenge, &[]).await;
            let answer = browser.submit(&form, &[("email", address), ("password", "Not!The7Password")]).await;
            statuses.push(answer.status.as_u16());
            if answer.status.as_u16() == 429 {
                assert!(answer.headers.contains_key("retry-after"));
                assert!(answer.text.contains("Too many failed sign-ins for this address"), "{}", answer.text);
            }
        }
        assert_eq!(statuses, [401, 401, 401, 401, 401, 429], "{address}");
    }
    let locked = app.audit_records().await.into_iter().filter(|r| r.reason.as_deref() == Some("account-locked")).count();
    assert_eq!(locked, 2);
}

#[tokio::test]
async fn admins_set_up_totp_when_required_and_then_need_a_fresh_code_each_time() {
    let app = crate::helpers::spawn_app_with(devserver::DevConfig {
        mfa_required_for_admins: true,
        hasher: crate::helpers::cheap_hasher(),
        ..devserver::DevConfig::default()
    })
    .await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let enrol = first_sign_in(&app, &browser, &challenge).await;
    assert_eq!(enrol.status, StatusCode::OK, "{}", enrol.text);
    assert!(enrol.text.contains("Set up your authenticator") && enrol.text.contains("otpauth://totp/"), "{}", enrol.text);
    let secret = enrol.text.split("<code>").nth(1).and_then(|t| t.split('<').next()).unwrap().to_owned();
    let key =
        shared::identity::totp::TotpKey::from_base32(&secret, devserver::idp::signin::TOTP_ISSUER, devserver::FIRST_ADMIN_EMAIL).unwrap();
    let now = || u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let wrong = browser.submit(&enrol, &[("code", "000000")]).await;
    assert_eq!(wrong.status.as_u16(), 401, "{}", wrong.text);
    // One instant for every code: a step boundary crossed mid-test changes nothing.
    let enrolled_at = now();
    code_of(&browser.submit(&wrong, &[("code", &key.code_at(enrolled_at))]).await);

    // Next time: password, then a code; the one just used is refused, the next step's is taken.
    let form = browser.authorize(&challenge, &[]).await;
    let asked = browser.submit(&form, &[("email", devserver::FIRST_ADMIN_EMAIL), ("password", NEW_PASSWORD)]).await;
    assert!(asked.text.contains("Enter your code"), "{}", asked.text);
    let replayed = browser.submit(&asked, &[("code", &key.code_at(enrolled_at))]).await;
    assert_eq!(replayed.status.as_u16(), 401, "a code is good once");
    code_of(&browser.submit(&replayed, &[("code", &key.code_at(enrolled_at + 30))]).await);
    let reasons: Vec<String> = app.audit_records().await.into_iter().filter_map(|r| r.reason).collect();
    assert_eq!(reasons.iter().filter(|r| *r == "wrong-totp").count(), 2, "{reasons:?}");
}

#[tokio::test]
async fn the_mfa_setting_makes_admins_enrol_at_their_next_sign_in() {
    let app = spawn_app().await;
    let admin = app.token("mfa-setting-admin", shared::auth::Role::Admin).await;
    let change = serde_json::json!({"mfa_required_for_admins": true});
    let set = app.call_with(reqwest::Method::PATCH, "/v1/admin/settings", Some(&admin), Some(change), &[("if-match", "\"0\"")]).await;
    assert_eq!(set.status.as_u16(), 200, "{}", set.text);
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();
    let enrol = first_sign_in(&app, &browser, &challenge).await;
    assert!(enrol.text.contains("Set up your authenticator"), "the first admin enrols before any code: {}", enrol.text);
}

#[tokio::test]
async fn logout_returns_only_to_the_clients_own_logout_address() {
    let app = spawn_app().await;
    let browser = Browser::new(&app);
    let logout = |query: Vec<(&'static str, &'static str)>| {
        let request = browser.client.get(format!("{}/logout", app.base)).query(&query);
        async move { read(request.send().await.unwrap()).await }
    };
    let back = logout(vec![("client_id", devserver::LOCAL_CLIENT_ID), ("logout_uri", "http://localhost:5173/")]).await;
    assert_eq!(back.status, StatusCode::FOUND, "{}", back.text);
    assert_eq!(back.headers["location"], "http://localhost:5173/");
    for query in [
        vec![("client_id", devserver::LOCAL_CLIENT_ID), ("logout_uri", "https://evil.example/")],
        vec![("client_id", devserver::LOCAL_CLIENT_ID), ("logout_uri", "http://localhost:5173/elsewhere")],
        vec![("client_id", "someone-elses-app"), ("logout_uri", "http://localhost:5173/")],
        vec![("client_id", devserver::LOCAL_CLIENT_ID)],
    ] {
        let refused = logout(query.clone()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query:?}");
        assert!(refused.headers.get("location").is_none(), "{query:?}: never a redirect");
        assert!(refused.text.contains("Cannot sign out"), "{}", refused.text);
    }
}
