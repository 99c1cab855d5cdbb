//! Signed, chained digests of the audit log and their verification (SR-19), on the model
//! of CloudTrail's log file validation.
//!
//! For every hour and every shard of the audit table, [`write_digests`] writes one digest:
//! the position and tag of each record of that shard in that hour, and the SHA-256 of the
//! shard's previous digest, signed with the digest key (ECDSA P-256, in KMS on AWS). A
//! digest is written for every hour from the first record on, empty or not, so a missing
//! one is itself evidence. [`verify`] reads a range back and names every record modified
//! (its tag or its digest entry no longer matches), deleted (in a digest, gone from the
//! table), inserted (in the table, in no digest), and every digest missing, unsigned or out
//! of its chain. Writers are never serialised: each record is an independent put; only
//! this job, run one at a time, writes digests.
//!
//! Digests are blobs of a store of their own (`audit-digests/<day>/<hour>/<shard>.json`):
//! the digest as one line of JSON, then its signature in base64url. The chain hashes the
//! JSON line only, which holds nothing that differs between two runs over the same records,
//! so a repeated or overlapping run writes the same chain.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditDraft, AuditRecord, format_time};
use crate::audit_tags::{AuditKeys, tag_version};
use crate::http::RequestMeta;
use crate::store::audit::{AUDIT_SHARDS, AuditSource, PositionRange};
use crate::store::{BlobError, BlobKey, BlobStore, Condition, Item, ItemStore, Key, StoreError, WriteOp};
use crypto::keys::KeyError;
use crypto::signing::{self, Signer};

/// The span each digest covers.
pub const PERIOD: Duration = Duration::from_secs(3600);
/// How long after its end an hour is digested: the longest a record written at the end
/// of the hour may take to land, with room to spare (a request answers within 25 s).
pub const GRACE: Duration = Duration::from_secs(300);
const FORMAT: &str = "forecast-api/audit-digest/v1";
/// Records read per page while digesting or verifying.
const PAGE: usize = 1_000;

/// Where digests are kept and the key that signs them (for verification, its public half).
#[derive(Debug, Clone)]
pub struct DigestStore {
    pub blobs: Arc<dyn BlobStore>,
    pub signer: Arc<dyn Signer>,
}

/// Hours a scheduled run digests at most per shard: a day, so a run after a day's outage
/// catches up at once and a longer one over the next runs.
pub const PERIODS_PER_RUN: usize = 24;

impl DigestStore {
    /// [`write_digests`] into this store, signed with its key.
    pub async fn write(
        &self,
        store: &dyn ItemStore,
        keys: &AuditKeys,
        now: OffsetDateTime,
        max_periods: usize,
        meta: &RequestMeta,
    ) -> Result<DigestRun, DigestError> {
        write_digests(store, keys, self.blobs.as_ref(), self.signer.as_ref(), now, max_periods, meta).await
    }
}

/// Where the chain of each shard stands: the last hour digested and its hash.
pub fn head_key(shard: u32) -> Key {
    Key::new("AUDIT_DIGESTS", format!("HEAD#{shard:02}"))
}

/// The blob of the digest of `shard` for the hour starting at `period`.
pub fn digest_blob(period: OffsetDateTime, shard: u32) -> Result<BlobKey, BlobError> {
    let (date, hour) = (period.date(), period.hour());
    BlobKey::parse(&format!("audit-digests/{date}/{hour:02}/{shard:02}.json"))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Digest {
    pub format: String,
    pub shard: u32,
    pub period_start: String,
    pub period_end: String,
    /// The shard's previous digest (none for the first hour).
    pub previous: Option<Link>,
    pub records: Vec<Entry>,
    /// The key that signs it.
    pub signing_key: String,
}

/// A digest's place in its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub period_start: String,
    /// SHA-256 of the digest's JSON line, base64url.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub position: String,
    pub tag: Option<String>,
    /// When the record may go (its retention), so its absence after that is no deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("digest key: {0}")]
    Key(#[from] KeyError),
    #[error("{0}")]
    Corrupt(String),
}

/// The hour `at` falls in.
pub fn period_of(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_time(time::Time::from_hms(at.hour(), 0, 0).unwrap_or(time::Time::MIDNIGHT))
}

fn next_period(period: OffsetDateTime) -> OffsetDateTime {
    period + PERIOD
}

fn parse_time(text: &str) -> Result<OffsetDateTime, DigestError> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| DigestError::Corrupt(format!("not a time: {text}")))
}

