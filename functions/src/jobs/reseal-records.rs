//! Lambda for the scheduled re-sealing job: see `shared::reseal`.
fn main() -> std::process::ExitCode {
    functions::run_reseal()
}
