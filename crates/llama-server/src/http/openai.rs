//! OpenAI endpoints: `/v1/chat/completions`, `/v1/completions` (streamed or not) and
//! `/v1/models`, in OpenAI's response shapes plus llama.cpp's `timings`.

use super::chat_prompt::{chat_parse, input_messages, render_chat};
use super::choices;
use super::extract::ApiJson;
use super::generate::{self, Collected, Format, Prepared};
use super::trace::HttpTrace;
use super::verbose::Verbose;
use super::{unix_now, AppState};
use crate::api::request::{ChatRequest, CompletionRequest, GenerationFields};
use crate::api::response::llamacpp::{Completion as NativeCompletion, Timings};
use crate::api::response::logprobs::{ChatLogprobs, LegacyLogprobs};
use crate::api::response::openai::{
    ChatChoice, ChatDelta, ChatMessage, Completion, InputTokens, MessageDelta, ModelList,
    ModelMeta, TextChoice, Usage, FINGERPRINT,
};
use crate::api::{params, prompt};
use crate::error::{Result, ServerError};
use crate::scheduler::chat_output::{call_ids, ChatParse};
use crate::scheduler::job::{Chunk, Progress, Summary, TokenInfo};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use llama_core::chat::toolcall::{ReasoningFormat, StreamParser};

use llama_core::Model;
use llama_otel::semconv;
use serde::Serialize;
use std::sync::Arc;

/// What every chunk of one response repeats.
#[derive(Clone)]
struct Meta {
    id: String,
    created: u64,
    model_name: String,
    model: Arc<Model>,
    include_usage: bool,
    logprobs: bool,
    /// The choice this format writes (`n` > 1).
    index: usize,
    /// With `verbose`: what `__verbose` adds.
    verbose: Option<Verbose>,
}

/// A choice type whose `index` the format sets.
trait Indexed {
    fn set_index(&mut self, index: usize);
}

impl Indexed for ChatDelta {
    fn set_index(&mut self, index: usize) {
        self.index = index;
    }
}

impl Indexed for ChatChoice {
    fn set_index(&mut self, index: usize) {
        self.index = index;
    }
}

impl Indexed for TextChoice {
    fn set_index(&mut self, index: usize) {
        self.index = index;
    }
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
            index: 0,
            verbose: None,
        }
    }

    /// Choice `index`'s copy; its stream leaves the usage chunk to the end of all choices.
    fn for_choice(&self, index: usize) -> Self {
        Meta {
            index,
            include_usage: false,
            ..self.clone()
        }
    }

    /// `__verbose` for a non-streamed answer, when asked for.
    fn verbose(&self, c: &Collected) -> Option<Box<NativeCompletion>> {
        let v = self.verbose.as_ref()?;
        let tokens = c.tokens.iter().map(|t| t.id).collect();
        let name = self.model_name.clone();
        let mut native =
            NativeCompletion::new(c.text.clone(), tokens, name, v.settings.clone(), &c.summary);
        native.prompt = v.prompt.clone();
        Some(Box::new(native))
    }

    fn object<C: Indexed>(&self, object: &'static str, mut choices: Vec<C>) -> Completion<C> {
        for c in &mut choices {
            c.set_index(self.index);
        }
        Completion {
            id: self.id.clone(),
            object,
            created: self.created,
            model: self.model_name.clone(),
            system_fingerprint: FINGERPRINT,
            choices,
            usage: None,
            timings: None,
            verbose: None,
            prompt_progress: None,
        }
    }

    /// The stream's end: the chunk with `finish_reason` and, with `include_usage`, the usage
    /// chunk after it. As llama.cpp (`deltas.back()["timings"]`), `timings` go on the last one.
    fn finish<C: Indexed>(
        &self,
        object: &'static str,
        choice: C,
        s: &Summary,
    ) -> Vec<Completion<C>> {
        let mut chunks = vec![self.object(object, vec![choice])];
        if self.include_usage {
            chunks.push(Completion {
                usage: Some(Usage::from(&s.usage)),
                ..self.object(object, Vec::new())
            });
        }
        if let Some(last) = chunks.last_mut() {
            last.timings = Some(Timings::new(s));
        }
        chunks
    }

    /// A non-streamed response: usage and timings after the choice.
    fn full<C: Indexed>(&self, object: &'static str, choice: C, s: &Summary) -> Completion<C> {
        Completion {
            usage: Some(Usage::from(&s.usage)),
            timings: Some(Timings::new(s)),
            ..self.object(object, vec![choice])
        }
    }

    /// The end of an `n` > 1 stream: with `include_usage`, one usage chunk for all choices.
    fn tail<C: Indexed>(&self, object: &'static str, all: &[Summary]) -> Vec<Completion<C>> {
        if !self.include_usage {
            return Vec::new();
        }
        vec![Completion {
            usage: Some(Usage::from(&choices::summed(all))),
            timings: all.first().map(Timings::new),
            ..self.object(object, Vec::new())
        }]
    }

    fn chat_logprobs(&self, tokens: &[TokenInfo]) -> Option<ChatLogprobs> {
        self.logprobs
            .then(|| ChatLogprobs::new(self.model.as_ref(), tokens))
    }
}

