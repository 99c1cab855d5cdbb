//! Lambda for `get-forecast`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::S3Blobs, shared::routes::endpoints::GetForecast>()
}
