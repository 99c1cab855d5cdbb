//! Forecasts: what the API accepts and returns, and where they are stored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{DatasetId, ForecastId};
use crate::authz::Resource;
use crate::forecast::engine::{ForecastOutcome, ModelChoice};
use crate::forecast::series::{MissingPolicy, SeriesReport};
use crate::store::Key;

/// Body of `POST /v1/forecasts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateForecast {
    /// The dataset to forecast (one you can read).
    pub dataset_id: String,
    /// Column holding the timestamps: the forecast continues this time axis.
    pub time_column: String,
    /// Numeric column to forecast.
    pub target_column: String,
    /// Steps ahead, on the dataset's own frequency (1 to 1000).
    pub horizon: usize,
    /// Models to consider; `auto` (the default) backtests them all and keeps the best.
    #[serde(default = "default_models")]
    pub models: Vec<ModelChoice>,
    /// Prediction interval levels in percent (default 80 and 95).
    #[serde(default = "default_levels")]
    pub levels: Vec<f64>,
    /// What to do about duplicate timestamps, gaps and missing values (default: reject).
    #[serde(default)]
    pub missing: MissingPolicy,
}

fn default_models() -> Vec<ModelChoice> {
    vec![ModelChoice::Auto]
}

fn default_levels() -> Vec<f64> {
    vec![80.0, 95.0]
}

/// A forecast as the API returns it (and as its result blob stores it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForecastView {
    pub id: String,
    pub dataset_id: String,
    /// Subject id of whoever ran it.
    pub owner: String,
    pub created_at: String,
    /// The request, as accepted (defaults filled in), so the forecast can be rerun.
    pub request: CreateForecast,
    /// What was found in the series and how it was handled.
    pub series: SeriesReport,
    pub result: ForecastOutcome,
}

/// The stored forecast metadata; the full view lives in the result blob.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastRecord {
    pub id: String,
    pub dataset_id: String,
    pub owner: String,
    pub created_at: String,
    pub model: String,
    #[serde(default)]
    pub target_column: String,
    #[serde(default)]
    pub horizon: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
}

impl ForecastRecord {
    /// The metadata of a forecast just run.
    pub fn of(view: &ForecastView) -> Self {
        Self {
            id: view.id.clone(),
            dataset_id: view.dataset_id.clone(),
            owner: view.owner.clone(),
            created_at: view.created_at.clone(),
            model: view.result.model.description.clone(),
            target_column: view.request.target_column.clone(),
            horizon: view.request.horizon,
            deleted_at: None,
        }
    }

    /// The forecast as the policies see it; `readers` are its dataset's current readers.
    pub fn resource<'a>(&'a self, readers: &'a [String]) -> Resource<'a> {
        Resource::Forecast { id: &self.id, owner: &self.owner, readers }
    }

    pub fn summary(&self) -> ForecastSummary {
        ForecastSummary {
            id: self.id.clone(),
            dataset_id: self.dataset_id.clone(),
            owner: self.owner.clone(),
            created_at: self.created_at.clone(),
            model: self.model.clone(),
            target_column: self.target_column.clone(),
            horizon: self.horizon,
        }
    }
}

/// A forecast as listed: what it is, without its numbers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ForecastSummary {
    pub id: String,
    pub dataset_id: String,
    /// Subject id of whoever ran it.
    pub owner: String,
    pub created_at: String,
    /// The chosen model, described.
    pub model: String,
    pub target_column: String,
    pub horizon: usize,
}

/// A page of forecasts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ForecastPage {
    pub items: Vec<ForecastSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Where forecast items live in the item store. Besides its record, a forecast has an
/// entry in three lists: everyone's (admins), its owner's, and its dataset's.
pub mod keys {
    use super::*;

    /// Sort-key prefix of list entries; the rest is the forecast id (time-ordered).
    pub const ENTRY_PREFIX: &str = "FORECAST#";
    /// Partition listing every forecast (admins list from here).
    pub const ALL_PARTITION: &str = "FORECASTS";

    pub fn record(id: &ForecastId) -> Key {
        Key::new(format!("FORECAST#{id}"), "META")
    }

    /// Partition of the forecasts `user` ran.
    pub fn owner_partition(user: &str) -> String {
        format!("FORECASTS_BY#{user}")
    }

    /// Partition of the forecasts run on a dataset.
    pub fn dataset_partition(dataset: &DatasetId) -> String {
        format!("FORECASTS_OF#{dataset}")
    }

    /// The list entries of a forecast, in every list it appears in.
    pub fn entries(id: &ForecastId, owner: &str, dataset: &DatasetId) -> [Key; 3] {
        let sort_key = format!("{ENTRY_PREFIX}{id}");
        [
            Key::new(ALL_PARTITION, sort_key.clone()),
            Key::new(owner_partition(owner), sort_key.clone()),
            Key::new(dataset_partition(dataset), sort_key),
        ]
    }

    pub fn blob(id: &ForecastId) -> String {
        format!("forecasts/{id}/result.json")
    }
}
