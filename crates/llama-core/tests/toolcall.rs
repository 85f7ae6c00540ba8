//! Tool-call parsing on fixed model outputs (`testdata/toolcall/cases.json`, mostly llama.cpp's
//! own `tests/test-chat.cpp` cases): the format is picked from the real chat template, the
//! whole-output parse gives llama.cpp's expected message, and streaming the output one byte
//! at a time gives deltas whose concatenation is exactly the whole-output parse.
#![allow(clippy::unwrap_used)] // test code: failures should panic

use std::path::PathBuf;

use llama_core::chat::toolcall::{
    detect_format, parse, thinking_forced_open, ChatDelta, ParserOptions, ReasoningFormat,
    StreamParser, ToolCallFormat, ToolChoice,
};
use llama_core::chat::{ChatInputs, ChatMessage, ChatTemplate, ChatTool, ToolCall};
use serde_json::{json, Value as Json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn tools() -> Vec<ChatTool> {
    let int = json!({"type": "integer"});
    let obj =
        |props: Json, req: Json| json!({"type": "object", "properties": props, "required": req});
    vec![
        ChatTool {
            name: "special_function".into(),
            description: "I'm special".into(),
            parameters: obj(json!({"arg1": int}), json!(["arg1"])),
        },
        ChatTool {
            name: "special_function_with_opt".into(),
            description: "I'm special but have optional stuff".into(),
            parameters: obj(json!({"arg1": int, "arg2": int}), json!(["arg1"])),
        },
        ChatTool {
            name: "python".into(),
            description: "an ipython interpreter".into(),
            parameters: obj(json!({"code": {"type": "string"}}), json!(["code"])),
        },
    ]
}

fn format_named(name: &str) -> ToolCallFormat {
    match name {
        "FireFunction" => ToolCallFormat::FireFunction,
        other => panic!("unknown format {other}"),
    }
}

/// The parser options llama.cpp would use for this case: format from the template source,
/// forced-open thinking from the rendered generation prompt.
fn options(case: &Json) -> ParserOptions {
    let with_tools = case["tools"].as_bool().unwrap_or(true);
    let tools = if with_tools { tools() } else { vec![] };
    let reasoning: ReasoningFormat = case["reasoning_format"].as_str().unwrap().parse().unwrap();
    let mut opts = if let Some(name) = case["template"].as_str() {
        let path = root().join("reference/templates").join(name);
        let src = std::fs::read_to_string(&path).expect("template");
        let template = ChatTemplate::new(&src, "<s>", "</s>").expect("template compiles");
        let user = [ChatMessage::new("user", "Hi")];
        let mut inputs = ChatInputs::new(&user);
        inputs.tools = &tools;
        let prompt = template.apply(&inputs).expect("renders");
        ParserOptions::for_request(&template, &prompt, &tools, &ToolChoice::Auto, reasoning)
    } else {
        let mut o = ParserOptions::new(format_named(case["format"].as_str().unwrap()));
        o.reasoning_format = reasoning;
        o.parse_tool_calls = with_tools;
        o.tools = tools;
        o
    };
    opts.parse_tool_calls = with_tools;
    opts
}

fn json_eq(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Json>(a),
        serde_json::from_str::<Json>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// llama.cpp's `assert_msg_equals` with whitespace differences ignored; arguments compared
/// as JSON.
fn check_expected(name: &str, got: &ChatMessage, want: &Json) -> Result<(), String> {
    let s = |k: &str| want[k].as_str().unwrap_or("").trim().to_string();
    if got.content.trim() != s("content") {
        return Err(format!(
            "{name}: content {:?}, want {:?}",
            got.content,
            s("content")
        ));
    }
    if got.reasoning_content.trim() != s("reasoning_content") {
        return Err(format!(
            "{name}: reasoning {:?}, want {:?}",
            got.reasoning_content,
            s("reasoning_content")
        ));
    }
    let calls = want["tool_calls"].as_array().unwrap();
    if got.tool_calls.len() != calls.len() {
        return Err(format!(
            "{name}: calls {:?}, want {calls:?}",
            got.tool_calls
        ));
    }
    for (g, w) in got.tool_calls.iter().zip(calls) {
        let ok = g.name == w["name"].as_str().unwrap()
            && json_eq(&g.arguments, w["arguments"].as_str().unwrap())
            && g.id == w["id"].as_str().unwrap_or("");
        if !ok {
            return Err(format!("{name}: call {g:?}, want {w}"));
        }
    }
    Ok(())
}

/// Streams `input` one byte (char) at a time and rebuilds the message from the deltas.
fn stream(input: &str, opts: &ParserOptions) -> (ChatMessage, ChatMessage, Vec<ChatDelta>) {
    let mut n = 0;
    let mut parser = StreamParser::new(opts.clone(), move || {
        n += 1;
        format!("gen{n}")
    });
    let mut deltas = Vec::new();
    for (i, c) in input.char_indices() {
        deltas.push(parser.push(&input[i..i + c.len_utf8()]));
    }
    let (last, fin) = parser.finish();
    deltas.push(last);
    let mut acc = ChatMessage::new("assistant", "");
    for d in &deltas {
        acc.content.push_str(&d.content);
        acc.reasoning_content.push_str(&d.reasoning_content);
        for tc in &d.tool_calls {
            if tc.index == acc.tool_calls.len() {
                acc.tool_calls.push(ToolCall::default());
            }
            let call = &mut acc.tool_calls[tc.index];
            if let Some(id) = &tc.id {
                call.id.clone_from(id);
            }
            if let Some(name) = &tc.name {
                call.name.clone_from(name);
            }
            call.arguments.push_str(&tc.arguments);
        }
    }
    (acc, fin, deltas)
}

fn cases() -> Vec<Json> {
    let text = std::fs::read_to_string(root().join("toolcall/cases.json")).expect("cases.json");
    let all: Json = serde_json::from_str(&text).expect("valid JSON");
    all["cases"].as_array().unwrap().clone()
}

#[test]
fn parses_llama_cpp_cases() {
    let mut failures = Vec::new();
    let cases = cases();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let opts = options(case);
        let got = parse(case["input"].as_str().unwrap(), &opts);
        if let Err(e) = check_expected(name, &got, &case["expect"]) {
            failures.push(format!("{e} [format {}]", opts.format.name()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Streamed deltas add up to the final message, model ids kept and missing ones generated
/// once; a call's first delta carries its id and name.
#[test]
fn streaming_adds_up_to_the_final_parse() {
    let mut failures = Vec::new();
    for case in cases() {
        let name = case["name"].as_str().unwrap();
        let opts = options(&case);
        let input = case["input"].as_str().unwrap();
        let (acc, fin, deltas) = stream(input, &opts);
        let mut plain = parse(input, &opts);
        for (p, f) in plain.tool_calls.iter_mut().zip(&fin.tool_calls) {
            if p.id.is_empty() {
                p.id.clone_from(&f.id);
            }
        }
        if fin != plain {
            failures.push(format!("{name}: finish() {fin:?} != parse() {plain:?}"));
        }
        let first_has_name = deltas
            .iter()
            .flat_map(|d| &d.tool_calls)
            .all(|tc| tc.name.is_some() == tc.id.is_some());
        if !first_has_name {
            failures.push(format!("{name}: a call delta with only one of id/name"));
        }
        if case["truncated"].as_bool() == Some(true) {
            // Cut-off output: calls that were streamed cannot be taken back, but no call text
            // ever went out as content.
            if !input.starts_with(&acc.content) || acc.content.len() > fin.content.len() {
                failures.push(format!("{name}: streamed content {:?}", acc.content));
            }
            continue;
        }
        if acc != fin {
            failures.push(format!("{name}: streamed {acc:?}\n  final {fin:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bigger pieces (as a tokenizer gives) stream to the same message.
#[test]
fn streaming_in_pieces_matches_byte_streaming() {
    for case in cases()
        .iter()
        .filter(|c| c["truncated"].as_bool() != Some(true))
    {
        let opts = options(case);
        let input = case["input"].as_str().unwrap();
        let mut parser = StreamParser::new(opts.clone(), || "id".to_string());
        let mut content = String::new();
        let mut rest = input;
        let mut k = 0;
        while !rest.is_empty() {
            k = k % 5 + 1;
            let cut = rest.char_indices().nth(k).map_or(rest.len(), |(i, _)| i);
            content.push_str(&parser.push(&rest[..cut]).content);
            rest = &rest[cut..];
        }
        let (last, fin) = parser.finish();
        content.push_str(&last.content);
        assert_eq!(content, fin.content, "{}", case["name"]);
    }
}

fn template(name: &str) -> ChatTemplate {
    let src = std::fs::read_to_string(root().join("reference/templates").join(name)).unwrap();
    ChatTemplate::new(&src, "<s>", "</s>").unwrap()
}

#[test]
fn formats_are_picked_from_templates() {
    let expect = [
        ("Qwen-Qwen2.5-7B-Instruct.jinja", ToolCallFormat::Hermes),
        (
            "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
            ToolCallFormat::Hermes,
        ),
        ("Qwen3-Coder.jinja", ToolCallFormat::Qwen3Coder),
        (
            "meta-llama-Llama-3.2-3B-Instruct.jinja",
            ToolCallFormat::Llama3 {
                builtin_tools: false,
            },
        ),
        (
            "meta-llama-Llama-3.3-70B-Instruct.jinja",
            ToolCallFormat::Llama3 {
                builtin_tools: true,
            },
        ),
        (
            "mistralai-Mistral-Nemo-Instruct-2407.jinja",
            ToolCallFormat::MistralNemo,
        ),
        (
            "meetkai-functionary-medium-v3.1.jinja",
            ToolCallFormat::FunctionaryV31,
        ),
        (
            "meetkai-functionary-medium-v3.2.jinja",
            ToolCallFormat::FunctionaryV32,
        ),
        (
            "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja",
            ToolCallFormat::CommandR7B,
        ),
        ("llama-cpp-deepseek-r1.jinja", ToolCallFormat::DeepSeekR1),
        (
            "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
            ToolCallFormat::DeepSeekR1,
        ),
        (
            "ibm-granite-granite-3.3-2B-Instruct.jinja",
            ToolCallFormat::Granite,
        ),
        ("ibm-granite-granite-4.0.jinja", ToolCallFormat::Hermes),
        ("NVIDIA-Nemotron-Nano-v2.jinja", ToolCallFormat::NemotronV2),
        ("google-gemma-2-2b-it.jinja", ToolCallFormat::Generic),
    ];
    for (name, format) in expect {
        assert_eq!(
            detect_format(template(name).source(), true),
            format,
            "{name}"
        );
    }
    // Dedicated llama.cpp formats not ported: calls stay text (no wrong parse, no grammar).
    for name in [
        "openai-gpt-oss-120b.jinja",
        "MiniMax-M3.jinja",
        "GLM-4.6.jinja",
        "Kimi-K2-Instruct.jinja",
    ] {
        assert_eq!(
            detect_format(template(name).source(), true),
            ToolCallFormat::ContentOnly,
            "{name}"
        );
    }
    let plain = detect_format(template("google-gemma-2-2b-it.jinja").source(), false);
    assert_eq!(plain, ToolCallFormat::ContentOnly);
}

#[test]
fn forced_open_thinking_comes_from_the_generation_prompt() {
    let user = [ChatMessage::new("user", "Hi")];
    for (name, open) in [
        ("llama-cpp-deepseek-r1.jinja", true),
        ("Qwen-QwQ-32B.jinja", true),
        ("Qwen-Qwen2.5-7B-Instruct.jinja", false),
    ] {
        let t = template(name);
        let prompt = t.apply(&ChatInputs::new(&user)).unwrap();
        let format = detect_format(t.source(), false);
        assert_eq!(
            thinking_forced_open(&prompt, format),
            open,
            "{name}: {prompt:?}"
        );
    }
}

/// A conversation with an assistant call and a tool result renders through the Qwen 2.5
/// template, and the assistant turn of the rendering parses back to the same call.
#[test]
fn qwen25_tool_call_round_trips_through_the_template() {
    let t = template("Qwen-Qwen2.5-7B-Instruct.jinja");
    let messages = ChatMessage::parse_oaicompat(&json!([
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\": \"Rome\", \"days\": 2}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 21}"},
        {"role": "tool", "tool_call_id": "call_2", "content": "{\"temp_c\": 25}"},
    ]))
    .unwrap();
    let tools = ChatTool::parse_oaicompat(&json!([{"type": "function", "function": {
        "name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}}}}]))
    .unwrap();
    let mut inputs = ChatInputs::new(&messages);
    inputs.tools = &tools;
    let prompt = t.apply(&inputs).unwrap();
    assert!(
        prompt.contains("<tool_response>\n{\"temp_c\": 21}\n</tool_response>"),
        "{prompt}"
    );
    let start = prompt.find("<|im_start|>assistant\n").unwrap() + "<|im_start|>assistant\n".len();
    let turn = &prompt[start..start + prompt[start..].find("<|im_end|>").unwrap()];
    let opts = ParserOptions::for_request(
        &t,
        &prompt,
        &tools,
        &ToolChoice::Auto,
        ReasoningFormat::Auto,
    );
    let parsed = parse(turn, &opts);
    assert_eq!(parsed.content.trim(), "");
    assert_eq!(parsed.tool_calls.len(), 2, "{turn}");
    for (got, want) in parsed.tool_calls.iter().zip(&messages[1].tool_calls) {
        assert_eq!(got.name, want.name);
        assert!(
            json_eq(&got.arguments, &want.arguments),
            "{got:?} vs {want:?}"
        );
    }
    // `tool_choice: "none"`: the same text is plain content.
    let none = ParserOptions::for_request(
        &t,
        &prompt,
        &tools,
        &ToolChoice::None,
        ReasoningFormat::Auto,
    );
    let parsed = parse(turn, &none);
    assert!(parsed.tool_calls.is_empty() && parsed.content == turn);
}

/// The stream is incremental: content before a call goes out before the call is finished,
/// the call's name before its arguments are complete, and the arguments in pieces.
#[test]
fn streaming_is_incremental() {
    let opts = ParserOptions::new(ToolCallFormat::Hermes);
    let input = "Sure.<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 12345, \"b\": \"long text\"}}\n</tool_call>";
    let (_, fin, deltas) = stream(input, &opts);
    let first_call = deltas
        .iter()
        .position(|d| !d.tool_calls.is_empty())
        .unwrap();
    let content_at = deltas.iter().position(|d| !d.content.is_empty()).unwrap();
    assert!(content_at < first_call);
    assert!(
        first_call < input.find("12345").unwrap(),
        "name at delta {first_call}"
    );
    let fragments = deltas
        .iter()
        .flat_map(|d| &d.tool_calls)
        .filter(|t| !t.arguments.is_empty());
    assert!(fragments.count() > 10);
    assert_eq!(
        fin.tool_calls[0].arguments,
        r#"{"arg1":12345,"b":"long text"}"#
    );
    // Nothing of the call markup ever went out as content.
    let content: String = deltas.iter().map(|d| d.content.as_str()).collect();
    assert_eq!(content, "Sure.");
}

/// `--reasoning-format`: `none` keeps thoughts in the content, `auto`/`deepseek` split them,
/// `deepseek-legacy` while streaming keeps them inline with their tags.
#[test]
fn reasoning_formats_follow_llama_cpp() {
    let input = "<think>I'm\nthinking</think>Hello";
    let mut opts = ParserOptions::new(ToolCallFormat::Hermes);
    for (format, content, reasoning) in [
        (ReasoningFormat::None, input, ""),
        (ReasoningFormat::Auto, "Hello", "I'm\nthinking"),
        (ReasoningFormat::DeepSeek, "Hello", "I'm\nthinking"),
        (ReasoningFormat::DeepSeekLegacy, "Hello", "I'm\nthinking"),
    ] {
        opts.reasoning_format = format;
        let msg = parse(input, &opts);
        assert_eq!(
            (msg.content.as_str(), msg.reasoning_content.as_str()),
            (content, reasoning),
            "{format}"
        );
    }
    opts.reasoning_format = ReasoningFormat::DeepSeekLegacy;
    opts.reasoning_in_content = true;
    let (acc, _, _) = stream(input, &opts);
    assert_eq!(
        (acc.content.as_str(), acc.reasoning_content.as_str()),
        (input, "")
    );
    // Forced open (the prompt ended with <think>): the tag comes back inline.
    opts.thinking_forced_open = true;
    let (acc, _, _) = stream("I'm\nthinking</think>Hello", &opts);
    assert_eq!(acc.content, input);
    // Reasoning streams before the block closes.
    opts.reasoning_in_content = false;
    let (_, _, deltas) = stream("I'm\nthinking for a while</think>Hello", &opts);
    let first = deltas
        .iter()
        .position(|d| !d.reasoning_content.is_empty())
        .unwrap();
    assert!(first < 10, "first reasoning delta at {first}");
    assert!(["none", "auto", "deepseek", "deepseek-legacy"]
        .iter()
        .all(|n| n.parse::<ReasoningFormat>().unwrap().name() == *n));
    assert!("think".parse::<ReasoningFormat>().is_err());
}

/// Arbitrary text never panics any parser, whole or streamed.
#[test]
fn garbage_never_panics() {
    let pieces = [
        "<tool_call>",
        "</tool_call>",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "\\",
        ":",
        ",",
        "name",
        "arguments",
        "<function=",
        ">",
        "</function>",
        "<parameter=",
        "</parameter>",
        "[TOOL_CALLS]",
        ">>>",
        "all\n",
        "<|python_tag|>",
        ".call(",
        "<think>",
        "</think>",
        "<｜tool▁calls▁begin｜>",
        "<｜tool▁call▁begin｜>",
        "<｜tool▁sep｜>",
        "```json\n",
        "<|START_ACTION|>",
        "<|tool_call|>",
        " functools[",
        "<TOOLCALL>",
        "格",
        "\n",
        " ",
        "1",
        "x",
        "{\"name\": \"f\", \"arguments\": ",
        "{\"arg1\": 1}",
        "f\n",
        "<function=f>",
        "<parameter=a>\n",
        "function<｜tool▁sep｜>f\n",
        "\\格",
        "```json\n",
    ];
    let formats = [
        ToolCallFormat::Generic,
        ToolCallFormat::Hermes,
        ToolCallFormat::Qwen3Coder,
        ToolCallFormat::Llama3 {
            builtin_tools: true,
        },
        ToolCallFormat::FunctionaryV31,
        ToolCallFormat::FunctionaryV32,
        ToolCallFormat::FireFunction,
        ToolCallFormat::MistralNemo,
        ToolCallFormat::NemotronV2,
        ToolCallFormat::CommandR7B,
        ToolCallFormat::DeepSeekR1,
        ToolCallFormat::Granite,
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut retracted = 0;
    for round in 0..2000 {
        let mut text = String::new();
        for _ in 0..(round % 24) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        let mut opts = ParserOptions::new(formats[round % formats.len()]);
        opts.thinking_forced_open = round % 3 == 0;
        let whole = parse(&text, &opts);
        let (acc, fin, _) = stream(&text, &opts);
        assert_eq!(whole.content, fin.content, "{text:?}");
        // What was streamed is where the final message starts; only a call cut off at the
        // very end (announced, then turned back into text) makes the two differ.
        assert!(
            fin.content.starts_with(&acc.content),
            "{text:?}: {acc:?} vs {fin:?}"
        );
        assert!(
            fin.reasoning_content.starts_with(&acc.reasoning_content),
            "{text:?}"
        );
        if acc != fin {
            retracted += 1;
            assert!(
                acc.tool_calls.len() > fin.tool_calls.len() || acc.tool_calls != fin.tool_calls,
                "{text:?}"
            );
        }
    }
    eprintln!("{retracted} of 2000 random outputs ended inside a call already announced");
}
