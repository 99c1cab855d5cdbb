//! The OpenAPI 3.1 document, generated from the handlers' annotations. Its paths are those
//! of the route table ([`crate::routes::RoutePaths`]), so a route can't go undocumented.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Forecast API", description = "Time-series datasets, forecasts and analyses, with audited role-based access."),
    // Types only parameters refer to: request and response bodies bring their own.
    components(schemas(crate::domain::export::ExportFormat, crate::domain::ids::DatasetId, crate::domain::ids::ForecastId)),
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
    ApiDoc::openapi().merge_from(crate::routes::RoutePaths::openapi())
}

/// The document as JSON.
pub fn json() -> String {
    document().to_pretty_json().unwrap_or_default()
}
