//! Lambda for the hourly audit digest job: see `shared::audit_digest`.
fn main() -> std::process::ExitCode {
    functions::run_digest_audit()
}
