//! The three hosts can't drift apart: the route table, `template.yaml`, the OpenAPI
//! document and `events/` name exactly the same routes; and every event file, replayed
//! through its handler as `sam local invoke` would, gets the answer it should.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde_yaml_ng::Value as Yaml;
use shared::audit::{AuditDecision, AuditDraft};
use shared::auth::jwks::{JwkSet, KeyCache};
use shared::domain::dataset::DatasetRecord;
use shared::domain::ids::DatasetId;
use shared::http::RequestMeta;
use shared::http::cors::CorsPolicy;
use shared::keys::dataset as keys;
use shared::sealed_items::SealedItems;
use shared::store::{Condition, Item, WriteOp};
use shared::{AppState, Route};
use store_embedded::FsBlobStore;
use store_embedded::SqliteStore;

fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(relative)
}

/// (method, path, binary) triples.
type RouteSet = BTreeSet<(String, String, String)>;

fn route_table() -> RouteSet {
    Route::ALL.iter().map(|r| (r.method().as_str().to_lowercase(), r.path().to_owned(), r.function_name().to_owned())).collect()
}

fn template_routes() -> RouteSet {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let mut routes = RouteSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("every function names its binary").to_owned();
        assert_eq!(resource["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"));
        let events = resource["Properties"]["Events"].as_mapping().expect("every function has an API event, a schedule or a stream");
        if events.values().all(|event| matches!(event["Type"].as_str(), Some("Schedule" | "DynamoDB"))) {
            // A job: no route calls it; its binary lives with the jobs.
            assert!(repo_file(&format!("functions/src/jobs/{binary}.rs")).exists(), "scheduled function `{binary}` is not a job");
            continue;
        }
        for (_, event) in events {
            assert_eq!(event["Type"].as_str(), Some("Api"));
            let properties = &event["Properties"];
            routes.insert((
                properties["Method"].as_str().unwrap().to_lowercase(),
                properties["Path"].as_str().unwrap().to_owned(),
                binary.clone(),
            ));
        }
    }
    routes
}

#[test]
fn the_template_deploys_exactly_the_routes_the_code_serves() {
    assert_eq!(template_routes(), route_table());
}

#[test]
fn only_health_and_the_session_routes_skip_the_authorizer_in_the_template() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let mut public = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Properties"]["Auth"]["Authorizer"].as_str() == Some("NONE") {
                public.push(event["Properties"]["Path"].as_str().unwrap().to_owned());
            }
        }
    }
    let expected: Vec<String> = Route::ALL.iter().filter(|r| r.skips_authorizer()).map(|r| r.path().to_owned()).collect();
    assert_eq!(public, expected);
    let authorizer = &template["Resources"]["ForecastApi"]["Properties"]["Auth"];
    assert_eq!(authorizer["DefaultAuthorizer"].as_str(), Some("CognitoAuthorizer"));
    assert!(
        authorizer["Authorizers"]["CognitoAuthorizer"]["AuthorizationScopes"].as_sequence().is_some_and(|s| !s.is_empty()),
        "scopes make the authorizer refuse ID tokens"
    );
}