/// Serves the prepared choices (`n` > 1) with one format each, streamed or not.
async fn respond_choices<F>(
    state: &AppState,
    http: &HttpTrace,
    prepared: Vec<Prepared>,
    mut formats: Vec<F>,
    tail: choices::Tail<F::Chunk>,
) -> Result<Response>
where
    F: Format<Full = Completion<<F as Choice>::C>> + Choice,
{
    let ready = state.ready()?;
    let stream = prepared.first().is_some_and(|p| p.stream);
    let ch = choices::submit(state, ready, prepared, http)?;
    if stream {
        return Ok(choices::stream(ch, formats, tail));
    }
    let collected = choices::collect(ch).await?;
    let all: Vec<Summary> = collected.iter().map(|c| c.summary.clone()).collect();
    let parts = formats
        .iter_mut()
        .zip(&collected)
        .map(|(f, c)| f.full(c))
        .collect();
    choices::merged(parts, &all)
        .map(|body| Json(body).into_response())
        .ok_or_else(|| ServerError::Internal("no choice was generated".into()))
}

/// The choice type of a format's full response.
trait Choice {
    type C: Serialize;
}

impl Choice for ChatFormat {
    type C = ChatChoice;
}

impl Choice for TextFormat {
    type C = TextChoice;
}

/// `chat.completion` / `chat.completion.chunk`; with tools (or a thinking prompt) the answer is
/// parsed as it streams (`delta.tool_calls`, `delta.reasoning_content`).
struct ChatFormat(Meta, Option<StreamParser>);

impl Format for ChatFormat {
    type Chunk = Completion<ChatDelta>;
    type Full = Completion<ChatChoice>;

    fn start(&mut self) -> Vec<Self::Chunk> {
        vec![self
            .0
            .object("chat.completion.chunk", vec![ChatDelta::role()])]
    }

    /// As llama.cpp, a progress report is a role delta carrying `prompt_progress`.
    fn progress(&mut self, p: &Progress) -> Vec<Self::Chunk> {
        let role = vec![ChatDelta::role()];
        let prompt_progress = Some(*p);
        vec![Completion {
            prompt_progress,
            ..self.0.object("chat.completion.chunk", role)
        }]
    }

    fn chunk(&mut self, c: &Chunk) -> Option<Self::Chunk> {
        if c.is_silent(self.0.logprobs) {
            return None;
        }
        let logprobs = self.0.chat_logprobs(&c.tokens);
        let Some(parser) = &mut self.1 else {
            let delta = ChatDelta::content(c.text.clone(), logprobs);
            return Some(self.0.object("chat.completion.chunk", vec![delta]));
        };
        // Chunks are whole UTF-8 text: the scheduler's detokenizer holds back a character's
        // incomplete bytes, so the parser never sees half of one.
        let parsed = parser.push(&c.text);
        if parsed.is_empty() && logprobs.is_none() {
            return None;
        }
        let delta = ChatDelta::parsed(MessageDelta::new(&parsed), logprobs);
        Some(self.0.object("chat.completion.chunk", vec![delta]))
    }

    fn finish(&mut self, s: &Summary) -> Vec<Self::Chunk> {
        let mut chunks = Vec::new();
        if let Some(parser) = &mut self.1 {
            let (last, _) = parser.finish();
            if !last.is_empty() {
                let delta = ChatDelta::parsed(MessageDelta::new(&last), None);
                chunks.push(self.0.object("chat.completion.chunk", vec![delta]));
            }
        }
        let choice = ChatDelta::finish(s.openai_finish());
        chunks.extend(self.0.finish("chat.completion.chunk", choice, s));
        chunks
    }

