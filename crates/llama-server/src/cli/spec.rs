//! Speculative-decoding flags, as llama.cpp's `common/arg.cpp` spells them: `--spec-type` and
//! the `ngram-simple` sizes. Only the drafter that needs no draft model is served; the other
//! types, and every draft-model flag (`-md`, `--spec-draft-*`, see `argv::UNSUPPORTED`), stop
//! the server with an error naming them.

use crate::scheduler::speculative::SpecConfig;

/// `--spec-type` and the `ngram-simple` sizes.
#[derive(Debug, Clone, clap::Args)]
pub struct SpecFlags {
    /// Speculative decoding types, comma-separated: `none` (default) or `ngram-simple` (drafts
    /// from the request's own context); llama.cpp's other types are refused.
    #[arg(long = "spec-type", env = "LLAMA_ARG_SPEC_TYPE", value_delimiter = ',',
          value_parser = parse_spec_type)]
    pub spec_type: Vec<SpecType>,
    /// ngram-simple: length of the looked-up n-gram.
    #[arg(long = "spec-ngram-simple-size-n", default_value_t = 12,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub size_n: u16,
    /// ngram-simple: most tokens drafted (the m-gram after the match).
    #[arg(long = "spec-ngram-simple-size-m", default_value_t = 48,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub size_m: u16,
    /// ngram-simple: accepted for llama.cpp compatibility; its ngram-simple drafter does not
    /// read it either.
    #[arg(long = "spec-ngram-simple-min-hits", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub min_hits: u16,
}

/// A `--spec-type` this server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecType {
    None,
    NgramSimple,
}

/// llama.cpp's `common_speculative_type_from_name_map`, refusing what needs a draft model or
/// a drafter this server lacks.
pub fn parse_spec_type(s: &str) -> Result<SpecType, String> {
    match s {
        "none" => Ok(SpecType::None),
        "ngram-simple" => Ok(SpecType::NgramSimple),
        "draft-simple" | "draft-eagle3" | "draft-mtp" | "draft-dflash" | "draft-dspark" => Err(
            format!("speculative type '{s}' needs a draft model, which this server does not support (supported: none, ngram-simple)"),
        ),
        "ngram-map-k" | "ngram-map-k4v" | "ngram-mod" | "ngram-cache" => Err(format!(
            "speculative type '{s}' is not supported by this server (supported: none, ngram-simple)"
        )),
        other => Err(format!("unknown speculative type: {other}")),
    }
}

impl SpecFlags {
    /// The drafter to run, if any: as llama.cpp, `none` anywhere in the list turns it off.
    pub fn config(&self) -> Option<SpecConfig> {
        let on = self.spec_type.contains(&SpecType::NgramSimple)
            && !self.spec_type.contains(&SpecType::None);
        on.then_some(SpecConfig {
            size_n: usize::from(self.size_n),
            size_m: usize::from(self.size_m),
        })
    }

    /// `speculative.types` as llama.cpp's `generation_settings` shows it.
    pub fn types_name(&self) -> &'static str {
        if self.config().is_some() {
            "ngram-simple"
        } else {
            "none"
        }
    }
}
