//! The architecture registry: `general.architecture` name → the loader of its implementation.
//! Adding an architecture is one file implementing [`Architecture`] plus one line here.

use super::hparams::HParams;
use super::weights::WeightLoader;
use super::{llama, phi3, qwen2, qwen3, qwen3moe, Architecture};
use crate::error::Result;

/// Loads an architecture's weights and returns its graph builder.
pub type LoadFn = fn(&HParams, &mut WeightLoader<'_>) -> Result<Box<dyn Architecture>>;

/// One supported architecture.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The `general.architecture` value, as llama.cpp names it.
    pub name: &'static str,
    pub load: LoadFn,
}

/// Every architecture this engine runs.
const ARCHITECTURES: &[Entry] = &[
    Entry {
        name: "llama",
        load: |hp, w| Ok(Box::new(llama::Llama::load(hp, w)?)),
    },
    Entry {
        name: "qwen2",
        load: |hp, w| Ok(Box::new(qwen2::Qwen2::load(hp, w)?)),
    },
    Entry {
        name: "qwen3",
        load: |hp, w| Ok(Box::new(qwen3::Qwen3::load(hp, w)?)),
    },
    Entry {
        name: "qwen3moe",
        load: |hp, w| Ok(Box::new(qwen3moe::Qwen3Moe::load(hp, w)?)),
    },
    Entry {
        name: "phi3",
        load: |hp, w| Ok(Box::new(phi3::Phi3::load(hp, w)?)),
    },
];

/// The entry for `name`, if supported.
pub fn find(name: &str) -> Option<&'static Entry> {
    ARCHITECTURES.iter().find(|e| e.name == name)
}

/// Names of all supported architectures, in registry order.
pub fn names() -> Vec<&'static str> {
    ARCHITECTURES.iter().map(|e| e.name).collect()
}
