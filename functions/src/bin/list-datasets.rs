//! Lambda for `list-datasets`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::NoBlobs, shared::routes::endpoints::ListDatasets>()
}
