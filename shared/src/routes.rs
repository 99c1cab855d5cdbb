//! The route table: one row per API route, and the only place a route is declared.
//!
//! A row names the route, its method and path, its Lambda binary (and `events/` file), its
//! handler, the resource type its audit records carry and what it needs beyond the item
//! store. From the rows come [`Route`] and its
//! metadata, the endpoint types the binaries name, [`handle`] for hosts that serve every
//! route, and the OpenAPI path list. The template, `events/`, the binaries and the
//! policies are checked against the rows by the contract tests (`tests/tests/api/contract.rs`).

use crate::handlers::{
    access_review, analysis, audit_log, datasets, forecasts, health, me, personal_data, security, session, settings, users,
};
use crate::http::routes::{Need, route_table};

route_table! {
    // route       method path                                       function          handler            resource type   needs
    Health         GET    "/health"                                  "health"          health::get        "health"        [Public];
    GetMe          GET    "/v1/me"                                   "get-me"          me::get            "user"          [Directory];
    CreateDataset  POST   "/v1/datasets"                             "create-dataset"  datasets::create   "dataset"       [Blobs];
    ListDatasets   GET    "/v1/datasets"                             "list-datasets"   datasets::list     "dataset"       [Pages];
    GetDataset     GET    "/v1/datasets/{datasetId}"                 "get-dataset"     datasets::get      "dataset"       [];
    UpdateDataset  PATCH  "/v1/datasets/{datasetId}"                 "update-dataset"  datasets::update   "dataset"       [];
    DeleteDataset  DELETE "/v1/datasets/{datasetId}"                 "delete-dataset"  datasets::delete   "dataset"       [];
    ShareDataset   PUT    "/v1/datasets/{datasetId}/shares/{userId}" "share-dataset"   datasets::share    "dataset-share" [];
    UnshareDataset DELETE "/v1/datasets/{datasetId}/shares/{userId}" "unshare-dataset" datasets::unshare  "dataset-share" [];
    ExportDataset  GET    "/v1/datasets/{datasetId}/export"          "export-dataset"  datasets::export   "dataset"       [Blobs];
    CreateForecast POST   "/v1/forecasts"                            "create-forecast" forecasts::create  "forecast"      [Blobs, Compute];
    ListForecasts  GET    "/v1/forecasts"                            "list-forecasts"  forecasts::list    "forecast"      [Pages];
    GetForecast    GET    "/v1/forecasts/{forecastId}"               "get-forecast"    forecasts::get     "forecast"      [Blobs];
    DeleteForecast DELETE "/v1/forecasts/{forecastId}"               "delete-forecast" forecasts::delete  "forecast"      [];
    ExportForecast GET    "/v1/forecasts/{forecastId}/export"        "export-forecast" forecasts::export  "forecast"      [Blobs];
    AnalyzeDataset POST   "/v1/ml/analyze"                           "analyze-dataset" analysis::analyze  "dataset"       [Blobs, Compute];
    ExchangeCode   POST   "/auth/token"                              "auth-token"      session::exchange  "session"       [Session];
    RefreshSession POST   "/auth/refresh"                            "auth-refresh"    session::refresh   "session"       [Session];
    EndSession     POST   "/auth/logout"                             "auth-logout"     session::logout    "session"       [Session];
    ListUsers      GET    "/v1/users"                                "list-users"      users::list        "user"          [Directory, Pages];
    InviteUser     POST   "/v1/users"                                "invite-user"     users::invite      "user"          [Directory];
    GetUser        GET    "/v1/users/{userId}"                       "get-user"        users::get         "user"          [Directory];
    UpdateUser     PATCH  "/v1/users/{userId}"                       "update-user"     users::update      "user"          [Directory];
    DeleteUser     DELETE "/v1/users/{userId}"                       "delete-user"     users::delete      "user"          [Directory];
    SignOutUser    POST   "/v1/users/{userId}/sign-out"              "sign-out-user"   users::sign_out    "user"          [Directory];
    ExportUserData GET    "/v1/users/{userId}/data-export"           "export-user-data" personal_data::export "user"      [Directory];
    EraseUser      POST   "/v1/users/{userId}/erase"                 "erase-user"      personal_data::erase "user"        [Directory, Blobs];
    SearchAudit    GET    "/v1/admin/audit"                          "search-audit"    audit_log::search_records "audit"   [Pages];
    ExportAudit    GET    "/v1/admin/audit/export"                   "export-audit"    audit_log::export  "audit"         [Pages];
    VerifyAudit    GET    "/v1/admin/audit/verify"                   "verify-audit"    audit_log::verify  "audit"         [AuditDigests];
    GetSettings    GET    "/v1/admin/settings"                       "get-settings"    settings::get      "settings"      [];
    UpdateSettings PATCH  "/v1/admin/settings"                       "update-settings" settings::update   "settings"      [];
    ListFindings   GET    "/v1/admin/findings"                       "list-findings"   security::list_findings "finding"  [Pages];
    ListBlockedIps GET    "/v1/admin/blocked-ips"                    "list-blocked-ips" security::list_blocked "blocked-ip" [];
    BlockIp        PUT    "/v1/admin/blocked-ips/{ip}"               "block-ip"        security::block    "blocked-ip"    [];
    UnblockIp      DELETE "/v1/admin/blocked-ips/{ip}"               "unblock-ip"      security::unblock  "blocked-ip"    [];
    ReviewAccess   GET    "/v1/admin/access-review"                  "review-access"   access_review::review "access-review" [Directory];
}
