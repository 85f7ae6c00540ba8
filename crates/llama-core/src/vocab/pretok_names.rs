//! `tokenizer.ggml.pre` names: the pre-tokenizer and flags that llama.cpp's vocabulary loader
//! (`llama_vocab::impl::load`) picks for each.

use super::pretok::PreTokenizer;

/// Per-`tokenizer.ggml.pre` settings that llama.cpp derives from the pre-tokenizer name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PreSettings {
    pub pre: PreTokenizer,
    /// Whole words that are tokens skip the merge loop (Llama-3 family).
    pub ignore_merges: bool,
    /// Default for `add_bos` when the GGUF key is absent.
    pub add_bos: bool,
    /// `clean_up_tokenization_spaces` applied by `detokenize`.
    pub clean_spaces: bool,
    /// The BPE default BOS id (11) is dropped (ChatGLM).
    pub no_default_bos: bool,
}

/// One row of llama.cpp's name table: the names, their pre-tokenizer and the flags they set.
struct Row {
    names: &'static [&'static str],
    settings: PreSettings,
}

const fn row(names: &'static [&'static str], pre: PreTokenizer) -> Row {
    Row {
        names,
        settings: PreSettings {
            pre,
            ignore_merges: false,
            add_bos: false,
            clean_spaces: true,
            no_default_bos: false,
        },
    }
}

impl Row {
    const fn ignore_merges(mut self) -> Self {
        self.settings.ignore_merges = true;
        self
    }
    const fn add_bos(mut self) -> Self {
        self.settings.add_bos = true;
        self
    }
    const fn no_clean(mut self) -> Self {
        self.settings.clean_spaces = false;
        self
    }
    const fn no_default_bos(mut self) -> Self {
        self.settings.no_default_bos = true;
        self
    }
}

use PreTokenizer as P;

/// `llama_vocab::impl::load`'s `tokenizer.ggml.pre` branches, in its order.
const ROWS: &[Row] = &[
    row(
        &[
            "llama3",
            "llama-v3",
            "llama-bpe",
            "falcon3",
            "falcon-h1",
            "pixtral",
            "midm-2.0",
            "lfm2",
            "jina-v5-nano",
        ],
        P::Llama3,
    )
    .ignore_merges()
    .add_bos(),
    row(&["deepseek-llm"], P::DeepseekLlm).no_clean(),
    row(&["deepseek-coder"], P::DeepseekCoder).no_clean(),
    row(
        &["deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm"],
        P::Deepseek3,
    )
    .no_clean(),
    row(&["spark2_5"], P::Spark25).no_clean(),
    row(&["youtu"], P::Youtu).no_clean().ignore_merges(),
    row(&["falcon"], P::Falcon),
    row(
        &[
            "gpt-2",
            "phi-2",
            "jina-es",
            "jina-de",
            "gigachat",
            "jina-v2-es",
            "jina-v2-de",
            "a.x-4.0",
            "mellum",
            "modern-bert",
            "jina-v1-en",
            "jina-v2-code",
            "roberta-bpe",
            "mpt",
            "olmo",
            "jais",
            "exaone4",
        ],
        P::Gpt2,
    ),
    row(&["trillion", "granite-docling"], P::Gpt2).no_clean(),
    row(
        &[
            "starcoder",
            "refact",
            "codeshell",
            "exaone",
            "minerva-7b",
            "mellum2",
        ],
        P::Smollm,
    ),
    row(&["command-r", "smollm"], P::Smollm).no_clean(),
    row(&["stablelm2", "megrez"], P::Qwen2),
    row(
        &[
            "qwen2",
            "deepseek-r1-qwen",
            "kormo",
            "f2llmv2",
            "hunyuan",
            "solar-open",
            "grok-2",
        ],
        P::Qwen2,
    )
    .no_clean(),
    row(&["qwen35"], P::Qwen35).no_clean(),
    row(&["dbrx", "smaug-bpe"], P::Llama3),
    row(&["poro-chat"], P::Bloom).no_clean(),
    row(&["bloom", "gpt3-finnish"], P::Bloom),
    row(&["chatglm-bpe"], P::Llama3).no_default_bos(),
    row(&["glm4", "glm5"], P::Llama3)
        .no_default_bos()
        .ignore_merges(),
    row(&["viking"], P::Viking).no_clean(),
    row(&["tekken"], P::Tekken)
        .no_clean()
        .ignore_merges()
        .add_bos(),
    row(&["chameleon"], P::Chameleon).add_bos().no_clean(),
    row(&["exaone-moe"], P::ExaoneMoe),
    row(
        &["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"],
        P::Gpt4o,
    )
    .no_clean(),
    row(&["granite-embed-multi-97m"], P::GraniteEmbMulti)
        .no_clean()
        .ignore_merges(),
    row(&["tiny_aya", "cohere2moe"], P::TinyAya).no_clean(),
    row(&["bailingmoe", "bailingmoe2", "llada-moe"], P::Bailingmoe).no_clean(),
    row(&["seed-coder"], P::SeedCoder).no_clean(),
    row(&["ufakzeka"], P::Ufakzeka).no_clean(),
    row(&["afmoe"], P::Afmoe).no_clean(),
    row(&["laguna"], P::Laguna).no_clean(),
    row(&["minicpm5"], P::Minicpm5).ignore_merges(),
];

