//! `/v1/forecasts`: run a forecast on a dataset, list, read and delete forecasts.
//!
//! A forecast can be run by admins and analysts on any dataset they can read; it is read
//! by admins, its owner, its dataset's owner, and whoever its dataset is shared with (so
//! unsharing the dataset takes its forecasts away too), and deleted by its owner or an
//! admin. Someone else's forecast answers 404.

use std::collections::HashMap;

use lambda_http::Request;

use super::datasets::{find, parse_dataset_id, read_content, readable_dataset};
use super::paging::{PageRequest, load_page};
use super::{Ctx, blob_error, blob_key, now, path_param, read_blob, store_error};
use crate::auth::{Principal, Role};
use crate::authz::{Action, Resource};
use crate::domain::dataset::{DatasetRecord, ListedDataset};
use crate::domain::export::{self, ExportFormat};
use crate::domain::forecast::{CreateForecast, ForecastPage, ForecastRecord, ForecastView};
use crate::domain::ids::{DatasetId, ForecastId};
use crate::error::{ApiError, Problem, responses};
use crate::forecast::engine::{EngineError, ForecastSpec, run};
use crate::forecast::series::{SeriesError, extract};
use crate::http::Reply;
use crate::http::request::{json_body, query_param};
use crate::keys::dataset as dataset_keys;
use crate::keys::forecast as keys;
use crate::store::{Condition, Item, Key, WriteOp};

const COLLECTION: Resource<'static> = Resource::Collection("forecasts");

/// Maps a series problem to the request field it concerns; `target_field` names the
/// field holding the value column (`target_column`, `columns`).
pub(crate) fn series_error(error: SeriesError, target: &str, target_field: &'static str) -> ApiError {
    let field = match &error {
        SeriesError::UnknownColumn(name) if name == target => target_field,
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
        EngineError::NoModels | EngineError::RepeatedModel(_) => ApiError::validation("models", error.to_string()),
        EngineError::NothingFits(_) | EngineError::Model(_) | EngineError::Calendar => ApiError::Unprocessable(error.to_string()),
        EngineError::OutOfTime { .. } => ApiError::TimeBudget(error.to_string()),
    }
}

/// Run a forecast on a dataset's own time axis.
#[utoipa::path(post, path = "/v1/forecasts", operation_id = "createForecast", tag = "forecasts",
    request_body = CreateForecast,
    responses(
        (status = 201, description = "The forecast, with intervals and backtest metrics", body = ForecastView),
        (status = 400, description = "Invalid request or series", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Role may not run forecasts", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        (status = 422, description = "No model can be fitted to this series", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
    ))]
pub async fn create(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::CreateForecast, &COLLECTION)?;
    let request: CreateForecast = json_body(req, ctx.state.limits.max_body_bytes)?;
    let spec = ForecastSpec {
        horizon: request.horizon,
        models: request.models.clone(),
        levels: request.levels.clone(),
        deadline: Some(ctx.deadline),
    };
    spec.validate().map_err(engine_error)?;

    let dataset_id = parse_dataset_id(&request.dataset_id)?;
    let dataset = readable_dataset(ctx, &principal, &dataset_id).await?;
    dataset.require_numeric(&request.target_column, "target_column")?;
    let csv = read_content(ctx, &dataset_id).await?;
    let (time_column, target, missing) = (request.time_column.clone(), request.target_column.clone(), request.missing);
    let (report, outcome) = ctx
        .state
        .compute
        .run(move || {
            let (series, report) = extract(&csv, &time_column, &target, missing).map_err(|e| series_error(e, &target, "target_column"))?;
            Ok::<_, ApiError>((report, run(&series, &spec).map_err(engine_error)?))
        })
        .await??;

    let id = ForecastId::new();
    ctx.audit.resource_id = Some(id.to_string());
    let view = ForecastView {
        id: id.to_string(),
        dataset_id: dataset_id.to_string(),
        owner: principal.subject.clone(),
        created_at: now(),
        request,
        series: report,
        result: outcome,
    };
    let record = ForecastRecord::of(&view);

    // Result first, metadata second: a forecast whose record exists always has its result.
    let result_key = blob_key(&keys::blob(&id))?;
    let body = serde_json::to_vec(&view).map_err(ApiError::internal)?;
    ctx.state.blobs.put(&result_key, body, "application/json").await.map_err(blob_error)?;
    let record_body = serde_json::to_value(&record).map_err(ApiError::internal)?;
    let mut writes =
        vec![WriteOp::Put { item: Item { key: keys::record(&id), version: 1, body: record_body }, condition: Condition::Absent }];
    writes.extend(keys::entries(&id, &record.owner, &dataset_id).map(|key| WriteOp::Put {
        item: Item { key, version: 1, body: serde_json::Value::Object(Default::default()) },
        condition: Condition::Absent,
    }));
    if let Err(error) = ctx.commit(writes, 201).await {
        if let Err(cleanup) = ctx.state.blobs.delete(&result_key).await {
            tracing::warn!(cause = %cleanup, blob = result_key.as_str(), "orphaned forecast result left in blob storage; nothing removes it yet");
        }
        return Err(error);
    }
    Ok(Reply::created(&view, format!("/v1/forecasts/{id}"))?.at_version(1))
}

