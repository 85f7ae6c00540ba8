//! Tool calling end to end with Qwen2.5-Coder-0.5B-Instruct (Hermes `<tool_call>` format) and a
//! weather tool: `auto` on a question that needs the tool gives a call with JSON arguments,
//! streamed calls assembled equal the non-streamed ones, the tool result sent back is rendered
//! and answered, `none` gives no calls, invalid tool fields are 400s naming the field, and the
//! official `openai` Python client reads all of it (`tests/python/openai_tools.py`).

mod common;

use common::Server;
use serde_json::{json, Value};

fn server() -> Option<Server> {
    common::greedy_qwen()
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "The city name"}},
            "required": ["city"]}}}])
}

fn question() -> Value {
    json!([{"role": "user", "content": "What is the weather like in Paris right now?"}])
}

fn body(messages: Value, choice: &str, stream: bool) -> Value {
    json!({"messages": messages, "tools": weather_tool(), "tool_choice": choice,
        "max_tokens": 96, "temperature": 0, "stream": stream})
}

/// `(name, arguments as JSON)` of each call of a non-streamed message, shapes checked.
fn calls_of(message: &Value) -> Vec<(String, Value)> {
    let calls = message["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    calls
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "function", "{c}");
            assert!(c["id"].as_str().is_some_and(|id| !id.is_empty()), "{c}");
            let args = c["function"]["arguments"].as_str().expect("arguments text");
            let parsed: Value = serde_json::from_str(args)
                .unwrap_or_else(|e| panic!("arguments are not JSON ({e}): {args}"));
            let name = c["function"]["name"].as_str().expect("name").to_string();
            (name, parsed)
        })
        .collect()
}

/// The calls a stream's `delta.tool_calls` chunks add up to: `(id, name, arguments text)`, and
/// the finish reason.
fn assemble(chunks: &[String]) -> (Vec<(String, String, String)>, String, String) {
    let (mut calls, mut content, mut finish) = (
        Vec::<(String, String, String)>::new(),
        String::new(),
        String::new(),
    );
    for data in chunks.iter().filter(|d| *d != "[DONE]") {
        let v: Value = serde_json::from_str(data).expect("chunk JSON");
        let Some(choice) = v["choices"].get(0) else {
            continue;
        };
        if let Some(r) = choice["finish_reason"].as_str() {
            finish = r.to_string();
        }
        let delta = &choice["delta"];
        content.push_str(delta["content"].as_str().unwrap_or_default());
        for tc in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = tc["index"].as_u64().expect("index") as usize;
            if let Some(id) = tc["id"].as_str() {
                assert_eq!(
                    index,
                    calls.len(),
                    "a call's first delta comes in order: {tc}"
                );
                assert_eq!(tc["type"], "function", "{tc}");
                let name = tc["function"]["name"]
                    .as_str()
                    .expect("name first")
                    .to_string();
                calls.push((id.to_string(), name, String::new()));
            } else {
                assert!(tc["function"].get("name").is_none(), "name only once: {tc}");
            }
            let args = tc["function"]["arguments"].as_str().unwrap_or_default();
            calls[index].2.push_str(args);
        }
    }
    (calls, content, finish)
}

