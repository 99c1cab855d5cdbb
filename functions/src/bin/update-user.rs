//! Lambda for `update-user`: see `shared::handlers::users`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::UpdateUser>()
}