/// What a forecast's dataset grants: its owner and readers, or nothing once it is deleted.
#[derive(Debug, Default)]
pub(crate) struct DatasetGrants {
    owner: Option<String>,
    readers: Vec<String>,
}

impl DatasetGrants {
    fn of(dataset: DatasetRecord) -> Self {
        Self { owner: Some(dataset.owner), readers: dataset.readers }
    }

    fn resource<'a>(&'a self, record: &'a ForecastRecord) -> Resource<'a> {
        Resource::forecast(record, self.owner.as_deref(), &self.readers)
    }
}

/// A live forecast as loaded for a request: its record, the version it was read at, and
/// what its dataset grants.
pub(crate) struct Loaded {
    pub id: ForecastId,
    pub record: ForecastRecord,
    dataset_id: DatasetId,
    version: u64,
    grants: DatasetGrants,
}

impl Loaded {
    pub fn resource(&self) -> Resource<'_> {
        self.grants.resource(&self.record)
    }
}

/// Loads the forecast named in the path; missing and deleted ones are both "not found".
async fn load(ctx: &mut Ctx<'_>, req: &Request) -> Result<Loaded, ApiError> {
    let id = ForecastId::parse(&path_param(req, "forecastId")?)?;
    ctx.audit.resource_id = Some(id.to_string());
    let item = ctx.state.store.get(&keys::record(&id)).await.map_err(store_error)?.ok_or(ApiError::NotFound)?;
    let record: ForecastRecord = serde_json::from_value(item.body).map_err(ApiError::internal)?;
    if record.deleted_at.is_some() {
        return Err(ApiError::NotFound);
    }
    // Grants follow the dataset's current owner and sharing; a deleted dataset grants nothing.
    let dataset_id = DatasetId::parse(&record.dataset_id).map_err(|_| ApiError::internal("stored forecast names a bad dataset id"))?;
    let grants = find(ctx, &dataset_id).await?.map(|(dataset, _)| DatasetGrants::of(dataset)).unwrap_or_default();
    Ok(Loaded { id, record, dataset_id, version: item.version, grants })
}

/// Loads the forecast named in the path and checks the caller may read it (404 if not).
pub(crate) async fn load_readable(ctx: &mut Ctx<'_>, req: &Request, principal: &Principal) -> Result<Loaded, ApiError> {
    let forecast = load(ctx, req).await?;
    if !ctx.decide(principal, Action::ReadForecast, &forecast.resource())? {
        return Err(ApiError::NotFound);
    }
    Ok(forecast)
}

/// The stored result of a forecast.
pub(crate) async fn read_result(ctx: &Ctx<'_>, id: &ForecastId) -> Result<ForecastView, ApiError> {
    let stored = read_blob(ctx, &keys::blob(id), "forecast result").await?;
    serde_json::from_slice(&stored).map_err(ApiError::internal)
}

/// Read a forecast.
#[utoipa::path(get, path = "/v1/forecasts/{forecastId}", operation_id = "getForecast", tag = "forecasts",
    params(("forecastId" = ForecastId, Path, description = "Forecast id (UUID)")),
    responses(
        (status = 200, description = "The forecast", body = ForecastView),
        responses::Unauthenticated,
        responses::TooManyRequests,
        responses::ForecastNotFound,
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let forecast = load_readable(ctx, req, &principal).await?;
    Ok(Reply::ok(&read_result(ctx, &forecast.id).await?)?.at_version(forecast.version))
}

/// Export a forecast's future values and intervals as CSV or JSON.
#[utoipa::path(get, path = "/v1/forecasts/{forecastId}/export", operation_id = "exportForecast", tag = "forecasts",
    params(
        ("forecastId" = ForecastId, Path, description = "Forecast id (UUID)"),
        ("format" = Option<ExportFormat>, Query, description = "`csv` (default) or `json`"),
    ),
    responses(
        (status = 200, description = "The forecast as a file: timestamp, forecast, lower_<level>, upper_<level>", content(("text/csv"), ("application/json"))),
        (status = 400, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        responses::ForecastNotFound,
    ))]
pub async fn export(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let forecast = load_readable(ctx, req, &principal).await?;
    let format = ExportFormat::parse(query_param(req, "format")?.as_deref())?;
    let view = read_result(ctx, &forecast.id).await?;
    let text = match format {
        ExportFormat::Csv => export::forecast_csv(&view)?,
        ExportFormat::Json => export::forecast_json(&view).to_string(),
    };
    Ok(Reply::download(format.content_type(), format!("forecast-{}.{}", forecast.id, format.extension()), text))
}

/// List forecasts, newest last: with `dataset_id`, those run on that dataset that the
/// caller may read; without it, the caller's own (every forecast, for admins).
#[utoipa::path(get, path = "/v1/forecasts", operation_id = "listForecasts", tag = "forecasts",
    params(
        ("dataset_id" = Option<DatasetId>, Query, description = "Only forecasts of this dataset (one you can read)"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, max_length = 200, description = "Opaque cursor from the previous page of the same list; valid only for the caller it was given to"),
    ),
    responses(
        (status = 200, description = "A page of forecasts", body = ForecastPage),
        (status = 400, description = "Bad dataset id, limit or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        responses::DatasetNotFound,
    ))]
