//! The sampler chain as llama.cpp's `common_sampler` builds it, with an optional constraint.

use super::candidates::{max_logit, Candidates};
use super::constraint::{masked_argmax, Constraint};
use super::dry::{Dry, DryParams};
use super::filters;
use super::mirostat::Mirostat;
use super::params::SamplingParams;
use super::penalties::Penalties;
use super::rng::{random_seed, Mt19937};
use super::stages;
use crate::error::{Error, Result};
use crate::vocab::Vocab;

/// Picks tokens from logits with llama.cpp's default sampler chain.
///
/// Penalties see only the tokens passed to [`accept`](Self::accept); `sample` does not accept
/// its own result, so callers accept both prompt tokens (as llama-server does) and each chosen
/// token. The candidate buffer is reused across calls.
#[derive(Clone, Debug)]
pub struct Sampler {
    params: SamplingParams,
    seed: u64,
    rng: Mt19937,
    penalties: Penalties,
    cands: Candidates,
    constraint: Option<Constraint>,
    /// XTC draws from its own generator, seeded like the main one (as in llama.cpp).
    xtc_rng: Mt19937,
    dry: Dry,
    /// Created at the first sample, when the vocabulary size is known.
    mirostat: Option<Mirostat>,
    /// Vocabulary size for Mirostat 1 when known (else the logit count is used).
    n_vocab: Option<usize>,
}

impl Sampler {
    /// A sampler without a vocabulary: DRY sequence breakers (strings) are not matched.
    /// Prefer [`for_vocab`](Self::for_vocab) when DRY is on.
    pub fn new(params: SamplingParams) -> Self {
        let dry = Dry::with_token_breakers(dry_params(&params), &[]);
        Self::build(params, dry, None)
    }

    /// A sampler whose DRY breakers are matched against `vocab`'s tokens and whose Mirostat
    /// uses its size, as llama.cpp's `common_sampler_init` does.
    pub fn for_vocab(params: SamplingParams, vocab: &Vocab) -> Self {
        let dry = Dry::new(dry_params(&params), vocab, &params.dry_sequence_breakers);
        Self::build(params, dry, Some(vocab.n_tokens()))
    }

    fn build(params: SamplingParams, dry: Dry, n_vocab: Option<usize>) -> Self {
        let seed = params.seed.unwrap_or_else(random_seed);
        let penalties = Penalties::new(
            params.penalty_last_n,
            params.repeat_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        );
        Self {
            params,
            seed,
            rng: Mt19937::from_u64(seed),
            penalties,
            cands: Candidates::default(),
            constraint: None,
            xtc_rng: Mt19937::from_u64(seed),
            dry,
            mirostat: None,
            n_vocab,
        }
    }

    /// Restricts the following samples to what `constraint` allows (llama.cpp applies its
    /// grammar sampler the same way: masked logits, then the chain); `None` removes it.
    pub fn set_constraint(&mut self, constraint: Option<Constraint>) {
        self.constraint = constraint;
    }

    /// The request's constraint, if any (e.g. for its mask timing).
    pub fn constraint(&self) -> Option<&Constraint> {
        self.constraint.as_ref()
    }

    /// The settings this sampler was built with.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// The seed in use: the configured one, or the one drawn for an unseeded sampler
    /// (log it to reproduce a run).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Chooses the next token. Errors if `logits` is empty or has no value above -inf
    /// (NaN counts as -inf), or if a constraint allows no token with a finite logit.
    pub fn sample(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.is_empty() {
            return Err(Error::EmptyLogits);
        }
        if self.is_plain_greedy() {
            // Nothing can move the maximum: skip building candidates altogether.
            if let Some(c) = self.constraint.as_mut().filter(|c| c.is_active()) {
                let mask = c.compute_mask()?;
                return masked_argmax(logits, &mask).ok_or_else(no_allowed_token);
            }
            let max = max_logit(logits);
            return logits
                .iter()
                .position(|&l| l == max && max > f32::NEG_INFINITY)
                .map(|i| i as u32)
                .ok_or(Error::NoValidLogits {
                    n_vocab: logits.len(),
                });
        }
        let mut max = self.cands.fill(logits);
        if let Some(c) = self.constraint.as_mut().filter(|c| c.is_active()) {
            c.apply(&mut self.cands)?;
            max = self.cands.max_logit();
            if max == f32::NEG_INFINITY {
                return Err(no_allowed_token());
            }
        }
        if max == f32::NEG_INFINITY {
            return Err(Error::NoValidLogits {
                n_vocab: logits.len(),
            });
        }
        self.run_chain(logits.len())
            .and_then(|i| self.cands.data.get(i))
            .map(|t| t.id)
            .ok_or(Error::NoValidLogits {
                n_vocab: logits.len(),
            })
    }

    /// Greedy with nothing that could change which logit is the largest.
    fn is_plain_greedy(&self) -> bool {
        let p = &self.params;
        p.temperature <= 0.0
            && p.mirostat == 0
            && p.logit_bias.is_empty()
            && !self.penalties.has_effect()
            && !self.dry.has_effect()
            && !greedy_needs_chain(p)
    }

