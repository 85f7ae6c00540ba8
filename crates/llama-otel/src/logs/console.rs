//! The console (and `--log-file`) layer: one line per event, in llama.cpp's text layout or as
//! JSON lines.
//!
//! Text, as llama.cpp's `common_log` writes it: with the prefix on, `M.SS.mmm.uuu ` (time since
//! start, only with timestamps on) and a level letter (`I`, `W`, `E`, `D`, `T`) before the
//! message; then our structured fields as ` key=value`. JSON: one object per line with
//! llama.cpp's `--log-jsonl` keys (`type`, `time`, `level`, `msg`) plus `target`, the fields,
//! and `trace_id`/`span_id` when a span is current.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::{Level, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::{Context, Layer};

use super::fields::Fields;
use super::{LogFormat, LogStream};

const RESET: &str = "\x1b[0m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const BLUE: &str = "\x1b[34m";
const MAGENTA: &str = "\x1b[35m";

/// Where and how lines are written.
pub(crate) struct Console {
    pub format: LogFormat,
    /// `None`: not to the console (`--log-disable`).
    pub stream: Option<LogStream>,
    pub prefix: bool,
    pub timestamps: bool,
    pub colors: bool,
    pub file: Option<Mutex<File>>,
    pub started: Instant,
}

impl<S: Subscriber> Layer<S> for Console {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let fields = Fields::of(event);
        // A `log` crate record's own target and level (its event's metadata says "log").
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if let Some(stream) = self.stream {
            let line = self.render(*meta.level(), meta.target(), &fields, self.colors);
            let to_stderr = match stream {
                LogStream::Stdout => false,
                LogStream::Stderr => true,
                LogStream::Split => self.format == LogFormat::Text && *meta.level() <= Level::WARN,
            };
            // A closed or full stream must not take the server down: the line is dropped.
            let _ = match to_stderr {
                false => std::io::stdout().lock().write_all(line.as_bytes()),
                true => std::io::stderr().lock().write_all(line.as_bytes()),
            };
        }
        if let Some(file) = &self.file {
            let line = self.render(*meta.level(), meta.target(), &fields, false);
            let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = file.write_all(line.as_bytes());
        }
    }
}

/// llama.cpp's level letter and colour.
fn letter(level: Level) -> (&'static str, &'static str) {
    match level {
        Level::ERROR => ("E", RED),
        Level::WARN => ("W", MAGENTA),
        Level::INFO => ("I", GREEN),
        Level::DEBUG => ("D", YELLOW),
        Level::TRACE => ("T", YELLOW),
    }
}

/// llama.cpp's `--log-jsonl` level names.
pub(crate) fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl Console {
    /// One line, newline included.
    pub(crate) fn render(&self, level: Level, target: &str, f: &Fields, colors: bool) -> String {
        match self.format {
            LogFormat::Text => self.text(level, f, colors),
            LogFormat::Json => json(level, target, f),
        }
    }

    fn text(&self, level: Level, f: &Fields, colors: bool) -> String {
        let paint = |code: &'static str| if colors { code } else { "" };
        let mut out = String::with_capacity(f.message.len() + 32);
        // llama.cpp resets the colour at the end of warning, error and debug lines only.
        let mut reset_at_end = false;
        if self.prefix {
            if self.timestamps {
                let us = self.started.elapsed().as_micros();
                out.push_str(&format!(
                    "{}{}.{:02}.{:03}.{:03}{} ",
                    paint(BLUE),
                    us / 60_000_000,
                    us / 1_000_000 % 60,
                    us / 1000 % 1000,
                    us % 1000,
                    paint(RESET)
                ));
            }
            let (letter, colour) = letter(level);
            if level == Level::INFO {
                out.push_str(&format!("{}{letter} {}", paint(colour), paint(RESET)));
            } else {
                out.push_str(&format!("{}{letter} ", paint(colour)));
                reset_at_end = colors;
            }
        }
        out.push_str(&f.message);
        for (key, value) in &f.fields {
            out.push_str(&format!(" {key}={value}"));
        }
        if reset_at_end {
            out.push_str(RESET);
        }
        out.push('\n');
        out
    }
}

fn json(level: Level, target: &str, f: &Fields) -> String {
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let mut obj = serde_json::Map::new();
    obj.insert("type".into(), "log".into());
    obj.insert("time".into(), time.into());
    obj.insert("level".into(), level_name(level).into());
    obj.insert("msg".into(), f.message.as_str().into());
    obj.insert("target".into(), target.into());
    for (key, value) in &f.fields {
        obj.entry(*key).or_insert_with(|| value.to_json());
    }
    if let Some((trace_id, span_id)) = crate::trace::current_ids() {
        obj.entry("trace_id").or_insert(trace_id.into());
        obj.entry("span_id").or_insert(span_id.into());
    }
    let mut line = serde_json::Value::Object(obj).to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::fields::Value;

    fn console(format: LogFormat, prefix: bool, timestamps: bool) -> Console {
        Console {
            format,
            stream: None,
            prefix,
            timestamps,
            colors: false,
            file: None,
            started: Instant::now(),
        }
    }

    fn fields() -> Fields {
        Fields {
            message: "request".into(),
            fields: vec![
                ("http.route", Value::Str("/v1/chat/completions".into())),
                ("status", Value::Uint(200)),
                ("note", Value::Str("two words".into())),
            ],
        }
    }

    #[test]
    fn text_lines_follow_llama_cpp_prefixes() {
        let plain = console(LogFormat::Text, false, false);
        assert_eq!(
            plain.render(Level::WARN, "t", &fields(), false),
            "request http.route=/v1/chat/completions status=200 note=\"two words\"\n"
        );
        let prefixed = console(LogFormat::Text, true, false);
        assert!(prefixed
            .render(Level::INFO, "t", &fields(), false)
            .starts_with("I request "));
        let line = console(LogFormat::Text, true, true).render(Level::ERROR, "t", &fields(), false);
        let (stamp, rest) = line.split_once(' ').unwrap_or_default();
        assert_eq!(stamp.split('.').count(), 4, "{line}");
        assert!(rest.starts_with("E request"), "{line}");
        let coloured = prefixed.render(Level::WARN, "t", &fields(), true);
        assert!(coloured.starts_with("\x1b[35mW ") && coloured.ends_with("\x1b[0m\n"));
    }

    #[test]
    fn json_lines_carry_llama_cpp_keys_and_the_fields() {
        let line = console(LogFormat::Json, true, true).render(
            Level::INFO,
            "llama_server",
            &fields(),
            true,
        );
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap_or_default();
        assert_eq!(v["type"], "log");
        assert_eq!(v["level"], "info");
        assert_eq!(v["msg"], "request");
        assert_eq!(v["target"], "llama_server");
        assert_eq!(v["status"], 200);
        assert_eq!(v["note"], "two words");
        assert!(v["time"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000_000));
        assert!(!line.trim_end().contains('\n'));
    }
}
