//! Lambda for `update-dataset`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::NoBlobs, shared::routes::endpoints::UpdateDataset>()
}
