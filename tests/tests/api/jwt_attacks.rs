//! The JWT attack catalogue (SR-05): every forged, stale, misdirected or malformed token
//! is refused with 401, and the audit record names why.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use shared::audit::AuditDecision;
use shared::auth::Role;
use shared::auth::local::LocalIssuer;

use crate::helpers::{TestApp, spawn_app};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn valid_claims(app: &TestApp) -> Value {
    json!({
        "sub": "attacker",
        "iss": app.server.issuer.issuer(),
        "client_id": app.server.issuer.client_id(),
        "token_use": "access",
        "username": "attacker",
        "cognito:groups": ["admin"],
        "iat": now(),
        "exp": now() + 600,
    })
}

fn header(app: &TestApp) -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": app.server.issuer.kid()})
}

fn with(mut base: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            base.as_object_mut().unwrap().remove(key);
        } else {
            base[key] = value.clone();
        }
    }
    base
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token whose signature is an HMAC keyed with the issuer's public key: the classic
/// RS256 → HS256 confusion.
fn hs256_with_public_key(app: &TestApp) -> String {
    let jwks = serde_json::to_vec(&app.server.issuer.jwks()).unwrap();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": app.server.issuer.kid()});
    let input = format!("{}.{}", b64(&header), b64(&valid_claims(app)));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &jwks);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

#[tokio::test]
async fn forged_stale_and_misdirected_tokens_are_all_refused() {
    let app = spawn_app().await;
    // The claims' subject is a real admin: any token that got past verification would be let in.
    app.register("attacker", Role::Admin).await;
    let issuer = &app.server.issuer;
    let sign = |header: Value, claims: Value| issuer.sign_jwt(&header, &claims).unwrap();
    let valid = sign(header(&app), valid_claims(&app));
    let (valid_head, rest) = valid.split_once('.').unwrap();
    let (_, valid_signature) = rest.split_once('.').unwrap();
    let stranger = LocalIssuer::ephemeral(issuer.issuer().to_owned(), issuer.client_id().to_owned()).unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&valid_claims(&app))), "algorithm-not-allowed"),
        (
            "alg none, signature kept",
            format!("{}.{}.{}", b64(&json!({"alg": "none", "kid": issuer.kid()})), b64(&valid_claims(&app)), valid_signature),
            "algorithm-not-allowed",
        ),
        ("HS256 keyed with the public key", hs256_with_public_key(&app), "algorithm-not-allowed"),
        ("RS512 (not on the list)", sign(with(header(&app), json!({"alg": "RS512"})), valid_claims(&app)), "algorithm-not-allowed"),
        ("signature stripped", format!("{}.{}.", valid_head, b64(&valid_claims(&app))), "bad-signature"),
        (
            "claims tampered",
            format!("{}.{}.{}", valid_head, b64(&with(valid_claims(&app), json!({"sub": "someone-else"}))), valid_signature),
            "bad-signature",
        ),
        ("signed by another key under our kid", stranger.sign_jwt(&header(&app), &valid_claims(&app)).unwrap(), "bad-signature"),
        ("unknown kid", stranger.mint_access_token("attacker", "attacker", Role::Admin).unwrap(), "unknown-key"),
        ("no kid", sign(json!({"alg": "RS256", "typ": "JWT"}), valid_claims(&app)), "missing-claim"),
        ("expired", sign(header(&app), with(valid_claims(&app), json!({"exp": now() - 3600, "iat": now() - 7200}))), "expired"),
        ("not yet valid", sign(header(&app), with(valid_claims(&app), json!({"nbf": now() + 3600}))), "not-yet-valid"),
        ("issued in the future", sign(header(&app), with(valid_claims(&app), json!({"iat": now() + 3600}))), "issued-in-future"),
        ("no exp", sign(header(&app), with(valid_claims(&app), json!({"exp": null}))), "missing-claim"),
        ("no iat", sign(header(&app), with(valid_claims(&app), json!({"iat": null}))), "missing-claim"),
        ("iat as text", sign(header(&app), with(valid_claims(&app), json!({"iat": now().to_string()}))), "malformed"),
        (
            "iss as an array holding ours",
            sign(header(&app), with(valid_claims(&app), json!({"iss": [app.server.issuer.issuer()]}))),
            "wrong-issuer",
        ),
        (
            "iss as an array holding ours and another",
            sign(header(&app), with(valid_claims(&app), json!({"iss": [app.server.issuer.issuer(), "https://evil.example"]}))),
            "wrong-issuer",
        ),
        (
            "client_id as an array",
            sign(header(&app), with(valid_claims(&app), json!({"client_id": [issuer.client_id()]}))),
            "missing-claim",
        ),
        ("token_use as an array", sign(header(&app), with(valid_claims(&app), json!({"token_use": ["access"]}))), "not-access-token"),
        ("wrong issuer", sign(header(&app), with(valid_claims(&app), json!({"iss": "https://evil.example"}))), "wrong-issuer"),
        ("wrong client", sign(header(&app), with(valid_claims(&app), json!({"client_id": "someone-elses-app"}))), "wrong-client"),
        (
            "ID token as access token",
            sign(header(&app), with(valid_claims(&app), json!({"token_use": "id", "aud": issuer.client_id(), "client_id": null}))),
            "not-access-token",
        ),
        ("jku header", sign(with(header(&app), json!({"jku": "https://evil.example/jwks.json"})), valid_claims(&app)), "forbidden-header"),
        ("x5u header", sign(with(header(&app), json!({"x5u": "https://evil.example/cert.pem"})), valid_claims(&app)), "forbidden-header"),
        ("embedded jwk", sign(with(header(&app), json!({"jwk": stranger.jwks().keys[0]})), valid_claims(&app)), "forbidden-header"),
        ("x5c header", sign(with(header(&app), json!({"x5c": ["MIIB"]})), valid_claims(&app)), "forbidden-header"),
        ("crit header", sign(with(header(&app), json!({"crit": ["exp"]})), valid_claims(&app)), "forbidden-header"),
        ("two segments", format!("{}.{}", valid_head, b64(&valid_claims(&app))), "malformed"),
        ("four segments", format!("{valid}.x"), "malformed"),
        ("not base64", "a$b.c%d.e^f".to_owned(), "malformed"),
        (
            "header not JSON",
            format!("{}.{}.{}", URL_SAFE_NO_PAD.encode("not json"), b64(&valid_claims(&app)), valid_signature),
            "malformed",
        ),
        ("claims not JSON", sign(header(&app), json!("just a string")), "malformed"),
        ("oversized", sign(header(&app), with(valid_claims(&app), json!({"padding": "x".repeat(10_000)}))), "oversized"),
    ];

    for (name, token, reason) in cases {
        let answer = app.call(Method::GET, "/v1/me", Some(&token), None).await;
        answer.assert_problem(401);
        assert_eq!(answer.headers["www-authenticate"], "Bearer", "{name}");
        let record = app.audit_for(&answer).await;
        assert_eq!(record.reason.as_deref(), Some(reason), "{name}");
        assert_eq!(record.decision, AuditDecision::NotEvaluated, "{name}");
        assert_eq!(record.actor, None, "{name}");
    }

    // The control: the same claims, properly signed, are accepted.
    let answer = app.call(Method::GET, "/v1/me", Some(&valid), None).await;
    assert_eq!(answer.status.as_u16(), 200, "{}", answer.text);
}

