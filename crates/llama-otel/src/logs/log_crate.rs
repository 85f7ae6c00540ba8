//! Dependencies that log through the `log` crate (rustls, pieces of hyper and h2, ...) reach
//! the same subscriber as our `tracing` events: `tracing-log`'s `LogTracer` turns each record
//! into an event with the record's target, so the console, the file and OTLP logs filter it
//! with the same per-target levels (`-lv`, `--log-verbosity`) as every other line.

use tracing::level_filters::LevelFilter;
use tracing::Level;
use tracing_log::log;
use tracing_log::AsLog as _;

/// Installs `LogTracer` as the process's `log` logger (once; a logger set earlier, by us or
/// another library, stays) and sets `log`'s global maximum to `level`, so records above it
/// cost one comparison in the `log` macros instead of a trip through the subscriber.
pub(crate) fn forward(level: Option<Level>) {
    let filter = level
        .map_or(LevelFilter::OFF, LevelFilter::from_level)
        .as_log();
    // `Err` only when a `log` logger is already set; then its records go where it sends them.
    let _ = tracing_log::LogTracer::init_with_filter(filter);
    log::set_max_level(filter);
}

/// `log`'s maximum level is process-wide: the tests that set it run one at a time.
#[cfg(test)]
static LOG_LEVEL_SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod console_tests {
    use super::*;
    use crate::logs::{subscriber, LogFormat, LogSettings};

    #[test]
    fn a_log_crate_record_is_a_console_line_under_its_own_target() {
        let _serial = LOG_LEVEL_SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.jsonl");
        let settings = LogSettings {
            level: Some(Level::INFO),
            format: LogFormat::Json,
            stream: None,
            file: Some(path.clone()),
            ..LogSettings::default()
        };
        let subscriber = subscriber(&settings).expect("subscriber");
        forward(settings.level);
        tracing::subscriber::with_default(subscriber, || {
            log::warn!(target: "some_dep::conn", "peer closed the connection");
        });
        let text = std::fs::read_to_string(&path).expect("log file");
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["target"], "some_dep::conn", "{line}");
        assert_eq!(line["level"], "warn", "{line}");
        assert_eq!(line["msg"], "peer closed the connection", "{line}");
        assert!(line.get("log.target").is_none(), "{line}");
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::logs::{bridge, subscriber, verbosity_level, LogSettings};
    use opentelemetry::logs::{AnyValue, Severity};
    use opentelemetry_sdk::logs::{InMemoryLogExporter, SdkLoggerProvider, SimpleLogProcessor};
    use std::sync::PoisonError;

    /// What OTLP logs export while `emit` runs under the subscriber `-lv verbosity` builds:
    /// (target, severity, body) per record.
    fn exported(verbosity: i32, emit: impl Fn()) -> Vec<(String, Severity, String)> {
        let _level = LOG_LEVEL_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _serial = crate::state::TEST_SERIAL
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let exporter = InMemoryLogExporter::default();
        // As the SDK pipeline builds it: the `log` target mended first.
        let provider = SdkLoggerProvider::builder()
            .with_log_processor(crate::sdk::logs::LogCrateTarget)
            .with_log_processor(SimpleLogProcessor::new(exporter.clone()))
            .build();
        let settings = LogSettings {
            level: verbosity_level(verbosity),
            stream: None,
            ..LogSettings::default()
        };
        let subscriber = match subscriber(&settings) {
            Ok(s) => s,
            Err(e) => panic!("subscriber: {e}"),
        };
        forward(settings.level);
        bridge::install(&provider);
        tracing::subscriber::with_default(subscriber, emit);
        bridge::uninstall();
        let logs = exporter.get_emitted_logs().unwrap_or_default();
        logs.iter()
            .map(|l| {
                let body = match l.record.body() {
                    Some(AnyValue::String(s)) => s.as_str().to_owned(),
                    other => format!("{other:?}"),
                };
                let target = l.record.target().map(|t| t.to_string()).unwrap_or_default();
                let severity = l.record.severity_number().unwrap_or(Severity::Trace);
                (target, severity, body)
            })
            .collect()
    }

    /// Records as a dependency writes them: `log` macros with its module path as target.
    fn dependency_logs() {
        log::warn!(target: "some_dep::conn", "peer closed the connection");
        log::info!(target: "some_dep::conn", "connected");
        log::debug!(target: "some_dep::conn", "frame sent");
        log::error!(target: "some_dep::conn", "handshake failed");
    }

    fn bodies(records: &[(String, Severity, String)]) -> Vec<&str> {
        records.iter().map(|(_, _, b)| b.as_str()).collect()
    }

    #[test]
    fn a_log_crate_warning_reaches_otlp_logs_with_its_target_and_severity() {
        let records = exported(3, dependency_logs);
        let warn = records
            .iter()
            .find(|(_, _, b)| b == "peer closed the connection");
        assert_eq!(
            warn.map(|(t, s, _)| (t.as_str(), *s)),
            Some(("some_dep::conn", Severity::Warn)),
            "{records:?}"
        );
        // -lv 3 (info): everything but debug.
        assert_eq!(
            bodies(&records),
            [
                "peer closed the connection",
                "connected",
                "handshake failed"
            ]
        );
    }

    #[test]
    fn log_crate_records_follow_the_verbosity() {
        // -lv 1: errors only.
        assert_eq!(bodies(&exported(1, dependency_logs)), ["handshake failed"]);
        // -lv 2: warnings too.
        assert_eq!(
            bodies(&exported(2, dependency_logs)),
            ["peer closed the connection", "handshake failed"]
        );
        // -lv 0: nothing at all.
        assert!(exported(0, dependency_logs).is_empty());
        // -lv 5: other crates stay at info at most, as their `tracing` events do.
        assert_eq!(
            bodies(&exported(5, dependency_logs)),
            [
                "peer closed the connection",
                "connected",
                "handshake failed"
            ]
        );
    }
}
