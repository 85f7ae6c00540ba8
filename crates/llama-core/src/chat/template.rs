//! `ChatTemplate`: renders a model's `tokenizer.chat_template` with minijinja the way
//! HuggingFace transformers' `apply_chat_template` does (Jinja2 sandbox with `trim_blocks`,
//! `lstrip_blocks`, loop controls, `raise_exception`, `strftime_now`, a non-escaping `tojson`
//! and Python string/dict methods).

use std::fmt;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Serde, ValueKind};
use minijinja::{escape_formatter, Environment, ErrorKind, Output, State, Value};
use serde::{Deserialize, Serialize};

use super::json::tojson_filter;
use super::strftime::strftime_now;
use crate::error::{Error, Result};

const TEMPLATE_NAME: &str = "chat_template";

/// One chat message as passed to templates (`message['role']`, `message['content']`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A compiled chat template plus the special-token strings it receives.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("bos_token", &self.bos_token)
            .field("eos_token", &self.eos_token)
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
    env.add_function("strftime_now", |format: String| strftime_now(&format));
    Ok(env)
}

impl ChatTemplate {
    /// Compiles `source`. `bos_token`/`eos_token` are the token strings templates see (e.g.
    /// `vocab.token_text(bos)`); a final newline of the source is dropped, as Jinja2 does.
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = build_env()?;
        env.add_template_owned(TEMPLATE_NAME, source.to_owned())
            .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// Renders `messages`; `add_generation_prompt` asks the template to open the assistant turn.
    /// `tools` and `documents` are passed as `None`, like HF does when none are given.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        self.render_value(
            Value::from(Serde(messages)),
            add_generation_prompt,
            Value::from(()),
        )
    }

    /// `rendered` without its leading BOS text when the tokenizer adds BOS itself (`add_bos`):
    /// templates such as Gemma's print `{{ bos_token }}`, and llama.cpp's
    /// `common_chat_templates_apply` strips it so that the prompt does not start with two BOS.
    pub fn strip_bos<'a>(&self, rendered: &'a str, add_bos: bool) -> &'a str {
        match rendered.strip_prefix(self.bos_token.as_str()) {
            Some(rest) if add_bos && !self.bos_token.is_empty() => rest,
            _ => rendered,
        }
    }

    /// Like [`render`](Self::render) for arbitrary JSON messages (tool calls, extra fields) and
    /// an optional `tools` list.
    pub fn render_json(
        &self,
        messages: &serde_json::Value,
        add_generation_prompt: bool,
        tools: Option<&serde_json::Value>,
    ) -> Result<String> {
        let tools = tools.map_or(Value::from(()), |t| Value::from(Serde(t)));
        self.render_value(Value::from(Serde(messages)), add_generation_prompt, tools)
    }

    fn render_value(
        &self,
        messages: Value,
        add_generation_prompt: bool,
        tools: Value,
    ) -> Result<String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::ChatTemplateParse(e.to_string()))?;
        let ctx = minijinja::context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
            tools => tools,
            documents => Value::from(()),
        };
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
        let t = ChatTemplate::new("{{ tools|tojson }}|{{ messages[0]|tojson }}", "", "").unwrap();
        let tools = serde_json::json!([{"name": "a<b>", "description": "x & y's"}]);
        let messages = serde_json::json!([{"role": "user", "content": "<hi>"}]);
        let out = t.render_json(&messages, false, Some(&tools)).unwrap();
        assert_eq!(
            out,
            r#"[{"name": "a<b>", "description": "x & y's"}]|{"role": "user", "content": "<hi>"}"#
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
            out, "HI!userNone True",
            "trailing newline dropped, None/True as Python"
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