#[test]
fn the_openapi_document_lists_exactly_the_routes_the_code_serves() {
    let document = serde_json::to_value(shared::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let served: BTreeSet<_> = route_table().into_iter().map(|(m, p, _)| (m, p)).collect();
    assert_eq!(documented, served);
}

/// The files of a repository folder by name without `extension`, sorted.
fn file_stems(folder: &str, extension: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_file(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(extension).to_owned())
        .collect();
    names.sort();
    names
}

/// Every route's function name, sorted.
fn function_names() -> Vec<String> {
    let mut names: Vec<String> = Route::ALL.iter().map(|r| r.function_name().to_owned()).collect();
    names.sort();
    names
}

#[test]
fn every_route_has_an_event_file_for_sam_local_invoke() {
    assert_eq!(file_stems("events", ".json"), function_names());
}

const EVENT_OWNER: &str = "d3f1c2a9-0b7d-4c55-9a61-2b7f7f0c9a11";
const EVENT_DATASET: &str = "01939a8e-5f5e-7d3c-9b6a-3c1e2f4a5b6c";

async fn event_state(dir: &std::path::Path) -> AppState {
    let auth =
        shared::config::AuthSettings::for_issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_EXAMPLE", "example-spa-client");
    // The events carry the authorizer's claims, so no key is ever needed.
    let keys = KeyCache::with_keys(JwkSet { keys: vec![] }, auth.jwks_min_refresh);
    let store =
        Arc::new(SealedItems::with_local_keys(Arc::new(SqliteStore::open(&dir.join("store.sqlite3")).unwrap()), &dir.join("master-keys")));
    let blobs = Arc::new(FsBlobStore::new(dir.join("blobs")));
    let mut state = AppState::new(auth, keys, store, blobs, CorsPolicy::new(&["https://app.example.com"]).unwrap()).unwrap();
    state.token_endpoint = Some(Arc::new(RefusingEndpoint));
    state.directory = Some(Arc::new(event_directory(&state)));
    state.audit_digests = Some(shared::audit_digest::DigestStore {
        blobs: Arc::new(FsBlobStore::new(dir.join("audit-digests"))),
        signer: Arc::new(shared::crypto::signing::LocalSigner::new(dir.join("master-keys"))),
    });
    state
}

/// The user the user-route events name.
const EVENT_USER: &str = "7a9c2e41-3b5d-4f60-8e71-9d0a1b2c3d4e";

fn event_directory(state: &AppState) -> shared::identity::embedded::EmbeddedDirectory {
    shared::identity::embedded::EmbeddedDirectory::new(
        Arc::clone(&state.store),
        Arc::new(shared::store::email_index::PlainIndex),
        crate::helpers::cheap_hasher(),
        "https://auth.example.com".into(),
    )
}

/// The events' caller as an admin, and the user the user-route events name, an analyst
/// with an account.
async fn seed_event_users(state: &AppState) {
    crate::helpers::register(state, EVENT_OWNER, shared::auth::Role::Admin).await;
    let invitation = shared::domain::user::Invitation {
        email: shared::domain::user::Email::parse("event.user@example.com").unwrap(),
        name: None,
        role: shared::auth::Role::Analyst,
    };
    let id = shared::domain::ids::UserId::parse(EVENT_USER).unwrap();
    let (_, _, mut writes) = event_directory(state).stage_account_as(id, &invitation, time::OffsetDateTime::now_utc()).await.unwrap();
    writes.push(shared::auth::standing::SecurityRecord::new(shared::auth::Role::Analyst).create(EVENT_USER).unwrap());
    let meta = RequestMeta { request_id: format!("{}event-user", crate::helpers::SETUP_PREFIX), ..Default::default() };
    state.store.commit(writes, &AuditDraft::new("test-setup", "user").finish(&meta, 201)).await.unwrap();
}

/// An identity provider that knows none of the events' codes or refresh tokens.
#[derive(Debug)]
struct RefusingEndpoint;

#[async_trait::async_trait]
impl shared::session::TokenEndpoint for RefusingEndpoint {
    async fn exchange(&self, _: &str, _: &str, _: &str) -> Result<shared::session::Tokens, shared::session::EndpointError> {
        Err(shared::session::EndpointError::Refused)
    }
    async fn refresh(&self, _: &str) -> Result<shared::session::Tokens, shared::session::EndpointError> {
        Err(shared::session::EndpointError::Refused)
    }
    async fn revoke(&self, _: &str) -> Result<(), shared::session::EndpointError> {
        Ok(())
    }
}

/// The dataset the event files refer to, owned by the events' caller.
async fn seed_event_dataset(state: &AppState) {
    let id = DatasetId::parse(EVENT_DATASET).unwrap();
    let record = DatasetRecord {
        id: EVENT_DATASET.into(),
        name: "Daily sales".into(),
        description: String::new(),
        owner: EVENT_OWNER.into(),
        readers: vec![],
        created_at: "2025-11-24T16:00:00.000Z".into(),
        updated_at: "2025-11-24T16:00:00.000Z".into(),
        deleted_at: None,
        size_bytes: 10,
        row_count: 1,
        columns: vec![],
        preview: vec![],
        time_axis: None,
    };
    let writes = vec![
        WriteOp::Put {
            item: Item { key: keys::record(&id), version: 1, body: serde_json::to_value(&record).unwrap() },
            condition: Condition::Absent,
        },
        WriteOp::Put {
            item: Item { key: keys::access_entry(EVENT_OWNER, &id), version: 1, body: serde_json::json!({}) },
            condition: Condition::Absent,
        },
    ];
    let audit = AuditDraft::new("seed", "dataset").finish(&RequestMeta { request_id: "seed".into(), ..Default::default() }, 201);
    state.store.commit(writes, &audit).await.unwrap();
    // Four weeks of daily sales with a weekly pattern, for the forecast events.
    let mut csv = String::from("date,sales\n");
    for day in 0..28 {
        let date = time::macros::date!(2025 - 10 - 01) + time::Duration::days(day);
        csv.push_str(&format!("{date},{}\n", 100 + [0, 5, 9, 4, -3, -8, -7][day as usize % 7] + day as i32));
    }
    let blob = shared::store::BlobKey::parse(&keys::blob(&id)).unwrap();
    state.blobs.put(&blob, csv.into_bytes(), "text/csv").await.unwrap();
}

const EVENT_FORECAST: &str = "01939a90-1c2d-7e3f-8a4b-5c6d7e8f9a0b";

/// Stores the forecast the create event produced under the id the get event asks for.
async fn seed_event_forecast(state: &AppState, created: &lambda_http::Response<lambda_http::Body>) {
    let lambda_http::Body::Text(text) = created.body() else { panic!("create-forecast answered without a body") };
    let mut view: shared::domain::forecast::ForecastView = serde_json::from_str(text).unwrap();
    view.id = EVENT_FORECAST.into();
    let id = shared::domain::ids::ForecastId::parse(EVENT_FORECAST).unwrap();
    let record = shared::domain::forecast::ForecastRecord::of(&view);
    let blob = shared::store::BlobKey::parse(&shared::keys::forecast::blob(&id)).unwrap();
    state.blobs.put(&blob, serde_json::to_vec(&view).unwrap(), "application/json").await.unwrap();
    let mut writes = vec![WriteOp::Put {
        item: Item { key: shared::keys::forecast::record(&id), version: 1, body: serde_json::to_value(&record).unwrap() },
        condition: Condition::Absent,
    }];
    let dataset = DatasetId::parse(&view.dataset_id).unwrap();
    writes.extend(
        shared::keys::forecast::entries(&id, &view.owner, &dataset)
            .map(|key| WriteOp::Put { item: Item { key, version: 1, body: serde_json::json!({}) }, condition: Condition::Absent }),
    );
    let audit = AuditDraft::new("seed", "forecast").finish(&RequestMeta { request_id: "seed-forecast".into(), ..Default::default() }, 201);
    state.store.commit(writes, &audit).await.unwrap();
}

#[tokio::test]
async fn every_event_file_replays_through_its_handler() {
    let started = time::OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    let state = event_state(dir.path()).await;
    crate::helpers::register(&state, EVENT_OWNER, shared::auth::Role::Analyst).await;
    seed_event_dataset(&state).await;

    // In the order a user would go: the delete comes last.
    let expectations = [
        (Route::Health, 200),
        (Route::GetMe, 200),
        (Route::CreateDataset, 201),
        (Route::ListDatasets, 200),
        (Route::GetDataset, 200),
        (Route::UpdateDataset, 200),
        (Route::ExportDataset, 200),
        (Route::AnalyzeDataset, 200),
        (Route::CreateForecast, 201),
        (Route::GetForecast, 200),
        (Route::ListForecasts, 200),
        (Route::ExportForecast, 200),
        (Route::DeleteForecast, 204),
        (Route::ShareDataset, 204),
        (Route::UnshareDataset, 204),
        (Route::DeleteDataset, 204),
        (Route::ExchangeCode, 400),
        (Route::RefreshSession, 401),
        (Route::EndSession, 204),
        // The caller becomes an admin here (`seed_event_users`); the delete comes last.
        (Route::ListUsers, 200),
        (Route::InviteUser, 201),
        (Route::GetUser, 200),
        (Route::SignOutUser, 204),
        (Route::ExportUserData, 200),
        (Route::UpdateUser, 200),
        (Route::SearchAudit, 200),
        (Route::ExportAudit, 200),
        (Route::VerifyAudit, 200),
        (Route::GetSettings, 200),
        (Route::UpdateSettings, 200),
        (Route::ListFindings, 200),
        (Route::BlockIp, 200),
        (Route::ListBlockedIps, 200),
        (Route::UnblockIp, 204),
        (Route::ReviewAccess, 200),
        (Route::DeleteUser, 204),
        // An account deleted before: what is left of the person is erased.
        (Route::EraseUser, 200),
    ];
    assert_eq!(expectations.len(), Route::ALL.len(), "every route's event is replayed");
    for (route, status) in expectations {
        if route == Route::ListUsers {
            seed_event_users(&state).await;
        }
        let text = std::fs::read_to_string(repo_file(&format!("events/{}.json", route.function_name()))).unwrap();
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(event["httpMethod"].as_str(), Some(route.method().as_str()), "{route:?}");
        assert_eq!(event["resource"].as_str(), Some(route.path()), "{route:?}");

        let request = lambda_http::request::from_str(&text).unwrap();
        let response = shared::handle(&state, route, request).await;
        assert_eq!(response.status().as_u16(), status, "{route:?}: {:?}", response.body());
        assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example.com", "{route:?}");
        if route == Route::CreateForecast {
            seed_event_forecast(&state, &response).await;
        }
        if route == Route::ListForecasts {
            let lambda_http::Body::Text(text) = response.body() else { panic!("list-forecasts answered without a body") };
            let page: serde_json::Value = serde_json::from_str(text).unwrap();
            assert!(page["items"].as_array().unwrap().iter().any(|f| f["id"] == EVENT_FORECAST), "{page}");
        }

        if route.is_public() {
            continue;
        }
        let request_id = event["requestContext"]["requestId"].as_str().unwrap();
        if route.is_session() {
            // Audited, without a caller: no token came, and the stub refused the grants.
            let records = crate::audit_walk::audit_since(state.store.as_ref(), started).await;
            let record = records.iter().find(|r| r.request_id == request_id).unwrap_or_else(|| panic!("{route:?}: no audit record"));
            assert_eq!((record.action.as_str(), record.status), (route.function_name(), status), "{route:?}");
            continue;
        }
        let records = crate::audit_walk::audit_since(state.store.as_ref(), started).await;
        let record = records.iter().find(|r| r.request_id == request_id).unwrap_or_else(|| panic!("{route:?}: no audit record"));
        assert_eq!(record.actor.as_deref(), Some(EVENT_OWNER));
        assert_eq!(record.source_ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(record.decision, AuditDecision::Allow);
    }
}

#[tokio::test]
async fn an_event_whose_claims_name_another_client_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = event_state(dir.path()).await;
    let mut event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(repo_file("events/get-me.json")).unwrap()).unwrap();
    event["requestContext"]["authorizer"]["claims"]["client_id"] = "another-app".into();
    let response = shared::handle(&state, Route::GetMe, lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    assert_eq!(response.status().as_u16(), 401);
}

#[tokio::test]
async fn the_local_server_serves_every_documented_operation() {
    let app = crate::helpers::spawn_app().await;
    let document = serde_json::to_value(shared::openapi::document()).unwrap();
    for (path, operations) in document["paths"].as_object().unwrap() {
        let concrete = path.replace("{datasetId}", EVENT_DATASET).replace("{userId}", EVENT_OWNER).replace("{forecastId}", EVENT_FORECAST);
        for method in operations.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let answer = app.call(method.clone(), &concrete, None, None).await;
            let (route, _) = Route::resolve(&method, &concrete).unwrap();
            // Without a token: the public route answers, a session route wants the CSRF
            // header first, every other route a token.
            let expected = if route.is_public() {
                200
            } else if route.is_session() {
                403
            } else {
                401
            };
            assert_eq!(answer.status.as_u16(), expected, "{method} {path}: {}", answer.text);
        }
    }
}

