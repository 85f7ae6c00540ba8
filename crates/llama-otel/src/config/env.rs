//! Reading `OTEL_*` values leniently: as the specification asks, a value we cannot use yields
//! one warning naming the variable, and the setting keeps its default — it never stops the
//! server.

use std::time::Duration;

/// Environment lookup; the process environment in production, a map in tests.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The value of `name`, trimmed; `None` when unset or empty.
pub(crate) fn non_empty(env: Env<'_>, name: &str) -> Option<String> {
    env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Warnings gathered while resolving, one per offending variable.
#[derive(Default)]
pub(crate) struct Warnings(pub Vec<String>);

impl Warnings {
    pub(crate) fn ignored(&mut self, name: &str, value: &str, expected: &str) {
        let line = format!("otel: ignoring {name}={value:?} ({expected}); using the default");
        if !self.0.contains(&line) {
            self.0.push(line);
        }
    }
}

/// A whole number of milliseconds; a bad value warns and counts as unset.
pub(crate) fn millis(env: Env<'_>, name: &str, warn: &mut Warnings) -> Option<Duration> {
    let v = non_empty(env, name)?;
    match v.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            warn.ignored(name, &v, "expected a whole number of milliseconds");
            None
        }
    }
}

/// A positive integer; a bad value (or 0) warns and counts as unset.
pub(crate) fn positive(env: Env<'_>, name: &str, warn: &mut Warnings) -> Option<usize> {
    let v = non_empty(env, name)?;
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            warn.ignored(name, &v, "expected a positive integer");
            None
        }
    }
}

/// What `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExporterList {
    pub otlp: bool,
    pub console: bool,
    pub prometheus: bool,
}

/// Parses an exporter list; unknown entries warn (once for the variable) and are skipped.
pub(crate) fn exporter_list(
    env: Env<'_>,
    name: &str,
    metrics: bool,
    warn: &mut Warnings,
) -> Option<ExporterList> {
    let list = non_empty(env, name)?;
    let mut out = ExporterList::default();
    let mut unknown = false;
    for item in list.split(',').map(str::trim) {
        match item {
            "otlp" => out.otlp = true,
            "console" => out.console = true,
            "prometheus" if metrics => out.prometheus = true,
            "none" | "" => {}
            _ => unknown = true,
        }
    }
    if unknown {
        let expected = if metrics {
            "supported: otlp, console, prometheus, none"
        } else {
            "supported: otlp, console, none"
        };
        warn.ignored(name, &list, expected);
        if out == ExporterList::default() && !list.split(',').any(|i| i.trim() == "none") {
            // Nothing usable named: the specification's default exporter is otlp.
            out.otlp = true;
        }
    }
    Some(out)
}

/// One `OTEL_PROPAGATORS` entry this crate implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagator {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// W3C Baggage (`baggage`).
    Baggage,
}

/// `OTEL_PROPAGATORS` (default `tracecontext,baggage`); `none` alone means no propagation.
pub(crate) fn propagators(env: Env<'_>, warn: &mut Warnings) -> Vec<Propagator> {
    let default = vec![Propagator::TraceContext, Propagator::Baggage];
    let Some(list) = non_empty(env, "OTEL_PROPAGATORS") else {
        return default;
    };
    let mut out = Vec::new();
    let mut unknown = false;
    for item in list.split(',').map(str::trim) {
        let p = match item {
            "tracecontext" => Propagator::TraceContext,
            "baggage" => Propagator::Baggage,
            "none" | "" => continue,
            _ => {
                unknown = true;
                continue;
            }
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if unknown {
        warn.ignored(
            "OTEL_PROPAGATORS",
            &list,
            "supported: tracecontext, baggage, none",
        );
    }
    out
}

/// Warns about compression values the exporters will ignore (they read the variables
/// themselves and silently fall back to no compression).
pub(crate) fn check_compression(env: Env<'_>, name: &str, warn: &mut Warnings) {
    if let Some(v) = non_empty(env, name) {
        if !matches!(v.to_ascii_lowercase().as_str(), "gzip" | "none") {
            warn.ignored(name, &v, "supported: gzip, none");
        }
    }
}
