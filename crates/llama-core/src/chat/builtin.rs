//! Built-in named templates for GGUFs that carry none: native ports of llama.cpp's
//! `llm_chat_apply_template` (`src/llama-chat.cpp`, the `--chat-template NAME` formats).
//! They see only role and text, as in llama.cpp's legacy (non-Jinja) path.

use super::message::ChatMessage;

/// The names, in llama.cpp's spelling.
pub const BUILTIN_NAMES: &[&str] = &[
    "chatml",
    "llama2",
    "llama2-sys",
    "llama2-sys-bos",
    "llama2-sys-strip",
    "mistral-v1",
    "mistral-v3",
    "mistral-v3-tekken",
    "mistral-v7",
    "mistral-v7-tekken",
    "phi3",
    "phi4",
    "falcon3",
    "zephyr",
    "monarch",
    "gemma",
    "orion",
    "openchat",
    "vicuna",
    "vicuna-orca",
    "deepseek",
    "deepseek2",
    "deepseek3",
    "command-r",
    "llama3",
    "chatglm3",
    "chatglm4",
    "glmedge",
    "minicpm",
    "exaone3",
    "granite",
    "granite-4.0",
    "megrez",
    "llama4",
    "gpt-oss",
];

/// Trims ASCII whitespace like llama.cpp's `trim` (C `isspace`).
fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b')
}

/// A message's text: content, or its text parts joined by newlines.
fn text(m: &ChatMessage) -> String {
    if !m.content.is_empty() || m.content_parts.is_empty() {
        return m.content.clone();
    }
    let parts: Vec<&str> = m.content_parts.iter().map(|p| p.text.as_str()).collect();
    parts.join("\n")
}

/// Renders `messages` with the built-in format `name`; `None` for an unknown name.
pub(crate) fn apply(name: &str, messages: &[ChatMessage], add_ass: bool) -> Option<String> {
    let chat: Vec<(&str, String)> = messages
        .iter()
        .map(|m| (m.role.as_str(), text(m)))
        .collect();
    let mut out = String::new();
    let simple = |out: &mut String, pre: &dyn Fn(&str) -> String, post: &str, ass: &str| {
        for (role, content) in &chat {
            out.push_str(&pre(role));
            out.push_str(content);
            out.push_str(post);
        }
        if add_ass {
            out.push_str(ass);
        }
    };
    match name {
        "chatml" => simple(
            &mut out,
            &|r| format!("<|im_start|>{r}\n"),
            "<|im_end|>\n",
            "<|im_start|>assistant\n",
        ),
        "phi3" => simple(
            &mut out,
            &|r| format!("<|{r}|>\n"),
            "<|end|>\n",
            "<|assistant|>\n",
        ),
        "phi4" => simple(
            &mut out,
            &|r| format!("<|im_start|>{r}<|im_sep|>"),
            "<|im_end|>",
            "<|im_start|>assistant<|im_sep|>",
        ),
        "falcon3" => simple(&mut out, &|r| format!("<|{r}|>\n"), "\n", "<|assistant|>\n"),
        "zephyr" => simple(
            &mut out,
            &|r| format!("<|{r}|>\n"),
            "<|endoftext|>\n",
            "<|assistant|>\n",
        ),
        "chatglm4" => {
            out.push_str("[gMASK]<sop>");
            simple(&mut out, &|r| format!("<|{r}|>\n"), "", "<|assistant|>\n");
        }
        "chatglm3" => {
            out.push_str("[gMASK]sop");
            simple(&mut out, &|r| format!("<|{r}|>\n "), "", "<|assistant|>");
        }
        "glmedge" => simple(&mut out, &|r| format!("<|{r}|>\n"), "", "<|assistant|>"),
        "megrez" => simple(
            &mut out,
            &|r| format!("<|role_start|>{r}<|role_end|>"),
            "<|turn_end|>",
            "<|role_start|>assistant<|role_end|>",
        ),
        "granite" => simple(
            &mut out,
            &|r| {
                let call = if r == "assistant_tool_call" {
                    "<|tool_call|>"
                } else {
                    ""
                };
                format!("<|start_of_role|>{r}<|end_of_role|>{call}")
            },
            "<|end_of_text|>\n",
            "<|start_of_role|>assistant<|end_of_role|>",
        ),
        "granite-4.0" => simple(
            &mut out,
            &|r| match r {
                "assistant_tool_call" => {
                    "<|start_of_role|>assistant<|end_of_role|><|tool_call|>".to_string()
                }
                _ => format!("<|start_of_role|>{r}<|end_of_role|>"),
            },
            "<|end_of_text|>\n",
            "<|start_of_role|>assistant<|end_of_role|>",
        ),
        "gpt-oss" => {
            for (role, content) in &chat {
                let end = if *role == "assistant" {
                    "<|return|>"
                } else {
                    "<|end|>"
                };
                out.push_str(&format!("<|start|>{role}<|message|>{content}{end}"));
            }
            if add_ass {
                out.push_str("<|start|>assistant");
            }
        }
        _ => return apply_turn_based(name, &chat, add_ass),
    }
    Some(out)
}

