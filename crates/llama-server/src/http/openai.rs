//! OpenAI endpoints: `/v1/chat/completions`, `/v1/completions` (streamed or not) and
//! `/v1/models`, in OpenAI's response shapes plus llama.cpp's `timings`.

use super::extract::ApiJson;
use super::generate::{
    self, chat_logprobs, legacy_logprobs, timings_json, usage_json, Collected, Format, Prepared,
};
use super::trace::HttpTrace;
use super::{unix_now, AppState};
use crate::api::request::{ChatRequest, CompletionRequest, GenerationFields};
use crate::api::{params, prompt};
use crate::error::Result;
use crate::scheduler::job::{Chunk, Summary};
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use llama_core::Model;
use llama_otel::semconv;
use serde_json::{json, Value};
use std::sync::Arc;

const FINGERPRINT: &str = concat!("b-llama-rs-", env!("CARGO_PKG_VERSION"));

/// What every chunk of one response repeats.
struct Meta {
    id: String,
    created: u64,
    model_name: String,
    model: Arc<Model>,
    include_usage: bool,
    logprobs: bool,
}

impl Meta {
    fn new(
        prefix: &str,
        model_name: String,
        model: Arc<Model>,
        fields: &GenerationFields,
        logprobs: bool,
    ) -> Self {
        Meta {
            id: generate::response_id(prefix),
            created: unix_now(),
            model_name,
            model,
            include_usage: fields.include_usage(),
            logprobs,
        }
    }

    fn object(&self, object: &str, choices: Value) -> Value {
        json!({"id": self.id, "object": object, "created": self.created, "model": self.model_name,
            "system_fingerprint": FINGERPRINT, "choices": choices})
    }

    fn usage_chunk(&self, object: &str, s: &Summary) -> Option<Value> {
        self.include_usage.then(|| {
            let mut v = self.object(object, json!([]));
            v["usage"] = usage_json(&s.usage);
            v
        })
    }
}

/// `chat.completion` / `chat.completion.chunk`.
struct ChatFormat(Meta);

impl Format for ChatFormat {
    fn start(&mut self) -> Vec<Value> {
        let choice = json!([{"index": 0, "delta": {"role": "assistant", "content": null}, "logprobs": null, "finish_reason": null}]);
        vec![self.0.object("chat.completion.chunk", choice)]
    }

    fn chunk(&mut self, c: &Chunk) -> Option<Value> {
        if c.is_silent(self.0.logprobs) {
            return None;
        }
        let lp = if self.0.logprobs {
            chat_logprobs(&self.0.model, &c.tokens)
        } else {
            Value::Null
        };
        let choice = json!([{"index": 0, "delta": {"content": c.text}, "logprobs": lp, "finish_reason": null}]);
        Some(self.0.object("chat.completion.chunk", choice))
    }

    fn finish(&mut self, s: &Summary) -> Vec<Value> {
        let choice = json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": s.finish.openai()}]);
        let mut last = self.0.object("chat.completion.chunk", choice);
        last["timings"] = timings_json(s);
        std::iter::once(last)
            .chain(self.0.usage_chunk("chat.completion.chunk", s))
            .collect()
    }

    fn done_marker(&self) -> bool {
        true
    }

    fn full(&self, c: &Collected) -> Value {
        let lp = if self.0.logprobs {
            chat_logprobs(&self.0.model, &c.tokens)
        } else {
            Value::Null
        };
        let message = json!({"role": "assistant", "content": c.text});
        let choice = json!([{"index": 0, "message": message, "logprobs": lp, "finish_reason": c.summary.finish.openai()}]);
        let mut v = self.0.object("chat.completion", choice);
        v["usage"] = usage_json(&c.summary.usage);
        v["timings"] = timings_json(&c.summary);
        v
    }
}

/// `text_completion`, streamed or not.
struct TextFormat {
    meta: Meta,
    /// Bytes of text sent so far (for `text_offset`).
    offset: usize,
}

