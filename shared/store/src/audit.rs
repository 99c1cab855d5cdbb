//! Where audit records live in the audit table, the indexes searches read, and the search
//! itself (newest first, over the shards of a partition or an index).
//!
//! Every record is written once, to one partition of its UTC day and shard, and is entered
//! in each index it has a value for. Each index key carries the same shard as the record,
//! so no index key takes more of the write rate than a day partition does, even when one
//! actor or one IP address floods the API (`docs/partitions.md`).

use domain::audit::{AuditQuery, AuditRecord};

use crate::{ItemStore, Page, StoreError};

/// Shards of each day's audit partition. Every request writes one record, so a single
/// partition per day would take the whole stack's write rate; see
/// `docs/partitions.md` for the arithmetic behind the number.
pub const AUDIT_SHARDS: u32 = 16;

/// Records a search reads (and checks against its filters) before it answers with what it
/// found so far and a cursor: bounds the work of one request, whatever the filters.
pub const SEARCH_READ_BUDGET: usize = 5_000;

/// Every partition holding a UTC day's (`YYYY-MM-DD`) records.
pub fn day_partitions(day: &str) -> Vec<String> {
    (0..AUDIT_SHARDS).map(|shard| format!("AUDIT#{day}#{shard:02}")).collect()
}

fn shard(record: &AuditRecord) -> u32 {
    crate::shard_of(&record.id, AUDIT_SHARDS)
}

/// Partition of the audit table for `record`: its UTC day and a shard chosen by its id,
/// so writes spread over [`AUDIT_SHARDS`] partitions and a day's records query together.
pub fn partition(record: &AuditRecord) -> String {
    let day = record.time.get(..10).unwrap_or("unknown");
    format!("AUDIT#{day}#{:02}", shard(record))
}

/// Sort key: time then id, so records of a day come out in order.
pub fn sort_key(record: &AuditRecord) -> String {
    record.position()
}

/// The audit table's secondary indexes: each finds the records with one value of one
/// field, in time order. Their sort key is the record's position ([`sort_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditIndex {
    Actor,
    Subject,
    Resource,
    SourceIp,
    Action,
}

impl AuditIndex {
    pub const ALL: [AuditIndex; 5] =
        [AuditIndex::Actor, AuditIndex::Subject, AuditIndex::Resource, AuditIndex::SourceIp, AuditIndex::Action];

    /// The attribute (DynamoDB) or column (SQLite) holding a record's key in this index.
    pub fn attribute(self) -> &'static str {
        match self {
            AuditIndex::Actor => "i_actor",
            AuditIndex::Subject => "i_subject",
            AuditIndex::Resource => "i_resource",
            AuditIndex::SourceIp => "i_ip",
            AuditIndex::Action => "i_action",
        }
    }

    /// The index's name (a DynamoDB global secondary index, `template.yaml`).
    pub fn name(self) -> &'static str {
        match self {
            AuditIndex::Actor => "by-actor",
            AuditIndex::Subject => "by-subject",
            AuditIndex::Resource => "by-resource",
            AuditIndex::SourceIp => "by-source-ip",
            AuditIndex::Action => "by-action",
        }
    }

    /// The value of the field this index is on, if the record has one.
    pub fn value_of(self, record: &AuditRecord) -> Option<&str> {
        match self {
            AuditIndex::Actor => record.actor.as_deref(),
            AuditIndex::Subject => record.subject.as_deref(),
            AuditIndex::Resource => record.resource_id.as_deref(),
            AuditIndex::SourceIp => record.source_ip.as_deref(),
            AuditIndex::Action => Some(record.action.as_str()),
        }
    }

    fn key(value: &str, shard: u32) -> String {
        format!("{value}#{shard:02}")
    }

    /// Every partition of this index holding the records with `value`.
    pub fn partitions(self, value: &str) -> Vec<String> {
        (0..AUDIT_SHARDS).map(|shard| Self::key(value, shard)).collect()
    }

    /// The record's key in this index, if it is entered there.
    pub fn key_of(self, record: &AuditRecord) -> Option<String> {
        self.value_of(record).map(|value| Self::key(value, shard(record)))
    }
}

/// Where a search reads: a day partition of the table, or a partition of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditSource<'a> {
    Day(&'a str),
    Index(AuditIndex, &'a str),
}

/// Positions ([`sort_key`]) from `oldest` to `newest`, both included, and below `before`
/// when set (a continuation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionRange {
    pub oldest: String,
    pub newest: String,
    pub before: Option<String>,
}

impl PositionRange {
    /// The range of `query`'s times: every record from the first millisecond of `from` to
    /// the last of `to`.
    pub fn of(query: &AuditQuery) -> Self {
        // '~' sorts after every character of an id, so `to`'s own records are in.
        Self { oldest: query.oldest_time(), newest: format!("{}#~", query.newest_time()), before: None }
    }

