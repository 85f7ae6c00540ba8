//! Every chat template of `testdata/reference/templates/` continues a final assistant message
//! exactly as llama.cpp's `POST /apply-template` did (`templates_prefill.json`, made by
//! `testdata/reference/tools/templates_prefill.py`): the `--prefill-assistant` heuristic and
//! explicit `continue_final_message`, with content, typed parts and reasoning.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use llama_core::chat::{ChatInputs, ChatMessage, ChatTemplate, Continuation};
use serde_json::Value as Json;

/// SmolLM2's BOS/EOS texts: the model the reference server ran.
const BOS: &str = "<|im_start|>";
const EOS: &str = "<|im_end|>";

/// Templates whose continuation llama.cpp builds in a dedicated handler of its own
/// (`common/parsers/*.cpp`, each writing its generation prompt and reasoning markers by hand)
/// that this engine does not reproduce yet: (template, reason). Every other template must
/// match in every case.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

fn reference_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/reference")
}

/// Noon UTC of the `rendered on YYYY-MM-DD` day named in `about`.
fn render_day(about: &str) -> u64 {
    let date = about
        .rsplit("rendered on ")
        .next()
        .expect("about names the render day");
    let parts: Vec<i64> = date
        .trim()
        .split('-')
        .map(|p| p.parse().expect("a date"))
        .collect();
    let (y, m, d) = (parts[0], parts[1], parts[2]);
    // Days from 1970-01-01 to y-m-d (civil calendar, Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).expect("after 1970") * 86_400 + 12 * 3600
}

/// llama.cpp's server: an explicit `continue_final_message`, else the prefill heuristic.
fn render(template: &ChatTemplate, body: &Json, now: u64) -> Result<String, String> {
    let messages = ChatMessage::parse_oaicompat(&body["messages"]).map_err(|e| e.to_string())?;
    let mut inputs = ChatInputs::new(&messages);
    inputs.continue_final_message = Continuation::parse(&body["continue_final_message"]);
    if inputs.continue_final_message == Continuation::None {
        inputs.continue_final_message = Continuation::Auto;
    }
    inputs.add_generation_prompt = false;
    inputs
        .kwargs
        .insert("preserve_reasoning".into(), Json::Bool(true));
    inputs.now = Some(UNIX_EPOCH + Duration::from_secs(now));
    template.apply(&inputs).map_err(|e| e.to_string())
}

#[test]
fn final_assistant_messages_continue_like_llama_cpp() {
    let dir = reference_dir();
    let text = std::fs::read_to_string(dir.join("templates_prefill.json")).expect("reference");
    let reference: Json = serde_json::from_str(&text).expect("valid JSON");
    let now = render_day(reference["about"].as_str().expect("about"));
    let cases = reference["cases"].as_object().expect("cases");
    let mut failures = Vec::new();
    let mut known_hit = Vec::new();
    let mut exact = 0;
    for (name, entry) in reference["templates"].as_object().expect("templates") {
        let source = std::fs::read_to_string(dir.join("templates").join(name)).expect("template");
        let template = ChatTemplate::new(&source, BOS, EOS).expect("compiles");
        for (case, body) in cases {
            let ours = render(&template, body, now);
            let ok = match (&ours, &entry[case]) {
                (Ok(o), Json::String(want)) => o == want,
                (Err(_), Json::Object(o)) => o.contains_key("error"),
                _ => false,
            };
            if ok {
                exact += 1;
                continue;
            }
            let why = format!(
                "{name} ({case}):\n  ours: {ours:?}\n  ref:  {}",
                entry[case]
            );
            match KNOWN_DIFFERENCES.iter().find(|(n, _)| n == name) {
                Some((_, reason)) => {
                    known_hit.push(name.clone());
                    eprintln!("known difference ({reason}): {why}");
                }
                None => failures.push(why),
            }
        }
    }
    eprintln!("prefill renderings: {exact} exact");
    for (name, _) in KNOWN_DIFFERENCES {
        assert!(
            known_hit.iter().any(|n| n == name),
            "{name} is listed as a known difference but now matches: remove it"
        );
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
