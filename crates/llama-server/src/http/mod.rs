//! The HTTP side: routes, shared state, and the middleware stack (HTTP span → API key →
//! handler). Handlers parse and validate, hand a job to the scheduler and turn its events into
//! OpenAI or llama.cpp responses; they never touch the model context.

pub mod access_log;
pub mod anthropic;
pub mod anthropic_blocks;
pub mod auth;
pub mod chat_prompt;
pub mod choices;
pub mod cors;
pub mod embeddings;
pub mod errors;
pub mod extract;
pub mod format;
pub mod generate;
pub mod llamacpp;
pub mod openai;
pub mod props;
pub mod responses;
pub mod responses_items;
pub mod slot_actions;
pub mod sse;
pub mod template;
#[cfg(test)]
mod test_deltas;
pub mod trace;
pub mod verbose;
pub mod webui;

use crate::error::{Result, ServerError};
use crate::scheduler::SchedulerHandle;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;
use llama_core::Model;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Settings the HTTP side needs.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub api_keys: Vec<String>,
    /// `-a` names, sorted and deduplicated.
    pub aliases: Vec<String>,
    pub model_path: PathBuf,
    pub max_body: usize,
    pub body_timeout: Duration,
    /// Where the server listens, as telemetry reports it.
    pub server: crate::telemetry::ServerAddr,
    /// `--otel-trace-probes`: health and scrape probes get spans too.
    pub trace_probes: bool,
    pub capture_content: bool,
    /// `--embeddings` was given.
    pub embeddings: bool,
    /// Sampling parameters for what a request leaves unset (`--temp`, `-s`, ...).
    pub sampling: llama_core::sampling::SamplingParams,
    /// `GET /slots` is served (not `--no-slots`).
    pub slots_endpoint: bool,
    /// `POST /props` is served (`--props`).
    pub props_endpoint: bool,
    /// `--metrics` was given (reported in `/props`; `/metrics` is always served).
    pub metrics_flag: bool,
    /// `-b`: `/infill` sizes the prefix and suffix it keeps by it, as llama.cpp.
    pub n_batch: usize,
    /// CORS headers (`--cors-*`).
    pub cors: cors::CorsConfig,
    /// Interval of SSE ping comments (`--sse-ping-interval`; `None`: off).
    pub sse_ping: Option<Duration>,
    /// `--reasoning-format`.
    pub reasoning_format: llama_core::chat::toolcall::ReasoningFormat,
    /// `GET /` serves the built-in live view (not `--no-webui`).
    pub webui: bool,
    /// `-v`: every OpenAI completion carries llama.cpp's `__verbose` object.
    pub verbose: bool,
    /// `--slot-save-path`: where slot actions write and read (`None`: they answer 501).
    pub slot_save_path: Option<PathBuf>,
}

/// The model's name as the API reports it.
#[derive(Debug, Clone)]
pub struct ModelNames {
    /// What `/v1/models` lists and responses report when a request names no model: the first
    /// alias (sorted, as llama.cpp's `std::set`), else the file name.
    pub id: String,
    /// Every `-a` name (`aliases` in `/v1/models`).
    pub aliases: Vec<String>,
}

impl ModelNames {
    /// `aliases` sorted and deduplicated (`Cli::aliases`).
    pub fn new(aliases: &[String], path: &std::path::Path) -> Self {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        ModelNames {
            id: aliases.first().cloned().unwrap_or(file),
            aliases: aliases.to_vec(),
        }
    }

    /// The name to report for a request's `model` field. As llama.cpp's single-model server does,
    /// any name is served by the one loaded model and echoed back (clients written for other
    /// servers send their own names, e.g. "gpt-4o-mini"); without one, the served id.
    pub fn resolve(&self, requested: Option<&str>) -> String {
        match requested {
            None | Some("") => self.id.clone(),
            Some(name) => name.to_owned(),
        }
    }
}

/// Everything that exists once the model is loaded.
#[derive(Debug)]
pub struct Ready {
    pub model: Arc<Model>,
    /// `--chat-template`/`--chat-template-file`, which override the model's own template.
    pub chat_template: Option<llama_core::chat::ChatTemplate>,
    /// Template variables for every chat request (`--chat-template-kwargs`, llama.cpp defaults).
    pub chat_kwargs: serde_json::Map<String, serde_json::Value>,
    /// `--prefill-assistant`: a final assistant message is continued.
    pub prefill_assistant: bool,
    pub sched: SchedulerHandle,
    pub names: ModelNames,
    /// The pooling of an encoder-only (embedding) model; `None` for generative models.
    pub pooling: Option<llama_core::Pooling>,
    /// Unix time the model became ready (`created` in `/v1/models`).
    pub created: u64,
    /// Where the engine's memory is, taken once its context was set up.
    pub memory: Arc<llama_core::memory::MemoryReport>,
}

