//! `ChatTemplate`: renders a model's `tokenizer.chat_template` with minijinja the way
//! HuggingFace transformers' `apply_chat_template` does (Jinja2 sandbox with `trim_blocks`,
//! `lstrip_blocks`, loop controls, `raise_exception`, `strftime_now`, a non-escaping `tojson`
//! and Python string/dict methods).

use std::fmt;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{escape_formatter, Environment, ErrorKind, Output, State, Value};
use serde_json::Value as Json;

use super::apply::{ChatInputs, NOW_VAR};
use super::builtin::BUILTIN_NAMES;
use super::caps::{self, Prober, TemplateCaps};
use super::json::tojson_filter;
use super::message::{ChatMessage, ChatTool};
use super::pycompat::{rewrite_generation_tags, rewrite_mutable_lists, MutList, LIST_FN};
use super::strftime::{strftime, strftime_now};
use super::thinking;
use super::undefined_concat::rewrite_undefined_concat;
use crate::error::{Error, Result};

const TEMPLATE_NAME: &str = "chat_template";

/// A compiled chat template plus the special-token strings it receives.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: String,
    eos_token: String,
    add_bos: bool,
    add_eos: bool,
    caps: TemplateCaps,
    supports_thinking: bool,
    /// A built-in named format (`chatml`, `llama3`, ...) rendered natively instead of Jinja.
    builtin: Option<&'static str>,
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

/// Error source attached by `raise_exception`, so that render errors can be told apart.
#[derive(Debug)]
struct RaisedException(String);

impl fmt::Display for RaisedException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RaisedException {}

fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(
        minijinja::Error::new(ErrorKind::InvalidOperation, message.clone())
            .with_source(RaisedException(message)),
    )
}

/// Prints `None`/`True`/`False` as Python does instead of minijinja's `none`/`true`/`false`.
fn python_formatter(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> std::result::Result<(), minijinja::Error> {
    match value.kind() {
        ValueKind::None => Ok(out.write_str("None")?),
        ValueKind::Bool => Ok(out.write_str(if value.is_true() { "True" } else { "False" })?),
        _ => escape_formatter(out, state, value),
    }
}

fn render_error(err: minijinja::Error) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(e) = source {
        if let Some(raised) = e.downcast_ref::<RaisedException>() {
            return Error::ChatTemplateRaised(raised.0.clone());
        }
        source = e.source();
    }
    Error::ChatTemplateRender(err.to_string())
}

fn build_env() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .build()
        .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
    env.set_syntax(syntax);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_formatter(python_formatter);
    env.add_filter("tojson", tojson_filter);
    env.add_function("raise_exception", raise_exception);
    env.add_function(LIST_FN, MutList::new_value);
    env.add_function("strftime_now", |state: &State, format: String| match state
        .lookup(NOW_VAR)
        .and_then(|v| i64::try_from(v).ok())
    {
        Some(now) => strftime(&format, now),
        None => strftime_now(&format),
    });
    Ok(env)
}

/// Source patches llama.cpp applies before compiling (`common_chat_templates_init`): two
/// checks of gpt-oss and Mistral templates that would refuse llama.cpp's own messages.
fn patch_source(source: &str) -> String {
    let mut src = source.to_owned();
    if src.contains("<|channel|>") && src.contains("in message.content or") {
        src = src.replace(
            "{%- if \"<|channel|>analysis<|message|>\" in message.content or \
             \"<|channel|>final<|message|>\" in message.content %}",
            "{%- if false %}",
        );
    }
    if src.contains("[TOOL_CALLS]") && src.contains("if (message['content'] is none or") {
        src = src.replace(
            "{%- if (message['content'] is none or message['content'] == '' or \
             message['content']|length == 0) and (message['tool_calls'] is not defined or \
             message['tool_calls'] is none or message['tool_calls']|length == 0) %}",
            "{%- if false %}",
        );
    }
    rewrite_mutable_lists(&rewrite_generation_tags(&src))
}

struct EnvProber<'a>(&'a Environment<'static>);

impl Prober for EnvProber<'_> {
    fn probe(&self, ctx: Value) -> Option<String> {
        let template = self.0.get_template(TEMPLATE_NAME).ok()?;
        template.render(ctx).ok()
    }
}

