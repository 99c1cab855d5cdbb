//! Lambda for `export-user-data`: see `shared::handlers::personal_data`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::ExportUserData>()
}