impl PreSettings {
    /// Settings for a `tokenizer.ggml.pre` value. Missing and unknown names use the `default`
    /// regex list (llama.cpp warns for a missing name and refuses an unknown one; this crate
    /// accepts both silently so that new models still load). Names whose llama.cpp pre-tokenizer
    /// needs other hand-written matchers or unsupported look-arounds (`kimi-k2`, `superbpe`,
    /// `jais-2`, `gemma4`, `whitespace`, ...) are not supported and also get the `default` list.
    pub(crate) fn for_name(name: Option<&str>) -> Self {
        let name = name.unwrap_or("default");
        ROWS.iter()
            .find(|r| r.names.contains(&name))
            .map_or(row(&[], P::Default).settings, |r| r.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_names_select_llama_cpp_settings() {
        let smollm = PreSettings::for_name(Some("smollm"));
        assert_eq!(smollm.pre, PreTokenizer::Smollm);
        assert!(!smollm.clean_spaces && !smollm.ignore_merges && !smollm.add_bos);
        let llama3 = PreSettings::for_name(Some("llama-bpe"));
        assert_eq!(llama3.pre, PreTokenizer::Llama3);
        assert!(llama3.ignore_merges && llama3.add_bos && llama3.clean_spaces);
        assert_eq!(
            PreSettings::for_name(Some("qwen2")).pre,
            PreTokenizer::Qwen2
        );
        assert_eq!(PreSettings::for_name(Some("gpt-2")).pre, PreTokenizer::Gpt2);
        assert_eq!(
            PreSettings::for_name(Some("no-such-pre")).pre,
            PreTokenizer::Default
        );
        assert_eq!(PreSettings::for_name(None).pre, PreTokenizer::Default);
        assert!(PreSettings::for_name(Some("chatglm-bpe")).no_default_bos);
    }

    #[test]
    fn deepseek_and_glm_names_follow_llama_cpp() {
        let ds = PreSettings::for_name(Some("deepseek-coder"));
        assert_eq!(ds.pre, PreTokenizer::DeepseekCoder);
        assert!(!ds.clean_spaces && !ds.add_bos);
        let glm = PreSettings::for_name(Some("glm4"));
        assert!(glm.ignore_merges && glm.no_default_bos);
        assert!(!PreSettings::for_name(Some("chatglm-bpe")).ignore_merges);
        assert!(PreSettings::for_name(Some("falcon")).clean_spaces);
    }

    #[test]
    fn every_name_has_one_row_and_flags_follow_llama_cpp() {
        let mut all: Vec<&str> = ROWS.iter().flat_map(|r| r.names.iter().copied()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        let tekken = PreSettings::for_name(Some("tekken"));
        assert!(tekken.ignore_merges && tekken.add_bos && !tekken.clean_spaces);
        let minicpm5 = PreSettings::for_name(Some("minicpm5"));
        assert!(minicpm5.ignore_merges && minicpm5.clean_spaces && !minicpm5.add_bos);
        assert_eq!(
            PreSettings::for_name(Some("llama4")).pre,
            PreTokenizer::Gpt4o
        );
    }
}
