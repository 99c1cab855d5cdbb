//! Counters under real races: increments that were provably in flight at once, from two
//! connections to one SQLite file (two local processes) and from concurrent requests to
//! DynamoDB Local (many Lambda instances), still each see their own value.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use shared::store::{ItemStore, Key};
use store_embedded::SqliteStore;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn increments_from_two_connections_to_one_file_interleave_and_stay_exact() {
    const ROUNDS: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let key = Key::new("RATE#race", now().to_string());
    let expires_at = now() + 3_600;
    // Both connections start each round together, so every round is a race for the write
    // lock (SQLite's lock is not fair: without this one side can win a whole run).
    let round = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let (path, key, round) = (path.clone(), key.clone(), Arc::clone(&round));
            std::thread::spawn(move || {
                let store = SqliteStore::open(&path).unwrap();
                (0..ROUNDS)
                    .map(|_| {
                        round.wait();
                        futures::executor::block_on(store.increment(&key, expires_at)).unwrap()
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let results: Vec<Vec<u64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    // Round r's two increments are r*2+1 and r*2+2, one to each connection: each round the
    // two were in flight together, and neither lost the other's count.
    for r in 0..ROUNDS {
        let mut pair = [results[0][r as usize], results[1][r as usize]];
        pair.sort_unstable();
        assert_eq!(pair, [2 * r + 1, 2 * r + 2], "round {r}");
    }
}

#[tokio::test]
async fn concurrent_increments_on_dynamodb_overlap_and_stay_exact() {
    let subject = crate::services::dynamo_store().await;
    let store: &dyn ItemStore = subject.as_ref();
    let key = Key::new("RATE#race", now().to_string());
    let (in_flight, peak) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let calls = (0..50).map(|_| async {
        peak.fetch_max(in_flight.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
        let value = store.increment(&key, now() + 3_600).await.unwrap();
        in_flight.fetch_sub(1, Ordering::SeqCst);
        value
    });
    let mut values = futures::future::join_all(calls).await;
    assert!(peak.load(Ordering::SeqCst) > 1, "the increments never overlapped");
    values.sort_unstable();
    assert_eq!(values, (1..=50).collect::<Vec<u64>>());
}
