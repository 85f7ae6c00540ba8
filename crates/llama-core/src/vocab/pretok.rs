//! BPE pre-tokenizers: split text into words the way llama.cpp's `unicode_regex_split` does for
//! each `tokenizer.ggml.pre` value.
//!
//! llama.cpp applies a list of regexes in sequence; each one re-splits every piece produced by the
//! previous one, and both the matches and the gaps between matches become pieces. The GPT-2 /
//! Llama-3 / Qwen2 regexes use hand-written matchers there (`pretok_custom`, reproduced exactly,
//! including their behaviour at piece boundaries); every other regex goes through `std::regex`
//! (`pretok_regex`, with llama.cpp's category-collapsing trick). Single-class regexes on hot paths
//! use equivalent class-run scanners.

use super::pretok_custom::{split_afmoe_digits, split_class, Class, Count, Splitter};
use super::pretok_regex::{RegexStage, TextViews};

/// Which pre-tokenizer regex list a BPE vocabulary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// llama.cpp's `default` list (also used for unknown or missing `tokenizer.ggml.pre`).
    Default,
    /// The GPT-2 regex alone (`gpt-2`, `phi-2`, `mpt`, `olmo`, `jais`, ...).
    Gpt2,
    /// The Llama-3 regex (`llama3`, `llama-bpe`, `dbrx`, `smaug-bpe`, `chatglm-bpe`, ...).
    Llama3,
    /// Single digits, then the GPT-2 regex (`smollm`, `starcoder`, `refact`, `command-r`, ...).
    Smollm,
    /// The Qwen2 regex: Llama-3's with single digits (`qwen2`, `stablelm2`, `deepseek-r1-qwen`, ...).
    Qwen2,
    /// `qwen35`: the Qwen2 regex with combining marks inside letter runs.
    Qwen35,
    /// `deepseek-llm`: newlines, Latin/Greek/Cyrillic-like letter runs, ASCII/CJK punctuation,
    /// trailing whitespace, CJK runs, digit runs.
    DeepseekLlm,
    /// `deepseek-coder`: newlines, letter runs, punctuation runs, CJK runs, single digits.
    DeepseekCoder,
    /// `falcon`: punctuation/math runs, the GPT-2 regex, three-digit groups.
    Falcon,
    /// `bloom`, `poro-chat`, `gpt3-finnish`: words up to whitespace or sentence punctuation.
    Bloom,
    /// `viking`: the Bloom regex, then single digits.
    Viking,
    /// `chameleon`: sentinel and image tokens, tabs/newlines/space pairs, digits, punctuation,
    /// then the GPT-2 regex.
    Chameleon,
    /// `laguna`: lines and newline runs, then the Qwen2 regex.
    Laguna,
    /// `deepseek-v3`, `hunyuan-dense`, `joyai-llm`, `hy_v4`: up to three digits, CJK/kana runs, then
    /// ASCII-punctuation-led words, letter+mark runs, punctuation runs and whitespace.
    Deepseek3,
    /// `spark2_5`: the DeepSeek-V3 list with single newlines, then single digits.
    Spark25,
    /// `youtu`: Korean/CJK/kana/CJK-punctuation runs, then a case-aware word regex.
    Youtu,
    /// `tekken`: case-aware words (upper* lower+ | upper+ lower*), single digits.
    Tekken,
    /// `gpt-4o`, `llama4`, `kanana2`, `talkie`, `minimax-m2`: Tekken-style words with contractions,
    /// up to three digits.
    Gpt4o,
    /// `granite-embed-multi-97m`: the GPT-4o regex with combining marks as letters.
    GraniteEmbMulti,
    /// `bailingmoe`, `bailingmoe2`, `llada-moe`: the Qwen2 regex with single newlines.
    Bailingmoe,
    /// `seed-coder`: the Qwen2 regex without newlines in punctuation runs.
    SeedCoder,
    /// `ufakzeka`: the Qwen2 regex without contractions.
    Ufakzeka,
    /// `exaone-moe`: letter+mark runs joined by single spaces.
    ExaoneMoe,
    /// `minicpm5`: up to three digits, then the Llama-3 regex with digit runs.
    Minicpm5,
    /// `tiny_aya`, `cohere2moe`: digits grouped by three from the right, then GPT-4o-style words.
    TinyAya,
    /// `afmoe`: digits grouped by three from the right, CJK/Southeast Asian runs, DeepSeek-V3-style
    /// words.
    Afmoe,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// `(?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    /// with `[\p{L}\p{M}]` for `\p{L}` when `marks` is set.
    Llama3 { max_digits: usize, marks: bool },
    /// A character class with a repetition count.
    Class(Class, Count),
    /// llama.cpp's hand-written AFMoE digit grouping.
    AfmoeDigits,
    /// Any other regex, run like llama.cpp's `std::regex` fallback.
    Regex(&'static RegexStage),
}

