//! Serialization of OpenAI's response shapes. Every expected string was taken from the server's
//! responses before these types existed (its `json!` literals; SmolLM2, fixed `id`/`created`).

use super::*;
use crate::api::response::logprobs::TokenPieces;
use crate::scheduler::job::{FinishReason, Summary, Timings as Durations, TokenInfo};
use std::time::Duration;

const HEAD: &str = r#""id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":"b-llama-rs-0.1.0""#;
const TIMINGS: &str = r#"{"cache_n":4,"prompt_n":1,"prompt_ms":12.5,"prompt_per_token_ms":12.5,"prompt_per_second":80.0,"predicted_n":3,"predicted_ms":40.0,"predicted_per_token_ms":13.333333333333334,"predicted_per_second":75.0}"#;
const USAGE: &str = r#"{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"prompt_tokens_details":{"cached_tokens":4}}"#;

fn usage() -> job::Usage {
    job::Usage {
        prompt_tokens: 5,
        completion_tokens: 3,
        cached_tokens: 4,
    }
}

fn summary() -> Summary {
    Summary {
        finish: FinishReason::Length,
        stop_word: None,
        usage: usage(),
        timings: Durations {
            prompt: Duration::from_micros(12_500),
            predicted: Duration::from_millis(40),
            ..Durations::default()
        },
        slot: 0,
        truncated: false,
        message: None,
    }
}

