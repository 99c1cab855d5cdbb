//! What a route is: its metadata ([`RouteSpec`]), and how a method and a concrete path
//! resolve to one.
//!
//! The routes themselves are the rows of [`crate::routes`], through [`route_table!`]; one
//! Lambda binary serves each (its name is [`Route::function_name`]), and the local server
//! and the tests resolve paths against the same rows, so the hosts can't drift apart.

use std::collections::HashMap;
use std::time::Duration;

use lambda_http::http::Method;

pub use crate::routes::Route;

/// What a route needs beyond the item store and the policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reachable without a token (only `/health`, SR-36); never audited, touches no data.
    Public,
    /// Reads or writes blobs: only these functions link the S3 client (their `main` passes
    /// `S3Blobs`) and get S3 permissions in `template.yaml`.
    Blobs,
    /// Pages through a list with sealed cursors: its function reads the deployment's cursor
    /// key and may create it (`crate::cursor`), so `template.yaml` lets it read and put
    /// that one item, and no other route may put there.
    Pages,
    /// Fits models or analyses whole series: the long time budget.
    Compute,
    /// A session route of the token-mediating backend: reached without a bearer token (the
    /// authorizer is off), but audited, CSRF-checked and rate-limited per IP; its function
    /// talks to the identity provider with the backend client's secret.
    Session,
    /// Reads or changes users in the user directory: its function gets the Cognito client
    /// and the user pool's permissions (read-only unless it also writes standing).
    Directory,
    /// Reads the signed audit digests: its function gets the digest bucket (read only) and
    /// the digest key's public half.
    AuditDigests,
}

/// One row of the route table.
#[derive(Debug)]
pub struct RouteSpec {
    pub method: Method,
    /// Path template in API Gateway / OpenAPI syntax.
    pub path: &'static str,
    /// Name of the Lambda binary, of its `events/` file and of the audit records' action.
    pub function: &'static str,
    /// The resource type audit records of this route carry.
    pub resource_type: &'static str,
    pub needs: &'static [Need],
}

/// Declares the routes, one row each: `Variant METHOD "path" "function" module::handler
/// "resource type" [needs]`. Generates [`Route`] with its rows, one endpoint type per
/// route (`endpoints::Variant`, what a Lambda's `main` names), `handle` for hosts that
/// serve every route, and `RoutePaths`, the OpenAPI paths of the handlers.
macro_rules! route_table {
    ($($route:ident $method:ident $path:literal $function:literal $($handler:ident)::+ $resource:literal [$($need:ident),*];)*) => {
        /// One API route: a row of the table in this module.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Route {
            $($route),*
        }

        const ROUTE_COUNT: usize = [$(stringify!($route)),*].len();

        impl Route {
            pub const ALL: [Route; ROUTE_COUNT] = [$(Route::$route),*];

            /// The route's row.
            pub fn spec(self) -> &'static $crate::http::routes::RouteSpec {
                match self {
                    $(Route::$route => {
                        static SPEC: $crate::http::routes::RouteSpec = $crate::http::routes::RouteSpec {
                            method: ::lambda_http::http::Method::$method,
                            path: $path,
                            function: $function,
                            resource_type: $resource,
                            needs: &[$(Need::$need),*],
                        };
                        &SPEC
                    })*
                }
            }
        }

        /// The endpoints, named after their [`Route`].
        pub mod endpoints {
            use $crate::error::ApiError;
            use $crate::handlers::{Ctx, Endpoint};
            use $crate::http::Reply;
            use ::lambda_http::Request;
            use super::Route;
            $(
                #[derive(Debug)]
                pub struct $route;

                impl Endpoint for $route {
                    const ROUTE: Route = Route::$route;
                    fn call<'a>(ctx: &'a mut Ctx<'_>, req: &'a Request) -> impl Future<Output = Result<Reply, ApiError>> + Send + 'a {
                        super::$($handler)::+(ctx, req)
                    }
                }
            )*
        }

        /// Serves one request for `route` (the local server and tests host every route).
        pub async fn handle(state: &$crate::state::AppState, route: Route, req: ::lambda_http::Request) -> ::lambda_http::Response<::lambda_http::Body> {
            match route {
                $(Route::$route => $crate::handlers::serve::<endpoints::$route>(state, req).await,)*
            }
        }

        /// The OpenAPI paths of every route, from the handlers' annotations.
        #[derive(Debug, ::utoipa::OpenApi)]
        #[openapi(paths($($($handler)::+),*))]
        pub struct RoutePaths;
    };
}
pub(crate) use route_table;

