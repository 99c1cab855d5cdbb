//! Logging: JSON lines in Lambda (one object per event, with the request span's fields,
//! so every line carries the request id and the caller's subject id), readable text
//! locally. Tests install nothing, so they stay silent unless asked.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The subscriber every host uses, writing to `writer`. `RUST_LOG` overrides the
/// default `info` level.
pub fn subscriber<W>(json: bool, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(writer);
    if json {
        // Lambda adds its own timestamp to every line.
        Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(false).without_time().finish())
    } else {
        Box::new(builder.compact().finish())
    }
}

/// Installs the global subscriber on stdout.
pub fn init(json: bool) {
    // A second init (a host that set one up already) is harmless, so its error is ignored.
    let _ = tracing::subscriber::set_global_default(subscriber(json, std::io::stdout));
}