/// Formats with role-specific markup or trimming.
fn apply_turn_based(name: &str, chat: &[(&str, String)], add_ass: bool) -> Option<String> {
    let mut out = String::new();
    let ass = |out: &mut String, s: &str| {
        if add_ass {
            out.push_str(s);
        }
    };
    match name {
        "llama3" | "llama4" => {
            let (start, end, eot) = if name == "llama3" {
                ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
            } else {
                ("<|header_start|>", "<|header_end|>", "<|eot|>")
            };
            for (role, content) in chat {
                out.push_str(&format!("{start}{role}{end}\n\n{}{eot}", trim(content)));
            }
            ass(&mut out, &format!("{start}assistant{end}\n\n"));
        }
        "command-r" => {
            for (role, content) in chat {
                let token = match *role {
                    "system" => "<|SYSTEM_TOKEN|>",
                    "user" => "<|USER_TOKEN|>",
                    "assistant" => "<|CHATBOT_TOKEN|>",
                    _ => continue,
                };
                out.push_str(&format!(
                    "<|START_OF_TURN_TOKEN|>{token}{}<|END_OF_TURN_TOKEN|>",
                    trim(content)
                ));
            }
            ass(&mut out, "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>");
        }
        "gemma" => {
            let mut system = String::new();
            for (role, content) in chat {
                if *role == "system" {
                    system.push_str(trim(content));
                    continue;
                }
                let role = if *role == "assistant" { "model" } else { role };
                out.push_str(&format!("<start_of_turn>{role}\n"));
                if !system.is_empty() && role != "model" {
                    out.push_str(&format!("{system}\n\n"));
                    system.clear();
                }
                out.push_str(&format!("{}<end_of_turn>\n", trim(content)));
            }
            ass(&mut out, "<start_of_turn>model\n");
        }
        "deepseek" | "deepseek2" | "deepseek3" => deepseek(name, chat, &mut out, add_ass),
        "vicuna" | "vicuna-orca" => {
            for (role, content) in chat {
                match *role {
                    "system" if name == "vicuna-orca" => {
                        out.push_str(&format!("SYSTEM: {content}\n"))
                    }
                    "system" => out.push_str(&format!("{content}\n\n")),
                    "user" => out.push_str(&format!("USER: {content}\n")),
                    "assistant" => out.push_str(&format!("ASSISTANT: {content}</s>\n")),
                    _ => {}
                }
            }
            ass(&mut out, "ASSISTANT:");
        }
        "openchat" => {
            for (role, content) in chat {
                if *role == "system" {
                    out.push_str(&format!("{content}<|end_of_turn|>"));
                } else {
                    let mut r = role.to_string();
                    if let Some(first) = r.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    out.push_str(&format!("GPT4 Correct {r}: {content}<|end_of_turn|>"));
                }
            }
            ass(&mut out, "GPT4 Correct Assistant:");
        }
        _ => return apply_other(name, chat, add_ass),
    }
    Some(out)
}

fn deepseek(name: &str, chat: &[(&str, String)], out: &mut String, add_ass: bool) {
    for (role, content) in chat {
        let piece = match (name, *role) {
            ("deepseek", "system") => content.clone(),
            ("deepseek", "user") => format!("### Instruction:\n{content}\n"),
            ("deepseek", "assistant") => format!("### Response:\n{content}\n<|EOT|>\n"),
            (_, "system") => format!("{content}\n\n"),
            ("deepseek2", "user") => format!("User: {content}\n\n"),
            ("deepseek2", "assistant") => format!("Assistant: {content}<｜end▁of▁sentence｜>"),
            (_, "user") => format!("<｜User｜>{content}"),
            (_, "assistant") => format!("<｜Assistant｜>{content}<｜end▁of▁sentence｜>"),
            _ => continue,
        };
        out.push_str(&piece);
    }
    if add_ass {
        out.push_str(match name {
            "deepseek" => "### Response:\n",
            "deepseek2" => "Assistant:",
            _ => "<｜Assistant｜>",
        });
    }
}

