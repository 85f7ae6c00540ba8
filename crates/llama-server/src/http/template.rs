//! `POST /apply-template` (llama.cpp): the prompt a chat request would run, without running it.

use super::extract::ApiJson;
use super::AppState;
use crate::api::apply_template::ApplyTemplateRequest;
use crate::api::response::template::TemplatePrompt;
use crate::error::Result;
use axum::extract::State;
use axum::Json;

/// `POST /apply-template`.
pub async fn apply_template(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ApplyTemplateRequest>,
) -> Result<Json<TemplatePrompt>> {
    let ready = state.ready()?;
    let template = ready.chat_template.as_ref().or(ready.model.chat_template());
    let prompt = req.render(template, &ready.chat_kwargs, ready.prefill_assistant)?;
    Ok(Json(TemplatePrompt { prompt }))
}
