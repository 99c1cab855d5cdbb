//! Logging: JSON lines in Lambda (one object per event, with the request span's fields,
//! so every line carries the request id and the caller's subject id), readable text
//! locally. Tests install nothing, so they stay silent unless asked.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

/// The subscriber every host uses, writing to `writer`. `RUST_LOG` overrides the default
/// `info` level, per target too (`shared=debug,info`); an unreadable value keeps `info`.
pub fn subscriber<W>(json: bool, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = levels(std::env::var("RUST_LOG").ok().as_deref());
    // The filter is a plain target list, not `EnvFilter`: that one compiles regular
    // expressions at start and links a regex engine into every function.
    let builder = tracing_subscriber::fmt().with_max_level(LevelFilter::TRACE).with_target(false).with_writer(writer);
    if json {
        // Lambda adds its own timestamp to every line.
        Box::new(builder.json().flatten_event(true).with_current_span(true).with_span_list(false).without_time().finish().with(filter))
    } else {
        Box::new(builder.compact().finish().with(filter))
    }
}

/// The levels `RUST_LOG` asks for (`info` when unset or unreadable).
fn levels(rust_log: Option<&str>) -> Targets {
    rust_log.and_then(|value| value.parse::<Targets>().ok()).unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the global subscriber on stdout.
pub fn init(json: bool) {
    // A second init (a host that set one up already) is harmless, so its error is ignored.
    let _ = tracing::subscriber::set_global_default(subscriber(json, std::io::stdout));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target_and_info_is_the_default() {
        let unset = levels(None);
        assert!(unset.would_enable("shared", &Level::INFO));
        assert!(!unset.would_enable("shared", &Level::DEBUG));

        let per_target = levels(Some("shared=debug,warn"));
        assert!(per_target.would_enable("shared::handlers", &Level::DEBUG));
        assert!(!per_target.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(per_target.would_enable("aws_smithy_runtime", &Level::WARN));

        let unreadable = levels(Some("shared=loud"));
        assert!(unreadable.would_enable("shared", &Level::INFO));
        assert!(!unreadable.would_enable("shared", &Level::DEBUG));
    }
}
