//! A person's data (SR-28): everything the API holds about a user, gathered for their data
//! export, and its erasure.
//!
//! Erasure deletes what the person made and was given: the datasets they own (with their
//! files, live or waiting for their purge), the forecasts they ran, the shares to them.
//! What has to stay (the audit trail and the detector's findings) keeps the events but not
//! the person: their id, address and user agent are replaced by pseudonyms under each
//! record's own tag key ([`crate::audit_tags`]), so the record still verifies against its
//! tag and its digest, and an auditor still sees that one (unnamed) person did these things.
//!
//! Every step is a commit of its own with its own audit record, so a run stopped anywhere
//! (its time is up, a store failed) leaves a consistent store, and the next run finds what
//! is left: erasure is resumable and idempotent.

use std::time::Instant;

use serde::Serialize;
use time::OffsetDateTime;

use crate::audit::{AuditDraft, AuditRecord};
use crate::audit_tags::{AuditKeys, TagKey, tag_version};
use crate::detector::{FINDINGS_PARTITION, Finding, Source};
use crate::domain::audit::AuditQuery;
use crate::domain::dataset::{DatasetRecord, DatasetSummary};
use crate::domain::forecast::ForecastRecord;
use crate::domain::ids::{DatasetId, ForecastId};
use crate::http::RequestMeta;
use crate::keys::purge::{self, Kind};
use crate::keys::{dataset as dataset_keys, forecast as forecast_keys};
use crate::store::audit::search;
use crate::store::{BlobError, BlobKey, BlobStore, Condition, Item, ItemStore, Key, StoreError, WriteOp};
use crypto::keys::KeyError;

/// Keys read per page of a partition.
const PAGE: usize = 100;
/// Audit records rewritten at once by an erasure.
const PARALLEL_WRITES: usize = 16;
/// Audit records a data export carries at most (newest first); the admin audit export,
/// filtered by actor or subject, lists every one.
pub const MAX_EXPORTED_AUDIT_RECORDS: usize = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// What the API holds about a person, but their profile (the directory's).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HeldData {
    /// The datasets they own, metadata only (the content is their own export).
    pub datasets: Vec<DatasetSummary<'static>>,
    /// Datasets others shared with them, by id.
    pub shared_with_them: Vec<String>,
    /// The forecasts they ran, metadata only.
    #[schema(value_type = Vec<Object>)]
    pub forecasts: Vec<ForecastRecord>,
    /// Audit records they are the actor or the subject of, newest first; in those someone
    /// else made, that person's address and user agent are left out.
    pub audit_records: Vec<AuditRecord>,
    /// False when there were more than the export carries
    /// ([`MAX_EXPORTED_AUDIT_RECORDS`]).
    pub audit_records_complete: bool,
}

/// Every key of partition `pk`.
async fn all_keys(store: &dyn ItemStore, pk: &str) -> Result<Vec<Key>, StoreError> {
    Ok(crate::store::all_sort_keys(store, pk).await?.into_iter().map(|sk| Key::new(pk, sk)).collect())
}

/// A stored record of type `T`, with its version.
fn parse<T: serde::de::DeserializeOwned>(item: Item) -> Result<(T, u64), StoreError> {
    let record = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("{}: {e}", item.key.pk)))?;
    Ok((record, item.version))
}

/// The record at `key`, if there is one.
async fn load<T: serde::de::DeserializeOwned>(store: &dyn ItemStore, key: &Key) -> Result<Option<(T, u64)>, StoreError> {
    store.get(key).await?.map(parse).transpose()
}

/// The records of the ids that `keys`' sort keys name after `prefix` (entries of a list).
async fn records_listed<T: serde::de::DeserializeOwned>(
    store: &dyn ItemStore,
    entries: &[Key],
    record_key: impl Fn(&str) -> Key,
) -> Result<Vec<(T, u64)>, StoreError> {
    let keys: Vec<Key> = entries.iter().filter_map(|entry| entry.sk.split_once('#').map(|(_, id)| record_key(id))).collect();
    let mut records = Vec::new();
    for chunk in keys.chunks(PAGE) {
        for item in store.get_many(chunk).await? {
            records.push(parse(item)?);
        }
    }
    Ok(records)
}

