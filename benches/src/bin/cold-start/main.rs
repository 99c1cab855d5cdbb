//! Cold-start harness: starts a function binary under a local stand-in for the Lambda
//! Runtime API, measures process start → first `GET …/invocation/next` (ready: settings
//! read, clients built, policies validated), serves it its `events/` file, and reads the
//! process's peak RSS once it has answered. The stand-in also answers the AWS SDK's
//! DynamoDB calls with an empty success, so the first request runs its real code path
//! (signing, HTTP client, audit write) without a network.
//!
//! The function's `ready` log line carries its own breakdown of the start (`init=` steps,
//! see `functions::init_steps`); the harness prints each step's median.
//!
//! `cargo run --release -p benches --bin cold-start -- target/release/get-me [runs] [event] [--tls]`
//! (`event` names the `events/` file when it isn't the binary's name). With `--tls` the
//! AWS stand-in speaks HTTPS with a certificate made at start (`tls.rs`), trusted through
//! `AWS_CA_BUNDLE`, so the first answer includes a TLS handshake. The event's authorizer
//! claims get a fresh `iat`/`exp`, so the first request passes the claims check and reaches
//! the store instead of answering 401 for an expired token. The last line is
//! `result name=… ready_us=… first_us=… rss_kib=… bytes=…` (medians; peak RSS the largest),
//! for `scripts/cold-start-guard.sh`.

mod tls;

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
    let all: Vec<String> = std::env::args().skip(1).collect();
    let use_tls = all.iter().any(|a| a == "--tls");
    let mut args = all.into_iter().filter(|a| a != "--tls");
    let binary = PathBuf::from(args.next().ok_or("usage: cold-start <function binary> [runs] [event] [--tls]")?);
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let name = binary.file_name().and_then(|n| n.to_str()).ok_or("bad binary path")?.to_owned();
    let event_name = args.next().unwrap_or_else(|| name.clone());
    let event = fresh_claims(&std::fs::read_to_string(format!("events/{event_name}.json"))?)?;
    let logs = tempfile::tempdir()?;

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
    // No Nagle delay on the stand-in's side, as over TLS (`tls::TlsListener`).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    // AWS calls go to the runtime stand-in's fallback, or to the same over TLS.
    let ca_path = logs.path().join("ca.pem");
    let aws_endpoint = if use_tls {
        let tls = tls::TlsListener::bind(&ca_path).await?;
        let port = axum::serve::Listener::local_addr(&tls)?.port();
        tokio::spawn(async move { axum::serve(tls, axum::Router::new().fallback(aws_call)).await });
        format!("https://localhost:{port}")
    } else {
        format!("http://{addr}")
    };

    let size = std::fs::metadata(&binary)?.len();
    let mut ready = Vec::new();
    let mut first = Vec::new();
    let mut rss = Vec::new();
    let mut steps: std::collections::BTreeMap<String, Vec<u64>> = std::collections::BTreeMap::new();
    let mut step_order: Vec<String> = Vec::new();
    for run in 0..runs {
        let log_path = logs.path().join(format!("{run}.log"));
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
            .env("AWS_ENDPOINT_URL", &aws_endpoint)
            .env("AWS_CA_BUNDLE", if use_tls { ca_path.display().to_string() } else { String::new() })
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
            .stdout(std::fs::File::create(&log_path)?)
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
        for (step, micros) in init_steps(&std::fs::read_to_string(&log_path)?) {
            if !step_order.contains(&step) {
                step_order.push(step.clone());
            }
            steps.entry(step).or_default().push(micros);
        }
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
    if !step_order.is_empty() {
        let medians: Vec<String> = step_order
            .iter()
            .map(|step| {
                let mut values = steps[step].clone();
                values.sort_unstable();
                format!("{step} {:.3} ms", values[values.len() / 2] as f64 / 1e3)
            })
            .collect();
        println!("{name}: init steps, median: {}", medians.join(", "));
    }
    println!(
        "result name={name} ready_us={} first_us={} rss_kib={} bytes={size}",
        median(&ready).as_micros(),
        median(&first).as_micros(),
        rss.iter().max().unwrap_or(&0)
    );
    Ok(())
}

/// The event with its authorizer claims (if any) issued now and valid for 15 minutes, in
/// the format API Gateway passes them (`Mon Nov 24 16:00:00 UTC 2025`).
fn fresh_claims(event: &str) -> Result<String, Box<dyn std::error::Error>> {
    let mut event: serde_json::Value = serde_json::from_str(event)?;
    let format = time::macros::format_description!("[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]");
    let now = time::OffsetDateTime::now_utc();
    if let Some(claims) = event.pointer_mut("/requestContext/authorizer/claims").and_then(|c| c.as_object_mut()) {
        claims.insert("iat".into(), now.format(&format)?.into());
        claims.insert("exp".into(), (now + time::Duration::minutes(15)).format(&format)?.into());
        claims.insert("auth_time".into(), now.unix_timestamp().to_string().into());
    }
    Ok(event.to_string())
}

/// The `init` field of the function's `ready` line: `runtime=41us settings=9us …`.
fn init_steps(log: &str) -> Vec<(String, u64)> {
    let Some(line) = log.lines().find(|l| l.contains("\"ready\"")) else { return Vec::new() };
    let Some(init) = serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| v["init"].as_str().map(str::to_owned)) else {
        return Vec::new();
    };
    init.split(' ')
        .filter_map(|part| {
            let (step, micros) = part.split_once('=')?;
            Some((step.to_owned(), micros.strip_suffix("us")?.parse().ok()?))
        })
        .collect()
}
