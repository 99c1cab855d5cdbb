//! Lambda for `update-settings`: see `shared::handlers::settings`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::NoBlobs, shared::routes::endpoints::UpdateSettings>()
}
