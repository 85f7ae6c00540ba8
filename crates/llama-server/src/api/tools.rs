//! A chat request's tools: `tools`, `tool_choice` and `parallel_tool_calls` validated, and the
//! options the scheduler reads the answer with (tool-call format of the template, reasoning).

use super::request::ChatRequest;
use crate::error::{Result, ServerError};
use llama_core::chat::toolcall::{ParserOptions, ReasoningFormat, ToolChoice};
use llama_core::chat::{ChatTemplate, ChatTool};
use llama_core::sampling::constraint::ConstraintSpec;

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// The tool fields of one chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolRequest {
    pub tools: Vec<ChatTool>,
    pub choice: ToolChoice,
    /// `parallel_tool_calls` (llama.cpp's default: false). Only a call grammar can enforce it;
    /// the parser reads every call the model writes.
    pub parallel: bool,
}

impl ToolRequest {
    /// Validates the request's tool fields: a named `tool_choice` must name one of `tools`,
    /// and `required` or a named function needs tools.
    pub fn from_request(req: &ChatRequest) -> Result<Self> {
        let tools = match &req.tools {
            None => Vec::new(),
            Some(v) => ChatTool::parse_oaicompat(v).map_err(|e| bad(format!("'tools': {e}")))?,
        };
        let choice = ToolChoice::parse_oaicompat(req.tool_choice.as_ref())
            .map_err(|e| bad(format!("'tool_choice': {e}")))?;
        match &choice {
            ToolChoice::Required if tools.is_empty() => {
                return Err(bad("'tool_choice' is \"required\" but 'tools' is empty"))
            }
            ToolChoice::Named(name) if !tools.iter().any(|t| &t.name == name) => {
                return Err(bad(format!(
                    "'tool_choice' names function '{name}', which is not in 'tools'"
                )))
            }
            _ => {}
        }
        Ok(ToolRequest {
            tools,
            choice,
            parallel: req.parallel_tool_calls.unwrap_or(false),
        })
    }

    /// With `required` or a named function, the grammar that forces the answer to be a call
    /// (llguidance Lark, from `ParserOptions::call_grammar`), as llama.cpp constrains it (`auto`:
    /// see [`Self::lazy_call`]).
    pub fn forced_call(&self, opts: &ParserOptions) -> Result<Option<ConstraintSpec>> {
        if !matches!(self.choice, ToolChoice::Required | ToolChoice::Named(_)) {
            return Ok(None);
        }
        match opts.call_grammar(&self.choice, self.parallel) {
            Some(g) if g.after_reasoning.is_none() && !g.lazy => {
                Ok(Some(ConstraintSpec::Lark(g.lark)))
            }
            Some(_) => Err(bad(
                "'tool_choice' \"required\" or a named function cannot be enforced while the \
                 prompt leaves a thought open",
            )),
            None => Err(bad(
                "'tool_choice' \"required\" or a named function needs a chat template with a \
                 known tool-call format",
            )),
        }
    }

    /// With `auto` (tools present), llama.cpp's lazy grammar: the answer is free until the
    /// model starts a call (the format's trigger), then constrained so the call parses.
    /// Formats without triggers (the generic JSON one) stay unconstrained.
    pub fn lazy_call(&self, opts: &ParserOptions) -> Option<ConstraintSpec> {
        if self.choice != ToolChoice::Auto {
            return None;
        }
        opts.call_grammar(&self.choice, self.parallel)?.lazy_spec()
    }

    /// The tools the template renders: none with `tool_choice: "none"` (as llama.cpp).
    pub fn rendered(&self) -> &[ChatTool] {
        match self.choice {
            ToolChoice::None => &[],
            _ => &self.tools,
        }
    }

