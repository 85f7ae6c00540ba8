//! The call grammars of `chat::toolcall::call_grammar` compile in llguidance and accept the
//! calls the parsers read (llama.cpp's test outputs), and refuse calls to other tools or with
//! arguments outside the schema; lazy grammars come with triggers found in those outputs.
#![allow(clippy::unwrap_used)] // test code: failures should panic

use llama_core::chat::toolcall::{
    call_grammar, parse, CallGrammar, GrammarTrigger, ParserOptions, ToolCallFormat, ToolChoice,
};
use llama_core::chat::ChatTool;
use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::{ApproximateTokEnv, TokEnv};
use llguidance::{Matcher, ParserFactory};
use serde_json::json;

fn tools() -> Vec<ChatTool> {
    let obj = |props: serde_json::Value, req: serde_json::Value| json!({"type": "object", "properties": props, "required": req});
    vec![
        ChatTool {
            name: "special_function".into(),
            description: String::new(),
            parameters: obj(json!({"arg1": {"type": "integer"}}), json!(["arg1"])),
        },
        ChatTool {
            name: "python".into(),
            description: String::new(),
            parameters: obj(json!({"code": {"type": "string"}}), json!(["code"])),
        },
    ]
}

/// Whether `grammar` accepts exactly `text` (bytes as tokens).
fn accepts(grammar: &CallGrammar, text: &str) -> Result<bool, String> {
    let env: TokEnv = ApproximateTokEnv::single_byte_env();
    let mut factory = ParserFactory::new_simple(&env).map_err(|e| e.to_string())?;
    factory.quiet();
    let parser = factory
        .create_parser(TopLevelGrammar::from_lark(grammar.lark.clone()))
        .map_err(|e| format!("{e}\n{}", grammar.lark))?;
    let mut m = Matcher::new(Ok(parser));
    let tokens = env.tokenize_bytes(text.as_bytes());
    if m.consume_tokens(&tokens).is_err() {
        return Ok(false);
    }
    Ok(m.is_accepting().unwrap_or(false))
}

/// (format, a call to special_function with arg1 = 1, the same call with arg1 = "x").
fn samples() -> Vec<(ToolCallFormat, String, String)> {
    let q = |s: &str| s.to_string();
    let xml = |v: &str| {
        format!("<tool_call>\n<function=special_function>\n<parameter=arg1>\n{v}\n</parameter>\n</function>\n</tool_call>")
    };
    let ds = |v: &str| {
        format!("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>special_function\n```json\n{{\"arg1\": {v}}}```<｜tool▁call▁end｜><｜tool▁calls▁end｜>")
    };
    vec![
        (
            ToolCallFormat::Hermes,
            q("<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}\n</tool_call>"),
            q("<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}}\n</tool_call>"),
        ),
        (ToolCallFormat::Qwen3Coder, xml("1"), xml("\"x\"")),
        (
            ToolCallFormat::Llama3 { builtin_tools: true },
            q("{\"name\": \"special_function\", \"parameters\": {\"arg1\": 1}}"),
            q("{\"name\": \"special_function\", \"parameters\": {\"arg1\": \"x\"}}"),
        ),
        (
            ToolCallFormat::MistralNemo,
            q("[TOOL_CALLS][{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}, \"id\": \"123456789\"}]"),
            q("[TOOL_CALLS][{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}, \"id\": \"123456789\"}]"),
        ),
        (
            ToolCallFormat::NemotronV2,
            q("<TOOLCALL>[{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}]</TOOLCALL>"),
            q("<TOOLCALL>[{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}}]</TOOLCALL>"),
        ),
        (
            ToolCallFormat::FireFunction,
            q(" functools[{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}]"),
            q(" functools[{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}}]"),
        ),
        (
            ToolCallFormat::Granite,
            q("<|tool_call|>[{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}]"),
            q("<|tool_call|>[{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}}]"),
        ),
        (
            ToolCallFormat::CommandR7B,
            q("<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"special_function\", \"parameters\": {\"arg1\": 1}}]<|END_ACTION|>"),
            q("<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"special_function\", \"parameters\": {\"arg1\": \"x\"}}]<|END_ACTION|>"),
        ),
        (ToolCallFormat::DeepSeekR1, ds("1"), ds("\"x\"")),
        (
            ToolCallFormat::FunctionaryV31,
            q("<function=special_function>{\"arg1\": 1}</function>"),
            q("<function=special_function>{\"arg1\": \"x\"}</function>"),
        ),
        (
            ToolCallFormat::FunctionaryV32,
            q("special_function\n{\"arg1\": 1}"),
            q("special_function\n{\"arg1\": \"x\"}"),
        ),
        (
            ToolCallFormat::Generic,
            q("{\"tool_calls\": [{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}]}"),
            q("{\"tool_calls\": [{\"name\": \"special_function\", \"arguments\": {\"arg1\": \"x\"}}]}"),
        ),
    ]
}

#[test]
fn required_grammars_accept_valid_calls_and_refuse_others() {
    let tools = tools();
    for (format, good, bad) in samples() {
        let g = call_grammar(format, &tools, &ToolChoice::Required, false).unwrap();
        assert!(!g.lazy, "{format:?}");
        assert_eq!(
            accepts(&g, &good),
            Ok(true),
            "{format:?} refuses {good}\n{}",
            g.lark
        );
        assert_eq!(accepts(&g, &bad), Ok(false), "{format:?} accepts {bad}");
        // What the grammar lets through, the parser reads as the call.
        let msg = parse(&good, &ParserOptions::new(format));
        assert_eq!(msg.tool_calls.len(), 1, "{format:?}");
        assert_eq!(msg.tool_calls[0].name, "special_function");
        // Named: only that tool.
        let named = ToolChoice::Named("python".into());
        let g = call_grammar(format, &tools, &named, false).unwrap();
        assert_eq!(
            accepts(&g, &good),
            Ok(false),
            "{format:?} named python accepts {good}"
        );
    }
}

