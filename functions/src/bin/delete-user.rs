//! Lambda for `delete-user`: see `shared::handlers::users`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::DeleteUser>()
}
