//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::handlers::{analysis, datasets, forecasts, health, me};

#[derive(OpenApi)]
#[openapi(
    info(title = "Forecast API", description = "Time-series datasets, forecasts and analyses, with audited role-based access."),
    paths(health::get, me::get, datasets::create, datasets::list, datasets::get, datasets::update, datasets::delete, datasets::share, datasets::unshare, datasets::export, forecasts::create, forecasts::list, forecasts::get, forecasts::delete, forecasts::export, analysis::analyze),
    components(schemas(crate::domain::export::ExportFormat)),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description =
            Some("Cognito access token (RS256), from the Hosted UI with PKCE or the local server's `token` command".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as JSON.
pub fn json() -> String {
    document().to_pretty_json().unwrap_or_default()
}