    fn done_marker(&self) -> bool {
        true
    }

    fn full(&self, c: &Collected) -> Self::Full {
        let choice = ChatChoice {
            index: 0,
            message: match &c.summary.message {
                Some(parsed) => ChatMessage::parsed(parsed),
                None => ChatMessage::text(c.text.clone()),
            },
            logprobs: self.0.chat_logprobs(&c.tokens),
            finish_reason: c.summary.openai_finish(),
        };
        Completion {
            verbose: self.0.verbose(c),
            ..self.0.full("chat.completion", choice, &c.summary)
        }
    }
}

/// `text_completion`, streamed or not.
struct TextFormat {
    meta: Meta,
    /// Bytes of text sent so far (for `text_offset`).
    offset: usize,
}

impl TextFormat {
    /// `offset`: bytes of text sent before `tokens`.
    fn logprobs(&self, tokens: &[TokenInfo], offset: usize) -> Option<LegacyLogprobs> {
        self.meta
            .logprobs
            .then(|| LegacyLogprobs::new(self.meta.model.as_ref(), tokens, offset))
    }
}

impl Format for TextFormat {
    type Chunk = Completion<TextChoice>;
    type Full = Completion<TextChoice>;

    fn chunk(&mut self, c: &Chunk) -> Option<Self::Chunk> {
        if c.is_silent(self.meta.logprobs) {
            return None;
        }
        let logprobs = self.logprobs(&c.tokens, self.offset);
        self.offset += c.text.len();
        let choice = TextChoice {
            text: c.text.clone(),
            index: 0,
            logprobs,
            finish_reason: None,
        };
        Some(self.meta.object("text_completion", vec![choice]))
    }

    fn finish(&mut self, s: &Summary) -> Vec<Self::Chunk> {
        let choice = TextChoice {
            text: String::new(),
            index: 0,
            logprobs: None,
            finish_reason: Some(s.finish.openai()),
        };
        self.meta.finish("text_completion", choice, s)
    }

    fn done_marker(&self) -> bool {
        true
    }

