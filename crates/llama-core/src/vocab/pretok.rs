//! BPE pre-tokenizers: split text into words the way llama.cpp's `unicode_regex_split` does for
//! each `tokenizer.ggml.pre` value.
//!
//! llama.cpp applies a list of regexes in sequence; each one re-splits every piece produced by the
//! previous one, and both the matches and the gaps between matches become pieces. The two big
//! GPT-2 / Llama-3 style regexes use hand-written matchers there (reproduced here exactly,
//! including their behaviour at piece boundaries); the remaining simple character-class regexes
//! are implemented as class-run scanners with the same leftmost-match semantics.

use super::unicode::{category, Category, Flags};

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
}

/// How many consecutive class members one regex match takes.
#[derive(Clone, Copy, Debug)]
enum Count {
    One,
    OneOrMore,
    Exactly(usize),
}

#[derive(Clone, Copy, Debug)]
enum Class {
    /// `\p{N}`
    Number,
    /// `[0-9]`
    AsciiDigit,
    /// `[\p{P}\$\+<=>\^~\|]`
    PunctOrMathAscii,
}

#[derive(Clone, Copy, Debug)]
enum Stage {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
    Gpt2,
    /// `(?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    Llama3 { max_digits: usize },
    /// A character class with a repetition count.
    Class(Class, Count),
}

const DEFAULT_STAGES: &[Stage] = &[
    Stage::Class(Class::PunctOrMathAscii, Count::OneOrMore),
    Stage::Gpt2,
    Stage::Class(Class::Number, Count::OneOrMore),
    Stage::Class(Class::AsciiDigit, Count::Exactly(3)),
];
const GPT2_STAGES: &[Stage] = &[Stage::Gpt2];
const LLAMA3_STAGES: &[Stage] = &[Stage::Llama3 { max_digits: 3 }];
const SMOLLM_STAGES: &[Stage] = &[Stage::Class(Class::Number, Count::One), Stage::Gpt2];
const QWEN2_STAGES: &[Stage] = &[Stage::Llama3 { max_digits: 1 }];