/// The first hour of the log: the one its first tag key was made in (the first record
/// ever written made it). `None` before anything was audited.
pub async fn epoch(keys: &AuditKeys) -> Result<Option<OffsetDateTime>, DigestError> {
    Ok(keys.first_made_at().await?.map(period_of))
}

/// The records of `shard` in the hour from `period`, oldest first.
async fn period_records(store: &dyn ItemStore, period: OffsetDateTime, shard: u32) -> Result<Vec<AuditRecord>, StoreError> {
    let pk = format!("AUDIT#{}#{shard:02}", period.date());
    // `newest` inclusive: the next hour's first millisecond sorts after every position of this one.
    let mut range = PositionRange { oldest: format_time(period), newest: format_time(next_period(period)), before: None };
    let mut records = Vec::new();
    loop {
        let page = store.audit_newest_first(AuditSource::Day(&pk), &range, PAGE).await?;
        records.extend(page.items.into_iter().filter(|r| r.time < range.newest));
        match page.next {
            Some(next) => range.before = Some(next),
            None => break,
        }
    }
    records.reverse();
    Ok(records)
}

fn sha256(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// A digest as stored, and its parts.
struct StoredDigest {
    line: Vec<u8>,
    digest: Digest,
    signature: Vec<u8>,
}

fn parse_stored(bytes: &[u8]) -> Result<StoredDigest, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_owned())?;
    let mut lines = text.lines();
    let (Some(line), Some(signature), None) = (lines.next(), lines.next(), lines.next()) else {
        return Err("not a digest line and a signature line".into());
    };
    let digest: Digest = serde_json::from_str(line).map_err(|e| format!("digest: {e}"))?;
    if digest.format != FORMAT {
        return Err(format!("unknown format {}", digest.format));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "signature is not base64url".to_owned())?;
    Ok(StoredDigest { line: line.as_bytes().to_vec(), digest, signature })
}

/// What a run of [`write_digests`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DigestRun {
    /// Digests written (one per shard and hour).
    pub digests: usize,
    pub records: usize,
    /// The last hour every shard is digested to, if any.
    pub digested_through: Option<String>,
    /// Whether it stopped at `max_periods` with hours left to digest.
    pub stopped_early: bool,
}

