//! Lambda for `verify-audit`: see `shared::handlers::audit_log`.
fn main() -> std::process::ExitCode {
    functions::run_audit_digests::<shared::routes::endpoints::VerifyAudit>()
}
