//! Logs: every diagnostic of the server, the engine and ggml goes through `tracing`; this
//! module installs the one subscriber that writes them to the console (llama.cpp's text layout
//! or JSON lines), optionally to a file, and — with `otel` — to OTLP logs, each record carrying
//! the trace and span ids of the request being served (see [`TraceContext::scope`]).
//!
//! [`TraceContext::scope`]: crate::TraceContext::scope

#[cfg(feature = "otel")]
pub(crate) mod bridge;
mod console;
mod fields;
mod log_crate;

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::Layer as _;

use crate::error::{Error, Result};

pub use tracing::Level;

/// Console line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// llama.cpp's layout: optional timestamp and level letter, the message, ` key=value` fields.
    #[default]
    Text,
    /// One JSON object per line (llama.cpp's `--log-jsonl` keys plus fields and trace ids).
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        match value {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("expected text or json, got '{value}'")),
        }
    }
}

/// Which standard stream the console lines go to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogStream {
    /// Text lines up to info on standard output, warnings and errors on standard error; JSON
    /// lines all on standard output (as llama.cpp's `--log-jsonl`). The server's default: its
    /// readiness line is read from stdout, a fatal error is the one line on stderr.
    #[default]
    Split,
    /// Everything on standard output.
    Stdout,
    /// Standard error (command-line tools whose stdout is their result).
    Stderr,
}

/// Colours on the console (`--log-colors on|off|auto`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colors {
    On,
    Off,
    /// On when the stream is a terminal.
    #[default]
    Auto,
}

/// How to log. The level applies to the console, the file and OTLP alike.
#[derive(Clone, Debug)]
pub struct LogSettings {
    /// The most verbose level written (`None`: nothing, llama.cpp's `-lv 0`).
    pub level: Option<Level>,
    pub format: LogFormat,
    /// `None`: nothing on the console (`--log-disable`); the file and OTLP still get lines.
    pub stream: Option<LogStream>,
    /// Level letter before each line (`--log-prefix`).
    pub prefix: bool,
    /// Time since start in the prefix (`--log-timestamps`).
    pub timestamps: bool,
    pub colors: Colors,
    /// Also append every line to this file (`--log-file`), without colours.
    pub file: Option<PathBuf>,
}

impl Default for LogSettings {
    /// llama.cpp's server defaults: info, prefix and timestamps on, colours when a terminal.
    fn default() -> Self {
        LogSettings {
            level: Some(Level::INFO),
            format: LogFormat::Text,
            stream: Some(LogStream::Split),
            prefix: true,
            timestamps: true,
            colors: Colors::Auto,
            file: None,
        }
    }
}

impl LogSettings {
    /// For command-line tools whose stdout is their result: warnings and errors on stderr,
    /// without prefix; `LLAMA_GGML_LOG=debug|info` (which makes ggml forward those lines) lowers
    /// the level to match, so the lines it asks for are shown.
    pub fn for_cli() -> Self {
        let level = match std::env::var("LLAMA_GGML_LOG").as_deref() {
            Ok("debug") => Level::DEBUG,
            Ok("info") => Level::INFO,
            _ => Level::WARN,
        };
        LogSettings {
            level: Some(level),
            stream: Some(LogStream::Stderr),
            prefix: false,
            timestamps: false,
            ..LogSettings::default()
        }
    }
}

/// llama.cpp's verbosity threshold (`-lv N`: 0 output only, 1 error, 2 warning, 3 info,
/// 4 trace — "more info", our debug —, 5 and above debug, our trace) as a level.
pub fn verbosity_level(verbosity: i32) -> Option<Level> {
    match verbosity {
        i32::MIN..=0 => None,
        1 => Some(Level::ERROR),
        2 => Some(Level::WARN),
        3 => Some(Level::INFO),
        4 => Some(Level::DEBUG),
        _ => Some(Level::TRACE),
    }
}

/// This workspace's targets, logged at the chosen level; other crates' (hyper, tonic, ...) at
/// most at info, so `-v` does not bury the server's lines under HTTP/2 frames; the
/// OpenTelemetry SDK's at warn below debug.
const OURS: [&str; 6] = [
    "llama_server",
    "llama_core",
    "llama_otel",
    "llama_cli",
    "llama_bench",
    "ggml",
];

