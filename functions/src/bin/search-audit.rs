//! Lambda for `search-audit`: see `shared::handlers::audit_log`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::NoBlobs, shared::routes::endpoints::SearchAudit>()
}
