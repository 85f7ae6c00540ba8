//! Constrained sampling with llguidance: a JSON schema, a GBNF or a Lark grammar restricts
//! which tokens may come next; the mask is applied to the logits before the sampler chain.

mod gbnf;
mod lazy;
mod toktrie;

use std::sync::Arc;
use std::time::{Duration, Instant};

use llguidance::api::TopLevelGrammar;
use llguidance::toktrie::SimpleVob;
use llguidance::Matcher;
use serde_json::Value;

pub use gbnf::gbnf_to_lark;
pub use lazy::LazyTriggers;
pub use toktrie::ConstraintEnv;

use super::candidates::Candidates;
use crate::error::{Error, Result};

/// What the output must match.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstraintSpec {
    /// A JSON schema (OpenAI `response_format: {"type": "json_schema"}`, llama.cpp's `json_schema`).
    JsonSchema(Value),
    /// Any JSON object (OpenAI `response_format: {"type": "json_object"}`).
    JsonObject,
    /// A grammar in llama.cpp's GBNF (llama.cpp's `grammar` field).
    Gbnf(String),
    /// A grammar in llguidance's Lark dialect (llama.cpp sends grammars starting with
    /// `%llguidance` this way).
    Lark(String),
    /// `grammar`, applied only from the first trigger on (a tool call under
    /// `tool_choice: "auto"`).
    Lazy {
        grammar: Box<ConstraintSpec>,
        triggers: LazyTriggers,
    },
}

impl ConstraintSpec {
    /// llama.cpp's `grammar` field: Lark when it starts with `%llguidance`, GBNF otherwise.
    pub fn from_grammar_field(grammar: &str) -> Self {
        if grammar.trim_start().starts_with("%llguidance") {
            Self::Lark(grammar.to_string())
        } else {
            Self::Gbnf(grammar.to_string())
        }
    }

    /// Short name for telemetry (`json_schema`, `json_object`, `gbnf`, `lark`).
    pub fn mode(&self) -> &'static str {
        match self {
            Self::JsonSchema(_) => "json_schema",
            Self::JsonObject => "json_object",
            Self::Gbnf(_) => "gbnf",
            Self::Lark(_) => "lark",
            Self::Lazy { .. } => "lazy",
        }
    }

    fn compile(&self) -> Result<(TopLevelGrammar, &'static str)> {
        Ok(match self {
            Self::JsonSchema(schema) => {
                if !schema.is_object() && !schema.is_boolean() {
                    return Err(Error::InvalidConstraint {
                        kind: "JSON schema",
                        reason: "a schema must be an object or a boolean".into(),
                    });
                }
                (
                    TopLevelGrammar::from_json_schema(bounded_whitespace(schema.clone())),
                    "JSON schema",
                )
            }
            Self::JsonObject => (
                TopLevelGrammar::from_json_schema(bounded_whitespace(
                    serde_json::json!({"type": "object"}),
                )),
                "JSON schema",
            ),
            Self::Gbnf(g) => (TopLevelGrammar::from_lark(gbnf_to_lark(g)?), "GBNF grammar"),
            Self::Lark(g) => (TopLevelGrammar::from_lark(g.clone()), "Lark grammar"),
            Self::Lazy { grammar, .. } => return grammar.compile(),
        })
    }
}

/// Whitespace between JSON tokens as llama.cpp's schema grammars allow it (`SPACE_RULE`: a
/// space, or one or two newlines and up to 20 indentation characters) instead of llguidance's
/// default of any amount: small models otherwise fill `max_tokens` with blank lines inside an
/// object (measured with Qwen2.5-0.5B on nested schemas). A schema's own `x-guidance`
/// options win.
fn bounded_whitespace(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object_mut() {
        o.entry("x-guidance")
            .or_insert_with(|| serde_json::json!({"whitespace_pattern": " |\n{1,2}[ \t]{0,20}"}));
    }
    schema
}

/// One request's constraint state: which tokens are allowed next, advanced token by token.
///
/// llama.cpp's `llama_sampler_llg`: [`apply`](Self::apply) sets the logit of every disallowed
/// candidate to -inf, [`accept`](Self::accept) advances the grammar. End-of-generation tokens
/// are allowed exactly when the grammar accepts what was generated so far.
#[derive(Clone)]
pub struct Constraint {
    env: Arc<ConstraintEnv>,
    matcher: Matcher,
    mode: &'static str,
    last_mask: Duration,
    total_mask: Duration,
    n_masks: u64,
    finished: bool,
    /// A lazy constraint still waiting for its trigger.
    lazy: Option<lazy::Lazy>,
    /// A lazy constraint's triggers (to wait again after a reset).
    triggers: Option<LazyTriggers>,
}

