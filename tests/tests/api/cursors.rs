//! List cursors are sealed: a client can continue only the list it was given a cursor
//! for, and every instance of a deployment agrees on the key.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use shared::auth::Role;
use shared::cursor::{CursorKeys, ListScope, key_item};
use store_embedded::SqliteStore;

use crate::helpers::spawn_app;
use crate::racing::{Gate, RacingStore};

#[tokio::test]
async fn a_cursor_continues_only_the_callers_own_list() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..3 {
        created.push(app.create_dataset("analyst-a", &format!("a{i}")).await);
    }
    app.create_dataset("analyst-b", "b0").await;
    let alice = app.token("analyst-a", Role::Analyst).await;
    let first = app.call(Method::GET, "/v1/datasets?limit=1", Some(&alice), None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let next = app.call(Method::GET, &format!("/v1/datasets?limit=1&cursor={cursor}"), Some(&alice), None).await;
    assert_eq!(next.status.as_u16(), 200, "{}", next.text);
    assert_eq!(next.body["items"][0]["id"], created[1].as_str());

    // The same cursor in anyone else's hands, or on another list: refused.
    let bob = app.token("analyst-b", Role::Analyst).await;
    let admin = app.token("admin-1", Role::Admin).await;
    for (token, path) in [
        (&bob, format!("/v1/datasets?limit=1&cursor={cursor}")),
        (&admin, format!("/v1/datasets?limit=1&cursor={cursor}")),
        (&alice, format!("/v1/forecasts?limit=1&cursor={cursor}")),
    ] {
        let answer = app.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(answer.assert_problem(400), "validation");
        assert_eq!(answer.body["field"], "cursor", "{path}: {}", answer.text);
    }

    // A position made up by the client (the sort key of Alice's second dataset, as an
    // unsealed cursor would have carried it) or an edited cursor: refused.
    let forged = URL_SAFE_NO_PAD.encode(format!("DATASET#{}", created[1]));
    let mut edited = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    *edited.last_mut().unwrap() ^= 1;
    for bad in [forged, URL_SAFE_NO_PAD.encode(edited)] {
        let answer = app.call(Method::GET, &format!("/v1/datasets?limit=1&cursor={bad}"), Some(&alice), None).await;
        assert_eq!((answer.assert_problem(400).as_str(), &answer.body["field"]), ("validation", &serde_json::json!("cursor")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_racing_to_create_the_key_agree_on_one() {
    const RACERS: usize = 4;
    let started = time::OffsetDateTime::now_utc();
    // Every instance's read finds no key before any of them creates one.
    let store = Arc::new(RacingStore::new(SqliteStore::in_memory().unwrap(), Gate::MissingRead(key_item()), RACERS));
    // One `CursorKeys` per function instance, all cold, all over the same table.
    let instances: Vec<Arc<CursorKeys>> = (0..RACERS).map(|_| Arc::new(CursorKeys::default())).collect();
    let tasks: Vec<_> = instances
        .iter()
        .enumerate()
        .map(|(n, keys)| {
            let (keys, store) = (keys.clone(), store.clone());
            tokio::spawn(async move {
                let audit = || shared::cursor::creation_record(&Default::default(), None);
                keys.get(store.as_ref(), audit).await.map(|_| n)
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    // The race happened: every instance found no key and tried to create one; one won.
    assert_eq!(store.commits(), (RACERS, RACERS - 1));

    // And they all hold the winner's key: a cursor sealed by any opens on every other.
    let partitions = ["ACCESS#alice".to_owned()];
    let scope = ListScope { caller: "alice", partitions: &partitions, prefix: "DATASET#" };
    for sealer in &instances {
        let sealed = sealer.get(store.as_ref(), || unreachable!("loaded")).await.unwrap().seal(&scope, "DATASET#x");
        for opener in &instances {
            let key = opener.get(store.as_ref(), || unreachable!("loaded")).await.unwrap();
            assert_eq!(key.open(&scope, &sealed).as_deref(), Some("DATASET#x"));
        }
    }
    let records = crate::audit_walk::audit_since(store.inner.as_ref(), started).await;
    let created: Vec<_> = records.iter().filter(|r| r.action == "create-cursor-key").collect();
    assert_eq!(created.len(), 1, "one key, created once, audited once: {records:?}");
    assert_eq!(created[0].status, 201);
}
