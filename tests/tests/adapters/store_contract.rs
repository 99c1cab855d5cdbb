//! What every item store must do: conditional writes, all-or-nothing commits that carry
//! their audit record, ordered paging, batch reads, and an append-only audit log.

use serde_json::json;
use shared::audit::{AuditDraft, AuditRecord};
use shared::http::RequestMeta;
use shared::store::rate::{RateLimit, Verdict};
use shared::store::{Condition, Item, ItemStore, Key, MAX_OPS_PER_COMMIT, StoreError, WriteOp};

fn partition() -> String {
    format!("TEST#{}", uuid::Uuid::new_v4())
}

fn audit(label: &str) -> AuditRecord {
    AuditDraft::new("contract-test", "test").finish(&RequestMeta { request_id: label.to_owned(), ..Default::default() }, 200)
}

fn put(key: &Key, version: u64, body: serde_json::Value, condition: Condition) -> WriteOp {
    WriteOp::Put { item: Item { key: key.clone(), version, body }, condition }
}

/// Whether a record of `request_id` was written since `since`.
async fn audited(store: &dyn ItemStore, request_id: &str, since: time::OffsetDateTime) -> bool {
    crate::audit_walk::audit_since(store, since).await.iter().any(|r| r.request_id == request_id)
}

pub async fn a_create_refuses_an_existing_key(store: &dyn ItemStore) {
    let started = time::OffsetDateTime::now_utc();
    let key = Key::new(partition(), "META");
    store.commit(vec![put(&key, 1, json!({"n": 1}), Condition::Absent)], &audit("c1")).await.unwrap();
    let again = store.commit(vec![put(&key, 1, json!({"n": 2}), Condition::Absent)], &audit("c2")).await;
    assert_eq!(again, Err(StoreError::ConditionFailed));
    assert_eq!(store.get(&key).await.unwrap().unwrap().body, json!({"n": 1}));
    assert!(audited(store, "c1", started).await);
    assert!(!audited(store, "c2", started).await, "a refused commit must not leave its audit record");
}

pub async fn a_versioned_write_needs_the_version_it_read(store: &dyn ItemStore) {
    let key = Key::new(partition(), "META");
    store.commit(vec![put(&key, 1, json!({"v": "one"}), Condition::Absent)], &audit("v0")).await.unwrap();
    store.commit(vec![put(&key, 2, json!({"v": "two"}), Condition::Version(1))], &audit("v1")).await.unwrap();
    let stale = store.commit(vec![put(&key, 2, json!({"v": "lost"}), Condition::Version(1))], &audit("v2")).await;
    assert_eq!(stale, Err(StoreError::ConditionFailed));
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!((item.version, item.body), (2, json!({"v": "two"})));
}

pub async fn a_failed_condition_rolls_back_the_whole_commit(store: &dyn ItemStore) {
    let pk = partition();
    let existing = Key::new(&pk, "B");
    store.commit(vec![put(&existing, 1, json!({}), Condition::Absent)], &audit("r0")).await.unwrap();
    let fresh = Key::new(&pk, "A");
    let result = store
        .commit(vec![put(&fresh, 1, json!({}), Condition::Absent), put(&existing, 1, json!({"x": 1}), Condition::Absent)], &audit("r1"))
        .await;
    assert_eq!(result, Err(StoreError::ConditionFailed));
    assert_eq!(store.get(&fresh).await.unwrap(), None, "half a commit was applied");
    assert_eq!(store.get(&existing).await.unwrap().unwrap().body, json!({}));
}

pub async fn a_duplicate_audit_record_rolls_back_the_writes(store: &dyn ItemStore) {
    let record = audit("dup");
    store.append_audit(&record).await.unwrap();
    let key = Key::new(partition(), "META");
    let result = store.commit(vec![put(&key, 1, json!({}), Condition::Absent)], &record).await;
    assert_eq!(result, Err(StoreError::ConditionFailed), "audit records are never overwritten");
    assert_eq!(store.get(&key).await.unwrap(), None, "the write went through without its audit record");
    assert_eq!(store.append_audit(&record).await, Err(StoreError::ConditionFailed));
}