    pub fn contains(&self, position: &str) -> bool {
        position >= self.oldest.as_str() && position <= self.newest.as_str() && self.before.as_deref().is_none_or(|b| position < b)
    }
}

/// The index a search reads: the most selective field it filters on, or none (the day
/// partitions, newest day first).
pub fn index_for(query: &AuditQuery) -> Option<(AuditIndex, &str)> {
    let candidates = [
        (AuditIndex::Resource, query.resource_id.as_deref()),
        (AuditIndex::Subject, query.subject.as_deref()),
        (AuditIndex::Actor, query.actor.as_deref()),
        (AuditIndex::SourceIp, query.source_ip.as_deref()),
        (AuditIndex::Action, query.action.as_deref()),
    ];
    candidates.into_iter().find_map(|(index, value)| value.map(|v| (index, v)))
}

/// One page of a search, newest first. `next` is the position to continue below; a page
/// may hold fewer than asked (even none) and still have a `next`, when the search read its
/// [`SEARCH_READ_BUDGET`] without filling the page.
pub async fn search(
    store: &dyn ItemStore,
    query: &AuditQuery,
    before: Option<&str>,
    limit: usize,
) -> Result<Page<AuditRecord>, StoreError> {
    // When the index (or the day partitions) serves every filter, each record read is a
    // match; filters checked on what is read need more read per shard.
    let batch = if residual_filters(query) { limit.max(100) } else { limit };
    search_in_batches(store, query, before, limit, batch).await
}

/// [`search`], reading `batch` records per shard and round (tests use small batches to
/// make shards stop short).
pub async fn search_in_batches(
    store: &dyn ItemStore,
    query: &AuditQuery,
    before: Option<&str>,
    limit: usize,
    batch: usize,
) -> Result<Page<AuditRecord>, StoreError> {
    let (limit, batch) = (limit.max(1), batch.max(1));
    let mut range = PositionRange::of(query);
    range.before = before.map(str::to_owned);
    let index = index_for(query);
    let oldest_day = range.oldest.get(..10).unwrap_or_default().to_owned();
    let mut day = day_of(range.before.as_deref().unwrap_or(&range.newest)).min(day_of(&range.newest));
    let mut found = Vec::new();
    let mut read = 0;
    loop {
        let partitions = match index {
            Some((index, value)) => index.partitions(value),
            None => day_partitions(&day),
        };
        let sources: Vec<AuditSource<'_>> = partitions
            .iter()
            .map(|pk| match index {
                Some((index, _)) => AuditSource::Index(index, pk),
                None => AuditSource::Day(pk),
            })
            .collect();
        let pages = futures::future::try_join_all(sources.iter().map(|source| store.audit_newest_first(*source, &range, batch))).await?;
        let (records, boundary) = merge_newest_first(pages);
        for record in records {
            read += 1;
            if query.matches(&record) {
                found.push(record);
                if found.len() == limit {
                    let next = found.last().map(AuditRecord::position);
                    return Ok(Page { items: found, next });
                }
            }
        }
        match boundary {
            // Some shard has more below the boundary: continue there.
            Some(boundary) => range.before = Some(boundary),
            None => match index {
                Some(_) => return Ok(Page { items: found, next: None }),
                // This day is done: the day before, if the range reaches it.
                None => match previous_day(&day).filter(|previous| *previous >= oldest_day) {
                    Some(previous) => {
                        range.before = Some(format!("{previous}T99"));
                        day = previous;
                    }
                    None => return Ok(Page { items: found, next: None }),
                },
            },
        }
        if read >= SEARCH_READ_BUDGET {
            return Ok(Page { items: found, next: range.before });
        }
    }
}

/// Whether `query` filters on more than the index it reads serves.
fn residual_filters(query: &AuditQuery) -> bool {
    let mut rest = query.clone();
    match index_for(query) {
        Some((AuditIndex::Resource, _)) => rest.resource_id = None,
        Some((AuditIndex::Subject, _)) => rest.subject = None,
        Some((AuditIndex::Actor, _)) => rest.actor = None,
        Some((AuditIndex::SourceIp, _)) => rest.source_ip = None,
        Some((AuditIndex::Action, _)) => rest.action = None,
        None => {}
    }
    rest.has_filters()
}

fn day_of(position: &str) -> String {
    position.get(..10).unwrap_or_default().to_owned()
}

fn previous_day(day: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day, &format).ok()?;
    date.previous_day().map(|d| d.to_string())
}

