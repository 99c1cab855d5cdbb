//! Lambda for `analyze-dataset`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::S3Blobs, shared::routes::endpoints::AnalyzeDataset>()
}