/// Gathers what the API holds about `user` for their data export.
pub async fn gather(store: &dyn ItemStore, user: &str, now: OffsetDateTime) -> Result<HeldData, PersonalDataError> {
    let access = all_keys(store, &dataset_keys::access_partition(user)).await?;
    let mut datasets = Vec::new();
    let mut shared_with_them = Vec::new();
    for (record, version) in records_listed::<DatasetRecord>(store, &access, dataset_keys::record_key).await? {
        if record.deleted_at.is_some() {
            continue;
        }
        if record.owner == user {
            datasets.push(record.into_summary(version, true));
        } else {
            shared_with_them.push(record.id);
        }
    }
    let ran = all_keys(store, &forecast_keys::owner_partition(user)).await?;
    let forecasts = records_listed::<ForecastRecord>(store, &ran, forecast_keys::record_key)
        .await?
        .into_iter()
        .filter_map(|(record, _)| record.deleted_at.is_none().then_some(record))
        .collect();
    let (mut audit_records, audit_records_complete) = audit_about(store, user, now, MAX_EXPORTED_AUDIT_RECORDS).await?;
    // Who acted on them is theirs to know; where that person connected from is not.
    for record in audit_records.iter_mut().filter(|record| record.actor.as_deref() != Some(user)) {
        (record.source_ip, record.user_agent) = (None, None);
    }
    Ok(HeldData { datasets, shared_with_them, forecasts, audit_records, audit_records_complete })
}

/// Every time an audit record can have: from the epoch to a day past `now`.
fn all_time(now: OffsetDateTime) -> AuditQuery {
    let mut query = AuditQuery::last_days(now + time::Duration::days(1), 0);
    query.from = OffsetDateTime::UNIX_EPOCH;
    query
}

/// The queries finding records about `user`: those they made, those about them.
fn queries_about(user: &str, now: OffsetDateTime) -> [AuditQuery; 2] {
    let (mut by, mut about) = (all_time(now), all_time(now));
    by.actor = Some(user.to_owned());
    about.subject = Some(user.to_owned());
    [by, about]
}

/// Up to `max` audit records `user` made or is the subject of, newest first, and whether
/// that is all of them.
async fn audit_about(store: &dyn ItemStore, user: &str, now: OffsetDateTime, max: usize) -> Result<(Vec<AuditRecord>, bool), StoreError> {
    let mut found = std::collections::BTreeMap::new();
    let mut complete = true;
    for query in queries_about(user, now) {
        let mut before: Option<String> = None;
        loop {
            let page = search(store, &query, before.as_deref(), PAGE).await?;
            for record in page.items {
                found.insert(record.position(), record);
            }
            match page.next {
                Some(next) if found.len() <= max => before = Some(next),
                Some(_) => {
                    complete = false;
                    break;
                }
                None => break,
            }
        }
    }
    complete &= found.len() <= max;
    Ok((found.into_values().rev().take(max).collect(), complete))
}

/// What an erasure run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErasureReport {
    /// What the person's id is replaced by in what stays (under the newest tag key).
    pub pseudonym: String,
    pub datasets: usize,
    pub forecasts: usize,
    /// Files removed with them.
    pub files: usize,
    /// Shares to the person removed from others' datasets.
    pub shares_removed: usize,
    /// Audit records whose identity was replaced by pseudonyms.
    pub audit_records: usize,
    /// Findings against the person, now against their pseudonym.
    pub findings: usize,
    /// False when the run stopped at its deadline with more to do: run it again.
    pub complete: bool,
}

