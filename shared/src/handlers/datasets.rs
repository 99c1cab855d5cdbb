//! `/v1/datasets`: create, list, read, rename, delete and share datasets.
//!
//! Every handler authenticates, loads what the policy needs, asks the policy, and only
//! then reads bodies or touches blobs. Someone else's dataset answers 404 whether it
//! exists or not (SR-14).

use lambda_http::Request;
use serde_json::Value;

use super::paging::{PageRequest, load_page};
use super::{Ctx, blob_error, blob_key, now, path_param, read_blob, store_error};
use crate::auth::{Principal, Role};
use crate::authz::{Action, Resource};
use crate::domain::csv_table;
use crate::domain::dataset::{
    CreateDataset, DatasetPage, DatasetRecord, DatasetView, ListedDataset, MAX_READERS, UpdateDataset, validate_description, validate_name,
};
use crate::domain::export::{self, ExportFormat};
use crate::domain::ids::{DatasetId, UserId};
use crate::error::{ApiError, Problem, responses};
use crate::http::Reply;
use crate::http::request::{json_body, query_param};
use crate::keys::dataset as keys;
use crate::store::{Condition, Item, WriteOp};

const COLLECTION: Resource<'static> = Resource::Collection("datasets");

/// A dataset as loaded for a request: the record and the version it was read at.
struct Loaded {
    id: DatasetId,
    record: DatasetRecord,
    version: u64,
}

impl Loaded {
    fn resource(&self) -> Resource<'_> {
        Resource::dataset(&self.record)
    }

    /// The record with a new reader list.
    fn with_readers(&self, readers: Vec<String>) -> DatasetRecord {
        DatasetRecord { readers, updated_at: now(), ..self.record.clone() }
    }

    /// The record at its next version, conditioned on nobody having changed it since.
    fn put_next(&self, record: &DatasetRecord) -> Result<WriteOp, ApiError> {
        Ok(WriteOp::Put {
            item: Item { key: keys::record(&self.id), version: self.version + 1, body: to_body(record)? },
            condition: Condition::Version(self.version),
        })
    }
}

fn to_body(record: &DatasetRecord) -> Result<Value, ApiError> {
    serde_json::to_value(record).map_err(ApiError::internal)
}

/// Loads a live dataset; missing and soft-deleted ones are both "not found".
async fn load(ctx: &mut Ctx<'_>, req: &Request) -> Result<Loaded, ApiError> {
    let id = DatasetId::parse(&path_param(req, "datasetId")?)?;
    ctx.audit.resource_id = Some(id.to_string());
    let (record, version) = find(ctx, &id).await?.ok_or(ApiError::NotFound)?;
    Ok(Loaded { id, record, version })
}

/// A live dataset's record and version, or `None` when it is missing or soft-deleted.
pub(crate) async fn find(ctx: &Ctx<'_>, id: &DatasetId) -> Result<Option<(DatasetRecord, u64)>, ApiError> {
    let Some(item) = ctx.state.store.get(&keys::record(id)).await.map_err(store_error)? else { return Ok(None) };
    let record: DatasetRecord = serde_json::from_value(item.body).map_err(ApiError::internal)?;
    Ok(record.deleted_at.is_none().then_some((record, item.version)))
}

/// A dataset id given in a request body or query (a malformed one is a 400 on `dataset_id`).
pub(crate) fn parse_dataset_id(raw: &str) -> Result<DatasetId, ApiError> {
    DatasetId::parse(raw).map_err(|_| ApiError::validation("dataset_id", "`dataset_id` is not a dataset id"))
}

/// A live dataset another resource is made from, once the caller may read it: a dataset
/// they can't read doesn't exist for them (404). The read decision is the request's.
pub(crate) async fn readable_dataset(ctx: &mut Ctx<'_>, principal: &Principal, id: &DatasetId) -> Result<DatasetRecord, ApiError> {
    let (dataset, _) = find(ctx, id).await?.ok_or(ApiError::NotFound)?;
    if !ctx.decide(principal, Action::ReadDataset, &Resource::dataset(&dataset))? {
        return Err(ApiError::NotFound);
    }
    Ok(dataset)
}

