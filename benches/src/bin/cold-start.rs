//! Cold-start harness: starts a function binary under a local stand-in for the Lambda
//! Runtime API, measures process start → first `GET …/invocation/next` (ready: settings
//! read, clients built, policies validated), serves it its `events/` file, and reads the
//! process's peak RSS once it has answered. The stand-in also answers the AWS SDK's
//! DynamoDB calls with an empty success, so the first request runs its real code path
//! (signing, HTTP client, audit write) without a network.
//!
//! `cargo run --release -p benches --bin cold-start -- target/release/get-me [runs]`

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use tokio::sync::{Mutex, mpsc};

#[derive(Debug)]
enum Seen {
    Next(Instant),
    Response(Instant, String),
}

struct Runtime {
    event: String,
    armed: Mutex<bool>,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn next(State(rt): State<Arc<Runtime>>) -> axum::response::Response {
    let at = Instant::now();
    let serve = std::mem::replace(&mut *rt.armed.lock().await, false);
    if !serve {
        // Second poll after the answer: keep the process idle until it is killed.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let _ = rt.seen.send(Seen::Next(at));
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_static("00000000-0000-4000-8000-000000000001"));
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(30);
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.as_millis().to_string()).unwrap_or(HeaderValue::from_static("0")),
    );
    headers.insert("lambda-runtime-invoked-function-arn", HeaderValue::from_static("arn:aws:lambda:eu-west-1:123456789012:function:bench"));
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (StatusCode::OK, headers, rt.event.clone()).into_response()
}

async fn response(State(rt): State<Arc<Runtime>>, body: String) -> StatusCode {
    let _ = rt.seen.send(Seen::Response(Instant::now(), body));
    StatusCode::ACCEPTED
}

/// Any AWS API call: an empty JSON success (DynamoDB PutItem/GetItem accept it).
async fn aws_call() -> impl IntoResponse {
    ([("content-type", "application/x-amz-json-1.0")], "{}")
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let binary = PathBuf::from(args.next().ok_or("usage: cold-start <function binary> [runs]")?);
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let name = binary.file_name().and_then(|n| n.to_str()).ok_or("bad binary path")?.to_owned();
    let event = std::fs::read_to_string(format!("events/{name}.json"))?;

    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let runtime = Arc::new(Runtime { event, armed: Mutex::new(false), seen: seen_tx });
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", axum::routing::get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", axum::routing::post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", axum::routing::post(response))
        .fallback(aws_call)
        .with_state(Arc::clone(&runtime));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });

    let size = std::fs::metadata(&binary)?.len();
    let mut ready = Vec::new();
    let mut first = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        *runtime.armed.lock().await = true;
        let started = Instant::now();
        let mut child = Command::new(&binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench")
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_ACCESS_KEY_ID", "bench")
            .env("AWS_SECRET_ACCESS_KEY", "bench")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", format!("http://{addr}"))
            .env("TABLE_NAME", "items")
            .env("AUDIT_TABLE_NAME", "audit")
            .env("BUCKET_NAME", "bucket")
            .env("BUCKET_KMS_KEY_ID", "alias/storage")
            .env("PERSONAL_DATA_KEY_ID", "alias/personal-data")
            .env("AUTH_ISSUER", "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE")
            .env("AUTH_CLIENT_IDS", "example-spa-client")
            .env("CORS_ALLOWED_ORIGINS", "https://app.example.com")
            // What the directory and session routes need besides (no call is made at start).
            .env("USER_POOL_ID", "eu-west-1_EXAMPLE")
            .env("AUTH_TOKEN_URL", format!("http://{addr}/oauth2/token"))
            .env("AUTH_REVOKE_URL", format!("http://{addr}/oauth2/revoke"))
            .env("AUTH_BACKEND_CLIENT_ID", "example-backend-client")
            .env("AUTH_BACKEND_CLIENT_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:backend")
            .env("LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let pid = child.id();
        let status;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), seen.recv()).await? {
                Some(Seen::Next(at)) => ready.push(at - started),
                Some(Seen::Response(at, body)) => {
                    first.push(at - started);
                    status = serde_json::from_str::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["statusCode"].as_u64())
                        .map(|s| s.to_string())
                        .unwrap_or(body);
                    break;
                }
                None => return Err("runtime stand-in stopped".into()),
            }
        }
        rss.push(peak_rss_kib(pid).unwrap_or(0));
        child.kill()?;
        child.wait()?;
        if ready.len() == 1 {
            println!("{name}: first answer status {status}");
        }
    }
    ready.sort();
    first.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let median = |v: &[Duration]| v[v.len() / 2];
    println!(
        "{name}: {runs} cold starts; ready median {:.1} ms (min {:.1}, max {:.1}); first answer median {:.1} ms; peak RSS max {:.1} MiB; binary {:.1} MiB",
        ms(median(&ready)),
        ms(ready[0]),
        ms(*ready.last().unwrap_or(&Duration::ZERO)),
        ms(median(&first)),
        *rss.iter().max().unwrap_or(&0) as f64 / 1024.0,
        size as f64 / 1024.0 / 1024.0
    );
    Ok(())
}
