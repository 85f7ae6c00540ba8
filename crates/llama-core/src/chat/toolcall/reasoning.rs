//! Thoughts at the start of an output (`<think>…</think>`, or from the very start when the
//! prompt left a thinking block open) split off per `--reasoning-format`.

use super::scan::held_tail;
use super::types::{ParserOptions, ReasoningFormat, ToolCallFormat};

/// The reasoning tags of a format, `(start, end)` (llama.cpp's `thinking_start_tag` and
/// `thinking_end_tags`): a sampler applies a non-lazy call grammar after the end tag.
pub fn think_tags(format: ToolCallFormat) -> (&'static str, &'static str) {
    match format {
        ToolCallFormat::CommandR7B => ("<|START_THINKING|>", "<|END_THINKING|>"),
        _ => ("<think>", "</think>"),
    }
}

/// `(reasoning, rest)`: the thoughts (trimmed) and the text after them. On a partial text,
/// a tail that may still be a tag is held back from both.
pub(crate) fn split(text: &str, opts: &ParserOptions, partial: bool) -> (String, String) {
    let (open, close) = think_tags(opts.format);
    let inline =
        opts.reasoning_format == ReasoningFormat::DeepSeekLegacy && opts.reasoning_in_content;
    if opts.reasoning_format == ReasoningFormat::None || inline {
        // Thoughts stay in the text; a forced-open block gets its opening tag back.
        let lead = if inline && opts.thinking_forced_open {
            open
        } else {
            ""
        };
        return (String::new(), format!("{lead}{text}"));
    }
    let lead = text.trim_start();
    let inner_start = if opts.thinking_forced_open {
        0
    } else if lead.starts_with(open) {
        text.len() - lead.len() + open.len()
    } else if partial && open.starts_with(lead) {
        // Only whitespace or the beginning of the opening tag so far.
        return (String::new(), String::new());
    } else {
        return (String::new(), text.to_string());
    };
    let inner = &text[inner_start..];
    match inner.find(close) {
        Some(e) => (
            inner[..e].trim().to_string(),
            inner[e + close.len()..].trim_start().to_string(),
        ),
        None if partial => {
            let keep = held_tail(inner, &[close]).unwrap_or(inner.len());
            (inner[..keep].trim().to_string(), String::new())
        }
        None => (inner.trim().to_string(), String::new()),
    }
}
