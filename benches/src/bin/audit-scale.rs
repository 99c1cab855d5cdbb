//! The audit trail at scale: loads N tagged records into a store (the embedded SQLite file,
//! or DynamoDB Local with the template's indexes), then times searches by each filter,
//! the hourly digest run over all of them, verification of a day, and the erasure of one
//! actor's records (then the day verified again).
//!
//! ```text
//! cargo run --release -p benches --bin audit-scale -- [--records 1000000] [--backend embedded|dynamodb]
//! ```
//!
//! The DynamoDB backend needs `FORECAST_TEST_DYNAMODB_URL` (`bash scripts/with-services.sh …`
//! sets it). Records are dated over the ten days after the start, so that every one of them
//! falls in hours the digest run can cover (the log begins when its first key is made).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use shared::audit::{AuditDecision, AuditOutcome, AuditRecord, format_time};
use shared::audit_digest;
use shared::audit_tags::TaggedAudit;
use shared::auth::Role;
use shared::crypto::keys::LocalKeys;
use shared::crypto::signing::LocalSigner;
use shared::domain::audit::AuditQuery;
use shared::http::RequestMeta;
use shared::store::ItemStore;
use shared::store::audit::search;
use store_embedded::{FsBlobStore, SqliteStore};

type Error = Box<dyn std::error::Error + Send + Sync>;

const ACTIONS: [&str; 10] = [
    "get-dataset",
    "list-datasets",
    "create-forecast",
    "get-forecast",
    "list-forecasts",
    "update-dataset",
    "get-me",
    "auth-refresh",
    "export-dataset",
    "delete-dataset",
];
const SPAN_HOURS: i64 = 240;

