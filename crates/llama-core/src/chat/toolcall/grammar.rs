//! What a constrained sampler needs to force well-formed calls (llama.cpp's lazy grammars):
//! per format the trigger words or patterns that start a call, the marker tokens to keep,
//! and a Lark grammar (llguidance syntax, `%json {schema}` for JSON parts) of the call syntax
//! for the request's tools. The sampling itself lives elsewhere.

use serde_json::{json, Value as Json};

use super::reasoning::think_tags;
use super::types::{ParserOptions, ReasoningFormat, ToolCallFormat};
use crate::chat::ChatTool;
use crate::error::{Error, Result};
use crate::sampling::constraint::{ConstraintSpec, LazyTriggers};

/// `tool_choice` of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    None,
    Required,
    /// `{"type": "function", "function": {"name": ...}}`.
    Named(String),
}

impl ToolChoice {
    /// An OpenAI `tool_choice` (absent or null: `auto`).
    pub fn parse_oaicompat(v: Option<&Json>) -> Result<Self> {
        let invalid =
            || Error::ChatMessages(format!("invalid tool_choice: {}", v.unwrap_or(&Json::Null)));
        match v {
            None | Some(Json::Null) => Ok(ToolChoice::Auto),
            Some(Json::String(s)) => match s.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" => Ok(ToolChoice::Required),
                _ => Err(invalid()),
            },
            Some(obj) => match obj.pointer("/function/name").and_then(Json::as_str) {
                Some(name) if obj.get("type").and_then(Json::as_str) == Some("function") => {
                    Ok(ToolChoice::Named(name.to_string()))
                }
                _ => Err(invalid()),
            },
        }
    }
}

/// Where a lazy grammar starts applying (llama.cpp `common_grammar_trigger`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrammarTrigger {
    /// This text, wherever it appears; the grammar covers it.
    Word(String),
    /// A regex matched anywhere in the output; the grammar covers the text from the match.
    Pattern(String),
}

/// The call syntax of one request.
#[derive(Clone, Debug, PartialEq)]
pub struct CallGrammar {
    /// llguidance Lark grammar; `start` covers the output from the trigger on (lazy) or the
    /// whole output (not lazy).
    pub lark: String,
    /// `true` for `auto`: the model may answer in text; the grammar starts at a trigger.
    pub lazy: bool,
    pub triggers: Vec<GrammarTrigger>,
    /// Marker texts that are single special tokens in the model's vocabulary.
    pub preserved_tokens: Vec<String>,
    /// JSON schema of one call object, for the formats whose calls are JSON objects.
    pub call_schema: Json,
    /// The output starts inside a thinking block: the grammar (and the search for triggers)
    /// begins only after this end tag (llama.cpp's `thinking_end_tags`).
    pub after_reasoning: Option<String>,
}

impl CallGrammar {
    /// The sampling constraint of a lazy grammar (`tool_choice: "auto"`): free output until
    /// a trigger (searched after the open thought's end tag, if any), then this grammar.
    /// `None` when the grammar is not lazy.
    pub fn lazy_spec(&self) -> Option<ConstraintSpec> {
        if !self.lazy {
            return None;
        }
        let patterns = self
            .triggers
            .iter()
            .map(|t| match t {
                GrammarTrigger::Word(w) => regex::escape(w),
                GrammarTrigger::Pattern(p) => p.clone(),
            })
            .collect();
        Some(ConstraintSpec::Lazy {
            grammar: Box::new(ConstraintSpec::Lark(self.lark.clone())),
            triggers: LazyTriggers {
                patterns,
                after: self.after_reasoning.clone(),
            },
        })
    }
}

fn lit(s: &str) -> String {
    Json::String(s.to_string()).to_string()
}

fn schema(v: &Json) -> String {
    format!("%json {v}")
}

