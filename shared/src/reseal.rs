//! Re-sealing after a key rotation: every record sealed under a master key other than the
//! current one is opened and sealed again, with a fresh data key the current master key
//! wraps. Old master keys keep opening what they sealed until then, so nothing is
//! unreadable at any point; once a whole pass finds nothing to re-seal, they can go.
//!
//! A run walks the item store page by page and saves where it is (`CONFIG` /
//! `RESEAL_PROGRESS`) in the same commit as each page's re-sealed records, so a run cut
//! short (a Lambda timeout, a stopped command) continues where it stopped, and running it
//! twice does no harm: a record already under the current key is left alone, a record
//! changed meanwhile keeps its writer's version (written under the current key), and of
//! two runs at once the one whose progress is stale stops.
//!
//! A pass that re-sealed anything is followed by another: a server that sealed with a data
//! key cached before the rotation (at most `CacheLimits::max_age`) may have written
//! records under the old key meanwhile. Only a pass that finds nothing stale completes.

use serde::{Deserialize, Serialize};

use crate::audit::AuditDraft;
use crate::http::RequestMeta;
use crate::records::record_type;
use crate::sealed_items::SealedItems;
use crate::store::{Condition, Item, ItemStore, Key, StoreError, WriteOp};

/// Records read and re-sealed per commit (with the progress item: under DynamoDB's 100).
const PAGE: usize = 50;

/// Where a re-sealing pass stands.
pub fn progress_key() -> Key {
    Key::new("CONFIG", "RESEAL_PROGRESS")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
    /// The master key this pass re-seals under.
    master_key: String,
    /// The last key visited, while a pass is under way.
    after: Option<[String; 2]>,
    /// Records visited, re-sealed and found unreadable so far in this pass.
    visited: u64,
    resealed: u64,
    unreadable: u64,
    /// A whole pass found every record under `master_key`.
    complete: bool,
}

impl Progress {
    fn start(master_key: String) -> Self {
        Self { master_key, after: None, visited: 0, resealed: 0, unreadable: 0, complete: false }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealReport {
    pub master_key: String,
    pub visited: u64,
    pub resealed: u64,
    /// Records rewritten by someone else between this run's read and its write: their
    /// writer sealed them; the next pass checks.
    pub changed_meanwhile: u64,
    /// Records that do not open (altered or moved in the database): left as they are, and
    /// the pass can't complete until they are dealt with (restored from a backup, deleted).
    pub unreadable: Vec<Key>,
    /// Every record is under the current master key: older ones may be retired.
    pub complete: bool,
    /// The run stopped at its page budget with the pass under way.
    pub stopped_early: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResealError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another run saved progress since this one read it; this one stops.
    #[error("another re-sealing run is under way")]
    Overtaken,
}

/// Re-seals, from the saved position on, at most `max_pages` pages (all, if `None`).
pub async fn reseal(store: &SealedItems, max_pages: Option<usize>, meta: &RequestMeta) -> Result<ResealReport, ResealError> {
    store.retire_sealing_keys();
    let current = store.current_master_key().await?;
    let (mut version, mut progress) = match store.get(&progress_key()).await? {
        Some(item) => {
            let saved: Progress = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("re-seal progress: {e}")))?;
            (Some(item.version), saved)
        }
        None => (None, Progress::start(current.clone())),
    };
    let mut report = ResealReport {
        master_key: current.clone(),
        visited: 0,
        resealed: 0,
        changed_meanwhile: 0,
        unreadable: Vec::new(),
        complete: false,
        stopped_early: false,
    };
    if progress.master_key == current && progress.complete {
        report.complete = true;
        return Ok(report);
    }
    // A new key, or a pass that ended with something to do: a fresh pass.
    if progress.master_key != current || (progress.after.is_none() && progress.visited > 0) {
        progress = Progress::start(current.clone());
    }

