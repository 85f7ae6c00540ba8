//! FireFunction v2's template adds an undefined `functions` to a string; llama.cpp's engine
//! reads it as empty (minijinja and Jinja2 fail). It renders as llama.cpp's `/apply-template`
//! rendered it (`testdata/reference/firefunction/`), with and without tools.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use llama_core::chat::{ChatInputs, ChatMessage, ChatTemplate, ChatTool};
use serde_json::Value as Json;

/// 2026-12-02T12:00:00Z, the day the reference was rendered (the template prints the date).
const RENDER_DAY_UNIX: u64 = 1_796_169_600 + 12 * 3600;

#[test]
fn firefunction_v2_renders_like_llama_cpp() {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference/firefunction");
    let source = std::fs::read_to_string(dir.join("fireworks-ai-llama-3-firefunction-v2.jinja"))
        .expect("template");
    let text = std::fs::read_to_string(dir.join("firefunction_v2.json")).expect("reference");
    let reference: Json = serde_json::from_str(&text).expect("JSON");
    let template = ChatTemplate::new(&source, "<|im_start|>", "<|im_end|>").expect("compiles");
    for case in ["plain", "tools"] {
        let request = &reference[case]["request"];
        let messages = ChatMessage::parse_oaicompat(&request["messages"]).expect("messages");
        let tools = ChatTool::parse_oaicompat(&request["tools"]).expect("tools");
        let mut inputs = ChatInputs::new(&messages);
        inputs.tools = &tools;
        inputs.now = Some(UNIX_EPOCH + Duration::from_secs(RENDER_DAY_UNIX));
        inputs
            .kwargs
            .insert("preserve_reasoning".into(), Json::Bool(true));
        let ours = template.apply(&inputs).expect("renders");
        assert_eq!(
            ours,
            reference[case]["prompt"].as_str().expect("prompt"),
            "{case}"
        );
    }
}