fn targets(level: Option<Level>) -> Targets {
    let ours = level.map_or(LevelFilter::OFF, LevelFilter::from_level);
    let mut targets = Targets::new().with_default(ours.min(LevelFilter::INFO));
    for target in OURS {
        targets = targets.with_target(target, ours);
    }
    // The SDK's own notes ("global tracer provider is set") only from debug on; its export
    // failures (warnings) always.
    let sdk = if ours >= LevelFilter::DEBUG {
        ours
    } else {
        ours.min(LevelFilter::WARN)
    };
    targets.with_target("opentelemetry", sdk)
}

/// What the OTLP bridge receives: as the console, minus the exporters' own crates (their
/// events while exporting logs would feed back into the log pipeline).
#[cfg(feature = "otel")]
fn otlp_targets(level: Option<Level>) -> Targets {
    let mut t = targets(level);
    for target in [
        "opentelemetry",
        "tonic",
        "h2",
        "hyper",
        "tower",
        "reqwest",
        "rustls",
    ] {
        t = t.with_target(target, LevelFilter::OFF);
    }
    t
}

fn colors_on(colors: Colors, stream: Option<LogStream>) -> bool {
    use std::io::IsTerminal as _;
    match (colors, stream) {
        (Colors::On, Some(_)) => true,
        (Colors::Auto, Some(LogStream::Stdout | LogStream::Split)) => {
            std::io::stdout().is_terminal()
        }
        (Colors::Auto, Some(LogStream::Stderr)) => std::io::stderr().is_terminal(),
        _ => false,
    }
}

/// Installs the process-wide subscriber, and routes the `log` crate's records into it. Call it
/// first thing in `main` (before [`init`](crate::init), whose warnings it then shows). Returns
/// `Ok(false)` when a subscriber was already installed (tests that start several servers in one
/// process): the first one stays.
pub fn init(settings: LogSettings) -> Result<bool> {
    let installed = tracing::subscriber::set_global_default(subscriber(&settings)?).is_ok();
    if installed {
        log_crate::forward(settings.level);
    }
    Ok(installed)
}

/// The console (and file) layer, and with `otel` the OTLP bridge, each with its target filter.
fn subscriber(settings: &LogSettings) -> Result<impl tracing::Subscriber + Send + Sync + 'static> {
    let file = match &settings.file {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::LogFile {
                    path: path.clone(),
                    source,
                })?,
        )),
        None => None,
    };
    let console = console::Console {
        format: settings.format,
        stream: settings.stream,
        prefix: settings.prefix,
        timestamps: settings.timestamps,
        colors: colors_on(settings.colors, settings.stream),
        file,
        started: Instant::now(),
    };
    let subscriber =
        tracing_subscriber::registry().with(console.with_filter(targets(settings.level)));
    #[cfg(feature = "otel")]
    let subscriber = subscriber.with(bridge::OtlpLogs.with_filter(otlp_targets(settings.level)));
    Ok(subscriber)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_follows_llama_cpp_thresholds() {
        assert_eq!(verbosity_level(0), None);
        assert_eq!(verbosity_level(1), Some(Level::ERROR));
        assert_eq!(verbosity_level(3), Some(Level::INFO));
        assert_eq!(verbosity_level(4), Some(Level::DEBUG));
        assert_eq!(verbosity_level(i32::MAX), Some(Level::TRACE));
    }

    #[test]
    fn other_crates_stay_at_info_when_ours_are_verbose() {
        let t = targets(Some(Level::TRACE));
        assert!(t.would_enable("llama_server::http", &Level::TRACE));
        assert!(!t.would_enable("h2::codec", &Level::DEBUG));
        assert!(t.would_enable("h2::codec", &Level::INFO));
        let quiet = targets(Some(Level::WARN));
        assert!(!quiet.would_enable("llama_core", &Level::INFO));
        assert!(!quiet.would_enable("hyper", &Level::INFO));
    }
}