#[tokio::test]
async fn authorization_headers_that_are_not_bearer_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.token("u", Role::Admin).await;
    for value in ["", "Bearer", "Bearer ", &format!("Basic {token}"), &format!("Token {token}"), "Bearer a b c"] {
        let answer = app.client.get(format!("{}/v1/me", app.base)).header("authorization", value).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 401, "{value:?}");
    }
    let lower = app.client.get(format!("{}/v1/me", app.base)).header("authorization", format!("bearer {token}")).send().await.unwrap();
    assert_eq!(lower.status().as_u16(), 200, "the scheme is case-insensitive (RFC 7235)");
}

#[tokio::test]
async fn two_authorization_headers_are_refused_whichever_comes_first() {
    let app = spawn_app().await;
    let admin = app.token("admin-1", Role::Admin).await;
    let viewer = app.token("viewer-1", Role::Viewer).await;
    for (first, second) in [(&admin, &viewer), (&viewer, &admin), (&admin, &admin)] {
        let response = app
            .client
            .get(format!("{}/v1/me", app.base))
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers().get_all("www-authenticate").iter().count(), 1);
        let answer = crate::helpers::read(response).await;
        answer.assert_problem(401);
        let record = app.audit_for(&answer).await;
        assert_eq!(record.reason.as_deref(), Some("ambiguous-credentials"));
        assert_eq!(record.actor, None);
    }
}

