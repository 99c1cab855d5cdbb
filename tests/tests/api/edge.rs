//! Security headers, CORS and the OpenAPI document, as a browser would meet them.

use reqwest::Method;
use shared::auth::Role;

use crate::helpers::{APP_ORIGIN, sample_dataset, spawn_app};

#[tokio::test]
async fn every_response_carries_the_security_headers_errors_included() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let answers = vec![
        app.call(Method::GET, "/health", None, None).await,
        app.call(Method::GET, "/v1/me", Some(&token), None).await,
        app.call(Method::POST, "/v1/datasets", Some(&token), Some(sample_dataset("x"))).await,
        app.call(Method::GET, "/v1/me", None, None).await,
        app.call(Method::GET, "/v1/datasets/nope", Some(&token), None).await,
        app.call(Method::GET, "/v1/unknown", Some(&token), None).await,
        app.call(Method::DELETE, "/v1/me", Some(&token), None).await,
        app.call_raw(Method::POST, "/v1/datasets", Some(&token), "text/plain", b"x".to_vec()).await,
        app.call(Method::GET, "/openapi.json", None, None).await,
        app.call(Method::GET, "/.well-known/jwks.json", None, None).await,
    ];
    // Written out, not taken from the code's own table, so a header dropped there fails here.
    let expected = [
        ("strict-transport-security", "max-age=31536000; includeSubDomains"),
        ("x-content-type-options", "nosniff"),
        ("cache-control", "no-store"),
        ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-resource-policy", "same-origin"),
    ];
    for answer in answers {
        for (name, value) in expected {
            assert_eq!(answer.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name} on {} {}", answer.status, answer.text);
        }
        assert!(!answer.request_id().is_empty());
        assert!(answer.content_type().starts_with("application/"), "JSON is never sent as anything else");
    }
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let app = spawn_app().await;
    let token = app.token("analyst-1", Role::Analyst).await;
    let call = |origin: &'static str| app.client.get(format!("{}/v1/me", app.base)).bearer_auth(&token).header("origin", origin).send();
    let allowed = call(APP_ORIGIN).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let other = call("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, format!("{}/v1/datasets", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let ok = preflight(APP_ORIGIN).await.unwrap();
    assert_eq!(ok.status().as_u16(), 204, "a preflight carries no token and must not be blocked");
    assert!(ok.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    assert!(ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization"));
    assert_eq!(preflight("https://evil.example").await.unwrap().status().as_u16(), 403);
}

#[tokio::test]
async fn the_openapi_document_is_served_as_3_1() {
    let app = spawn_app().await;
    let answer = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(answer.status.as_u16(), 200);
    assert!(answer.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(answer.body["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(answer.body["paths"]["/health"]["get"]["security"], serde_json::json!([{}]), "/health is public");
}

/// A schema with its `$ref` followed (also through a nullable `oneOf`).
fn resolved(doc: &serde_json::Value, schema: &serde_json::Value) -> serde_json::Value {
    let reference = schema["$ref"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| schema["oneOf"].as_array()?.iter().find_map(|member| member["$ref"].as_str().map(str::to_owned)));
    match reference.as_deref().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => doc["components"]["schemas"][name].clone(),
        None => schema.clone(),
    }
}

/// Every parameter and property that names a dataset or forecast points at the one schema
/// stating what such an id looks like, so no copy of the pattern can drift from the others.
#[test]
fn every_id_in_the_openapi_document_refers_to_the_one_id_schema() {
    let doc = serde_json::to_value(shared::openapi::document()).unwrap();
    let expected = |name: &str| match name {
        "datasetId" | "dataset_id" => Some("#/components/schemas/DatasetId"),
        "forecastId" | "forecast_id" => Some("#/components/schemas/ForecastId"),
        _ => None,
    };
    let refers = |schema: &serde_json::Value, target: &str| schema.to_string().contains(&format!("\"$ref\":\"{target}\""));
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if let Some(target) = parameter["name"].as_str().and_then(expected) {
                    assert!(refers(&parameter["schema"], target), "{method} {path}: {parameter}");
                    checked += 1;
                }
            }
        }
    }
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        for (property, value) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(target) = expected(property) {
                // Responses may say more (a description), requests must refer to the id schema.
                assert!(refers(value, target) || !name.starts_with("Create") && !name.starts_with("Analyze"), "{name}.{property}: {value}");
                checked += usize::from(refers(value, target));
            }
        }
    }
    assert!(checked >= 11, "only {checked} ids found: the document changed shape");

    // And every reference in the document leads somewhere.
    let text = doc.to_string();
    let mut dangling = Vec::new();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        if doc["components"]["schemas"][name].is_null() {
            dangling.push(name.to_owned());
        }
    }
    assert!(dangling.is_empty(), "references to no schema: {dangling:?}");
}