/// A dataset's CSV content (stored only after it passed inspection, so always UTF-8).
pub(crate) async fn read_content(ctx: &Ctx<'_>, id: &DatasetId) -> Result<String, ApiError> {
    let content = read_blob(ctx, &keys::blob(id), "dataset content").await?;
    String::from_utf8(content).map_err(ApiError::internal)
}

/// Authorizes `action` on a loaded dataset: 404 if the caller may not even read it
/// (its existence is not theirs to learn), 403 if they may read but not do this.
fn authorize_dataset(ctx: &mut Ctx<'_>, principal: &Principal, action: Action, dataset: &Loaded) -> Result<(), ApiError> {
    if ctx.decide(principal, action, &dataset.resource())? {
        return Ok(());
    }
    if action != Action::ReadDataset && ctx.can(principal, Action::ReadDataset, &dataset.resource()) {
        return Err(ApiError::Forbidden);
    }
    Err(ApiError::NotFound)
}

fn view_for(ctx: &Ctx<'_>, principal: &Principal, dataset: &Loaded) -> DatasetView {
    let show_readers = ctx.can(principal, Action::ShareDataset, &dataset.resource());
    dataset.record.view(dataset.version, show_readers)
}

/// Create a dataset from CSV content.
#[utoipa::path(post, path = "/v1/datasets", operation_id = "createDataset", tag = "datasets",
    request_body = CreateDataset,
    responses(
        (status = 201, description = "Created", body = DatasetView),
        (status = 400, description = "Invalid body or CSV", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Role may not create datasets", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::CreateDataset, &COLLECTION)?;

    let body: CreateDataset = json_body(req, ctx.state.limits.max_body_bytes)?;
    let name = validate_name(&body.name)?;
    let description = validate_description(&body.description)?;
    let (csv, limits) = (body.csv, ctx.state.limits.csv);
    let (summary, csv) = ctx.state.compute.run(move || csv_table::inspect(&csv, &limits).map(|summary| (summary, csv))).await??;

    let id = DatasetId::new();
    ctx.audit.resource_id = Some(id.to_string());
    let created_at = now();
    let record = DatasetRecord {
        id: id.to_string(),
        name,
        description,
        owner: principal.subject.clone(),
        readers: Vec::new(),
        created_at: created_at.clone(),
        updated_at: created_at,
        deleted_at: None,
        size_bytes: csv.len() as u64,
        row_count: summary.row_count,
        columns: summary.columns,
        preview: summary.preview,
        time_axis: summary.time_axis,
    };

    // The blob goes first: if the metadata commit then fails, the orphan is removed and the
    // dataset never appears; a dataset whose metadata exists always has its content.
    let blob_key = blob_key(&keys::blob(&id))?;
    ctx.state.blobs.put(&blob_key, csv.into_bytes(), "text/csv").await.map_err(blob_error)?;

    let writes = vec![
        WriteOp::Put { item: Item { key: keys::record(&id), version: 1, body: to_body(&record)? }, condition: Condition::Absent },
        WriteOp::Put {
            item: Item { key: keys::catalogue_entry(&id), version: 1, body: Value::Object(Default::default()) },
            condition: Condition::Absent,
        },
        WriteOp::Put {
            item: Item { key: keys::access_entry(&principal.subject, &id), version: 1, body: serde_json::json!({"relation": "owner"}) },
            condition: Condition::Absent,
        },
    ];
    if let Err(error) = ctx.commit(writes, 201).await {
        if let Err(cleanup) = ctx.state.blobs.delete(&blob_key).await {
            tracing::warn!(cause = %cleanup, blob = blob_key.as_str(), "orphaned dataset content left in blob storage; nothing removes it yet");
        }
        return Err(error);
    }
    let location = format!("/v1/datasets/{id}");
    Ok(Reply::created(&record.view(1, true), location)?.at_version(1))
}

/// List the datasets the caller may read: all for admins, own and shared for analysts,
/// shared for viewers. Oldest first.
#[utoipa::path(get, path = "/v1/datasets", operation_id = "listDatasets", tag = "datasets",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, 1 to 100 (default 25)"),
        ("cursor" = Option<String>, Query, max_length = 200, description = "Opaque cursor from the previous page of the same list; valid only for the caller it was given to"),
    ),
    responses(
        (status = 200, description = "A page of datasets", body = DatasetPage),
        (status = 400, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
    ))]
