//! Embedding endpoints: `POST /v1/embeddings` (OpenAI's shape; a body with `content` instead of
//! `input` gets llama.cpp's) and `POST /embedding` / `/embeddings` (llama.cpp's shape,
//! per-token vectors with `--pooling none`). Only encoder-only models serve them.

use super::extract::ApiJson;
use super::trace::HttpTrace;
use super::{AppState, Ready};
use crate::api::embed::{embedding_inputs, EmbeddingsRequest};
use crate::api::response::{llamacpp, openai};
use crate::error::{Result, ServerError};
use crate::scheduler::embed::EmbedJob;
use crate::scheduler::request::RequestTrace;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use llama_core::embed::Embedding;
use llama_core::Pooling;
use llama_otel::semconv;
use tokio::sync::oneshot;

/// Which response shape a request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Llama,
}

/// `POST /v1/embeddings`.
pub async fn openai(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<Response> {
    embeddings(&state, &http, req, Shape::OpenAi).await
}

/// `POST /embedding`, `POST /embeddings`.
pub async fn llama(
    State(state): State<AppState>,
    Extension(http): Extension<HttpTrace>,
    ApiJson(req): ApiJson<EmbeddingsRequest>,
) -> Result<Response> {
    embeddings(&state, &http, req, Shape::Llama).await
}

/// The pooling of an embedding model; generative models are refused with 400.
fn pooling(state: &AppState, ready: &Ready) -> Result<Pooling> {
    ready.pooling.ok_or_else(|| {
        ServerError::BadRequest(if state.config().embeddings {
            "this server embeds with encoder-only models only (e.g. nomic-bert); the loaded model is generative".into()
        } else {
            "This server does not support embeddings. Start it with `--embeddings` and an embedding model".into()
        })
    })
}

async fn embeddings(
    state: &AppState,
    http: &HttpTrace,
    req: EmbeddingsRequest,
    shape: Shape,
) -> Result<Response> {
    let ready = state.ready()?;
    let pooling = pooling(state, ready)?;
    let (prompt, from_content) = req.prompt()?;
    // llama.cpp: `content` is not OpenAI-compatible, so it is answered in llama.cpp's shape.
    let shape = if from_content { Shape::Llama } else { shape };
    if shape == Shape::OpenAi && pooling == Pooling::None {
        return Err(ServerError::BadRequest(
            "Pooling type 'none' is not OAI compatible. Please use a different pooling type".into(),
        ));
    }
    let format = req.encoding_format()?;
    let model_name = ready.names.resolve(req.model.as_deref());
    let inputs = embedding_inputs(prompt, ready.model.vocab(), ready.model.hparams().n_vocab)?;
    let max = ready.sched.limits.n_ctx_slot;
    if let Some(long) = inputs.iter().find(|i| i.len() > max) {
        // An input is encoded in one batch: past -b, llama.cpp's own words for it.
        let n_batch = state.config().n_batch;
        if long.len() > n_batch {
            return Err(ServerError::BadRequest(format!(
                "input ({} tokens) is too large to process. increase the physical batch size (current batch size: {n_batch})",
                long.len()
            )));
        }
        return Err(ServerError::ContextExceeded {
            n_prompt: long.len(),
            n_ctx_slot: max,
        });
    }
    let n_tokens: usize = inputs.iter().map(Vec::len).sum();
    let vectors = run(ready, http, &model_name, inputs, req.embd_normalize).await?;
    Ok(match shape {
        Shape::OpenAi => {
            let pooled = vectors.into_iter().flatten().collect();
            Json(openai::Embeddings::new(
                model_name, pooled, n_tokens, format,
            ))
            .into_response()
        }
        Shape::Llama => {
            let items: Vec<llamacpp::Embedding> = vectors
                .into_iter()
                .enumerate()
                .map(|(index, embedding)| llamacpp::Embedding { index, embedding })
                .collect();
            Json(items).into_response()
        }
    })
}

/// Queues the job on the scheduler thread and waits for its vectors.
async fn run(
    ready: &Ready,
    http: &HttpTrace,
    model_name: &str,
    inputs: Vec<Vec<u32>>,
    normalize: Option<i32>,
) -> Result<Vec<Embedding>> {
    let permit = ready.sched.admit()?;
    let n_tokens = inputs.iter().map(Vec::len).sum();
    let info = http.request(
        semconv::OPERATION_EMBEDDINGS,
        model_name.to_owned(),
        n_tokens,
    );
    let trace = RequestTrace::new(info, permit).embedding(inputs.len());
    let (tx, rx) = oneshot::channel();
    let job = EmbedJob {
        id: ready.sched.next_id(),
        inputs,
        normalize,
        reply: tx,
        trace,
    };
    ready.sched.embed(job);
    rx.await.map_err(|_| ServerError::ShuttingDown)?
}
