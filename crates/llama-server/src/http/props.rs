//! llama.cpp's server-wide endpoints: `GET /props`, `POST /props` (with `--props`) and
//! `POST /apply-template` (a chat request's prompt, rendered but not run).

use super::AppState;
use crate::api::response::memory::PropsMemory;
use crate::api::response::props::{
    DefaultGenerationSettings, DefaultParams, Modalities, Props, Success,
};
use crate::error::{Result, ServerError};
use axum::extract::State;
use axum::Json;

/// What `build_info` reports (llama.cpp: `b{build}-{commit}`).
pub const BUILD_INFO: &str = concat!("llama-rs-", env!("CARGO_PKG_VERSION"));

/// `GET /props`.
pub async fn get_props(State(state): State<AppState>) -> Result<Json<Props>> {
    let ready = state.ready()?;
    let config = state.config();
    let limits = ready.sched.limits;
    let vocab = ready.model.vocab();
    let text = |id: Option<u32>| {
        id.and_then(|t| vocab.token_text(t))
            .unwrap_or("")
            .to_owned()
    };
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    Ok(Json(Props {
        default_generation_settings: DefaultGenerationSettings {
            params: DefaultParams::new(&config.sampling, limits.n_predict),
            n_ctx: limits.n_ctx_slot,
        },
        total_slots: limits.n_parallel,
        model_alias: ready.names.id.clone(),
        model_ftype: ready.model.info().quantization.clone(),
        model_path: config.model_path.display().to_string(),
        modalities: Modalities::TEXT,
        endpoint_slots: config.slots_endpoint,
        endpoint_props: config.props_endpoint,
        endpoint_metrics: config.metrics_flag,
        ui: false,
        chat_template: template.map(|t| t.source().to_owned()).unwrap_or_default(),
        bos_token: text(vocab.bos()),
        eos_token: text(vocab.eos()),
        build_info: BUILD_INFO.to_owned(),
        is_sleeping: ready.sched.is_sleeping(),
        memory: PropsMemory::new(
            &ready.memory,
            &llama_core::memory::devices(),
            llama_otel::process::read(),
        ),
    }))
}

/// `POST /props`: nothing is changeable yet; llama.cpp answers success under `--props` and
/// 501 otherwise.
pub async fn post_props(State(state): State<AppState>) -> Result<Json<Success>> {
    if !state.config().props_endpoint {
        return Err(ServerError::NotSupported(
            "This server does not support changing global properties. Start it with `--props`"
                .into(),
        ));
    }
    state.ready()?;
    Ok(Json(Success { success: true }))
}
