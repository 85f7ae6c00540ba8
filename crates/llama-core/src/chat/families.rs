//! Message rewrites llama.cpp applies for particular template families before rendering
//! (`common/parsers/deepseek.cpp`, `common/parsers/gemma4.cpp`).

use std::collections::HashMap;

use serde_json::{json, Value as Json};

fn role(m: &Json) -> &str {
    m.get("role").and_then(Json::as_str).unwrap_or("")
}

fn tool_calls(m: &Json) -> Option<&Vec<Json>> {
    m.get("tool_calls")
        .and_then(Json::as_array)
        .filter(|c| !c.is_empty())
}

/// DeepSeek V4 renders a run of tool results in the order of the calls that asked for them.
pub(crate) fn deepseek_v4_sort_tool_results(messages: &mut [Json]) {
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut i = 0;
    while i < messages.len() {
        if role(&messages[i]) == "assistant" {
            if let Some(calls) = tool_calls(&messages[i]) {
                order.clear();
                for (idx, c) in calls.iter().enumerate() {
                    if let Some(id) = c.get("id").and_then(Json::as_str).filter(|s| !s.is_empty()) {
                        order.insert(id.to_string(), idx);
                    }
                }
                i += 1;
                continue;
            }
        }
        if role(&messages[i]) != "user" && role(&messages[i]) != "tool" {
            i += 1;
            continue;
        }
        let mut positions = Vec::new();
        let mut end = i;
        while end < messages.len() && matches!(role(&messages[end]), "user" | "tool") {
            if role(&messages[end]) == "tool" {
                positions.push(end);
            }
            end += 1;
        }
        if positions.len() > 1 && !order.is_empty() {
            let rank = |m: &Json| {
                let id = m.get("tool_call_id").and_then(Json::as_str).unwrap_or("");
                order.get(id).copied().unwrap_or(0)
            };
            let mut results: Vec<Json> = positions.iter().map(|&p| messages[p].clone()).collect();
            results.sort_by_key(|m| rank(m));
            for (p, r) in positions.into_iter().zip(results) {
                messages[p] = r;
            }
        }
        i = end;
    }
}

fn has_content(m: &Json) -> bool {
    match m.get("content") {
        Some(Json::String(s)) => !s.is_empty(),
        Some(Json::Array(a)) => !a.is_empty(),
        _ => false,
    }
}

/// Older Gemma 4 templates want `assistant(tool_calls) -> tool* -> assistant(content)` as one
/// assistant message with `tool_responses` (llama.cpp `convert_tool_responses_gemma4`).
pub(crate) fn gemma4_tool_responses(messages: &mut Vec<Json>) {
    let mut out = Vec::with_capacity(messages.len());
    let mut i = 0;
    while i < messages.len() {
        let Some(calls) = tool_calls(&messages[i]).filter(|_| role(&messages[i]) == "assistant")
        else {
            out.push(messages[i].clone());
            i += 1;
            continue;
        };
        let calls = calls.clone();
        let reasoning = messages[i]
            .get("reasoning_content")
            .filter(|r| r.is_string())
            .cloned();
        i += 1;
        let mut responses = Vec::new();
        while i < messages.len() && role(&messages[i]) == "tool" {
            responses.push(tool_response(&messages[i], &calls, responses.len()));
            i += 1;
        }
        let mut content = None;
        if i < messages.len() && role(&messages[i]) == "assistant" {
            let next = &messages[i];
            if tool_calls(next).is_none() && has_content(next) {
                content = next.get("content").cloned();
                i += 1;
            }
        }
        let mut msg = json!({"role": "assistant", "tool_calls": calls});
        if !responses.is_empty() {
            msg["tool_responses"] = Json::Array(responses);
        }
        if let Some(c) = content {
            msg["content"] = c;
        }
        if let Some(r) = reasoning {
            msg["reasoning_content"] = r;
        }
        out.push(msg);
    }
    *messages = out;
}

fn tool_response(msg: &Json, calls: &[Json], idx: usize) -> Json {
    let response = match msg.get("content") {
        Some(Json::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        Some(other) => other.clone(),
        None => Json::Null,
    };
    let mut name = calls
        .get(idx)
        .and_then(|c| c.get("function"))
        .and_then(|f| f.get("name"))
        .and_then(Json::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() {
        name = msg
            .get("tool_call_id")
            .and_then(Json::as_str)
            .unwrap_or("")
            .to_string();
    }
    json!({"name": name, "response": response})
}

/// Template families llama.cpp handles with a dedicated handler
/// (`common_chat_try_specialized_template`), detected from the source the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Ministral3,
    GptOss,
    MuseGlimmer,
    FunctionaryV32,
    KimiK2,
    KimiK3,
    Ling3,
    Cohere2Moe,
    Lfm2,
    GigaChatV3,
    MiniMaxM3,
    DeepSeekV32,
    DeepSeekV4,
    Gemma4,
    MiniCpm5,
    Qwen3Coder,
}

/// The family of `src`, checked in llama.cpp's order.
pub(crate) fn detect_family(src: &str) -> Option<Family> {
    let has = |s: &str| src.contains(s);
    let family =
        if has("[SYSTEM_PROMPT]") && has("[TOOL_CALLS]") && has("[ARGS]") && !has("[CALL_ID]") {
            Family::Ministral3
        } else if has("<|channel|>") {
            Family::GptOss
        } else if has("<atem:function_calls>") && has("<|eom|>") {
            Family::MuseGlimmer
        } else if has(">>>all") && has(">>>${recipient}") {
            Family::FunctionaryV32
        } else if has("<|tool_calls_section_begin|>") && has("<|tool_call_begin|>") {
            Family::KimiK2
        } else if has("<|open|>") && has("<|close|>") && has("<|end_of_msg|>") {
            Family::KimiK3
        } else if has("<role>ASSISTANT</role>") && has("<arg_key>") {
            Family::Ling3
        } else if has("<|START_TEXT|>") && has("<|START_ACTION|>") {
            Family::Cohere2Moe
        } else if (has("<|tool_list_start|>") && has("<|tool_list_end|>"))
            || (has("List of tools: [") && !has("<|tool_list_start|>"))
        {
            Family::Lfm2
        } else if has("<|role_sep|>") && has("<|message_sep|>") && !has("<|function_call|>") {
            Family::GigaChatV3
        } else if has("]<]minimax[>[") && has("<tool_call>") && has("<invoke name=") {
            Family::MiniMaxM3
        } else if has("dsml_token") && has("DSML") && (has("function_calls") || has("tool_calls")) {
            if has("function_calls") {
                Family::DeepSeekV32
            } else {
                Family::DeepSeekV4
            }
        } else if has("'<|tool_call>call:'") {
            Family::Gemma4
        } else if has("Tool usage guidelines:") && has("<function name=\"") && has("<param name=\"")
        {
            Family::MiniCpm5
        } else if has("<tool_call>")
            && has("<function=")
            && has("<parameter=")
            && !has("'<tool_call><function=' ~ tool_call.name ~ '>'")
        {
            Family::Qwen3Coder
        } else {
            return None;
        };
    Some(family)
}

/// Whether the family's handler reports thinking support.
pub(crate) fn family_supports_thinking(family: Family, src: &str) -> bool {
    match family {
        Family::GigaChatV3 | Family::FunctionaryV32 => false,
        Family::Qwen3Coder => src.contains("<think>"),
        _ => true,
    }
}
