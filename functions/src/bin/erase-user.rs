//! Lambda for `erase-user`: see `shared::handlers::personal_data`.
fn main() -> std::process::ExitCode {
    functions::run_directory_with_blobs::<shared::routes::endpoints::EraseUser>()
}