/// Digests every hour that ended at least [`GRACE`] before `now` and has no digest yet,
/// oldest first, at most `max_periods` hours per shard; then moves each shard's chain head.
/// Resumable (it starts where the heads say) and repeatable (the same records give the same
/// digest and chain). One run at a time: the heads' versions make a concurrent run fail
/// its commit rather than interleave.
pub async fn write_digests(
    store: &dyn ItemStore,
    keys: &AuditKeys,
    digests: &dyn BlobStore,
    signer: &dyn Signer,
    now: OffsetDateTime,
    max_periods: usize,
    meta: &RequestMeta,
) -> Result<DigestRun, DigestError> {
    let Some(epoch) = epoch(keys).await? else { return Ok(DigestRun::default()) };
    let due = |period: OffsetDateTime| next_period(period) + GRACE <= now;
    let mut run = DigestRun::default();
    let mut writes = Vec::new();
    let mut through: Option<OffsetDateTime> = None;
    for shard in 0..AUDIT_SHARDS {
        let head = store.get(&head_key(shard)).await?;
        let (mut previous, version) = match &head {
            Some(item) => {
                (Some(serde_json::from_value::<Link>(item.body.clone()).map_err(|e| DigestError::Corrupt(e.to_string()))?), item.version)
            }
            None => (None, 0),
        };
        let mut period = match &previous {
            Some(link) => next_period(parse_time(&link.period_start)?),
            None => epoch,
        };
        let mut done = 0;
        while due(period) {
            if done == max_periods {
                run.stopped_early = true;
                break;
            }
            let records = period_records(store, period, shard).await?;
            let digest = Digest {
                format: FORMAT.into(),
                shard,
                period_start: format_time(period),
                period_end: format_time(next_period(period)),
                previous: previous.clone(),
                records: records.iter().map(|r| Entry { position: r.position(), tag: r.tag.clone(), expires_at: r.expires_at }).collect(),
                signing_key: String::new(),
            };
            let line = signed_line(signer, digest).await?;
            run.records += records.len();
            run.digests += 1;
            previous = Some(Link { period_start: format_time(period), sha256: sha256(&line.0) });
            digests.put(&digest_blob(period, shard)?, line.1, "application/json").await?;
            period = next_period(period);
            done += 1;
        }
        let last = period - PERIOD;
        through = Some(through.map_or(last, |t| t.min(last)));
        if done > 0 {
            let body = serde_json::to_value(&previous).map_err(|e| DigestError::Corrupt(e.to_string()))?;
            let condition = if version == 0 { Condition::Absent } else { Condition::Version(version) };
            writes.push(WriteOp::Put { item: Item { key: head_key(shard), version: version + 1, body }, condition });
        }
    }
    run.digested_through = through.filter(|t| *t >= epoch).map(format_time);
    if !writes.is_empty() {
        let mut draft = AuditDraft::new("write-audit-digests", "audit-digest");
        draft.resource_id = run.digested_through.clone();
        store.commit(writes, &draft.finish(meta, 200)).await?;
    }
    Ok(run)
}

/// The digest's JSON line, naming the key that signs it, and the stored object.
async fn signed_line(signer: &dyn Signer, mut digest: Digest) -> Result<(Vec<u8>, Vec<u8>), DigestError> {
    signer.key_id().clone_into(&mut digest.signing_key);
    let line = serde_json::to_vec(&digest).map_err(|e| DigestError::Corrupt(e.to_string()))?;
    let signature = signer.sign(&line).await?;
    let mut object = line.clone();
    object.push(b'\n');
    object.extend_from_slice(URL_SAFE_NO_PAD.encode(&signature.der).as_bytes());
    object.push(b'\n');
    Ok((line, object))
}

/// A record a verification names, by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub id: String,
    pub time: String,
    /// Why: `tag-mismatch`, `not-in-digest`, `differs-from-digest`, `untagged`,
    /// `missing-from-store`, `before-the-log-began`.
    pub reason: String,
}

/// A digest a verification names: missing, unsigned, or out of its chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DigestFinding {
    pub period_start: String,
    pub shard: u32,
    /// `missing`, `bad-signature`, `unreadable`, `broken-chain`.
    pub reason: String,
}

/// What [`verify`] found over a range.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub from: String,
    pub to: String,
    /// True when nothing was found modified, deleted, inserted or missing.
    pub clean: bool,
    pub records_checked: usize,
    pub digests_checked: usize,
    /// Records of hours not digested yet: checked by their tags only.
    pub records_pending: usize,
    /// Records a digest lists that are gone after their retention, as they should be.
    pub records_expired: usize,
    pub modified: Vec<Finding>,
    pub deleted: Vec<Finding>,
    pub inserted: Vec<Finding>,
    pub digests: Vec<DigestFinding>,
    /// When the verification ran (Unix seconds): what retention is measured against.
    #[serde(skip)]
    #[schema(ignore)]
    now: i64,
}

fn finding(position: &str, reason: &str) -> Finding {
    let (time, id) = position.split_once('#').unwrap_or((position, ""));
    Finding { id: id.to_owned(), time: time.to_owned(), reason: reason.to_owned() }
}

