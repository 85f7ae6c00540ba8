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

impl PreSettings {
    /// Settings for a `tokenizer.ggml.pre` value. Missing and unknown names use the `default`
    /// regex list (llama.cpp warns for a missing name and refuses an unknown one; this crate
    /// accepts both silently so that new models still load). Names whose llama.cpp pre-tokenizer
    /// needs other hand-written matchers or unsupported look-arounds (`kimi-k2`, `superbpe`,
    /// `jais-2`, `gemma4`, `whitespace`, ...) are not supported and also get the `default` list.
    pub(crate) fn for_name(name: Option<&str>) -> Self {
        let mut s = PreSettings {
            pre: PreTokenizer::Default,
            ignore_merges: false,
            add_bos: false,
            clean_spaces: true,
            no_default_bos: false,
        };
        let (pre, no_clean) = match name.unwrap_or("default") {
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "jina-v5-nano" => {
                s.ignore_merges = true;
                s.add_bos = true;
                (PreTokenizer::Llama3, false)
            }
            "dbrx" | "smaug-bpe" => (PreTokenizer::Llama3, false),
            "chatglm-bpe" | "glm4" | "glm5" => {
                s.no_default_bos = true;
                s.ignore_merges = name != Some("chatglm-bpe");
                (PreTokenizer::Llama3, false)
            }
            "deepseek-llm" => (PreTokenizer::DeepseekLlm, true),
            "deepseek-coder" => (PreTokenizer::DeepseekCoder, true),
            "falcon" => (PreTokenizer::Falcon, false),
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
            | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "jina-v1-en"
            | "jina-v2-code" | "roberta-bpe" | "mpt" | "olmo" | "jais" | "exaone4" => {
                (PreTokenizer::Gpt2, false)
            }
            "trillion" | "granite-docling" => (PreTokenizer::Gpt2, true),
            "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" | "mellum2" => {
                (PreTokenizer::Smollm, false)
            }
            "command-r" | "smollm" => (PreTokenizer::Smollm, true),
            "stablelm2" | "megrez" => (PreTokenizer::Qwen2, false),
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "hunyuan" | "solar-open"
            | "grok-2" => (PreTokenizer::Qwen2, true),
            "qwen35" => (PreTokenizer::Qwen35, true),
            "bloom" | "gpt3-finnish" => (PreTokenizer::Bloom, false),
            "poro-chat" => (PreTokenizer::Bloom, true),
            "viking" => (PreTokenizer::Viking, true),
            "chameleon" => {
                s.add_bos = true;
                (PreTokenizer::Chameleon, true)
            }
            "laguna" => (PreTokenizer::Laguna, true),
            "deepseek-v3" | "hunyuan-dense" | "joyai-llm" | "hy_v4" => {
                (PreTokenizer::Deepseek3, true)
            }
            "spark2_5" => (PreTokenizer::Spark25, true),
            "youtu" => {
                s.ignore_merges = true;
                (PreTokenizer::Youtu, true)
            }
            "tekken" => {
                s.ignore_merges = true;
                s.add_bos = true;
                (PreTokenizer::Tekken, true)
            }
            "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => {
                (PreTokenizer::Gpt4o, true)
            }
            "granite-embed-multi-97m" => {
                s.ignore_merges = true;
                (PreTokenizer::GraniteEmbMulti, true)
            }
            "bailingmoe" | "bailingmoe2" | "llada-moe" => (PreTokenizer::Bailingmoe, true),
            "seed-coder" => (PreTokenizer::SeedCoder, true),
            "ufakzeka" => (PreTokenizer::Ufakzeka, true),
            "exaone-moe" => (PreTokenizer::ExaoneMoe, false),
            "tiny_aya" | "cohere2moe" => (PreTokenizer::TinyAya, true),
            "afmoe" => (PreTokenizer::Afmoe, true),
            "minicpm5" => {
                s.ignore_merges = true;
                (PreTokenizer::Minicpm5, false)
            }
            _ => (PreTokenizer::Default, false),
        };
        s.pre = pre;
        s.clean_spaces = !no_clean;
        s
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
}
