//! Micro-benchmarks: token verification, the standing check and the rate counter every
//! request adds, one policy decision with its entities, password hashing, CSV inspection,
//! and a series analysis. `cargo bench -p benches --bench micro`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark set-up fails loudly")]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::auth::{Principal, Role};
use shared::authz::{Action, Authorizer, Resource};
use shared::domain::csv_table::{CsvLimits, inspect};

fn token_verification(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (state, issuer) = benches::embedded_app(dir.path()).unwrap();
    let token = issuer.mint_access_token(benches::ANALYST, "alice", Role::Analyst).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(state.verifier.verify(&token)).unwrap();
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));
    group
        .bench_function("verify RS256 access token (keys cached)", |b| b.iter(|| runtime.block_on(state.verifier.verify(&token)).unwrap()));
    group.finish();
}

/// What the security record check (SR-09) and the per-user rate counter (SR-08) add to a
/// request on the embedded store: the check from the cache and from SQLite, and one
/// counter increment.
fn standing_and_rate(c: &mut Criterion) {
    use shared::auth::standing::Standing;
    let dir = tempfile::tempdir().unwrap();
    let (state, issuer) = benches::embedded_app(dir.path()).unwrap();
    let token = issuer.mint_access_token(benches::ANALYST, "alice", Role::Analyst).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let principal = runtime.block_on(state.verifier.verify(&token)).unwrap();
    let store = state.store.as_ref();
    let cached = Standing::default();
    runtime.block_on(cached.check(store, principal.clone())).unwrap();
    let uncached = Standing::with_ttl(std::time::Duration::ZERO);
    let limit = state.limits.api_rate.limit(Role::Analyst);
    let mut group = c.benchmark_group("standing");
    group
        .bench_function("check security record (cached)", |b| b.iter(|| runtime.block_on(cached.check(store, principal.clone())).unwrap()));
    group.bench_function("check security record (SQLite read)", |b| {
        b.iter(|| runtime.block_on(uncached.check(store, principal.clone())).unwrap())
    });
    group.bench_function("count a request against the rate limit (SQLite upsert)", |b| {
        b.iter(|| runtime.block_on(limit.hit(store, benches::ANALYST, 1_764_000_000)).unwrap())
    });
    group.finish();
}

