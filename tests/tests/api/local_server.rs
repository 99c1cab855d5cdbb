//! The local server under load a laptop can make: CPU-heavy requests go to a bounded pool,
//! so they neither stall other requests nor queue without end, and a body that never
//! completes is cut off.

use std::time::{Duration, Instant};

use devserver::DevConfig;
use reqwest::Method;
use serde_json::json;
use shared::auth::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{read, spawn_app_with};

/// Three years of daily values with weekly and yearly seasons: `auto` fits MSTL[7, 365]
/// among others, a few hundred milliseconds of CPU.
fn three_years() -> String {
    let mut csv = String::from("date,v\n");
    for day in 0..(3 * 365) {
        let date = time::macros::date!(2022 - 01 - 03) + time::Duration::days(day);
        let value = 100.0
            + [0.0, 6.0, 9.0, 5.0, 2.0, -10.0, -12.0][(day % 7) as usize]
            + 15.0 * (2.0 * std::f64::consts::PI * day as f64 / 365.25).sin()
            + ((day * 7919) % 11) as f64 * 0.3;
        csv.push_str(&format!("{date},{value:.2}\n"));
    }
    csv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_while_forecasts_run_and_a_full_pool_says_busy() {
    let app = spawn_app_with(DevConfig { compute_workers: 1, compute_queue: 1, ..DevConfig::default() }).await;
    let dataset = app.upload_csv("analyst-a", &three_years()).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let body = json!({"dataset_id": dataset, "time_column": "date", "target_column": "v", "horizon": 28});

    // Six forecasts at once: one runs, one waits, the rest are refused with a 503 to retry.
    let started = Instant::now();
    let forecasts = futures::future::join_all((0..6).map(|_| {
        let body = body.clone();
        let app = &app;
        let token = &token;
        async move {
            let answer = app.call(Method::POST, "/v1/forecasts", Some(token), Some(body)).await;
            (answer, started.elapsed())
        }
    }));
    // Meanwhile, liveness checks keep being answered.
    let health = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let answer = app.call(Method::GET, "/health", None, None).await;
        (answer.status.as_u16(), started.elapsed())
    };
    let (forecasts, (health_status, health_done)) = tokio::join!(forecasts, health);

    let statuses: Vec<u16> = forecasts.iter().map(|(a, _)| a.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 4, "{statuses:?}");
    for (answer, _) in forecasts.iter().filter(|(a, _)| a.status.as_u16() == 503) {
        assert_eq!(answer.assert_problem(503), "busy");
        assert_eq!(answer.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("2"));
        assert!(answer.body["detail"].as_str().unwrap().contains("retry"));
    }
    assert_eq!(health_status, 200);
    let first_forecast = forecasts.iter().filter(|(a, _)| a.status.as_u16() == 201).map(|(_, at)| *at).min().unwrap();
    assert!(health_done < first_forecast, "health ({health_done:?}) waited for a forecast ({first_forecast:?})");

    // Once the pool is free again, a forecast goes through.
    let again = app.call(Method::POST, "/v1/forecasts", Some(&token), Some(body)).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.text);
}

#[tokio::test]
async fn a_body_that_never_completes_is_cut_off_with_408() {
    let app = spawn_app_with(DevConfig { body_timeout: Duration::from_millis(300), ..DevConfig::default() }).await;
    let token = app.token("analyst-a", Role::Analyst).await;
    let mut socket = tokio::net::TcpStream::connect(app.server.addr).await.unwrap();
    let head = format!(
        "POST /v1/datasets HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"name\": \"slow"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let answered = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut response)).await;
    assert!(answered.is_ok(), "the server kept waiting for the body");
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("application/problem+json") && text.contains("request-timeout"), "{text}");

    // A normal request on a fresh connection is unaffected.
    let ok = app.client.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(read(ok).await.status.as_u16(), 200);
}