pub async fn deletes_honour_their_condition(store: &dyn ItemStore) {
    let key = Key::new(partition(), "META");
    store.commit(vec![put(&key, 3, json!({}), Condition::Always)], &audit("d0")).await.unwrap();
    let stale = store.commit(vec![WriteOp::Delete { key: key.clone(), condition: Condition::Version(2) }], &audit("d1")).await;
    assert_eq!(stale, Err(StoreError::ConditionFailed));
    assert!(store.get(&key).await.unwrap().is_some());
    store.commit(vec![WriteOp::Delete { key: key.clone(), condition: Condition::Version(3) }], &audit("d2")).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
    // Deleting what is not there is fine without a condition.
    store.commit(vec![WriteOp::Delete { key: key.clone(), condition: Condition::Always }], &audit("d3")).await.unwrap();
}

pub async fn queries_page_in_order_within_a_prefix(store: &dyn ItemStore) {
    let pk = partition();
    let mut writes: Vec<WriteOp> =
        (0..7).map(|i| put(&Key::new(&pk, format!("DATASET#{i:02}")), 1, json!({"i": i}), Condition::Absent)).collect();
    writes.push(put(&Key::new(&pk, "OTHER#00"), 1, json!({}), Condition::Absent));
    writes.push(put(&Key::new(&pk, "DATASEU#00"), 1, json!({}), Condition::Absent));
    store.commit(writes, &audit("q0")).await.unwrap();

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.query_keys(&pk, "DATASET#", after.as_deref(), 3).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|key| key.sk.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("DATASET#{i:02}")).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    assert!(store.query_keys(&partition(), "DATASET#", None, 10).await.unwrap().items.is_empty());
    // No prefix: the whole partition, still in order.
    let all: Vec<String> = store.query_keys(&pk, "", None, 20).await.unwrap().items.into_iter().map(|key| key.sk).collect();
    assert_eq!(all.len(), 9);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "{all:?}");
}

/// DynamoDB ends a query response at 1 MB whatever the limit asks for; a page must still
/// hold everything it should, and a list must never end before its last item.
pub async fn pages_are_not_cut_short_by_the_response_size_limit(store: &dyn ItemStore) {
    let pk = partition();
    // 24 items of about 100 KB: 2.4 MB in one partition, over two 1 MB responses' worth.
    let filler = "x".repeat(100_000);
    let expected: Vec<String> = (0..24).map(|i| format!("BIG#{i:02}")).collect();
    for (i, sk) in expected.iter().enumerate() {
        let write = put(&Key::new(&pk, sk.as_str()), 1, json!({"filler": filler}), Condition::Absent);
        store.commit(vec![write], &audit(&format!("big-{i}"))).await.unwrap();
    }
    let whole = store.query_keys(&pk, "BIG#", None, 100).await.unwrap();
    assert_eq!(whole.items.iter().map(|key| key.sk.clone()).collect::<Vec<_>>(), expected, "one page of 100 holds all 24");
    assert_eq!(whole.next, None);

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.query_keys(&pk, "BIG#", after.as_deref(), 15).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 15);
        if page.next.is_some() {
            assert_eq!(page.items.len(), 15, "a page with a continuation is full");
        }
        seen.extend(page.items.into_iter().map(|key| key.sk));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 2);
}

pub async fn get_many_returns_only_what_exists_across_batches(store: &dyn ItemStore) {
    let pk = partition();
    let keys: Vec<Key> = (0..150).map(|i| Key::new(&pk, format!("K#{i:03}"))).collect();
    for (n, chunk) in keys.chunks(50).enumerate() {
        let writes = chunk.iter().step_by(2).map(|k| put(k, 1, json!({"sk": k.sk}), Condition::Absent)).collect();
        store.commit(writes, &audit(&format!("g{n}"))).await.unwrap();
    }
    let mut found: Vec<String> = store.get_many(&keys).await.unwrap().into_iter().map(|i| i.key.sk).collect();
    found.sort();
    let expected: Vec<String> = keys.iter().step_by(2).map(|k| k.sk.clone()).collect();
    assert_eq!(found, expected);
    assert!(store.get_many(&[]).await.unwrap().is_empty());
}