/// An erasure run for one person: where, by whom, and until when.
#[derive(Debug)]
pub struct Erasure<'a> {
    pub store: &'a dyn ItemStore,
    pub blobs: &'a dyn BlobStore,
    pub keys: &'a AuditKeys,
    pub user: &'a str,
    pub meta: &'a RequestMeta,
    /// When the run stops, done or not.
    pub deadline: Instant,
}

impl Erasure<'_> {
    /// Erases what is held about the person, up to the deadline.
    pub async fn run(&self, now: OffsetDateTime) -> Result<ErasureReport, PersonalDataError> {
        let active = self.keys.active().await?;
        let mut report = ErasureReport { pseudonym: active.pseudonym(self.user), complete: true, ..ErasureReport::default() };
        let steps_done =
            self.content(&mut report).await? && self.findings(&active, &mut report).await? && self.audit(now, &mut report).await?;
        report.complete = steps_done;
        Ok(report)
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// The audit record of one step: about the pseudonym, never the id.
    fn draft(&self, action: &'static str, resource_type: &'static str, resource_id: String, report: &ErasureReport) -> AuditDraft {
        let mut draft = AuditDraft::new(action, resource_type);
        draft.resource_id = Some(resource_id);
        draft.subject = Some(report.pseudonym.clone());
        draft
    }

    /// Datasets and forecasts they own (live, and deleted ones waiting for their purge) and
    /// the shares to them. False when time ran out.
    async fn content(&self, report: &mut ErasureReport) -> Result<bool, PersonalDataError> {
        let access = all_keys(self.store, &dataset_keys::access_partition(self.user)).await?;
        for entry in &access {
            if self.out_of_time() {
                return Ok(false);
            }
            let Some(id) = entry.sk.strip_prefix(dataset_keys::ENTRY_PREFIX) else { continue };
            match load::<DatasetRecord>(self.store, &dataset_keys::record_key(id)).await? {
                Some((record, version)) if record.owner == self.user => self.erase_dataset(&record, version, report).await?,
                Some((record, version)) => self.unshare(&record, version, report).await?,
                // An entry left behind: nothing to erase but the entry itself.
                None => {
                    let writes = vec![WriteOp::Delete { key: entry.clone(), condition: Condition::Always }];
                    self.store
                        .commit(writes, &self.draft("erase-share", "dataset-share", id.to_owned(), report).finish(self.meta, 200))
                        .await?;
                }
            }
        }
        for entry in all_keys(self.store, &forecast_keys::owner_partition(self.user)).await? {
            if self.out_of_time() {
                return Ok(false);
            }
            let Some(id) = entry.sk.strip_prefix(forecast_keys::ENTRY_PREFIX) else { continue };
            if let Some((record, version)) = load::<ForecastRecord>(self.store, &forecast_keys::record_key(id)).await? {
                self.erase_forecast(&record, version, report).await?;
            }
        }
        // Deleted ones left the lists above: their purge entries still name them.
        for pk in purge::partitions() {
            for entry in all_keys(self.store, &pk).await? {
                if self.out_of_time() {
                    return Ok(false);
                }
                let Some((_, kind, id)) = purge::parse(&entry.sk) else { continue };
                match kind {
                    Kind::Dataset => match load::<DatasetRecord>(self.store, &dataset_keys::record_key(id)).await? {
                        Some((record, version)) if record.owner == self.user => self.erase_dataset(&record, version, report).await?,
                        _ => {}
                    },
                    Kind::Forecast => match load::<ForecastRecord>(self.store, &forecast_keys::record_key(id)).await? {
                        Some((record, version)) if record.owner == self.user => self.erase_forecast(&record, version, report).await?,
                        _ => {}
                    },
                }
            }
        }
        Ok(true)
    }

    /// A dataset they own: its file, then its record and every entry naming it.
    async fn erase_dataset(&self, record: &DatasetRecord, version: u64, report: &mut ErasureReport) -> Result<(), PersonalDataError> {
        let id = DatasetId::parse(&record.id).map_err(|_| StoreError::Corrupt(format!("dataset id `{}`", record.id)))?;
        self.blobs.delete(&BlobKey::parse(&dataset_keys::blob(&id))?).await?;
        report.files += 1;
        let mut writes = vec![
            WriteOp::Delete { key: dataset_keys::record(&id), condition: Condition::Version(version) },
            WriteOp::Delete { key: dataset_keys::catalogue_entry(&id), condition: Condition::Always },
        ];
        let holders = std::iter::once(&record.owner).chain(&record.readers);
        writes.extend(holders.map(|holder| WriteOp::Delete { key: dataset_keys::access_entry(holder, &id), condition: Condition::Always }));
        if let Some(deleted_at) = &record.deleted_at {
            writes.push(WriteOp::Delete { key: purge::entry(Kind::Dataset, &record.id, deleted_at), condition: Condition::Always });
        }
        self.commit_all(writes, self.draft("erase-dataset", "dataset", record.id.clone(), report)).await?;
        report.datasets += 1;
        Ok(())
    }

    /// A forecast they ran: its file, then its record and its list entries.
    async fn erase_forecast(&self, record: &ForecastRecord, version: u64, report: &mut ErasureReport) -> Result<(), PersonalDataError> {
        let id = ForecastId::parse(&record.id).map_err(|_| StoreError::Corrupt(format!("forecast id `{}`", record.id)))?;
        let dataset =
            DatasetId::parse(&record.dataset_id).map_err(|_| StoreError::Corrupt(format!("dataset id `{}`", record.dataset_id)))?;
        self.blobs.delete(&BlobKey::parse(&forecast_keys::blob(&id))?).await?;
        report.files += 1;
        let mut writes = vec![WriteOp::Delete { key: forecast_keys::record(&id), condition: Condition::Version(version) }];
        writes
            .extend(forecast_keys::entries(&id, &record.owner, &dataset).map(|key| WriteOp::Delete { key, condition: Condition::Always }));
        if let Some(deleted_at) = &record.deleted_at {
            writes.push(WriteOp::Delete { key: purge::entry(Kind::Forecast, &record.id, deleted_at), condition: Condition::Always });
        }
        self.store.commit(writes, &self.draft("erase-forecast", "forecast", record.id.clone(), report).finish(self.meta, 200)).await?;
        report.forecasts += 1;
        Ok(())
    }

    /// Another's dataset shared with them: they leave its readers.
    async fn unshare(&self, record: &DatasetRecord, version: u64, report: &mut ErasureReport) -> Result<(), PersonalDataError> {
        let id = DatasetId::parse(&record.id).map_err(|_| StoreError::Corrupt(format!("dataset id `{}`", record.id)))?;
        let readers = record.readers.iter().filter(|reader| *reader != self.user).cloned().collect();
        let changed = DatasetRecord { readers, ..record.clone() };
        let body = serde_json::to_value(&changed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let writes = vec![
            WriteOp::Put {
                item: Item { key: dataset_keys::record(&id), version: version + 1, body },
                condition: Condition::Version(version),
            },
            WriteOp::Delete { key: dataset_keys::access_entry(self.user, &id), condition: Condition::Always },
        ];
        let resource = format!("{}:{}", record.id, report.pseudonym);
        self.store.commit(writes, &self.draft("erase-share", "dataset-share", resource, report).finish(self.meta, 200)).await?;
        report.shares_removed += 1;
        Ok(())
    }

    /// Commits `writes` in as many commits as the store takes, each audited.
    async fn commit_all(&self, writes: Vec<WriteOp>, draft: AuditDraft) -> Result<(), StoreError> {
        // The record's delete goes in the last commit: until it is gone, a repeat finds it.
        let mut chunks: Vec<Vec<WriteOp>> = writes.chunks(crate::store::MAX_OPS_PER_COMMIT).map(<[WriteOp]>::to_vec).collect();
        chunks.rotate_left(1);
        for chunk in chunks {
            self.store.commit(chunk, &draft.finish(self.meta, 200)).await?;
        }
        Ok(())
    }

    /// Findings against them name their pseudonym instead.
    async fn findings(&self, active: &TagKey, report: &mut ErasureReport) -> Result<bool, PersonalDataError> {
        let keys = all_keys(self.store, FINDINGS_PARTITION).await?;
        for chunk in keys.chunks(PAGE) {
            for item in self.store.get_many(chunk).await? {
                let mut finding: Finding = serde_json::from_value(item.body).map_err(|e| StoreError::Corrupt(format!("finding: {e}")))?;
                if finding.source != Source::Principal(self.user.to_owned()) {
                    continue;
                }
                finding.source = Source::Principal(active.pseudonym(self.user));
                let body = serde_json::to_value(&finding).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let writes = vec![WriteOp::Put {
                    item: Item { key: item.key.clone(), version: item.version + 1, body },
                    condition: Condition::Version(item.version),
                }];
                self.store
                    .commit(writes, &self.draft("erase-finding", "finding", finding.id.clone(), report).finish(self.meta, 200))
                    .await?;
                report.findings += 1;
            }
            if self.out_of_time() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Audit records they made or are about: identity replaced by pseudonyms, each under
    /// the key that tagged the record, so its tag (and its digest) still hold.
    async fn audit(&self, now: OffsetDateTime, report: &mut ErasureReport) -> Result<bool, PersonalDataError> {
        for query in queries_about(self.user, now) {
            let mut before: Option<String> = None;
            loop {
                if self.out_of_time() {
                    return Ok(false);
                }
                let page = search(self.store, &query, before.as_deref(), PAGE).await?;
                // Each record is its own conditional write: a few go out together.
                for chunk in page.items.chunks(PARALLEL_WRITES) {
                    let written = futures::future::try_join_all(chunk.iter().map(|record| self.erase_record(record))).await?;
                    report.audit_records += written.into_iter().filter(|replaced| *replaced).count();
                }
                match page.next {
                    Some(next) => before = Some(next),
                    None => break,
                }
            }
        }
        Ok(true)
    }
}

impl Erasure<'_> {
    /// Replaces the person's identity in one audit record; false when there was nothing to
    /// replace or the record changed since it was read (erased by a concurrent run, or
    /// expired: the next search no longer finds it under the id).
    async fn erase_record(&self, record: &AuditRecord) -> Result<bool, PersonalDataError> {
        let key = match record.tag.as_deref().and_then(tag_version) {
            Some(version) => self.keys.version(version).await?,
            None => self.keys.active().await?,
        };
        let replaced = erased(record, self.user, &key);
        if replaced == *record {
            return Ok(false);
        }
        match self.store.erase_audit_identity(record, &replaced).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

/// `record` with `user`'s identity replaced by pseudonyms under `key`: as the actor, their
/// id, address and user agent; as the subject, their id (in the resource id too). Someone
/// else's part of the record stays as it is.
pub fn erased(record: &AuditRecord, user: &str, key: &TagKey) -> AuditRecord {
    let mut erased = record.clone();
    let pseudonym = |value: &Option<String>| value.as_deref().map(|v| key.pseudonym(v));
    if record.actor.as_deref() == Some(user) {
        erased.actor = pseudonym(&record.actor);
        erased.source_ip = pseudonym(&record.source_ip);
        erased.user_agent = pseudonym(&record.user_agent);
    }
    if record.subject.as_deref() == Some(user) {
        let replacement = key.pseudonym(user);
        erased.resource_id = record.resource_id.as_deref().map(|resource| resource.replace(user, &replacement));
        erased.subject = Some(replacement);
    }
    erased
}
