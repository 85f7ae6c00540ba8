//! `ChatTemplate::apply`: llama.cpp's `common_chat_templates_apply_jinja` input pipeline —
//! messages as llama.cpp hands them to templates, the caps-driven workarounds (system role
//! merged into the next message, string arguments parsed, content normalised), the
//! per-family adjustments of its specialised handlers, and the extra context (`date_string`,
//! `datetime`, `enable_thinking`, `chat_template_kwargs`).

use std::time::{SystemTime, UNIX_EPOCH};

use minijinja::value::Serde;
use minijinja::Value;
use serde_json::{json, Map, Value as Json};

use super::builtin;
use super::caps::TemplateCaps;
use super::continuation::Continuation;
use super::families::{
    deepseek_v4_sort_tool_results, detect_family, gemma4_tool_responses, Family,
};
use super::message::{ChatMessage, ChatTool};
use super::strftime::strftime;
use super::template::ChatTemplate;
use crate::error::{Error, Result};

/// Context variable holding the render's "now" (seconds since the epoch) for `strftime_now`.
pub(crate) const NOW_VAR: &str = "__llama_now_unix";

/// Everything one rendering takes besides the template (llama.cpp
/// `common_chat_templates_inputs`).
#[derive(Clone, Debug)]
pub struct ChatInputs<'a> {
    pub messages: &'a [ChatMessage],
    pub tools: &'a [ChatTool],
    pub add_generation_prompt: bool,
    /// `None`: on when the template reacts to it (llama.cpp's default `--reasoning auto`).
    pub enable_thinking: Option<bool>,
    /// Extra template variables (`--chat-template-kwargs`, request `chat_template_kwargs`).
    pub kwargs: Map<String, Json>,
    /// The clock for `strftime_now`, `date_string` and `datetime` (`None`: the system clock).
    pub now: Option<SystemTime>,
    /// Continue the final message instead of rendering it as a complete turn.
    pub continue_final_message: Continuation,
}

impl<'a> ChatInputs<'a> {
    pub fn new(messages: &'a [ChatMessage]) -> Self {
        ChatInputs {
            messages,
            tools: &[],
            add_generation_prompt: true,
            enable_thinking: None,
            kwargs: Map::new(),
            now: None,
            continue_final_message: Continuation::None,
        }
    }
}

