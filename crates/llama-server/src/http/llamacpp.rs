//! llama.cpp's own endpoints, in its shapes: `/completion`, `/tokenize`, `/detokenize`,
//! `/health`, `/slots`, `/metrics`.

use super::extract::ApiJson;
use super::generate::{self, llama_probs, timings_json, Collected, Format, Prepared};
use super::trace::HttpTrace;
use super::AppState;
use crate::api::request::{CompletionRequest, DetokenizeRequest, TokenizeRequest};
use crate::api::{params, prompt};
use crate::error::{Result, ServerError};
use crate::scheduler::job::{Chunk, GenParams, Summary};
use crate::scheduler::SlotInfo;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use llama_core::Model;
use serde_json::{json, Value};
use std::sync::Arc;

/// llama.cpp's `generation_settings` / slot `params`.
fn settings_json(p: &GenParams, model: &str, n_ctx_slot: usize) -> Value {
    let s = &p.sampling;
    json!({
        "n_ctx": n_ctx_slot,
        "n_predict": p.max_tokens.map_or(-1, |n| n as i64),
        "model": model,
        "seed": s.seed.unwrap_or(0xFFFF_FFFF),
        "temperature": s.temperature,
        "top_k": s.top_k,
        "top_p": s.top_p,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
        "repeat_last_n": s.penalty_last_n,
        "presence_penalty": s.presence_penalty,
        "frequency_penalty": s.frequency_penalty,
        "stop": p.stop,
        "ignore_eos": p.ignore_eos,
        "n_probs": p.top_logprobs,
        "cache_prompt": p.cache_prompt,
    })
}

/// `/completion` objects.
struct LlamaFormat {
    model_name: String,
    model: Arc<Model>,
    settings: Value,
    probs: bool,
    /// Put the generated ids in the non-streamed response (streamed chunks always carry theirs).
    return_tokens: bool,
    n_predicted: usize,
}

impl LlamaFormat {
    /// The final object; `tokens` are the ids it reports (none when streamed, as llama.cpp).
    fn last(&self, content: &str, tokens: &[u32], s: &Summary) -> Value {
        json!({
            "index": 0, "content": content, "tokens": tokens, "id_slot": s.slot, "stop": true,
            "model": self.model_name, "tokens_predicted": s.usage.completion_tokens,
            "tokens_evaluated": s.usage.prompt_tokens, "generation_settings": self.settings,
            "prompt": "", "has_new_line": content.contains('\n'), "truncated": false,
            "stop_type": s.finish.llama(), "stopping_word": s.stop_word.clone().unwrap_or_default(),
            "tokens_cached": s.usage.prompt_tokens + s.usage.completion_tokens, "timings": timings_json(s),
        })
    }
}

impl Format for LlamaFormat {
    fn chunk(&mut self, c: &Chunk) -> Option<Value> {
        self.n_predicted += c.tokens.len();
        // As llama.cpp, every generated token is streamed with its id (the end-of-generation
        // token and held-back stop-string prefixes with empty content).
        if c.text.is_empty() && c.tokens.is_empty() {
            return None;
        }
        let ids: Vec<u32> = c.tokens.iter().map(|t| t.id).collect();
        let mut v = json!({"index": 0, "content": c.text, "tokens": ids, "stop": false, "id_slot": -1,
            "tokens_predicted": self.n_predicted, "tokens_evaluated": 0});
        if self.probs {
            v["completion_probabilities"] = llama_probs(&self.model, &c.tokens);
        }
        Some(v)
    }

    fn finish(&mut self, s: &Summary) -> Vec<Value> {
        vec![self.last("", &[], s)]
    }

    fn done_marker(&self) -> bool {
        false
    }

    fn full(&self, c: &Collected) -> Value {
        let ids: Vec<u32> = match self.return_tokens {
            true => c.tokens.iter().map(|t| t.id).collect(),
            false => Vec::new(),
        };
        let mut v = self.last(&c.text, &ids, &c.summary);
        if self.probs {
            v["completion_probabilities"] = llama_probs(&self.model, &c.tokens);
        }
        v
    }
}