#[test]
fn auto_tool_call_streamed_and_not_then_answer() {
    let Some(s) = server() else { return };
    let r = s.post("/v1/chat/completions", &body(question(), "auto", false));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let choice = &v["choices"][0];
    let message = &choice["message"];
    eprintln!("non-streamed: {message}");
    let calls = calls_of(message);
    assert!(
        !calls.is_empty(),
        "a question that needs the tool gets a call: {message}"
    );
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(calls[0].0, "get_weather");
    assert!(
        calls[0].1["city"]
            .as_str()
            .is_some_and(|c| c.contains("Paris")),
        "{:?}",
        calls[0]
    );
    if message["content"].is_null() {
        eprintln!("content is null: only calls");
    }

    // Streamed: the deltas add up to the same calls (ids are per response, so not compared).
    let r = s.post("/v1/chat/completions", &body(question(), "auto", true));
    assert_eq!(r.status, 200, "{}", r.body);
    let (streamed, content, finish) = assemble(&r.sse());
    assert_eq!(finish, "tool_calls");
    let whole: Vec<(String, String, String)> = message["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            let f = &c["function"];
            (
                String::new(),
                f["name"].as_str().unwrap_or_default().into(),
                f["arguments"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    let strip = |v: &[(String, String, String)]| -> Vec<(String, String)> {
        v.iter().map(|(_, n, a)| (n.clone(), a.clone())).collect()
    };
    assert_eq!(
        strip(&streamed),
        strip(&whole),
        "streamed calls equal the non-streamed ones"
    );
    assert_eq!(content, message["content"].as_str().unwrap_or_default());

    // The call and its result sent back: rendered and answered.
    let call = &message["tool_calls"][0];
    let mut history = question().as_array().cloned().unwrap_or_default();
    history.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
    history.push(
        json!({"role": "tool", "tool_call_id": call["id"], "name": "get_weather",
        "content": "{\"temperature_c\": 18, \"sky\": \"sunny\"}"}),
    );
    let r = s.post(
        "/v1/chat/completions",
        &body(Value::Array(history.clone()), "auto", false),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let choice = &v["choices"][0];
    eprintln!("after the tool result: {}", choice["message"]);
    let reason = choice["finish_reason"].as_str().expect("finish_reason");
    assert!(
        ["stop", "tool_calls", "length"].contains(&reason),
        "{reason}"
    );
    calls_of(&choice["message"]);
    let text = choice["message"]["content"].as_str().unwrap_or_default();
    assert!(
        !text.trim().is_empty() || reason == "tool_calls",
        "an answer or another call: {}",
        choice["message"]
    );
    // The tool's result is in the prompt: more prompt tokens than the first turn's.
    assert!(v["usage"]["prompt_tokens"].as_u64() > Some(0));

    // With tool_choice "none" and no tools rendered, the same history gets a text answer.
    let r = s.post(
        "/v1/chat/completions",
        &body(Value::Array(history), "none", false),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let choice = &v["choices"][0];
    eprintln!("tool_choice none: {}", choice["message"]);
    assert!(
        choice["message"].get("tool_calls").is_none(),
        "{}",
        choice["message"]
    );
    assert_ne!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
}

#[test]
fn tool_choice_none_gives_no_calls_and_bad_fields_are_named() {
    let Some(s) = server() else { return };
    for stream in [false, true] {
        let r = s.post("/v1/chat/completions", &body(question(), "none", stream));
        assert_eq!(r.status, 200, "{}", r.body);
        if stream {
            let (calls, content, finish) = assemble(&r.sse());
            assert!(calls.is_empty() && !content.is_empty(), "{content}");
            assert_ne!(finish, "tool_calls");
        } else {
            let v = r.json();
            assert!(
                v["choices"][0]["message"].get("tool_calls").is_none(),
                "{v}"
            );
            assert_ne!(v["choices"][0]["finish_reason"], "tool_calls");
        }
    }
    for (bad, field) in [
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "nope"}}}),
            "tool_choice",
        ),
        (json!({"tools": [{"type": "code_interpreter"}]}), "tools"),
    ] {
        let mut b = json!({"messages": question(), "tools": weather_tool(), "max_tokens": 4});
        for (k, v) in bad.as_object().expect("object") {
            b[k] = v.clone();
        }
        let r = s.post("/v1/chat/completions", &b);
        assert_eq!(r.status, 400, "{b}: {}", r.body);
        assert!(r.body.contains(field), "{b}: {}", r.body);
    }
}

#[test]
fn openai_python_client_tool_calls() {
    let Some(python) = common::python::python_importing("openai") else {
        return;
    };
    let Some(s) = server() else { return };
    let stdout = common::python::run_script(
        &python,
        "openai_tools.py",
        &[&s.url()],
        "openai tool checks",
        "all tool checks passed",
    );
    eprintln!("{}", stdout.lines().collect::<Vec<_>>().join("; "));
}

#[test]
fn reasoning_format_flag_takes_llama_cpp_names() {
    use clap::Parser;
    use llama_core::chat::toolcall::ReasoningFormat;
    use llama_server::cli::Cli;
    let parse = |extra: &[&str]| {
        let args = ["llama-server", "-m", "x.gguf"].iter().chain(extra);
        Cli::try_parse_from(args).map(|c| c.reasoning_format)
    };
    assert_eq!(parse(&[]).ok(), Some(ReasoningFormat::DeepSeek));
    for (name, want) in [
        ("none", ReasoningFormat::None),
        ("auto", ReasoningFormat::Auto),
        ("deepseek-legacy", ReasoningFormat::DeepSeekLegacy),
    ] {
        assert_eq!(parse(&["--reasoning-format", name]).ok(), Some(want));
    }
    assert!(parse(&["--reasoning-format", "think"]).is_err());
}