pub async fn list(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    ctx.authorize(&principal, Action::ListDatasets, &COLLECTION)?;
    let wanted = PageRequest::from_query(req)?;

    let partitions =
        if principal.role == Role::Admin { keys::catalogue_partitions() } else { vec![keys::access_partition(&principal.subject)] };
    let (page, next_cursor) =
        load_page(ctx, &principal.subject, (&partitions, keys::ENTRY_PREFIX), &wanted, |id| DatasetId::parse(id).ok(), keys::record)
            .await?;

    // The list decides what is considered; the policy still has the last word on each
    // item, decided once per relation to the caller (`authz::DecisionMemo`).
    let mut decisions = ctx.state.authorizer.memo(&principal);
    let mut items = Vec::with_capacity(page.len());
    for (_, item) in &page {
        let record = ListedDataset::parse(&item.json).map_err(ApiError::internal)?;
        if !record.is_deleted() && decisions.can(Action::ReadDataset, &Resource::listed_dataset(&record)) {
            let show_readers = decisions.can(Action::ShareDataset, &Resource::listed_dataset(&record));
            items.push(record.into_summary(item.version, show_readers));
        }
    }
    Reply::ok(&DatasetPage { items, next_cursor })
}

/// Read one dataset's metadata and preview.
#[utoipa::path(get, path = "/v1/datasets/{datasetId}", operation_id = "getDataset", tag = "datasets",
    params(("datasetId" = DatasetId, Path, description = "Dataset id (UUID)")),
    responses(
        (status = 200, description = "The dataset", body = DatasetView),
        responses::Unauthenticated,
        responses::TooManyRequests,
        responses::DatasetNotFound,
    ))]
pub async fn get(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let dataset = load(ctx, req).await?;
    authorize_dataset(ctx, &principal, Action::ReadDataset, &dataset)?;
    Ok(Reply::ok(&view_for(ctx, &principal, &dataset))?.at_version(dataset.version))
}

/// Export a dataset's content as CSV (formula-like cells neutralised) or as typed JSON.
#[utoipa::path(get, path = "/v1/datasets/{datasetId}/export", operation_id = "exportDataset", tag = "datasets",
    params(
        ("datasetId" = DatasetId, Path, description = "Dataset id (UUID)"),
        ("format" = Option<ExportFormat>, Query, description = "`csv` (default) or `json`"),
    ),
    responses(
        (status = 200, description = "The dataset as a file", content(("text/csv"), ("application/json"))),
        (status = 400, description = "Unknown format", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        responses::DatasetNotFound,
    ))]
pub async fn export(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let dataset = load(ctx, req).await?;
    authorize_dataset(ctx, &principal, Action::ReadDataset, &dataset)?;
    let format = ExportFormat::parse(query_param(req, "format")?.as_deref())?;
    let content = read_content(ctx, &dataset.id).await?;
    let text = match format {
        ExportFormat::Csv => export::dataset_csv(&content, ctx.state.limits.max_response_bytes)?,
        ExportFormat::Json => export::dataset_json(&dataset.record, &content, ctx.state.limits.max_response_bytes)?,
    };
    Ok(Reply::download(format.content_type(), format!("dataset-{}.{}", dataset.id, format.extension()), text))
}

