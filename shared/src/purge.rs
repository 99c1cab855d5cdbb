//! The retention job (SR-20, SR-29): removes what the settings say is kept no longer.
//!
//! - Deleted datasets and forecasts, once their grace period (`retention.deleted_days`) is
//!   over: the record and its file, each in its own commit with its own audit record. The
//!   deletion left an entry in `PURGE#<shard>` (`crate::keys::purge`), in time order, so the
//!   job reads only what is due and never scans.
//! - Audit records past their expiry, on the embedded store (DynamoDB's TTL does this by
//!   itself in AWS). Their digests stay, so verification still accounts for them.
//!
//! Resumable and idempotent: each removal is whole (the file first, then the record and
//! its entry, conditional on the record's version), so a run stopped anywhere leaves
//! entries the next run finishes, and a second run finds nothing to do.

use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{AuditDraft, format_time};
use crate::http::RequestMeta;
use crate::keys::purge::{self, Kind};
use crate::store::{BlobError, BlobKey, BlobStore, Condition, ItemStore, Key, StoreError, WriteOp};

/// Entries read per page.
const PAGE: usize = 100;
/// Expired audit records removed per statement (embedded store).
const AUDIT_BATCH: usize = 1_000;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub datasets: usize,
    pub forecasts: usize,
    /// Files removed with them.
    pub files: usize,
    /// Audit records past their expiry removed (embedded store only).
    pub audit_records: usize,
    /// Detector findings older than `retention.findings_days`.
    pub findings: usize,
    /// False when it stopped at `max_items` with more due.
    pub complete: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// Purges everything due at `now`, at most `max_items` datasets and forecasts; writes one
/// audit record per item removed and, when it removed anything, one for the run (a run
/// that finds nothing due leaves its log line only: the local server runs it every five
/// minutes).
pub async fn purge(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    now: OffsetDateTime,
    max_items: usize,
    meta: &RequestMeta,
) -> Result<PurgeReport, PurgeError> {
    let (_, settings) = crate::runtime_settings::read(store).await?;
    let mut report = PurgeReport { complete: true, ..PurgeReport::default() };
    // Never ahead of the clock for the audit trail (the store refuses that anyway): a run
    // for a later `now` (a test, a catch-up) removes only what has truly expired.
    let audit_now = now.min(OffsetDateTime::now_utc()).unix_timestamp();
    loop {
        let removed = store.purge_expired_audit(audit_now, AUDIT_BATCH).await?;
        report.audit_records += removed;
        if removed < AUDIT_BATCH {
            break;
        }
    }
    let cutoff = format_time(now - time::Duration::days(i64::from(settings.retention.deleted_days)));
    'partitions: for pk in purge::partitions() {
        let mut after: Option<String> = None;
        loop {
            let page = store.query_keys(&pk, "", after.as_deref(), PAGE).await?;
            for entry in &page.items {
                // Entries sort by deletion time: the first one not yet due ends the partition.
                if entry.sk.as_str() >= cutoff.as_str() {
                    continue 'partitions;
                }
                if report.datasets + report.forecasts == max_items {
                    report.complete = false;
                    break 'partitions;
                }
                purge_one(store, blobs, entry, meta, &mut report).await?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    report.findings = purge_findings(store, now - time::Duration::days(i64::from(settings.retention.findings_days)), meta).await?;
    if report.datasets + report.forecasts + report.audit_records + report.findings == 0 && report.complete {
        return Ok(report);
    }
    let mut draft = AuditDraft::new("purge-expired", "retention");
    draft.detail = Some(format!(
        "datasets {}, forecasts {}, files {}, audit records {}, findings {}{}",
        report.datasets,
        report.forecasts,
        report.files,
        report.audit_records,
        report.findings,
        if report.complete { "" } else { ", more due" }
    ));
    store.append_audit(&draft.finish(meta, 200)).await?;
    Ok(report)
}

/// Removes findings made before `cutoff`: the oldest sort last in their partition, which
/// holds few (one per source, pattern and window at most), so it is read whole.
async fn purge_findings(store: &dyn ItemStore, cutoff: OffsetDateTime, meta: &RequestMeta) -> Result<usize, PurgeError> {
    let cutoff = format_time(cutoff);
    let mut old = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.query_keys(crate::detector::FINDINGS_PARTITION, "", after.as_deref(), PAGE).await?;
        let keys = page.items;
        for item in store.get_many_json(&keys).await? {
            let finding: crate::detector::Finding =
                serde_json::from_str(&item.json).map_err(|e| StoreError::Corrupt(format!("finding: {e}")))?;
            if finding.time < cutoff {
                old.push(item.key);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    for chunk in old.chunks(crate::store::MAX_OPS_PER_COMMIT) {
        let writes = chunk.iter().map(|key| WriteOp::Delete { key: key.clone(), condition: Condition::Always }).collect();
        let mut draft = AuditDraft::new("purge-findings", "finding");
        draft.detail = Some(format!("{} findings made before {cutoff}", chunk.len()));
        store.commit(writes, &draft.finish(meta, 200)).await?;
    }
    Ok(old.len())
}

/// Removes the dataset or forecast an entry names (its file, then its record and the
/// entry), or only the entry when the record is gone or no longer deleted.
async fn purge_one(
    store: &dyn ItemStore,
    blobs: &dyn BlobStore,
    entry: &Key,
    meta: &RequestMeta,
    report: &mut PurgeReport,
) -> Result<(), PurgeError> {
    let Some((_, kind, id)) = purge::parse(&entry.sk) else {
        return Err(StoreError::Corrupt(format!("purge entry `{}`", entry.sk)).into());
    };
    let (record_key, blob, action, resource) = match kind {
        Kind::Dataset => (crate::keys::dataset::record_key(id), format!("datasets/{id}/data.csv"), "purge-dataset", "dataset"),
        Kind::Forecast => (crate::keys::forecast::record_key(id), format!("forecasts/{id}/result.json"), "purge-forecast", "forecast"),
    };
    let mut writes = vec![WriteOp::Delete { key: entry.clone(), condition: Condition::Always }];
    let record = store.get(&record_key).await?;
    let deleted = record.as_ref().is_some_and(|item| item.body.get("deleted_at").is_some_and(|at| !at.is_null()));
    if let (Some(item), true) = (&record, deleted) {
        blobs.delete(&BlobKey::parse(&blob)?).await?;
        report.files += 1;
        writes.push(WriteOp::Delete { key: record_key, condition: Condition::Version(item.version) });
    }
    let mut draft = AuditDraft::new(action, resource);
    draft.resource_id = Some(id.to_owned());
    if !deleted {
        draft.reason = Some(if record.is_some() { "not-deleted" } else { "already-gone" }.to_owned());
    }
    store.commit(writes, &draft.finish(meta, 200)).await?;
    if deleted {
        match kind {
            Kind::Dataset => report.datasets += 1,
            Kind::Forecast => report.forecasts += 1,
        }
    }
    Ok(())
}
