//! llama.cpp's own endpoints, in its shapes: `/completion`, `/infill`, `/tokenize`,
//! `/detokenize`, `/health`, `/slots`, `/metrics`.

use super::choices;
use super::extract::ApiJson;
use super::generate::{self, Collected, Format, Prepared};
use super::trace::HttpTrace;
use super::{AppState, Ready};
use crate::api::infill::{self, FimTokens, InfillLimits, InfillRequest};
use crate::api::request::{
    CompletionRequest, DetokenizeRequest, GenerationFields, TokenizeRequest,
};
use crate::api::response::llamacpp::{
    Completion, CompletionChunk, CompletionEvent, Detokenize, GenerationSettings, Health, Slot,
    TokenPiece, Tokenize,
};
use crate::api::response::logprobs::{completion_probabilities, TokenProbability};
use crate::api::{params, prompt, prompts};
use crate::error::{Result, ServerError};
use crate::scheduler::job::{Chunk, GenParams, Progress, Summary, TokenInfo};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use llama_core::Model;
use std::sync::Arc;

/// `/completion` objects.
struct LlamaFormat {
    model_name: String,
    model: Arc<Model>,
    settings: GenerationSettings,
    probs: bool,
    /// Put the generated ids in the non-streamed response (streamed chunks always carry theirs).
    return_tokens: bool,
    n_predicted: usize,
    /// The prompt's place in a request with several (its `index`).
    index: usize,
}

impl LlamaFormat {
    /// The final object; `tokens` are the ids it reports (none when streamed, as llama.cpp).
    fn last(&self, content: String, tokens: Vec<u32>, s: &Summary) -> Completion {
        let settings = self.settings.clone();
        Completion::new(content, tokens, self.model_name.clone(), settings, s)
    }

    fn probabilities(&self, tokens: &[TokenInfo]) -> Option<Vec<TokenProbability>> {
        self.probs
            .then(|| completion_probabilities(self.model.as_ref(), tokens))
    }
}

impl Format for LlamaFormat {
    type Chunk = CompletionEvent;
    type Full = Completion;

    fn chunk(&mut self, c: &Chunk) -> Option<CompletionEvent> {
        self.n_predicted += c.tokens.len();
        // As llama.cpp, every generated token is streamed with its id (the end-of-generation
        // token and held-back stop-string prefixes with empty content).
        if c.text.is_empty() && c.tokens.is_empty() {
            return None;
        }
        let ids = c.tokens.iter().map(|t| t.id).collect();
        let probs = self.probabilities(&c.tokens);
        let mut chunk = CompletionChunk::new(c.text.clone(), ids, self.n_predicted, probs);
        chunk.index = self.index;
        Some(CompletionEvent::Chunk(chunk))
    }

    fn progress(&mut self, p: &Progress) -> Vec<CompletionEvent> {
        let mut chunk = CompletionChunk::new(String::new(), Vec::new(), self.n_predicted, None);
        chunk.index = self.index;
        chunk.tokens_evaluated = p.total;
        chunk.prompt_progress = Some(*p);
        vec![CompletionEvent::Chunk(chunk)]
    }

    fn finish(&mut self, s: &Summary) -> Vec<CompletionEvent> {
        let last = Completion {
            index: self.index,
            ..self.last(String::new(), Vec::new(), s)
        };
        vec![CompletionEvent::Last(Box::new(last))]
    }

    fn done_marker(&self) -> bool {
        false
    }

    fn full(&self, c: &Collected) -> Completion {
        let ids: Vec<u32> = match self.return_tokens {
            true => c.tokens.iter().map(|t| t.id).collect(),
            false => Vec::new(),
        };
        Completion {
            completion_probabilities: self.probabilities(&c.tokens),
            ..self.last(c.text.clone(), ids, &c.summary)
        }
    }
}

/// `POST /completion` (and `/completions`). Several prompts in one request (llama.cpp's array
/// of prompts) run side by side and are answered as an array, in order.
pub async fn completion(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let n_vocab = ready.model.hparams().n_vocab;
    let mut prompts = prompts::input_prompts(&req.prompt, ready.model.vocab(), n_vocab)?;
    let fields = CompletionFields {
        fields: &req.fields,
        prompt_text: req.prompt.to_string(),
        return_tokens: req.return_tokens.unwrap_or(false),
    };
    if prompts.len() == 1 {
        let tokens = prompts.pop().unwrap_or_default();
        return run_completion(&state, &http, tokens, fields).await;
    }
    run_completions(&state, &http, prompts, fields).await
}

/// What `/completion` and `/infill` hand [`run_completion`] besides the prompt tokens.
struct CompletionFields<'a> {
    fields: &'a GenerationFields,
    /// For `gen_ai.input.messages` (content capture only).
    prompt_text: String,
    return_tokens: bool,
}

impl CompletionFields<'_> {
    /// The request's generation settings and its response format.
    fn prepare(&self, state: &AppState, ready: &Ready) -> Result<(GenParams, LlamaFormat)> {
        let model_name = ready.names.resolve(self.fields.model.as_deref());
        let params = params::gen_params(
            self.fields,
            ready.sched.limits.n_predict,
            &state.config().sampling,
            Some(ready.model.vocab()),
        )?;
        let format = LlamaFormat {
            settings: GenerationSettings::new(&params, &model_name, ready.sched.limits.n_ctx_slot),
            model_name,
            model: ready.model.clone(),
            probs: params.top_logprobs > 0 || params.logprobs,
            return_tokens: self.return_tokens,
            n_predicted: 0,
            index: 0,
        };
        Ok((params, format))
    }
}

