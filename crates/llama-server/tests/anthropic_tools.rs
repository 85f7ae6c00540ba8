//! Anthropic `/v1/messages` tools with Qwen2.5-Coder-0.5B-Instruct: `tools` with
//! `input_schema`, `tool_choice` `auto` / `any` / `tool` / `none`; answers carry `tool_use`
//! blocks (`stop_reason: "tool_use"`), the stream opens a `tool_use` block and sends its
//! arguments as `input_json_delta` events that add up to the non-streamed `input`, and a
//! `tool_result` block sent back is answered.

mod common;

use common::Server;
use serde_json::{json, Value};

const MODEL: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

fn tools() -> Value {
    json!([{"name": "get_weather", "description": "Get the current weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}])
}

fn body(messages: Value, choice: Value) -> Value {
    json!({"model": "claude-test", "max_tokens": 96, "temperature": 0, "messages": messages,
        "tools": tools(), "tool_choice": choice})
}

fn question() -> Value {
    json!([{"role": "user", "content": "What is the weather like in Paris right now?"}])
}

/// The `tool_use` blocks of a message.
fn tool_uses(m: &Value) -> Vec<Value> {
    let blocks = m["content"].as_array().expect("content");
    blocks
        .iter()
        .filter(|b| b["type"] == "tool_use")
        .cloned()
        .collect()
}

/// A streamed message's tool calls: `(id, name, input JSON assembled from the deltas)` and
/// the stop reason; every block is started before its deltas and stopped once.
fn assemble(evs: &[(String, Value)]) -> (Vec<(String, String, Value)>, String) {
    let mut open: Option<u64> = None;
    let mut calls = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    let mut stop = String::new();
    for (name, d) in evs {
        assert_eq!(d["type"], name.as_str());
        match name.as_str() {
            "content_block_start" => {
                assert!(
                    open.is_none(),
                    "a block starts while another is open: {evs:?}"
                );
                open = d["index"].as_u64();
                let b = &d["content_block"];
                if b["type"] == "tool_use" {
                    assert_eq!(b["input"], json!({}));
                    calls.push((
                        b["id"].as_str().unwrap_or_default().to_owned(),
                        b["name"].as_str().unwrap_or_default().to_owned(),
                        Value::Null,
                    ));
                    partial.push(String::new());
                }
            }
            "content_block_delta" => {
                assert_eq!(d["index"].as_u64(), open, "{d}");
                if d["delta"]["type"] == "input_json_delta" {
                    let last = partial.last_mut().expect("a tool_use block is open");
                    last.push_str(d["delta"]["partial_json"].as_str().expect("partial_json"));
                }
            }
            "content_block_stop" => {
                assert_eq!(d["index"].as_u64(), open, "{d}");
                open = None;
            }
            "message_delta" => {
                stop = d["delta"]["stop_reason"]
                    .as_str()
                    .unwrap_or_default()
                    .into()
            }
            _ => {}
        }
    }
    assert!(open.is_none(), "every block is stopped");
    for (c, p) in calls.iter_mut().zip(&partial) {
        c.2 = serde_json::from_str(p).unwrap_or_else(|e| panic!("{e}: {p}"));
    }
    (calls, stop)
}

#[test]
fn messages_tool_use_blocks_streamed_and_not() {
    let Some(model) = common::named_model(MODEL) else {
        return;
    };
    let s = Server::start_model(&model, &["-c", "2048", "-np", "1"], &[]);
    // auto: the question needs the tool.
    let m = s.post_ok("/v1/messages", &body(question(), json!({"type": "auto"})));
    let uses = tool_uses(&m);
    assert_eq!(uses.len(), 1, "{m}");
    assert_eq!(m["stop_reason"], "tool_use", "{m}");
    assert_eq!(uses[0]["name"], "get_weather");
    assert!(uses[0]["input"]["city"].is_string(), "{m}");
    let id = uses[0]["id"].as_str().expect("id").to_owned();
    assert!(!id.is_empty());

    // Streamed: the same call, its input assembled from input_json_delta events.
    let mut b = body(question(), json!({"type": "auto"}));
    b["stream"] = json!(true);
    let r = s.post("/v1/messages", &b);
    assert_eq!(r.status, 200, "{}", r.body);
    let evs = common::named_events(&r.body);
    assert_eq!(evs.first().map(|e| e.0.as_str()), Some("message_start"));
    assert_eq!(evs.last().map(|e| e.0.as_str()), Some("message_stop"));
    let (calls, stop) = assemble(&evs);
    assert_eq!(stop, "tool_use");
    assert_eq!(calls.len(), 1, "{evs:?}");
    assert_eq!(
        (calls[0].1.as_str(), &calls[0].2),
        ("get_weather", &uses[0]["input"])
    );

    // any / tool force a call; none gives text only.
    for choice in [
        json!({"type": "any"}),
        json!({"type": "tool", "name": "get_weather"}),
    ] {
        let m = s.post_ok(
            "/v1/messages",
            &body(json!([{"role": "user", "content": "Hi there!"}]), choice),
        );
        assert_eq!(tool_uses(&m).len(), 1, "{m}");
        assert_eq!(m["stop_reason"], "tool_use", "{m}");
    }
    let m = s.post_ok("/v1/messages", &body(question(), json!({"type": "none"})));
    assert!(tool_uses(&m).is_empty(), "{m}");
    assert_eq!(m["stop_reason"], "end_turn", "{m}");

    // The tool result sent back is rendered as a tool message and answered (what the
    // 0.5B model answers varies: after a result it often repeats the call as bare JSON, which
    // the Hermes trigger `<tool_call>` does not cover — nor does llama.cpp's at the vendored
    // commit, whose only extra trigger is for Llama 3.x templates; see the toolcall_grammar
    // test `hermes_auto_triggers_only_on_the_call_marker_as_llama_cpp`).
    let messages = json!([
        {"role": "user", "content": "What is the weather like in Paris right now?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "get_weather",
            "input": uses[0]["input"]}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": id,
            "content": "Sunny, 24 degrees Celsius"}]}]);
    let m = s.post_ok("/v1/messages", &body(messages, json!({"type": "auto"})));
    assert!(!m["content"].as_array().expect("content").is_empty(), "{m}");

    // A bad tool_choice names the field.
    let r = s.post(
        "/v1/messages",
        &body(question(), json!({"type": "tool", "name": "nope"})),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("tool_choice"), "{}", r.body);
}
