//! llama.cpp's slot actions (`POST /slots/{id}?action=save|restore|erase`, `--slot-save-path`):
//! a slot saved, erased and restored continues exactly as it would have (same greedy tokens,
//! same prompt-cache hit), with flash attention (V rows) and without (transposed V, two KV
//! streams); the file is llama.cpp's sequence-state format (`ggsq`, version 3, the packed token
//! list); llama.cpp's errors and status codes; a wrong file is refused and leaves the slot empty.

mod common;

use common::Server;
use serde_json::{json, Value};
use std::path::PathBuf;

const PROMPT: &str = "The capital of France is Paris. The capital of Germany is";

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llama-slot-save-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn complete(s: &Server, prompt: &str) -> Value {
    let body = json!({"prompt": prompt, "n_predict": 8, "temperature": 0, "cache_prompt": true,
        "return_tokens": true});
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn action(s: &Server, slot: &str, action: &str, body: &Value) -> (u16, Value) {
    let r = s.post(&format!("/slots/{slot}?action={action}"), body);
    let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Save → continue → erase → restore (into another slot when there are two) → the same
/// continuation, for one server configuration.
fn round_trip(args: &[&str], n_slots: u64, label: &str) {
    let dir = scratch_dir(label);
    let dir_s = dir.to_str().expect("utf-8 temp dir");
    let mut all = vec!["--slot-save-path", dir_s];
    all.extend_from_slice(args);
    let Some(s) = Server::start(&all) else { return };

    let first = complete(&s, PROMPT);
    let slot = first["id_slot"].as_u64().expect("id_slot");
    let (from, into) = (slot.to_string(), ((slot + 1) % n_slots).to_string());
    let (st, saved) = action(&s, &from, "save", &json!({"filename": "s0.bin"}));
    assert_eq!(st, 200, "{label}: {saved}");
    let n_saved = saved["n_saved"].as_u64().expect("n_saved") as usize;
    let n_prompt = first["tokens_evaluated"]
        .as_u64()
        .expect("tokens_evaluated") as usize;
    // The prompt and every generated token but the last (never decoded), as llama.cpp.
    assert_eq!(n_saved, n_prompt + 8 - 1, "{label}: {saved}");
    assert_eq!(saved["id_slot"], slot);
    assert_eq!(saved["filename"], "s0.bin");
    assert!(saved["timings"]["save_ms"].as_f64().is_some(), "{saved}");

    // llama.cpp's file: magic, version, packed token list (-1, 1, n, tokens, 0 media chunks).
    let bytes = std::fs::read(dir.join("s0.bin")).expect("saved file");
    assert_eq!(saved["n_written"].as_u64(), Some(bytes.len() as u64));
    assert_eq!((le_u32(&bytes, 0), le_u32(&bytes, 4)), (0x6767_7371, 3));
    assert_eq!(le_u32(&bytes, 8) as usize, n_saved + 4);
    assert_eq!(le_u32(&bytes, 12), u32::MAX);
    assert_eq!(le_u32(&bytes, 20) as usize, n_saved);

    // What the slot does with its cache: the prompt extended by the answer.
    let longer = format!("{PROMPT}{}", first["content"].as_str().expect("content"));
    let want = complete(&s, &longer);

    assert_eq!(
        want["id_slot"], slot,
        "{label}: the cached slot serves the longer prompt"
    );

    let (st, erased) = action(&s, &from, "erase", &Value::Null);
    assert_eq!(st, 200, "{label}: {erased}");
    assert!(
        erased["n_erased"].as_u64().unwrap_or(0) > n_saved as u64,
        "{erased}"
    );
    let (st, erased) = action(&s, &from, "erase", &Value::Null);
    assert_eq!(st, 200);
    assert_eq!(
        erased["n_erased"], 0,
        "{label}: the slot is empty after an erase"
    );

    let (st, restored) = action(&s, &into, "restore", &json!({"filename": "s0.bin"}));
    assert_eq!(st, 200, "{label}: {restored}");
    assert_eq!(restored["n_restored"].as_u64(), Some(n_saved as u64));
    assert_eq!(restored["n_read"].as_u64(), Some(bytes.len() as u64));
    assert!(restored["timings"]["restore_ms"].as_f64().is_some());

    let cached_before = s.metric("prompt_tokens_cached_total");
    let got = complete(&s, &longer);
    assert_eq!(
        got["id_slot"].to_string(),
        into,
        "{label}: the restored slot serves it"
    );
    assert_eq!(
        got["tokens"], want["tokens"],
        "{label}: restored slot continues differently"
    );
    assert_eq!(got["content"], want["content"], "{label}");
    let (hit, want_hit) = (&got["timings"]["cache_n"], &want["timings"]["cache_n"]);
    assert_eq!(
        hit, want_hit,
        "{label}: the restored cache is reused as the original was"
    );
    assert!(
        hit.as_u64().unwrap_or(0) >= n_saved as u64 - 1,
        "{label}: {hit} of {n_saved}"
    );
    let cached_after = s.metric("prompt_tokens_cached_total");
    assert_eq!(
        cached_after - cached_before,
        hit.as_f64().unwrap_or(-1.0),
        "{label}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restored_slot_continues_like_the_original_with_flash_attention() {
    round_trip(&["-np", "1", "-c", "1024"], 1, "fa");
}

#[test]
fn restored_slot_continues_like_the_original_with_transposed_v_and_two_streams() {
    round_trip(&["-np", "2", "-c", "1024", "-fa", "off"], 2, "nofa");
}

#[test]
fn slot_actions_answer_llama_cpp_errors() {
    let Some(s) = Server::start(&["-np", "1", "-c", "512"]) else {
        return;
    };
    let (st, v) = action(&s, "0", "save", &json!({"filename": "x.bin"}));
    assert_eq!(st, 501, "{v}");
    assert_eq!(v["error"]["type"], "not_supported_error");
    let msg = v["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("--slot-save-path"), "{msg}");
    drop(s);

    let dir = scratch_dir("errors");
    let dir_s = dir.to_str().expect("utf-8 temp dir");
    let Some(s) = Server::start(&["-np", "1", "-c", "512", "--slot-save-path", dir_s]) else {
        return;
    };
    let message = |v: &Value| {
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    for bad in ["../escape.bin", "a/b.bin", "..", "/etc/passwd", "x:y", ""] {
        let (st, v) = action(&s, "0", "save", &json!({"filename": bad}));
        assert_eq!(
            (st, message(&v)),
            (400, "Invalid filename".into()),
            "{bad:?}"
        );
    }
    assert!(!dir.parent().expect("parent").join("escape.bin").exists());
    let (st, v) = action(&s, "0", "rename", &json!({"filename": "x.bin"}));
    assert_eq!((st, message(&v)), (400, "Invalid action".into()));
    let (st, v) = action(&s, "abc", "erase", &Value::Null);
    assert_eq!((st, message(&v)), (400, "Invalid slot ID".into()));
    let (st, v) = action(&s, "7", "erase", &Value::Null);
    assert_eq!((st, message(&v)), (400, "Invalid slot ID".into()));
    let (st, v) = action(&s, "0", "restore", &json!({"filename": "missing.bin"}));
    assert_eq!(st, 400, "{v}");
    assert!(message(&v).starts_with("Unable to restore slot"), "{v}");

    // A file that is not a llama.cpp sequence state is refused, and the slot stays empty.
    complete(&s, PROMPT);
    std::fs::write(dir.join("wrong.bin"), b"GGUF\x03\x00\x00\x00 not a state").expect("write");
    let (st, v) = action(&s, "0", "restore", &json!({"filename": "wrong.bin"}));
    assert_eq!(st, 400, "{v}");
    assert!(message(&v).contains("magic"), "{v}");
    let (_, erased) = action(&s, "0", "erase", &Value::Null);
    assert_eq!(
        erased["n_erased"], 0,
        "a failed restore leaves the slot empty"
    );

    // A truncated state file is refused the same way.
    complete(&s, PROMPT);
    let (st, _) = action(&s, "0", "save", &json!({"filename": "full.bin"}));
    assert_eq!(st, 200);
    let full = std::fs::read(dir.join("full.bin")).expect("saved");
    std::fs::write(dir.join("cut.bin"), &full[..full.len() - 100]).expect("write");
    let (st, v) = action(&s, "0", "restore", &json!({"filename": "cut.bin"}));
    assert_eq!(st, 400, "{v}");
    assert!(message(&v).contains("truncated"), "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// llama.cpp's tokens after restoring its file (`testdata/slot-state`, see the README there).
const LLAMA_CPP_CONTINUATION: [u64; 6] = [30, 198, 198, 504, 1797, 1918];
/// Log-probabilities closer than this may swap order on another CPU (testdata/reference).
const NEAR_TIE: f64 = 0.02;

#[test]
fn a_slot_saved_by_llama_cpp_restores_and_saves_back_byte_identical() {
    let fixture = common::workspace().join("testdata/slot-state/smollm2-seq-state.bin");
    let original = std::fs::read(&fixture).expect("testdata/slot-state fixture");
    let dir = scratch_dir("llama-cpp");
    std::fs::write(dir.join("lc.bin"), &original).expect("copy fixture");
    let dir_s = dir.to_str().expect("utf-8 temp dir");
    // llama.cpp's settings for the file: one slot (one KV stream), flash attention (V rows).
    let Some(s) = Server::start(&["-np", "1", "-c", "256", "--slot-save-path", dir_s]) else {
        return;
    };
    let (st, restored) = action(&s, "0", "restore", &json!({"filename": "lc.bin"}));
    assert_eq!(st, 200, "{restored}");
    assert_eq!(restored["n_restored"], 6);
    assert_eq!(restored["n_read"].as_u64(), Some(original.len() as u64));

    // Saved back unchanged: cells, positions, sequence ids, types, row sizes and K/V bytes.
    let (st, saved) = action(&s, "0", "save", &json!({"filename": "ours.bin"}));
    assert_eq!(st, 200, "{saved}");
    let ours = std::fs::read(dir.join("ours.bin")).expect("saved file");
    assert!(
        ours == original,
        "the re-saved file differs from llama.cpp's"
    );

    let body = json!({"prompt": "The capital of France is Paris", "n_predict": 6, "temperature": 0,
        "cache_prompt": true, "return_tokens": true, "n_probs": 2});
    let r = s.post("/completion", &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let got = r.json();
    assert_eq!(
        got["timings"]["cache_n"], 5,
        "llama.cpp's cache reused: {got}"
    );
    let tokens = got["tokens"].as_array().expect("tokens");
    let probs = got["completion_probabilities"].as_array().expect("probs");
    for (i, want) in LLAMA_CPP_CONTINUATION.iter().enumerate() {
        let top = probs[i]["top_logprobs"].as_array().expect("top_logprobs");
        let lp = |k: usize| top[k]["logprob"].as_f64().unwrap_or(f64::NAN);
        if (lp(0) - lp(1)).abs() < NEAR_TIE {
            eprintln!(
                "stopping the comparison at token {i}: near-tie {} vs {}",
                lp(0),
                lp(1)
            );
            break;
        }
        assert_eq!(tokens[i].as_u64(), Some(*want), "token {i}: {got}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// llama.cpp's `id_slot`: a request runs in the slot it names (modulo the slot count), even
/// where another slot holds its prompt; -1 lets the server choose (the slot with the prefix).
#[test]
fn id_slot_pins_a_request_to_its_slot() {
    let Some(s) = Server::start(&["-np", "2", "-c", "1024"]) else {
        return;
    };
    let pinned = |id: i64| {
        let body = json!({"prompt": PROMPT, "n_predict": 2, "temperature": 0, "id_slot": id});
        let r = s.post("/completion", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id_slot"].as_u64().expect("id_slot")
    };
    assert_eq!(pinned(1), 1);
    assert_eq!(pinned(0), 0);
    assert_eq!(pinned(3), 1, "3 modulo 2 slots");
    // Any slot: both hold the prompt, so the least recently used one (slot 0) gets it.
    assert_eq!(pinned(-1), 0);
    println!("id_slot: /completion pinned to 1, 0 and 3 % 2 = 1");
}