/// The public keys a verification trusts, fetched once per key id.
struct Trusted<'a> {
    signer: &'a dyn Signer,
    keys: BTreeMap<String, Result<Vec<u8>, String>>,
}

impl Trusted<'_> {
    async fn verifies(&mut self, stored: &StoredDigest) -> bool {
        let id = stored.digest.signing_key.clone();
        if !self.keys.contains_key(&id) {
            let key = self.signer.public_key(&id).await.map_err(|e| e.to_string());
            self.keys.insert(id.clone(), key);
        }
        matches!(self.keys.get(&id), Some(Ok(key)) if signing::verify(key, &stored.line, &stored.signature))
    }
}

/// Checks every hour from `from`'s to `to`'s against its digests and its records' tags;
/// see the module's comment for what it names. The shards are checked concurrently.
pub async fn verify(
    store: &dyn ItemStore,
    digests: &dyn BlobStore,
    keys: &Arc<AuditKeys>,
    signer: &dyn Signer,
    from: OffsetDateTime,
    to: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<VerifyReport, DigestError> {
    let mut report = VerifyReport { from: format_time(from), to: format_time(to), ..VerifyReport::default() };
    let Some(epoch) = epoch(keys).await? else {
        report.clean = true;
        return Ok(report);
    };
    let span = Span { from, to, now, epoch };
    let trusted = tokio::sync::Mutex::new(Trusted { signer, keys: BTreeMap::new() });
    let shards =
        futures::future::try_join_all((0..AUDIT_SHARDS).map(|shard| verify_shard(store, digests, keys, &trusted, span, shard))).await?;
    for part in shards {
        report.records_checked += part.records_checked;
        report.digests_checked += part.digests_checked;
        report.records_pending += part.records_pending;
        report.records_expired += part.records_expired;
        report.modified.extend(part.modified);
        report.deleted.extend(part.deleted);
        report.inserted.extend(part.inserted);
        report.digests.extend(part.digests);
    }
    for list in [&mut report.modified, &mut report.deleted, &mut report.inserted] {
        list.sort_by(|a, b| (&a.time, &a.id).cmp(&(&b.time, &b.id)));
    }
    report.digests.sort_by(|a, b| (&a.period_start, a.shard).cmp(&(&b.period_start, b.shard)));
    report.clean = report.modified.is_empty() && report.deleted.is_empty() && report.inserted.is_empty() && report.digests.is_empty();
    Ok(report)
}

/// What a verification covers, and when it runs.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: OffsetDateTime,
    to: OffsetDateTime,
    now: OffsetDateTime,
    epoch: OffsetDateTime,
}

