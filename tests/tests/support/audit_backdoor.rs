//! Shared by the API and adapter test binaries (included with `#[path]`): direct access to
//! where each store keeps its audit records, as someone holding the database would have,
//! to tamper with them behind the API's back.

#![allow(dead_code, reason = "each test binary uses the part it needs")]

use aws_sdk_dynamodb::types::AttributeValue;
use shared::audit::AuditRecord;
use shared::store::audit::{partition, sort_key};

/// Direct access to where a store keeps its audit records.
#[async_trait::async_trait]
pub trait Backdoor: Send + Sync {
    /// Replaces the stored record with `edited` (same key).
    async fn overwrite(&self, edited: &AuditRecord);
    async fn remove(&self, record: &AuditRecord);
}

pub struct SqliteBackdoor(pub std::path::PathBuf);

#[async_trait::async_trait]
impl Backdoor for SqliteBackdoor {
    async fn overwrite(&self, edited: &AuditRecord) {
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        // The append-only triggers stop the application, not whoever holds the file.
        conn.execute_batch("DROP TRIGGER audit_only_erasure").unwrap();
        let body = serde_json::to_string(edited).unwrap();
        let changed = conn
            .execute("UPDATE audit SET body = ?3 WHERE pk = ?1 AND sk = ?2", rusqlite::params![partition(edited), sort_key(edited), body])
            .unwrap();
        assert_eq!(changed, 1);
    }

    async fn remove(&self, record: &AuditRecord) {
        let conn = rusqlite::Connection::open(&self.0).unwrap();
        conn.execute_batch("DROP TRIGGER audit_kept_until_expiry").unwrap();
        let removed =
            conn.execute("DELETE FROM audit WHERE pk = ?1 AND sk = ?2", rusqlite::params![partition(record), sort_key(record)]).unwrap();
        assert_eq!(removed, 1);
    }
}

pub struct DynamoBackdoor {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn key_of(record: &AuditRecord) -> std::collections::HashMap<String, AttributeValue> {
    [("pk".to_owned(), AttributeValue::S(partition(record))), ("sk".to_owned(), AttributeValue::S(sort_key(record)))].into()
}

#[async_trait::async_trait]
impl Backdoor for DynamoBackdoor {
    async fn overwrite(&self, edited: &AuditRecord) {
        let status = AttributeValue::N(edited.status.to_string());
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(edited)))
            .update_expression("SET #r.#s = :status")
            .expression_attribute_names("#r", "record")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":status", status)
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .unwrap();
    }

    async fn remove(&self, record: &AuditRecord) {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_of(record)))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .unwrap();
    }
}
