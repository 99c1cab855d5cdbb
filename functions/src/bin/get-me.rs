//! Lambda for `get-me`: see `shared::handlers`.
fn main() -> std::process::ExitCode {
    shared::lambda::run::<shared::lambda::NoBlobs, shared::routes::endpoints::GetMe>()
}
