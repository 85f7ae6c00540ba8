//! `/metrics` formats: content negotiation on `Accept` between the Prometheus text format
//! (the default, unchanged) and OpenMetrics 1.0 text, which carries the histograms' exemplars
//! (trace and span id of a request that fell in each bucket).
//!
//! ```
//! use llama_otel::MetricsFormat;
//!
//! // What Prometheus 2.x sends when it scrapes.
//! let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
//!               version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
//! let format = MetricsFormat::negotiate(Some(accept));
//! assert_eq!(format, MetricsFormat::OpenMetrics);
//! let mut body = llama_otel::openmetrics_from_text("# TYPE up gauge\nup 1\n");
//! body.push_str(&llama_otel::metrics_text(format));
//! body.push_str(llama_otel::OPENMETRICS_EOF);
//! assert!(body.ends_with("# EOF\n"));
//! assert_eq!(MetricsFormat::negotiate(None), MetricsFormat::Prometheus);
//! ```

pub(crate) mod text;

/// The line that ends an OpenMetrics exposition.
pub const OPENMETRICS_EOF: &str = "# EOF\n";

/// A text exposition format of `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricsFormat {
    /// Prometheus text format 0.0.4: no exemplars.
    Prometheus,
    /// OpenMetrics 1.0 text: exemplars on histogram buckets, `# EOF` at the end.
    OpenMetrics,
}

impl MetricsFormat {
    /// Picks the format from an `Accept` header: OpenMetrics when the client accepts it with a
    /// quality at least that of `text/plain` (and of `*/*`); the Prometheus format otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return MetricsFormat::Prometheus;
        };
        let (mut openmetrics, mut plain) = (0.0f32, 0.0f32);
        for range in accept.split(',') {
            let mut params = range.split(';').map(str::trim);
            let media = params.next().unwrap_or("").to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => plain = plain.max(q),
                _ => {}
            }
        }
        match openmetrics > 0.0 && openmetrics >= plain {
            true => MetricsFormat::OpenMetrics,
            false => MetricsFormat::Prometheus,
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            MetricsFormat::Prometheus => "text/plain; version=0.0.4",
            MetricsFormat::OpenMetrics => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }
}

/// All OpenTelemetry metrics in `format`, for appending to the server's `/metrics` body;
/// OpenMetrics output carries exemplars and no `# EOF` (the caller ends the body with
/// [`OPENMETRICS_EOF`]). Empty unless telemetry is active with the Prometheus reader.
pub fn metrics_text(format: MetricsFormat) -> String {
    match format {
        MetricsFormat::Prometheus => crate::prometheus_text(),
        MetricsFormat::OpenMetrics => openmetrics_text(),
    }
}

fn openmetrics_text() -> String {
    #[cfg(feature = "otel")]
    if let Some(registry) = crate::state::registry() {
        let mut out = String::new();
        let index = crate::exemplars::openmetrics::ExemplarIndex::current();
        crate::exemplars::openmetrics::encode(&registry.gather(), &index, &mut out);
        return out;
    }
    String::new()
}

/// Converts hand-written Prometheus text (HELP, TYPE and sample lines) to OpenMetrics, keeping
/// every series name; without `# EOF`.
pub fn openmetrics_from_text(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len() + plain.len() / 8);
    text::convert(plain, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::MetricsFormat::{self, OpenMetrics, Prometheus};

    #[test]
    fn accept_headers_pick_the_format() {
        let cases = [
            (None, Prometheus),
            (Some("*/*"), Prometheus),
            (Some("text/plain"), Prometheus),
            (Some("application/openmetrics-text"), OpenMetrics),
            (
                Some("application/openmetrics-text; version=1.0.0"),
                OpenMetrics,
            ),
            (
                Some("text/plain;q=0.9, application/openmetrics-text;q=0.5"),
                Prometheus,
            ),
            (
                Some("application/openmetrics-text;q=0, text/plain"),
                Prometheus,
            ),
            (
                Some("Application/OpenMetrics-Text;version=0.0.1;q=0.75,*/*;q=0.1"),
                OpenMetrics,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(MetricsFormat::negotiate(accept), want, "{accept:?}");
        }
    }
}
