//! Lambda for `health`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::NoBlobs, shared::routes::endpoints::Health>()
}