fn params(t: &ChatTool) -> Json {
    match &t.parameters {
        Json::Object(o) if !o.is_empty() => t.parameters.clone(),
        _ => json!({"type": "object", "properties": {}}),
    }
}

/// Where a model writes the id member of a call object.
#[derive(Clone, Copy)]
enum Id<'a> {
    None,
    First(&'a str, &'a Json),
    Last(&'a str, &'a Json),
}

/// One call object: `{name_key: const name, args_key: schema}` (+ an id member), members in
/// the order the model writes them (llguidance keeps the schema's property order).
fn call_object(t: &ChatTool, name_key: &str, args_key: &str, id: Id<'_>) -> Json {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    if let Id::First(key, s) = id {
        props.insert(key.into(), s.clone());
        required.push(json!(key));
    }
    props.insert(name_key.into(), json!({"const": t.name}));
    props.insert(args_key.into(), params(t));
    required.extend([json!(name_key), json!(args_key)]);
    if let Id::Last(key, s) = id {
        props.insert(key.into(), s.clone());
        required.push(json!(key));
    }
    json!({"type": "object", "properties": props, "required": required})
}

fn any_of(items: Vec<Json>) -> Json {
    if items.len() == 1 {
        items.into_iter().next().unwrap_or(Json::Null)
    } else {
        json!({ "anyOf": items })
    }
}

fn array(item: Json, parallel: bool) -> Json {
    let mut a = json!({"type": "array", "items": item, "minItems": 1});
    if !parallel {
        a["maxItems"] = json!(1);
    }
    a
}

/// The call grammar for `tools` in `format`, or `None` when nothing is to be constrained.
pub fn call_grammar(
    format: ToolCallFormat,
    tools: &[ChatTool],
    choice: &ToolChoice,
    parallel: bool,
) -> Option<CallGrammar> {
    let tools: Vec<&ChatTool> = match choice {
        ToolChoice::None => return None,
        ToolChoice::Named(n) => tools.iter().filter(|t| &t.name == n).collect(),
        _ => tools.iter().collect(),
    };
    if tools.is_empty() || format == ToolCallFormat::ContentOnly {
        return None;
    }
    let lazy = *choice == ToolChoice::Auto;
    let (calls, call_schema, triggers, preserved) = shape(format, &tools, parallel, lazy);
    let lark = format!("start: {calls}\n");
    Some(CallGrammar {
        lark,
        lazy: lazy && !triggers.is_empty(),
        triggers,
        preserved_tokens: preserved.iter().map(|s| s.to_string()).collect(),
        call_schema,
        after_reasoning: None,
    })
}

impl ParserOptions {
    /// The call grammar for this request: [`call_grammar`] of its format and tools, starting
    /// after the reasoning when the prompt left a thinking block open and thoughts are parsed.
    pub fn call_grammar(&self, choice: &ToolChoice, parallel: bool) -> Option<CallGrammar> {
        let mut g = call_grammar(self.format, &self.tools, choice, parallel)?;
        let parsed = self.reasoning_format != ReasoningFormat::None;
        if self.thinking_forced_open && parsed {
            g.after_reasoning = Some(think_tags(self.format).1.to_string());
        }
        Some(g)
    }
}

type Shape = (String, Json, Vec<GrammarTrigger>, Vec<&'static str>);

fn word(s: &str) -> GrammarTrigger {
    GrammarTrigger::Word(s.to_string())
}

/// `one` repeated when parallel calls are allowed.
fn repeat(one: String, sep: &str, parallel: bool) -> String {
    if parallel {
        format!("({one}) ({} {one})*", lit(sep))
    } else {
        one
    }
}

fn named(tools: &[&ChatTool], name_key: &str, args_key: &str, id: Id<'_>) -> Json {
    any_of(
        tools
            .iter()
            .map(|t| call_object(t, name_key, args_key, id))
            .collect(),
    )
}

/// A format whose calls are a JSON array between two markers.
struct ArrayFormat {
    open: &'static str,
    close: &'static str,
    name_key: &'static str,
    args_key: &'static str,
    trigger: &'static str,
    preserved: &'static [&'static str],
}