impl PreTokenizer {
    fn stages(self) -> &'static [Stage] {
        match self {
            PreTokenizer::Default => DEFAULT_STAGES,
            PreTokenizer::Gpt2 => GPT2_STAGES,
            PreTokenizer::Llama3 => LLAMA3_STAGES,
            PreTokenizer::Smollm => SMOLLM_STAGES,
            PreTokenizer::Qwen2 => QWEN2_STAGES,
        }
    }

    /// Splits `text` into consecutive, non-empty words covering all of it.
    pub fn split(self, text: &str) -> Vec<&str> {
        let chars: Vec<char> = text.chars().collect();
        let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        offsets.push(text.len());
        let mut pieces = if chars.is_empty() {
            Vec::new()
        } else {
            vec![chars.len()]
        };
        for stage in self.stages() {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            let mut start = 0;
            for len in pieces {
                stage.split(&chars[start..start + len], &mut next);
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

const LLAMA3_NAMES: &[&str] = &[
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
];
const GPT2_NAMES: &[&str] = &[
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
    "mpt",
    "olmo",
    "jais",
    "exaone4",
    "jina-v1-en",
    "jina-v2-code",
    "roberta-bpe",
    "trillion",
    "granite-docling",
];
const SMOLLM_NAMES: &[&str] = &[
    "starcoder",
    "refact",
    "codeshell",
    "exaone",
    "minerva-7b",
    "mellum2",
    "command-r",
    "smollm",
];
const QWEN2_NAMES: &[&str] = &[
    "stablelm2",
    "megrez",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "hunyuan",
    "solar-open",
    "grok-2",
];
/// Names for which llama.cpp turns `clean_spaces` off.
const NO_CLEAN_NAMES: &[&str] = &[
    "trillion",
    "granite-docling",
    "command-r",
    "smollm",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "hunyuan",
    "solar-open",
    "grok-2",
];

impl PreSettings {
    /// Settings for a `tokenizer.ggml.pre` value. Missing and unknown names use the `default`
    /// regex list (llama.cpp warns for a missing name and refuses an unknown one; this crate
    /// accepts both silently so that new models still load).
    pub(crate) fn for_name(name: Option<&str>) -> Self {
        let name = name.unwrap_or("default");
        let is = |list: &[&str]| list.contains(&name);
        let pre =
            if is(LLAMA3_NAMES) || matches!(name, "dbrx" | "smaug-bpe" | "glm4" | "chatglm-bpe") {
                PreTokenizer::Llama3
            } else if is(GPT2_NAMES) {
                PreTokenizer::Gpt2
            } else if is(SMOLLM_NAMES) {
                PreTokenizer::Smollm
            } else if is(QWEN2_NAMES) {
                PreTokenizer::Qwen2
            } else {
                PreTokenizer::Default
            };
        PreSettings {
            pre,
            ignore_merges: is(LLAMA3_NAMES),
            add_bos: is(LLAMA3_NAMES),
            clean_spaces: !is(NO_CLEAN_NAMES),
            no_default_bos: matches!(name, "glm4" | "chatglm-bpe"),
        }
    }
}

impl Stage {
    fn split(self, piece: &[char], out: &mut Vec<usize>) {
        match self {
            Stage::Gpt2 => Splitter::new(piece, out).gpt2(),
            Stage::Llama3 { max_digits } => Splitter::new(piece, out).llama3(max_digits),
            Stage::Class(class, count) => split_class(piece, class, count, out),
        }
    }
}

impl Class {
    fn contains(self, c: char) -> bool {
        match self {
            Class::Number => category(c) == Category::Number,
            Class::AsciiDigit => c.is_ascii_digit(),
            Class::PunctOrMathAscii => {
                matches!(c, '$' | '+' | '<' | '=' | '>' | '^' | '~' | '|')
                    || category(c) == Category::Punctuation
            }
        }
    }
}

/// Leftmost-first regex splitting for `class{count}`: matches and the gaps between them.
fn split_class(piece: &[char], class: Class, count: Count, out: &mut Vec<usize>) {
    let n = piece.len();
    let run_at = |pos: usize| {
        piece[pos..]
            .iter()
            .take_while(|&&c| class.contains(c))
            .count()
    };
    let mut gap_start = 0;
    let mut pos = 0;
    while pos < n {
        let len = match count {
            Count::One => usize::from(class.contains(piece[pos])),
            Count::OneOrMore => run_at(pos),
            Count::Exactly(k) => {
                if piece[pos..]
                    .iter()
                    .take(k)
                    .filter(|&&c| class.contains(c))
                    .count()
                    == k
                {
                    k
                } else {
                    0
                }
            }
        };
        if len == 0 {
            pos += 1;
            continue;
        }
        if pos > gap_start {
            out.push(pos - gap_start);
        }
        out.push(len);
        pos += len;
        gap_start = pos;
    }
    if n > gap_start {
        out.push(n - gap_start);
    }
}

/// State of one hand-written regex matcher over one piece.
struct Splitter<'a, 'o> {
    c: &'a [char],
    out: &'o mut Vec<usize>,
    prev_end: usize,
}

impl<'a, 'o> Splitter<'a, 'o> {
    fn new(c: &'a [char], out: &'o mut Vec<usize>) -> Self {
        Splitter {
            c,
            out,
            prev_end: 0,
        }
    }

    /// Code point at `pos`, or `None` past the piece (llama.cpp's OUT_OF_RANGE).
    fn cpt(&self, pos: usize) -> Option<char> {
        self.c.get(pos).copied()
    }

    fn flags(&self, pos: usize) -> Flags {
        self.cpt(pos).map(Flags::of).unwrap_or_default()
    }

    /// Ends the current word at `end`; returns its length (empty words are not emitted).
    fn emit(&mut self, end: usize) -> usize {
        let len = end - self.prev_end;
        if len > 0 {
            self.out.push(len);
        }
        self.prev_end = end;
        len
    }

    /// Length of an English contraction (`'s`, `'re`, ...) starting at `pos`, or 0.
    fn contraction(&self, pos: usize, ignore_case: bool) -> usize {
        let n = self.c.len();
        if self.cpt(pos) != Some('\'') || pos + 1 >= n {
            return 0;
        }
        let lower = |c: Option<char>| {
            let c = c.unwrap_or('\0');
            if ignore_case {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let next = lower(self.cpt(pos + 1));
        if matches!(next, 's' | 't' | 'm' | 'd') {
            return 2;
        }
        if pos + 2 < n {
            let next2 = lower(self.cpt(pos + 2));
            if matches!((next, next2), ('r', 'e') | ('v', 'e') | ('l', 'l')) {
                return 3;
            }
        }
        0
    }

    /// Handles `\s+(?!\S)|\s+` (and `\s*[\r\n]+` first when `newlines` is set) at `pos`.
    fn whitespace(&mut self, pos: usize, newlines: bool) -> usize {
        let mut count = 0;
        let mut last_newline_end = 0;
        while self.flags(pos + count).whitespace {
            if newlines && matches!(self.cpt(pos + count), Some('\r' | '\n')) {
                last_newline_end = pos + count + 1;
            }
            count += 1;
        }
        if last_newline_end > 0 {
            self.emit(last_newline_end);
            return last_newline_end;
        }
        let end = if count > 1 && self.cpt(pos + count).is_some() {
            pos + count - 1
        } else if count > 0 {
            pos + count
        } else {
            pos + 1
        };
        self.emit(end);
        end
    }

    fn gpt2(mut self) {
        let n = self.c.len();
        let mut pos = 0;
        while pos < n {
            let cpt = self.c[pos];
            let clen = self.contraction(pos, false);
            if clen > 0 {
                pos += self.emit(pos + clen);
                continue;
            }
            let lead_space = usize::from(cpt == ' ');
            let f2 = self.flags(pos + lead_space);
            let class: Option<fn(Flags) -> bool> = if f2.letter {
                Some(|f| f.letter)
            } else if f2.number {
                Some(|f| f.number)
            } else if f2.in_range && !(f2.whitespace || f2.letter || f2.number) {
                Some(|f| f.in_range && !(f.whitespace || f.letter || f.number))
            } else {
                None
            };
            if let Some(member) = class {
                pos += lead_space;
                while member(self.flags(pos)) {
                    pos += 1;
                }
                self.emit(pos);
                continue;
            }
            pos = self.whitespace(pos, false);
        }
    }

    fn llama3(mut self, max_digits: usize) {
        let n = self.c.len();
        let mut pos = 0;
        while pos < n {
            let cpt = self.c[pos];
            let f = self.flags(pos);
            let clen = self.contraction(pos, true);
            if clen > 0 {
                pos += self.emit(pos + clen);
                continue;
            }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(cpt == '\r' || cpt == '\n' || f.number) && (f.letter || self.flags(pos + 1).letter)
            {
                pos += 1;
                while self.flags(pos).letter {
                    pos += 1;
                }
                self.emit(pos);
                continue;
            }
            // \p{N}{1,max_digits}
            if f.number {
                let mut ini = pos;
                while self.flags(pos).number {
                    pos += 1;
                    if pos - ini >= max_digits {
                        self.emit(pos);
                        ini = pos;
                    }
                }
                self.emit(pos);
                continue;
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            let lead_space = usize::from(cpt == ' ');
            let f2 = self.flags(pos + lead_space);
            if !(f2.whitespace || f2.letter || f2.number) && f.in_range {
                pos += lead_space;
                while self.flags(pos).in_range
                    && !(self.flags(pos).whitespace
                        || self.flags(pos).letter
                        || self.flags(pos).number)
                {
                    pos += 1;
                }
                while matches!(self.cpt(pos), Some('\r' | '\n')) {
                    pos += 1;
                }
                self.emit(pos);
                continue;
            }
            pos = self.whitespace(pos, true);
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
    fn default_splits_punctuation_runs_and_three_digit_groups() {
        assert_eq!(
            split(PreTokenizer::Default, "a+=12345"),
            ["a", "+=", "123", "45"]
        );
        assert_eq!(split(PreTokenizer::Default, "x, y"), ["x", ",", " y"]);
    }

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
    fn split_covers_the_input_exactly() {
        let text = "Ünïcödé  \t\r\n 日本語 🦙🔥 don't 12,345.6\u{a0}x";
        for pre in [
            PreTokenizer::Default,
            PreTokenizer::Gpt2,
            PreTokenizer::Llama3,
            PreTokenizer::Smollm,
            PreTokenizer::Qwen2,
        ] {
            let words = split(pre, text);
            assert!(words.iter().all(|w| !w.is_empty()));
            assert_eq!(words.concat(), text, "{pre:?}");
        }
        assert!(split(PreTokenizer::Gpt2, "").is_empty());
    }
}
