//! Lambda for `create-forecast`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::S3Blobs, shared::routes::endpoints::CreateForecast>()
}