pub async fn audit_records_come_back_in_order_and_page(store: &dyn ItemStore) {
    let tag = uuid::Uuid::new_v4().to_string();
    // One instant for all five, so they share a day even at midnight; their ids order them.
    let at = shared::audit::format_time(time::OffsetDateTime::now_utc());
    for i in 0..5 {
        let record = AuditRecord { time: at.clone(), ..audit(&format!("{tag}-{i}")) };
        store.append_audit(&record).await.unwrap();
    }
    let day = &at[..10];
    let mut ours = Vec::new();
    let mut after = None;
    loop {
        let page = store.audit_records(day, after.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        ours.extend(page.items.into_iter().filter(|r| r.request_id.starts_with(&tag)).map(|r| r.request_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5).map(|i| format!("{tag}-{i}")).collect();
    assert_eq!(ours, expected);
}

pub async fn commits_over_the_transaction_limit_are_refused_whole(store: &dyn ItemStore) {
    let pk = partition();
    let writes: Vec<WriteOp> =
        (0..=MAX_OPS_PER_COMMIT).map(|i| put(&Key::new(&pk, format!("K#{i}")), 1, json!({}), Condition::Absent)).collect();
    assert!(matches!(store.commit(writes, &audit("big")).await, Err(StoreError::TooManyOperations(_))));
    assert!(store.query_keys(&pk, "K#", None, 10).await.unwrap().items.is_empty());
    let most: Vec<WriteOp> =
        (0..MAX_OPS_PER_COMMIT).map(|i| put(&Key::new(&pk, format!("K#{i:03}")), 1, json!({}), Condition::Absent)).collect();
    store.commit(most, &audit("most")).await.unwrap();
}

pub async fn bodies_round_trip_exactly(store: &dyn ItemStore) {
    let key = Key::new(partition(), "META");
    let body = json!({"name": "Ünïcödé ✓", "n": 42, "f": -0.25, "big": 9_007_199_254_740_993u64, "flag": false, "none": null, "list": [1, "two", {"three": [3]}], "empty": {}, "quote": "a\"b'c"});
    store.commit(vec![put(&key, 7, body.clone(), Condition::Absent)], &audit("b")).await.unwrap();
    let item = store.get(&key).await.unwrap().unwrap();
    assert_eq!((item.version, item.body), (7, body));
}

/// Two processes over one store (two function instances) seal and open each other's list
/// cursors: the key is created once, kept in the store, and read back the same.
pub async fn instances_share_one_cursor_key(store: &dyn ItemStore) {
    use shared::cursor::{CursorKeys, ListScope, key_item};
    let (first, second) = (CursorKeys::default(), CursorKeys::default());
    let partitions = [partition()];
    let scope = ListScope { caller: "caller", partitions: &partitions, prefix: "P#" };
    let sealed = first.get(store, || audit("cursor-key-1")).await.unwrap().seal(&scope, "P#1");
    let key = second.get(store, || audit("cursor-key-2")).await.unwrap();
    assert_eq!(key.open(&scope, &sealed).as_deref(), Some("P#1"));
    assert!(store.get(&key_item()).await.unwrap().is_some());
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn counters_count_from_one_and_expire(store: &dyn ItemStore) {
    let now = unix_now();
    let key = Key::new(format!("RATE#{}", partition()), now.to_string());
    assert_eq!(store.counter(&key, now).await.unwrap(), 0, "a counter never hit is 0");
    let expires_at = now + 3_600;
    for expected in 1..=3 {
        assert_eq!(store.increment(&key, expires_at).await.unwrap(), expected);
    }
    assert_eq!(store.counter(&key, now).await.unwrap(), 3);
    assert_eq!(store.counter(&key, expires_at).await.unwrap(), 3, "still there at its expiry");
    assert_eq!(store.counter(&key, expires_at + 1).await.unwrap(), 0, "read as gone after it");
    let other = Key::new(key.pk.clone(), (now + 60).to_string());
    assert_eq!(store.increment(&other, expires_at).await.unwrap(), 1, "each key counts on its own");
}

pub async fn concurrent_increments_each_see_their_own_value(store: &dyn ItemStore) {
    let now = unix_now();
    let key = Key::new(format!("RATE#{}", partition()), now.to_string());
    let mut values: Vec<u64> =
        futures::future::join_all((0..50).map(|_| store.increment(&key, now + 3_600))).await.into_iter().map(Result::unwrap).collect();
    values.sort_unstable();
    assert_eq!(values, (1..=50).collect::<Vec<u64>>());
    assert_eq!(store.counter(&key, now).await.unwrap(), 50);
}

pub async fn a_rate_limit_lets_exactly_its_maximum_through_each_window(store: &dyn ItemStore) {
    let limit = RateLimit { name: "contract", max: 5, window_seconds: 60 };
    let subject = uuid::Uuid::new_v4().to_string();
    let now = unix_now();
    let into_window = u64::try_from(now.rem_euclid(60)).unwrap();
    assert_eq!(limit.blocked_for(store, &subject, now).await.unwrap(), None);
    let verdicts = futures::future::join_all((0..50).map(|_| limit.hit(store, &subject, now))).await;
    let mut allowed: Vec<u64> = Vec::new();
    for verdict in verdicts {
        match verdict.unwrap() {
            Verdict::Allowed { remaining } => allowed.push(remaining),
            Verdict::Limited { retry_after } => assert_eq!(retry_after, 60 - into_window),
        }
    }
    allowed.sort_unstable();
    assert_eq!(allowed, [0, 1, 2, 3, 4], "exactly five through, each told what is left");
    assert_eq!(limit.blocked_for(store, &subject, now).await.unwrap(), Some(60 - into_window));
    // The next window starts afresh; another subject was never limited.
    let next = now - now.rem_euclid(60) + 60;
    assert_eq!(limit.hit(store, &subject, next).await.unwrap(), Verdict::Allowed { remaining: 4 });
    assert_eq!(limit.hit(store, "someone else", now).await.unwrap(), Verdict::Allowed { remaining: 4 });
}

/// Paged by 7 through everything the store holds (other tests' items too): each of ours
/// comes exactly once, and a counter never.
pub async fn a_scan_visits_every_item_once_and_no_counter(store: &dyn ItemStore) {
    let pk = partition();
    let ours: Vec<Key> = (0..23).map(|n| Key::new(&pk, format!("ITEM#{n:02}"))).collect();
    let writes = ours.iter().map(|key| put(key, 1, json!({}), Condition::Absent)).collect();
    store.commit(writes, &audit(&format!("scan-{pk}"))).await.unwrap();
    let counter = Key::new(format!("RATE#{pk}"), "1");
    store.increment(&counter, unix_now() + 60).await.unwrap();
    let mut seen = Vec::new();
    let mut after: Option<Key> = None;
    let mut pages = 0;
    loop {
        let page = store.scan_keys(after.as_ref(), 7).await.unwrap();
        assert!(page.keys.len() <= 7, "a page of {}", page.keys.len());
        seen.extend(page.keys);
        pages += 1;
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut mine: Vec<Key> = seen.iter().filter(|key| key.pk == pk).cloned().collect();
    mine.sort();
    assert_eq!(mine, ours, "each item once");
    assert!(pages >= 4, "23 items in pages of 7 take at least 4 pages, not {pages}");
    assert!(!seen.contains(&counter), "a counter is not an item");
}

/// SR-17: searches by each field, newest first, paged without loss or repeat; filters
/// combine, and times bound the range.
pub async fn audit_searches_filter_newest_first_and_page_without_repeats(store: &dyn ItemStore) {
    use shared::audit::AuditOutcome;
    use shared::domain::audit::AuditQuery;
    use shared::store::audit::search_in_batches;
    let started = time::OffsetDateTime::now_utc();
    let mut written = Vec::new();
    for n in 0..60u16 {
        let meta = RequestMeta { request_id: format!("s-{n}"), source_ip: Some(format!("198.51.100.{}", n % 3)), ..Default::default() };
        let mut draft = AuditDraft::new(if n % 2 == 0 { "get-dataset" } else { "delete-dataset" }, "dataset");
        draft.actor = Some((format!("actor-{}", n % 5), shared::auth::Role::Analyst));
        draft.resource_id = Some(format!("dataset-{}", n % 7));
        draft.subject = (n % 10 == 0).then(|| "subject-x".to_owned());
        let record = draft.finish(&meta, if n % 4 == 0 { 404 } else { 200 });
        store.append_audit(&record).await.unwrap();
        written.push(record);
    }
    let query = AuditQuery::last_days(time::OffsetDateTime::now_utc() + time::Duration::seconds(1), 1);
    // Newest first: the reverse of the order written (ids are time-ordered).
    let expected =
        |keep: &dyn Fn(&AuditRecord) -> bool| -> Vec<String> { written.iter().rev().filter(|r| keep(r)).map(|r| r.id.clone()).collect() };
    // Batches of 2: shards stop short of their records, so pages are cut at the point
    // where a shard stopped and continue from there.
    let all_pages = |query: AuditQuery, limit: usize| async move {
        let (mut ids, mut before, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let page = search_in_batches(store, &query, before.as_deref(), limit, 2).await.unwrap();
            pages += 1;
            ids.extend(page.items.iter().map(|r| r.id.clone()));
            match page.next {
                Some(next) => before = Some(next),
                None => return (ids, pages),
            }
        }
    };
    let (ids, pages) = all_pages(query.clone(), 7).await;
    assert_eq!(ids, expected(&|r| r.request_id.starts_with("s-")), "every record, newest first, in pages of 7");
    assert!(pages >= 9, "{pages}");
    type Keep = Box<dyn Fn(&AuditRecord) -> bool>;
    let cases: Vec<(AuditQuery, Keep)> = vec![
        (AuditQuery { actor: Some("actor-2".into()), ..query.clone() }, Box::new(|r| r.actor.as_deref() == Some("actor-2"))),
        (
            AuditQuery { source_ip: Some("198.51.100.1".into()), ..query.clone() },
            Box::new(|r| r.source_ip.as_deref() == Some("198.51.100.1")),
        ),
        (
            AuditQuery { resource_id: Some("dataset-3".into()), ..query.clone() },
            Box::new(|r| r.resource_id.as_deref() == Some("dataset-3")),
        ),
        (AuditQuery { subject: Some("subject-x".into()), ..query.clone() }, Box::new(|r| r.subject.as_deref() == Some("subject-x"))),
        (AuditQuery { action: Some("delete-dataset".into()), ..query.clone() }, Box::new(|r| r.action == "delete-dataset")),
        (
            AuditQuery { outcome: Some(AuditOutcome::Failure), actor: Some("actor-0".into()), ..query.clone() },
            Box::new(|r| r.status == 404 && r.actor.as_deref() == Some("actor-0")),
        ),
    ];
    for (query, keep) in cases {
        let wanted = expected(&*keep);
        assert!(!wanted.is_empty());
        let (ids, _) = all_pages(query.clone(), 3).await;
        assert_eq!(ids, wanted, "{query:?}");
    }
    // The time range bounds it: from the 21st record on.
    let from = time::OffsetDateTime::parse(&written[20].time, &time::format_description::well_known::Rfc3339).unwrap();
    let (ids, _) = all_pages(AuditQuery { from, ..query.clone() }, 50).await;
    assert_eq!(ids, expected(&|r| r.request_id.starts_with("s-") && r.time >= written[20].time));
    // Before anything was written: nothing.
    let earlier = AuditQuery { from: started - time::Duration::hours(2), to: started - time::Duration::hours(1), ..query };
    assert_eq!(all_pages(earlier, 10).await.0, Vec::<String>::new());
}