/// Merges per-shard pages (each newest first) into one list, newest first, cut where it is
/// complete: a shard that has more stopped at its last record, and anything older than the
/// newest such stop may still have records of that shard before it. Returns the records
/// and, when some shard has more, the boundary to continue below (the oldest record kept).
pub fn merge_newest_first(pages: Vec<Page<AuditRecord>>) -> (Vec<AuditRecord>, Option<String>) {
    let boundary = pages.iter().filter_map(|page| page.next.clone()).max();
    let mut records: Vec<(String, AuditRecord)> = pages
        .into_iter()
        .flat_map(|page| page.items)
        .map(|record| (record.position(), record))
        .filter(|(position, _)| boundary.as_ref().is_none_or(|b| position >= b))
        .collect();
    records.sort_by(|a, b| b.0.cmp(&a.0));
    (records.into_iter().map(|(_, record)| record).collect(), boundary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::audit::{AuditDecision, AuditOutcome};

    fn record(time: &str, id: &str) -> AuditRecord {
        AuditRecord {
            id: id.into(),
            time: time.into(),
            request_id: "r".into(),
            actor: Some("ada".into()),
            actor_role: None,
            action: "get-dataset".into(),
            resource_type: "dataset".into(),
            resource_id: Some("d1".into()),
            subject: None,
            decision: AuditDecision::Allow,
            policies: vec![],
            outcome: AuditOutcome::Success,
            status: 200,
            reason: None,
            detail: None,
            source_ip: Some("203.0.113.9".into()),
            user_agent: None,
            expires_at: None,
            tag: None,
        }
    }

    #[test]
    fn index_keys_carry_the_records_shard_and_partitions_cover_every_shard() {
        let r = record("2026-12-02T10:00:00.000Z", "0193a0b0-0000-7000-8000-000000000000");
        let shard = crate::shard_of(&r.id, AUDIT_SHARDS);
        assert_eq!(partition(&r), format!("AUDIT#2026-12-02#{shard:02}"));
        assert_eq!(AuditIndex::SourceIp.key_of(&r), Some(format!("203.0.113.9#{shard:02}")));
        assert_eq!(AuditIndex::Subject.key_of(&r), None, "no subject, no entry");
        let partitions = AuditIndex::Actor.partitions("ada");
        assert_eq!(partitions.len(), 16);
        assert!(partitions.contains(&AuditIndex::Actor.key_of(&r).unwrap()));
    }

    #[test]
    fn a_merge_stops_at_the_newest_point_a_shard_was_cut() {
        let page = |times: &[&str], more: bool| {
            let items: Vec<AuditRecord> = times.iter().map(|t| record(t, "x")).collect();
            let next = if more { items.last().map(AuditRecord::position) } else { None };
            Page { items, next }
        };
        // Shard a was cut at 08: b's 07 and 06 may have a's records between them, so they wait.
        let (records, boundary) = merge_newest_first(vec![page(&["10", "08"], true), page(&["09", "07", "06"], false)]);
        assert_eq!(records.iter().map(|r| r.time.as_str()).collect::<Vec<_>>(), ["10", "09", "08"]);
        assert_eq!(boundary.as_deref(), Some("08#x"));
        let (all, none) = merge_newest_first(vec![page(&["10", "08"], false), page(&["09", "07"], false)]);
        assert_eq!((all.len(), none), (4, None));
    }

    #[test]
    fn the_most_selective_filter_picks_the_index() {
        let mut query = AuditQuery::last_days(time::OffsetDateTime::now_utc(), 1);
        assert_eq!(index_for(&query), None);
        query.action = Some("get-dataset".into());
        query.source_ip = Some("203.0.113.9".into());
        assert_eq!(index_for(&query), Some((AuditIndex::SourceIp, "203.0.113.9")));
        query.resource_id = Some("d1".into());
        assert_eq!(index_for(&query), Some((AuditIndex::Resource, "d1")));
    }

    #[test]
    fn only_filters_the_index_does_not_serve_call_for_larger_reads() {
        let base = AuditQuery::last_days(time::OffsetDateTime::now_utc(), 1);
        assert!(!residual_filters(&base));
        assert!(!residual_filters(&AuditQuery { action: Some("get-me".into()), ..base.clone() }));
        assert!(residual_filters(&AuditQuery { outcome: Some(domain::audit::AuditOutcome::Failure), ..base.clone() }));
        assert!(residual_filters(&AuditQuery { actor: Some("a".into()), action: Some("get-me".into()), ..base }));
    }

    #[test]
    fn days_step_back_across_months_and_years() {
        assert_eq!(previous_day("2026-03-01").as_deref(), Some("2026-02-28"));
        assert_eq!(previous_day("2027-01-01").as_deref(), Some("2026-12-31"));
        assert_eq!(previous_day("not a day"), None);
    }
}
