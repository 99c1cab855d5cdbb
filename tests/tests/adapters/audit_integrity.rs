//! Tamper evidence (SR-19) on each store: records written through the tagging layer,
//! digested and signed, then one changed, one deleted and one inserted behind the API's
//! back, straight in the database, as someone with access to it would. Verification names
//! exactly those, and a range they are not in verifies clean.

use std::sync::Arc;

use shared::audit::{AuditDraft, AuditRecord};
use shared::audit_digest::{self, VerifyReport};
use shared::audit_tags::TaggedAudit;
use shared::crypto::keys::LocalKeys;
use shared::crypto::signing::LocalSigner;
use shared::http::RequestMeta;
use shared::store::ItemStore;
use store_aws::DynamoStore;
use store_embedded::{FsBlobStore, SqliteStore};

pub struct Subject {
    pub raw: Arc<dyn ItemStore>,
    pub backdoor: Box<dyn crate::audit_backdoor::Backdoor>,
    pub dir: tempfile::TempDir,
}

pub async fn on_sqlite() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite3");
    let raw: Arc<dyn ItemStore> = Arc::new(SqliteStore::open(&path).unwrap());
    Subject { raw, backdoor: Box::new(crate::audit_backdoor::SqliteBackdoor(path)), dir }
}

pub async fn on_dynamodb() -> Subject {
    let client = crate::services::dynamodb_client();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (items, audit) = (format!("items-{id}"), format!("audit-{id}"));
    devserver::aws_local::ensure_tables(&client, &items, &audit).await.unwrap();
    let raw: Arc<dyn ItemStore> = Arc::new(DynamoStore::new(client.clone(), items, audit.clone()));
    Subject { raw, backdoor: Box::new(crate::audit_backdoor::DynamoBackdoor { client, table: audit }), dir: tempfile::tempdir().unwrap() }
}

fn ids(findings: &[shared::audit_digest::Finding]) -> Vec<(String, String)> {
    findings.iter().map(|f| (f.id.clone(), f.reason.clone())).collect()
}

/// The case itself, the same on every store.
pub async fn one_changed_one_deleted_one_inserted_are_named_and_nothing_else(subject: Subject) {
    let Subject { raw, backdoor, dir } = subject;
    // The case lives in one clock hour: started close to its end, it waits for the next.
    let now = time::OffsetDateTime::now_utc();
    if now.minute() == 59 && now.second() >= 30 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - now.second()))).await;
    }
    let tagged = TaggedAudit::new(Arc::clone(&raw), Arc::new(LocalKeys::new(dir.path().join("keys"))));
    let digests = FsBlobStore::new(dir.path().join("digests"));
    let signer = LocalSigner::new(dir.path().join("keys"));
    let started = time::OffsetDateTime::now_utc();
    let mut written = Vec::new();
    for n in 0..40 {
        let meta = RequestMeta { request_id: format!("r-{n}"), source_ip: Some(format!("203.0.113.{n}")), ..RequestMeta::default() };
        let mut draft = AuditDraft::new("get-dataset", "dataset");
        draft.actor = Some((format!("user-{}", n % 4), shared::auth::Role::Analyst));
        let record = draft.finish(&meta, 200);
        tagged.append_audit(&record).await.unwrap();
        written.push(record);
    }
    // Digest this hour and the next as the scheduled run will once they are over.
    let later = started + time::Duration::hours(3);
    let run_meta = RequestMeta { request_id: "digest-run".into(), ..RequestMeta::default() };
    let run = audit_digest::write_digests(&tagged, tagged.keys(), &digests, &signer, later, 24, &run_meta).await.unwrap();
    assert_eq!(run.records, 41, "the 40 and the tag key's creation: {run:?}");
    assert!(run.digests >= 16, "every shard of the hour: {run:?}");
    let hour = audit_digest::period_of(started);
    let verify = |from, to| {
        let (tagged, digests, signer) = (&tagged, &digests, &signer);
        async move { audit_digest::verify(tagged, digests, tagged_keys(tagged), signer, from, to, later).await.unwrap() }
    };
    // The run's own record lands in the hour it digested, only because the test runs the
    // job ahead of the clock: it is the one record the digests can't know.
    let run_record = crate::audit_walk::audit_since(raw.as_ref(), started)
        .await
        .into_iter()
        .find(|r| r.request_id == "digest-run")
        .expect("the run is audited");
    let before: VerifyReport = verify(hour, hour).await;
    assert_eq!(ids(&before.inserted), [(run_record.id.clone(), "not-in-digest".to_owned())], "{before:?}");
    assert!(before.modified.is_empty() && before.deleted.is_empty() && before.digests.is_empty(), "{before:?}");
    assert_eq!(before.records_checked, 42);

    // Behind the API's back: a refusal turned into a success, a record gone, one forged
    // with a tag copied from a genuine record.
    let stored = crate::audit_walk::audit_since(raw.as_ref(), started).await;
    let at_rest = stored.iter().find(|r| r.id == written[5].id).unwrap();
    let changed = AuditRecord { status: 403, ..at_rest.clone() };
    backdoor.overwrite(&changed).await;
    backdoor.remove(&written[17]).await;
    let genuine = stored.iter().find(|r| r.id == written[30].id).unwrap();
    assert!(genuine.tag.is_some());
    let forged = AuditRecord { id: uuid::Uuid::now_v7().to_string(), request_id: "forged".into(), ..genuine.clone() };
    raw.append_audit(&forged).await.unwrap();

    let after = verify(hour, hour).await;
    assert_eq!(ids(&after.modified), [(written[5].id.clone(), "tag-mismatch".to_owned())], "{after:?}");
    assert_eq!(ids(&after.deleted), [(written[17].id.clone(), "missing-from-store".to_owned())], "{after:?}");
    let mut inserted = ids(&after.inserted);
    inserted.sort();
    let mut expected = vec![(forged.id.clone(), "not-in-digest".to_owned()), (run_record.id.clone(), "not-in-digest".to_owned())];
    expected.sort();
    assert_eq!(inserted, expected, "{after:?}");
    assert!(after.digests.is_empty() && !after.clean, "{after:?}");

    // The hours before and after hold none of it: clean, their digests present and chained.
    let next = hour + time::Duration::hours(1);
    let clean = verify(next, next).await;
    assert!(clean.clean, "{clean:?}");
    assert_eq!(clean.digests_checked, 16);

    // A digest deleted is named.
    let gone = shared::audit_digest::digest_blob(next, 3).unwrap();
    shared::store::BlobStore::delete(&digests, &gone).await.unwrap();
    let missing = verify(next, next).await;
    assert_eq!(missing.digests.iter().map(|d| (d.shard, d.reason.as_str())).collect::<Vec<_>>(), [(3, "missing")], "{missing:?}");
}

fn tagged_keys(tagged: &TaggedAudit) -> &Arc<shared::audit_tags::AuditKeys> {
    tagged.keys()
}