fn unix_secs(now: Option<SystemTime>) -> i64 {
    let now = now.unwrap_or_else(SystemTime::now);
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// StepFun's template gets trimmed contents (llama.cpp `workaround::trim_all_content`).
fn trim_all_content(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    let mut out = messages.to_vec();
    for m in &mut out {
        m.content = m.content.trim().to_string();
        m.reasoning_content = m.reasoning_content.trim().to_string();
        for part in m.content_parts.iter_mut().filter(|p| p.kind == "text") {
            part.text = part.text.trim().to_string();
        }
    }
    out
}

/// String-only templates get joined parts, typed-only templates get `[{"type": "text"}]`.
fn normalize_content(messages: &mut [Json], caps: &TemplateCaps) {
    let only_string = caps.supports_string_content && !caps.supports_typed_content;
    let only_typed = !caps.supports_string_content && caps.supports_typed_content;
    for json in messages.iter_mut() {
        let Some(content) = json.get_mut("content") else {
            continue;
        };
        if only_typed {
            if let Json::String(s) = content {
                *content = json!([{"type": "text", "text": s}]);
            }
        } else if only_string {
            if let Json::Array(parts) = content {
                let mut m = ChatMessage::default();
                for p in parts.iter() {
                    let field = |k: &str| p.get(k).and_then(Json::as_str).unwrap_or("").to_string();
                    m.content_parts.push(super::message::ContentPart {
                        kind: field("type"),
                        text: field("text"),
                    });
                }
                *content = Json::String(m.concat_parts());
            }
        }
    }
}

/// First system message merged into the next one (llama.cpp
/// `workaround::system_message_not_supported`).
fn merge_system_message(messages: &mut Vec<Json>) -> Result<()> {
    if messages.first().and_then(|m| m.get("role")) != Some(&json!("system")) {
        return Ok(());
    }
    let first = messages.remove(0);
    if let Some(next) = messages.first_mut() {
        let text = |m: &Json| match m.get("content") {
            Some(Json::String(s)) => Ok(s.clone()),
            _ => Err(Error::ChatMessages(
                "cannot merge a system message with non-text content".into(),
            )),
        };
        let merged = format!("{}\n{}", text(&first)?, text(next)?);
        next["content"] = Json::String(merged);
    }
    Ok(())
}

/// Tool-call arguments given as JSON text become objects (`workaround::func_args_not_string`).
fn parse_string_arguments(messages: &mut [Json]) -> Result<()> {
    for msg in messages.iter_mut() {
        let Some(Json::Array(calls)) = msg.get_mut("tool_calls") else {
            continue;
        };
        for call in calls {
            let Some(args) = call
                .get_mut("function")
                .and_then(|f| f.get_mut("arguments"))
            else {
                continue;
            };
            if let Json::String(text) = args {
                *args = serde_json::from_str(text).map_err(|e| {
                    Error::ChatMessages(format!("Failed to parse tool call arguments as JSON: {e}"))
                })?;
            }
        }
    }
    Ok(())
}

/// gpt-oss and LFM2 read the reasoning from `thinking`.
fn copy_reasoning_to_thinking(messages: &mut [Json], drop_content_with_calls: bool) {
    for msg in messages.iter_mut() {
        let Some(reasoning) = msg.get("reasoning_content").cloned() else {
            continue;
        };
        if !reasoning.is_string() {
            continue;
        }
        let has_calls = msg
            .get("tool_calls")
            .and_then(Json::as_array)
            .is_some_and(|c| !c.is_empty());
        if let Some(obj) = msg.as_object_mut() {
            obj.insert("thinking".into(), reasoning);
            if drop_content_with_calls && has_calls {
                obj.remove("content");
            }
        }
    }
}

/// Ministral 3: system/assistant content as `thinking`/`text` blocks.
fn ministral_blocks(messages: &mut [Json]) {
    for msg in messages.iter_mut() {
        let role = msg.get("role").and_then(Json::as_str).unwrap_or("");
        if role != "system" && role != "assistant" {
            continue;
        }
        let mut blocks = Vec::new();
        if let Some(Json::String(r)) = msg.get("reasoning_content") {
            blocks.push(json!({"type": "thinking", "thinking": r}));
        }
        match msg.get("content") {
            Some(Json::String(s)) => blocks.push(json!({"type": "text", "text": s})),
            Some(Json::Array(parts)) => blocks.extend(parts.iter().cloned()),
            _ => {}
        }
        if let Some(obj) = msg.as_object_mut() {
            obj.insert("content".into(), Json::Array(blocks));
            obj.remove("reasoning_content");
        }
    }
}

/// Family-specific message rewrites of llama.cpp's specialised handlers; returns whether the
/// Gemma 4 generation-prompt fix applies.
fn specialised_adjustments(src: &str, messages: &mut Vec<Json>) -> bool {
    match detect_family(src) {
        Some(Family::Ministral3) => ministral_blocks(messages),
        Some(Family::GptOss) => copy_reasoning_to_thinking(messages, true),
        Some(Family::Lfm2) => copy_reasoning_to_thinking(messages, false),
        Some(Family::DeepSeekV4) => deepseek_v4_sort_tool_results(messages),
        Some(Family::Gemma4) => {
            if !src.contains("{#- OpenAI Chat Completions:") {
                gemma4_tool_responses(messages);
            }
            return true;
        }
        _ => {}
    }
    false
}

impl ChatTemplate {
    /// Renders a conversation exactly as llama.cpp's server does (`/apply-template`).
    pub fn apply(&self, inputs: &ChatInputs<'_>) -> Result<String> {
        if let Some(name) = self.builtin_name() {
            return apply_builtin(name, inputs);
        }
        if inputs.continue_final_message != Continuation::None {
            return self.apply_continuation(inputs);
        }
        let src = self.source();
        let caps = self.caps();
        let trimmed;
        let mut source_msgs = inputs.messages;
        if src.contains("You have access to the following functions in JSONSchema format") {
            trimmed = trim_all_content(inputs.messages);
            source_msgs = &trimmed;
        }
        let mut messages: Vec<Json> = source_msgs
            .iter()
            .map(ChatMessage::to_template_json)
            .collect();
        normalize_content(&mut messages, caps);
        if !src.contains("<|channel|>") {
            for m in messages.iter_mut() {
                if m.get("role") == Some(&json!("developer")) {
                    m["role"] = json!("system");
                }
            }
        }
        if !caps.supports_system_role {
            merge_system_message(&mut messages)?;
        }
        if caps.supports_object_arguments {
            parse_string_arguments(&mut messages)?;
        }
        let gemma4 = specialised_adjustments(src, &mut messages);
        let enable_thinking = match inputs.enable_thinking {
            Some(v) => v,
            None => self.supports_thinking(),
        };
        let mut out = self.render_messages(inputs, Json::Array(messages), enable_thinking)?;
        if gemma4 && inputs.add_generation_prompt && out.ends_with("<turn|>\n") {
            out.push_str("<|turn>model\n");
        }
        Ok(out)
    }

    /// One render with llama.cpp's context (`common_chat_template_direct_apply_impl`).
    pub(crate) fn render_messages(
        &self,
        inputs: &ChatInputs<'_>,
        messages: Json,
        enable_thinking: bool,
    ) -> Result<String> {
        let now = unix_secs(inputs.now);
        let mut ctx: Vec<(String, Value)> = vec![
            ("messages".into(), Value::from(Serde(&messages))),
            ("bos_token".into(), Value::from(self.bos_token())),
            ("eos_token".into(), Value::from(self.eos_token())),
            ("enable_thinking".into(), Value::from(enable_thinking)),
        ];
        if !inputs.tools.is_empty() {
            let tools: Vec<Json> = inputs
                .tools
                .iter()
                .map(ChatTool::to_template_json)
                .collect();
            ctx.push(("tools".into(), Value::from(Serde(&tools))));
        }
        ctx.push(("datetime".into(), Value::from(strftime("%b %d %Y", now))));
        ctx.push(("date_string".into(), Value::from(strftime("%d %b %Y", now))));
        for (k, v) in &inputs.kwargs {
            ctx.push((k.clone(), Value::from(Serde(v))));
        }
        if inputs.add_generation_prompt {
            ctx.push(("add_generation_prompt".into(), Value::from(true)));
        }
        reasoning_kwargs(&inputs.kwargs, &mut ctx);
        ctx.push((NOW_VAR.into(), Value::from(now)));
        let mut out = self.render_context(Value::from(
            ctx.into_iter()
                .collect::<std::collections::BTreeMap<String, Value>>(),
        ))?;
        if self.add_bos() && !self.bos_token().is_empty() && out.starts_with(self.bos_token()) {
            out.drain(..self.bos_token().len());
        }
        if self.add_eos() && !self.eos_token().is_empty() && out.ends_with(self.eos_token()) {
            out.truncate(out.len() - self.eos_token().len());
        }
        Ok(out)
    }
}

/// llama.cpp's legacy path: roles and text only, no tools.
fn apply_builtin(name: &str, inputs: &ChatInputs<'_>) -> Result<String> {
    if !inputs.tools.is_empty() {
        return Err(Error::ChatMessages(format!(
            "tools need a Jinja chat template; the built-in '{name}' has no tool support"
        )));
    }
    builtin::apply(name, inputs.messages, inputs.add_generation_prompt)
        .ok_or_else(|| Error::ChatTemplateParse(format!("unknown built-in template '{name}'")))
}

/// `preserve_reasoning` and `reasoning_effort` kwargs set the variables templates spell
/// differently (llama.cpp `caps_apply_preserve_reasoning`, `caps_apply_reasoning_effort`).
fn reasoning_kwargs(kwargs: &Map<String, Json>, ctx: &mut Vec<(String, Value)>) {
    if let Some(Json::Bool(enabled)) = kwargs.get("preserve_reasoning") {
        for (k, v) in super::caps::preserve_reasoning_vars(*enabled)
            .into_iter()
            .skip(1)
        {
            ctx.push((k.into(), v));
        }
    }
    if let Some(Json::String(effort)) = kwargs.get("reasoning_effort").filter(|e| e != &&json!(""))
    {
        ctx.push(("reasoning_effort".into(), Value::from(effort.as_str())));
        ctx.push(("reasoning_strength".into(), Value::from(effort.as_str())));
    }
}
