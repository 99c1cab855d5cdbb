//! Lambda for `invite-user`: see `shared::handlers::users`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::InviteUser>()
}
