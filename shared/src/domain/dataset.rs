//! Datasets: the stored record, what the API accepts and returns, and where items live.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::csv_table::{Column, TimeAxis};
use super::ids::{DatasetId, truncate};
use crate::authz::Resource;
use crate::error::ApiError;
use crate::store::Key;

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
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetSummary {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Subject id of the owner.
    pub owner: String,
    /// Subject ids the dataset is shared with; shown to those who may manage sharing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<Vec<String>>,
    pub created_at: String,
    pub updated_at: String,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<Column>,
    /// The detected time column and frequency, if the CSV has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_axis: Option<TimeAxis>,
    /// Increases with every change; the `ETag` of the dataset.
    pub version: u64,
}

/// A dataset as the API returns it: its summary and the first rows of its CSV.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetView {
    #[serde(flatten)]
    pub summary: DatasetSummary,
    /// The first rows of the CSV, header excluded.
    pub preview: Vec<Vec<String>>,
}

impl DatasetRecord {
    /// The dataset as the policies see it.
    pub fn resource(&self) -> Resource<'_> {
        Resource::Dataset { id: &self.id, owner: &self.owner, readers: &self.readers }
    }

    /// Checks that `name` is a numeric column, for request field `field`. Unknown names
    /// pass: series extraction names them against the CSV itself.
    pub fn require_numeric(&self, name: &str, field: &'static str) -> Result<(), ApiError> {
        match self.columns.iter().find(|c| c.name == name) {
            Some(c) if !c.column_type.is_numeric() => {
                let kind = format!("{:?}", c.column_type).to_lowercase();
                Err(ApiError::validation(field, format!("column `{name}` holds {kind} values, not numbers")))
            }
            _ => Ok(()),
        }
    }

    pub fn view(&self, version: u64, show_readers: bool) -> DatasetView {
        let mut record = self.clone();
        let preview = std::mem::take(&mut record.preview);
        DatasetView { summary: record.into_summary(version, show_readers), preview }
    }

    /// The summary a list shows, moving the record's fields rather than copying them.
    pub fn into_summary(self, version: u64, show_readers: bool) -> DatasetSummary {
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
pub struct DatasetPage {
    pub items: Vec<DatasetSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::validation("name", "name must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation("name", format!("name is longer than {MAX_NAME_CHARS} characters")));
    }
    if let Some(c) = super::text::first_deceptive(name, &[]) {
        return Err(ApiError::validation(
            "name",
            format!("name `{}` contains {}, a control or invisible formatting character", truncate(name, 40), super::text::code_point(c)),
        ));
    }
    Ok(name.to_owned())
}

pub fn validate_description(description: &str) -> Result<String, ApiError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::validation("description", format!("description is longer than {MAX_DESCRIPTION_CHARS} characters")));
    }
    if let Some(c) = super::text::first_deceptive(description, &['\n', '\t']) {
        return Err(ApiError::validation(
            "description",
            format!("description contains {}, a control or invisible formatting character", super::text::code_point(c)),
        ));
    }
    Ok(description.to_owned())
}

/// Where dataset items live in the item store.
pub mod keys {
    use super::*;

    /// Sort-key prefix of index entries; the rest is the dataset id.
    pub const ENTRY_PREFIX: &str = "DATASET#";
    /// Shards of the catalogue every dataset is entered in (admins list from it), so that
    /// creating datasets never funnels into one partition (`docs/partitions.md`).
    pub const CATALOGUE_SHARDS: u32 = 8;

    /// Every partition of the catalogue.
    pub fn catalogue_partitions() -> Vec<String> {
        (0..CATALOGUE_SHARDS).map(|shard| format!("DATASETS#{shard:02}")).collect()
    }

    pub fn record(id: &DatasetId) -> Key {
        Key::new(format!("DATASET#{id}"), "META")
    }

    /// One entry per dataset, for admin listing, in the shard its id hashes to.
    pub fn catalogue_entry(id: &DatasetId) -> Key {
        let shard = crate::store::shard_of(id.as_str(), CATALOGUE_SHARDS);
        Key::new(format!("DATASETS#{shard:02}"), format!("{ENTRY_PREFIX}{id}"))
    }

    /// Partition of the datasets `user` owns or has been given.
    pub fn access_partition(user: &str) -> String {
        format!("ACCESS#{user}")
    }

    pub fn access_entry(user: &str, id: &DatasetId) -> Key {
        Key::new(access_partition(user), format!("{ENTRY_PREFIX}{id}"))
    }

    pub fn blob(id: &DatasetId) -> String {
        format!("datasets/{id}/data.csv")
    }
}