static NUMBER_RUN: RegexStage = RegexStage::new(r"\p{N}+");
static NUMBER: RegexStage = RegexStage::new(r"\p{N}");
static NEWLINE: RegexStage = RegexStage::new("[\r\n]");
static CJK: RegexStage = RegexStage::new(r"[一-龥ࠀ-一가-퟿]+");
static DS_LETTERS: RegexStage = RegexStage::new(
    r"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
);
static DS_PUNCT: RegexStage = RegexStage::new(r"\s?[!-/:-~！-／：-～‘-‟　-。]+");
static TRAILING_SPACE: RegexStage = RegexStage::new(r"\s+$");
static LETTER_RUN: RegexStage = RegexStage::new(r"\s?\p{L}+");
static PUNCT_RUN: RegexStage = RegexStage::new(r"\s?\p{P}+");
static FALCON_PUNCT: RegexStage = RegexStage::new(r"[\p{P}\$\+<=>\^~\|`]+");
static BLOOM_WORD: RegexStage = RegexStage::new(r" ?[^(\s|.,!?…。，、।۔،)]+");
static SENTINEL: RegexStage = RegexStage::new(r"<sentinel:[0-9]+>");
static IMAGE: RegexStage = RegexStage::new(r"(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z");
static SPACING: RegexStage = RegexStage::new("([\\t\\n]|    |  )");
static ASCII_PUNCT: RegexStage = RegexStage::new(r"[\p{P}!-/:-@\[-`{-~]");
static LINES: RegexStage = RegexStage::new(r"[^\n]+|[\n]+");

static DEFAULT_STAGES: [Stage; 4] = [
    Stage::Class(Class::PunctOrMathAscii, Count::OneOrMore),
    Stage::Gpt2,
    Stage::Class(Class::Number, Count::OneOrMore),
    Stage::Class(Class::AsciiDigit, Count::Exactly(3)),
];
static GPT2_STAGES: [Stage; 1] = [Stage::Gpt2];
static LLAMA3_STAGES: [Stage; 1] = [Stage::Llama3 {
    max_digits: 3,
    marks: false,
}];
static SMOLLM_STAGES: [Stage; 2] = [Stage::Class(Class::Number, Count::One), Stage::Gpt2];
static QWEN2_STAGES: [Stage; 1] = [Stage::Llama3 {
    max_digits: 1,
    marks: false,
}];
static QWEN35_STAGES: [Stage; 1] = [Stage::Llama3 {
    max_digits: 1,
    marks: true,
}];
static DEEPSEEK_LLM_STAGES: [Stage; 6] = [
    Stage::Regex(&NEWLINE),
    Stage::Regex(&DS_LETTERS),
    Stage::Regex(&DS_PUNCT),
    Stage::Regex(&TRAILING_SPACE),
    Stage::Regex(&CJK),
    Stage::Regex(&NUMBER_RUN),
];
static DEEPSEEK_CODER_STAGES: [Stage; 5] = [
    Stage::Regex(&NEWLINE),
    Stage::Regex(&LETTER_RUN),
    Stage::Regex(&PUNCT_RUN),
    Stage::Regex(&CJK),
    Stage::Regex(&NUMBER),
];
static FALCON_STAGES: [Stage; 3] = [
    Stage::Regex(&FALCON_PUNCT),
    Stage::Gpt2,
    Stage::Class(Class::AsciiDigit, Count::Exactly(3)),
];
static BLOOM_STAGES: [Stage; 1] = [Stage::Regex(&BLOOM_WORD)];
static VIKING_STAGES: [Stage; 2] = [Stage::Regex(&BLOOM_WORD), Stage::Regex(&NUMBER)];
static CHAMELEON_STAGES: [Stage; 6] = [
    Stage::Regex(&SENTINEL),
    Stage::Regex(&IMAGE),
    Stage::Regex(&SPACING),
    Stage::Regex(&NUMBER),
    Stage::Regex(&ASCII_PUNCT),
    Stage::Gpt2,
];
// Regex lists with look-arounds (rewritten exactly by `pretok_regex`).
static NUMBER_1_3: RegexStage = RegexStage::new("\\p{N}{1,3}");
static CJK_KANA: RegexStage = RegexStage::new("[一-龥぀-ゟ゠-ヿ]+");
static DS3_MAIN: RegexStage = RegexStage::new(
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
);
static SPARK_MAIN: RegexStage = RegexStage::new(
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+",
);
static YOUTU_CJK: RegexStage =
    RegexStage::new("[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+");
