//! The DynamoDB item store. Items live in one table (`pk`, `sk`, version `v`, map `body`);
//! audit records in a second, append-only table written only with conditional puts.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem};

use domain::audit::AuditRecord;
use store::audit::{AuditIndex, AuditSource, PositionRange, partition, sort_key};
use store::{Condition, Item, ItemStore, Key, Page, ScanPage, StoreError, WriteOp, check_size};

use crate::attr::{from_attr, from_map, to_attr};

/// An item as DynamoDB returns it.
type Row = HashMap<String, AttributeValue>;

/// What a query reads: a partition's items whose sort key starts with `prefix`, whole or
/// only their keys.
#[derive(Debug, Clone, Copy)]
struct RowQuery<'a> {
    pk: &'a str,
    prefix: &'a str,
    keys_only: bool,
}

/// BatchGetItem takes at most 100 keys per call.
const BATCH_GET_LIMIT: usize = 100;
/// Rounds of retrying unprocessed keys before giving up.
const BATCH_GET_ROUNDS: usize = 5;

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    audit_table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: String, audit_table: String) -> Self {
        Self { client, table, audit_table }
    }
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(error: SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(DisplayErrorContext(error).to_string())
}

fn key_attrs(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), AttributeValue::S(key.pk.clone())), ("sk".to_owned(), AttributeValue::S(key.sk.clone()))])
}

fn string_attr(item: &HashMap<String, AttributeValue>, name: &str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt(format!("attribute `{name}` missing or not a string"))),
    }
}

fn item_from_attrs(item: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let version = match item.get("v") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt("bad version".into()))?,
        _ => return Err(StoreError::Corrupt("attribute `v` missing".into())),
    };
    let body = item.get("body").map(from_attr).transpose()?.unwrap_or_default();
    Ok(Item { key: Key { pk: string_attr(item, "pk")?, sk: string_attr(item, "sk")? }, version, body })
}

/// The `n` of a counter item.
fn counter_value(attrs: Option<&HashMap<String, AttributeValue>>) -> Result<u64, StoreError> {
    match attrs.and_then(|a| a.get("n")) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt("bad counter".into())),
        _ => Err(StoreError::Corrupt("counter without a count".into())),
    }
}

/// Condition expression and values for a write's [`Condition`].
fn condition_parts(condition: Condition) -> (Option<String>, Option<HashMap<String, AttributeValue>>) {
    match condition {
        Condition::Always => (None, None),
        Condition::Absent => (Some("attribute_not_exists(pk)".into()), None),
        Condition::Version(v) => {
            (Some("v = :expected".into()), Some(HashMap::from([(":expected".to_owned(), AttributeValue::N(v.to_string()))])))
        }
    }
}

