//! The route table: every API route, its method and path template.
//!
//! One Lambda binary serves each route (its name is [`Route::function_name`]); the local
//! server and the tests resolve a path against the same table, so the three hosts can't
//! drift apart.

use std::collections::HashMap;

use lambda_http::http::Method;

/// One API route. Adding a route starts here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Health,
    GetMe,
    CreateDataset,
    ListDatasets,
    GetDataset,
    UpdateDataset,
    DeleteDataset,
    ShareDataset,
    UnshareDataset,
    ExportDataset,
    CreateForecast,
    ListForecasts,
    GetForecast,
    DeleteForecast,
    ExportForecast,
    AnalyzeDataset,
}

impl Route {
    pub const ALL: [Route; 16] = [
        Route::Health,
        Route::GetMe,
        Route::CreateDataset,
        Route::ListDatasets,
        Route::GetDataset,
        Route::UpdateDataset,
        Route::DeleteDataset,
        Route::ShareDataset,
        Route::UnshareDataset,
        Route::ExportDataset,
        Route::CreateForecast,
        Route::ListForecasts,
        Route::GetForecast,
        Route::DeleteForecast,
        Route::ExportForecast,
        Route::AnalyzeDataset,
    ];

    pub fn method(self) -> Method {
        match self {
            Route::Health
            | Route::GetMe
            | Route::ListDatasets
            | Route::GetDataset
            | Route::ExportDataset
            | Route::ListForecasts
            | Route::GetForecast
            | Route::ExportForecast => Method::GET,
            Route::CreateDataset | Route::CreateForecast | Route::AnalyzeDataset => Method::POST,
            Route::UpdateDataset => Method::PATCH,
            Route::ShareDataset => Method::PUT,
            Route::DeleteDataset | Route::UnshareDataset | Route::DeleteForecast => Method::DELETE,
        }
    }