static YOUTU_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static TEKKEN_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static GPT4O_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static GRANITE_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))*((?=[\\p{L}\\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}\\p{M}])([^a-z]))+((?=[\\p{L}\\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static BAILING_MAIN: RegexStage = RegexStage::new(
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
);
static SEED_MAIN: RegexStage = RegexStage::new(
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static UFAK_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static EXAONE_MOE_MAIN: RegexStage = RegexStage::new(
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+",
);
static MINICPM5_MAIN: RegexStage = RegexStage::new(
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static DEEPSEEK3_LLM_STAGES: [Stage; 3] = [
    Stage::Regex(&NUMBER_1_3),
    Stage::Regex(&CJK_KANA),
    Stage::Regex(&DS3_MAIN),
];
static SPARK2_5_STAGES: [Stage; 4] = [
    Stage::Regex(&NUMBER_1_3),
    Stage::Regex(&CJK_KANA),
    Stage::Regex(&SPARK_MAIN),
    Stage::Regex(&NUMBER),
];
static YOUTU_STAGES: [Stage; 2] = [Stage::Regex(&YOUTU_CJK), Stage::Regex(&YOUTU_MAIN)];
static TEKKEN_STAGES: [Stage; 1] = [Stage::Regex(&TEKKEN_MAIN)];
static GPT4O_STAGES: [Stage; 1] = [Stage::Regex(&GPT4O_MAIN)];
static GRANITE_EMB_MULTI_STAGES: [Stage; 1] = [Stage::Regex(&GRANITE_MAIN)];
static BAILINGMOE_STAGES: [Stage; 1] = [Stage::Regex(&BAILING_MAIN)];
static SEED_CODER_STAGES: [Stage; 1] = [Stage::Regex(&SEED_MAIN)];
static UFAKZEKA_STAGES: [Stage; 1] = [Stage::Regex(&UFAK_MAIN)];
static EXAONE_MOE_STAGES: [Stage; 1] = [Stage::Regex(&EXAONE_MOE_MAIN)];
static MINICPM5_STAGES: [Stage; 2] = [Stage::Regex(&NUMBER_1_3), Stage::Regex(&MINICPM5_MAIN)];
static TINY_AYA_MAIN: RegexStage = RegexStage::new(
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static AFMOE_CJK: RegexStage =
    RegexStage::new("[一-鿿㐀-䶿豈-﫿぀-ゟ゠-ヿ･-ﾟ⼀-⿟เ-๿຀-໿ក-៿က-႟ꩠ-ꩿꧠ-꧿가-힯ᄀ-ᇿ]+");
static AFMOE_MAIN: RegexStage = RegexStage::new(
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
);
static TINY_AYA_STAGES: [Stage; 2] = [Stage::AfmoeDigits, Stage::Regex(&TINY_AYA_MAIN)];
static AFMOE_STAGES: [Stage; 3] = [
    Stage::AfmoeDigits,
    Stage::Regex(&AFMOE_CJK),
    Stage::Regex(&AFMOE_MAIN),
];
static LAGUNA_STAGES: [Stage; 2] = [
    Stage::Regex(&LINES),
    Stage::Llama3 {
        max_digits: 1,
        marks: false,
    },
];

impl PreTokenizer {
    /// Every pre-tokenizer (for tests).
    #[cfg(test)]
    pub(crate) const ALL: [PreTokenizer; 26] = [
        PreTokenizer::Default,
        PreTokenizer::Gpt2,
        PreTokenizer::Llama3,
        PreTokenizer::Smollm,
        PreTokenizer::Qwen2,
        PreTokenizer::Qwen35,
        PreTokenizer::DeepseekLlm,
        PreTokenizer::DeepseekCoder,
        PreTokenizer::Falcon,
        PreTokenizer::Bloom,
        PreTokenizer::Viking,
        PreTokenizer::Chameleon,
        PreTokenizer::Laguna,
        PreTokenizer::Deepseek3,
        PreTokenizer::Spark25,
        PreTokenizer::Youtu,
        PreTokenizer::Tekken,
        PreTokenizer::Gpt4o,
        PreTokenizer::GraniteEmbMulti,
        PreTokenizer::Bailingmoe,
        PreTokenizer::SeedCoder,
        PreTokenizer::Ufakzeka,
        PreTokenizer::ExaoneMoe,
        PreTokenizer::Minicpm5,
        PreTokenizer::TinyAya,
        PreTokenizer::Afmoe,
    ];

    fn stages(self) -> &'static [Stage] {
        match self {
            PreTokenizer::Default => &DEFAULT_STAGES,
            PreTokenizer::Gpt2 => &GPT2_STAGES,
            PreTokenizer::Llama3 => &LLAMA3_STAGES,
            PreTokenizer::Smollm => &SMOLLM_STAGES,
            PreTokenizer::Qwen2 => &QWEN2_STAGES,
            PreTokenizer::Qwen35 => &QWEN35_STAGES,
            PreTokenizer::DeepseekLlm => &DEEPSEEK_LLM_STAGES,
            PreTokenizer::DeepseekCoder => &DEEPSEEK_CODER_STAGES,
            PreTokenizer::Falcon => &FALCON_STAGES,
            PreTokenizer::Bloom => &BLOOM_STAGES,
            PreTokenizer::Viking => &VIKING_STAGES,
            PreTokenizer::Chameleon => &CHAMELEON_STAGES,
            PreTokenizer::Laguna => &LAGUNA_STAGES,
            PreTokenizer::Deepseek3 => &DEEPSEEK3_LLM_STAGES,
            PreTokenizer::Spark25 => &SPARK2_5_STAGES,
            PreTokenizer::Youtu => &YOUTU_STAGES,
            PreTokenizer::Tekken => &TEKKEN_STAGES,
            PreTokenizer::Gpt4o => &GPT4O_STAGES,
            PreTokenizer::GraniteEmbMulti => &GRANITE_EMB_MULTI_STAGES,
            PreTokenizer::Bailingmoe => &BAILINGMOE_STAGES,
            PreTokenizer::SeedCoder => &SEED_CODER_STAGES,
            PreTokenizer::Ufakzeka => &UFAKZEKA_STAGES,
            PreTokenizer::ExaoneMoe => &EXAONE_MOE_STAGES,
            PreTokenizer::Minicpm5 => &MINICPM5_STAGES,
            PreTokenizer::TinyAya => &TINY_AYA_STAGES,
            PreTokenizer::Afmoe => &AFMOE_STAGES,
        }
    }

    /// Splits `text` into consecutive, non-empty words covering all of it.
    pub fn split(self, text: &str) -> Vec<&str> {
        let chars: Vec<char> = text.chars().collect();
        let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        offsets.push(text.len());
        let views = TextViews::new(&chars);
        let mut pieces = if chars.is_empty() {
            Vec::new()
        } else {
            vec![chars.len()]
        };
        for stage in self.stages() {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            let mut start = 0;
            for len in pieces {
                stage.split(&views, start, len, &mut next);
                start += len;
            }
            pieces = next;
        }
        let mut words = Vec::with_capacity(pieces.len());
        let mut start = 0;
        for len in pieces {
            words.push(&text[offsets[start]..offsets[start + len]]);
            start += len;
        }
        words
    }
}

impl Stage {
    fn split(self, text: &TextViews<'_>, start: usize, len: usize, out: &mut Vec<usize>) {
        let piece = &text.chars()[start..start + len];
        match self {
            Stage::Gpt2 => Splitter::new(piece, out).gpt2(),
            Stage::Llama3 { max_digits, marks } => {
                Splitter::new(piece, out).llama3(max_digits, marks)
            }
            Stage::Class(class, count) => split_class(piece, class, count, out),
            Stage::AfmoeDigits => split_afmoe_digits(piece, out),
            Stage::Regex(re) => re.split(text, start, len, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pre: PreTokenizer, text: &str) -> Vec<&str> {
        pre.split(text)
    }

    #[test]
    fn gpt2_splits_words_contractions_and_trailing_space_runs() {
        assert_eq!(
            split(PreTokenizer::Gpt2, "Hello world's  end  "),
            ["Hello", " world", "'s", " ", " end", "  "]
        );
        assert_eq!(split(PreTokenizer::Gpt2, "a\n\n b"), ["a", "\n\n", " b"]);
        assert_eq!(
            split(PreTokenizer::Gpt2, " 123abc!!?"),
            [" 123", "abc", "!!?"]
        );
        assert_eq!(split(PreTokenizer::Gpt2, "'S x"), ["'", "S", " x"]);
    }

    #[test]
    fn smollm_isolates_every_digit_before_gpt2_splitting() {
        assert_eq!(
            split(PreTokenizer::Smollm, "x 1234 -42"),
            ["x", " ", "1", "2", "3", "4", " -", "4", "2"]
        );
        assert_eq!(split(PreTokenizer::Smollm, "3.14"), ["3", ".", "1", "4"]);
    }

    #[test]
    fn llama3_groups_digits_by_three_and_keeps_newlines_together() {
        assert_eq!(split(PreTokenizer::Llama3, "1234567"), ["123", "456", "7"]);
        assert_eq!(
            split(PreTokenizer::Llama3, "I'M ok\n\n  x"),
            ["I", "'M", " ok", "\n\n", " ", " x"]
        );
        assert_eq!(
            split(PreTokenizer::Llama3, "foo(bar);\n"),
            ["foo", "(bar", ");\n"]
        );
    }

    #[test]
    fn qwen2_splits_single_digits() {
        assert_eq!(
            split(PreTokenizer::Qwen2, "x=123"),
            ["x", "=", "1", "2", "3"]
        );
    }

    #[test]
    fn qwen35_keeps_combining_marks_in_letter_runs() {
        let text = "x\u{301}y !\u{301}";
        assert_eq!(
            split(PreTokenizer::Qwen2, text),
            ["x", "\u{301}y", " !\u{301}"]
        );
        assert_eq!(
            split(PreTokenizer::Qwen35, text),
            ["x\u{301}y", " !", "\u{301}"]
        );
    }

    #[test]
    fn afmoe_digits_group_from_the_right_and_glue_preceding_text() {
        let digits = [Stage::AfmoeDigits];
        let split = |text: &str| {
            let chars: Vec<char> = text.chars().collect();
            let views = TextViews::new(&chars);
            let mut out = Vec::new();
            digits[0].split(&views, 0, chars.len(), &mut out);
            out
        };
        assert_eq!(split("1234567"), [1, 3, 3]);
        assert_eq!(split("ab1234 x"), [3, 3, 2]);
        assert_eq!(split("ab123"), [5]);
    }

    #[test]
    fn default_splits_punctuation_runs_and_three_digit_groups() {
        assert_eq!(
            split(PreTokenizer::Default, "a+=12345"),
            ["a", "+=", "123", "45"]
        );
        assert_eq!(split(PreTokenizer::Default, "x, y"), ["x", ",", " y"]);
    }

    #[test]
    fn deepseek_and_falcon_follow_their_regex_lists() {
        assert_eq!(
            split(PreTokenizer::DeepseekLlm, "Hi (x)\n12 我想 ok  "),
            ["Hi", " (", "x", ")", "\n", "12", " ", "我想", " ok", "  "]
        );
        assert_eq!(
            split(PreTokenizer::DeepseekCoder, " (a1)\r\n"),
            [" (", "a", "1", ")", "\r", "\n"]
        );
        assert_eq!(
            split(PreTokenizer::Falcon, "ied 4 ½ x`y 12345"),
            ["ied", " 4", " ½", " x", "`", "y", " ", "123", "45"]
        );
    }

    #[test]
    fn split_covers_the_input_exactly() {
        let text = "Ünïcödé  \t\r\n 日本語 🦙🔥 don't 12,345.6\u{a0}x";
        for pre in PreTokenizer::ALL {
            let words = split(pre, text);
            assert!(words.iter().all(|w| !w.is_empty()));
            assert_eq!(words.concat(), text, "{pre:?}");
        }
        assert!(split(PreTokenizer::Gpt2, "").is_empty());
    }
}