fn audit_put(table: &str, audit: &AuditRecord) -> Result<Put, StoreError> {
    let record = serde_json::to_value(audit).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut put = Put::builder()
        .table_name(table)
        .item("pk", AttributeValue::S(partition(audit)))
        .item("sk", AttributeValue::S(sort_key(audit)))
        .item("record", to_attr(&record));
    // DynamoDB's TTL removes the record once this has passed (SR-20).
    if let Some(expires_at) = audit.expires_at {
        put = put.item("expires_at", AttributeValue::N(expires_at.to_string()));
    }
    // Sparse: a record is entered only in the indexes it has a value for.
    for index in AuditIndex::ALL {
        if let Some(key) = index.key_of(audit) {
            put = put.item(index.attribute(), AttributeValue::S(key));
        }
    }
    put
        // INVARIANT: audit records are never overwritten; IAM allows only this conditional put.
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The record an audit item holds.
fn audit_record(row: &Row) -> Result<AuditRecord, StoreError> {
    let record = match row.get("record") {
        Some(AttributeValue::M(map)) => serde_json::Value::Object(from_map(map)?),
        _ => return Err(StoreError::Corrupt("audit item without record".into())),
    };
    serde_json::from_value::<AuditRecord>(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DynamoStore {
    /// Up to `limit` rows of partition `pk` in `table` whose sort key starts with `prefix`
    /// and comes after `after`, strongly consistent, and the sort key to continue after
    /// when DynamoDB says there is more.
    ///
    /// DynamoDB ends a response at 1 MB whatever the `Limit`; such a response is continued
    /// from its `LastEvaluatedKey` until the page is full or the partition is exhausted, so
    /// a large item never ends a list early. The continuation is the key DynamoDB returns,
    /// never inferred from a page being full (a full page may still be the last one: the
    /// next then comes back empty, with no continuation).
    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn query_rows(&self, table: &str, query: RowQuery<'_>, after: Option<&str>, limit: usize) -> Result<Page<Row>, StoreError> {
        let RowQuery { pk, prefix, keys_only } = query;
        let limit = limit.max(1);
        let mut rows = Vec::with_capacity(limit.min(128));
        let mut start = after.map(|after| key_attrs(&Key::new(pk, after)));
        loop {
            let remaining = i32::try_from(limit - rows.len()).unwrap_or(i32::MAX);
            let mut request = self.client.query().table_name(table).expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
            // DynamoDB refuses an empty string as a key value, so no prefix means no begins_with.
            request = if prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
            };
            if keys_only {
                request = request.projection_expression("pk, sk");
            }
            let output = request.consistent_read(true).limit(remaining).set_exclusive_start_key(start).send().await.map_err(unavailable)?;
            rows.extend(output.items.unwrap_or_default());
            let Some(last) = output.last_evaluated_key else { return Ok(Page { items: rows, next: None }) };
            if string_attr(&last, "pk")? != pk {
                return Err(StoreError::Corrupt("LastEvaluatedKey names another partition".into()));
            }
            if rows.len() >= limit {
                return Ok(Page { items: rows, next: Some(string_attr(&last, "sk")?) });
            }
            start = Some(last);
        }
    }
}

#[async_trait::async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item().map(item_from_attrs).transpose()
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(key_attrs).collect()))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            for round in 0.. {
                if round == BATCH_GET_ROUNDS {
                    return Err(StoreError::Unavailable("batch get kept leaving keys unprocessed".into()));
                }
                let output = self.client.batch_get_item().request_items(&self.table, pending.clone()).send().await.map_err(unavailable)?;
                for item in output.responses().and_then(|r| r.get(&self.table)).into_iter().flatten() {
                    found.push(item_from_attrs(item)?);
                }
                match output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        pending = rest.clone();
                        tokio::time::sleep(std::time::Duration::from_millis(20 << round)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn query_keys(&self, pk: &str, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page<Key>, StoreError> {
        let page = self.query_rows(&self.table, RowQuery { pk, prefix, keys_only: true }, after, limit).await?;
        let items =
            page.items.iter().map(|row| Ok(Key::new(string_attr(row, "pk")?, string_attr(row, "sk")?))).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    async fn scan_keys(&self, after: Option<&Key>, limit: usize) -> Result<ScanPage, StoreError> {
        let output = self
            .client
            .scan()
            .table_name(&self.table)
            // Items, not counters: a counter has no version.
            .filter_expression("attribute_exists(v)")
            .projection_expression("pk, sk")
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(after.map(key_attrs))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let keys =
            output.items().iter().map(|row| Ok(Key::new(string_attr(row, "pk")?, string_attr(row, "sk")?))).collect::<Result<_, _>>()?;
        let next = match output.last_evaluated_key() {
            Some(last) => Some(Key::new(string_attr(last, "pk")?, string_attr(last, "sk")?)),
            None => None,
        };
        Ok(ScanPage { keys, next })
    }

    async fn commit(&self, writes: Vec<WriteOp>, audit: &AuditRecord) -> Result<(), StoreError> {
        check_size(&writes)?;
        let corrupt = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
        let mut items = Vec::with_capacity(writes.len() + 1);
        for write in writes {
            let transact = match write {
                WriteOp::Put { item, condition } => {
                    let (expression, values) = condition_parts(condition);
                    let mut attrs = key_attrs(&item.key);
                    attrs.insert("v".into(), AttributeValue::N(item.version.to_string()));
                    attrs.insert("body".into(), to_attr(&item.body));
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(attrs))
                        .set_condition_expression(expression)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(corrupt)?;
                    TransactWriteItem::builder().put(put).build()
                }
                WriteOp::Delete { key, condition } => {
                    let (expression, values) = condition_parts(condition);
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_attrs(&key)))
                        .set_condition_expression(expression)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(corrupt)?;
                    TransactWriteItem::builder().delete(delete).build()
                }
            };
            items.push(transact);
        }
        items.push(TransactWriteItem::builder().put(audit_put(&self.audit_table, audit)?).build());
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Err(StoreError::ConditionFailed)
                }
                _ => Err(unavailable(error)),
            },
        }
    }

    async fn increment(&self, key: &Key, expires_at: i64) -> Result<u64, StoreError> {
        // ADD is atomic in DynamoDB; the new value comes back in the same call.
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .update_expression("ADD n :one SET expires_at = if_not_exists(expires_at, :expires)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        counter_value(output.attributes())
    }

    async fn counter(&self, key: &Key, now: i64) -> Result<u64, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .projection_expression("n, expires_at")
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = output.item() else { return Ok(0) };
        // TTL deletes lazily (up to days later): an expired counter is read as gone.
        let expires_at: i64 = match item.get("expires_at") {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| StoreError::Corrupt("bad counter expiry".into()))?,
            _ => return Err(StoreError::Corrupt("counter without expiry".into())),
        };
        if expires_at < now { Ok(0) } else { counter_value(Some(item)) }
    }

    async fn append_audit(&self, audit: &AuditRecord) -> Result<(), StoreError> {
        let put = audit_put(&self.audit_table, audit)?;
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.as_service_error(), Some(PutItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::ConditionFailed)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn erase_audit_identity(&self, stored: &AuditRecord, erased: &AuditRecord) -> Result<(), StoreError> {
        domain::audit::check_erasure(stored, erased).map_err(StoreError::NotAnErasure)?;
        let as_attr = |record: &AuditRecord| {
            serde_json::to_value(record).map(|value| to_attr(&value)).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.audit_table)
            .key("pk", AttributeValue::S(partition(stored)))
            .key("sk", AttributeValue::S(sort_key(stored)))
            .expression_attribute_names("#record", "record")
            .expression_attribute_values(":stored", as_attr(stored)?)
            .expression_attribute_values(":erased", as_attr(erased)?)
            // The whole record as read (DynamoDB compares maps by value): nobody changed it since.
            .condition_expression("#record = :stored");
        let mut sets = vec!["#record = :erased".to_owned()];
        // The index keys move with the identity (an erased person is no longer found by id);
        // IAM lets the erasing function set only these attributes.
        for index in [AuditIndex::Actor, AuditIndex::Subject, AuditIndex::Resource, AuditIndex::SourceIp] {
            if let Some(key) = index.key_of(erased) {
                let (name, value) = (index.attribute(), format!(":{}", index.attribute()));
                sets.push(format!("{name} = {value}"));
                update = update.expression_attribute_values(value, AttributeValue::S(key));
            }
        }
        match update.update_expression(format!("SET {}", sets.join(", "))).send().await {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.as_service_error(), Some(UpdateItemError::ConditionalCheckFailedException(_))) => {
                Err(StoreError::ConditionFailed)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    /// The table's TTL on `expires_at` removes expired records (free, within days): none here.
    async fn purge_expired_audit(&self, _now: i64, _limit: usize) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn audit_partition(&self, pk: &str, after: Option<&str>, limit: usize) -> Result<Page<AuditRecord>, StoreError> {
        let page = self.query_rows(&self.audit_table, RowQuery { pk, prefix: "", keys_only: false }, after, limit).await?;
        let records = page.items.iter().map(audit_record).collect::<Result<_, _>>()?;
        Ok(Page { items: records, next: page.next })
    }

    async fn audit_newest_first(
        &self,
        source: AuditSource<'_>,
        range: &PositionRange,
        limit: usize,
    ) -> Result<Page<AuditRecord>, StoreError> {
        let limit = limit.max(1);
        let (index, attribute, key) = match source {
            AuditSource::Day(pk) => (None, "pk", pk),
            AuditSource::Index(index, pk) => (Some(index.name()), index.attribute(), pk),
        };
        // `before` is exclusive and BETWEEN is not: the record at `before` itself, if any,
        // is the first one back and is dropped.
        let newest = match range.before.as_deref() {
            Some(before) if before < range.newest.as_str() => before,
            _ => range.newest.as_str(),
        };
        if newest < range.oldest.as_str() {
            return Ok(Page { items: Vec::new(), next: None });
        }
        let mut records = Vec::with_capacity(limit.min(128));
        let mut start = None;
        loop {
            let remaining = i32::try_from(limit + 1 - records.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.audit_table)
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression("#key = :key AND sk BETWEEN :oldest AND :newest")
                .expression_attribute_names("#key", attribute)
                .expression_attribute_values(":key", AttributeValue::S(key.to_owned()))
                .expression_attribute_values(":oldest", AttributeValue::S(range.oldest.clone()))
                .expression_attribute_values(":newest", AttributeValue::S(newest.to_owned()))
                .scan_index_forward(false)
                // Index reads are eventually consistent; the table's day partitions need not be.
                .set_consistent_read(index.is_none().then_some(true))
                .limit(remaining)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for row in output.items() {
                let record = audit_record(row)?;
                if range.contains(&record.position()) {
                    records.push(record);
                }
            }
            match output.last_evaluated_key {
                Some(last) if records.len() <= limit => start = Some(last),
                _ => break,
            }
        }
        Ok(store::paginate(records, limit, sort_key))
    }
}
