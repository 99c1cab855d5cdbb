//! Lambda for `create-dataset`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::S3Blobs, shared::routes::endpoints::CreateDataset>()
}
