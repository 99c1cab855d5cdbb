//! Lambda for `review-access`: see `shared::handlers::access_review`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::ReviewAccess>()
}
