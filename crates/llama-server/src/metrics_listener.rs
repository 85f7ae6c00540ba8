//! A second listener that serves only `GET /metrics` (the same text as the main port's), where
//! `OTEL_EXPORTER_PROMETHEUS_HOST` / `OTEL_EXPORTER_PROMETHEUS_PORT` say: scrapers can then reach
//! the metrics on an internal address while the API stays elsewhere. Started only when one of
//! the two is set (the spec's defaults, `localhost` and 9464, fill the other). A bad value or a
//! port already taken is a warning naming the variable: telemetry never stops the server.

use crate::http::{llamacpp, AppState};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

/// `OTEL_EXPORTER_PROMETHEUS_HOST`'s default.
pub const DEFAULT_HOST: &str = "localhost";
/// `OTEL_EXPORTER_PROMETHEUS_PORT`'s default.
pub const DEFAULT_PORT: u16 = 9464;

/// Where to listen, from the two variables' values; `None` when neither is set. A port that
/// is not a number in 1..=65535 falls back to the default, with a warning.
pub fn address(host: Option<String>, port: Option<String>) -> Option<(String, u16)> {
    if host.is_none() && port.is_none() {
        return None;
    }
    let host = host.filter(|h| !h.trim().is_empty());
    let port = match port.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                tracing::warn!(
                    "OTEL_EXPORTER_PROMETHEUS_PORT={p:?} is not a port; using {DEFAULT_PORT}"
                );
                DEFAULT_PORT
            }
        },
    };
    Some((host.unwrap_or_else(|| DEFAULT_HOST.to_owned()), port))
}

/// Starts the listener when the variables ask for one (on the current tokio runtime).
pub async fn spawn(state: AppState) {
    let env = |name: &str| std::env::var(name).ok();
    let Some((host, port)) = address(
        env("OTEL_EXPORTER_PROMETHEUS_HOST"),
        env("OTEL_EXPORTER_PROMETHEUS_PORT"),
    ) else {
        return;
    };
    let listener = match TcpListener::bind((host.as_str(), port)).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("OTEL_EXPORTER_PROMETHEUS_HOST/PORT: cannot listen on {host}:{port}: {e}; metrics stay on the main port only");
            return;
        }
    };
    tracing::info!("metrics on http://{host}:{port}/metrics");
    let app = Router::new()
        .route("/metrics", get(llamacpp::metrics))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the metrics listener stopped: {e}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn off_unless_a_variable_is_set() {
        assert_eq!(address(None, None), None);
    }

    #[test]
    fn defaults_fill_the_unset_half() {
        assert_eq!(address(None, s("9999")), Some(("localhost".into(), 9999)));
        assert_eq!(
            address(s("0.0.0.0"), None),
            Some(("0.0.0.0".into(), DEFAULT_PORT))
        );
    }

    #[test]
    fn a_bad_port_falls_back_to_the_default() {
        for bad in ["http", "0", "70000", "-1"] {
            assert_eq!(
                address(None, s(bad)),
                Some(("localhost".into(), DEFAULT_PORT)),
                "{bad}"
            );
        }
    }
}
