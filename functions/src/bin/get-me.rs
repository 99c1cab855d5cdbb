//! Lambda for `get-me`: see `shared::handlers::me`.
fn main() -> std::process::ExitCode {
    functions::run_directory::<shared::routes::endpoints::GetMe>()
}
