//! llama.cpp's server-wide endpoints against llama.cpp's own answers: the fill-in-the-middle
//! prompt of `/infill` (token for token), `/props`, `/apply-template`, and `/infill` refused
//! for a model without FIM tokens.

mod common;

use common::{named_model, Server};
use llama_core::gguf::GgufFile;
use llama_core::vocab::Vocab;
use llama_server::api::infill::{self, FimTokens, InfillLimits, InfillRequest};
use serde_json::json;

const QWEN: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// llama.cpp's server test `test_infill_with_input_extra`, with greedy sampling.
fn infill_body() -> serde_json::Value {
    json!({
        "input_extra": [{"filename": "llama.h", "text": "LLAMA_API int32_t llama_n_threads();\n"}],
        "input_prefix": "#include <cstdio>\n#include \"llama.h\"\n\nint main() {\n",
        "prompt": "    int n_threads = llama_",
        "input_suffix": "}\n",
        "n_predict": 4,
        "temperature": 0,
    })
}

/// The prompt llama.cpp built for [`infill_body`] on Qwen2.5-Coder-0.5B. Produced by running
/// llama.cpp's `llama-server` (vendor/llama.cpp/build/bin, this commit) once by hand with
/// `LLAMA_BATCH_DEBUG=1 … -m models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf -c 8192 -np 1 -t 1 -v`,
/// posting the body to `/infill` and copying the token ids of the 48-token prompt batch from
/// its `ubatch_print` log. Its response: `tokens_evaluated` 48, content "n_threads();\n   ".
const LLAMA_CPP_INFILL_PROMPT: [u32; 48] = [
    151663, 2408, 4987, 198, 151664, 654, 3029, 860, 198, 4086, 38100, 11415, 526, 18, 17, 528,
    93676, 1089, 29725, 543, 151664, 8404, 198, 151659, 1067, 366, 37212, 397, 1067, 330, 654,
    3029, 860, 1837, 396, 1887, 368, 341, 262, 526, 308, 29725, 284, 93676, 62, 151661, 532,
    151660,
];

#[test]
fn infill_prompt_matches_llama_cpp_token_for_token() {
    let Some(path) = named_model(QWEN) else {
        return;
    };
    let file = GgufFile::open(&path).expect("model opens");
    let vocab = Vocab::from_gguf(&file).expect("vocabulary loads");
    let req: InfillRequest = serde_json::from_value(infill_body()).expect("request parses");
    let fim = FimTokens::of(&vocab).expect("Qwen2.5-Coder has FIM tokens");
    let (prefix, suffix, extra, prompt) = infill::validate(&req).expect("valid");
    let n_vocab = vocab.n_tokens();
    // llama.cpp's values in that run: -b 2048, -n -1, a slot of 8192 tokens.
    let limits = InfillLimits {
        n_batch: 2048,
        n_predict: -1,
        n_ctx: 8192,
        spm: false,
    };
    let tokens = infill::format_prompt(
        &vocab,
        fim,
        infill::tokenize_mixed(&vocab, prefix, n_vocab).expect("prefix"),
        infill::tokenize_mixed(&vocab, suffix, n_vocab).expect("suffix"),
        &extra,
        &vocab.tokenize(&prompt, false, true),
        limits,
    );
    assert_eq!(tokens, LLAMA_CPP_INFILL_PROMPT);
}

#[test]
fn infill_props_and_apply_template_on_qwen() {
    let Some(path) = named_model(QWEN) else {
        return;
    };
    let s = Server::start_model(&path, &["-c", "8192", "-np", "1"], &[]);
    let r = s.post("/infill", &infill_body());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["tokens_evaluated"], 48, "{v}");
    // Greedy, as llama.cpp answered the same request.
    assert_eq!(v["content"], "n_threads();\n   ", "{v}");
    for bad in [
        json!({"input_prefix": "a", "input_suffix": "b", "input_extra": [{"filename": 123}]}),
        json!({"input_suffix": "b"}),
        json!({"input_prefix": "a", "input_suffix": "b", "prompt": 7}),
    ] {
        let r = s.post("/infill", &bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.json()["error"]["message"].is_string());
    }

    let props = s.get("/props").expect("props").json();
    assert_eq!(props["total_slots"], 1, "{props}");
    assert_eq!(props["default_generation_settings"]["n_ctx"], 8192);
    assert_eq!(
        props["default_generation_settings"]["params"]["seed"],
        4294967295u64
    );
    assert!(props["model_path"]
        .as_str()
        .is_some_and(|p| p.ends_with(QWEN)));
    assert_eq!(props["model_ftype"], "Q4_K - Medium");
    // Values of llama.cpp's /props for this model.
    assert_eq!(props["bos_token"], "<|endoftext|>");
    assert_eq!(props["eos_token"], "<|im_end|>");
    assert_eq!(
        props["modalities"],
        json!({"vision": false, "video": false, "audio": false})
    );
    let template = props["chat_template"].as_str().expect("chat_template");
    assert!(template.starts_with("{%- if tools %}"), "{template}");
    assert!(props["build_info"].is_string());
    let post = s.post("/props", &json!({}));
    assert_eq!(post.status, 501, "POST /props needs --props: {}", post.body);

    let body = json!({"messages": [{"role": "system", "content": "You are a test."},
                                   {"role": "user", "content": "Hi there"}]});
    let applied = s.post("/apply-template", &body);
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert_eq!(
        applied.json()["prompt"],
        "<|im_start|>system\nYou are a test.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    );
    let mut without = body.clone();
    without["add_generation_prompt"] = json!(false);
    let applied = s.post("/apply-template", &without).json();
    assert!(
        applied["prompt"]
            .as_str()
            .is_some_and(|p| p.ends_with("Hi there<|im_end|>\n")),
        "{applied}"
    );
}

#[test]
fn props_post_with_flag_and_infill_refused_without_fim_tokens() {
    let Some(s) = Server::start(&["-c", "1024", "-np", "2", "--props", "--seed", "42"]) else {
        return;
    };
    let post = s.post("/props", &json!({}));
    assert_eq!(post.status, 200, "{}", post.body);
    assert_eq!(post.json(), json!({"success": true}));
    let props = s.get("/props").expect("props").json();
    // llama.cpp's test_server_props: n_ctx / n_slots, and the server's seed.
    assert_eq!(props["total_slots"], 2);
    assert_eq!(props["default_generation_settings"]["n_ctx"], 512);
    assert_eq!(props["default_generation_settings"]["params"]["seed"], 42);
    assert_eq!(props["endpoint_props"], true);
    // SmolLM2 has no FIM tokens: llama.cpp's 501 naming them.
    let r = s.post("/infill", &infill_body());
    assert_eq!(r.status, 501, "{}", r.body);
    let msg = r.json()["error"]["message"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        msg.starts_with("Infill is not supported by this model: prefix token is missing."),
        "{msg}"
    );
}