#[test]
fn only_functions_whose_route_uses_blobs_link_s3_and_may_touch_the_bucket() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    for route in Route::ALL {
        let main = std::fs::read_to_string(repo_file(&format!("functions/src/bin/{}.rs", route.function_name()))).unwrap();
        let entry = match (route.is_session(), route.uses_directory(), route.uses_blobs()) {
            // Only the verification route links the digests' bucket and key.
            _ if route.reads_audit_digests() => format!("run_audit_digests::<shared::routes::endpoints::{route:?}>()"),
            // Only the session functions link the Secrets Manager SDK.
            (true, _, _) => format!("run_session::<shared::routes::endpoints::{route:?}>()"),
            // Only the user functions link the Cognito SDK.
            (false, true, true) => format!("run_directory_with_blobs::<shared::routes::endpoints::{route:?}>()"),
            (false, true, false) => format!("run_directory::<shared::routes::endpoints::{route:?}>()"),
            (false, false, true) => format!("run::<functions::S3Blobs, shared::routes::endpoints::{route:?}>()"),
            (false, false, false) => format!("run::<functions::NoBlobs, shared::routes::endpoints::{route:?}>()"),
        };
        assert!(main.contains(&entry), "{}: expected {entry}", route.function_name());
        let mut policies = Vec::new();
        strings(&function_of(&template, route)["Properties"]["Policies"], &mut policies);
        assert_eq!(
            policies.iter().any(|a| a.starts_with("secretsmanager:")),
            route.is_session(),
            "{}: only session functions may read the client secret",
            route.function_name()
        );

        assert_eq!(
            policies.iter().any(|a| a.starts_with("cognito-idp:") || a == "ReadUsersPolicy"),
            route.uses_directory(),
            "{}: only user functions may reach the user pool",
            route.function_name()
        );
        let pool = &function_of(&template, route)["Properties"]["Environment"]["Variables"]["USER_POOL_ID"];
        assert_eq!(!pool.is_null(), route.uses_directory(), "{}: USER_POOL_ID", route.function_name());

        let function = function_of(&template, route);
        let mut actions = Vec::new();
        strings(&function["Properties"]["Policies"], &mut actions);
        assert!(actions.iter().any(|a| a.starts_with("kms:")), "{}: policies were not read: {actions:?}", route.function_name());
        assert_eq!(
            actions.iter().any(|a| a.starts_with("s3:")),
            route.uses_blobs() || route.reads_audit_digests(),
            "{}: S3 permissions must match Route::uses_blobs",
            route.function_name()
        );
        if route.reads_audit_digests() {
            let s3: Vec<&String> = actions.iter().filter(|a| a.starts_with("s3:")).collect();
            assert_eq!(s3, ["s3:GetObject"], "{}: reads digests, writes none", route.function_name());
            assert!(text_mentions_digest_bucket(function), "{}: on the digests' bucket", route.function_name());
        }
        // UpdateItem comes only through CallerStandingPolicy, held to the counters, and to
        // erasure on the audit table, held to the record and its index keys.
        let erases = route == Route::EraseUser;
        assert!(
            !actions.iter().any(|a| a.ends_with(":*") || (a == "dynamodb:UpdateItem" && !erases)),
            "{}: no blanket rights: {actions:?}",
            route.function_name()
        );
        if erases {
            let statements =
                function["Properties"]["Policies"].as_sequence().unwrap().iter().filter_map(|p| p["Statement"].as_sequence()).flatten();
            let update =
                statements.clone().find(|s| s["Action"].as_str() == Some("dynamodb:UpdateItem")).expect("erasure updates audit records");
            assert_eq!(
                update["Resource"]["Fn::GetAtt"].as_str().or(update["Resource"].as_str()).map(|r| r.contains("AuditTable")),
                Some(true),
                "{update:?}"
            );
            let mut attributes = Vec::new();
            strings(&update["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"], &mut attributes);
            assert_eq!(attributes, ["pk", "sk", "record", "i_actor", "i_subject", "i_resource", "i_ip"]);
        }
    }
}