    /// How the answer to `prompt` (rendered by `template`) is read.
    pub fn parser(
        &self,
        template: Option<&ChatTemplate>,
        prompt: &str,
        reasoning: ReasoningFormat,
    ) -> ParserOptions {
        match template {
            Some(t) => ParserOptions::for_request(t, prompt, &self.tools, &self.choice, reasoning),
            None => {
                let mut opts =
                    ParserOptions::new(llama_core::chat::toolcall::ToolCallFormat::ContentOnly);
                opts.reasoning_format = reasoning;
                opts.parse_tool_calls = false;
                opts
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> ChatRequest {
        serde_json::from_str(body).expect("valid request")
    }

    const TOOLS: &str = r#""tools":[{"type":"function","function":{"name":"get_weather",
        "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#;

    /// Qwen 2.5's template (Hermes format) renders the tools, the assistant's call and the tool
    /// result; the answer to that prompt is parsed as Hermes calls.
    #[test]
    fn tools_and_tool_messages_are_rendered_and_the_answer_parsed() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/templates/Qwen-Qwen2.5-7B-Instruct.jinja"
        );
        let source = std::fs::read_to_string(path).expect("template in testdata");
        let template = ChatTemplate::new(&source, "", "<|im_end|>").expect("template");
        let body = format!(
            r#"{{"messages":[{{"role":"user","content":"Weather in Paris?"}},
            {{"role":"assistant","content":null,"tool_calls":[{{"id":"call_1","type":"function",
              "function":{{"name":"get_weather","arguments":"{{\"city\":\"Paris\"}}"}}}}]}},
            {{"role":"tool","tool_call_id":"call_1","content":"18 C, sunny"}}],{TOOLS}}}"#
        );
        let req = req(&body);
        let tools = ToolRequest::from_request(&req).expect("valid");
        let messages = crate::api::prompt::chat_messages(&req.messages).expect("messages");
        assert_eq!(messages[1].tool_calls[0].arguments, r#"{"city":"Paris"}"#);
        assert_eq!(messages[2].tool_call_id, "call_1");
        let prompt = crate::api::prompt::render_chat(
            Some(&template),
            &messages,
            tools.rendered(),
            &Default::default(),
        )
        .expect("renders");
        for part in [
            "<tools>",
            "\"name\": \"get_weather\"",
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
            "<tool_response>\n18 C, sunny\n</tool_response>",
        ] {
            assert!(prompt.contains(part), "{part} not in {prompt}");
        }
        let opts = tools.parser(Some(&template), &prompt, ReasoningFormat::DeepSeek);
        assert_eq!(
            opts.format,
            llama_core::chat::toolcall::ToolCallFormat::Hermes
        );
        assert!(opts.parse_tool_calls);
        let none = ToolRequest {
            choice: ToolChoice::None,
            ..tools
        };
        assert!(
            !none
                .parser(Some(&template), &prompt, ReasoningFormat::DeepSeek)
                .parse_tool_calls
        );
    }

    #[test]
    fn tool_choice_spellings() {
        for (choice, want) in [
            ("\"auto\"", ToolChoice::Auto),
            ("\"none\"", ToolChoice::None),
            ("\"required\"", ToolChoice::Required),
            (
                r#"{"type":"function","function":{"name":"get_weather"}}"#,
                ToolChoice::Named("get_weather".into()),
            ),
        ] {
            let body = format!(r#"{{"messages":[],{TOOLS},"tool_choice":{choice}}}"#);
            let t = ToolRequest::from_request(&req(&body)).expect(choice);
            assert_eq!(t.choice, want);
            assert_eq!(t.tools.len(), 1);
            assert_eq!(t.rendered().is_empty(), want == ToolChoice::None);
        }
    }

    #[test]
    fn impossible_tool_fields_are_bad_requests_naming_the_field() {
        for (body, field) in [
            (
                r#"{"messages":[],"tool_choice":"required"}"#.to_string(),
                "tool_choice",
            ),
            (
                format!(r#"{{"messages":[],{TOOLS},"tool_choice":"maybe"}}"#),
                "tool_choice",
            ),
            (
                format!(
                    r#"{{"messages":[],{TOOLS},"tool_choice":{{"type":"function","function":{{"name":"nope"}}}}}}"#
                ),
                "tool_choice",
            ),
            (
                r#"{"messages":[],"tools":[{"type":"retrieval"}]}"#.to_string(),
                "tools",
            ),
            (r#"{"messages":[],"tools":{"a":1}}"#.to_string(), "tools"),
        ] {
            match ToolRequest::from_request(&req(&body)) {
                Err(ServerError::BadRequest(msg)) => assert!(msg.contains(field), "{body}: {msg}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }
}
