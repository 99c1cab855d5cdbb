//! Lambda for `delete-forecast`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::NoBlobs, shared::routes::endpoints::DeleteForecast>()
}