/// Every function whose route needs a token may read security records and count rate
/// limits, through the one managed policy that is held to those partitions; the public
/// route gets neither.
#[test]
fn authenticated_functions_may_read_standing_and_count_rates_and_nothing_more() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    for route in Route::ALL {
        let mut policies = Vec::new();
        strings(&function_of(&template, route)["Properties"]["Policies"], &mut policies);
        assert_eq!(policies.iter().any(|p| p == "CallerStandingPolicy"), !route.is_public(), "{}", route.function_name());
    }
    let statements = template["Resources"]["CallerStandingPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    let granted: Vec<(String, Vec<String>)> = statements
        .iter()
        .map(|statement| {
            let mut prefixes = Vec::new();
            strings(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"], &mut prefixes);
            (statement["Action"].as_str().unwrap().to_owned(), prefixes)
        })
        .collect();
    // The partitions the code reads and counts in, as the code names them.
    let records = format!("{}*", shared::auth::standing::PARTITION_PREFIX);
    let counters = format!("{}*", shared::store::rate::PARTITION_PREFIX);
    let blocked = shared::blocklist::key().pk;
    let settings = shared::runtime_settings::key().pk;
    assert_eq!(
        granted,
        [("dynamodb:GetItem".to_owned(), vec![records, blocked, settings]), ("dynamodb:UpdateItem".to_owned(), vec![counters])]
    );
}

/// Every function that reads or writes records may read the branch keys they are sealed
/// under and create the first one, through one managed policy held to their partition.
#[test]
fn record_functions_may_read_and_create_branch_keys_and_nothing_more_through_that_policy() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    for route in Route::ALL {
        let policies = strings_of(&function_of(&template, route)["Properties"]["Policies"]);
        assert_eq!(policies.iter().any(|p| p == "RecordKeysPolicy"), route != Route::Health, "{}", route.function_name());
    }
    let statements = template["Resources"]["RecordKeysPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    let actions = strings_of(&statements[0]["Action"]);
    assert_eq!(actions, ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"]);
    let leading = strings_of(&statements[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]);
    let tag_keys = shared::audit_tags::PARTITION.split_once('#').map(|(prefix, _)| format!("{prefix}#*")).unwrap();
    assert_eq!(leading, [format!("{}*", shared::branch_keys::PARTITION_PREFIX), tag_keys]);
}

/// The list functions may read the cursor key and create it, and that is all they may put
/// into the items table: the permission is held to the key's partition.
#[test]
fn list_functions_may_read_and_create_the_cursor_key_and_put_nothing_else() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let key_partition = shared::cursor::key_item().pk;
    for route in Route::ALL.into_iter().filter(|r| r.pages()) {
        let policies = function_of(&template, route)["Properties"]["Policies"].as_sequence().unwrap();
        // The function's own statements (besides the managed policies it names).
        let statements = policies.iter().find_map(|policy| policy["Statement"].as_sequence()).unwrap();
        let on_items = |action: &'static str| -> Vec<&Yaml> {
            statements
                .iter()
                .filter(|s| {
                    let mut actions = Vec::new();
                    strings(&s["Action"], &mut actions);
                    let mut resource = Vec::new();
                    strings(&s["Resource"], &mut resource);
                    actions.iter().any(|a| a == action) && resource == ["ItemsTable.Arn"]
                })
                .collect()
        };
        assert_eq!(on_items("dynamodb:GetItem").len(), 1, "{}: reads the key", route.function_name());
        let puts = on_items("dynamodb:PutItem");
        assert_eq!(puts.len(), 1, "{}: creates the key", route.function_name());
        let leading = &puts[0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"];
        assert_eq!(
            leading.as_sequence().map(|keys| keys.iter().filter_map(Yaml::as_str).collect::<Vec<_>>()),
            Some(vec![key_partition.as_str()])
        );
    }
}

/// A request gives up at its route's budget, before the function's own timeout, which is
/// below API Gateway's 29-second integration limit: a client never meets a gateway timeout.
#[test]
fn every_route_gives_up_before_its_function_and_the_gateway_time_out() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let default = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();
    for route in Route::ALL {
        let function = function_of(&template, route);
        let timeout = function["Properties"]["Timeout"].as_u64().unwrap_or(default);
        let budget = route.time_budget().as_secs();
        assert!(budget + 2 <= timeout, "{}: budget {budget} s leaves no room before the {timeout} s timeout", route.function_name());
        assert!(timeout < 29, "{}: a {timeout} s timeout reaches API Gateway's 29 s", route.function_name());
    }
}

