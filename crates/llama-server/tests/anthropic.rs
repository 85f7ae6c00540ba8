//! Anthropic's Messages API against the real binary (SmolLM2, one server for the file): the
//! `message` shape and its greedy text against `/v1/chat/completions` on the same conversation,
//! the stream's named event sequence, `count_tokens` against our own rendering and
//! tokenization (`/apply-template` of llama.cpp's OpenAI form of the request, `/tokenize`), stop sequences, converted tool turns, and errors in the server's error shape.

mod common;

use common::Server;
use serde_json::{json, Value};

fn user(content: &str) -> Value {
    json!([{"role": "user", "content": content}])
}

/// A greedy `/v1/messages` body.
fn body(messages: Value, max_tokens: u32) -> Value {
    json!({"model": "claude-test", "max_tokens": max_tokens, "temperature": 0, "messages": messages})
}

/// The message matches the chat endpoint's answer to the same conversation: same greedy text,
/// same token counts.
fn message_matches_chat(s: &Server) -> String {
    let m = s.post_ok("/v1/messages", &body(user("Say hello"), 8));
    let chat = s.post_ok("/v1/chat/completions", &common::chat_body("Say hello", 8));
    assert!(
        m["id"].as_str().is_some_and(|id| id.starts_with("msg")),
        "{m}"
    );
    assert_eq!(
        (m["type"].as_str(), m["role"].as_str()),
        (Some("message"), Some("assistant"))
    );
    assert_eq!(m["model"], "claude-test");
    let text = chat["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert_eq!(m["content"], json!([{"type": "text", "text": text}]), "{m}");
    assert_eq!(m["stop_reason"], "max_tokens");
    assert_eq!(m["stop_sequence"], Value::Null);
    let u = &m["usage"];
    let input = u["input_tokens"].as_u64().expect("input")
        + u["cache_read_input_tokens"].as_u64().expect("cache");
    assert_eq!(
        input,
        chat["usage"]["prompt_tokens"].as_u64().expect("prompt"),
        "{m}"
    );
    assert_eq!(u["output_tokens"], 8);
    assert!(m.get("timings").is_none(), "{m}");
    text.to_owned()
}

fn stream_has_anthropic_event_sequence(s: &Server, text: &str) {
    let mut b = body(user("Say hello"), 8);
    b["stream"] = json!(true);
    let r = s.post("/v1/messages", &b);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("[DONE]"), "{}", r.body);
    let ev = common::named_events(&r.body);
    for (name, data) in &ev {
        assert_eq!(data["type"].as_str(), Some(name.as_str()), "{data}");
    }
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    let n = names.len();
    assert_eq!(
        names[..2],
        ["message_start", "content_block_start"],
        "{names:?}"
    );
    assert_eq!(
        names[n - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert!(
        names[2..n - 3].iter().all(|&e| e == "content_block_delta"),
        "{names:?}"
    );
    let start = &ev[0].1["message"];
    assert_eq!(
        (start["content"].clone(), start["stop_reason"].clone()),
        (json!([]), Value::Null)
    );
    assert!(start["usage"]["input_tokens"].as_u64() > Some(0), "{start}");
    assert_eq!(
        ev[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let streamed: String = ev[2..n - 3]
        .iter()
        .map(|(_, d)| {
            assert_eq!(
                (d["index"].as_u64(), d["delta"]["type"].as_str()),
                (Some(0), Some("text_delta"))
            );
            d["delta"]["text"].as_str().expect("text").to_owned()
        })
        .collect();
    assert_eq!(streamed, text);
    assert_eq!(ev[n - 3].1["index"], 0);
    let delta = &ev[n - 2].1;
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "max_tokens", "stop_sequence": null})
    );
    assert_eq!(delta["usage"], json!({"output_tokens": 8}));
}

/// `count_tokens` is the prompt `/v1/messages` runs: the chat endpoint's prompt size, and the
/// hand-rendered SmolLM2 ChatML prompt through `/tokenize`.
fn count_tokens_is_our_rendered_prompt(s: &Server) {
    let count = |b: Value| s.post_ok("/v1/messages/count_tokens", &b);
    let c = count(json!({"messages": user("Hello world")}));
    assert_eq!(c.as_object().map(|o| o.len()), Some(1), "{c}");
    let chat = s.post_ok("/v1/chat/completions", &common::chat_body("Hello world", 1));
    assert_eq!(c["input_tokens"], chat["usage"]["prompt_tokens"]);
    let with_system = count(json!({"system": [{"type": "text", "text": "Be brief."}],
        "messages": user("Hello world")}));
    let rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHello world<|im_end|>\n<|im_start|>assistant\n";
    let tokens = s.post_ok(
        "/tokenize",
        &json!({"content": rendered, "add_special": true}),
    );
    let n = tokens["tokens"].as_array().expect("tokens").len();
    assert_eq!(
        with_system["input_tokens"].as_u64(),
        Some(n as u64),
        "{with_system}"
    );
}

/// A tool conversation: `count_tokens` on the Anthropic form equals `/apply-template` on the
/// OpenAI form llama.cpp converts it to, tokenized by `/tokenize`.
fn count_tokens_matches_apply_template_of_the_openai_form(s: &Server) {
    let anthropic = json!({"system": "Use tools.", "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Sunny"}]}],
        "tools": [{"name": "w", "description": "weather", "input_schema": {"type": "object"}}]});
    let openai = json!({"messages": [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "type": "function",
            "function": {"name": "w", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "Sunny"}],
        "tools": [{"type": "function", "function": {"name": "w", "description": "weather",
            "parameters": {"type": "object"}}}]});
    let prompt = s.post_ok("/apply-template", &openai)["prompt"].clone();
    assert!(
        prompt.as_str().is_some_and(|p| p.contains("Sunny")),
        "{prompt}"
    );
    let tokens = s.post_ok(
        "/tokenize",
        &json!({"content": prompt, "add_special": true}),
    );
    let count = s.post_ok("/v1/messages/count_tokens", &anthropic);
    assert_eq!(
        count["input_tokens"].as_u64(),
        Some(tokens["tokens"].as_array().expect("tokens").len() as u64)
    );
}