    /// llama.cpp's chain as `common_sampler_init` builds it with the default sampler order:
    /// logit bias, then either penalties → DRY → top-n-sigma → top-k → typical → top-p →
    /// min-p → XTC → temperature → dist, or temperature → Mirostat.
    fn run_chain(&mut self, n_logits: usize) -> Option<usize> {
        let Self {
            params: p,
            cands: c,
            rng,
            xtc_rng,
            penalties,
            dry,
            mirostat,
            n_vocab,
            ..
        } = self;
        filters::logit_bias(c, &p.logit_bias);
        if p.mirostat != 0 {
            stages::temperature(c, p.temperature);
            let n_vocab = n_vocab.unwrap_or(n_logits);
            let m = mirostat.get_or_insert_with(|| {
                Mirostat::new(p.mirostat, p.mirostat_tau, p.mirostat_eta, n_vocab)
            });
            return m.sample(c, rng);
        }
        penalties.apply_vocab_order(c);
        dry.apply(c);
        // Top-n-sigma, top-k, top-p and min-p never drop the best token, so with temperature
        // <= 0 the chain reduces to argmax of the penalised logits unless typical or XTC
        // (which can drop it) are on; skipping them keeps ties on the lowest id.
        if p.temperature <= 0.0 && !greedy_needs_chain(p) {
            return stages::argmax(c);
        }
        filters::top_n_sigma(c, p.top_n_sigma);
        stages::top_k(c, p.top_k);
        filters::typical(c, p.typical_p, p.min_keep);
        stages::top_p(c, p.top_p, p.min_keep);
        stages::min_p(c, p.min_p, p.min_keep);
        filters::xtc(c, p.xtc_probability, p.xtc_threshold, p.min_keep, xtc_rng);
        stages::temperature(c, p.temperature);
        stages::dist(c, rng)
    }

    /// The candidates left by the last `sample` call, with their final probabilities
    /// (set by the dist stage; in greedy mode `p` is unset, and without penalties the
    /// candidates are not even rebuilt).
    pub fn last_candidates(&self) -> &Candidates {
        &self.cands
    }

    /// llama.cpp's `post_sampling_probs`: the chosen token's probability after the chain and
    /// up to `n` candidates, most probable first, stopping at the first zero probability.
    /// Greedy sampling leaves the best token alone with probability 1 (llama.cpp's temperature
    /// stage at `temp <= 0` sets every other logit to -inf before the distribution).
    pub fn post_sampling_probs(&self, chosen: u32, n: usize) -> (f32, Vec<(u32, f32)>) {
        let p = &self.params;
        if p.temperature <= 0.0 && p.mirostat == 0 && !greedy_needs_chain(p) {
            let top = if n > 0 {
                vec![(chosen, 1.0)]
            } else {
                Vec::new()
            };
            return (1.0, top);
        }
        let mut probs: Vec<(u32, f32)> = self.cands.data.iter().map(|t| (t.id, t.p)).collect();
        probs.sort_by(|a, b| b.1.total_cmp(&a.1));
        let chosen_p = probs.iter().find(|t| t.0 == chosen).map_or(0.0, |t| t.1);
        let top = probs
            .into_iter()
            .take(n)
            .take_while(|t| t.1 != 0.0)
            .collect();
        (chosen_p, top)
    }

    /// Adds a token to the penalty and DRY histories (prompt tokens and generated ones alike).
    pub fn accept(&mut self, token: u32) {
        self.penalties.accept(token);
        self.dry.accept(token);
    }

    /// Accepts a token this sampler generated: the penalty history as [`accept`](Self::accept),
    /// and the constraint, if any, advances past it (prompt tokens must not go there).
    pub fn accept_sampled(&mut self, token: u32) -> Result<()> {
        self.accept(token);
        match self.constraint.as_mut() {
            Some(c) => c.accept(token),
            None => Ok(()),
        }
    }

    /// Clears the penalty history and restarts the RNG: from the same seed when one was
    /// configured, from a fresh random seed otherwise (as llama.cpp's reset does).
    pub fn reset(&mut self) -> Result<()> {
        self.penalties.reset();
        self.dry.reset();
        if let Some(m) = self.mirostat.as_mut() {
            m.reset();
        }
        self.seed = self.params.seed.unwrap_or_else(random_seed);
        self.rng = Mt19937::from_u64(self.seed);
        self.xtc_rng = Mt19937::from_u64(self.seed);
        match self.constraint.as_mut() {
            Some(c) => c.reset(),
            None => Ok(()),
        }
    }
}

/// Whether a stage that may drop the most likely token is on (typical sampling or XTC).
fn greedy_needs_chain(p: &SamplingParams) -> bool {
    p.typical_p < 1.0 || (p.xtc_probability > 0.0 && p.xtc_threshold <= 0.5)
}

fn dry_params(p: &SamplingParams) -> DryParams {
    DryParams {
        multiplier: p.dry_multiplier,
        base: p.dry_base,
        allowed_length: p.dry_allowed_length,
        penalty_last_n: p.dry_penalty_last_n,
    }
}

fn no_allowed_token() -> Error {
    Error::Constraint("no token the grammar allows has a finite logit".into())
}