fn object<C>(object: &'static str, choices: Vec<C>) -> Completion<C> {
    Completion {
        id: "chatcmpl-1".into(),
        object,
        created: 7,
        model: "m".into(),
        system_fingerprint: FINGERPRINT,
        choices,
        usage: None,
        timings: None,
        verbose: None,
        prompt_progress: None,
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

fn pieces() -> impl TokenPieces {
    |id: u32| {
        if id == 73 {
            b"I".to_vec()
        } else {
            b"Hello".to_vec()
        }
    }
}

fn hello() -> Vec<TokenInfo> {
    vec![TokenInfo {
        id: 73,
        logprob: Some(-2.322_329_5),
        top: vec![(73, -2.322_329_5), (19556, -2.351_8)],
        post_sampling: false,
    }]
}

#[test]
fn fingerprint_names_this_server() {
    assert_eq!(
        FINGERPRINT,
        concat!("b-llama-rs-", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_has_cached_tokens_details() {
    assert_eq!(json(&Usage::from(&usage())), USAGE);
}

#[test]
fn chat_stream_chunks() {
    let start = object("chat.completion.chunk", vec![ChatDelta::role()]);
    assert_eq!(
        json(&start),
        format!(
            r#"{{{HEAD},"choices":[{{"index":0,"delta":{{"role":"assistant","content":null}},"logprobs":null,"finish_reason":null}}]}}"#
        )
    );
    let text = object(
        "chat.completion.chunk",
        vec![ChatDelta::content("I".into(), None)],
    );
    assert_eq!(
        json(&text),
        format!(
            r#"{{{HEAD},"choices":[{{"index":0,"delta":{{"content":"I"}},"logprobs":null,"finish_reason":null}}]}}"#
        )
    );
    let lp = ChatLogprobs::new(&pieces(), &hello());
    let text = object(
        "chat.completion.chunk",
        vec![ChatDelta::content("I".into(), Some(lp))],
    );
    assert_eq!(
        json(&text),
        format!(
            r#"{{{HEAD},"choices":[{{"index":0,"delta":{{"content":"I"}},"logprobs":{{"content":[{{"token":"I","logprob":-2.322329521179199,"bytes":[73],"top_logprobs":[{{"token":"I","logprob":-2.322329521179199,"bytes":[73]}},{{"token":"Hello","logprob":-2.351799964904785,"bytes":[72,101,108,108,111]}}]}}]}},"finish_reason":null}}]}}"#
        )
    );
    let mut last = object("chat.completion.chunk", vec![ChatDelta::finish("length")]);
    last.timings = Some(Timings::new(&summary()));
    assert_eq!(
        json(&last),
        format!(
            r#"{{{HEAD},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"length"}}],"timings":{TIMINGS}}}"#
        )
    );
    let mut usage_chunk = object::<ChatDelta>("chat.completion.chunk", vec![]);
    usage_chunk.usage = Some(Usage::from(&usage()));
    assert_eq!(
        json(&usage_chunk),
        format!(r#"{{{HEAD},"choices":[],"usage":{USAGE}}}"#)
    );
    // With `include_usage`, the usage chunk is the last and carries `timings` (llama.cpp).
    usage_chunk.timings = Some(Timings::new(&summary()));
    assert_eq!(
        json(&usage_chunk),
        format!(r#"{{{HEAD},"choices":[],"usage":{USAGE},"timings":{TIMINGS}}}"#)
    );
}

#[test]
fn chat_completion_with_usage_and_timings() {
    let choice = ChatChoice {
        index: 0,
        message: ChatMessage::text("I'm glad".into()),
        logprobs: None,
        finish_reason: FinishReason::Length.openai(),
    };
    let mut full = object("chat.completion", vec![choice]);
    full.usage = Some(Usage::from(&usage()));
    full.timings = Some(Timings::new(&summary()));
    let head = HEAD.replace("chat.completion.chunk", "chat.completion");
    assert_eq!(
        json(&full),
        format!(
            r#"{{{head},"choices":[{{"index":0,"message":{{"role":"assistant","content":"I'm glad"}},"logprobs":null,"finish_reason":"length"}}],"usage":{USAGE},"timings":{TIMINGS}}}"#
        )
    );
}

#[test]
fn text_completion_choices() {
    let head = HEAD
        .replace("chat.completion.chunk", "text_completion")
        .replace("chatcmpl-1", "cmpl-1");
    let lp = LegacyLogprobs::new(&pieces(), &hello(), 6);
    let mut chunk = object(
        "text_completion",
        vec![TextChoice {
            text: "I".into(),
            index: 0,
            logprobs: Some(lp),
            finish_reason: None,
        }],
    );
    chunk.id = "cmpl-1".into();
    assert_eq!(
        json(&chunk),
        format!(
            r#"{{{head},"choices":[{{"text":"I","index":0,"logprobs":{{"tokens":["I"],"token_logprobs":[-2.322329521179199],"top_logprobs":[{{"I":-2.322329521179199,"Hello":-2.351799964904785}}],"text_offset":[6]}},"finish_reason":null}}]}}"#
        )
    );
    let mut full = object(
        "text_completion",
        vec![TextChoice {
            text: " Paris.\n\n".into(),
            index: 0,
            logprobs: None,
            finish_reason: Some("length"),
        }],
    );
    full.id = "cmpl-1".into();
    full.usage = Some(Usage::from(&usage()));
    full.timings = Some(Timings::new(&summary()));
    assert_eq!(
        json(&full),
        format!(
            r#"{{{head},"choices":[{{"text":" Paris.\n\n","index":0,"logprobs":null,"finish_reason":"length"}}],"usage":{USAGE},"timings":{TIMINGS}}}"#
        )
    );
}

#[test]
fn model_list_with_llama_cpp_meta() {
    let meta = ModelMeta {
        n_vocab: 49152,
        n_ctx_train: 8192,
        n_embd: 576,
        n_params: 134515008,
        size: 98362432,
        n_ctx: 1024,
        n_ctx_slot: 512,
    };
    assert_eq!(
        json(&ModelList::single(
            "smol".into(),
            vec!["smol".into(), "tiny".into()],
            7,
            meta
        )),
        r#"{"object":"list","data":[{"id":"smol","aliases":["smol","tiny"],"object":"model","created":7,"owned_by":"llamacpp","meta":{"n_vocab":49152,"n_ctx_train":8192,"n_embd":576,"n_params":134515008,"size":98362432,"n_ctx":1024,"n_ctx_slot":512}}]}"#
    );
}

#[test]
fn base64_matches_the_standard_alphabet_and_padding() {
    // 1.0f32 = 00 00 80 3f
    assert_eq!(base64_f32(&[1.0]), "AACAPw==");
    assert_eq!(base64_f32(&[]), "");
    assert_eq!(base64_f32(&[1.0, -2.0, 0.5]).len(), 16);
}

#[test]
fn embeddings_float_and_base64() {
    let r = Embeddings::new("m".into(), vec![vec![0.5]], 3, EncodingFormat::Float);
    assert_eq!(
        json(&r),
        r#"{"model":"m","object":"list","usage":{"prompt_tokens":3,"total_tokens":3},"data":[{"embedding":[0.5],"index":0,"object":"embedding"}]}"#
    );
    let r = Embeddings::new("m".into(), vec![vec![1.0]], 2, EncodingFormat::Base64);
    assert_eq!(
        json(&r),
        r#"{"model":"m","object":"list","usage":{"prompt_tokens":2,"total_tokens":2},"data":[{"embedding":"AACAPw==","index":0,"object":"embedding","encoding_format":"base64"}]}"#
    );
}