#[test]
fn auto_grammars_are_lazy_with_triggers_from_the_calls() {
    let tools = tools();
    for (format, good, _) in samples() {
        let g = call_grammar(format, &tools, &ToolChoice::Auto, true).unwrap();
        if format == ToolCallFormat::Generic {
            // The whole answer is JSON there: llama.cpp applies that grammar eagerly.
            assert!(!g.lazy && g.triggers.is_empty());
            continue;
        }
        assert!(g.lazy, "{format:?}");
        let fired = g.triggers.iter().any(|t| match t {
            GrammarTrigger::Word(w) => good.contains(w.as_str()),
            GrammarTrigger::Pattern(p) => regex::Regex::new(p).unwrap().is_match(&good),
        });
        assert!(fired, "{format:?}: no trigger in {good}: {:?}", g.triggers);
        assert_eq!(
            accepts(&g, &good),
            Ok(true),
            "{format:?} lazy refuses {good}"
        );
    }
}

/// Hermes / Qwen 2.5 with `auto`: llama.cpp at the vendored commit (its autoparser,
/// `common/chat-auto-parser-generator.cpp`, has no `hermes_2_pro` handler any more) triggers
/// only on the call marker `<tool_call>`; its one extra trigger, the word
/// `{"type": "function",`, is for templates that ask for bare `{"name", "parameters"}` JSON
/// (Llama 3.x), not Hermes. So a bare `{"name": ...}` object after a tool result stays text
/// for the grammar, as there.
#[test]
fn hermes_auto_triggers_only_on_the_call_marker_as_llama_cpp() {
    let g = call_grammar(ToolCallFormat::Hermes, &tools(), &ToolChoice::Auto, true).unwrap();
    assert!(g.lazy);
    assert_eq!(g.triggers, vec![GrammarTrigger::Word("<tool_call>".into())]);
    let bare = r#"{"name": "special_function", "arguments": {"arg1": 1}}"#;
    assert!(!g.triggers.iter().any(|t| match t {
        GrammarTrigger::Word(w) => bare.contains(w.as_str()),
        GrammarTrigger::Pattern(p) => regex::Regex::new(p).unwrap().is_match(bare),
    }));
}

#[test]
fn no_grammar_without_tools_or_with_none() {
    let tools = tools();
    assert!(call_grammar(ToolCallFormat::Hermes, &tools, &ToolChoice::None, false).is_none());
    assert!(call_grammar(ToolCallFormat::Hermes, &[], &ToolChoice::Required, false).is_none());
    assert!(call_grammar(
        ToolCallFormat::ContentOnly,
        &tools,
        &ToolChoice::Required,
        false
    )
    .is_none());
    let missing = ToolChoice::Named("nope".into());
    assert!(call_grammar(ToolCallFormat::Hermes, &tools, &missing, false).is_none());
}

#[test]
fn parallel_grammars_take_several_calls_only_when_allowed() {
    let tools = tools();
    let two = [
        (
            ToolCallFormat::Hermes,
            "<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"python\", \"arguments\": {\"code\": \"1\"}}\n</tool_call>",
        ),
        (
            ToolCallFormat::MistralNemo,
            "[TOOL_CALLS][{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}, \"id\": \"123456789\"}, {\"name\": \"python\", \"arguments\": {\"code\": \"1\"}, \"id\": \"abcdefghi\"}]",
        ),
        (
            ToolCallFormat::DeepSeekR1,
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>special_function\n```json\n{\"arg1\": 1}```<｜tool▁call▁end｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>python\n```json\n{\"code\": \"1\"}```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
        ),
    ];
    for (format, text) in two {
        let par = call_grammar(format, &tools, &ToolChoice::Required, true).unwrap();
        assert_eq!(accepts(&par, text), Ok(true), "{format:?}\n{}", par.lark);
        let single = call_grammar(format, &tools, &ToolChoice::Required, false).unwrap();
        assert_eq!(accepts(&single, text), Ok(false), "{format:?}");
        assert_eq!(parse(text, &ParserOptions::new(format)).tool_calls.len(), 2);
    }
}

#[test]
fn tool_choice_parses_like_openai() {
    let p = |v: serde_json::Value| ToolChoice::parse_oaicompat(Some(&v));
    assert_eq!(ToolChoice::parse_oaicompat(None).unwrap(), ToolChoice::Auto);
    assert_eq!(p(json!("required")).unwrap(), ToolChoice::Required);
    assert_eq!(p(json!("none")).unwrap(), ToolChoice::None);
    let named = json!({"type": "function", "function": {"name": "python"}});
    assert_eq!(p(named).unwrap(), ToolChoice::Named("python".into()));
    assert!(p(json!("sometimes")).is_err());
    assert!(p(json!({"type": "function"})).is_err());
}

#[test]
fn forced_open_thinking_delays_the_grammar() {
    let mut opts = ParserOptions::new(ToolCallFormat::DeepSeekR1);
    opts.tools = tools();
    let g = opts.call_grammar(&ToolChoice::Required, false).unwrap();
    assert_eq!(g.after_reasoning, None);
    opts.thinking_forced_open = true;
    let g = opts.call_grammar(&ToolChoice::Required, false).unwrap();
    assert_eq!(g.after_reasoning.as_deref(), Some("</think>"));
    assert!(!g.lazy);
}