/// Rename a dataset or change its description.
#[utoipa::path(patch, path = "/v1/datasets/{datasetId}", operation_id = "updateDataset", tag = "datasets",
    params(
        ("datasetId" = DatasetId, Path, description = "Dataset id (UUID)"),
        ("If-Match" = String, Header, description = "The `ETag` of the version this change is based on, or `*`"),
    ),
    request_body = UpdateDataset,
    responses(
        (status = 200, description = "Updated", body = DatasetView),
        (status = 400, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Shared with you read-only", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        (status = 409, description = "Changed concurrently", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
        (status = 428, description = "No `If-Match`", body = Problem, content_type = "application/problem+json"),
        responses::PayloadTooLarge,
        responses::UnsupportedMediaType,
    ))]
pub async fn update(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let dataset = load(ctx, req).await?;
    authorize_dataset(ctx, &principal, Action::UpdateDataset, &dataset)?;
    // A rename or new description replaces what the client saw: it must say what that was.
    ctx.precondition(req, dataset.version, true)?;

    let body: UpdateDataset = json_body(req, ctx.state.limits.max_body_bytes)?;
    if body.name.is_none() && body.description.is_none() {
        return Err(ApiError::Validation { field: None, detail: "nothing to change: give `name` or `description`".into() });
    }
    let mut record = dataset.record.clone();
    if let Some(name) = &body.name {
        record.name = validate_name(name)?;
    }
    if let Some(description) = &body.description {
        record.description = validate_description(description)?;
    }
    record.updated_at = now();
    ctx.commit(vec![dataset.put_next(&record)?], 200).await?;
    let updated = Loaded { id: dataset.id, record, version: dataset.version + 1 };
    Ok(Reply::ok(&view_for(ctx, &principal, &updated))?.at_version(updated.version))
}

/// Delete a dataset. It disappears at once from every read and list, with its shares and
/// the forecasts' access through it. Its record and content are purged after the grace
/// period in the settings (`retention.deleted_days`).
#[utoipa::path(delete, path = "/v1/datasets/{datasetId}", operation_id = "deleteDataset", tag = "datasets",
    params(("datasetId" = DatasetId, Path, description = "Dataset id (UUID)"), ("If-Match" = Option<String>, Header, description = "When given, the change happens only if the dataset is still at this `ETag`")),
    responses(
        (status = 204, description = "Deleted"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Shared with you read-only", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        responses::PreconditionFailed,
    ))]
pub async fn delete(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let principal = ctx.authenticate(req).await?;
    let dataset = load(ctx, req).await?;
    authorize_dataset(ctx, &principal, Action::DeleteDataset, &dataset)?;
    ctx.precondition(req, dataset.version, false)?;

    let mut record = dataset.record.clone();
    let deleted_at = now();
    record.deleted_at = Some(deleted_at.clone());
    let purge = crate::keys::purge::entry(crate::keys::purge::Kind::Dataset, &record.id, &deleted_at);
    let mut writes = vec![
        dataset.put_next(&record)?,
        WriteOp::Put { item: Item { key: purge, version: 1, body: serde_json::json!({}) }, condition: Condition::Absent },
        WriteOp::Delete { key: keys::catalogue_entry(&dataset.id), condition: Condition::Always },
        WriteOp::Delete { key: keys::access_entry(&record.owner, &dataset.id), condition: Condition::Always },
    ];
    writes.extend(
        record.readers.iter().map(|reader| WriteOp::Delete { key: keys::access_entry(reader, &dataset.id), condition: Condition::Always }),
    );
    ctx.commit(writes, 204).await?;
    Ok(Reply::no_content())
}