async fn verify_shard(
    store: &dyn ItemStore,
    digests: &dyn BlobStore,
    keys: &Arc<AuditKeys>,
    trusted: &tokio::sync::Mutex<Trusted<'_>>,
    span: Span,
    shard: u32,
) -> Result<VerifyReport, DigestError> {
    let Span { from, to, now, epoch } = span;
    let mut report = VerifyReport { now: now.unix_timestamp(), ..VerifyReport::default() };
    let first = period_of(from).max(epoch);
    // Nothing can be older than the log's first key: a record dated before it was put
    // there since.
    let mut period = period_of(from);
    while period < first && period <= to {
        let records = period_records(store, period, shard).await?;
        report.records_checked += records.len();
        report.inserted.extend(records.iter().map(|r| finding(&r.position(), "before-the-log-began")));
        period = next_period(period);
    }
    // The digest before the range, to check the first link of the chain.
    let mut previous: Option<Link> = None;
    if first > epoch {
        let before = first - PERIOD;
        if let Some(bytes) = digests.get(&digest_blob(before, shard)?).await? {
            previous = parse_stored(&bytes).ok().map(|s| Link { period_start: format_time(before), sha256: sha256(&s.line) });
        }
    }
    let mut period = first;
    while period <= to {
        let records = period_records(store, period, shard).await?;
        let at = format_time(period);
        if next_period(period) + GRACE > now {
            // Not digested yet: the tags are all there is to check.
            report.records_pending += records.len();
            check_tags(keys, &records, &mut report, &HashSet::new()).await?;
            previous = None;
            period = next_period(period);
            continue;
        }
        report.records_checked += records.len();
        let Some(bytes) = digests.get(&digest_blob(period, shard)?).await? else {
            report.digests.push(DigestFinding { period_start: at, shard, reason: "missing".into() });
            check_tags(keys, &records, &mut report, &HashSet::new()).await?;
            previous = None;
            period = next_period(period);
            continue;
        };
        report.digests_checked += 1;
        let stored = match parse_stored(&bytes) {
            Ok(stored) => stored,
            Err(cause) => {
                report.digests.push(DigestFinding { period_start: at, shard, reason: format!("unreadable: {cause}") });
                check_tags(keys, &records, &mut report, &HashSet::new()).await?;
                previous = None;
                period = next_period(period);
                continue;
            }
        };
        let in_place = stored.digest.shard == shard && stored.digest.period_start == at;
        if !in_place || !trusted.lock().await.verifies(&stored).await {
            report.digests.push(DigestFinding { period_start: at.clone(), shard, reason: "bad-signature".into() });
        } else if period == epoch && stored.digest.previous.is_some()
            || period > epoch && previous.is_some() && stored.digest.previous != previous
        {
            report.digests.push(DigestFinding { period_start: at.clone(), shard, reason: "broken-chain".into() });
        }
        // (With the digest before it missing or unreadable, reported there, the link can't be checked.)
        compare(keys, &stored.digest, &records, &mut report).await?;
        previous = Some(Link { period_start: at, sha256: sha256(&stored.line) });
        period = next_period(period);
    }
    Ok(report)
}

/// Records against their digest: every entry must be there with its tag, and nothing else.
async fn compare(keys: &Arc<AuditKeys>, digest: &Digest, records: &[AuditRecord], report: &mut VerifyReport) -> Result<(), DigestError> {
    let listed: BTreeMap<&str, Option<&str>> = digest.records.iter().map(|e| (e.position.as_str(), e.tag.as_deref())).collect();
    let mut present = HashSet::new();
    let mut unlisted = HashSet::new();
    for record in records {
        let position = record.position();
        match listed.get(position.as_str()) {
            None => {
                report.inserted.push(finding(&position, "not-in-digest"));
                unlisted.insert(position.clone());
            }
            Some(tag) if *tag != record.tag.as_deref() => {
                report.modified.push(finding(&position, "differs-from-digest"));
                unlisted.insert(position.clone());
            }
            Some(_) => {}
        }
        present.insert(position);
    }
    for entry in &digest.records {
        if present.contains(&entry.position) {
            continue;
        }
        if entry.expires_at.is_some_and(|expires| expires < report.now) {
            report.records_expired += 1;
        } else {
            report.deleted.push(finding(&entry.position, "missing-from-store"));
        }
    }
    check_tags(keys, records, report, &unlisted).await
}

/// Each record's tag against the record as it is now; `skip` were named already.
async fn check_tags(
    keys: &Arc<AuditKeys>,
    records: &[AuditRecord],
    report: &mut VerifyReport,
    skip: &HashSet<String>,
) -> Result<(), DigestError> {
    for record in records {
        let position = record.position();
        if skip.contains(&position) {
            continue;
        }
        let Some(version) = record.tag.as_deref().and_then(tag_version) else {
            report.inserted.push(finding(&position, "untagged"));
            continue;
        };
        let verifies = match keys.version(version).await {
            Ok(key) => key.verifies(record),
            Err(KeyError::UnknownMasterKey(_)) => false,
            Err(error) => return Err(error.into()),
        };
        if !verifies {
            report.modified.push(finding(&position, "tag-mismatch"));
        }
    }
    Ok(())
}