    /// Path template in API Gateway / OpenAPI syntax.
    pub fn path(self) -> &'static str {
        match self {
            Route::Health => "/health",
            Route::GetMe => "/v1/me",
            Route::CreateDataset | Route::ListDatasets => "/v1/datasets",
            Route::GetDataset | Route::UpdateDataset | Route::DeleteDataset => "/v1/datasets/{datasetId}",
            Route::ShareDataset | Route::UnshareDataset => "/v1/datasets/{datasetId}/shares/{userId}",
            Route::ExportDataset => "/v1/datasets/{datasetId}/export",
            Route::CreateForecast | Route::ListForecasts => "/v1/forecasts",
            Route::ExportForecast => "/v1/forecasts/{forecastId}/export",
            Route::AnalyzeDataset => "/v1/ml/analyze",
            Route::GetForecast | Route::DeleteForecast => "/v1/forecasts/{forecastId}",
        }
    }

    /// Name of the Lambda binary (and of the `events/` file) for this route.
    pub fn function_name(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::GetMe => "get-me",
            Route::CreateDataset => "create-dataset",
            Route::ListDatasets => "list-datasets",
            Route::GetDataset => "get-dataset",
            Route::UpdateDataset => "update-dataset",
            Route::DeleteDataset => "delete-dataset",
            Route::ShareDataset => "share-dataset",
            Route::UnshareDataset => "unshare-dataset",
            Route::ExportDataset => "export-dataset",
            Route::CreateForecast => "create-forecast",
            Route::ListForecasts => "list-forecasts",
            Route::GetForecast => "get-forecast",
            Route::DeleteForecast => "delete-forecast",
            Route::ExportForecast => "export-forecast",
            Route::AnalyzeDataset => "analyze-dataset",
        }
    }

    /// Whether the route reads or writes blobs. Only these functions link the S3 client
    /// (their `main` passes `S3Blobs`) and get S3 permissions in `template.yaml`.
    pub fn uses_blobs(self) -> bool {
        matches!(
            self,
            Route::CreateDataset
                | Route::ExportDataset
                | Route::CreateForecast
                | Route::GetForecast
                | Route::ExportForecast
                | Route::AnalyzeDataset
        )
    }

    /// Whether the route pages through a list with sealed cursors: its function reads the
    /// deployment's cursor key and may create it (`crate::cursor`), so `template.yaml`
    /// lets it read and put that one item, and no other route may put there.
    pub fn pages(self) -> bool {
        matches!(self, Route::ListDatasets | Route::ListForecasts)
    }

    /// How long a request may run before it answers `time-budget-exceeded`: below the
    /// function's `Timeout` in `template.yaml` (a contract test ties them), which is below
    /// API Gateway's 29 s integration limit, so a client never meets a gateway timeout.
    pub fn time_budget(self) -> std::time::Duration {
        match self {
            Route::CreateForecast | Route::AnalyzeDataset => std::time::Duration::from_secs(25),
            _ => std::time::Duration::from_secs(8),
        }
    }

    /// Whether the route is reachable without a token (only `/health`, SR-36).
    pub fn is_public(self) -> bool {
        matches!(self, Route::Health)
    }

    /// Methods served at the path template `path`, in a stable order, with `OPTIONS`
    /// (preflights are answered everywhere): the `Allow` header of a 405.
    pub fn methods_at(path: &str) -> Vec<Method> {
        let mut methods: Vec<Method> = Self::ALL.iter().filter(|r| r.path() == path).map(|r| r.method()).collect();
        methods.push(Method::OPTIONS);
        methods
    }

    /// Finds the route for a method and a concrete path, with its path parameters. When no
    /// route matches, the error holds the methods the path is served with: none means 404,
    /// some means 405 with those in `Allow`.
    pub fn resolve(method: &Method, path: &str) -> Result<(Route, HashMap<String, String>), Vec<Method>> {
        let mut template = None;
        for route in Self::ALL {
            if let Some(params) = match_template(route.path(), path) {
                if route.method() == *method {
                    return Ok((route, params));
                }
                template = Some(route.path());
            }
        }
        Err(template.map(Self::methods_at).unwrap_or_default())
    }
}

fn match_template(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let mut params = HashMap::new();
    let mut template_parts = template.split('/');
    let mut path_parts = path.split('/');
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(t), Some(p)) => {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    if p.is_empty() {
                        return None;
                    }
                    params.insert(name.to_owned(), p.to_owned());
                } else if t != p {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_resolves_to_itself() {
        for route in Route::ALL {
            let concrete = route.path().replace("{datasetId}", "d1").replace("{userId}", "u1").replace("{forecastId}", "f1");
            let (found, _) = Route::resolve(&route.method(), &concrete).unwrap();
            assert_eq!(found, route);
        }
    }

    #[test]
    fn path_parameters_are_extracted() {
        let (route, params) = Route::resolve(&Method::PUT, "/v1/datasets/abc/shares/u-9").unwrap();
        assert_eq!(route, Route::ShareDataset);
        assert_eq!(params["datasetId"], "abc");
        assert_eq!(params["userId"], "u-9");
    }

    #[test]
    fn unknown_paths_and_wrong_methods_are_told_apart() {
        assert_eq!(Route::resolve(&Method::GET, "/v1/nope"), Err(vec![]));
        assert_eq!(Route::resolve(&Method::POST, "/v1/me"), Err(vec![Method::GET, Method::OPTIONS]));
        assert_eq!(Route::resolve(&Method::PUT, "/v1/datasets/d1"), Err(vec![Method::GET, Method::PATCH, Method::DELETE, Method::OPTIONS]));
        assert_eq!(Route::resolve(&Method::GET, "/v1/datasets//shares/x"), Err(vec![]));
    }

    #[test]
    fn function_names_are_unique() {
        let names: std::collections::HashSet<_> = Route::ALL.iter().map(|r| r.function_name()).collect();
        assert_eq!(names.len(), Route::ALL.len());
    }
}