const ARGUMENTS: (&str, &str) = ("name", "arguments");

fn array_shape(spec: &ArrayFormat, tools: &[&ChatTool], parallel: bool, id: Id<'_>) -> Shape {
    let item = named(tools, spec.name_key, spec.args_key, id);
    let arr = array(item.clone(), parallel);
    let g = format!("{} {} {}", lit(spec.open), schema(&arr), lit(spec.close));
    (g, item, vec![word(spec.trigger)], spec.preserved.to_vec())
}

fn array_format(f: ToolCallFormat) -> Option<ArrayFormat> {
    use ToolCallFormat as F;
    let spec = |open, close, trigger, preserved| ArrayFormat {
        open,
        close,
        name_key: ARGUMENTS.0,
        args_key: ARGUMENTS.1,
        trigger,
        preserved,
    };
    Some(match f {
        F::MistralNemo => spec("[TOOL_CALLS]", "", "[TOOL_CALLS]", &["[TOOL_CALLS]"]),
        F::NemotronV2 => spec(
            "<TOOLCALL>",
            "</TOOLCALL>",
            "<TOOLCALL>",
            &["<TOOLCALL>", "</TOOLCALL>"],
        ),
        F::FireFunction => spec(" functools", "", " functools[", &[" functools["]),
        F::Granite => spec("<|tool_call|>", "", "<|tool_call|>", &["<|tool_call|>"]),
        F::CommandR7B => ArrayFormat {
            name_key: "tool_name",
            args_key: "parameters",
            ..spec(
                "<|START_ACTION|>",
                "<|END_ACTION|>",
                "<|START_ACTION|>",
                &["<|START_ACTION|>", "<|END_ACTION|>"],
            )
        },
        _ => return None,
    })
}

fn shape(f: ToolCallFormat, tools: &[&ChatTool], parallel: bool, lazy: bool) -> Shape {
    use ToolCallFormat as F;
    if let Some(spec) = array_format(f) {
        // Mistral ids are 9 alphanumerics written last; Command R's come first.
        let mistral_id = json!({"type": "string", "pattern": "^[a-zA-Z0-9]{9}$"});
        let cohere_id = json!({"type": "string", "pattern": "^[0-9]{1,10}$"});
        let id = match f {
            F::MistralNemo => Id::Last("id", &mistral_id),
            F::CommandR7B => Id::First("tool_call_id", &cohere_id),
            _ => Id::None,
        };
        return array_shape(&spec, tools, parallel, id);
    }
    let item = named(tools, ARGUMENTS.0, ARGUMENTS.1, Id::None);
    match f {
        F::Generic => {
            let calls = array(item.clone(), parallel);
            let mut alts = vec![
                json!({"type": "object", "properties": {"tool_calls": calls}, "required": ["tool_calls"]}),
            ];
            if lazy {
                alts.push(json!({"type": "object", "properties": {"response": {"type": "string"}}, "required": ["response"]}));
            }
            (schema(&any_of(alts)), item, vec![], vec![])
        }
        F::Llama3 { .. } => {
            let item = named(tools, "name", "parameters", Id::None);
            let pattern = r#"\{\s*(?:"type"\s*:\s*"function"\s*,\s*)?"name"\s*:\s*""#;
            let trigger = GrammarTrigger::Pattern(pattern.into());
            (schema(&item), item, vec![trigger], vec!["<|python_tag|>"])
        }
        F::DeepSeekR1 => deepseek_shape(tools, parallel),
        F::FunctionaryV31 | F::FunctionaryV32 => functionary_shape(f, tools, parallel, item),
        F::Qwen3Coder => qwen3_coder_shape(tools, parallel),
        // Hermes (content-only never gets here; the array formats returned above).
        _ => {
            let one = format!("\"<tool_call>\\n\" {} \"\\n</tool_call>\"", schema(&item));
            let preserved = vec!["<tool_call>", "</tool_call>"];
            (
                repeat(one, "\n", parallel),
                item,
                vec![word("<tool_call>")],
                preserved,
            )
        }
    }
}

