//! `--chat-template-file` overrides the model's template: SmolLM2 (ChatML in its GGUF) served
//! with Gemma 2's template counts the prompt tokens of the Gemma rendering, and Gemma's own
//! checks (alternating roles) refuse what ChatML would accept.

mod common;

use common::{chat_body, workspace, Server};
use serde_json::json;

/// Gemma 2's rendering of one user turn; its `bos_token` is SmolLM2's BOS text.
const GEMMA_PROMPT: &str =
    "<|im_start|><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n";

#[test]
fn chat_template_file_overrides_the_model_template() {
    let file = workspace().join("testdata/reference/templates/google-gemma-2-2b-it.jinja");
    let file = file.to_str().expect("UTF-8 path");
    let Some(s) = Server::start(&["--chat-template-file", file, "-np", "1"]) else {
        return;
    };
    let tokenized = s.post(
        "/tokenize",
        &json!({"content": GEMMA_PROMPT, "add_special": true, "parse_special": true}),
    );
    assert_eq!(tokenized.status, 200, "{}", tokenized.body);
    let expected = tokenized.json()["tokens"].as_array().expect("tokens").len();

    let resp = s.post("/v1/chat/completions", &chat_body("Hi", 1));
    assert_eq!(resp.status, 200, "{}", resp.body);
    let prompt_tokens = resp.json()["usage"]["prompt_tokens"]
        .as_u64()
        .expect("usage");
    assert_eq!(
        prompt_tokens as usize, expected,
        "prompt is the Gemma rendering"
    );

    let chatml = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
    let chatml_tokens = s.post(
        "/tokenize",
        &json!({"content": chatml, "add_special": true}),
    );
    let chatml_len = chatml_tokens.json()["tokens"]
        .as_array()
        .expect("tokens")
        .len();
    assert_ne!(
        prompt_tokens as usize, chatml_len,
        "not the model's own ChatML"
    );

    let two_users = json!({"messages": [{"role": "user", "content": "a"},
                                        {"role": "user", "content": "b"}], "max_tokens": 1});
    let refused = s.post("/v1/chat/completions", &two_users);
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("Conversation roles must alternate"),
        "{}",
        refused.body
    );
}
