//! The Lambda host: what each function's thin `main` calls.

use std::process::ExitCode;
use std::sync::Arc;

use lambda_http::{Request, service_fn};

use crate::config::Settings;
use crate::handlers::handle;
use crate::http::Route;
use crate::state::AppState;

/// Builds the state once (settings, clients, validated policies) and serves `route`
/// until the Lambda runtime stops the process.
pub fn run(route: Route) -> ExitCode {
    // One request at a time per instance: a current-thread runtime starts faster.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let settings = match Settings::from_env() {
            Ok(settings) => settings,
            Err(error) => {
                eprintln!("configuration error: {error}");
                return ExitCode::FAILURE;
            }
        };
        crate::telemetry::init(settings.json_logs);
        let state = match AppState::from_settings(&settings).await {
            Ok(state) => Arc::new(state),
            Err(error) => {
                tracing::error!(%error, "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!(route = route.function_name(), stage = %settings.stage, "ready");
        let served = lambda_http::run(service_fn(move |req: Request| {
            let state = Arc::clone(&state);
            async move { Ok::<_, std::convert::Infallible>(handle(&state, route, req).await) }
        }))
        .await;
        match served {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(%error, "runtime stopped");
                ExitCode::FAILURE
            }
        }
    })
}
