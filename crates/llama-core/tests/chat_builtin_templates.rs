//! Built-in named templates (`ChatTemplate::builtin`) render as llama.cpp's
//! `llama_chat_apply_template` does: the expected strings are copied from llama.cpp's
//! `tests/test-chat-template.cpp` (its 6-message conversation, generation prompt on).

use llama_core::chat::{ChatMessage, ChatTemplate, ChatTool, BUILTIN_NAMES};
use llama_core::Error;

fn conversation() -> Vec<ChatMessage> {
    [
        ("system", "You are a helpful assistant"),
        ("user", "Hello"),
        ("assistant", "Hi there"),
        ("user", "Who are you"),
        ("assistant", "   I am an assistant   "),
        ("user", "Another question"),
    ]
    .iter()
    .map(|(r, c)| ChatMessage::new(*r, *c))
    .collect()
}

/// (name, llama.cpp `tests/test-chat-template.cpp` expected output for its 6-message conversation)
const LLAMA_CPP_EXPECTED: &[(&str, &str)] = &[
    ("chatml", "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n"),
    ("llama2", "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]   I am an assistant   </s>[INST] Another question [/INST]"),
    ("llama2-sys-bos", "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s><s>[INST] Who are you [/INST]   I am an assistant   </s><s>[INST] Another question [/INST]"),
    ("llama2-sys-strip", "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST]Hi there</s>[INST] Who are you [/INST]I am an assistant</s>[INST] Another question [/INST]"),
    ("monarch", "system\nYou are a helpful assistant</s>\n<s>user\nHello</s>\n<s>assistant\nHi there</s>\n<s>user\nWho are you</s>\n<s>assistant\n   I am an assistant   </s>\n<s>user\nAnother question</s>\n<s>assistant\n"),
    ("gemma", "<start_of_turn>user\nYou are a helpful assistant\n\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"),
    ("orion", "Human: You are a helpful assistant\n\nHello\n\nAssistant: </s>Hi there</s>Human: Who are you\n\nAssistant: </s>   I am an assistant   </s>Human: Another question\n\nAssistant: </s>"),
    ("openchat", "You are a helpful assistant<|end_of_turn|>GPT4 Correct User: Hello<|end_of_turn|>GPT4 Correct Assistant: Hi there<|end_of_turn|>GPT4 Correct User: Who are you<|end_of_turn|>GPT4 Correct Assistant:    I am an assistant   <|end_of_turn|>GPT4 Correct User: Another question<|end_of_turn|>GPT4 Correct Assistant:"),
    ("deepseek", "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\nWho are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n"),
    ("vicuna", "You are a helpful assistant\n\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\nUSER: Another question\nASSISTANT:"),
    ("vicuna-orca", "SYSTEM: You are a helpful assistant\nUSER: Hello\nASSISTANT: Hi there</s>\nUSER: Who are you\nASSISTANT:    I am an assistant   </s>\nUSER: Another question\nASSISTANT:"),
    ("command-r", "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>You are a helpful assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Hello<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>Hi there<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Who are you<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>I am an assistant<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|USER_TOKEN|>Another question<|END_OF_TURN_TOKEN|><|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>"),
    ("llama3", "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"),
    ("phi3", "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n"),
    ("chatglm3", "[gMASK]sop<|system|>\n You are a helpful assistant<|user|>\n Hello<|assistant|>\n Hi there<|user|>\n Who are you<|assistant|>\n    I am an assistant   <|user|>\n Another question<|assistant|>"),
    ("chatglm4", "[gMASK]<sop><|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>\n"),
    ("glmedge", "<|system|>\nYou are a helpful assistant<|user|>\nHello<|assistant|>\nHi there<|user|>\nWho are you<|assistant|>\n   I am an assistant   <|user|>\nAnother question<|assistant|>"),
    ("minicpm", "You are a helpful assistant<用户>Hello<AI>Hi there<用户>Who are you<AI>I am an assistant<用户>Another question<AI>"),
    ("deepseek2", "You are a helpful assistant\n\nUser: Hello\n\nAssistant: Hi there<｜end▁of▁sentence｜>User: Who are you\n\nAssistant:    I am an assistant   <｜end▁of▁sentence｜>User: Another question\n\nAssistant:"),
    ("granite", "<|start_of_role|>system<|end_of_role|>You are a helpful assistant<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Hello<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Who are you<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>   I am an assistant   <|end_of_text|>\n<|start_of_role|>user<|end_of_role|>Another question<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>"),
    ("mistral-v1", " [INST] You are a helpful assistant\n\nHello [/INST] Hi there</s> [INST] Who are you [/INST]    I am an assistant   </s> [INST] Another question [/INST]"),
    ("mistral-v3", "[INST] You are a helpful assistant\n\nHello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>[INST] Another question[/INST]"),
    ("mistral-v3-tekken", "[INST]You are a helpful assistant\n\nHello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   </s>[INST]Another question[/INST]"),
    ("mistral-v7", "[SYSTEM_PROMPT] You are a helpful assistant[/SYSTEM_PROMPT][INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST]    I am an assistant   </s>[INST] Another question[/INST]"),
    ("megrez", "<|role_start|>system<|role_end|>You are a helpful assistant<|turn_end|><|role_start|>user<|role_end|>Hello<|turn_end|><|role_start|>assistant<|role_end|>Hi there<|turn_end|><|role_start|>user<|role_end|>Who are you<|turn_end|><|role_start|>assistant<|role_end|>   I am an assistant   <|turn_end|><|role_start|>user<|role_end|>Another question<|turn_end|><|role_start|>assistant<|role_end|>"),
    ("phi4", "<|im_start|>system<|im_sep|>You are a helpful assistant<|im_end|><|im_start|>user<|im_sep|>Hello<|im_end|><|im_start|>assistant<|im_sep|>Hi there<|im_end|><|im_start|>user<|im_sep|>Who are you<|im_end|><|im_start|>assistant<|im_sep|>   I am an assistant   <|im_end|><|im_start|>user<|im_sep|>Another question<|im_end|><|im_start|>assistant<|im_sep|>"),
];