fn stop_sequence_is_reported(s: &Server, text: &str) {
    let word = text
        .split_whitespace()
        .nth(1)
        .expect("two words in the greedy answer");
    let mut b = body(user("Say hello"), 8);
    b["stop_sequences"] = json!([word]);
    let m = s.post_ok("/v1/messages", &b);
    assert_eq!(
        (m["stop_reason"].as_str(), m["stop_sequence"].as_str()),
        (Some("end_turn"), Some(word)),
        "{m}"
    );
    let got = m["content"][0]["text"].as_str().unwrap_or_default();
    assert_eq!(got, &text[..text.find(word).expect("word")]);
}

/// Tool turns, thinking and empty conversations are accepted, as llama.cpp accepts them.
fn converted_turns_are_served(s: &Server) {
    let tool_turns = json!([
        {"role": "user", "content": "What's the weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "Ask the tool."},
            {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"location": "Paris"}}]},
        {"role": "user", "content": [{"type": "text", "text": "Results:"},
            {"type": "tool_result", "tool_use_id": "t1", "is_error": true, "content": [{"type": "text", "text": "Sunny"}]}]}
    ]);
    let mut b = body(tool_turns, 2);
    b["tools"] =
        json!([{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}}]);
    b["metadata"] = json!({"user_id": "u"});
    let m = s.post_ok("/v1/messages", &b);
    assert_eq!(m["type"], "message");
    let empty = s.post_ok("/v1/messages", &body(json!([]), 2));
    assert_eq!(empty["usage"]["output_tokens"], 2);
}

fn assert_error(s: &Server, b: &Value, status: u16, needle: &str) {
    let r = s.post("/v1/messages", b);
    assert_eq!(r.status, status, "{}", r.body);
    let e = &r.json()["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains(needle)),
        "{e}"
    );
    assert!(e["type"].is_string() && !e["code"].is_null(), "{e}");
}

fn errors_have_the_server_error_shape(s: &Server) {
    assert_error(s, &json!({"max_tokens": 5}), 400, "'messages' is required");
    assert_error(
        s,
        &json!({"max_tokens": "x", "messages": []}),
        400,
        "expected i64",
    );
    assert_error(s, &body(user("hi"), 0), 400, "max_tokens");
    let image = json!([{"role": "user", "content": [{"type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]);
    assert_error(s, &body(image, 2), 500, "image input is not supported");
}

#[test]
fn messages_api_shapes_stream_count_tokens_and_errors() {
    let Some(s) = Server::start(&["-c", "2048", "-np", "1"]) else {
        return;
    };
    let text = message_matches_chat(&s);
    stream_has_anthropic_event_sequence(&s, &text);
    count_tokens_is_our_rendered_prompt(&s);
    count_tokens_matches_apply_template_of_the_openai_form(&s);
    stop_sequence_is_reported(&s, &text);
    converted_turns_are_served(&s);
    errors_have_the_server_error_shape(&s);
}