impl std::fmt::Debug for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraint")
            .field("mode", &self.mode)
            .field("n_masks", &self.n_masks)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Constraint {
    /// Compiles `spec`; a schema or grammar llguidance rejects is
    /// [`Error::InvalidConstraint`] with its reason (a client error).
    pub fn new(env: Arc<ConstraintEnv>, spec: &ConstraintSpec) -> Result<Self> {
        let (grammar, kind) = spec.compile()?;
        let matcher = env.matcher(grammar, kind)?;
        let triggers = match spec {
            ConstraintSpec::Lazy { triggers, .. } => Some(triggers.clone()),
            _ => None,
        };
        Ok(Self {
            lazy: triggers.as_ref().map(lazy::Lazy::new).transpose()?,
            triggers,
            env,
            matcher,
            mode: spec.mode(),
            last_mask: Duration::ZERO,
            total_mask: Duration::ZERO,
            n_masks: 0,
            finished: false,
        })
    }

    /// `json_schema`, `json_object`, `gbnf` or `lark`.
    pub fn mode(&self) -> &'static str {
        self.mode
    }

    /// The allowed-token set for the next position (timed: see [`last_mask_duration`]).
    ///
    /// [`last_mask_duration`]: Self::last_mask_duration
    pub fn compute_mask(&mut self) -> Result<SimpleVob> {
        let start = Instant::now();
        let mask = self.matcher.compute_mask_or_eos();
        self.last_mask = start.elapsed();
        self.total_mask += self.last_mask;
        self.n_masks += 1;
        mask.map_err(|e| Error::Constraint(e.to_string()))
    }

    /// Sets the logit of every candidate the grammar does not allow to -inf.
    pub fn apply(&mut self, cands: &mut Candidates) -> Result<()> {
        let mask = self.compute_mask()?;
        for t in &mut cands.data {
            if !mask.is_allowed(t.id) {
                t.logit = f32::NEG_INFINITY;
            }
        }
        Ok(())
    }

    /// Whether masks apply: always, except for a lazy constraint before its trigger.
    pub fn is_active(&self) -> bool {
        self.lazy.is_none()
    }

    /// Advances the grammar past a generated token. End-of-generation tokens finish it
    /// (they are allowed only where the grammar accepts, so nothing is left to check).
    /// A lazy constraint watches for its trigger and, once it appears, takes the text from
    /// the trigger on.
    pub fn accept(&mut self, token: u32) -> Result<()> {
        if self.env.eos_tokens().contains(&token) {
            self.finished = true;
            return Ok(());
        }
        if let Some(lazy) = self.lazy.as_mut() {
            let Some(text) = lazy.push(self.env.token_bytes(token)) else {
                return Ok(());
            };
            self.lazy = None;
            let tokens = self.env.tokenize(&text);
            return self.matcher.consume_tokens(&tokens).map_err(|e| {
                Error::Constraint(format!(
                    "the triggered grammar rejects {:?}: {e}",
                    String::from_utf8_lossy(&text)
                ))
            });
        }
        self.matcher
            .consume_token(token)
            .map_err(|e| Error::Constraint(e.to_string()))
    }

    /// Whether the output so far is a complete match (an end-of-generation token is allowed).
    pub fn is_accepting(&mut self) -> bool {
        self.finished || self.matcher.is_accepting().unwrap_or(false)
    }

    /// Whether the grammar allows nothing but ending (or an end token was accepted).
    pub fn is_finished(&self) -> bool {
        self.finished || self.matcher.is_stopped()
    }

    /// Wall time of the latest mask computation (for `llama.sampling.constraint.duration`).
    pub fn last_mask_duration(&self) -> Duration {
        self.last_mask
    }

    /// Total mask time and number of masks computed so far.
    pub fn mask_totals(&self) -> (Duration, u64) {
        (self.total_mask, self.n_masks)
    }

    /// Restarts the grammar from its beginning.
    pub fn reset(&mut self) -> Result<()> {
        self.finished = false;
        self.lazy = self.triggers.as_ref().map(lazy::Lazy::new).transpose()?;
        self.matcher
            .reset()
            .map_err(|e| Error::Constraint(e.to_string()))
    }

    /// The environment (trie and EOS set) this constraint was built on.
    pub fn env(&self) -> &Arc<ConstraintEnv> {
        &self.env
    }
}

/// Index of the first highest logit among the tokens `mask` allows (greedy decoding under a
/// constraint without building candidates).
pub(crate) fn masked_argmax(logits: &[f32], mask: &SimpleVob) -> Option<u32> {
    let mut best: Option<(u32, f32)> = None;
    for (i, &l) in logits.iter().enumerate() {
        let better = best.is_none_or(|(_, b)| l > b);
        if better && l > f32::NEG_INFINITY && mask.is_allowed(i as u32) {
            best = Some((i as u32, l));
        }
    }
    best.map(|(i, _)| i)
}