/// The template's function resource for `route`, found by its binary's name.
fn function_of(template: &Yaml, route: Route) -> &Yaml {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .find(|r| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(route.function_name()))
        .unwrap_or_else(|| panic!("no function for {}", route.function_name()))
}

/// Every string in a YAML tree, through CloudFormation's `!Tags`.
fn strings(value: &Yaml, out: &mut Vec<String>) {
    match value {
        Yaml::String(text) => out.push(text.clone()),
        Yaml::Sequence(items) => items.iter().for_each(|item| strings(item, out)),
        Yaml::Mapping(map) => map.values().for_each(|item| strings(item, out)),
        Yaml::Tagged(tagged) => strings(&tagged.value, out),
        _ => {}
    }
}

/// One binary per route and no other: a binary without a row would deploy a function the
/// route table doesn't know; a row without one would deploy nothing.
#[test]
fn every_route_has_a_binary_and_every_binary_a_route() {
    assert_eq!(file_stems("functions/src/bin", ".rs"), function_names());
}

/// The answer a function gives `method path` from the app's origin, with `headers`.
fn function_answer(route: Route, method: &str, path: &str, headers: &[(&str, &str)]) -> lambda_http::Response<lambda_http::Body> {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let state = event_state(dir.path()).await;
        let mut request = lambda_http::http::Request::builder().method(method).uri(path).header("origin", "https://app.example.com");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        shared::handle(&state, route, request.body(lambda_http::Body::Empty).unwrap()).await
    })
}

/// A comma-separated list as a sorted set of lowercase items.
fn code_list(text: &str) -> Vec<String> {
    let mut items: Vec<String> = text.split(',').map(|s| s.trim().to_lowercase()).collect();
    items.sort();
    items
}

/// An API Gateway header value (`'text'`, quotes doubled inside) as the client sees it.
fn gateway_literal(value: &Yaml) -> String {
    let text = match value {
        Yaml::Tagged(tagged) => tagged.value.as_str().map(|t| t.replace("${AllowedOrigin}", "https://app.example.com")),
        other => other.as_str().map(str::to_owned),
    }
    .unwrap_or_else(|| panic!("not a header value: {value:?}"));
    let inner = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')).unwrap_or_else(|| panic!("unquoted header value {text}"));
    inner.replace("''", "'")
}

/// The answers API Gateway gives itself (a refused token, a throttled request) carry what the
/// functions' answers carry: the security headers, CORS for the app's origin, and on a
/// refused token the bearer challenge.
#[test]
fn the_gateways_own_answers_carry_the_functions_security_and_cors_headers() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    // What a function answers an allowed origin, errors included: its headers are the expectation.
    let answer = function_answer(Route::GetMe, "GET", "/v1/me", &[]);
    assert_eq!(answer.status().as_u16(), 401);
    let mut expected: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| !["content-type", "x-request-id", "access-control-expose-headers"].contains(&name.as_str()))
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap().to_owned()))
        .collect();
    expected.sort();
    assert!(expected.len() >= 10, "the function's answer lost its headers: {expected:?}");

    // A refused token gets the challenge too; other answers don't.
    let challenge = ("www-authenticate".to_owned(), "Bearer".to_owned());
    assert!(expected.contains(&challenge));
    for kind in ["UNAUTHORIZED", "DEFAULT_4XX", "DEFAULT_5XX"] {
        let expected: Vec<_> = expected.iter().filter(|&header| kind == "UNAUTHORIZED" || *header != challenge).cloned().collect();
        let headers = template["Resources"]["ForecastApi"]["Properties"]["GatewayResponses"][kind]["ResponseParameters"]["Headers"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{kind} sets no headers"));
        let mut declared: Vec<(String, String)> =
            headers.iter().map(|(name, value)| (name.as_str().unwrap().to_lowercase(), gateway_literal(value))).collect();
        declared.sort();
        assert_eq!(declared, expected, "{kind}");
    }
}

/// API Gateway answers preflights itself (the authorizer is kept off them): it allows the
/// methods, headers and cache time the functions allow.
#[test]
fn the_gateway_answers_preflights_as_the_functions_do() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let api = &template["Resources"]["ForecastApi"]["Properties"];
    assert_eq!(api["Auth"]["AddDefaultAuthorizerToCorsPreflight"].as_bool(), Some(false));
    let cors = &api["Cors"];
    let list = |value: &Yaml| code_list(&gateway_literal(value));
    let preflight = function_answer(Route::ListDatasets, "OPTIONS", "/v1/datasets", &[("access-control-request-method", "POST")]);
    assert_eq!(preflight.status().as_u16(), 204);
    let header = |name: &str| preflight.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(list(&cors["AllowMethods"]), code_list(&header("access-control-allow-methods")));
    assert_eq!(list(&cors["AllowHeaders"]), code_list(&header("access-control-allow-headers")));
    assert_eq!(gateway_literal(&cors["MaxAge"]), header("access-control-max-age"));
    assert_eq!(gateway_literal(&cors["AllowOrigin"]), header("access-control-allow-origin"));
    assert_eq!(cors["AllowCredentials"].as_bool(), Some(header("access-control-allow-credentials") == "true"));
}

