//! Lambda for `list-blocked-ips`: see `shared::handlers::security`.
fn main() -> std::process::ExitCode {
    functions::run::<functions::NoBlobs, shared::routes::endpoints::ListBlockedIps>()
}