impl Format for TextFormat {
    fn chunk(&mut self, c: &Chunk) -> Option<Value> {
        if c.is_silent(self.meta.logprobs) {
            return None;
        }
        let lp = if self.meta.logprobs {
            legacy_logprobs(&self.meta.model, &c.tokens, self.offset)
        } else {
            Value::Null
        };
        self.offset += c.text.len();
        let choice = json!([{"text": c.text, "index": 0, "logprobs": lp, "finish_reason": null}]);
        Some(self.meta.object("text_completion", choice))
    }

    fn finish(&mut self, s: &Summary) -> Vec<Value> {
        let choice =
            json!([{"text": "", "index": 0, "logprobs": null, "finish_reason": s.finish.openai()}]);
        let mut last = self.meta.object("text_completion", choice);
        last["timings"] = timings_json(s);
        std::iter::once(last)
            .chain(self.meta.usage_chunk("text_completion", s))
            .collect()
    }

    fn done_marker(&self) -> bool {
        true
    }

    fn full(&self, c: &Collected) -> Value {
        let lp = if self.meta.logprobs {
            legacy_logprobs(&self.meta.model, &c.tokens, 0)
        } else {
            Value::Null
        };
        let choice = json!([{"text": c.text, "index": 0, "logprobs": lp, "finish_reason": c.summary.finish.openai()}]);
        let mut v = self.meta.object("text_completion", choice);
        v["usage"] = usage_json(&c.summary.usage);
        v["timings"] = timings_json(&c.summary);
        v
    }
}

/// `POST /v1/chat/completions`.
pub async fn chat(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let model_name = ready.names.resolve(req.fields.model.as_deref());
    let messages = prompt::chat_messages(&req.messages)?;
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    let text = prompt::render_chat(template, &messages, &ready.chat_kwargs)?;
    let params = params::gen_params(
        &req.fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
    )?;
    let input: Vec<Value> = messages
        .iter()
        .map(|m| generate::input_text(&m.role, &m.content))
        .collect();
    let meta = Meta::new(
        "chatcmpl",
        model_name.clone(),
        ready.model.clone(),
        &req.fields,
        params.logprobs,
    );
    let prepared = Prepared {
        prompt: ready.model.vocab().tokenize(&text, true, true),
        params,
        operation: semconv::OPERATION_CHAT,
        model: model_name,
        input_messages: Some(Value::Array(input)),
        stream: req.fields.stream(),
        response_id: Some(meta.id.clone()),
    };
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, ChatFormat(meta), req.fields.stream()).await)
}

/// `POST /v1/completions`.
pub async fn completions(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let model_name = ready.names.resolve(req.fields.model.as_deref());
    let n_vocab = ready.model.hparams().n_vocab;
    let tokens = prompt::prompt_tokens(&req.prompt, ready.model.vocab(), n_vocab)?;
    let params = params::gen_params(
        &req.fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
    )?;
    let meta = Meta::new(
        "cmpl",
        model_name.clone(),
        ready.model.clone(),
        &req.fields,
        params.logprobs,
    );
    let prepared = Prepared::text_completion(
        &req.prompt.to_string(),
        tokens,
        params,
        model_name,
        req.fields.stream(),
        Some(meta.id.clone()),
    );
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, TextFormat { meta, offset: 0 }, req.fields.stream()).await)
}

/// `GET /v1/models`.
pub async fn models(State(state): State<AppState>) -> Result<Json<Value>> {
    let ready = state.ready()?;
    let info = ready.model.info();
    let meta = json!({
        "n_vocab": ready.model.hparams().n_vocab,
        "n_ctx_train": ready.model.hparams().n_ctx_train,
        "n_embd": ready.model.hparams().n_embd,
        "n_params": info.n_params,
        "size": info.file_size,
        "n_ctx": ready.sched.limits.n_ctx,
        "n_ctx_slot": ready.sched.limits.n_ctx_slot,
    });
    let model = json!({"id": ready.names.id, "object": "model", "created": ready.created, "owned_by": "llamacpp", "meta": meta});
    Ok(Json(json!({"object": "list", "data": [model]})))
}