/// `--backend aws-local` really runs on DynamoDB and S3: what the API stores is found in
/// the emulators' table and bucket, read with their own clients, and nothing in the data
/// folder.
#[tokio::test]
async fn the_aws_local_backend_stores_in_dynamodb_and_s3() {
    let aws = crate::helpers::fresh_aws_local();
    let app = spawn_app_with(DevConfig { backend: devserver::Backend::AwsLocal(aws.clone()), ..DevConfig::default() }).await;
    let id = app.create_dataset("analyst-1", "in the cloud, locally").await;

    let dynamodb = devserver::aws_local::dynamodb_client(&aws.dynamodb_url).unwrap();
    let item = dynamodb
        .get_item()
        .table_name(&aws.items_table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("DATASET#{id}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some(), "the dataset record is in the DynamoDB table");
    let audit = dynamodb.scan().table_name(&aws.audit_table).send().await.unwrap();
    assert!(audit.count() >= 1, "audit records are in the DynamoDB audit table");
    let s3 = devserver::aws_local::s3_client(&aws.s3_url).unwrap();
    let objects = s3.list_objects_v2().bucket(&aws.bucket).send().await.unwrap();
    assert!(objects.contents().iter().any(|o| o.key().is_some_and(|k| k.contains(&id))), "the CSV is in the bucket");
    assert!(!app.dir.path().join("store.sqlite3").exists() && !app.dir.path().join("blobs").exists(), "nothing went to the data folder");
}

#[tokio::test]
async fn the_token_command_gives_an_account_whose_token_the_server_takes() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = DevConfig { data_dir: dir.path().to_path_buf(), port, ..DevConfig::default() };
    let token = devserver::mint_token(&config, "local-carol", "carol", Role::Analyst).await.unwrap();
    let server = devserver::spawn(config.clone()).await.unwrap();
    let client = reqwest::Client::new();
    let me = read(client.get(format!("{}/v1/me", server.base_url())).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(me.status.as_u16(), 200, "{}", me.text);
    assert_eq!((me.body["id"].as_str(), me.body["role"].as_str()), (Some("local-carol"), Some("analyst")));
    // Run again with another role, the account moves to it.
    let viewer = devserver::mint_token(&config, "local-carol", "carol", Role::Viewer).await.unwrap();
    let started = Instant::now();
    loop {
        let me = read(client.get(format!("{}/v1/me", server.base_url())).bearer_auth(&viewer).send().await.unwrap()).await;
        if me.body["role"] == "viewer" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{}", me.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_outbox_command_shows_an_invitation_with_its_temporary_password() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.token("outbox-admin", Role::Admin).await;
    let invited = app
        .call(reqwest::Method::POST, "/v1/users", Some(&admin), Some(serde_json::json!({"email": "Nina@Example.com", "role": "analyst"})))
        .await;
    assert_eq!(invited.status.as_u16(), 201, "{}", invited.text);
    let config = DevConfig { data_dir: app.dir.path().to_path_buf(), backend: app.server.backend.clone(), ..DevConfig::default() };
    let messages = devserver::outbox(&config).await.unwrap();
    let message = messages.iter().find(|m| m.to == "nina@example.com").unwrap_or_else(|| panic!("{messages:?}"));
    assert_eq!(message.user.as_str(), invited.body["id"].as_str().unwrap());
    assert!(message.body.contains("invited to Forecast as analyst") && message.body.contains("temporary password: "), "{}", message.body);
}

/// Runs `scripts/sign-in.py` against `app` with these passwords: its exit and its output.
async fn sign_in_script(app: &crate::helpers::TestApp, email: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = std::process::Command::new("python3");
    command.arg(repo_root().join("scripts/sign-in.py")).args([email, "--base", &app.base, "--origin", crate::helpers::APP_ORIGIN]);
    command.env_remove("FORECAST_PASSWORD").env_remove("FORECAST_NEW_PASSWORD").stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    (output.status.success(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The README's walkthrough signs in with the script: it must get a token the API takes.
#[tokio::test]
async fn the_sign_in_script_gets_a_token_through_the_form_and_the_token_backend() {
    let app = crate::helpers::spawn_app().await;
    let temporary = app.server.first_admin.clone().unwrap();
    let chosen = "Marigold-Basalt-Cipher-88";
    let env = [("FORECAST_PASSWORD", temporary.as_str()), ("FORECAST_NEW_PASSWORD", chosen)];
    let (ok, token, errors) = sign_in_script(&app, devserver::FIRST_ADMIN_EMAIL, &env).await;
    assert!(ok, "{errors}");
    let me = app.call(reqwest::Method::GET, "/v1/me", Some(token.trim()), None).await;
    assert_eq!((me.status.as_u16(), me.body["role"].as_str()), (200, Some("admin")), "{}", me.text);
    // Signed in once, the chosen password is the password; a wrong one is refused.
    let (ok, token, errors) = sign_in_script(&app, devserver::FIRST_ADMIN_EMAIL, &[("FORECAST_PASSWORD", chosen)]).await;
    assert!(ok && !token.trim().is_empty(), "{errors}");
    let (ok, token, errors) = sign_in_script(&app, devserver::FIRST_ADMIN_EMAIL, &[("FORECAST_PASSWORD", "Wrong-Password-123")]).await;
    assert!(!ok && token.is_empty(), "{token}");
    assert!(errors.contains("sign-in refused"), "{errors}");
}

#[tokio::test]
async fn a_key_rotation_while_serving_keeps_old_tokens_and_takes_new_ones() {
    let app = crate::helpers::spawn_app().await;
    let before = app.token("analyst-k", Role::Analyst).await;
    let old_kid = app.server.issuer.kid();
    let new_kid = shared::auth::local::LocalIssuer::rotate(&app.dir.path().join("keys")).unwrap();
    let after = app.token("analyst-k", Role::Analyst).await;
    assert_eq!(app.server.issuer.kid(), new_kid);
    for token in [&before, &after] {
        assert_eq!(app.call(Method::GET, "/v1/me", Some(token), None).await.status.as_u16(), 200);
    }
    let published = app.call(Method::GET, "/.well-known/jwks.json", None, None).await;
    let kids: Vec<&str> = published.body["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);
}
