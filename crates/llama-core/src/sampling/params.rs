//! User-facing sampling parameters with llama.cpp's defaults.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Sampling settings; field meanings and defaults follow llama.cpp's `common_params_sampling`.
///
/// Missing fields deserialize to their defaults, so `{}` is a valid configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; `<= 0` selects greedy (argmax) decoding.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; `<= 0` disables.
    pub top_k: i32,
    /// Nucleus sampling threshold; `>= 1.0` disables.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the top probability; `<= 0` disables.
    pub min_p: f32,
    /// Repetition penalty; `1.0` disables.
    pub repeat_penalty: f32,
    /// Subtracted once per occurrence in the penalty window; `0` disables.
    pub frequency_penalty: f32,
    /// Subtracted once if the token occurs in the penalty window; `0` disables.
    pub presence_penalty: f32,
    /// How many of the most recently accepted tokens the penalties look at;
    /// `0` disables penalties, `-1` means every accepted token.
    pub penalty_last_n: i32,
    /// RNG seed; `None` draws one from OS randomness and the clock.
    pub seed: Option<u64>,
    /// How many top log-probabilities the caller wants reported per token (0 = none).
    pub n_probs: usize,
    /// Fewest candidates the filtering stages keep (0 = no minimum).
    pub min_keep: usize,
    /// Locally typical sampling mass; `>= 1` disables.
    pub typical_p: f32,
    /// Keep logits within `top_n_sigma` standard deviations of the maximum; `<= 0` disables.
    pub top_n_sigma: f32,
    /// Chance that XTC removes the top choices at a step; `0` disables.
    pub xtc_probability: f32,
    /// XTC removes tokens at or above this probability (all but the least likely); `> 0.5`
    /// disables.
    pub xtc_threshold: f32,
    /// 0 = the usual chain, 1 = Mirostat, 2 = Mirostat 2.0 (replaces the chain after
    /// logit bias and temperature).
    pub mirostat: u8,
    /// Mirostat target surprise (bits).
    pub mirostat_tau: f32,
    /// Mirostat learning rate.
    pub mirostat_eta: f32,
    /// DRY penalty multiplier; `0` disables.
    pub dry_multiplier: f32,
    /// DRY exponential base (must be >= 1 to have an effect).
    pub dry_base: f32,
    /// Repeats up to this length are not penalized by DRY.
    pub dry_allowed_length: i32,
    /// How many recent tokens DRY scans; `0` disables.
    pub dry_penalty_last_n: i32,
    /// Strings that end a repeated sequence for DRY.
    pub dry_sequence_breakers: Vec<String>,
    /// `(token, bias)` pairs added to the logits first; `-inf` bans a token.
    pub logit_bias: Vec<(u32, f32)>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            seed: None,
            n_probs: 0,
            min_keep: 0,
            typical_p: 1.0,
            top_n_sigma: -1.0,
            xtc_probability: 0.0,
            xtc_threshold: 0.1,
            mirostat: 0,
            mirostat_tau: 5.0,
            mirostat_eta: 0.1,
            dry_multiplier: 0.0,
            dry_base: 1.75,
            dry_allowed_length: 2,
            dry_penalty_last_n: 64,
            dry_sequence_breakers: ["\n", ":", "\"", "*"].map(String::from).to_vec(),
            logit_bias: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Greedy settings: temperature 0, everything else at its default.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }

    /// Rejects values that would make sampling meaningless (NaN, infinities, negative repeat
    /// penalty, `penalty_last_n < -1`). `Sampler::new` does not call this; sampling with
    /// unvalidated parameters never panics but may give degenerate choices.
    pub fn validate(&self) -> Result<()> {
        let floats = [
            ("temperature", self.temperature),
            ("top_p", self.top_p),
            ("min_p", self.min_p),
            ("repeat_penalty", self.repeat_penalty),
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
            ("typical_p", self.typical_p),
            ("top_n_sigma", self.top_n_sigma),
            ("xtc_probability", self.xtc_probability),
            ("xtc_threshold", self.xtc_threshold),
            ("mirostat_tau", self.mirostat_tau),
            ("mirostat_eta", self.mirostat_eta),
            ("dry_multiplier", self.dry_multiplier),
            ("dry_base", self.dry_base),
        ];
        for (name, value) in floats {
            if !value.is_finite() {
                return Err(invalid(name, value, "must be a finite number"));
            }
        }
        if self.repeat_penalty <= 0.0 {
            let reason = "must be positive (1.0 disables it)";
            return Err(invalid("repeat_penalty", self.repeat_penalty, reason));
        }
        if self.mirostat > 2 {
            let reason = "must be 0 (off), 1 (Mirostat) or 2 (Mirostat 2.0)";
            return Err(invalid("mirostat", self.mirostat, reason));
        }
        if self.dry_allowed_length < 0 || self.dry_penalty_last_n < 0 {
            let (name, value) = if self.dry_allowed_length < 0 {
                ("dry_allowed_length", self.dry_allowed_length)
            } else {
                ("dry_penalty_last_n", self.dry_penalty_last_n)
            };
            return Err(invalid(name, value, "must not be negative"));
        }
        if let Some(&(token, bias)) = self.logit_bias.iter().find(|(_, b)| b.is_nan()) {
            return Err(invalid(
                "logit_bias",
                format!("{token}: {bias}"),
                "must be a number",
            ));
        }
        if self.penalty_last_n < -1 {
            let reason = "must be -1 (whole history), 0 (off) or a window length";
            return Err(invalid("penalty_last_n", self.penalty_last_n, reason));
        }
        Ok(())
    }
}

