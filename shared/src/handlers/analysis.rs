//! `/v1/ml/analyze`: what is in a dataset's numeric columns, for admins and analysts.

use lambda_http::Request;

use super::Ctx;
use super::datasets::{parse_dataset_id, read_content, readable_dataset};
use super::forecasts::series_error;
use crate::authz::{Action, Resource};
use crate::domain::analysis::{AnalysisView, AnalyzeRequest, ColumnAnalysis, MAX_COLUMNS};
use crate::domain::ids::truncate;
use crate::error::{ApiError, Problem, responses};
use crate::forecast::analysis::analyse;
use crate::forecast::first_repeat;
use crate::forecast::series::{MissingPolicy, extract};
use crate::http::Reply;
use crate::http::request::json_body;

const COLLECTION: Resource<'static> = Resource::Collection("analyses");

/// Analyse a dataset: summary statistics, seasonal periods, trend, outliers (z-score,
/// IQR, MAD) and changepoints per numeric column, each with the timestamps concerned.
#[utoipa::path(post, path = "/v1/ml/analyze", operation_id = "analyzeDataset", tag = "analysis",
    request_body = AnalyzeRequest,
    responses(
        (status = 200, description = "Findings per column", body = AnalysisView),
        (status = 400, description = "Invalid request or series", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Role may not run analyses", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
    ))]
pub async fn analyze(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::AnalyzeDataset, &COLLECTION)?;
    let request: AnalyzeRequest = json_body(req, ctx.state.limits.max_body_bytes)?;

    let dataset_id = parse_dataset_id(&request.dataset_id)?;
    ctx.audit.resource_id = Some(dataset_id.to_string());
    let dataset = readable_dataset(ctx, &principal, &dataset_id).await?;

    let time_column = match (&request.time_column, &dataset.time_axis) {
        (Some(column), _) => column.clone(),
        (None, Some(axis)) => axis.column.clone(),
        (None, None) => return Err(ApiError::validation("time_column", "the dataset has no timestamp column; name one in `time_column`")),
    };
    let mut notes = Vec::new();
    let columns: Vec<String> = if request.columns.is_empty() {
        let numeric: Vec<String> =
            dataset.columns.iter().filter(|c| c.column_type.is_numeric() && c.name != time_column).map(|c| c.name.clone()).collect();
        if numeric.len() > MAX_COLUMNS {
            notes.push(format!("analysed the first {MAX_COLUMNS} of {} numeric columns; name others in `columns`", numeric.len()));
        }
        numeric.into_iter().take(MAX_COLUMNS).collect()
    } else if request.columns.len() > MAX_COLUMNS {
        return Err(ApiError::validation("columns", format!("at most {MAX_COLUMNS} columns per analysis")));
    } else if let Some(column) = first_repeat(&request.columns) {
        return Err(ApiError::validation("columns", format!("column `{}` is named more than once", truncate(column, 40))));
    } else {
        request.columns.clone()
    };
    if columns.is_empty() {
        return Err(ApiError::validation("columns", "the dataset has no numeric columns to analyse"));
    }
    for column in &columns {
        dataset.require_numeric(column, "columns")?;
    }

    let csv = read_content(ctx, &dataset_id).await?;
    let (axis, missing, deadline) = (time_column.clone(), request.missing, ctx.deadline);
    let (analysed, frequency) = ctx.state.compute.run(move || analyse_columns(&csv, &axis, columns, missing, deadline)).await??;
    Reply::ok(&AnalysisView { dataset_id: dataset_id.to_string(), time_column, frequency, columns: analysed, notes })
}

/// Every column's findings, and the frequency of the series (CPU-bound: runs on the pool).
/// The deadline is checked before each column: a Lambda can't interrupt the work itself.
fn analyse_columns(
    csv: &str,
    time_column: &str,
    columns: Vec<String>,
    missing: MissingPolicy,
    deadline: std::time::Instant,
) -> Result<(Vec<ColumnAnalysis>, String), ApiError> {
    let total = columns.len();
    let mut analysed = Vec::with_capacity(total);
    let mut frequency = String::new();
    for column in columns {
        if std::time::Instant::now() >= deadline {
            return Err(ApiError::TimeBudget(format!(
                "the analysis could not finish within the time a request may take ({} of {total} columns done); name fewer columns in `columns`",
                analysed.len()
            )));
        }
        let problem = |e| series_error(e, &column, "columns");
        let (observed, _) = extract(csv, time_column, &column, MissingPolicy::Drop).map_err(problem)?;
        let (regular, report) = extract(csv, time_column, &column, missing).map_err(problem)?;
        frequency = regular.frequency.iso8601();
        let findings = analyse(&observed, &regular)
            .ok_or_else(|| ApiError::validation("columns", format!("column `{column}` has no numeric values")))?;
        analysed.push(ColumnAnalysis { column, series: report, findings });
    }
    Ok((analysed, frequency))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analysis_past_its_deadline_stops_before_the_next_column() {
        let mut csv = String::from("day,a,b\n");
        for day in 1..=20 {
            csv.push_str(&format!("2024-01-{day:02},{day},{}\n", day * 2));
        }
        let columns = vec!["a".to_owned(), "b".to_owned()];
        let past = std::time::Instant::now();
        let error = analyse_columns(&csv, "day", columns.clone(), MissingPolicy::Reject, past).unwrap_err();
        assert_eq!(error.status(), 422);
        assert!(error.to_string().contains("0 of 2 columns"), "{error}");
        let later = std::time::Instant::now() + std::time::Duration::from_secs(600);
        let (analysed, frequency) = analyse_columns(&csv, "day", columns, MissingPolicy::Reject, later).unwrap();
        assert_eq!((analysed.len(), frequency.as_str()), (2, "P1D"));
    }
}
