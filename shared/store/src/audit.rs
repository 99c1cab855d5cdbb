//! Where audit records live in the audit table.

use domain::audit::AuditRecord;

/// Shards of each day's audit partition. Every request writes one record, so a single
/// partition per day would take the whole stack's write rate; see
/// `docs/partitions.md` for the arithmetic behind the number.
pub const AUDIT_SHARDS: u32 = 16;

/// Every partition holding a UTC day's (`YYYY-MM-DD`) records.
pub fn day_partitions(day: &str) -> Vec<String> {
    (0..AUDIT_SHARDS).map(|shard| format!("AUDIT#{day}#{shard:02}")).collect()
}

/// Partition of the audit table for `record`: its UTC day and a shard chosen by its id,
/// so writes spread over [`AUDIT_SHARDS`] partitions and a day's records query together.
pub fn partition(record: &AuditRecord) -> String {
    let day = record.time.get(..10).unwrap_or("unknown");
    format!("AUDIT#{day}#{:02}", crate::shard_of(&record.id, AUDIT_SHARDS))
}

/// Sort key: time then id, so records of a day come out in order.
pub fn sort_key(record: &AuditRecord) -> String {
    format!("{}#{}", record.time, record.id)
}
