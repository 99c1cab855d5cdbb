//! Analyses: what `POST /v1/ml/analyze` accepts and returns. Analyses are computed on
//! request and not stored; the audit trail records who analysed which dataset.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use forecast::analysis::Findings;
use forecast::series::{MissingPolicy, SeriesReport};

/// Most columns one request analyses (each is a pass over the CSV).
pub const MAX_COLUMNS: usize = 20;

/// Body of `POST /v1/ml/analyze`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// The dataset to analyse (one you can read).
    #[schema(value_type = crate::ids::DatasetId)]
    pub dataset_id: String,
    /// The time axis; defaults to the time column detected at upload.
    #[serde(default)]
    pub time_column: Option<String>,
    /// Numeric columns to analyse, each named once; defaults to every numeric column (at most 20).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub columns: Vec<String>,
    /// How gaps and duplicates are completed for seasonality, trend and changepoints
    /// (statistics and outliers always use the observed points). Default: interpolate.
    #[serde(default = "default_missing")]
    pub missing: MissingPolicy,
}

fn default_missing() -> MissingPolicy {
    MissingPolicy::Interpolate
}

/// The analysis of one column.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ColumnAnalysis {
    pub column: String,
    /// What was found and done while building the regular series.
    pub series: SeriesReport,
    #[serde(flatten)]
    pub findings: Findings,
}

/// The response of `POST /v1/ml/analyze`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AnalysisView {
    pub dataset_id: String,
    pub time_column: String,
    /// ISO 8601 duration of the series' steps.
    pub frequency: String,
    pub columns: Vec<ColumnAnalysis>,
    /// What was left out of the analysis, and why.
    pub notes: Vec<String>,
}