fn record(n: u64, start: time::OffsetDateTime, total: u64) -> AuditRecord {
    // Evenly over the span, in order; ids time-ordered with the times.
    let offset = time::Duration::milliseconds(i64::try_from(n * (SPAN_HOURS as u64 * 3_600_000) / total.max(1)).unwrap_or(0));
    let at = start + offset;
    let id =
        uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, u64::try_from(at.unix_timestamp()).unwrap_or(0), at.nanosecond()))
            .to_string();
    let status = if n.is_multiple_of(10) { 404 } else { 200 };
    AuditRecord {
        id,
        time: format_time(at),
        request_id: format!("req-{n}"),
        actor: Some(format!("user-{:04}", n % 1_000)),
        actor_role: Some(Role::Analyst),
        action: ACTIONS[(n % 10) as usize].to_owned(),
        resource_type: "dataset".into(),
        resource_id: Some(format!("dataset-{:05}", n % 20_000)),
        subject: None,
        decision: AuditDecision::Allow,
        policies: vec!["analyst-own-datasets".into()],
        outcome: AuditOutcome::from_status(status),
        status,
        reason: (status == 404).then(|| "not-found".to_owned()),
        detail: None,
        source_ip: Some(format!("198.51.{}.{}", (n / 250) % 20, n % 250)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Example/1.0".into()),
        expires_at: None,
        tag: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

async fn time_search(store: &dyn ItemStore, label: &str, query: &AuditQuery) -> Result<(), Error> {
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..15 {
        let started = Instant::now();
        let page = search(store, query, None, 50).await?;
        times.push(started.elapsed());
        found = page.items.len();
    }
    times.sort();
    println!("  {label:<42} {found:>3} found   median {:>8.1?}   p90 {:>8.1?}", percentile(&times, 0.5), percentile(&times, 0.9));
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (mut total, mut backend) = (1_000_000u64, "embedded".to_owned());
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--records" => total = args.next().ok_or("--records needs a number")?.parse()?,
            "--backend" => backend = args.next().ok_or("--backend needs a value")?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let dir = tempfile::tempdir()?;
    let raw: Arc<dyn ItemStore> = match backend.as_str() {
        "embedded" => Arc::new(SqliteStore::open(&dir.path().join("store.sqlite3"))?),
        "dynamodb" => {
            let url = std::env::var("FORECAST_TEST_DYNAMODB_URL").map_err(|_| "FORECAST_TEST_DYNAMODB_URL is not set")?;
            let client = devserver::aws_local::dynamodb_client(&url)?;
            let unique = uuid::Uuid::new_v4().simple().to_string();
            let (items, audit) = (format!("items-{unique}"), format!("audit-{unique}"));
            devserver::aws_local::ensure_tables(&client, &items, &audit).await?;
            Arc::new(store_aws::DynamoStore::new(client, items, audit))
        }
        other => return Err(format!("unknown backend {other}").into()),
    };
    let tagged = Arc::new(TaggedAudit::new(Arc::clone(&raw), Arc::new(LocalKeys::new(dir.path().join("keys")))));
    let start = audit_digest::period_of(time::OffsetDateTime::now_utc()) + time::Duration::hours(1);
    println!("{backend}: loading {total} records over {SPAN_HOURS} hours…");
    let loading = Instant::now();
    let parallel = if backend == "embedded" { 1 } else { 64 };
    let mut writes = futures::stream::iter(0..total)
        .map(|n| {
            let tagged = Arc::clone(&tagged);
            async move { tagged.append_audit(&record(n, start, total)).await }
        })
        .buffer_unordered(parallel);
    while let Some(result) = writes.next().await {
        result?;
    }
    let load = loading.elapsed();
    println!("  loaded in {load:.1?} ({:.0} records/s, tagged as they went in)", total as f64 / load.as_secs_f64());

    println!("search, first page of 50, newest first (15 runs each):");
    let all = AuditQuery { from: start, to: start + time::Duration::hours(SPAN_HOURS), ..AuditQuery::last_days(start, 0) };
    let day = AuditQuery { from: start + time::Duration::hours(SPAN_HOURS - 24), ..all.clone() };
    time_search(tagged.as_ref(), "no filter, ten days", &all).await?;
    time_search(tagged.as_ref(), "actor (1 in 1,000)", &AuditQuery { actor: Some("user-0042".into()), ..all.clone() }).await?;
    time_search(tagged.as_ref(), "source address (1 in 5,000)", &AuditQuery { source_ip: Some("198.51.3.17".into()), ..all.clone() })
        .await?;
    time_search(tagged.as_ref(), "resource (1 in 20,000)", &AuditQuery { resource_id: Some("dataset-00042".into()), ..all.clone() })
        .await?;
    time_search(tagged.as_ref(), "action (1 in 10)", &AuditQuery { action: Some("delete-dataset".into()), ..all.clone() }).await?;
    time_search(
        tagged.as_ref(),
        "actor + failures (filter on the index read)",
        &AuditQuery { actor: Some("user-0040".into()), outcome: Some(AuditOutcome::Failure), ..all.clone() },
    )
    .await?;
    time_search(tagged.as_ref(), "outcome only, last day (1 in 10)", &AuditQuery { outcome: Some(AuditOutcome::Failure), ..day.clone() })
        .await?;
    time_search(tagged.as_ref(), "actor with no records", &AuditQuery { actor: Some("nobody".into()), ..all.clone() }).await?;

    let digests = FsBlobStore::new(dir.path().join("digests"));
    let signer = LocalSigner::new(dir.path().join("keys"));
    let later = start + time::Duration::hours(SPAN_HOURS + 2);
    let meta = RequestMeta { request_id: "bench-digest".into(), ..RequestMeta::default() };
    let digesting = Instant::now();
    let run = audit_digest::write_digests(tagged.as_ref(), tagged.keys(), &digests, &signer, later, usize::MAX, &meta).await?;
    let spent = digesting.elapsed();
    println!(
        "digests: {} digests over {} records in {spent:.1?} ({:.0} records/s)",
        run.digests,
        run.records,
        run.records as f64 / spent.as_secs_f64()
    );
    let verifying = Instant::now();
    let report = audit_digest::verify(tagged.as_ref(), &digests, tagged.keys(), &signer, day.from, day.to, later).await?;
    let spent = verifying.elapsed();
    println!(
        "verify, last day: {} records, {} digests in {spent:.1?} ({:.0} records/s), clean: {}",
        report.records_checked,
        report.digests_checked,
        report.records_checked as f64 / spent.as_secs_f64(),
        report.clean
    );

    // GDPR erasure of one actor (1 in 1,000 records), then the same day verified again.
    let erasure = shared::personal_data::Erasure {
        store: tagged.as_ref(),
        blobs: &digests,
        keys: tagged.keys(),
        user: "user-0042",
        meta: &meta,
        deadline: Instant::now() + Duration::from_secs(3_600),
    };
    let erasing = Instant::now();
    let erased = erasure.run(later).await?;
    let spent = erasing.elapsed();
    println!(
        "erasure of one actor: {} records pseudonymised in {spent:.1?} ({:.0} records/s), complete: {}",
        erased.audit_records,
        erased.audit_records as f64 / spent.as_secs_f64(),
        erased.complete
    );
    let report = audit_digest::verify(tagged.as_ref(), &digests, tagged.keys(), &signer, day.from, day.to, later).await?;
    println!("verify, last day, after the erasure: {} records, clean: {}", report.records_checked, report.clean);
    Ok(())
}
