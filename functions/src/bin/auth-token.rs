//! Lambda for `auth-token`: see `shared::handlers::session`.
fn main() -> std::process::ExitCode {
    functions::run_session::<shared::routes::endpoints::ExchangeCode>()
}