#[test]
fn builtin_templates_match_llama_cpp_expected_outputs() {
    let conv = conversation();
    for (name, expected) in LLAMA_CPP_EXPECTED {
        let template = ChatTemplate::builtin(name).expect("known name");
        assert_eq!(template.builtin_name(), Some(*name));
        let out = template.render(&conv, true).expect("renders");
        assert_eq!(&out, expected, "built-in template {name}");
    }
}

/// Names without a case in llama.cpp's test: expected strings written from
/// `src/llama-chat.cpp` by hand.
#[test]
fn other_builtin_templates_follow_llama_chat_cpp() {
    let conv = [
        ChatMessage::new("system", "S"),
        ChatMessage::new("user", " Hi "),
        ChatMessage::new("assistant", "Yo"),
    ];
    let cases = [
        ("zephyr", "<|system|>\nS<|endoftext|>\n<|user|>\n Hi <|endoftext|>\n<|assistant|>\nYo<|endoftext|>\n<|assistant|>\n"),
        ("deepseek3", "S\n\n<｜User｜> Hi <｜Assistant｜>Yo<｜end▁of▁sentence｜><｜Assistant｜>"),
        ("falcon3", "<|system|>\nS\n<|user|>\n Hi \n<|assistant|>\nYo\n<|assistant|>\n"),
        ("mistral-v7-tekken", "[SYSTEM_PROMPT]S[/SYSTEM_PROMPT][INST] Hi [/INST]Yo</s>"),
        ("llama4", "<|header_start|>system<|header_end|>\n\nS<|eot|><|header_start|>user<|header_end|>\n\nHi<|eot|><|header_start|>assistant<|header_end|>\n\nYo<|eot|><|header_start|>assistant<|header_end|>\n\n"),
        ("gpt-oss", "<|start|>system<|message|>S<|end|><|start|>user<|message|> Hi <|end|><|start|>assistant<|message|>Yo<|return|><|start|>assistant"),
    ];
    for (name, expected) in cases {
        let out = ChatTemplate::builtin(name)
            .unwrap()
            .render(&conv, true)
            .unwrap();
        assert_eq!(out, expected, "{name}");
    }
    for name in BUILTIN_NAMES {
        ChatTemplate::builtin(name)
            .expect("every listed name renders")
            .render(&conv, false)
            .expect("renders");
    }
}

#[test]
fn unknown_names_list_the_known_ones_and_tools_need_jinja() {
    let err = ChatTemplate::builtin("no-such-template").unwrap_err();
    assert!(matches!(err, Error::ChatTemplateUnknown { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-template") && msg.contains("chatml") && msg.contains("llama3"),
        "{msg}"
    );
    // A value that is not a name is a Jinja source (llama.cpp's `--chat-template` rule).
    let t = ChatTemplate::from_name_or_source("{{ messages[0].content }}!", "", "").unwrap();
    assert_eq!(t.builtin_name(), None);
    assert_eq!(
        t.render(&conversation(), true).unwrap(),
        "You are a helpful assistant!"
    );
    let tools = ChatTool::parse_oaicompat(
        &serde_json::json!([{"type": "function", "function": {"name": "f"}}]),
    )
    .unwrap();
    let mut inputs = llama_core::chat::ChatInputs::new(&[]);
    inputs.tools = &tools;
    assert!(ChatTemplate::builtin("llama3")
        .unwrap()
        .apply(&inputs)
        .is_err());
}