    fn full(&self, c: &Collected) -> Self::Full {
        let choice = TextChoice {
            text: c.text.clone(),
            index: 0,
            logprobs: self.logprobs(&c.tokens, 0),
            finish_reason: Some(c.summary.finish.openai()),
        };
        Completion {
            verbose: self.meta.verbose(c),
            ..self.meta.full("text_completion", choice, &c.summary)
        }
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
    let (messages, tools, text) = render_chat(ready, &req, &ready.chat_kwargs)?;
    let (mut params, n) = params::gen_params_choices(
        &req.fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
        ready.sched.limits.n_parallel,
        Some(ready.model.vocab()),
    )?;
    let prompt_tokens = ready.model.vocab().tokenize(&text, true, true);
    let mut meta = Meta::new(
        "chatcmpl",
        model_name.clone(),
        ready.model.clone(),
        &req.fields,
        params.logprobs,
    );
    let n_ctx = ready.sched.limits.n_ctx_slot;
    meta.verbose = Verbose::new(
        &state,
        &req.fields,
        &ready.model,
        &prompt_tokens,
        &params,
        &model_name,
        n_ctx,
    );
    let reasoning = state.config().reasoning_format;
    let chat = chat_parse(ready, &tools, &text, reasoning, &mut params, &meta.id)?;
    let stream = req.fields.stream();
    let prepared = Prepared {
        prompt: prompt_tokens,
        params,
        operation: semconv::OPERATION_CHAT,
        model: model_name,
        input_messages: Some(input_messages(&messages)),
        stream,
        response_id: Some(meta.id.clone()),
        chat,
    };
    let (prepared, formats) = chat_choices(&prepared, &meta, n);
    if n > 1 {
        let tail = Box::new(move |all: &[Summary]| meta.tail("chat.completion.chunk", all));
        return respond_choices(&state, &http, prepared, formats, tail).await;
    }
    let (Some(p), Some(format)) = (prepared.into_iter().next(), formats.into_iter().next()) else {
        return Err(ServerError::Internal("no choice was prepared".into()));
    };
    let rx = generate::submit(&state, ready, p, &http)?;
    Ok(generate::respond(rx, format, stream).await)
}

/// The `n` choices of a chat request, each with its format.
fn chat_choices(prepared: &Prepared, meta: &Meta, n: usize) -> (Vec<Prepared>, Vec<ChatFormat>) {
    (0..n)
        .map(|i| {
            let mut p = choice(prepared, i);
            // Distinct tool-call ids per choice.
            if let (Some(chat), 1..) = (&mut p.chat, i) {
                chat.id_seed = format!("{}-{i}", meta.id);
            }
            let meta = if n == 1 {
                meta.clone()
            } else {
                meta.for_choice(i)
            };
            let format = ChatFormat(meta, stream_parser(p.chat.as_ref(), p.stream));
            (p, format)
        })
        .unzip()
}

/// The stream parser of a streamed chat answer that is read as a message.
fn stream_parser(chat: Option<&ChatParse>, stream: bool) -> Option<StreamParser> {
    chat.filter(|_| stream).map(|p| {
        // deepseek-legacy streams thoughts inline in `content` (llama.cpp).
        let mut opts = p.opts.clone();
        opts.reasoning_in_content = opts.reasoning_format == ReasoningFormat::DeepSeekLegacy;
        StreamParser::new(opts, call_ids(&p.id_seed))
    })
}

/// Choice `i` of a request: as llama.cpp's child tasks, a set seed moves on by `i`.
fn choice(p: &Prepared, i: usize) -> Prepared {
    let mut p = p.clone();
    if let Some(seed) = &mut p.params.sampling.seed {
        *seed = seed.wrapping_add(i as u64);
    }
    p
}

/// `POST /v1/chat/completions/input_tokens` (llama.cpp's): the request's prompt rendered and
/// tokenized as [`chat`] would, nothing generated.
pub async fn chat_input_tokens(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Json<InputTokens>> {
    let ready = state.ready()?;
    let (_, _, text) = render_chat(ready, &req, &ready.chat_kwargs)?;
    let input_tokens = ready.model.vocab().tokenize(&text, true, true).len();
    Ok(Json(InputTokens::new(input_tokens)))
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
    let (params, n) = params::gen_params_choices(
        &req.fields,
        ready.sched.limits.n_predict,
        &state.config().sampling,
        ready.sched.limits.n_parallel,
        Some(ready.model.vocab()),
    )?;
    let mut meta = Meta::new(
        "cmpl",
        model_name.clone(),
        ready.model.clone(),
        &req.fields,
        params.logprobs,
    );
    let stream = req.fields.stream();
    let n_ctx = ready.sched.limits.n_ctx_slot;
    meta.verbose = Verbose::new(
        &state,
        &req.fields,
        &ready.model,
        &tokens,
        &params,
        &model_name,
        n_ctx,
    );
    let prepared = Prepared::text_completion(
        &req.prompt.to_string(),
        tokens,
        params,
        model_name,
        stream,
        Some(meta.id.clone()),
    );
    if n > 1 {
        let (prepared, formats) = (0..n)
            .map(|i| {
                let meta = meta.for_choice(i);
                (choice(&prepared, i), TextFormat { meta, offset: 0 })
            })
            .unzip();
        let tail = Box::new(move |all: &[Summary]| meta.tail("text_completion", all));
        return respond_choices(&state, &http, prepared, formats, tail).await;
    }
    let rx = generate::submit(&state, ready, prepared, &http)?;
    Ok(generate::respond(rx, TextFormat { meta, offset: 0 }, stream).await)
}

/// `GET /v1/models`.
pub async fn models(State(state): State<AppState>) -> Result<Json<ModelList>> {
    let ready = state.ready()?;
    let (info, hparams) = (ready.model.info(), ready.model.hparams());
    let meta = ModelMeta {
        n_vocab: hparams.n_vocab,
        n_ctx_train: hparams.n_ctx_train,
        n_embd: hparams.n_embd,
        n_params: info.n_params,
        size: info.file_size,
        n_ctx: ready.sched.limits.n_ctx,
        n_ctx_slot: ready.sched.limits.n_ctx_slot,
    };
    Ok(Json(ModelList::single(
        ready.names.id.clone(),
        ready.names.aliases.clone(),
        ready.created,
        meta,
    )))
}
