//! A hello-world `lambda_http` function: the same runtime set-up as the functions (a
//! current-thread Tokio runtime, `lambda_http::run`), nothing else. Its cold start is the
//! floor `scripts/cold-start-guard.sh` holds every function to.

use lambda_http::{Body, Error, Request, Response, service_fn};

fn main() -> std::process::ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        return std::process::ExitCode::FAILURE;
    };
    let served = runtime.block_on(lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::builder().status(200).header("content-type", "text/plain").body(Body::from("hello"))?)
    })));
    if served.is_ok() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE }
}
