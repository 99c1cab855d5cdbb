//! Datasets: the stored record, what the API accepts and returns, and where items live.

use std::borrow::Cow;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::csv_table::{Column, TimeAxis};
use super::error::Invalid;
use super::ids::truncate;

/// At most this many users a dataset is shared with: a delete removes every share in
/// one transaction, which DynamoDB caps at 100 writes.
pub const MAX_READERS: usize = 50;
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 2_000;

/// The stored dataset metadata (the CSV itself is a blob).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub owner: String,
    pub readers: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<Column>,
    pub preview: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_axis: Option<TimeAxis>,
}

/// A dataset as a list shows it: everything but its preview rows.
// (Doc comments here are the API's description.) Text is `Cow` so that a list can
// answer with text borrowed from the stored records it parsed (see `ListedDataset`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetSummary<'a> {
    pub id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub description: Cow<'a, str>,
    /// Subject id of the owner.
    pub owner: Cow<'a, str>,
    /// Subject ids the dataset is shared with; shown to those who may manage sharing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<Vec<String>>,
    pub created_at: Cow<'a, str>,
    pub updated_at: Cow<'a, str>,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<Column>,
    /// The detected time column and frequency, if the CSV has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_axis: Option<TimeAxis>,
    /// Increases with every change; the `ETag` of the dataset.
    pub version: u64,
}

/// A stored [`DatasetRecord`] as a list reads it: text borrowed from the stored JSON
/// wherever it holds no escapes, and the preview rows passed over without being built.
/// A list parses one per item, so this is where its time goes.
#[derive(Debug, Deserialize)]
pub struct ListedDataset<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub description: Cow<'a, str>,
    #[serde(borrow)]
    pub owner: Cow<'a, str>,
    pub readers: Vec<String>,
    #[serde(borrow)]
    pub created_at: Cow<'a, str>,
    #[serde(borrow)]
    pub updated_at: Cow<'a, str>,
    /// Present once deleted; its value doesn't matter here.
    #[serde(default)]
    deleted_at: Option<IgnoredAny>,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<Column>,
    #[serde(default)]
    pub time_axis: Option<TimeAxis>,
}

impl<'a> ListedDataset<'a> {
    /// Parses a stored record's JSON text.
    pub fn parse(json: &'a str) -> serde_json::Result<Self> {
        serde_json::from_str(json)
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// The summary a list shows, still borrowing the stored text.
    pub fn into_summary(self, version: u64, show_readers: bool) -> DatasetSummary<'a> {
        DatasetSummary {
            id: self.id,
            name: self.name,
            description: self.description,
            owner: self.owner,
            shared_with: show_readers.then_some(self.readers),
            created_at: self.created_at,
            updated_at: self.updated_at,
            size_bytes: self.size_bytes,
            row_count: self.row_count,
            columns: self.columns,
            time_axis: self.time_axis,
            version,
        }
    }
}

/// A dataset as the API returns it: its summary and the first rows of its CSV.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetView {
    #[serde(flatten)]
    pub summary: DatasetSummary<'static>,
    /// The first rows of the CSV, header excluded.
    pub preview: Vec<Vec<String>>,
}

impl DatasetRecord {
    /// Checks that `name` is a numeric column, for request field `field`. Unknown names
    /// pass: series extraction names them against the CSV itself.
    pub fn require_numeric(&self, name: &str, field: &'static str) -> Result<(), Invalid> {
        match self.columns.iter().find(|c| c.name == name) {
            Some(c) if !c.column_type.is_numeric() => {
                let kind = format!("{:?}", c.column_type).to_lowercase();
                Err(Invalid::new(field, format!("column `{name}` holds {kind} values, not numbers")))
            }
            _ => Ok(()),
        }
    }

    pub fn view(&self, version: u64, show_readers: bool) -> DatasetView {
        let mut record = self.clone();
        let preview = std::mem::take(&mut record.preview);
        DatasetView { summary: record.into_summary(version, show_readers), preview }
    }

    /// The summary of a record, moving its fields rather than copying them.
    pub fn into_summary(self, version: u64, show_readers: bool) -> DatasetSummary<'static> {
        DatasetSummary {
            id: self.id.into(),
            name: self.name.into(),
            description: self.description.into(),
            owner: self.owner.into(),
            shared_with: show_readers.then_some(self.readers),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            size_bytes: self.size_bytes,
            row_count: self.row_count,
            columns: self.columns,
            time_axis: self.time_axis,
            version,
        }
    }
}

/// Body of `POST /v1/datasets`. Owner, ids and timestamps are ours to set (SR-15).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataset {
    /// 1 to 200 characters, no control or invisible formatting characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// The CSV content, header row first, comma-separated: at most 5 MiB, 100,000 rows,
    /// 100 columns and 1,000 characters per cell.
    #[schema(max_length = 5242880)]
    pub csv: String,
}

/// Body of `PATCH /v1/datasets/{datasetId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataset {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