/// Give a user read access to a dataset. Idempotent.
#[utoipa::path(put, path = "/v1/datasets/{datasetId}/shares/{userId}", operation_id = "shareDataset", tag = "datasets",
    params(("datasetId" = DatasetId, Path, description = "Dataset id (UUID)"), ("If-Match" = Option<String>, Header, description = "When given, the change happens only if the dataset is still at this `ETag`"), ("userId" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "Subject id of the user to share with")),
    responses(
        (status = 204, description = "Shared"),
        (status = 400, description = "Bad user id, or the owner", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Shared with you read-only", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        (status = 409, description = "Too many shares, or changed concurrently", body = Problem, content_type = "application/problem+json"),
        responses::PreconditionFailed,
    ))]
pub async fn share(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (dataset, user) = share_target(ctx, req).await?;

    if user.as_str() == dataset.record.owner {
        return Err(ApiError::validation("userId", "the owner already has access"));
    }
    if dataset.record.readers.iter().any(|r| r == user.as_str()) {
        return Ok(Reply::no_content().at_version(dataset.version));
    }
    if dataset.record.readers.len() >= MAX_READERS {
        return Err(ApiError::Conflict(format!("a dataset can be shared with at most {MAX_READERS} users")));
    }
    let mut readers = dataset.record.readers.clone();
    readers.push(user.as_str().to_owned());
    let writes = vec![
        dataset.put_next(&dataset.with_readers(readers))?,
        WriteOp::Put {
            item: Item { key: keys::access_entry(user.as_str(), &dataset.id), version: 1, body: serde_json::json!({"relation": "reader"}) },
            condition: Condition::Always,
        },
    ];
    ctx.commit(writes, 204).await?;
    Ok(Reply::no_content().at_version(dataset.version + 1))
}

/// Take a user's read access away. Idempotent.
#[utoipa::path(delete, path = "/v1/datasets/{datasetId}/shares/{userId}", operation_id = "unshareDataset", tag = "datasets",
    params(("datasetId" = DatasetId, Path, description = "Dataset id (UUID)"), ("If-Match" = Option<String>, Header, description = "When given, the change happens only if the dataset is still at this `ETag`"), ("userId" = String, Path, pattern = "^[A-Za-z0-9_-]{1,128}$", description = "Subject id of the user")),
    responses(
        (status = 204, description = "No longer shared"),
        (status = 400, description = "Bad user id", body = Problem, content_type = "application/problem+json"),
        responses::Unauthenticated,
        responses::TooManyRequests,
        (status = 403, description = "Shared with you read-only", body = Problem, content_type = "application/problem+json"),
        responses::DatasetNotFound,
        responses::PreconditionFailed,
    ))]
pub async fn unshare(ctx: &mut Ctx<'_>, req: &Request) -> Result<Reply, ApiError> {
    let (dataset, user) = share_target(ctx, req).await?;

    if !dataset.record.readers.iter().any(|r| r == user.as_str()) {
        return Ok(Reply::no_content().at_version(dataset.version));
    }
    let readers = dataset.record.readers.iter().filter(|r| *r != user.as_str()).cloned().collect();
    let writes = vec![
        dataset.put_next(&dataset.with_readers(readers))?,
        WriteOp::Delete { key: keys::access_entry(user.as_str(), &dataset.id), condition: Condition::Always },
    ];
    ctx.commit(writes, 204).await?;
    Ok(Reply::no_content().at_version(dataset.version + 1))
}

/// The dataset and user of a share route, once the caller may manage the dataset's shares.
/// The user id is parsed after authorization, so a bad one can't reveal that a dataset exists.
async fn share_target(ctx: &mut Ctx<'_>, req: &Request) -> Result<(Loaded, UserId), ApiError> {
    let principal = ctx.authenticate(req).await?;
    let dataset = load(ctx, req).await?;
    authorize_dataset(ctx, &principal, Action::ShareDataset, &dataset)?;
    ctx.precondition(req, dataset.version, false)?;
    let user = UserId::parse(&path_param(req, "userId")?)?;
    ctx.audit.resource_id = Some(format!("{}:{}", dataset.id, user.as_str()));
    ctx.audit.subject = Some(user.as_str().to_owned());
    Ok((dataset, user))
}