pub async fn list(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::ListForecasts, &COLLECTION)?;
    let wanted = PageRequest::from_query(req)?;
    let partitions = match query_param(req, "dataset_id")? {
        Some(raw) => {
            let id = parse_dataset_id(&raw)?;
            ctx.audit.resource_id = Some(id.to_string());
            let (dataset, _) = find(ctx, &id).await?.ok_or(ApiError::NotFound)?;
            if !ctx.can(&principal, Action::ReadDataset, &Resource::dataset(&dataset)) {
                return Err(ApiError::NotFound);
            }
            vec![keys::dataset_partition(&id)]
        }
        None if principal.role == Role::Admin => keys::catalogue_partitions(),
        None => vec![keys::owner_partition(&principal.subject)],
    };
    let (page, next_cursor) =
        load_page(ctx, &principal.subject, (&partitions, keys::ENTRY_PREFIX), &wanted, |id| ForecastId::parse(id).ok(), keys::record)
            .await?;
    let mut records = Vec::with_capacity(page.len());
    for (_, item) in page {
        let record: ForecastRecord = serde_json::from_str(&item.json).map_err(ApiError::internal)?;
        if record.deleted_at.is_none() {
            records.push(record);
        }
    }
    let grants = dataset_grants(ctx, &records).await?;
    let none = DatasetGrants::default();
    // The list decides what is considered; the policy still has the last word on each
    // item, decided once per relation to the caller (`authz::DecisionMemo`).
    let mut decisions = ctx.state.authorizer.memo(&principal);
    let mut items = Vec::with_capacity(records.len());
    for record in records {
        let grants = grants.get(&record.dataset_id).unwrap_or(&none);
        if decisions.can(Action::ReadForecast, &grants.resource(&record)) {
            items.push(record.summary());
        }
    }
    Reply::ok(&ForecastPage { items, next_cursor })
}

/// What the datasets behind `records` grant, by dataset id (deleted datasets: nothing).
async fn dataset_grants(ctx: &Ctx<'_>, records: &[ForecastRecord]) -> Result<HashMap<String, DatasetGrants>, ApiError> {
    let mut ids: Vec<DatasetId> = records.iter().filter_map(|r| DatasetId::parse(&r.dataset_id).ok()).collect();
    ids.sort();
    ids.dedup();
    let dataset_keys: Vec<Key> = ids.iter().map(dataset_keys::record).collect();
    let mut grants = HashMap::new();
    for item in ctx.state.store.get_many_json(&dataset_keys).await.map_err(store_error)? {
        // Only the owner and readers matter here: no need to build the preview rows.
        let dataset = ListedDataset::parse(&item.json).map_err(ApiError::internal)?;
        if !dataset.is_deleted() {
            grants.insert(dataset.id.into_owned(), DatasetGrants { owner: Some(dataset.owner.into_owned()), readers: dataset.readers });
        }
    }
    Ok(grants)
}

/// Delete a forecast. It disappears at once from every read and list. Its record and result
/// are purged after the grace period in the settings (`retention.deleted_days`).
#[utoipa::path(delete, path = "/v1/forecasts/{forecastId}", operation_id = "deleteForecast", tag = "forecasts",
    params(("forecastId" = ForecastId, Path, description = "Forecast id (UUID)"), ("If-Match" = Option<String>, Header, description = "When given, the forecast is deleted only if still at this `ETag`")),
    responses(
        (status = 204, description = "Deleted"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Yours to read, not to delete", body = Problem, content_type = "application/problem+json"),
        responses::ForecastNotFound,
        (status = 409, description = "Changed concurrently", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
    ))]
pub async fn delete(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let forecast = load(ctx, req).await?;
    if !ctx.decide(&principal, Action::DeleteForecast, &forecast.resource())? {
        return Err(if ctx.can(&principal, Action::ReadForecast, &forecast.resource()) { ApiError::Forbidden } else { ApiError::NotFound });
    }
    ctx.precondition(req, forecast.version, false)?;
    let deleted_at = now();
    let record = ForecastRecord { deleted_at: Some(deleted_at.clone()), ..forecast.record.clone() };
    let body = serde_json::to_value(&record).map_err(ApiError::internal)?;
    let purge = crate::keys::purge::entry(crate::keys::purge::Kind::Forecast, &record.id, &deleted_at);
    let mut writes = vec![
        WriteOp::Put {
            item: Item { key: keys::record(&forecast.id), version: forecast.version + 1, body },
            condition: Condition::Version(forecast.version),
        },
        WriteOp::Put { item: Item { key: purge, version: 1, body: serde_json::json!({}) }, condition: Condition::Absent },
    ];
    writes.extend(
        keys::entries(&forecast.id, &record.owner, &forecast.dataset_id).map(|key| WriteOp::Delete { key, condition: Condition::Always }),
    );
    ctx.commit(writes, 204).await?;
    Ok(Reply::no_content())
}
