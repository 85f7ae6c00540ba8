//! Tool calls and reasoning in a model's output: the format a template's model writes
//! (`detect`), whole-output and streaming parsers (one file per format family), and the
//! trigger words and call grammar a constrained sampler needs (`grammar`).
mod bare_json;
mod deepseek;
mod detect;
mod functionary;
mod grammar;
mod json_formats;
mod json_scan;
mod llama3;
mod parse;
mod qwen3_coder;
mod reasoning;
mod scan;
mod stream;
mod types;

pub use detect::{detect_format, thinking_forced_open};
pub use grammar::{call_grammar, CallGrammar, GrammarTrigger, ToolChoice};
pub use parse::{fill_missing_ids, parse};
pub use reasoning::think_tags;
pub use stream::{ChatDelta, StreamParser, ToolCallDelta};
pub use types::{ParserOptions, ReasoningFormat, ToolCallFormat};
