//! Lambda for `update-dataset`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::NoBlobs, shared::routes::endpoints::UpdateDataset>()
}