    let mut pages = 0;
    loop {
        if max_pages.is_some_and(|max| pages >= max) {
            report.stopped_early = true;
            return Ok(report);
        }
        pages += 1;
        let after = progress.after.as_ref().map(|[pk, sk]| Key::new(pk, sk));
        let page = store.inner().scan_keys(after.as_ref(), PAGE).await?;
        let mut writes = Vec::new();
        for item in store.inner().get_many(&page.keys).await? {
            if record_type(&item.key.pk, &item.key.sk).is_none() || item.key == progress_key() {
                continue;
            }
            report.visited += 1;
            progress.visited += 1;
            if SealedItems::sealed_under(&item.body).as_deref() == Some(current.as_str()) {
                continue;
            }
            match store.open(&item.key, item.body).await {
                Ok(body) => writes.push(WriteOp::Put {
                    // The same version: the record's content (and its ETag) is unchanged.
                    item: Item { key: item.key, version: item.version, body },
                    condition: Condition::Version(item.version),
                }),
                Err(StoreError::Corrupt(_)) => {
                    progress.unreadable += 1;
                    report.unreadable.push(item.key);
                }
                Err(error) => return Err(error.into()),
            }
        }
        progress.after = page.next.map(|key| [key.pk, key.sk]);
        if progress.after.is_none() {
            // The pass is over: complete if it found nothing to do.
            progress.complete = progress.resealed + u64::try_from(writes.len()).unwrap_or(u64::MAX) == 0 && progress.unreadable == 0;
        }
        version = save_page(store, writes, &mut progress, version, &mut report, meta).await?;
        if progress.after.is_none() {
            report.complete = progress.complete;
            return Ok(report);
        }
    }
}

/// Commits a page's re-sealed records with the progress after it; when a record changed
/// meanwhile, the others one by one. Returns the progress item's new version.
async fn save_page(
    store: &SealedItems,
    writes: Vec<WriteOp>,
    progress: &mut Progress,
    version: Option<u64>,
    report: &mut ResealReport,
    meta: &RequestMeta,
) -> Result<Option<u64>, ResealError> {
    let count = u64::try_from(writes.len()).unwrap_or(u64::MAX);
    let mut page = writes.clone();
    progress.resealed += count;
    page.push(progress_write(progress, version)?);
    match store.commit(page, &audit(meta, count, &progress.master_key)).await {
        Ok(()) => {
            report.resealed += count;
            return Ok(Some(version.map_or(1, |v| v + 1)));
        }
        Err(StoreError::ConditionFailed) => progress.resealed -= count,
        Err(error) => return Err(error.into()),
    }
    // Someone else's write: was it another run's progress, or one of the records?
    if store.get(&progress_key()).await?.map(|item| item.version) != version {
        return Err(ResealError::Overtaken);
    }
    for write in writes {
        match store.commit(vec![write], &audit(meta, 1, &progress.master_key)).await {
            Ok(()) => {
                report.resealed += 1;
                progress.resealed += 1;
            }
            Err(StoreError::ConditionFailed) => report.changed_meanwhile += 1,
            Err(error) => return Err(error.into()),
        }
    }
    match store.commit(vec![progress_write(progress, version)?], &audit(meta, 0, &progress.master_key)).await {
        Ok(()) => Ok(Some(version.map_or(1, |v| v + 1))),
        Err(StoreError::ConditionFailed) => Err(ResealError::Overtaken),
        Err(error) => Err(error.into()),
    }
}

fn progress_write(progress: &Progress, version: Option<u64>) -> Result<WriteOp, StoreError> {
    let body = serde_json::to_value(progress).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let (next, condition) = match version {
        Some(version) => (version + 1, Condition::Version(version)),
        None => (1, Condition::Absent),
    };
    Ok(WriteOp::Put { item: Item { key: progress_key(), version: next, body }, condition })
}