/// `POST /completion`.
pub async fn completion(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let model_name = ready.names.resolve(req.fields.model.as_deref());
    let tokens = prompt::prompt_tokens(
        &req.prompt,
        ready.model.vocab(),
        ready.model.hparams().n_vocab,
    )?;
    let params = params::gen_params(
        &req.fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
    )?;
    let format = LlamaFormat {
        settings: settings_json(&params, &model_name, ready.sched.limits.n_ctx_slot),
        model_name: model_name.clone(),
        model: ready.model.clone(),
        probs: params.top_logprobs > 0 || params.logprobs,
        return_tokens: req.return_tokens.unwrap_or(false),
        n_predicted: 0,
    };
    let prepared = Prepared::text_completion(
        &req.prompt.to_string(),
        tokens,
        params,
        model_name,
        req.fields.stream(),
        None,
    );
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, format, req.fields.stream()).await)
}

/// `POST /tokenize`.
pub async fn tokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenizeRequest>,
) -> Result<Json<Value>> {
    let ready = state.ready()?;
    let tokens = ready
        .model
        .vocab()
        .tokenize(&req.content, req.add_special, req.parse_special);
    if !req.with_pieces {
        return Ok(Json(json!({ "tokens": tokens })));
    }
    let pieces: Vec<Value> = tokens
        .iter()
        .map(|&id| {
            let bytes = ready.model.vocab().token_to_piece(id, true);
            match std::str::from_utf8(bytes) {
                Ok(text) => json!({"id": id, "piece": text}),
                Err(_) => json!({"id": id, "piece": bytes}),
            }
        })
        .collect();
    Ok(Json(json!({ "tokens": pieces })))
}

/// `POST /detokenize`.
pub async fn detokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DetokenizeRequest>,
) -> Result<Json<Value>> {
    let ready = state.ready()?;
    let ids = prompt::detokenize_ids(&req.tokens, ready.model.hparams().n_vocab)?;
    let bytes = ready.model.vocab().detokenize_bytes(&ids, false, true);
    Ok(Json(json!({ "content": String::from_utf8_lossy(&bytes) })))
}

/// `GET /health`: 503 while loading, then `{"status": "ok"}`.
pub async fn health(State(state): State<AppState>) -> Result<Json<Value>> {
    state.ready()?;
    Ok(Json(json!({ "status": "ok" })))
}

fn slot_json(s: &SlotInfo, model: &str) -> Value {
    let n_remain = match s.params.as_ref().and_then(|p| p.max_tokens) {
        Some(max) => max.saturating_sub(s.n_decoded) as i64,
        None => -1,
    };
    let params = s
        .params
        .as_ref()
        .map_or(Value::Null, |p| settings_json(p, model, s.n_ctx));
    json!({
        "id": s.id,
        "id_task": s.id_task.map_or(-1, |t| t as i64),
        "n_ctx": s.n_ctx,
        "speculative": false,
        "is_processing": s.id_task.is_some(),
        "n_prompt_tokens": s.n_prompt_tokens,
        "n_cached_tokens": s.n_cached,
        "params": params,
        "next_token": {
            "has_next_token": s.id_task.is_some(),
            "has_new_line": false,
            "n_remain": n_remain,
            "n_decoded": s.n_decoded,
            "stopping_word": "",
        },
    })
}

/// `GET /slots` (501, as llama.cpp answers it, under `--no-slots`).
pub async fn slots(State(state): State<AppState>) -> Result<Json<Value>> {
    if !state.config().slots_endpoint {
        return Err(ServerError::NotSupported(
            "This server does not support slots endpoint. Start it with `--slots`".into(),
        ));
    }
    let ready = state.ready()?;
    let slots = ready.sched.slots().await?;
    Ok(Json(
        slots
            .iter()
            .map(|s| slot_json(s, &ready.names.id))
            .collect(),
    ))
}

/// `GET /metrics`: `llamacpp:*`, rejections, then OpenTelemetry's Prometheus text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response> {
    let ready = state.ready().map_err(|_| ServerError::Loading)?;
    let snapshot = ready.sched.metrics().await?;
    let mut text = snapshot.render();
    text.push_str(&crate::metrics::render_rejections());
    text.push_str(&llama_otel::prometheus_text());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
