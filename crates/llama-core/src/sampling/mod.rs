//! Token sampling: llama.cpp's default sampler chain over a logit vector, plus log-probabilities.

pub mod candidates;
#[cfg(test)]
mod chain_tests;
pub mod constraint;
pub mod dry;
pub mod filters;
pub mod logprobs;
pub mod mirostat;
pub mod params;
pub mod penalties;
pub mod rng;
pub mod sampler;
#[cfg(test)]
mod sampler_tests;
pub mod stages;

pub use candidates::{Candidates, TokenData};
pub use constraint::{Constraint, ConstraintEnv, ConstraintSpec};
pub use logprobs::{token_logprob, token_logprobs, top_logprobs};
pub use params::SamplingParams;
pub use penalties::Penalties;
pub use rng::Mt19937;
pub use sampler::Sampler;