/// A CloudFormation value as text: `!Ref X` and `!GetAtt X.Y` spelled out.
fn cfn(value: &Yaml) -> String {
    match value {
        Yaml::Tagged(tagged) => format!("{} {}", tagged.tag, cfn(&tagged.value)),
        Yaml::Sequence(items) => items.iter().map(cfn).collect::<Vec<_>>().join(","),
        Yaml::String(text) => text.clone(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Number(n) => n.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// The user pool is what the identity controls promise: invite only (SR-10), the password
/// policy (SR-06), TOTP (SR-11), threat protection, kept on deletion; its clients use the
/// code flow with 15-minute access and 7-day refresh tokens that can be revoked (SR-01,
/// SR-02, SR-04); and the WAF stands in front of the pool as it does the API (SR-08).
#[test]
fn the_user_pool_and_its_clients_hold_the_identity_controls() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let resources = &template["Resources"];
    let pool = &resources["UserPool"]["Properties"];
    assert_eq!(cfn(&pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"]), "true");
    let policy = &pool["Policies"]["PasswordPolicy"];
    assert!(policy["MinimumLength"].as_u64().unwrap() >= 12);
    for class in ["RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"] {
        assert_eq!(cfn(&policy[class]), "true", "{class}");
    }
    assert_eq!(cfn(&pool["EnabledMfas"]), "SOFTWARE_TOKEN_MFA");
    assert_eq!(cfn(&pool["UserPoolAddOns"]["AdvancedSecurityMode"]), "ENFORCED");
    assert_eq!(resources["UserPool"]["DeletionPolicy"].as_str(), Some("Retain"));
    let mut groups: Vec<String> = resources
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Cognito::UserPoolGroup"))
        .map(|g| cfn(&g["Properties"]["GroupName"]))
        .collect();
    groups.sort();
    assert_eq!(groups, ["admin", "analyst", "viewer"]);

    for (client, secret) in [("SpaClient", "false"), ("BackendClient", "true")] {
        let client_props = &resources[client]["Properties"];
        assert_eq!(cfn(&client_props["GenerateSecret"]), secret, "{client}");
        assert_eq!(cfn(&client_props["AllowedOAuthFlows"]), "code", "{client}: code flow only");
        assert_eq!(cfn(&client_props["AllowedOAuthScopes"]), "openid,profile,email,forecast-api/api", "{client}");
        assert_eq!(cfn(&client_props["CallbackURLs"]), "!Ref CallbackUrl", "{client}");
        assert_eq!(cfn(&client_props["LogoutURLs"]), "!Ref LogoutUrl", "{client}");
        let validity = ["AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity"].map(|k| cfn(&client_props[k]));
        assert_eq!(validity, ["15", "15", "7"], "{client}");
        let units = &client_props["TokenValidityUnits"];
        assert_eq!([cfn(&units["AccessToken"]), cfn(&units["RefreshToken"])], ["minutes", "days"], "{client}");
        assert_eq!(cfn(&client_props["EnableTokenRevocation"]), "true", "{client}");
        assert_eq!(cfn(&client_props["PreventUserExistenceErrors"]), "ENABLED", "{client}");
        assert_eq!(cfn(&client_props["ExplicitAuthFlows"]), "ALLOW_REFRESH_TOKEN_AUTH", "{client}: no password flows");
    }
    assert_eq!(cfn(&resources["BackendClientSecret"]["Properties"]["SecretString"]), "!GetAtt BackendClient.ClientSecret");

    let mut protected: Vec<String> = resources
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::WAFv2::WebACLAssociation"))
        .map(|a| cfn(&a["Properties"]["ResourceArn"]))
        .collect();
    protected.sort();
    assert_eq!(
        protected,
        [
            "!GetAtt UserPool.Arn",
            "!Sub arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${ForecastApi}/stages/${ForecastApi.Stage}"
        ]
    );
}

/// The template's logical id of `route`'s function.
fn function_id(template: &Yaml, route: Route) -> String {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .find(|(_, r)| r["Metadata"]["BuildProperties"]["Binary"].as_str() == Some(route.function_name()))
        .and_then(|(id, _)| id.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no function for {}", route.function_name()))
}

/// The principals (`!GetAtt <role>.Arn`, as role ids) of key `key`'s policy statement `sid`.
fn key_principals(template: &Yaml, key: &str, sid: &str) -> BTreeSet<String> {
    let statements = template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"].as_sequence().unwrap();
    let statement = statements.iter().find(|s| s["Sid"].as_str() == Some(sid)).unwrap_or_else(|| panic!("{key} has no {sid}"));
    let mut principals = Vec::new();
    strings(&statement["Principal"]["AWS"], &mut principals);
    principals.into_iter().map(|p| p.trim_end_matches(".Arn").to_owned()).collect()
}

/// SR-25, SR-26: each application key is used only by the roles its policy names, and it
/// names exactly the roles of the functions that use it: every function that reads or
/// writes records for the personal-data key and for the audit-integrity key (every one of
/// them writes audit records, tagged under keys it wraps), the functions that touch blobs
/// (through S3) for the dataset-content key, the digest job and the verification route for
/// the digests' bucket; only the digest job signs, only the verification route reads the
/// public key. Every symmetric key rotates; every key has an alias and outlives the stack,
/// and no function's own policy grants these keys.
#[test]
fn application_keys_name_exactly_the_roles_that_use_them() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let roles = |uses: fn(Route) -> bool| -> BTreeSet<String> {
        Route::ALL.iter().copied().filter(|r| uses(*r)).map(|r| format!("{}Role", function_id(&template, r))).collect()
    };
    let jobs = [
        "ResealRecordsFunctionRole".to_owned(),
        "DigestAuditFunctionRole".to_owned(),
        "PurgeExpiredFunctionRole".to_owned(),
        "DetectThreatsFunctionRole".to_owned(),
    ];
    let mut sealing = roles(|r| r != Route::Health);
    sealing.extend(jobs.iter().cloned());
    assert_eq!(key_principals(&template, "PersonalDataKey", "SealAndOpenRecordFields"), sealing);
    assert_eq!(key_principals(&template, "AuditIntegrityKey", "TagAuditRecords"), sealing);
    // Erasure only deletes objects, which takes no key.
    assert_eq!(key_principals(&template, "DatasetContentKey", "ObjectsThroughS3Only"), roles(|r| r.uses_blobs() && r != Route::EraseUser));
    let mut digests = roles(Route::reads_audit_digests);
    digests.insert("DigestAuditFunctionRole".to_owned());
    assert_eq!(key_principals(&template, "AuditIntegrityKey", "DigestsThroughS3Only"), digests);
    assert_eq!(key_principals(&template, "AuditDigestKey", "SignDigests"), BTreeSet::from(["DigestAuditFunctionRole".to_owned()]));
    assert_eq!(key_principals(&template, "AuditDigestKey", "ReadThePublicKey"), roles(Route::reads_audit_digests));
    for key in ["PersonalDataKey", "DatasetContentKey", "AuditIntegrityKey", "AuditDigestKey"] {
        let resource = &template["Resources"][key];
        let symmetric = resource["Properties"]["KeySpec"].is_null();
        assert_eq!(resource["Properties"]["EnableKeyRotation"].as_bool(), symmetric.then_some(true), "{key}");
        assert_eq!(
            (resource["DeletionPolicy"].as_str(), resource["UpdateReplacePolicy"].as_str()),
            (Some("Retain"), Some("Retain")),
            "{key}"
        );
        let aliases = template["Resources"].as_mapping().unwrap().values().filter(|r| {
            r["Type"].as_str() == Some("AWS::KMS::Alias") && strings_of(&r["Properties"]["TargetKeyId"]).contains(&key.to_owned())
        });
        assert_eq!(aliases.count(), 1, "{key} has one alias");
        let functions =
            template["Resources"].as_mapping().unwrap().iter().filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"));
        for (id, function) in functions {
            let granted = strings_of(&function["Properties"]["Policies"]);
            assert!(!granted.iter().any(|s| s.contains(key)), "{id:?} grants itself {key}");
        }
    }
    // The bucket encrypts with the dataset key by default and refuses objects under any other.
    let encryption = strings_of(&template["Resources"]["DatasetBucket"]["Properties"]["BucketEncryption"]);
    assert!(encryption.contains(&"DatasetContentKey.Arn".to_owned()), "{encryption:?}");
    let bucket_policy = template["Resources"]["DatasetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    let pins = bucket_policy.iter().any(|statement| {
        statement["Effect"].as_str() == Some("Deny")
            && statement["Action"].as_str() == Some("s3:PutObject")
            && strings_of(&statement["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"])
                == ["DatasetContentKey.Arn"]
    });
    assert!(pins, "the bucket policy pins the dataset key");
}

fn strings_of(value: &Yaml) -> Vec<String> {
    let mut out = Vec::new();
    strings(value, &mut out);
    out
}

/// A CloudFront path pattern (`*` any run of characters) against a route's path.
fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((prefix, rest)) => path.starts_with(prefix) && (rest.is_empty() || path.ends_with(rest)),
    }
}

/// The web app's hosting: a private bucket only its distribution reads, over TLS; the
/// app's pages under the same strict policy the local server sends; every API route
/// reachable on the app's origin and never cached; and a `config.json` with exactly the
/// settings the app reads.
#[test]
fn the_web_app_is_served_privately_under_its_policy_with_the_api_on_its_origin() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let resources = &template["Resources"];

    let bucket = &resources["WebBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for setting in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(cfn(&block[setting]), "true", "{setting}");
    }
    let statements = resources["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].as_sequence().unwrap();
    let allows: Vec<&Yaml> = statements.iter().filter(|s| s["Effect"].as_str() == Some("Allow")).collect();
    assert_eq!(allows.len(), 1, "one reader");
    assert_eq!(cfn(&allows[0]["Principal"]["Service"]), "cloudfront.amazonaws.com");
    assert_eq!(cfn(&allows[0]["Action"]), "s3:GetObject");
    assert!(cfn(&allows[0]["Condition"]["StringEquals"]["AWS:SourceArn"]).ends_with(":distribution/${WebDistribution}"));
    assert!(
        statements.iter().any(|s| s["Effect"].as_str() == Some("Deny") && cfn(&s["Condition"]["Bool"]["aws:SecureTransport"]) == "false")
    );

    let distribution = &resources["WebDistribution"]["Properties"]["DistributionConfig"];
    let default = &distribution["DefaultCacheBehavior"];
    assert_eq!(cfn(&default["TargetOriginId"]), "app");
    assert_eq!(cfn(&default["ViewerProtocolPolicy"]), "redirect-to-https");
    assert_eq!(cfn(&default["ResponseHeadersPolicyId"]), "!Ref WebHeadersPolicy");
    let origins = distribution["Origins"].as_sequence().unwrap();
    let app_origin = origins.iter().find(|o| o["Id"].as_str() == Some("app")).unwrap();
    assert_eq!(cfn(&app_origin["OriginAccessControlId"]), "!GetAtt WebOriginAccessControl.Id");
    assert_eq!(cfn(&app_origin["S3OriginConfig"]["OriginAccessIdentity"]), "", "origin access control, not the legacy identity");

    // Every route the code serves goes to the API, uncached, with its headers and cookies.
    let behaviors = distribution["CacheBehaviors"].as_sequence().unwrap();
    for route in Route::ALL {
        let behavior = behaviors
            .iter()
            .find(|b| path_matches(b["PathPattern"].as_str().unwrap(), route.path()))
            .unwrap_or_else(|| panic!("{} is served from the app's bucket", route.path()));
        assert_eq!(cfn(&behavior["TargetOriginId"]), "api", "{}", route.path());
        assert_eq!(cfn(&behavior["CachePolicyId"]), "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "{}: CachingDisabled", route.path());
        assert_eq!(
            cfn(&behavior["OriginRequestPolicyId"]),
            "b689b0a8-53d0-40ab-baf2-68738e2966ac",
            "{}: AllViewerExceptHostHeader",
            route.path()
        );
        assert!(cfn(&behavior["AllowedMethods"]).split(',').any(|m| m == route.method().as_str()), "{}", route.path());
    }

    // The same policy as the local server's, and strict on its own terms.
    let security = &resources["WebHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"];
    let policy = cfn(&security["ContentSecurityPolicy"]["ContentSecurityPolicy"]);
    assert_eq!(policy, shared::http::headers::WEB_CONTENT_SECURITY_POLICY);
    for directive in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]
    {
        assert!(policy.split("; ").any(|d| d == directive), "{directive}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(cfn(&security["FrameOptions"]["FrameOption"]), "DENY");
    assert!(security["StrictTransportSecurity"]["AccessControlMaxAgeSec"].as_u64().unwrap() >= 31_536_000);

    // config.json: the fields the app reads, no more, no fewer; the scope the authorizer wants.
    let config_source = std::fs::read_to_string(repo_file("web/src/config.ts")).unwrap();
    let fields_line = config_source.lines().find(|l| l.starts_with("const FIELDS")).expect("config.ts lists its fields");
    let mut wanted: Vec<String> = fields_line.split('"').skip(1).step_by(2).map(str::to_owned).collect();
    wanted.sort();
    let output = cfn(&template["Outputs"]["WebConfig"]["Value"]);
    let json_text = output.strip_prefix("!Sub ").unwrap();
    let placeholders = without_references(json_text);
    let config: serde_json::Value = serde_json::from_str(&placeholders).unwrap();
    let mut given: Vec<String> = config.as_object().unwrap().keys().cloned().collect();
    given.sort();
    assert_eq!(given, wanted);
    let authorizer_scopes = cfn(&resources["ForecastApi"]["Properties"]["Auth"]["Authorizers"]["CognitoAuthorizer"]["AuthorizationScopes"]);
    assert!(config["scope"].as_str().unwrap().split(' ').any(|s| s == authorizer_scopes), "{config}");
    assert_eq!(config["apiBaseUrl"], "", "the API is on the app's origin");
}

/// `${Name}` references replaced by a placeholder, so a `!Sub` of JSON parses.
fn without_references(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push('X');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a function's policies name the digests' bucket.
fn text_mentions_digest_bucket(function: &Yaml) -> bool {
    serde_yaml_ng::to_string(&function["Properties"]["Policies"]).unwrap().contains("AuditDigestBucket.Arn")
}

/// SR-21: the alarms watch metrics the code emits, in its namespace, and tell the topic;
/// each metric the pipeline and the detector emit has an alarm but the per-request count
/// and the client errors (which are the callers' own).
#[test]
fn the_alarms_watch_the_metrics_the_code_emits() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let alarms: Vec<&Yaml> =
        template["Resources"].as_mapping().unwrap().values().filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")).collect();
    let mut watched: Vec<&str> = Vec::new();
    for alarm in &alarms {
        let properties = &alarm["Properties"];
        assert_eq!(properties["Namespace"].as_str(), Some(shared::telemetry::METRIC_NAMESPACE));
        let metric = properties["MetricName"].as_str().unwrap();
        assert!(shared::telemetry::METRIC_NAMES.contains(&metric), "{metric} is not a metric the code emits");
        assert_eq!(strings_of(&properties["AlarmActions"]), ["AlarmTopic"], "{metric}");
        watched.push(metric);
    }
    watched.sort_unstable();
    assert_eq!(watched, ["AuthenticationFailures", "Denied", "Latency", "ServerErrors", "ThreatFindings"]);
}

/// The statements a function's role holds: its own and those of the managed policies it
/// names by `!Ref`.
fn role_statements<'t>(template: &'t Yaml, function: &'t Yaml) -> Vec<&'t Yaml> {
    let mut statements = Vec::new();
    for policy in function["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        match policy["Statement"].as_sequence() {
            Some(own) => statements.extend(own),
            None => {
                for name in strings_of(policy) {
                    let managed = &template["Resources"][name.as_str()]["Properties"]["PolicyDocument"]["Statement"];
                    statements.extend(managed.as_sequence().into_iter().flatten());
                }
            }
        }
    }
    statements
}

/// Whether `statements` let a role `action` an item of the items table under partition
/// `pk` (no leading-key condition, or one whose patterns match it).
fn may_on_items(statements: &[&Yaml], action: &str, pk: &str) -> bool {
    statements.iter().any(|statement| {
        let on_items = strings_of(&statement["Resource"]).iter().any(|r| r.starts_with("ItemsTable"));
        let acts = strings_of(&statement["Action"]).iter().any(|a| a == action);
        let mut patterns = Vec::new();
        strings(&statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"], &mut patterns);
        strings(&statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"], &mut patterns);
        let keys_ok =
            patterns.is_empty() || patterns.iter().any(|p| p == pk || p.strip_suffix('*').is_some_and(|prefix| pk.starts_with(prefix)));
        on_items && acts && keys_ok
    })
}

/// Every function but `/health` writes audit records, and each record's expiry is its time
/// plus the audit retention in the run-time settings (`SETTINGS` / `CURRENT`), which the
/// store layer reads: a role that can't read it would fail every request in AWS (moto and
/// DynamoDB Local enforce no IAM, so only this test can see it).
#[test]
fn every_function_that_writes_audit_records_may_read_the_settings() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).unwrap();
    let template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let mut checked = 0;
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function")
            || resource["Metadata"]["BuildProperties"]["Binary"].as_str() == Some("health")
        {
            continue;
        }
        let statements = role_statements(&template, resource);
        assert!(
            may_on_items(&statements, "dynamodb:GetItem", "SETTINGS"),
            "{id:?} can't read the settings its audit records' expiry comes from"
        );
        checked += 1;
    }
    assert_eq!(checked, Route::ALL.len() - 1 + 4, "every route's function but health's, and the four jobs");
}
