//! llama.cpp's `__verbose` object on OpenAI answers: the parts a request's summary does not hold.

use super::AppState;
use crate::api::request::GenerationFields;
use crate::api::response::llamacpp::GenerationSettings;
use crate::scheduler::job::GenParams;
use llama_core::Model;
/// The parts of llama.cpp's `__verbose` object a summary does not hold.
#[derive(Clone)]
pub(super) struct Verbose {
    /// The prompt tokens as text, special tokens written out.
    pub(super) prompt: String,
    pub(super) settings: GenerationSettings,
}

impl Verbose {
    /// `Some` when the request (`verbose`) or the server (`-v`) asks for it.
    pub(super) fn new(
        state: &AppState,
        fields: &GenerationFields,
        model: &Model,
        prompt: &[u32],
        params: &GenParams,
        name: &str,
        n_ctx: usize,
    ) -> Option<Self> {
        if !fields.verbose.unwrap_or(state.config().verbose) {
            return None;
        }
        let bytes = model.vocab().detokenize_bytes(prompt, false, true);
        Some(Verbose {
            prompt: String::from_utf8_lossy(&bytes).into_owned(),
            settings: GenerationSettings::new(params, name, n_ctx),
        })
    }
}
