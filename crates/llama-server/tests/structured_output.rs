//! Structured output over HTTP with Qwen2.5-Coder-0.5B-Instruct: OpenAI `response_format`
//! (`json_object`, `json_schema`), llama.cpp's `json_schema` and `grammar` (GBNF) on chat and
//! text completions, streamed or not, constrain the answer; a schema or grammar that cannot be
//! compiled, or two of them at once, is a 400 naming the problem; `tool_choice: "required"`
//! forces a tool call.

mod common;

use common::Server;
use serde_json::{json, Value};

fn server() -> Option<Server> {
    common::greedy_qwen()
}

fn chat(s: &Server, extra: Value) -> Value {
    let mut body = json!({"messages": [{"role": "user",
        "content": "Describe a person called Ann who is 31 years old."}],
        "max_tokens": 64, "temperature": 0});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let r = s.post("/v1/chat/completions", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn content(v: &Value) -> String {
    v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn schema() -> Value {
    json!({"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "role": {"enum": ["admin", "user"]}},
        "required": ["name", "age", "role"], "additionalProperties": false})
}

/// The object obeys [`schema`] (checked by hand: types, bounds, enum, required, no extras).
fn check_person(text: &str) {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let o = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {text}"));
    assert_eq!(o.len(), 3, "{text}");
    assert!(
        o["name"].as_str().is_some_and(|n| n.chars().count() <= 20),
        "{text}"
    );
    assert!(
        o["age"].as_i64().is_some_and(|a| (0..=150).contains(&a)),
        "{text}"
    );
    assert!(
        matches!(o["role"].as_str(), Some("admin" | "user")),
        "{text}"
    );
}

fn structured(s: &Server) {
    let any = chat(s, json!({"response_format": {"type": "json_object"}}));
    let text = content(&any);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(v.is_object(), "{text}");

    let openai = json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "person", "strict": true, "schema": schema()}}});
    check_person(&content(&chat(s, openai.clone())));
    let llama = chat(s, json!({"json_schema": schema()}));
    check_person(&content(&llama));

    // Streamed: the joined deltas obey the schema too.
    let mut body = json!({"messages": [{"role": "user", "content": "Invent a user."}],
        "max_tokens": 64, "temperature": 0.8, "seed": 3, "stream": true});
    body["response_format"] = openai["response_format"].clone();
    let r = s.post("/v1/chat/completions", &body);
    let text: String = r
        .sse()
        .iter()
        .filter(|d| d.as_str() != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    check_person(&text);

    // llama.cpp's /completion with a GBNF grammar.
    let r = s.post(
        "/completion",
        &json!({"prompt": "Is the sky blue? Answer:", "n_predict": 8,
            "grammar": "root ::= \" yes\" | \" no\""}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let answer = r.json()["content"].as_str().unwrap_or_default().to_string();
    assert!(answer == " yes" || answer == " no", "{answer:?}");
}

fn refused(s: &Server) {
    for (body, needle) in [
        (json!({"grammar": "root ::= undefined-rule"}), "grammar"),
        (
            json!({"response_format": {"type": "xml"}}),
            "response_format",
        ),
        (
            json!({"json_schema": {"type": "object"}, "grammar": "root ::= \"a\""}),
            "not both",
        ),
        (json!({"logit_bias": [["Hello"]]}), "logit_bias"),
    ] {
        let mut full = json!({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4});
        for (k, v) in body.as_object().expect("object") {
            full[k] = v.clone();
        }
        let r = s.post("/v1/chat/completions", &full);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
}

fn required_tool_call(s: &Server) {
    let tools = json!([{"type": "function", "function": {"name": "get_time",
        "description": "Current time in a time zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
            "required": ["zone"]}}}]);
    // A question that does not need the tool: only the grammar makes this a call.
    let v = chat(
        s,
        json!({"tools": tools, "tool_choice": "required", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Write a haiku about rain."}]}),
    );
    let calls = v["choices"][0]["message"]["tool_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!calls.is_empty(), "{v}");
    assert_eq!(calls[0]["function"]["name"], "get_time", "{v}");
    let args: Value =
        serde_json::from_str(calls[0]["function"]["arguments"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("{e}: {v}"));
    assert!(args["zone"].is_string(), "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls", "{v}");
}

#[test]
fn schemas_grammars_and_forced_tool_calls_constrain_the_answer() {
    let Some(s) = server() else {
        return;
    };
    structured(&s);
    refused(&s);
    required_tool_call(&s);
}