fn functionary_shape(f: ToolCallFormat, tools: &[&ChatTool], parallel: bool, item: Json) -> Shape {
    if f == ToolCallFormat::FunctionaryV31 {
        let one = alternatives(tools, |t| {
            let open = lit(&format!("<function={}>", t.name));
            format!("{open} {} \"</function>\"", schema(&params(t)))
        });
        return (
            repeat(one, "", parallel),
            item,
            vec![word("<function=")],
            vec!["<|python_tag|>"],
        );
    }
    let one = alternatives(tools, |t| {
        format!("{} {}", lit(&format!("{}\n", t.name)), schema(&params(t)))
    });
    let triggers = tools
        .iter()
        .map(|t| GrammarTrigger::Pattern(format!("(?:^|>>>){}\\n", regex::escape(&t.name))))
        .collect();
    (repeat(one, ">>>", parallel), item, triggers, vec![])
}

/// `((call to tool 1) | (call to tool 2) ...)`, grouped so that it composes.
fn alternatives(tools: &[&ChatTool], one: impl Fn(&ChatTool) -> String) -> String {
    let alts: Vec<String> = tools.iter().map(|t| format!("({})", one(t))).collect();
    format!("({})", alts.join(" | "))
}

fn deepseek_shape(tools: &[&ChatTool], parallel: bool) -> Shape {
    let one = alternatives(tools, |t| {
        let head = format!(
            "<｜tool▁call▁begin｜>function<｜tool▁sep｜>{}\n```json\n",
            t.name
        );
        format!(
            "{} {} \"```<｜tool▁call▁end｜>\"",
            lit(&head),
            schema(&params(t))
        )
    });
    let calls = repeat(one, "", parallel);
    let g = format!("\"<｜tool▁calls▁begin｜>\" {calls} \"<｜tool▁calls▁end｜>\"");
    let item = named(tools, "name", "arguments", Id::None);
    let preserved = vec![
        "<｜tool▁calls▁begin｜>",
        "<｜tool▁call▁begin｜>",
        "<｜tool▁sep｜>",
        "<｜tool▁call▁end｜>",
        "<｜tool▁calls▁end｜>",
    ];
    (g, item, vec![word("<｜tool▁calls▁begin｜>")], preserved)
}

/// Qwen3-Coder: parameters in the schema's order, required ones always, string values as
/// text without `<`, others as JSON.
fn qwen3_coder_shape(tools: &[&ChatTool], parallel: bool) -> Shape {
    let one = alternatives(tools, |t| {
        let p = params(t);
        let required: Vec<&str> = p["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let mut body = String::new();
        if let Some(props) = p["properties"].as_object() {
            for (k, s) in props {
                let value = if s.get("type") == Some(&json!("string")) {
                    "/[^<]*/".to_string()
                } else {
                    schema(s)
                };
                let part = format!(
                    "{} {} \"\\n</parameter>\\n\"",
                    lit(&format!("<parameter={k}>\n")),
                    value
                );
                let part = if required.contains(&k.as_str()) {
                    part
                } else {
                    format!("({part})?")
                };
                body.push_str(&part);
                body.push(' ');
            }
        }
        format!(
            "\"<tool_call>\\n\" {} {body}\"</function>\\n</tool_call>\"",
            lit(&format!("<function={}>\n", t.name))
        )
    });
    let item = named(tools, "name", "arguments", Id::None);
    (
        repeat(one, "\n", parallel),
        item,
        vec![word("<tool_call>")],
        vec!["<tool_call>", "</tool_call>"],
    )
}
