//! Serialization of llama.cpp's response shapes. Every expected string was produced by the
//! server's `json!` literals before these types existed (same inputs), or taken from its
//! responses (SmolLM2, `"The capital of France is"`, `n_probs: 2`).

use super::*;
use crate::api::response::logprobs::completion_probabilities;
use crate::scheduler::job::{FinishReason, Timings as Durations, TokenInfo, Usage};
use std::time::Duration;

fn summary() -> Summary {
    Summary {
        finish: FinishReason::Word,
        stop_word: Some(" Paris".into()),
        usage: Usage {
            prompt_tokens: 5,
            completion_tokens: 3,
            cached_tokens: 4,
        },
        timings: Durations {
            prompt: Duration::from_micros(12_500),
            predicted: Duration::from_millis(40),
            ..Durations::default()
        },
        slot: 1,
        truncated: false,
        message: None,
    }
}

fn params() -> GenParams {
    let mut p = GenParams {
        stop: vec![" Paris".into()],
        max_tokens: Some(4),
        top_logprobs: 2,
        ..GenParams::default()
    };
    p.sampling.seed = Some(42);
    p
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

const TIMINGS: &str = r#"{"cache_n":4,"prompt_n":1,"prompt_ms":12.5,"prompt_per_token_ms":12.5,"prompt_per_second":80.0,"predicted_n":3,"predicted_ms":40.0,"predicted_per_token_ms":13.333333333333334,"predicted_per_second":75.0}"#;
const SETTINGS: &str = r#"{"n_ctx":512,"n_predict":4,"model":"m","seed":42,"temperature":0.800000011920929,"top_k":40,"top_p":0.949999988079071,"min_p":0.05000000074505806,"repeat_penalty":1.0,"repeat_last_n":64,"presence_penalty":0.0,"frequency_penalty":0.0,"stop":[" Paris"],"ignore_eos":false,"logit_bias":[],"n_probs":2,"cache_prompt":true}"#;

#[test]
fn timings_per_token_and_per_second() {
    assert_eq!(json(&Timings::new(&summary())), TIMINGS);
}

#[test]
fn timings_of_nothing_are_zero_not_nan() {
    let mut s = summary();
    s.usage = Usage::default();
    s.timings = Durations::default();
    let t = Timings::new(&s);
    assert_eq!(
        (
            t.prompt_per_token_ms,
            t.prompt_per_second,
            t.predicted_per_second
        ),
        (0.0, 0.0, 0.0)
    );
}

#[test]
fn generation_settings_widen_f32_and_default_seed() {
    assert_eq!(
        json(&GenerationSettings::new(&params(), "m", 512)),
        SETTINGS
    );
    let mut unset = GenParams::default();
    unset.sampling.seed = None;
    assert_eq!(
        json(&GenerationSettings::new(&unset, "m", 512)),
        r#"{"n_ctx":512,"n_predict":-1,"model":"m","seed":4294967295,"temperature":0.800000011920929,"top_k":40,"top_p":0.949999988079071,"min_p":0.05000000074505806,"repeat_penalty":1.0,"repeat_last_n":64,"presence_penalty":0.0,"frequency_penalty":0.0,"stop":[],"ignore_eos":false,"logit_bias":[],"n_probs":0,"cache_prompt":true}"#
    );
}

#[test]
fn slots_busy_and_idle() {
    let busy = SlotInfo {
        id: 1,
        id_task: Some(7),
        n_ctx: 512,
        n_cached: 3,
        n_prompt_tokens: 5,
        n_decoded: 1,
        params: Some(params()),
    };
    assert_eq!(
        json(&Slot::new(&busy, "m")),
        r#"{"id":1,"id_task":7,"n_ctx":512,"speculative":false,"is_processing":true,"n_prompt_tokens":5,"n_cached_tokens":3,"params":{"n_ctx":512,"n_predict":4,"model":"m","seed":42,"temperature":0.800000011920929,"top_k":40,"top_p":0.949999988079071,"min_p":0.05000000074505806,"repeat_penalty":1.0,"repeat_last_n":64,"presence_penalty":0.0,"frequency_penalty":0.0,"stop":[" Paris"],"ignore_eos":false,"logit_bias":[],"n_probs":2,"cache_prompt":true},"next_token":{"has_next_token":true,"has_new_line":false,"n_remain":3,"n_decoded":1,"stopping_word":""}}"#
    );
    let idle = SlotInfo {
        id: 0,
        id_task: None,
        n_ctx: 512,
        n_cached: 0,
        n_prompt_tokens: 0,
        n_decoded: 0,
        params: None,
    };
    assert_eq!(
        json(&Slot::new(&idle, "m")),
        r#"{"id":0,"id_task":-1,"n_ctx":512,"speculative":false,"is_processing":false,"n_prompt_tokens":0,"n_cached_tokens":0,"params":null,"next_token":{"has_next_token":false,"has_new_line":false,"n_remain":-1,"n_decoded":0,"stopping_word":""}}"#
    );
}

fn paris_probs() -> Vec<TokenProbability> {
    let pieces = |id: u32| match id {
        7042 => b" Paris".to_vec(),
        _ => b" the".to_vec(),
    };
    let t = TokenInfo {
        id: 7042,
        logprob: Some(-0.248_588_13),
        top: vec![(7042, -0.248_588_13), (260, -2.784_908_8)],
        post_sampling: false,
    };
    completion_probabilities(&pieces, &[t])
}

const PROBS: &str = r#"[{"id":7042,"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115],"top_logprobs":[{"id":7042,"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115]},{"id":260,"token":" the","logprob":-2.7849087715148926,"bytes":[32,116,104,101]}]}]"#;

#[test]
fn stream_chunks_with_and_without_probabilities() {
    let plain = CompletionEvent::Chunk(CompletionChunk::new("-".into(), vec![29], 1, None));
    assert_eq!(
        json(&plain),
        r#"{"index":0,"content":"-","tokens":[29],"stop":false,"id_slot":-1,"tokens_predicted":1,"tokens_evaluated":0}"#
    );
    let probs = CompletionChunk::new(" Paris".into(), vec![7042], 1, Some(paris_probs()));
    assert_eq!(
        json(&probs),
        format!(
            r#"{{"index":0,"content":" Paris","tokens":[7042],"stop":false,"id_slot":-1,"tokens_predicted":1,"tokens_evaluated":0,"completion_probabilities":{PROBS}}}"#
        )
    );
}

#[test]
fn final_object_streamed_and_not() {
    let settings = GenerationSettings::new(&params(), "m", 512);
    let head = r#"{"index":0,"content":"","tokens":[],"id_slot":1,"stop":true,"model":"m","tokens_predicted":3,"tokens_evaluated":5,"generation_settings":"#;
    let tail = format!(
        r#","prompt":"","has_new_line":false,"truncated":false,"stop_type":"word","stopping_word":" Paris","tokens_cached":8,"timings":{TIMINGS}"#
    );
    let last = Completion::new(
        String::new(),
        vec![],
        "m".into(),
        settings.clone(),
        &summary(),
    );
    let streamed = CompletionEvent::Last(Box::new(last));
    assert_eq!(json(&streamed), format!("{head}{SETTINGS}{tail}}}"));

    let mut full = Completion::new(
        " Paris".into(),
        vec![7042],
        "m".into(),
        settings,
        &summary(),
    );
    full.completion_probabilities = Some(paris_probs());
    let v = json(&full);
    let head = head.replace(
        r#""content":"","tokens":[]"#,
        r#""content":" Paris","tokens":[7042]"#,
    );
    assert_eq!(
        v,
        format!("{head}{SETTINGS}{tail},\"completion_probabilities\":{PROBS}}}")
    );
    let eos = Summary {
        finish: FinishReason::Eog,
        stop_word: None,
        ..summary()
    };
    let v = serde_json::to_value(Completion::new(
        "a\nb".into(),
        vec![],
        "m".into(),
        GenerationSettings::new(&params(), "m", 512),
        &eos,
    ))
    .unwrap();
    assert_eq!(
        (&v["stop_type"], &v["stopping_word"], &v["has_new_line"]),
        (&"eos".into(), &"".into(), &true.into())
    );
}

#[test]
fn tokenize_detokenize_health() {
    assert_eq!(
        json(&Tokenize {
            tokens: vec![19556u32, 905]
        }),
        r#"{"tokens":[19556,905]}"#
    );
    let pieces = Tokenize {
        tokens: vec![
            TokenPiece::new(19556, b"Hello"),
            TokenPiece::new(15107, &[32, 240, 159]),
        ],
    };
    assert_eq!(
        json(&pieces),
        r#"{"tokens":[{"id":19556,"piece":"Hello"},{"id":15107,"piece":[32,240,159]}]}"#
    );
    let detok = Detokenize {
        content: "Hello world".into(),
    };
    assert_eq!(json(&detok), r#"{"content":"Hello world"}"#);
    assert_eq!(json(&Health::OK), r#"{"status":"ok"}"#);
}

#[test]
fn embedding_is_a_list_of_vectors() {
    let e = [Embedding {
        index: 0,
        embedding: vec![vec![0.017874716, -0.5]],
    }];
    assert_eq!(
        json(&e),
        r#"[{"index":0,"embedding":[[0.017874716,-0.5]]}]"#
    );
}
