//! Every chat template of `testdata/reference/templates/` renders exactly as llama.cpp's
//! `POST /apply-template` rendered it (`templates.json`), plain and with a tool call; where
//! llama.cpp refused, we refuse too.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use llama_core::chat::{ChatInputs, ChatMessage, ChatTemplate, ChatTool};
use serde_json::Value as Json;

/// The references were rendered on 2026-12-01 (UTC): 1796083200 = 2026-12-01T00:00:00Z.
const RENDER_DAY_UNIX: u64 = 1_796_083_200 + 12 * 3600;
/// SmolLM2's BOS/EOS texts: the model the reference server ran.
const BOS: &str = "<|im_start|>";
const EOS: &str = "<|im_end|>";

/// Known differences: (template, "plain"|"tools", reason). Kept small and explicit.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference")
}

fn first_difference(a: &str, b: &str) -> String {
    let pos = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map(|((i, _), _)| i)
        .unwrap_or(a.len().min(b.len()));
    let lo = a[..pos].char_indices().rev().nth(60).map_or(0, |(i, _)| i);
    let ctx = |s: &str| {
        let end = s
            .char_indices()
            .nth(s[..pos.min(s.len())].chars().count() + 80);
        s[lo.min(s.len())..end.map_or(s.len(), |(i, _)| i)].to_string()
    };
    format!("at byte {pos}:\n  ours: {:?}\n  ref:  {:?}", ctx(a), ctx(b))
}

enum Outcome {
    Exact,
    Mismatch(String),
}

fn check(
    template: &ChatTemplate,
    messages: &[ChatMessage],
    tools: &[ChatTool],
    expected: &Json,
) -> Outcome {
    let mut inputs = ChatInputs::new(messages);
    inputs.tools = tools;
    // llama-server's default `--reasoning-preserve` puts this kwarg in every context.
    inputs
        .kwargs
        .insert("preserve_reasoning".into(), Json::Bool(true));
    inputs.now = Some(UNIX_EPOCH + Duration::from_secs(RENDER_DAY_UNIX));
    let ours = template.apply(&inputs);
    match (ours, expected) {
        (Ok(ours), Json::String(want)) if &ours == want => Outcome::Exact,
        (Ok(ours), Json::String(want)) => Outcome::Mismatch(first_difference(&ours, want)),
        (Err(_), Json::Object(o)) if o.contains_key("error") => Outcome::Exact,
        (Err(e), want) => Outcome::Mismatch(format!("we failed: {e}; llama.cpp: {want:.200}")),
        (Ok(ours), want) => Outcome::Mismatch(format!(
            "we rendered {:.200}; llama.cpp refused: {want}",
            ours
        )),
    }
}

#[test]
fn templates_render_like_llama_cpp() {
    let dir = reference_dir();
    let text = std::fs::read_to_string(dir.join("templates.json")).expect("templates.json");
    let reference: Json = serde_json::from_str(&text).expect("valid JSON");
    let conv = ChatMessage::parse_oaicompat(&reference["conv"]).expect("conv");
    let toolconv = ChatMessage::parse_oaicompat(&reference["toolconv"]).expect("toolconv");
    let tools = ChatTool::parse_oaicompat(&reference["tools"]).expect("tools");
    let templates = reference["templates"].as_object().expect("templates");
    let (mut plain_ok, mut tools_ok) = (0, 0);
    let mut failures = Vec::new();
    let mut known_hit = Vec::new();
    for (name, entry) in templates {
        let source = std::fs::read_to_string(dir.join("templates").join(name)).expect("template");
        let template = match ChatTemplate::new(&source, BOS, EOS) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: does not compile: {e}"));
                continue;
            }
        };
        for (kind, msgs, tl) in [("plain", &conv, &[][..]), ("tools", &toolconv, &tools[..])] {
            match check(&template, msgs, tl, &entry[kind]) {
                Outcome::Exact => {
                    if kind == "plain" {
                        plain_ok += 1
                    } else {
                        tools_ok += 1
                    }
                }
                Outcome::Mismatch(why) => {
                    let known = KNOWN_DIFFERENCES
                        .iter()
                        .find(|(n, k, _)| *n == name && *k == kind);
                    match known {
                        Some((_, _, reason)) => {
                            known_hit.push((name.clone(), kind));
                            eprintln!("known difference {name} ({kind}): {reason}\n  {why}");
                        }
                        None => failures.push(format!("{name} ({kind}): {why}")),
                    }
                }
            }
        }
    }
    let n = templates.len();
    println!("templates: {plain_ok}/{n} plain exact, {tools_ok}/{n} tools exact");
    eprintln!("templates: {plain_ok}/{n} plain exact, {tools_ok}/{n} tools exact");
    for (name, kind, _) in KNOWN_DIFFERENCES {
        assert!(
            known_hit.iter().any(|(n, k)| n == name && k == kind),
            "{name} ({kind}) is listed as a known difference but now matches: remove it"
        );
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The probed capabilities that drive llama.cpp's workarounds, on templates whose behaviour
/// is known: Gemma 2 ignores the system role (merged into the first user turn), Qwen 2.5
/// reads tool names and wants arguments as objects.
#[test]
fn probed_caps_match_the_templates() {
    let dir = reference_dir().join("templates");
    let caps = |name: &str| {
        let source = std::fs::read_to_string(dir.join(name)).expect("template");
        ChatTemplate::new(&source, BOS, EOS)
            .expect("compiles")
            .caps()
            .clone()
    };
    let gemma = caps("google-gemma-2-2b-it.jinja");
    assert!(
        !gemma.supports_system_role && !gemma.supports_tool_calls,
        "{gemma:?}"
    );
    let qwen = caps("Qwen-Qwen2.5-7B-Instruct.jinja");
    assert!(qwen.supports_system_role && qwen.supports_tools, "{qwen:?}");
    assert!(
        qwen.supports_tool_calls && qwen.supports_object_arguments,
        "{qwen:?}"
    );
    assert!(
        qwen.supports_string_content && !qwen.supports_typed_content,
        "{qwen:?}"
    );
}