fn apply_other(name: &str, chat: &[(&str, String)], add_ass: bool) -> Option<String> {
    let mut out = String::new();
    match name {
        "llama2" | "llama2-sys" | "llama2-sys-bos" | "llama2-sys-strip" => {
            llama2(name, chat, &mut out)
        }
        "mistral-v1" | "mistral-v3" | "mistral-v3-tekken" => mistral_v1_v3(name, chat, &mut out),
        "mistral-v7" | "mistral-v7-tekken" => {
            let sp = if name == "mistral-v7" { " " } else { "" };
            for (role, content) in chat {
                match *role {
                    "system" => {
                        out.push_str(&format!("[SYSTEM_PROMPT]{sp}{content}[/SYSTEM_PROMPT]"))
                    }
                    "user" => out.push_str(&format!("[INST]{sp}{content}[/INST]")),
                    _ => out.push_str(&format!("{sp}{content}</s>")),
                }
            }
        }
        "monarch" => {
            for (i, (role, content)) in chat.iter().enumerate() {
                let bos = if i == 0 { "" } else { "<s>" };
                out.push_str(&format!("{bos}{role}\n{content}</s>\n"));
            }
            if add_ass {
                out.push_str("<s>assistant\n");
            }
        }
        "orion" => {
            let mut system = String::new();
            for (role, content) in chat {
                match *role {
                    "system" => system.push_str(content),
                    "user" => {
                        out.push_str("Human: ");
                        if !system.is_empty() {
                            out.push_str(&format!("{system}\n\n"));
                            system.clear();
                        }
                        out.push_str(&format!("{content}\n\nAssistant: </s>"));
                    }
                    _ => out.push_str(&format!("{content}</s>")),
                }
            }
        }
        "minicpm" => {
            for (role, content) in chat {
                if *role == "user" {
                    out.push_str(&format!("<用户>{}<AI>", trim(content)));
                } else {
                    out.push_str(trim(content));
                }
            }
        }
        "exaone3" => {
            for (role, content) in chat {
                match *role {
                    "system" => {
                        out.push_str(&format!("[|system|]{}[|endofturn|]\n", trim(content)))
                    }
                    "user" => out.push_str(&format!("[|user|]{}\n", trim(content))),
                    "assistant" => {
                        out.push_str(&format!("[|assistant|]{}[|endofturn|]\n", trim(content)))
                    }
                    _ => {}
                }
            }
            if add_ass {
                out.push_str("[|assistant|]");
            }
        }
        _ => return None,
    }
    Some(out)
}

fn llama2(name: &str, chat: &[(&str, String)], out: &mut String) {
    let system_supported = name != "llama2";
    let bos_inside = name == "llama2-sys-bos";
    let strip = name == "llama2-sys-strip";
    let mut inside_turn = true;
    out.push_str("[INST] ");
    for (role, content) in chat {
        let content = if strip {
            trim(content)
        } else {
            content.as_str()
        };
        if !inside_turn {
            inside_turn = true;
            out.push_str(if bos_inside { "<s>[INST] " } else { "[INST] " });
        }
        match *role {
            "system" if system_supported => {
                out.push_str(&format!("<<SYS>>\n{content}\n<</SYS>>\n\n"))
            }
            "system" => out.push_str(&format!("{content}\n")),
            "user" => out.push_str(&format!("{content} [/INST]")),
            _ => {
                out.push_str(&format!("{content}</s>"));
                inside_turn = false;
            }
        }
    }
}

fn mistral_v1_v3(name: &str, chat: &[(&str, String)], out: &mut String) {
    let leading = if name == "mistral-v1" { " " } else { "" };
    let trailing = if name == "mistral-v3-tekken" { "" } else { " " };
    let trim_assistant = name == "mistral-v3";
    let mut inside_turn = false;
    for (role, content) in chat {
        if !inside_turn {
            out.push_str(&format!("{leading}[INST]{trailing}"));
            inside_turn = true;
        }
        match *role {
            "system" => out.push_str(&format!("{content}\n\n")),
            "user" => out.push_str(&format!("{content}{leading}[/INST]")),
            _ => {
                let c = if trim_assistant {
                    trim(content)
                } else {
                    content.as_str()
                };
                out.push_str(&format!("{trailing}{c}</s>"));
                inside_turn = false;
            }
        }
    }
}