fn invalid(name: &'static str, value: impl ToString, reason: &'static str) -> Error {
    Error::InvalidParam {
        name,
        value: value.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_llama_cpp() {
        let p = SamplingParams::default();
        assert_eq!(p.temperature, 0.8);
        assert_eq!(p.top_k, 40);
        assert_eq!(p.top_p, 0.95);
        assert_eq!(p.min_p, 0.05);
        assert_eq!(p.repeat_penalty, 1.0);
        assert_eq!(p.penalty_last_n, 64);
        assert_eq!(p.seed, None);
        assert_eq!(p.n_probs, 0);
        // common/common.h
        assert_eq!((p.typical_p, p.top_n_sigma), (1.0, -1.0));
        assert_eq!((p.xtc_probability, p.xtc_threshold), (0.0, 0.1));
        assert_eq!((p.mirostat, p.mirostat_tau, p.mirostat_eta), (0, 5.0, 0.1));
        assert_eq!((p.dry_multiplier, p.dry_base), (0.0, 1.75));
        assert_eq!((p.dry_allowed_length, p.dry_penalty_last_n), (2, 64));
        assert_eq!(p.dry_sequence_breakers, ["\n", ":", "\"", "*"]);
        assert!(p.logit_bias.is_empty());
    }

    #[test]
    fn partial_json_fills_in_defaults() {
        let p: SamplingParams =
            serde_json::from_str(r#"{"temperature": 0.0, "top_k": 1, "seed": 7}"#).unwrap();
        assert_eq!(p.temperature, 0.0);
        assert_eq!(p.top_k, 1);
        assert_eq!(p.seed, Some(7));
        assert_eq!(p.top_p, SamplingParams::default().top_p);
        let empty: SamplingParams = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, SamplingParams::default());
    }

    #[test]
    fn json_round_trip_preserves_every_field() {
        let p = SamplingParams {
            temperature: 1.3,
            top_k: 7,
            top_p: 0.5,
            min_p: 0.1,
            repeat_penalty: 1.2,
            frequency_penalty: 0.3,
            presence_penalty: 0.4,
            penalty_last_n: -1,
            seed: Some(u64::MAX),
            n_probs: 5,
            min_keep: 2,
            typical_p: 0.9,
            top_n_sigma: 1.5,
            xtc_probability: 0.5,
            xtc_threshold: 0.2,
            mirostat: 2,
            mirostat_tau: 4.0,
            mirostat_eta: 0.2,
            dry_multiplier: 0.8,
            dry_base: 2.0,
            dry_allowed_length: 3,
            dry_penalty_last_n: 128,
            dry_sequence_breakers: vec!["x".into()],
            logit_bias: vec![(5, -1.5), (7, -100.0)],
        };
        let back: SamplingParams =
            serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn validate_rejects_nan_and_bad_ranges() {
        assert!(SamplingParams::default().validate().is_ok());
        let nan = SamplingParams {
            top_p: f32::NAN,
            ..SamplingParams::default()
        };
        assert!(matches!(
            nan.validate(),
            Err(Error::InvalidParam { name: "top_p", .. })
        ));
        let neg = SamplingParams {
            repeat_penalty: -1.0,
            ..SamplingParams::default()
        };
        assert!(neg.validate().is_err());
        let window = SamplingParams {
            penalty_last_n: -2,
            ..SamplingParams::default()
        };
        let msg = window.validate().unwrap_err().to_string();
        assert!(
            msg.starts_with("sampling: parameter penalty_last_n = -2"),
            "{msg}"
        );
    }
}
