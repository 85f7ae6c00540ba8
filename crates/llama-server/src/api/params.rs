//! Request fields → validated [`GenParams`], with llama.cpp server defaults for what is absent.

use super::request::{GenerationFields, LogprobsField, StopField};
use crate::error::{Result, ServerError};
use crate::scheduler::job::GenParams;
use llama_core::sampling::SamplingParams;
use llama_core::vocab::Vocab;

/// OpenAI's limit on `top_logprobs`.
const MAX_TOP_LOGPROBS: i64 = 20;
/// Upper bound for llama.cpp's `n_probs`.
const MAX_N_PROBS: i64 = 100;
/// llama.cpp's "no seed" value (`LLAMA_DEFAULT_SEED`).
const RANDOM_SEED: i64 = 0xFFFF_FFFF;

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// Most tokens to generate: OpenAI's `max_completion_tokens` / `max_tokens` (must be ≥ 1), else
/// llama.cpp's `n_predict` (-1: unlimited), capped by the server's `-n`.
pub fn max_tokens(f: &GenerationFields, server_cap: Option<usize>) -> Result<Option<usize>> {
    let requested = match (f.max_completion_tokens.or(f.max_tokens), f.n_predict) {
        (Some(n), _) if n <= 0 => {
            return Err(bad(format!("max_tokens must be at least 1, got {n}")))
        }
        (Some(n), _) => Some(n as usize),
        (None, Some(-1) | None) => None,
        (None, Some(n)) if n < -1 => {
            return Err(bad(format!("n_predict must be -1 or at least 0, got {n}")))
        }
        (None, Some(n)) => Some(n as usize),
    };
    Ok(match (requested, server_cap) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, c) => r.or(c),
    })
}

/// How many alternatives per token, and whether the chosen token's log-probability is wanted.
fn logprobs(f: &GenerationFields) -> Result<(bool, usize)> {
    let top = f.top_logprobs.unwrap_or(0);
    if !(0..=MAX_TOP_LOGPROBS).contains(&top) {
        return Err(bad(format!(
            "top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {top}"
        )));
    }
    let (wanted, top) = match f.logprobs {
        Some(LogprobsField::Flag(on)) => (on, if on { top } else { 0 }),
        Some(LogprobsField::Count(n)) if (0..=MAX_TOP_LOGPROBS).contains(&n) => (true, n),
        Some(LogprobsField::Count(n)) => {
            return Err(bad(format!(
                "logprobs must be between 0 and {MAX_TOP_LOGPROBS}, got {n}"
            )))
        }
        None => (false, 0),
    };
    match f.n_probs {
        Some(n) if !(0..=MAX_N_PROBS).contains(&n) => Err(bad(format!(
            "n_probs must be between 0 and {MAX_N_PROBS}, got {n}"
        ))),
        Some(n) if n > 0 => Ok((true, n as usize)),
        _ => Ok((wanted, top as usize)),
    }
}

/// A seed as llama.cpp reads one: negative or `LLAMA_DEFAULT_SEED` means "draw a random one".
pub fn request_seed(seed: i64) -> Option<u64> {
    (seed >= 0 && seed != RANDOM_SEED).then_some(seed as u64)
}

/// The request's sampling fields over `d`, the server's defaults (`--temp`, `-s`, ...).
fn sampling(f: &GenerationFields, d: &SamplingParams) -> Result<SamplingParams> {
    let seed = match f.seed {
        Some(s) => request_seed(s),
        None => d.seed,
    };
    let p = SamplingParams {
        temperature: f.temperature.unwrap_or(d.temperature),
        top_k: f.top_k.unwrap_or(d.top_k),
        top_p: f.top_p.unwrap_or(d.top_p),
        min_p: f.min_p.unwrap_or(d.min_p),
        repeat_penalty: f.repeat_penalty.unwrap_or(d.repeat_penalty),
        frequency_penalty: f.frequency_penalty.unwrap_or(d.frequency_penalty),
        presence_penalty: f.presence_penalty.unwrap_or(d.presence_penalty),
        penalty_last_n: f.repeat_last_n.unwrap_or(d.penalty_last_n),
        seed,
        n_probs: 0,
        ..d.clone()
    };
    p.validate()?;
    Ok(p)
}

