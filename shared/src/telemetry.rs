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

/// Installs the global subscriber on stdout. With JSON logs (Lambda) metrics go to stdout
/// too, as CloudWatch embedded-metric-format lines.
pub fn init(json: bool) {
    // A second init (a host that set one up already) is harmless, so its error is ignored.
    let _ = tracing::subscriber::set_global_default(subscriber(json, std::io::stdout));
    METRICS_TO_STDOUT.store(json, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`metric`] writes embedded-metric-format lines (Lambda) or only logs (locally).
static METRICS_TO_STDOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The namespace of the application's CloudWatch metrics (the alarms in `template.yaml`).
pub const METRIC_NAMESPACE: &str = "ForecastApi";
/// Every metric the application emits: what alarms may watch.
pub const METRIC_NAMES: [&str; 7] =
    ["Requests", "ClientErrors", "ServerErrors", "Denied", "Latency", "AuthenticationFailures", "ThreatFindings"];

/// One metric value: name, value, unit.
pub type Value<'a> = (&'a str, f64, &'a str);

/// One CloudWatch embedded-metric-format line: CloudWatch Logs turns it into a data point
/// of each metric, once with these dimensions and once with none (the total the alarms
/// watch), without an API call.
pub fn emf_line(metrics: &[Value<'_>], dimensions: &[(&str, &str)], at_millis: i128) -> String {
    let mut line = serde_json::Map::new();
    let names: Vec<&str> = dimensions.iter().map(|(key, _)| *key).collect();
    let definitions: Vec<serde_json::Value> =
        metrics.iter().map(|(name, _, unit)| serde_json::json!({"Name": name, "Unit": unit})).collect();
    let sets = if names.is_empty() { serde_json::json!([[]]) } else { serde_json::json!([names, []]) };
    line.insert(
        "_aws".into(),
        serde_json::json!({
            "Timestamp": at_millis,
            "CloudWatchMetrics": [{"Namespace": METRIC_NAMESPACE, "Dimensions": sets, "Metrics": definitions}],
        }),
    );
    for (key, dimension) in dimensions {
        line.insert((*key).to_owned(), serde_json::Value::String((*dimension).to_owned()));
    }
    for (name, value, _) in metrics {
        line.insert((*name).to_owned(), serde_json::json!(value));
    }
    serde_json::Value::Object(line).to_string()
}

/// Records metric data points: an EMF line on stdout in Lambda, a debug log locally.
pub fn metrics(values: &[Value<'_>], dimensions: &[(&str, &str)]) {
    if METRICS_TO_STDOUT.load(std::sync::atomic::Ordering::Relaxed) {
        let at = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        println!("{}", emf_line(values, dimensions, at));
    } else {
        tracing::debug!(?values, ?dimensions, "metrics");
    }
}

/// Records one metric data point ([`metrics`]).
pub fn metric(name: &str, value: f64, unit: &str, dimensions: &[(&str, &str)]) {
    metrics(&[(name, value, unit)], dimensions);
}

/// What every request adds to the pipeline's metrics (SR-21): one per route and in total,
/// of requests, client and server errors, policy denials and latency; and, when it failed
/// authentication, one `AuthenticationFailures` by reason.
pub fn request_metrics(route: &str, status: u16, denied: bool, auth_failure: Option<&str>, latency: std::time::Duration) {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    metrics(
        &[
            ("Requests", 1.0, "Count"),
            ("ClientErrors", flag((400..500).contains(&status)), "Count"),
            ("ServerErrors", flag(status >= 500), "Count"),
            ("Denied", flag(denied), "Count"),
            ("Latency", latency.as_secs_f64() * 1_000.0, "Milliseconds"),
        ],
        &[("Route", route)],
    );
    if let Some(reason) = auth_failure {
        metric("AuthenticationFailures", 1.0, "Count", &[("Reason", reason)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn a_metric_line_is_what_cloudwatch_reads_as_embedded_metric_format() {
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            &[("Requests", 1.0, "Count"), ("Latency", 2.5, "Milliseconds")],
            &[("Route", "get-dataset")],
            1_764_000_000_000,
        ))
        .unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "_aws": {"Timestamp": 1_764_000_000_000_i64, "CloudWatchMetrics": [{
                    "Namespace": "ForecastApi",
                    "Dimensions": [["Route"], []],
                    "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}],
                }]},
                "Route": "get-dataset",
                "Requests": 1.0,
                "Latency": 2.5,
            })
        );
        let total: serde_json::Value = serde_json::from_str(&emf_line(&[("ThreatFindings", 1.0, "Count")], &[], 0)).unwrap();
        assert_eq!(total["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([[]]));
    }

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
