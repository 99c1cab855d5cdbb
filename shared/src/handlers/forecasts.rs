//! `/v1/forecasts`: run a forecast on a dataset, read it back.
//!
//! A forecast can be run by admins and analysts on any dataset they can read; it is read
//! by admins, its owner, and whoever its dataset is shared with (so unsharing the dataset
//! takes its forecasts away too). Someone else's forecast answers 404.

use lambda_http::Request;

use super::datasets::find;
use super::{Ctx, blob_error, blob_key, path_param, store_error};
use crate::authz::{Action, Resource};
use crate::domain::dataset::keys as dataset_keys;
use crate::domain::forecast::{CreateForecast, ForecastRecord, ForecastView, keys};
use crate::domain::ids::{DatasetId, ForecastId};
use crate::error::{ApiError, Problem};
use crate::forecast::engine::{EngineError, ForecastSpec, run};
use crate::forecast::series::{SeriesError, extract};
use crate::http::Reply;
use crate::http::request::json_body;
use crate::store::{Condition, Item, WriteOp};

const COLLECTION: Resource<'static> = Resource::Collection("forecasts");

/// Maps a series problem to the request field it concerns.
fn series_error(error: SeriesError, request: &CreateForecast) -> ApiError {
    let field = match &error {
        SeriesError::UnknownColumn(name) if *name == request.target_column => "target_column",
        SeriesError::UnknownColumn(_) | SeriesError::BadTimestamp { .. } | SeriesError::NoFrequency | SeriesError::OffGrid { .. } => {
            "time_column"
        }
        SeriesError::Duplicates { .. } | SeriesError::Missing { .. } => "missing",
        SeriesError::TooShort(..) | SeriesError::TooLong(..) | SeriesError::Unreadable(_) => "dataset_id",
    };
    ApiError::validation(field, error.to_string())
}

fn engine_error(error: EngineError) -> ApiError {
    match error {
        EngineError::Horizon { .. } => ApiError::validation("horizon", error.to_string()),
        EngineError::Levels => ApiError::validation("levels", error.to_string()),
        EngineError::NoModels => ApiError::validation("models", error.to_string()),
        EngineError::NothingFits(_) | EngineError::Model(_) | EngineError::Calendar => ApiError::Unprocessable(error.to_string()),
    }
}

/// Run a forecast on a dataset's own time axis.
#[utoipa::path(post, path = "/v1/forecasts", operation_id = "createForecast", tag = "forecasts",
    request_body = CreateForecast,
    responses(
        (status = 201, description = "The forecast, with intervals and backtest metrics", body = ForecastView),
        (status = 400, description = "Invalid request or series", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not run forecasts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such dataset, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No model can be fitted to this series", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::CreateForecast, &COLLECTION)?;
    let request: CreateForecast = json_body(req, ctx.state.limits.max_body_bytes)?;

    // The dataset must be one the caller can read; otherwise it doesn't exist for them.
    let dataset_id =
        DatasetId::parse(&request.dataset_id).map_err(|_| ApiError::validation("dataset_id", "`dataset_id` is not a dataset id"))?;
    let (dataset, _) = find(ctx, &dataset_id).await?.ok_or(ApiError::NotFound)?;
    if !ctx.decide(&principal, Action::ReadDataset, &dataset.resource())? {
        return Err(ApiError::NotFound);
    }

    let csv = ctx
        .state
        .blobs
        .get(&blob_key(&dataset_keys::blob(&dataset_id))?)
        .await
        .map_err(blob_error)?
        .ok_or_else(|| ApiError::internal("dataset content missing"))?;
    let csv = String::from_utf8(csv).map_err(ApiError::internal)?;
    let (series, report) =
        extract(&csv, &request.time_column, &request.target_column, request.missing).map_err(|e| series_error(e, &request))?;
    let spec = ForecastSpec { horizon: request.horizon, models: request.models.clone(), levels: request.levels.clone() };
    let outcome = run(&series, &spec).map_err(engine_error)?;

    let id = ForecastId::new();
    ctx.audit.resource_id = Some(id.to_string());
    let view = ForecastView {
        id: id.to_string(),
        dataset_id: dataset_id.to_string(),
        owner: principal.subject.clone(),
        created_at: crate::audit::format_time(time::OffsetDateTime::now_utc()),
        request,
        series: report,
        result: outcome,
    };
    let record = ForecastRecord {
        id: view.id.clone(),
        dataset_id: view.dataset_id.clone(),
        owner: view.owner.clone(),
        created_at: view.created_at.clone(),
        model: view.result.model.description.clone(),
    };

    // Result first, metadata second: a forecast whose record exists always has its result.
    let result_key = blob_key(&keys::blob(&id))?;
    let body = serde_json::to_vec(&view).map_err(ApiError::internal)?;
    ctx.state.blobs.put(&result_key, body, "application/json").await.map_err(blob_error)?;
    let record_body = serde_json::to_value(&record).map_err(ApiError::internal)?;
    let writes = vec![WriteOp::Put { item: Item { key: keys::record(&id), version: 1, body: record_body }, condition: Condition::Absent }];
    if let Err(error) = ctx.commit(writes, 201).await {
        if let Err(cleanup) = ctx.state.blobs.delete(&result_key).await {
            tracing::warn!(cause = %cleanup, blob = result_key.as_str(), "orphaned forecast result left for the purge job");
        }
        return Err(error);
    }
    Reply::created(&view, format!("/v1/forecasts/{id}"))
}

/// Read a forecast.
#[utoipa::path(get, path = "/v1/forecasts/{forecastId}", operation_id = "getForecast", tag = "forecasts",
    params(("forecastId" = String, Path, description = "Forecast id (UUID)")),
    responses(
        (status = 200, description = "The forecast", body = ForecastView),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such forecast, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let id = ForecastId::parse(&path_param(req, "forecastId")?)?;
    ctx.audit.resource_id = Some(id.to_string());
    let item = ctx.state.store.get(&keys::record(&id)).await.map_err(store_error)?.ok_or(ApiError::NotFound)?;
    let record: ForecastRecord = serde_json::from_value(item.body).map_err(ApiError::internal)?;

    // Readers follow the dataset's current sharing; a deleted dataset shares nothing.
    let dataset_id = DatasetId::parse(&record.dataset_id).map_err(|_| ApiError::internal("stored forecast names a bad dataset id"))?;
    let readers = find(ctx, &dataset_id).await?.map(|(dataset, _)| dataset.readers).unwrap_or_default();
    if !ctx.decide(&principal, Action::ReadForecast, &Resource::Forecast { id: &record.id, owner: &record.owner, readers: &readers })? {
        return Err(ApiError::NotFound);
    }
    let stored = ctx
        .state
        .blobs
        .get(&blob_key(&keys::blob(&id))?)
        .await
        .map_err(blob_error)?
        .ok_or_else(|| ApiError::internal("forecast result missing"))?;
    let view: ForecastView = serde_json::from_slice(&stored).map_err(ApiError::internal)?;
    Reply::ok(&view)
}