/// A page of datasets (their summaries: the preview rows are in each dataset's own view).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DatasetPage<'a> {
    pub items: Vec<DatasetSummary<'a>>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub fn validate_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Invalid::new("name", "name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Invalid::new("name", format!("name is longer than {MAX_NAME_CHARS} characters")));
    }
    if let Some(c) = super::text::first_deceptive(name, &[]) {
        return Err(Invalid::new(
            "name",
            format!("name `{}` contains {}, a control or invisible formatting character", truncate(name, 40), super::text::code_point(c)),
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_description(description: &str) -> Result<String, Invalid> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Invalid::new("description", format!("description is longer than {MAX_DESCRIPTION_CHARS} characters")));
    }
    if let Some(c) = super::text::first_deceptive(description, &['\n', '\t']) {
        return Err(Invalid::new(
            "description",
            format!("description contains {}, a control or invisible formatting character", super::text::code_point(c)),
        ));
    }
    Ok(description.to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    use super::*;
    use crate::csv_table::ColumnType;

    const TYPES: [ColumnType; 6] =
        [ColumnType::Integer, ColumnType::Float, ColumnType::Timestamp, ColumnType::Boolean, ColumnType::Text, ColumnType::Empty];

    prop_compose! {
        fn any_record()(
            text in vec(any::<String>(), 7),
            readers in vec(any::<String>(), 0..3),
            deleted_at in option::of(any::<String>()),
            sizes in (any::<u64>(), any::<u64>()),
            columns in vec((any::<String>(), 0..TYPES.len(), any::<u64>()), 0..4),
            preview in vec(vec(any::<String>(), 0..3), 0..3),
            time_axis in option::of((any::<String>(), option::of(any::<String>()))),
        ) -> DatasetRecord {
            DatasetRecord {
                id: text[0].clone(),
                name: text[1].clone(),
                description: text[2].clone(),
                owner: text[3].clone(),
                readers,
                created_at: text[4].clone(),
                updated_at: text[5].clone(),
                deleted_at,
                size_bytes: sizes.0,
                row_count: sizes.1,
                columns: columns.into_iter().map(|(name, t, missing)| Column { name, column_type: TYPES[t], missing }).collect(),
                preview,
                time_axis: time_axis.map(|(column, frequency)| TimeAxis { column, frequency }),
            }
        }
    }

    proptest! {
        /// Lists parse records with `ListedDataset`, single reads with `DatasetRecord`: both
        /// must show the same dataset, whatever its text holds (escapes, any Unicode).
        #[test]
        fn a_listed_record_shows_exactly_what_the_full_record_shows(record in any_record(), version in any::<u64>(), show in any::<bool>()) {
            let json = serde_json::to_string(&record).unwrap();
            let listed = ListedDataset::parse(&json).unwrap();
            prop_assert_eq!(listed.is_deleted(), record.deleted_at.is_some());
            // What the policies decide on: id, owner and readers.
            prop_assert_eq!((&*listed.id, &*listed.owner, &listed.readers), (record.id.as_str(), record.owner.as_str(), &record.readers));
            let expected = serde_json::to_string(&record.into_summary(version, show)).unwrap();
            prop_assert_eq!(serde_json::to_string(&listed.into_summary(version, show)).unwrap(), expected);
        }

        /// A stored record missing anything a summary shows is refused, not shown half-empty.
        #[test]
        fn a_listed_record_missing_a_field_is_refused(record in any_record(), field in 0usize..10) {
            let required = ["id", "name", "description", "owner", "readers", "created_at", "updated_at", "size_bytes", "row_count", "columns"];
            let mut json = serde_json::to_value(&record).unwrap();
            json.as_object_mut().unwrap().remove(required[field]);
            prop_assert!(ListedDataset::parse(&json.to_string()).is_err());
        }
    }

    #[test]
    fn a_listed_record_borrows_plain_text_and_shows_the_literal_summary() {
        let stored = r#"{"id":"d1","name":"Sales \"EU\"","description":"","owner":"u1","readers":["u2"],"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-02T00:00:00.000Z","size_bytes":10,"row_count":2,"columns":[{"name":"date","type":"timestamp","missing":0}],"preview":[["2024-01-01"],["2024-01-02"]],"time_axis":{"column":"date","frequency":"P1D"}}"#;
        let listed = ListedDataset::parse(stored).unwrap();
        assert!(matches!(listed.id, Cow::Borrowed("d1")), "text without escapes is not copied");
        assert!(matches!(listed.name, Cow::Owned(_)), "text with escapes is unescaped into its own string");
        assert!(!listed.is_deleted());
        assert_eq!(
            serde_json::to_string(&listed.into_summary(3, false)).unwrap(),
            r#"{"id":"d1","name":"Sales \"EU\"","description":"","owner":"u1","created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-02T00:00:00.000Z","size_bytes":10,"row_count":2,"columns":[{"name":"date","type":"timestamp","missing":0}],"time_axis":{"column":"date","frequency":"P1D"},"version":3}"#
        );
        let deleted = stored.replace(r#""size_bytes""#, r#""deleted_at":"2026-01-03T00:00:00.000Z","size_bytes""#);
        assert!(ListedDataset::parse(&deleted).unwrap().is_deleted());
    }
}
