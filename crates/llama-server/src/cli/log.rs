//! llama.cpp's logging flags and what they make of the log subscriber's settings.

use super::values::{parse_bool, parse_on_off_auto};
use llama_otel::logs::{self, Colors, LogFormat, LogSettings, LogStream};
use std::path::PathBuf;

/// llama.cpp's logging flags (`common/arg.cpp`), with their meaning and environment variables,
/// plus `--log-format`. Text lines go to stdout, warnings and errors to stderr; JSON lines to stdout.
#[derive(Debug, Clone, clap::Args)]
pub struct LogFlags {
    /// Log everything, debug and trace lines included (`-lv` infinity).
    #[arg(short = 'v', long = "verbose", alias = "log-verbose")]
    pub verbose: bool,
    /// Verbosity threshold (`-lv`): 0 nothing, 1 errors, 2 warnings, 3 info (default), 4 more
    /// (debug), 5 all (trace).
    #[arg(
        long = "verbosity",
        alias = "log-verbosity",
        env = "LLAMA_ARG_LOG_VERBOSITY",
        allow_negative_numbers = true
    )]
    pub verbosity: Option<i32>,
    /// Nothing on the console (a `--log-file` and OTLP logs still get every line).
    #[arg(long = "log-disable")]
    pub log_disable: bool,
    /// Also append every log line to this file.
    #[arg(long = "log-file", env = "LLAMA_ARG_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    /// Coloured level letters: on, off, auto (when stdout is a terminal; the default).
    #[arg(long = "log-colors", env = "LLAMA_ARG_LOG_COLORS", value_parser = parse_on_off_auto)]
    pub log_colors: Option<String>,
    /// Level letter (I, W, E, D) before each line (default on, as llama.cpp's server).
    #[arg(long = "log-prefix", env = "LLAMA_ARG_LOG_PREFIX", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_log_prefix")]
    pub log_prefix: Option<bool>,
    #[arg(long = "no-log-prefix", overrides_with = "log_prefix")]
    pub no_log_prefix: bool,
    /// Time since start (`M.SS.mmm.uuu`) in the prefix (default on, as llama.cpp's server).
    #[arg(long = "log-timestamps", env = "LLAMA_ARG_LOG_TIMESTAMPS", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_log_timestamps")]
    pub log_timestamps: Option<bool>,
    #[arg(long = "no-log-timestamps", overrides_with = "log_timestamps")]
    pub no_log_timestamps: bool,
    /// One JSON object per line (= `--log-format json`).
    #[arg(long = "log-jsonl", env = "LLAMA_ARG_LOG_JSONL", value_parser = parse_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true",
          overrides_with = "no_log_jsonl")]
    pub log_jsonl: Option<bool>,
    #[arg(long = "no-log-jsonl", overrides_with = "log_jsonl")]
    pub no_log_jsonl: bool,
    /// Console format: `text` (llama.cpp's layout, the default) or `json` (one object per line
    /// with the fields and the current trace and span ids).
    #[arg(long = "log-format", env = "LLAMA_ARG_LOG_FORMAT", value_parser = LogFormat::parse)]
    pub log_format: Option<LogFormat>,
}

impl LogFlags {
    /// What `llama_otel::logs::init` gets.
    pub fn settings(&self) -> LogSettings {
        let level = if self.verbose {
            logs::verbosity_level(i32::MAX)
        } else {
            logs::verbosity_level(self.verbosity.unwrap_or(3))
        };
        let jsonl = !self.no_log_jsonl && self.log_jsonl == Some(true);
        let format = match (self.log_format, jsonl) {
            (Some(f), _) => f,
            (None, true) => LogFormat::Json,
            (None, false) => LogFormat::Text,
        };
        let colors = match self.log_colors.as_deref() {
            Some("on") => Colors::On,
            Some("off") => Colors::Off,
            _ => Colors::Auto,
        };
        LogSettings {
            level,
            format,
            stream: (!self.log_disable).then_some(LogStream::Split),
            prefix: !self.no_log_prefix && self.log_prefix.unwrap_or(true),
            timestamps: !self.no_log_timestamps && self.log_timestamps.unwrap_or(true),
            colors,
            file: self.log_file.clone(),
        }
    }
}