#[test]
fn the_openapi_document_states_the_limits_the_server_enforces() {
    let doc = serde_json::to_value(shared::openapi::document()).unwrap();
    let param = |path: &str, method: &str, name: &str| {
        doc["paths"][path][method]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).cloned().unwrap()["schema"].clone()
    };
    for (path, method) in [("/v1/datasets", "get"), ("/v1/forecasts", "get")] {
        let limit = param(path, method, "limit");
        assert_eq!((limit["minimum"].as_f64(), limit["maximum"].as_f64()), (Some(1.0), Some(100.0)), "{path}");
        assert_eq!(param(path, method, "cursor")["maxLength"], 200, "{path}");
    }
    let uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
    assert_eq!(resolved(&doc, &param("/v1/datasets/{datasetId}", "get", "datasetId"))["pattern"], uuid);
    assert_eq!(resolved(&doc, &param("/v1/forecasts/{forecastId}", "delete", "forecastId"))["pattern"], uuid);
    assert_eq!(resolved(&doc, &param("/v1/forecasts", "get", "dataset_id"))["pattern"], uuid);
    assert_eq!(param("/v1/datasets/{datasetId}/shares/{userId}", "put", "userId")["pattern"], "^[A-Za-z0-9_-]{1,128}$");

    let schema = |name: &str| doc["components"]["schemas"][name]["properties"].clone();
    let create = schema("CreateDataset");
    assert_eq!((create["name"]["minLength"].as_u64(), create["name"]["maxLength"].as_u64()), (Some(1), Some(200)));
    assert_eq!(create["description"]["maxLength"], 2000);
    assert_eq!(create["csv"]["maxLength"], 5_242_880);
    assert_eq!(schema("UpdateDataset")["name"]["maxLength"], 200);
    let forecast = schema("CreateForecast");
    assert_eq!((forecast["horizon"]["minimum"].as_f64(), forecast["horizon"]["maximum"].as_f64()), (Some(1.0), Some(1000.0)));
    assert_eq!((forecast["models"]["minItems"].as_u64(), forecast["models"]["maxItems"].as_u64()), (Some(1), Some(6)));
    assert_eq!(forecast["levels"]["maxItems"], 5);
    assert_eq!(resolved(&doc, &forecast["dataset_id"])["pattern"], uuid);
    assert_eq!(resolved(&doc, &schema("AnalyzeRequest")["dataset_id"])["pattern"], uuid);
    assert_eq!(schema("AnalyzeRequest")["columns"]["maxItems"], 20);
    assert_eq!(doc["components"]["schemas"]["ExportFormat"]["enum"], serde_json::json!(["csv", "json"]));
    let format = param("/v1/datasets/{datasetId}/export", "get", "format").to_string();
    assert!(format.contains("#/components/schemas/ExportFormat"), "{format}");

    for (path, method) in
        [("/v1/datasets", "post"), ("/v1/forecasts", "post"), ("/v1/ml/analyze", "post"), ("/v1/datasets/{datasetId}", "patch")]
    {
        let responses = &doc["paths"][path][method]["responses"];
        for status in ["400", "413", "415"] {
            assert!(responses[status].is_object(), "{method} {path} does not document {status}");
        }
    }
    let update = &doc["paths"]["/v1/datasets/{datasetId}"]["patch"]["responses"];
    assert!(update["412"].is_object() && update["428"].is_object());
}
