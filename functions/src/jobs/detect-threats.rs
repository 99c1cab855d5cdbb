//! Lambda for the threat detector on the audit table's stream: see `shared::detector`.
fn main() -> std::process::ExitCode {
    functions::run_detect_threats()
}