#[tokio::test]
async fn audit_records_never_contain_the_token() {
    let app = spawn_app().await;
    let token = app.token("u-1", Role::Analyst).await;
    // A good token, a forged one and a malformed one: the failures are where an error
    // message could echo what it refused, so each answer's own record is checked.
    let tampered = format!("{token}x");
    let malformed = format!("{token}.extra");
    let mut statuses = Vec::new();
    for bearer in [&token, &tampered, &malformed] {
        let answer = app.call(Method::GET, "/v1/me", Some(bearer), None).await;
        let record = app.audit_for(&answer).await;
        statuses.push((record.status, record.reason.clone()));
        let text = serde_json::to_string(&record).unwrap();
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature) && !text.contains(&token[..40]), "{text}");
    }
    assert_eq!(statuses[0], (200, None));
    assert!(statuses[1..].iter().all(|(status, reason)| *status == 401 && reason.is_some()), "{statuses:?}");
}

#[tokio::test]
async fn the_verifier_fetches_the_issuers_key_set_over_http() {
    let app = spawn_app().await;
    let settings = shared::config::AuthSettings::for_issuer(app.server.issuer.issuer(), app.server.issuer.client_id());
    assert_eq!(settings.jwks_url, format!("{}/.well-known/jwks.json", app.base));
    let keys = shared::auth::jwks::KeyCache::new(
        Box::new(shared::auth::jwks::HttpJwks::new(settings.jwks_url.clone(), https::aws_tls(None))),
        settings.jwks_min_refresh,
    );
    let verifier = shared::auth::TokenVerifier::new(settings, keys);
    let principal = verifier.verify(&app.token("u-7", Role::Viewer).await).await.unwrap();
    assert_eq!(principal.subject, "u-7");
    assert_eq!(principal.role, Role::Viewer);
}

/// The catalogue again, on the tokens of a real sign-in at the local identity provider:
/// its access token is taken; its ID token, its refresh token, and every forgery made
/// from its own header, claims and signature are not.
#[tokio::test]
async fn tokens_from_a_real_sign_in_hold_against_the_catalogue() {
    let app = spawn_app().await;
    let tokens = crate::sign_in::tokens(&app).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = access.split('.').collect();
    let (head, signature) = (parts[0], parts[2]);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!((claims["token_use"].as_str(), claims["cognito:groups"][0].as_str()), (Some("access"), Some("admin")));
    let stranger = LocalIssuer::ephemeral(app.server.issuer.issuer().to_owned(), app.server.issuer.client_id().to_owned()).unwrap();
    let real_header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    let hs256 = {
        let input = format!("{}.{}", b64(&with(real_header.clone(), json!({"alg": "HS256"}))), parts[1]);
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &serde_json::to_vec(&app.server.issuer.jwks()).unwrap());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, input.as_bytes()).as_ref()))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("the ID token", tokens["id_token"].as_str().unwrap().to_owned(), "not-access-token"),
        ("the refresh token", tokens["refresh_token"].as_str().unwrap().to_owned(), "malformed"),
        ("alg none on its claims", format!("{}.{}.", b64(&json!({"alg": "none"})), parts[1]), "algorithm-not-allowed"),
        ("HS256 keyed with the public key", hs256, "algorithm-not-allowed"),
        ("its signature stripped", format!("{head}.{}.", parts[1]), "bad-signature"),
        (
            "another subject under its signature",
            format!("{head}.{}.{signature}", b64(&with(claims.clone(), json!({"sub": "someone-else"})))),
            "bad-signature",
        ),
        (
            "a longer life under its signature",
            format!("{head}.{}.{signature}", b64(&with(claims.clone(), json!({"exp": now() + 86_400})))),
            "bad-signature",
        ),
        ("its claims signed by another key under its kid", stranger.sign_jwt(&real_header, &claims).unwrap(), "bad-signature"),
        (
            "its claims under an unknown kid",
            stranger.sign_jwt(&with(real_header.clone(), json!({"kid": stranger.kid()})), &claims).unwrap(),
            "unknown-key",
        ),
        (
            "its claims with a jku",
            app.server.issuer.sign_jwt(&with(real_header.clone(), json!({"jku": "https://evil.example/k"})), &claims).unwrap(),
            "forbidden-header",
        ),
    ];
    for (name, token, reason) in cases {
        let answer = app.call(Method::GET, "/v1/me", Some(&token), None).await;
        answer.assert_problem(401);
        let record = app.audit_for(&answer).await;
        assert_eq!((record.reason.as_deref(), record.actor.as_deref()), (Some(reason), None), "{name}");
    }
    let answer = app.call(Method::GET, "/v1/me", Some(&access), None).await;
    assert_eq!(answer.status.as_u16(), 200, "the real access token: {}", answer.text);
}
