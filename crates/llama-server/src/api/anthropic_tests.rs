//! Unit tests of the Anthropic request conversion.

use super::*;

fn request(body: &str) -> MessagesRequest {
    serde_json::from_str(body).expect("parses")
}

#[test]
fn system_blocks_text_and_defaults_convert_as_llama_cpp_does() {
    let req = request(
        r#"{"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
        "messages":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"text","text":"y"}]},
        {"role":"assistant"},{"role":"assistant","content":"ok"}],"stop_sequences":["\n"],"top_k":3}"#,
    );
    let msgs = req.chat_messages().expect("converts");
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0], ChatMessage::new("system", "ab"));
    assert_eq!(msgs[1].content_parts, vec![text_part("x"), text_part("y")]);
    assert_eq!(msgs[2], ChatMessage::new("assistant", "ok"));
    let f = req.generation_fields();
    assert_eq!(f.max_tokens, Some(DEFAULT_MAX_TOKENS));
    assert_eq!(f.stop, Some(StopField::Many(vec!["\n".into()])));
    assert_eq!(f.top_k, Some(3));
    assert!(!f.stream());
}

#[test]
fn tool_use_thinking_and_tool_results_become_chat_tool_messages() {
    let req = request(
        r#"{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"hmm"},
        {"type":"tool_use","id":"c1","name":"f","input":{"x":1}}]},
        {"role":"user","content":[{"type":"text","text":"here"},
        {"type":"tool_result","tool_use_id":"c1","is_error":true,"content":[{"type":"text","text":"r"}]},
        {"type":"redacted_thinking","data":"?"}]}],
        "tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],
        "thinking":{"type":"enabled","budget_tokens":5}}"#,
    );
    let msgs = req.chat_messages().expect("converts");
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].reasoning_content, "hmm");
    assert_eq!(msgs[0].tool_calls[0].arguments, r#"{"x":1}"#);
    assert_eq!(msgs[1].role, "user");
    assert_eq!(msgs[2].role, "tool");
    assert_eq!(
        (msgs[2].content.as_str(), msgs[2].tool_call_id.as_str()),
        ("r", "c1")
    );
    assert_eq!(
        req.chat_tools()[0].parameters,
        serde_json::json!({"type":"object"})
    );
}

#[test]
fn missing_messages_and_images_are_errors() {
    assert!(request(r#"{"max_tokens":5}"#).chat_messages().is_err());
    assert_eq!(
        request(r#"{"messages":[]}"#).chat_messages().ok(),
        Some(vec![])
    );
    let image = request(
        r#"{"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","data":"x"}}]}]}"#,
    );
    let err = image.chat_messages().expect_err("no vision");
    assert!(err.to_string().contains("image input is not supported"));
}

#[test]
fn chatml_fallback_renders_system_and_text_blocks() {
    let req = request(
        r#"{"system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#,
    );
    let text = req.render(None, &Map::new(), true).expect("renders");
    assert_eq!(
        text,
        "<|im_start|>system\ns<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    );
}
