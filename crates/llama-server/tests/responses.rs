//! OpenAI's Responses API against the real binary (Qwen2.5-Coder, one server for the file):
//! the `response` object and its greedy text against `/v1/chat/completions` on the same
//! conversation, the stream's named events (created, in progress, item and part added, text
//! deltas, done events, completed) numbered in order and adding up to the final text, a tool
//! call as a `function_call` item and its `function_call_output` answered, `input_tokens`
//! against the chat count, 400s for what cannot be honoured, and the official `openai` Python
//! client reading all of it (`tests/python/openai_responses.py`).

mod common;

use common::Server;
use serde_json::{json, Value};

fn server() -> Option<Server> {
    common::greedy_qwen()
}

/// The text of a response's message items.
fn output_text(r: &Value) -> String {
    let items = r["output"].as_array().cloned().unwrap_or_default();
    items
        .iter()
        .filter(|i| i["type"] == "message")
        .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["text"].as_str().map(String::from))
        .collect()
}

fn matches_chat(s: &Server) -> String {
    let body = json!({"model": "gpt-test", "instructions": "Answer briefly.",
        "input": "What is the capital of France?", "max_output_tokens": 12, "temperature": 0});
    let r = s.post_ok("/v1/responses", &body);
    let chat = s.post_ok(
        "/v1/chat/completions",
        &json!({"messages": [{"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 12, "temperature": 0}),
    );
    assert!(
        r["id"].as_str().is_some_and(|id| id.starts_with("resp_")),
        "{r}"
    );
    assert_eq!(
        (r["object"].as_str(), r["status"].as_str()),
        (Some("response"), Some("completed"))
    );
    assert_eq!(r["model"], "gpt-test");
    let item = &r["output"][0];
    assert_eq!(
        (item["type"].as_str(), item["role"].as_str()),
        (Some("message"), Some("assistant"))
    );
    assert!(
        item["id"].as_str().is_some_and(|id| id.starts_with("msg_")),
        "{r}"
    );
    let text = chat["choices"][0]["message"]["content"]
        .as_str()
        .expect("text");
    assert_eq!(output_text(&r), text, "{r}");
    let u = &r["usage"];
    assert_eq!(u["input_tokens"], chat["usage"]["prompt_tokens"], "{r}");
    assert_eq!(
        u["output_tokens"], chat["usage"]["completion_tokens"],
        "{r}"
    );
    assert_eq!(
        u["total_tokens"].as_u64(),
        Some(u["input_tokens"].as_u64().unwrap_or(0) + u["output_tokens"].as_u64().unwrap_or(0))
    );
    let counted = s.post_ok("/v1/responses/input_tokens", &body);
    assert_eq!(counted["input_tokens"], u["input_tokens"], "{counted}");
    assert_eq!(counted["object"], "response.input_tokens");
    text.to_owned()
}

fn stream_adds_up(s: &Server, text: &str) {
    let body = json!({"instructions": "Answer briefly.", "stream": true, "temperature": 0,
        "input": [{"role": "user", "content": "What is the capital of France?"}],
        "max_output_tokens": 12});
    let r = s.post("/responses", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("[DONE]"), "{}", r.body);
    let events = common::named_events(&r.body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    let deltas = names
        .iter()
        .filter(|n| **n == "response.output_text.delta")
        .count();
    assert!(deltas > 0, "{names:?}");
    want.extend(std::iter::repeat_n("response.output_text.delta", deltas));
    want.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names, want);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i, "{data}");
    }
    let streamed: String = events
        .iter()
        .filter_map(|(_, d)| {
            d["delta"]
                .as_str()
                .filter(|_| d["type"] == "response.output_text.delta")
        })
        .collect();
    assert_eq!(streamed, text);
    let (_, done) = events.last().expect("completed");
    assert_eq!(output_text(&done["response"]), text, "{done}");
    assert!(done["timings"]["predicted_n"].as_u64().is_some(), "{done}");
    let msg_id = &events[2].1["item"]["id"];
    assert!(events[3..events.len() - 1]
        .iter()
        .all(|(_, d)| d.get("item_id").is_none_or(|id| id == msg_id)));
}

/// The function calls of a response, arguments checked against the weather tool.
fn calls_of(r: &Value) -> Vec<Value> {
    let calls: Vec<Value> = (r["output"].as_array().into_iter().flatten())
        .filter(|i| i["type"] == "function_call")
        .cloned()
        .collect();
    for call in &calls {
        assert_eq!(call["name"], "get_weather", "{call}");
        let args: Value = serde_json::from_str(call["arguments"].as_str().expect("arguments"))
            .expect("arguments are JSON");
        assert!(args["city"].is_string(), "{call}");
        assert!(
            call["id"].as_str().is_some_and(|id| id.starts_with("fc_")),
            "{call}"
        );
        assert!(
            call["call_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{call}"
        );
    }
    calls
}

fn tool_call_round_trip(s: &Server) {
    let tools = json!([{"type": "function", "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"]}}]);
    let question =
        json!({"role": "user", "content": "What is the weather like in Paris right now?"});
    let ask = |choice: &str| {
        s.post_ok(
            "/v1/responses",
            &json!({"input": [question], "tools": tools, "tool_choice": choice,
                "max_output_tokens": 96, "temperature": 0}),
        )
    };
    let forced = ask("required");
    assert!(
        !calls_of(&forced).is_empty(),
        "required gave no call: {forced}"
    );
    let r = ask("auto");
    let calls = calls_of(&r);
    assert!(!calls.is_empty(), "auto gave no call: {r}");
    let mut input = vec![question];
    for call in &calls {
        input.push(call.clone());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"],
            "output": "18 C, sunny"}),
        );
    }
    // The result is rendered into the prompt (more tokens than the question alone); `none`
    // because this small model, free to, calls the tool again.
    let counted = |input: &Value| {
        let body = json!({"tools": tools, "input": input});
        s.post_ok("/v1/responses/input_tokens", &body)["input_tokens"].as_u64()
    };
    assert!(
        counted(&json!(input)) > counted(&json!([input[0]])),
        "{input:?}"
    );
    let answer = s.post_ok(
        "/v1/responses",
        &json!({"tools": tools, "tool_choice": "none", "max_output_tokens": 48, "temperature": 0,
            "input": input}),
    );
    let text = output_text(&answer);
    assert!(!text.is_empty() && calls_of(&answer).is_empty(), "{answer}");
    println!(
        "responses: required → {} call(s), auto → {}, answer {text:?}",
        calls_of(&forced).len(),
        calls.len()
    );
}

fn refusals(s: &Server) {
    for (body, field) in [
        (
            json!({"input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"input": "x", "tools": [{"type": "web_search"}]}),
            "web_search",
        ),
        (json!({"model": "m"}), "input"),
        (json!({"input": [{"type": "mystery"}]}), "item"),
    ] {
        let r = s.post("/v1/responses", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(field), "{body}: {}", r.body);
    }
}

#[test]
fn responses_api_serves_text_streams_and_tool_calls() {
    let Some(s) = server() else { return };
    let text = matches_chat(&s);
    stream_adds_up(&s, &text);
    tool_call_round_trip(&s);
    refusals(&s);
    println!("responses: {text:?} equals the chat answer, streamed and not");
    if let Some(python) = common::python::python_importing("openai") {
        let stdout = common::python::run_script(
            &python,
            "openai_responses.py",
            &[&s.url()],
            "openai Responses checks",
            "all responses checks passed",
        );
        println!("{}", stdout.lines().collect::<Vec<_>>().join("; "));
    }
}