/// Validates the generation fields of a request; what it leaves unset comes from `defaults`.
pub fn gen_params(
    f: &GenerationFields,
    server_cap: Option<usize>,
    defaults: &SamplingParams,
    vocab: Option<&Vocab>,
) -> Result<GenParams> {
    if let Some(n) = f.n.filter(|&n| n != 1) {
        return Err(bad(format!("only n = 1 is supported here, got {n}")));
    }
    any_choices(f, server_cap, defaults, vocab)
}

/// The number of choices (`n`, 1 to `n_parallel` as llama.cpp's `n_cmpl`) and the settings of
/// a request served with `n` > 1 (the OpenAI endpoints).
pub fn gen_params_choices(
    f: &GenerationFields,
    server_cap: Option<usize>,
    defaults: &SamplingParams,
    n_parallel: usize,
    vocab: Option<&Vocab>,
) -> Result<(GenParams, usize)> {
    let n = f.n.unwrap_or(1);
    if n < 1 || n as u64 > n_parallel as u64 {
        return Err(bad(format!(
            "n must be between 1 and the number of slots ({n_parallel}), got {n}"
        )));
    }
    Ok((any_choices(f, server_cap, defaults, vocab)?, n as usize))
}

/// The settings, whatever `n` is. With the model's vocabulary, `logit_bias` may name tokens by
/// text, and `ignore_eos` lists the end-of-generation tokens it bans (llama.cpp shows them as
/// `-inf` biases in `generation_settings`).
fn any_choices(
    f: &GenerationFields,
    server_cap: Option<usize>,
    defaults: &SamplingParams,
    vocab: Option<&Vocab>,
) -> Result<GenParams> {
    f.unsupported.check()?;
    let (logprobs, top_logprobs) = logprobs(f)?;
    let stop = match &f.stop {
        None => Vec::new(),
        Some(StopField::One(s)) => vec![s.clone()],
        Some(StopField::Many(v)) => v.clone(),
    };
    let mut sampling = sampling(f, defaults)?;
    super::constraint::extra_sampling(f, &mut sampling, vocab)?;
    let ignore_eos = f.ignore_eos.unwrap_or(false);
    let eog_banned = match vocab.filter(|_| ignore_eos) {
        Some(v) => v.eog_tokens().collect(),
        None => Vec::new(),
    };
    sampling.validate()?;
    Ok(GenParams {
        sampling,
        constraint: super::constraint::constraint_spec(f)?,
        max_tokens: max_tokens(f, server_cap)?,
        stop,
        ignore_eos,
        eog_banned,
        cache_prompt: f.cache_prompt.unwrap_or(true),
        id_slot: f.id_slot.and_then(|i| usize::try_from(i).ok()),
        logprobs,
        top_logprobs,
        post_sampling_probs: f.post_sampling_probs.unwrap_or(false),
        return_progress: f.stream() && f.return_progress.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_params_without_vocab(
        f: &GenerationFields,
        cap: Option<usize>,
        d: &SamplingParams,
    ) -> Result<GenParams> {
        gen_params(f, cap, d, None)
    }

    fn fields(json: &str) -> GenerationFields {
        serde_json::from_str(json).expect("valid fields")
    }

    #[test]
    fn defaults_are_llama_cpp_server_defaults() {
        let p = gen_params_without_vocab(&fields("{}"), None, &SamplingParams::default())
            .expect("valid");
        assert_eq!(p.sampling, SamplingParams::default());
        assert_eq!(p.max_tokens, None);
        assert!(p.cache_prompt && !p.ignore_eos && !p.logprobs);
    }

    #[test]
    fn server_defaults_fill_what_the_request_leaves_unset() {
        let server = SamplingParams {
            temperature: 0.0,
            top_k: 3,
            seed: Some(42),
            ..SamplingParams::default()
        };
        let p = gen_params_without_vocab(&fields("{}"), None, &server).expect("valid");
        assert_eq!(p.sampling, server);
        let p =
            gen_params_without_vocab(&fields(r#"{"temperature":0.7,"seed":-1}"#), None, &server)
                .expect("valid");
        assert_eq!((p.sampling.temperature, p.sampling.top_k), (0.7, 3));
        assert_eq!(
            p.sampling.seed, None,
            "the request's -1 asks for a random seed"
        );
    }

    #[test]
    fn max_tokens_spellings_and_caps() {
        assert_eq!(
            max_tokens(&fields(r#"{"max_tokens":5}"#), None).ok(),
            Some(Some(5))
        );
        assert_eq!(
            max_tokens(
                &fields(r#"{"max_completion_tokens":7,"max_tokens":5}"#),
                None
            )
            .ok(),
            Some(Some(7))
        );
        assert_eq!(
            max_tokens(&fields(r#"{"n_predict":-1}"#), Some(9)).ok(),
            Some(Some(9))
        );
        assert_eq!(
            max_tokens(&fields(r#"{"n_predict":0}"#), None).ok(),
            Some(Some(0))
        );
        assert_eq!(
            max_tokens(&fields(r#"{"max_tokens":50}"#), Some(9)).ok(),
            Some(Some(9))
        );
        assert!(max_tokens(&fields(r#"{"max_tokens":0}"#), None).is_err());
        assert!(max_tokens(&fields(r#"{"max_tokens":-3}"#), None).is_err());
        assert!(max_tokens(&fields(r#"{"n_predict":-2}"#), None).is_err());
    }

    #[test]
    fn sampling_fields_map_to_sampler_params() {
        let p = gen_params_without_vocab(
            &fields(
                r#"{"temperature":0,"top_k":1,"seed":42,"repeat_last_n":-1,
            "presence_penalty":0.5,"stop":["a","b"],"cache_prompt":false,"ignore_eos":true}"#,
            ),
            None,
            &SamplingParams::default(),
        )
        .expect("valid");
        assert_eq!(p.sampling.temperature, 0.0);
        assert_eq!(p.sampling.seed, Some(42));
        assert_eq!(p.sampling.penalty_last_n, -1);
        assert_eq!(p.sampling.presence_penalty, 0.5);
        assert_eq!(p.stop, vec!["a".to_string(), "b".to_string()]);
        assert!(!p.cache_prompt && p.ignore_eos);
        let random =
            gen_params_without_vocab(&fields(r#"{"seed":-1}"#), None, &SamplingParams::default())
                .expect("valid");
        assert_eq!(random.sampling.seed, None);
    }

    #[test]
    fn logprob_spellings() {
        let chat = gen_params_without_vocab(
            &fields(r#"{"logprobs":true,"top_logprobs":3}"#),
            None,
            &SamplingParams::default(),
        )
        .expect("valid");
        assert_eq!((chat.logprobs, chat.top_logprobs), (true, 3));
        let legacy = gen_params_without_vocab(
            &fields(r#"{"logprobs":2}"#),
            None,
            &SamplingParams::default(),
        )
        .expect("valid");
        assert_eq!((legacy.logprobs, legacy.top_logprobs), (true, 2));
        let llama = gen_params_without_vocab(
            &fields(r#"{"n_probs":5}"#),
            None,
            &SamplingParams::default(),
        )
        .expect("valid");
        assert_eq!((llama.logprobs, llama.top_logprobs), (true, 5));
        assert!(gen_params_without_vocab(
            &fields(r#"{"top_logprobs":21,"logprobs":true}"#),
            None,
            &SamplingParams::default()
        )
        .is_err());
        assert!(gen_params_without_vocab(
            &fields(r#"{"n_probs":-1}"#),
            None,
            &SamplingParams::default()
        )
        .is_err());
    }

    #[test]
    fn invalid_values_are_bad_requests() {
        for body in [
            r#"{"repeat_penalty":-1}"#,
            r#"{"repeat_last_n":-5}"#,
            r#"{"n":2}"#,
        ] {
            let err = gen_params_without_vocab(&fields(body), None, &SamplingParams::default())
                .expect_err(body);
            assert!(matches!(err, ServerError::BadRequest(_)), "{body}: {err:?}");
        }
    }
}