/// Runs a llama.cpp-shaped completion of `tokens`.
async fn run_completion(
    state: &AppState,
    http: &HttpTrace,
    tokens: Vec<u32>,
    f: CompletionFields<'_>,
) -> Result<Response> {
    let ready = state.ready()?;
    let (params, format) = f.prepare(state, ready)?;
    let stream = f.fields.stream();
    let model_name = format.model_name.clone();
    let prepared =
        Prepared::text_completion(&f.prompt_text, tokens, params, model_name, stream, None);
    let rx = generate::submit(state, ready, prepared, http)?;
    Ok(generate::respond(rx, format, stream).await)
}

/// Several prompts of one request: all queued first (so that free slots decode them together),
/// then answered as an array with each result's `index`, or streamed as llama.cpp streams them:
/// every prompt's chunks and final object, interleaved as they come, each with its `index`.
async fn run_completions(
    state: &AppState,
    http: &HttpTrace,
    prompts: Vec<Vec<u32>>,
    f: CompletionFields<'_>,
) -> Result<Response> {
    let ready = state.ready()?;
    let stream = f.fields.stream();
    let mut queued = Vec::with_capacity(prompts.len());
    for (index, tokens) in prompts.into_iter().enumerate() {
        let (params, mut format) = f.prepare(state, ready)?;
        format.index = index;
        let name = format.model_name.clone();
        let prepared =
            Prepared::text_completion(&f.prompt_text, tokens, params, name, stream, None);
        queued.push((generate::submit(state, ready, prepared, http)?, format));
    }
    if stream {
        let (subs, formats) = queued.into_iter().unzip();
        let merged = choices::merge(subs, state.config().sse_ping);
        return Ok(choices::stream(merged, formats, Box::new(|_| Vec::new())));
    }
    let mut results = Vec::with_capacity(queued.len());
    for (index, (sub, format)) in queued.into_iter().enumerate() {
        let collected = generate::collect(sub.events).await?;
        results.push(Completion {
            index,
            ..format.full(&collected)
        });
    }
    Ok(Json(results).into_response())
}

/// `POST /infill`: fill-in-the-middle with the model's FIM tokens (501 without them, as
/// llama.cpp), answered in `/completion`'s shape.
pub async fn infill(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<InfillRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let vocab = ready.model.vocab();
    let fim = FimTokens::of(vocab)?;
    let (prefix, suffix, extra, prompt_text) = infill::validate(&req)?;
    let n_vocab = ready.model.hparams().n_vocab;
    let limits = InfillLimits {
        n_batch: state.config().n_batch,
        n_predict: ready.sched.limits.n_predict.map_or(-1, |n| n as i64),
        n_ctx: ready.sched.limits.n_ctx_slot,
        spm: false,
    };
    let tokens = infill::format_prompt(
        vocab,
        fim,
        infill::tokenize_mixed(vocab, prefix, n_vocab)?,
        infill::tokenize_mixed(vocab, suffix, n_vocab)?,
        &extra,
        &vocab.tokenize(&prompt_text, false, true),
        limits,
    );
    let fields = CompletionFields {
        fields: &req.fields,
        prompt_text,
        return_tokens: req.return_tokens.unwrap_or(false),
    };
    run_completion(&state, &http, tokens, fields).await
}

/// `POST /tokenize`: ids, or `{"id", "piece"}` objects with `with_pieces`.
pub async fn tokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenizeRequest>,
) -> Result<Response> {
    let ready = state.ready()?;
    let vocab = ready.model.vocab();
    let tokens = vocab.tokenize(&req.content, req.add_special, req.parse_special);
    if !req.with_pieces {
        return Ok(Json(Tokenize { tokens }).into_response());
    }
    let tokens: Vec<TokenPiece> = tokens
        .iter()
        .map(|&id| TokenPiece::new(id, vocab.token_to_piece(id, true)))
        .collect();
    Ok(Json(Tokenize { tokens }).into_response())
}

/// `POST /detokenize`.
pub async fn detokenize(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<DetokenizeRequest>,
) -> Result<Json<Detokenize>> {
    let ready = state.ready()?;
    let ids = prompt::detokenize_ids(&req.tokens, ready.model.hparams().n_vocab)?;
    let bytes = ready.model.vocab().detokenize_bytes(&ids, false, true);
    Ok(Json(Detokenize {
        content: String::from_utf8_lossy(&bytes).into_owned(),
    }))
}

/// `GET /health`: 503 while loading, then `{"status": "ok"}`.
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>> {
    let ready = state.ready()?;
    // A lost RPC server holding layers: every decode would fail, so the server is not healthy.
    ready
        .model
        .check_devices()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    Ok(Json(Health::OK))
}

/// `GET /slots` (501, as llama.cpp answers it, under `--no-slots`).
pub async fn slots(State(state): State<AppState>) -> Result<Json<Vec<Slot>>> {
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
            .map(|s| Slot::new(s, &ready.names.id))
            .collect(),
    ))
}

/// `GET /metrics`: `llamacpp:*`, rejections, then OpenTelemetry's metrics; OpenMetrics text
/// (with exemplars) when `Accept` asks for it, the Prometheus text format otherwise. As
/// llama.cpp, the `Process-Start-Time-Unix` header says when the counters started (the model
/// became ready).
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<Response> {
    let ready = state.ready().map_err(|_| ServerError::Loading)?;
    let snapshot = ready.sched.metrics().await?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = llama_otel::MetricsFormat::negotiate(accept);
    let text = crate::metrics::exposition(&snapshot, format);
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_string()),
        (PROCESS_START_TIME, ready.created.to_string()),
    ];
    Ok((headers, text).into_response())
}

/// llama.cpp's `/metrics` header with the Unix time its counters started.
const PROCESS_START_TIME: header::HeaderName =
    header::HeaderName::from_static("process-start-time-unix");
