//! llama.cpp's server-wide answers (`tools/server/server-context.cpp`): `GET /props`
//! (`get_res_props`), `POST /props`, `POST /apply-template`. Field order is llama.cpp's.

use llama_core::sampling::SamplingParams;
use serde::Serialize;

/// `GET /props`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Props {
    pub default_generation_settings: DefaultGenerationSettings,
    pub total_slots: usize,
    /// The served name (the first alias, else the file name), as llama.cpp's `model_name`.
    pub model_alias: String,
    /// The file's quantisation as llama.cpp names it, e.g. "Q4_K - Medium".
    pub model_ftype: String,
    pub model_path: String,
    pub modalities: Modalities,
    pub endpoint_slots: bool,
    pub endpoint_props: bool,
    pub endpoint_metrics: bool,
    /// This server has no web UI.
    pub ui: bool,
    /// The chat template in use (`--chat-template*` or the model's; empty without one).
    pub chat_template: String,
    pub bos_token: String,
    pub eos_token: String,
    pub build_info: String,
    pub is_sleeping: bool,
    /// This server's addition: where memory goes (see [`super::memory`]).
    pub memory: super::memory::PropsMemory,
}

/// `default_generation_settings` of [`Props`]: what a request that sets nothing gets, and the
/// context of one slot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefaultGenerationSettings {
    pub params: DefaultParams,
    pub n_ctx: usize,
}

/// llama.cpp's `task_params::to_json(true)` for the server-wide defaults. Samplers this server
/// does not have are reported at the value that turns them off; `f32` values are written as
/// `f64`, as llama.cpp does (`0.95` reads `0.949999988079071`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DefaultParams {
    /// `4294967295` (llama.cpp's `LLAMA_DEFAULT_SEED`): a random seed per request.
    pub seed: u64,
    pub temperature: f64,
    pub dynatemp_range: f64,
    pub dynatemp_exponent: f64,
    pub top_k: i32,
    pub top_p: f64,
    pub min_p: f64,
    pub top_n_sigma: f64,
    pub xtc_probability: f64,
    pub xtc_threshold: f64,
    pub typical_p: f64,
    pub repeat_last_n: i32,
    pub repeat_penalty: f64,
    pub presence_penalty: f64,
    pub frequency_penalty: f64,
    pub dry_multiplier: f64,
    pub dry_base: f64,
    pub dry_allowed_length: i32,
    pub dry_penalty_last_n: i32,
    pub mirostat: i32,
    pub mirostat_tau: f64,
    pub mirostat_eta: f64,
    pub max_tokens: i64,
    pub n_predict: i64,
    pub n_keep: i32,
    pub n_discard: i32,
    pub ignore_eos: bool,
    pub stream: bool,
    pub n_probs: usize,
    pub min_keep: usize,
    pub chat_format: &'static str,
    pub reasoning_format: &'static str,
    pub reasoning_in_content: bool,
    pub samplers: Vec<&'static str>,
    pub timings_per_token: bool,
    pub post_sampling_probs: bool,
}

impl DefaultParams {
    /// The defaults from the server's sampling settings and `-n` (`None`: no limit).
    pub fn new(s: &SamplingParams, n_predict: Option<usize>) -> Self {
        let n_predict = n_predict.map_or(-1, |n| n as i64);
        DefaultParams {
            seed: s.seed.unwrap_or(0xFFFF_FFFF),
            temperature: f64::from(s.temperature),
            dynatemp_range: 0.0,
            dynatemp_exponent: 1.0,
            top_k: s.top_k,
            top_p: f64::from(s.top_p),
            min_p: f64::from(s.min_p),
            top_n_sigma: -1.0,
            xtc_probability: 0.0,
            xtc_threshold: f64::from(0.1f32),
            typical_p: 1.0,
            repeat_last_n: s.penalty_last_n,
            repeat_penalty: f64::from(s.repeat_penalty),
            presence_penalty: f64::from(s.presence_penalty),
            frequency_penalty: f64::from(s.frequency_penalty),
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_penalty_last_n: 64,
            mirostat: 0,
            mirostat_tau: 5.0,
            mirostat_eta: f64::from(0.1f32),
            max_tokens: n_predict,
            n_predict,
            n_keep: 0,
            n_discard: 0,
            ignore_eos: false,
            stream: false,
            n_probs: 0,
            min_keep: 0,
            chat_format: "Content-only",
            reasoning_format: "none",
            reasoning_in_content: false,
            // This server's sampler chain, in order (llama-core `sampling`).
            samplers: vec!["penalties", "top_k", "top_p", "min_p", "temperature"],
            timings_per_token: false,
            post_sampling_probs: false,
        }
    }
}

/// `modalities` of [`Props`]: text only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Modalities {
    pub vision: bool,
    pub video: bool,
    pub audio: bool,
}

impl Modalities {
    pub const TEXT: Modalities = Modalities {
        vision: false,
        video: false,
        audio: false,
    };
}

/// `POST /props` under `--props`: `{"success": true}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Success {
    pub success: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_read_as_llama_cpps_defaults() {
        let p = DefaultParams::new(&SamplingParams::default(), None);
        let v = serde_json::to_value(&p).unwrap();
        // Values of llama.cpp's `GET /props` at its defaults (llama-server, this commit).
        assert_eq!(v["seed"], 4294967295u64);
        assert_eq!(v["temperature"], 0.800000011920929);
        assert_eq!(v["top_k"], 40);
        assert_eq!(v["top_p"], 0.949999988079071);
        assert_eq!(v["min_p"], 0.05000000074505806);
        assert_eq!(v["xtc_threshold"], 0.10000000149011612);
        assert_eq!(v["repeat_last_n"], 64);
        assert_eq!(v["n_predict"], -1);
        assert_eq!(v["max_tokens"], -1);
    }
}