/// The time budget of routes that fit models or analyse whole series.
const COMPUTE_BUDGET: Duration = Duration::from_secs(25);
/// The time budget of every other route.
const DEFAULT_BUDGET: Duration = Duration::from_secs(8);

impl Route {
    pub fn method(self) -> Method {
        self.spec().method.clone()
    }

    /// Path template in API Gateway / OpenAPI syntax.
    pub fn path(self) -> &'static str {
        self.spec().path
    }

    /// Name of the Lambda binary (and of the `events/` file) for this route.
    pub fn function_name(self) -> &'static str {
        self.spec().function
    }

    /// The resource type this route's audit records carry.
    pub fn resource_type(self) -> &'static str {
        self.spec().resource_type
    }

    fn needs(self, need: Need) -> bool {
        self.spec().needs.contains(&need)
    }

    /// Whether the route reads or writes blobs ([`Need::Blobs`]).
    pub fn uses_blobs(self) -> bool {
        self.needs(Need::Blobs)
    }

    /// Whether the route pages through a list with sealed cursors ([`Need::Pages`]).
    pub fn pages(self) -> bool {
        self.needs(Need::Pages)
    }

    /// How long a request may run before it answers `time-budget-exceeded`: below the
    /// function's `Timeout` in `template.yaml` (a contract test ties them), which is below
    /// API Gateway's 29 s integration limit, so a client never meets a gateway timeout.
    pub fn time_budget(self) -> Duration {
        if self.needs(Need::Compute) { COMPUTE_BUDGET } else { DEFAULT_BUDGET }
    }

    /// Whether the route is reachable without a token and unaudited ([`Need::Public`]).
    pub fn is_public(self) -> bool {
        self.needs(Need::Public)
    }

    /// Whether the route is a session route ([`Need::Session`]).
    pub fn is_session(self) -> bool {
        self.needs(Need::Session)
    }

    /// Whether the route reads or changes the user directory ([`Need::Directory`]).
    pub fn uses_directory(self) -> bool {
        self.needs(Need::Directory)
    }

    /// Whether the route reads the audit digests ([`Need::AuditDigests`]).
    pub fn reads_audit_digests(self) -> bool {
        self.needs(Need::AuditDigests)
    }

    /// Whether API Gateway lets requests in without the Cognito authorizer: the public
    /// route and the session routes.
    pub fn skips_authorizer(self) -> bool {
        self.is_public() || self.is_session()
    }

    /// Methods served at the path template `path`, in a stable order, with `OPTIONS`
    /// (preflights are answered everywhere): the `Allow` header of a 405.
    pub fn methods_at(path: &str) -> Vec<Method> {
        let mut methods: Vec<Method> = Self::ALL.iter().filter(|r| r.path() == path).map(|r| r.method()).collect();
        methods.push(Method::OPTIONS);
        methods
    }

    /// Every method some route is served with, in the table's order, then `OPTIONS`: what
    /// CORS preflights allow.
    pub fn all_methods() -> Vec<Method> {
        let mut methods: Vec<Method> = Vec::new();
        for method in Self::ALL.iter().map(|r| r.method()).chain([Method::OPTIONS]) {
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
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

    #[test]
    fn a_trailing_slash_names_the_same_route() {
        assert_eq!(Route::resolve(&Method::GET, "/v1/me/").map(|(r, _)| r), Ok(Route::GetMe));
        let (route, params) = Route::resolve(&Method::GET, "/v1/datasets/d1/").unwrap();
        assert_eq!((route, params["datasetId"].as_str()), (Route::GetDataset, "d1"));
        assert_eq!(Route::resolve(&Method::GET, "/"), Err(vec![]));
    }

    #[test]
    fn the_list_routes_are_the_ones_that_page() {
        let paging: Vec<Route> = Route::ALL.into_iter().filter(|r| r.pages()).collect();
        assert_eq!(
            paging,
            [Route::ListDatasets, Route::ListForecasts, Route::ListUsers, Route::SearchAudit, Route::ExportAudit, Route::ListFindings]
        );
    }
}
