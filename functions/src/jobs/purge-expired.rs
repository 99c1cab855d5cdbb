//! Lambda for the daily retention job: see `shared::purge`.
fn main() -> std::process::ExitCode {
    functions::run_purge()
}