/// The audit record of one commit: how many records it re-sealed, under which key.
fn audit(meta: &RequestMeta, resealed: u64, master_key: &str) -> crate::audit::AuditRecord {
    let meta = RequestMeta { request_id: format!("{}-{}", meta.request_id, uuid::Uuid::new_v4()), ..meta.clone() };
    let draft =
        AuditDraft { resource_id: Some(format!("{resealed} records under {master_key}")), ..AuditDraft::new("reseal-records", "config") };
    draft.finish(&meta, 200)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crypto::keys::{LocalKeys, Purpose};

    use crate::sealed_items::testing::{Fixture, fixture};

    fn meta() -> RequestMeta {
        RequestMeta { request_id: "reseal-test".into(), ..RequestMeta::default() }
    }

    fn entry(n: usize) -> Key {
        Key::new(format!("ACCESS#u-{n:03}"), format!("DATASET#d-{n:03}"))
    }

    /// `count` records (one with a secret field) written under the current key.
    async fn write(f: &Fixture, count: usize) {
        let mut writes: Vec<WriteOp> = (0..count)
            .map(|n| WriteOp::Put { item: Item { key: entry(n), version: 3, body: json!({"n": n}) }, condition: Condition::Always })
            .collect();
        writes.push(WriteOp::Put {
            item: Item { key: Key::new("DATASET#d-1", "META"), version: 7, body: json!({"name": "Ada's sales", "owner": "u-1"}) },
            condition: Condition::Always,
        });
        for chunk in writes.chunks(90) {
            let audit =
                AuditDraft::new("test", "dataset").finish(&RequestMeta { request_id: uuid::Uuid::new_v4().to_string(), ..meta() }, 200);
            f.sealed.commit(chunk.to_vec(), &audit).await.unwrap();
        }
    }

    /// How many records of the raw store are sealed under `master_key`.
    async fn under(f: &Fixture, master_key: &str) -> usize {
        let mut count = 0;
        let mut after = None;
        loop {
            let page = f.raw.scan_keys(after.as_ref(), 100).await.unwrap();
            for item in f.raw.get_many(&page.keys).await.unwrap() {
                if SealedItems::sealed_under(&item.body).as_deref() == Some(master_key) {
                    count += 1;
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return count,
            }
        }
    }

    #[tokio::test]
    async fn after_a_rotation_every_record_moves_to_the_new_key_keeps_its_version_and_opens() {
        let f = fixture();
        write(&f, 120).await;
        assert_eq!(under(&f, "branch:personal-data:1").await, 121);
        assert_eq!(LocalKeys::new(f.dir.path()).rotate(Purpose::PersonalData).unwrap(), "local:personal-data:2");

        let first = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert_eq!((first.visited, first.resealed, first.complete), (121, 121, false), "{first:?}");
        assert_eq!(under(&f, "branch:personal-data:1").await, 0);
        assert_eq!(under(&f, "branch:personal-data:2").await, 122, "every record, and the progress");
        let dataset = f.sealed.get(&Key::new("DATASET#d-1", "META")).await.unwrap().unwrap();
        assert_eq!((dataset.version, dataset.body["name"].as_str()), (7, Some("Ada's sales")));
        assert_eq!(f.sealed.get(&entry(5)).await.unwrap().unwrap().version, 3);

        // The next pass finds nothing to do, and completes; after it, runs are no-ops.
        let second = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert_eq!((second.visited, second.resealed, second.complete), (121, 0, true), "{second:?}");
        let third = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert_eq!((third.visited, third.resealed, third.complete), (0, 0, true), "{third:?}");
    }

    /// A store that, at the second commit carrying the progress item (the second page's),
    /// first lets another writer in: a change to one record (through the layer, so under
    /// the current key), or another run's progress.
    #[derive(Debug)]
    struct Interleaved {
        inner: Arc<dyn ItemStore>,
        layer: std::sync::OnceLock<Arc<SealedItems>>,
        meddle: std::sync::Mutex<Option<WriteOp>>,
        progress_commits: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl ItemStore for Interleaved {
        async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
            self.inner.get(key).await
        }
        async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
            self.inner.get_many(keys).await
        }
        async fn query_keys(
            &self,
            pk: &str,
            prefix: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<crate::store::Page<Key>, StoreError> {
            self.inner.query_keys(pk, prefix, after, limit).await
        }
        async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<crate::store::ScanPage, StoreError> {
            self.inner.scan_keys(after, limit).await
        }
        async fn commit(&self, writes: Vec<WriteOp>, audit: &crate::audit::AuditRecord) -> Result<(), StoreError> {
            let progress = writes.iter().any(|w| matches!(w, WriteOp::Put { item, .. } if item.key == progress_key()));
            let second = progress && self.progress_commits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1;
            let meddle = if second { self.meddle.lock().unwrap().take() } else { None };
            if let Some(write) = meddle {
                let other = AuditDraft::new("test", "dataset").finish(&RequestMeta { request_id: "meddler".into(), ..meta() }, 200);
                self.layer.get().unwrap().commit(vec![write], &other).await.unwrap();
            }
            self.inner.commit(writes, audit).await
        }
        async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
            self.inner.increment(key, expires_at).await
        }
        async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
            self.inner.counter(key, now).await
        }
        async fn append_audit(&self, audit: &crate::audit::AuditRecord) -> Result<(), StoreError> {
            self.inner.append_audit(audit).await
        }
        async fn audit_newest_first(
            &self,
            source: crate::store::audit::AuditSource<'_>,
            range: &crate::store::audit::PositionRange,
            limit: usize,
        ) -> Result<crate::store::Page<crate::audit::AuditRecord>, crate::store::StoreError> {
            self.inner.audit_newest_first(source, range, limit).await
        }

        async fn erase_audit_identity(
            &self,
            stored: &crate::audit::AuditRecord,
            erased: &crate::audit::AuditRecord,
        ) -> Result<(), StoreError> {
            self.inner.erase_audit_identity(stored, erased).await
        }

        async fn purge_expired_audit(&self, now: i64, limit: usize) -> Result<usize, crate::store::StoreError> {
            self.inner.purge_expired_audit(now, limit).await
        }

        async fn audit_partition(
            &self,
            pk: &str,
            after: Option<&str>,
            limit: usize,
        ) -> Result<crate::store::Page<crate::audit::AuditRecord>, StoreError> {
            self.inner.audit_partition(pk, after, limit).await
        }
    }

    /// 120 records under the old key, and a layer whose second page meets `meddle` first.
    async fn interleaved(meddle: impl FnOnce(&Fixture) -> WriteOp) -> (Fixture, Arc<SealedItems>) {
        let f = fixture();
        // Three pages: the progress version the fallback leaves must be right for the next.
        write(&f, 120).await;
        LocalKeys::new(f.dir.path()).rotate(Purpose::PersonalData).unwrap();
        let write = meddle(&f);
        let racing = Arc::new(Interleaved {
            inner: Arc::clone(&f.raw),
            layer: std::sync::OnceLock::new(),
            meddle: std::sync::Mutex::new(Some(write)),
            progress_commits: std::sync::atomic::AtomicUsize::new(0),
        });
        let layer = Arc::new(SealedItems::with_local_keys(racing.clone(), f.dir.path()));
        racing.layer.set(Arc::new(SealedItems::with_local_keys(Arc::clone(&f.raw), f.dir.path()))).unwrap();
        (f, layer)
    }

    #[tokio::test]
    async fn a_record_changed_meanwhile_keeps_its_writers_version_and_the_rest_are_resealed() {
        let (f, layer) = interleaved(|_| WriteOp::Put {
            item: Item { key: entry(55), version: 4, body: json!({"n": "changed"}) },
            condition: Condition::Version(3),
        })
        .await;
        let report = reseal(&layer, None, &meta()).await.unwrap();
        assert_eq!((report.visited, report.resealed, report.changed_meanwhile), (121, 120, 1), "{report:?}");
        assert!(!report.complete, "a pass that re-sealed is followed by another");
        let changed = f.sealed.get(&entry(55)).await.unwrap().unwrap();
        assert_eq!((changed.version, changed.body["n"].as_str()), (4, Some("changed")), "the writer's change stands");
        assert_eq!(under(&f, "branch:personal-data:1").await, 0, "every record under the new key");
        let progress = f.sealed.get(&progress_key()).await.unwrap().unwrap();
        assert_eq!(progress.body["resealed"], 120);
        let next = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert!(next.complete && next.resealed == 0, "{next:?}");
    }

    #[tokio::test]
    async fn a_run_overtaken_by_another_stops_without_writing_its_page() {
        // Another run's progress, written over the first page's.
        let (f, layer) = interleaved(|_| WriteOp::Put {
            item: Item { key: progress_key(), version: 2, body: serde_json::to_value(Progress::start("another run".into())).unwrap() },
            condition: Condition::Version(1),
        })
        .await;
        assert_eq!(reseal(&layer, None, &meta()).await, Err(ResealError::Overtaken));
        assert_eq!(under(&f, "branch:personal-data:1").await, 71, "the first page re-sealed, nothing after the run lost");
    }

    #[tokio::test]
    async fn a_pass_that_resealed_anything_is_not_complete_even_when_its_last_page_was_clean() {
        let f = fixture();
        write(&f, 100).await;
        LocalKeys::new(f.dir.path()).rotate(Purpose::PersonalData).unwrap();
        // Records written after the rotation, last in scan order: the final page has nothing stale.
        let fresh: Vec<WriteOp> = (0..60)
            .map(|n| WriteOp::Put {
                item: Item { key: Key::new(format!("FORECAST#f-{n:02}"), "META"), version: 1, body: json!({}) },
                condition: Condition::Always,
            })
            .collect();
        let audit = AuditDraft::new("test", "forecast").finish(&RequestMeta { request_id: "fresh".into(), ..meta() }, 200);
        f.sealed.retire_sealing_keys();
        f.sealed.current_master_key().await.unwrap();
        f.sealed.commit(fresh, &audit).await.unwrap();
        let report = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert_eq!(report.resealed, 101, "{report:?}");
        assert!(!report.complete);
        // A one-page pass that re-seals is not complete either.
        let small = fixture();
        write(&small, 3).await;
        LocalKeys::new(small.dir.path()).rotate(Purpose::PersonalData).unwrap();
        let report = reseal(&small.sealed, None, &meta()).await.unwrap();
        assert_eq!((report.resealed, report.complete), (4, false));
        // Every commit is audited, naming what it re-sealed and under which key.
        let day = crate::audit::format_time(time::OffsetDateTime::now_utc())[..10].to_owned();
        let records = small.raw.audit_records(&day, None, 100).await.unwrap().items;
        let resealing: Vec<_> = records.iter().filter(|r| r.action == "reseal-records").collect();
        assert!(!resealing.is_empty());
        assert!(resealing.iter().all(|r| r.request_id.starts_with("reseal-test-")), "{resealing:?}");
        assert!(resealing.iter().any(|r| r.resource_id.as_deref() == Some("4 records under branch:personal-data:2")), "{resealing:?}");
    }

    #[tokio::test]
    async fn a_run_cut_short_continues_where_it_stopped() {
        let f = fixture();
        write(&f, 120).await;
        LocalKeys::new(f.dir.path()).rotate(Purpose::PersonalData).unwrap();
        let cut = reseal(&f.sealed, Some(1), &meta()).await.unwrap();
        assert!(cut.stopped_early && !cut.complete, "{cut:?}");
        assert_eq!(cut.resealed, 50, "one page");
        assert_eq!(under(&f, "branch:personal-data:1").await, 71);
        let rest = reseal(&f.sealed, None, &meta()).await.unwrap();
        assert_eq!((rest.visited, rest.resealed), (71, 71), "only what the first run left: {rest:?}");
        assert_eq!(under(&f, "branch:personal-data:1").await, 0);
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_left_alone_and_keeps_the_pass_from_completing() {
        let f = fixture();
        write(&f, 3).await;
        let mut altered = f.raw.get(&entry(1)).await.unwrap().unwrap();
        altered.body["n"] = json!(99);
        let audit = AuditDraft::new("test", "dataset").finish(&meta(), 200);
        f.raw.commit(vec![WriteOp::Put { item: altered.clone(), condition: Condition::Always }], &audit).await.unwrap();
        LocalKeys::new(f.dir.path()).rotate(Purpose::PersonalData).unwrap();
        for _ in 0..2 {
            let report = reseal(&f.sealed, None, &meta()).await.unwrap();
            assert_eq!(report.unreadable, [entry(1)], "{report:?}");
            assert!(!report.complete);
        }
        assert_eq!(f.raw.get(&entry(1)).await.unwrap().unwrap().body, altered.body, "left as it was");
    }
}