impl ChatTemplate {
    /// Compiles `source` (Jinja). `bos_token`/`eos_token` are the token strings templates see
    /// (e.g. `vocab.token_text(bos)`); a final newline of the source is dropped, as Jinja2 does.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut source = patch_source(source);
        let mut env = build_env()?;
        env.add_template_owned(TEMPLATE_NAME, source.clone())
            .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
        let undeclared = env
            .get_template(TEMPLATE_NAME)
            .map(|t| t.undeclared_variables(false))
            .unwrap_or_default();
        let rewritten = rewrite_undefined_concat(&source, &undeclared);
        if rewritten != source {
            source = rewritten;
            env.add_template_owned(TEMPLATE_NAME, source.clone())
                .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
        }
        let caps = caps::detect(&EnvProber(&env));
        let mut template = ChatTemplate {
            env,
            source,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
            add_bos: false,
            add_eos: false,
            caps,
            supports_thinking: false,
            builtin: None,
        };
        template.supports_thinking = thinking::detect(&template);
        Ok(template)
    }

    /// A built-in named template (llama.cpp `--chat-template NAME`); the error lists the names.
    pub fn builtin(name: &str) -> Result<Self> {
        let known = BUILTIN_NAMES.iter().find(|n| **n == name).ok_or_else(|| {
            Error::ChatTemplateUnknown {
                name: name.to_string(),
                known: BUILTIN_NAMES.join(", "),
            }
        })?;
        let mut template = Self::new("", "", "")?;
        template.builtin = Some(known);
        Ok(template)
    }

    /// A built-in name, else a Jinja source (llama.cpp's rule for `--chat-template VALUE`).
    pub fn from_name_or_source(value: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        if BUILTIN_NAMES.contains(&value) {
            return Self::builtin(value);
        }
        Self::new(value, bos_token, eos_token)
    }

    /// The built-in format's name, when this is one.
    pub fn builtin_name(&self) -> Option<&'static str> {
        self.builtin
    }

    /// Sets the BOS/EOS texts templates see.
    pub fn with_special_tokens(mut self, bos_token: &str, eos_token: &str) -> Self {
        self.bos_token = bos_token.to_owned();
        self.eos_token = eos_token.to_owned();
        self
    }

    /// Reads a Jinja template from `path` (llama.cpp `--chat-template-file`).
    pub fn from_file(
        path: impl AsRef<std::path::Path>,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<Self> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|e| {
            Error::ChatTemplateParse(format!("cannot read {}: {e}", path.display()))
        })?;
        Self::new(&source, bos_token, eos_token)
    }

    /// Sets whether the vocabulary adds BOS/EOS itself; llama.cpp then strips a leading BOS /
    /// trailing EOS text from the rendering so that it is not doubled.
    pub fn with_add_special(mut self, add_bos: bool, add_eos: bool) -> Self {
        self.add_bos = add_bos;
        self.add_eos = add_eos;
        self
    }

    /// The template source (after llama.cpp's compatibility patches).
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn bos_token(&self) -> &str {
        &self.bos_token
    }

    pub fn eos_token(&self) -> &str {
        &self.eos_token
    }

    pub(crate) fn add_bos(&self) -> bool {
        self.add_bos
    }

    pub(crate) fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// What the template handles, as probed at construction.
    pub fn caps(&self) -> &TemplateCaps {
        &self.caps
    }

    /// Whether `enable_thinking` defaults to on for this template.
    pub fn supports_thinking(&self) -> bool {
        self.supports_thinking
    }

    /// Renders `messages` as llama.cpp does with no tools (see [`apply`](Self::apply)).
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let mut inputs = ChatInputs::new(messages);
        inputs.add_generation_prompt = add_generation_prompt;
        self.apply(&inputs)
    }

    /// Like [`render`](Self::render) for OpenAI-style JSON messages and an optional `tools` list.
    pub fn render_json(
        &self,
        messages: &Json,
        add_generation_prompt: bool,
        tools: Option<&Json>,
    ) -> Result<String> {
        let messages = ChatMessage::parse_oaicompat(messages)?;
        let tools = match tools {
            Some(t) => ChatTool::parse_oaicompat(t)?,
            None => Vec::new(),
        };
        let mut inputs = ChatInputs::new(&messages);
        inputs.tools = &tools;
        inputs.add_generation_prompt = add_generation_prompt;
        self.apply(&inputs)
    }

    /// Renders with a prepared context.
    pub(crate) fn render_context(&self, ctx: Value) -> Result<String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
        template.render(ctx).map_err(render_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::test_support::{load_reference, load_test_chat_template, load_test_vocab};

    fn msgs(pairs: &[(&str, &str)]) -> Vec<ChatMessage> {
        pairs
            .iter()
            .map(|(r, c)| ChatMessage::new(*r, *c))
            .collect()
    }

    #[test]
    fn smollm2_template_renders_like_hf_and_tokenizes_like_llama_cpp() {
        let (Some(source), Some(vocab)) = (load_test_chat_template(), load_test_vocab()) else {
            return;
        };
        let bos = vocab.bos().and_then(|id| vocab.token_text(id)).unwrap();
        let eos = vocab.eos().and_then(|id| vocab.token_text(id)).unwrap();
        let template = ChatTemplate::new(source, bos, eos).unwrap();
        let rendered = template
            .render(&msgs(&[("user", "What is 2+2?")]), true)
            .unwrap();
        assert_eq!(
            rendered,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging \
             Face<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
        let tokens = vocab.tokenize(&rendered, true, true);
        assert_eq!(tokens.len(), 37);
        if let Some(reference) = load_reference() {
            let chat = &reference["chat"][0];
            assert_eq!(chat["messages"][0]["content"], "What is 2+2?");
            assert_eq!(
                chat["usage"]["prompt_tokens"].as_u64(),
                Some(tokens.len() as u64)
            );
        }
        let with_system = template
            .render(&msgs(&[("system", "Be terse."), ("user", "Hi")]), false)
            .unwrap();
        assert_eq!(
            with_system,
            "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        );
    }

    const LLAMA31_STYLE: &str = r#"{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if message.role not in ['user', 'assistant'] %}
        {{- raise_exception("Unsupported role: " + message.role) }}
    {%- endif %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
"#;

    #[test]
    fn llama3_style_template_renders_and_raises() {
        let t = ChatTemplate::new(LLAMA31_STYLE, "<|begin_of_text|>", "<|eot_id|>").unwrap();
        let today = strftime_now("%d %b %Y");
        let out = t
            .render(&msgs(&[("system", "  Be brief. "), ("user", "Hi\n")]), true)
            .unwrap();
        assert_eq!(
            out,
            format!(
                "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nToday Date: \
                 {today}\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n\
                 Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
            )
        );
        let err = t.render(&msgs(&[("tool", "42")]), false).unwrap_err();
        assert!(
            matches!(&err, Error::ChatTemplateRaised(m) if m == "Unsupported role: tool"),
            "{err}"
        );
    }

    const MISTRAL_STYLE: &str =
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] \
        == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must \
        alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' \
        %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' \
        %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and \
        assistant roles are supported!') }}{% endif %}{% endfor %}";

    #[test]
    fn mistral_style_template_renders_and_raises() {
        let t = ChatTemplate::new(MISTRAL_STYLE, "<s>", "</s>").unwrap();
        let out = t
            .render(
                &msgs(&[("user", "Hi"), ("assistant", "Hello"), ("user", "Bye")]),
                true,
            )
            .unwrap();
        assert_eq!(out, "<s>[INST] Hi [/INST]Hello</s> [INST] Bye [/INST]");
        let err = t
            .render(&msgs(&[("user", "a"), ("user", "b")]), false)
            .unwrap_err();
        assert!(
            matches!(&err, Error::ChatTemplateRaised(m)
                if m == "Conversation roles must alternate user/assistant/user/assistant/..."),
            "{err}"
        );
        assert!(err.to_string().starts_with("chat: "));
    }

    #[test]
    fn tojson_does_not_html_escape() {
        let t = ChatTemplate::new(
            "{{ tools[0].function|tojson }}|{{ messages[0]|tojson }}",
            "",
            "",
        )
        .unwrap();
        let tools = serde_json::json!([{"type": "function",
            "function": {"name": "a<b>", "description": "x & y's"}}]);
        let messages = serde_json::json!([{"role": "user", "content": "<hi>"}]);
        let out = t.render_json(&messages, false, Some(&tools)).unwrap();
        assert_eq!(
            out,
            r#"{"name": "a<b>", "description": "x & y's", "parameters": {}}|{"role": "user", "content": "<hi>"}"#
        );
    }

    #[test]
    fn python_methods_loop_controls_and_python_literals_work() {
        let source = "{{ messages[0].content.strip().upper() }}\
            {% if messages[0].content.startswith(' ') %}!{% endif %}\
            {% for m in messages %}{% if loop.index > 1 %}{% break %}{% endif %}{{ m.role }}{% endfor %}\
            {{ tools }} {{ add_generation_prompt }}\n";
        let t = ChatTemplate::new(source, "", "").unwrap();
        let out = t
            .render(&msgs(&[("user", " hi "), ("assistant", "x")]), true)
            .unwrap();
        assert_eq!(
            out, "HI!user True",
            "trailing newline dropped, True as Python, no tools given: undefined as in llama.cpp"
        );
    }

    #[test]
    fn block_tags_are_trimmed_like_hf() {
        let source = "{% for m in messages %}\n  {% if true %}\n{{ m.content }}\n  {% endif %}\n{% endfor %}";
        let t = ChatTemplate::new(source, "", "").unwrap();
        assert_eq!(
            t.render(&msgs(&[("user", "a"), ("user", "b")]), false)
                .unwrap(),
            "a\nb\n"
        );
    }

    #[test]
    fn invalid_templates_are_reported() {
        let err = ChatTemplate::new("{% for %}", "", "").unwrap_err();
        assert!(matches!(err, Error::ChatTemplateParse(_)), "{err}");
        let t = ChatTemplate::new("{{ 1 + messages }}", "", "").unwrap();
        let err = t.render(&[], false).unwrap_err();
        assert!(matches!(err, Error::ChatTemplateRender(_)), "{err}");
    }
}