/// What the block-list check (SR-40) adds to every request: the list from the process's
/// cache, searched, at its largest (1,000 addresses) and empty; and the read of the list
/// from SQLite that each process makes once per five seconds.
fn block_list(c: &mut Criterion) {
    use shared::blocklist::{self, BlockedIp, Blocklist, BlocklistCache};
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = benches::embedded_app(dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let until = shared::audit::format_time(now + time::Duration::hours(1));
    let entry = |n: usize| BlockedIp {
        ip: format!("10.{}.{}.{}", n / 65_536, (n / 256) % 256, n % 256),
        until: until.clone(),
        reason: "bench".into(),
        by: "detector".into(),
        created_at: until.clone(),
        finding: None,
    };
    let full = Blocklist { entries: (0..blocklist::MAX_ENTRIES).map(entry).collect() };
    let meta = shared::http::RequestMeta { request_id: "bench-blocklist".into(), ..Default::default() };
    let record = shared::audit::AuditDraft::new("bench-setup", "blocked-ip").finish(&meta, 200);
    runtime.block_on(state.store.commit(vec![blocklist::write(0, &full).unwrap()], &record)).unwrap();
    let cache = BlocklistCache::default();
    let store = state.store.as_ref();
    let mut group = c.benchmark_group("block list");
    group.bench_function("check an address not on a full list (cached, 1,000 entries)", |b| {
        b.iter(|| runtime.block_on(cache.get(store)).unwrap().blocking("203.0.113.9", now).is_none())
    });
    let empty = Blocklist::default();
    group.bench_function("check an address against an empty list", |b| b.iter(|| empty.blocking("203.0.113.9", now).is_none()));
    group.bench_function("read the full list (SQLite, once per 5 s per process)", |b| {
        b.iter(|| runtime.block_on(blocklist::read(store)).unwrap().1.entries.len())
    });
    group.finish();
}

/// One sign-in's password check (Argon2id, RFC 9106 parameters), and a hash.
fn password_hashing(c: &mut Criterion) {
    let hasher = shared::identity::hashing::PasswordHasher::default();
    let stored = hasher.hash("Tangerine!Cobalt7Drift").unwrap();
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("verify Argon2id m=64MiB t=3 p=4", |b| b.iter(|| assert!(hasher.verify("Tangerine!Cobalt7Drift", &stored))));
    group.bench_function("check the policy (zxcvbn)", |b| {
        b.iter(|| shared::identity::password::check("Tangerine!Cobalt7Drift", &["alice@example.com"]).unwrap())
    });
    group.finish();
}

fn policy_decision(c: &mut Criterion) {
    let authorizer = Authorizer::new().unwrap();
    let principal = Principal {
        subject: "viewer-1".into(),
        username: "v".into(),
        role: Role::Viewer,
        groups: vec!["viewer".into()],
        client_id: "c".into(),
        issued_at: None,
    };
    let readers: Vec<String> = (0..10).map(|i| format!("reader-{i}")).chain(["viewer-1".to_owned()]).collect();
    let resource = Resource::Dataset { id: "01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c", owner: "analyst-1", readers: &readers };
    c.bench_function("authz/decide ReadDataset (entities built per call)", |b| {
        b.iter(|| assert!(authorizer.decide(&principal, Action::ReadDataset, &resource).unwrap().allowed))
    });
    c.bench_function("authz/parse and validate policies (cold start)", |b| b.iter(|| Authorizer::new().unwrap()));
}

fn csv_inspection(c: &mut Criterion) {
    let mut csv = String::from("date,sales,price,region\n");
    for day in 0..10_000 {
        csv.push_str(&format!("2024-01-01T{:02}:{:02}:00Z,{},{}.5,north\n", (day / 60) % 24, day % 60, day, day % 97));
    }
    let mut group = c.benchmark_group("csv");
    group.throughput(Throughput::Bytes(csv.len() as u64));
    group.bench_function("inspect 10k rows x 4 columns", |b| b.iter(|| inspect(&csv, &CsvLimits::default()).unwrap()));
    group.finish();
}

/// Analysis of one column (statistics, periodogram, trend, outliers, changepoints) on
/// three years of daily data and on 100,000 hourly points (the CSV row limit).
fn series_analysis(c: &mut Criterion) {
    use shared::forecast::analysis::analyse;
    use shared::forecast::frequency::Frequency;
    use shared::forecast::series::Series;

    let series = |len: usize, step: i64, period: usize| {
        let start = time::macros::datetime!(2022-01-01 0:00 UTC);
        let frequency = Frequency::Seconds(step);
        let values: Vec<f64> = (0..len)
            .map(|i| 100.0 + 10.0 * (std::f64::consts::TAU * i as f64 / period as f64).sin() + ((i * 7919) % 13) as f64 * 0.3)
            .collect();
        let timestamps = (0..len as i64).filter_map(|k| frequency.step(start, k)).collect();
        Series { start, frequency, values, timestamps }
    };
    let mut group = c.benchmark_group("analysis");
    group.sample_size(10);
    let daily = series(3 * 365, 86_400, 7);
    group.bench_function("analyse 1,095 daily points", |b| b.iter(|| analyse(&daily, &daily).unwrap()));
    let hourly = series(100_000, 3_600, 24);
    group.bench_function("analyse 100,000 hourly points", |b| b.iter(|| analyse(&hourly, &hourly).unwrap()));
    group.finish();
}

/// Envelope encryption with the data key cached (the steady state: no key provider call),
/// at 1 KiB and 64 KiB; and a dataset record sealed and opened whole by the item store
/// layer (split into its encrypted and signed parts, digest, AES-256-GCM, base64).
fn encryption(c: &mut Criterion) {
    use shared::crypto::cache::{CacheLimits, Envelopes};
    use shared::crypto::envelope::EncryptionContext;
    use shared::crypto::keys::{LocalKeys, Purpose};
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let envelopes = Envelopes::new(std::sync::Arc::new(LocalKeys::new(dir.path())), CacheLimits::default());
    let key_context = EncryptionContext::new([("table", "items")]);
    let value_context = EncryptionContext::new([("type", "dataset"), ("pk", "DATASET#0193a0b0"), ("sk", "META")]);
    let mut group = c.benchmark_group("crypto");
    // The library's own speed, for scale: AES-256-GCM in place with a fixed nonce and no AAD.
    let raw = aws_lc_rs::aead::LessSafeKey::new(aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &[7u8; 32]).unwrap());
    for size in [1024usize, 64 * 1024] {
        let plaintext = vec![0x5a_u8; size];
        let mut buffer = plaintext.clone();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("aws-lc-rs AES-256-GCM seal in place {} KiB", size / 1024), |b| {
            b.iter(|| {
                let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key([0u8; 12]);
                raw.seal_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::empty(), &mut buffer).unwrap()
            })
        });
        let sealed = runtime.block_on(envelopes.seal(Purpose::PersonalData, &key_context, &value_context, &plaintext)).unwrap();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(format!("seal {} KiB", size / 1024), |b| {
            b.iter(|| runtime.block_on(envelopes.seal(Purpose::PersonalData, &key_context, &value_context, &plaintext)).unwrap())
        });
        group.bench_function(format!("open {} KiB", size / 1024), |b| {
            b.iter(|| runtime.block_on(envelopes.open(Purpose::PersonalData, &key_context, &value_context, &sealed)).unwrap())
        });
    }
    group.finish();

    let raw: std::sync::Arc<dyn shared::store::ItemStore> = std::sync::Arc::new(store_embedded::SqliteStore::in_memory().unwrap());
    let sealed_items = shared::sealed_items::SealedItems::with_local_keys(raw, dir.path());
    let key = shared::store::Key::new("DATASET#0193a0b0-0000-7000-8000-000000000000", "META");
    // A dataset record as the API stores it: 12 preview rows of 4 columns, 11 readers.
    let preview: Vec<Vec<String>> =
        (0..12).map(|n| vec![format!("2024-01-{:02}", n + 1), "12.5".into(), "7".into(), "north".into()]).collect();
    let record = serde_json::json!({
        "id": "0193a0b0-0000-7000-8000-000000000000", "name": "Store sales", "description": "weekly sales per store",
        "owner": "analyst-1", "readers": (0..11).map(|n| format!("viewer-{n}")).collect::<Vec<_>>(),
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z", "size_bytes": 4096, "row_count": 365,
        "columns": [{"name": "date", "kind": "timestamp"}, {"name": "sales", "kind": "number"}, {"name": "units", "kind": "number"}, {"name": "region", "kind": "text"}],
        "preview": preview,
    });
    let stored = runtime.block_on(sealed_items.seal(&key, record.clone())).unwrap();
    let mut group = c.benchmark_group("records");
    group.bench_function("seal a dataset record", |b| b.iter(|| runtime.block_on(sealed_items.seal(&key, record.clone())).unwrap()));
    group.bench_function("open a dataset record", |b| b.iter(|| runtime.block_on(sealed_items.open(&key, stored.clone())).unwrap()));
    group.finish();
}

criterion_group!(
    benches,
    token_verification,
    standing_and_rate,
    block_list,
    policy_decision,
    password_hashing,
    csv_inspection,
    series_analysis,
    encryption
);
criterion_main!(benches);