/// State shared by all handlers.
#[derive(Debug)]
pub struct Shared {
    pub config: HttpConfig,
    ready: OnceLock<Ready>,
}

/// Cheap handle to [`Shared`].
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Shared>);

impl AppState {
    pub fn new(config: HttpConfig) -> Self {
        AppState(Arc::new(Shared {
            config,
            ready: OnceLock::new(),
        }))
    }

    pub fn config(&self) -> &HttpConfig {
        &self.0.config
    }

    /// The loaded model and scheduler, or 503 while loading.
    pub fn ready(&self) -> Result<&Ready> {
        self.0.ready.get().ok_or(ServerError::Loading)
    }

    /// Publishes the loaded model (once).
    pub fn set_ready(&self, ready: Ready) {
        let _ = self.0.ready.set(ready);
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn not_found() -> ServerError {
    ServerError::RouteNotFound
}

async fn method_not_allowed() -> ServerError {
    ServerError::MethodNotAllowed
}

/// All routes. `/health` and the live view's page (`/`) are open without the API key. Building the router starts
/// the server's counter series at zero.
pub fn router(state: AppState) -> Router {
    crate::telemetry::start_series();
    let protected = Router::new()
        .route("/v1/chat/completions", post(openai::chat))
        .route("/chat/completions", post(openai::chat))
        .route(
            "/v1/chat/completions/input_tokens",
            post(openai::chat_input_tokens),
        )
        .route(
            "/chat/completions/input_tokens",
            post(openai::chat_input_tokens),
        )
        .route("/v1/completions", post(openai::completions))
        // As llama.cpp: `/completions` is its native endpoint, only `/v1/completions` is OpenAI's.
        .route("/completions", post(llamacpp::completion))
        .route("/v1/models", get(openai::models))
        .route("/models", get(openai::models))
        .route("/completion", post(llamacpp::completion))
        .route("/infill", post(llamacpp::infill))
        .route("/props", get(props::get_props).post(props::post_props))
        .route("/v1/responses", post(responses::responses))
        .route("/responses", post(responses::responses))
        .route("/v1/responses/input_tokens", post(responses::input_tokens))
        .route("/responses/input_tokens", post(responses::input_tokens))
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/apply-template", post(template::apply_template))
        .route("/v1/embeddings", post(embeddings::openai))
        .route("/embeddings", post(embeddings::llama))
        .route("/embedding", post(embeddings::llama))
        .route("/tokenize", post(llamacpp::tokenize))
        .route("/detokenize", post(llamacpp::detokenize))
        .route("/slots", get(llamacpp::slots))
        .route("/slots/{id_slot}", post(slot_actions::post_slot))
        .route("/metrics", get(llamacpp::metrics))
        .route("/debug/traces", get(webui::traces))
        .route_layer(from_fn_with_state(state.clone(), slot_actions::wake_engine))
        .route_layer(from_fn_with_state(state.clone(), auth::require_api_key));
    let mut public = Router::new()
        .route("/health", get(llamacpp::health))
        .route("/v1/health", get(llamacpp::health));
    if state.config().webui {
        // Open without the API key, as llama.cpp leaves its UI; the page asks for the key.
        public = public
            .route("/", get(webui::page))
            .route("/index.html", get(webui::page));
    }
    protected
        .merge(public)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), cors::cors))
        .layer(from_fn_with_state(state.clone(), trace::http_span))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_model_name_is_served_and_echoed_as_llama_cpp_does() {
        let aliases = ["smol".to_string(), "tiny".to_string()];
        let names = ModelNames::new(&aliases, std::path::Path::new("/m/SmolLM2.Q4.gguf"));
        assert_eq!(names.id, "smol");
        assert_eq!(names.resolve(None), "smol");
        assert_eq!(names.resolve(Some("")), "smol");
        assert_eq!(names.resolve(Some("gpt-4")), "gpt-4");
        let plain = ModelNames::new(&[], std::path::Path::new("/m/m.gguf"));
        assert_eq!(plain.id, "m.gguf");
    }
}
