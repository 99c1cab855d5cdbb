//! Lambda for `auth-refresh`: see `shared::handlers::session`.
fn main() -> std::process::ExitCode {
    functions::run_session::<shared::routes::endpoints::RefreshSession>()
}
