//! Shared by the API and adapter test binaries (included with `#[path]`).

use shared::audit::AuditRecord;
use shared::store::ItemStore;

/// Every audit record written since `started`, oldest first, read day by day (UTC) so that
/// a test running across midnight still finds them all.
pub async fn audit_since(store: &dyn ItemStore, started: time::OffsetDateTime) -> Vec<AuditRecord> {
    let mut records = Vec::new();
    for day in shared::audit::days_spanning(started, time::OffsetDateTime::now_utc()) {
        let mut after: Option<String> = None;
        loop {
            let page = store.audit_records(&day, after.as_deref(), 100).await.unwrap();
            records.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    records
}
