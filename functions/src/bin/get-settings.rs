//! Lambda for `get-settings`: see `shared::handlers::settings`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::NoBlobs, shared::routes::endpoints::GetSettings>()
}
