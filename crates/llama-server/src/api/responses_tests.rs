//! The Responses → chat conversion, against what llama.cpp's converter produces.

use super::*;
use crate::api::request::Content;

fn read(body: Value) -> Result<ResponsesRequest> {
    ResponsesRequest::from_body(body)
}

fn err(body: Value) -> String {
    match read(body) {
        Err(ServerError::BadRequest(m)) => m,
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[test]
fn instructions_and_text_input_become_system_and_user_messages() {
    let r = read(
        json!({"model": "m", "instructions": "Be brief", "input": "Hi",
        "max_output_tokens": 8, "temperature": 0.5, "stream": true}),
    )
    .expect("valid");
    let m = &r.chat.messages;
    assert_eq!((m[0].role.as_str(), m[1].role.as_str()), ("system", "user"));
    assert_eq!(m[1].content, Some(Content::Text("Hi".into())));
    assert_eq!(r.chat.fields.max_tokens, Some(8));
    assert_eq!(r.chat.fields.temperature, Some(0.5));
    assert!(r.chat.fields.stream());
}

#[test]
fn assistant_items_merge_into_one_turn_with_calls_and_results() {
    let r = read(json!({"input": [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {"type": "reasoning", "summary": [], "content": [{"type": "reasoning_text", "text": "use the tool"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call_output", "call_id": "c1", "output": "18 C"},
    ]}))
    .expect("valid");
    let m = &r.chat.messages;
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(m[1].role, "assistant");
    assert_eq!(m[1].reasoning_content.as_deref(), Some("use the tool"));
    let calls = m[1].tool_calls.as_ref().expect("calls");
    assert_eq!(
        (calls[0].id.as_deref(), calls[0].function.name.as_str()),
        (Some("c1"), "get_weather")
    );
    assert_eq!(
        (m[2].role.as_str(), m[2].tool_call_id.as_deref()),
        ("tool", Some("c1"))
    );
}

#[test]
fn tools_choice_and_text_format_become_their_chat_forms() {
    let r = read(json!({"input": "x",
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "f"},
        "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}, "strict": true}},
        "reasoning": {"effort": "low"}}))
    .expect("valid");
    assert_eq!(
        r.chat.tools,
        Some(json!([{"type": "function", "function":
        {"name": "f", "parameters": {"type": "object"}}}]))
    );
    assert_eq!(
        r.chat.tool_choice,
        Some(json!({"type": "function", "function": {"name": "f"}}))
    );
    assert_eq!(
        r.chat.fields.response_format,
        Some(json!({"type": "json_schema",
        "json_schema": {"schema": {"type": "object"}, "name": "p", "strict": true}}))
    );
    assert_eq!(r.reasoning_effort.as_deref(), Some("low"));
    let plain = read(json!({"input": "x", "text": {"format": {"type": "text"}}})).expect("valid");
    assert_eq!(plain.chat.fields.response_format, None);
}

#[test]
fn what_cannot_be_honoured_is_a_400_naming_it() {
    assert!(err(json!({"model": "m"})).contains("'input' is required"));
    assert!(err(json!({"input": 3})).contains("string or array"));
    assert!(err(json!({"input": "x", "previous_response_id": "resp_1"}))
        .contains("previous_response_id"));
    assert!(err(json!({"input": "x", "background": true})).contains("background"));
    assert!(err(json!({"input": "x", "tools": [{"type": "web_search"}]})).contains("web_search"));
    assert!(err(
        json!({"input": [{"role": "user", "content": [{"type": "input_image",
        "image_url": "data:"}]}]})
    )
    .contains("input_image"));
    assert!(err(json!({"input": [{"type": "mystery"}]})).contains("Cannot determine type"));
    assert!(err(json!({"input": "x", "truncation": "auto"})).contains("truncation"));
    // Fields that change nothing are accepted.
    read(
        json!({"input": "x", "store": false, "metadata": {"a": "b"}, "user": "u",
        "include": [], "truncation": "disabled", "background": false}),
    )
    .expect("accepted");
}
