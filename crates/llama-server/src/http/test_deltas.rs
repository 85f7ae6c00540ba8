//! Parsed deltas of one streamed answer for the stream-event tests of the Anthropic and
//! Responses formats: some text, then a tool call whose arguments come in two pieces.

use llama_core::chat::toolcall::{ChatDelta, ToolCallDelta};

/// "Let me check.", then `get_weather` (id `call_1`) with `{"city":"Paris"}` split in two.
pub fn text_then_call() -> [ChatDelta; 3] {
    let text = ChatDelta {
        content: "Let me check.".into(),
        ..ChatDelta::default()
    };
    let call = ChatDelta {
        tool_calls: vec![ToolCallDelta {
            index: 0,
            id: Some("call_1".into()),
            name: Some("get_weather".into()),
            arguments: "{\"city\":".into(),
        }],
        ..ChatDelta::default()
    };
    let more = ChatDelta {
        tool_calls: vec![ToolCallDelta {
            index: 0,
            arguments: "\"Paris\"}".into(),
            ..ToolCallDelta::default()
        }],
        ..ChatDelta::default()
    };
    [text, call, more]
}
