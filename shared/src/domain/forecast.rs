//! Forecasts: what the API accepts and returns, and where they are stored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::ForecastId;
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
}

pub mod keys {
    use super::*;

    pub fn record(id: &ForecastId) -> Key {
        Key::new(format!("FORECAST#{id}"), "META")
    }

    pub fn blob(id: &ForecastId) -> String {
        format!("forecasts/{id}/result.json")
    }
}
