//! Forecasts: what the API accepts and returns, and where they are stored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use forecast::engine::{ForecastOutcome, ModelChoice};
use forecast::series::{MissingPolicy, SeriesReport};

/// Body of `POST /v1/forecasts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateForecast {
    /// The dataset to forecast (one you can read).
    #[schema(value_type = crate::ids::DatasetId)]
    pub dataset_id: String,
    /// Column holding the timestamps: the forecast continues this time axis.
    pub time_column: String,
    /// Numeric column to forecast.
    pub target_column: String,
    /// Steps ahead, on the dataset's own frequency (1 to 1000, and at most the series length).
    #[schema(minimum = 1, maximum = 1000)]
    pub horizon: usize,
    /// Models to consider, each named once; `auto` (the default) cross-validates them all and combines the best.
    #[serde(default = "default_models")]
    #[schema(min_items = 1, max_items = 6)]
    pub models: Vec<ModelChoice>,
    /// Prediction interval levels in percent, each from 50 to 99.9 (default 80 and 95).
    #[serde(default = "default_levels")]
    #[schema(max_items = 5)]
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

#[cfg(test)]
mod tests {
    /// Results are stored as JSON and read back for `GET` and exports: every float must come
    /// back bit for bit, or a stored forecast differs from the answer its `POST` gave.
    #[test]
    fn floats_survive_the_stored_json_exactly() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut mismatches = Vec::new();
        for _ in 0..200_000 {
            // Values shaped like forecasts: a level times a factor, with full mantissas.
            let value = (next() % 1_000_000) as f64 / 7.0 * f64::from_bits(0x3FF0_0000_0000_0000 | (next() >> 12));
            let text = serde_json::to_string(&value).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            if back.to_bits() != value.to_bits() {
                mismatches.push(text);
            }
        }
        assert!(mismatches.is_empty(), "{} of 200,000 floats changed, e.g. {:?}", mismatches.len(), &mismatches[..mismatches.len().min(3)]);
    }
}
