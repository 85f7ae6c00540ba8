//! llama.cpp's general-purpose pre-tokenizer regex path: the regexes of `unicode_regex_split`
//! that have no hand-written matcher, run the way llama.cpp runs them through `std::regex`.
//!
//! llama.cpp has two variants, reproduced exactly here:
//! - a regex that uses a Unicode category (`\p{N}`, `\p{L}`, `\p{P}`, `\p{M}`, `\p{S}`, `\p{Lu}`,
//!   ...) runs on a "collapsed" text of one byte per code point: ASCII stays itself, non-ASCII
//!   whitespace becomes `\x0B`, other non-ASCII code points one byte per category (`\xD1`
//!   number, `\xD2` letter, `\xD3` punctuation, `\xD4` mark, `\xD5` symbol, `\xD0` other); each
//!   `\p{..}` becomes a class of that byte plus the category's ASCII members. `\s` etc. are ASCII.
//! - any other regex runs on the code points (`std::wregex`), with non-ASCII whitespace replaced
//!   by `\x0B` and `\s` etc. matching ASCII only (the C locale's classes).
//!
//! Both use leftmost-first alternation like ECMAScript. The `regex` crate has no look-around, so
//! the two look-arounds llama.cpp's regex lists use are rewritten exactly:
//! - `((?=[\p{L}])([^a-z]))` and the like (a letter that is not ASCII lower/upper case) become
//!   plain collapsed classes;
//! - a final `|\s+(?!\S)|\s+` becomes `|(\s+)`, and a match made by that group that is longer
//!   than one and followed by a non-space in the piece gives back its last character (what
//!   backtracking into `(?!\S)` does).

use std::cell::OnceCell;
use std::fmt;
use std::sync::OnceLock;

use regex::bytes::{Regex as ByteRegex, RegexBuilder as ByteRegexBuilder};
use regex::Regex;

use super::unicode::{category, Category};

/// llama.cpp's `k_ucat_enum` keys: a regex containing one of them runs on the collapsed text.
const CATEGORY_NAMES: &[&str] = &[
    r"\p{N}", r"\p{L}", r"\p{P}", r"\p{M}", r"\p{S}", r"\p{Lu}", r"\p{Ll}", r"\p{Lt}", r"\p{Lm}",
    r"\p{Lo}",
];

/// The collapsed byte and the ASCII members (`k_ucat_cpt` / `k_ucat_map`) of a `\p{..}` name.
fn category_class(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        r"\p{N}" => (r"\xD1", "0-9"),
        r"\p{L}" | r"\p{Lu}" | r"\p{Ll}" | r"\p{Lt}" | r"\p{Lm}" | r"\p{Lo}" => (r"\xD2", "A-Za-z"),
        r"\p{P}" => (r"\xD3", r"!-#%-*,-/:-;?-@\[-\]_\{\}"),
        r"\p{M}" => (r"\xD4", ""),
        r"\p{S}" => (r"\xD5", r"\$\+<->\^`\|~"),
        _ => return None,
    })
}

/// The collapsed byte of one code point.
fn collapsed_byte(c: char) -> u8 {
    if c.is_ascii() {
        return c as u8;
    }
    if c.is_whitespace() {
        return 0x0B;
    }
    match category(c) {
        Category::Number => 0xD1,
        Category::Letter => 0xD2,
        Category::Punctuation => 0xD3,
        Category::Mark => 0xD4,
        Category::Symbol => 0xD5,
        _ => 0xD0,
    }
}

/// The collapsed form of a regex: each `\p{..}` replaced by its byte class, as llama.cpp does it
/// (a bracket preceded by a backslash does not open or close a class).
fn collapse_pattern(pattern: &str) -> String {
    assert!(
        pattern.is_ascii(),
        "pre-tokenizer regex mixes categories and non-ASCII"
    );
    let b = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut inside = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let escaped = i > 0 && b[i - 1] == b'\\';
        if c == b'[' && !escaped {
            out.push('[');
            inside = true;
        } else if inside && c == b']' && !escaped {
            out.push(']');
            inside = false;
        } else if let Some((len, (byte, ascii))) = category_at(pattern, i) {
            if !inside {
                out.push('[');
            }
            out.push_str(byte);
            out.push_str(ascii);
            if !inside {
                out.push(']');
            }
            i += len;
            continue;
        } else {
            out.push(char::from(c));
        }
        i += 1;
    }
    out
}

/// A `\p{..}` category name starting at byte `i` of `pattern`: its length and class parts.
fn category_at(pattern: &str, i: usize) -> Option<(usize, (&'static str, &'static str))> {
    let rest = pattern.get(i..)?;
    if !rest.starts_with(r"\p{") || rest.len() <= 3 {
        return None;
    }
    let close = rest[3..].find('}')? + 3;
    // llama.cpp's "reasonable limit" on the name length.
    if close > 10 {
        return None;
    }
    category_class(&rest[..=close]).map(|class| (close + 1, class))
}

/// A regex for the code-point path: `\s`, `\d`, `\w` (and negations outside classes) match ASCII
/// only, like `std::wregex` in the C locale.
fn ascii_classes_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut inside = false;
    let mut prev_backslash = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let Some(&next) = chars.peek() else {
                out.push(c);
                break;
            };
            chars.next();
            match (next, inside) {
                ('s' | 'S' | 'd' | 'D' | 'w' | 'W', false) => {
                    out.push_str("(?-u:\\");
                    out.push(next);
                    out.push(')');
                }
                ('s', true) => out.push_str(r"\t\n\x0B\x0C\r "),
                ('d', true) => out.push_str("0-9"),
                ('w', true) => out.push_str("0-9A-Za-z_"),
                ('S' | 'D' | 'W', true) => {
                    panic!("negated class escape inside a class in {pattern:?}")
                }
                _ => {
                    out.push('\\');
                    out.push(next);
                }
            }
            prev_backslash = false;
            continue;
        }
        if c == '[' && !prev_backslash {
            inside = true;
        } else if c == ']' && inside {
            inside = false;
        }
        prev_backslash = false;
        out.push(c);
    }
    out
}

/// The whitespace tail of most Llama-3-style regexes, and its look-ahead-free replacement.
const WS_TAIL: &str = r"|\s+(?!\S)|\s+";
const WS_TAIL_GROUP: &str = r"|(?P<wsrun>\s+)";

/// Letter look-aheads and the collapsed classes they amount to (`\p{L}` is `[\xD2A-Za-z]` there,
/// `\p{M}` `[\xD4]`).
const LETTER_LOOKAHEADS: [(&str, &str); 4] = [
    (r"((?=[\p{L}])([^a-z]))", r"[\xD2A-Z]"),
    (r"((?=[\p{L}])([^A-Z]))", r"[\xD2a-z]"),
    (r"((?=[\p{L}\p{M}])([^a-z]))", r"[\xD2\xD4A-Z]"),
    (r"((?=[\p{L}\p{M}])([^A-Z]))", r"[\xD2\xD4a-z]"),
];

/// `pattern` without look-arounds, and whether its whitespace tail was rewritten.
fn rewrite_lookarounds(pattern: &str) -> (String, bool) {
    let mut p = pattern.to_string();
    for (from, to) in LETTER_LOOKAHEADS {
        p = p.replace(from, to);
    }
    let ws_tail = p.ends_with(WS_TAIL);
    if ws_tail {
        p.truncate(p.len() - WS_TAIL.len());
        p.push_str(WS_TAIL_GROUP);
    }
    assert!(
        !p.contains("(?=") && !p.contains("(?!"),
        "unsupported look-around in pre-tokenizer regex {pattern:?}"
    );
    (p, ws_tail)
}

/// `\s` in the collapsed text (ASCII only).
fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

enum Compiled {
    Collapsed { re: ByteRegex, ws_tail: bool },
    Wide(Regex),
}

/// One regex of a pre-tokenizer list, compiled on first use.
pub(crate) struct RegexStage {
    pattern: &'static str,
    compiled: OnceLock<Compiled>,
}

impl fmt::Debug for RegexStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RegexStage").field(&self.pattern).finish()
    }
}

impl RegexStage {
    pub(crate) const fn new(pattern: &'static str) -> Self {
        RegexStage {
            pattern,
            compiled: OnceLock::new(),
        }
    }

    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            // The patterns are this crate's constants (tested), not input.
            let (pattern, ws_tail) = rewrite_lookarounds(self.pattern);
            if CATEGORY_NAMES.iter().any(|n| self.pattern.contains(n)) {
                let re = ByteRegexBuilder::new(&collapse_pattern(&pattern))
                    .unicode(false)
                    .build();
                let re = re.expect("collapsed pre-tokenizer regex compiles");
                Compiled::Collapsed { re, ws_tail }
            } else {
                assert!(!ws_tail, "whitespace tail without categories: {pattern:?}");
                let re = Regex::new(&ascii_classes_pattern(&pattern));
                Compiled::Wide(re.expect("pre-tokenizer regex compiles"))
            }
        })
    }

    /// Splits the code points `start..start + len` into matches and the gaps between them,
    /// pushing their lengths (in code points) to `out`.
    pub(crate) fn split(
        &self,
        text: &TextViews<'_>,
        start: usize,
        len: usize,
        out: &mut Vec<usize>,
    ) {
        let mut prev = 0;
        let mut push = |s: usize, e: usize| {
            if s > prev {
                out.push(s - prev);
            }
            if e > s {
                out.push(e - s);
            }
            prev = e;
        };
        match self.compiled() {
            Compiled::Collapsed { re, ws_tail: false } => {
                let hay = &text.collapsed()[start..start + len];
                for m in re.find_iter(hay) {
                    push(m.start(), m.end());
                }
            }
            Compiled::Collapsed { re, ws_tail: true } => {
                let hay = &text.collapsed()[start..start + len];
                let mut pos = 0;
                while let Some(caps) = re.captures_at(hay, pos) {
                    let Some(m) = caps.get(0) else { break };
                    let mut end = m.end();
                    // `\s+(?!\S)` backs off one space before a non-space; a single space
                    // before a non-space is the `\s+` alternative's, unchanged.
                    let before_non_space = hay.get(end).is_some_and(|&b| !is_space_byte(b));
                    if caps.name("wsrun").is_some() && m.len() > 1 && before_non_space {
                        end -= 1;
                    }
                    push(m.start(), end);
                    pos = end;
                }
            }
            Compiled::Wide(re) => {
                let (wide, offsets) = text.wide();
                let base = offsets[start];
                let to_cpt = |byte: usize| offsets.partition_point(|&o| o < base + byte) - start;
                for m in re.find_iter(&wide[base..offsets[start + len]]) {
                    push(to_cpt(m.start()), to_cpt(m.end()));
                }
            }
        }
        if len > prev {
            out.push(len - prev);
        }
    }
}

/// The text being split, with the two regex views built on first use.
pub(crate) struct TextViews<'a> {
    chars: &'a [char],
    collapsed: OnceCell<Vec<u8>>,
    /// Code points with non-ASCII whitespace as `\x0B`, and each code point's byte offset in it
    /// (plus the total length).
    wide: OnceCell<(String, Vec<usize>)>,
}

impl<'a> TextViews<'a> {
    pub(crate) fn new(chars: &'a [char]) -> Self {
        TextViews {
            chars,
            collapsed: OnceCell::new(),
            wide: OnceCell::new(),
        }
    }

    pub(crate) fn chars(&self) -> &'a [char] {
        self.chars
    }

    fn collapsed(&self) -> &[u8] {
        self.collapsed
            .get_or_init(|| self.chars.iter().map(|&c| collapsed_byte(c)).collect())
    }

    fn wide(&self) -> (&str, &[usize]) {
        let (s, o) = self.wide.get_or_init(|| {
            let mut s = String::with_capacity(self.chars.len());
            let mut offsets = Vec::with_capacity(self.chars.len() + 1);
            for &c in self.chars {
                offsets.push(s.len());
                s.push(if !c.is_ascii() && c.is_whitespace() {
                    '\x0B'
                } else {
                    c
                });
            }
            offsets.push(s.len());
            (s, offsets)
        });
        (s, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pattern: &'static str, text: &str) -> Vec<String> {
        let stage = RegexStage::new(pattern);
        let chars: Vec<char> = text.chars().collect();
        let views = TextViews::new(&chars);
        let mut lens = Vec::new();
        stage.split(&views, 0, chars.len(), &mut lens);
        let mut pos = 0;
        lens.iter()
            .map(|&n| {
                pos += n;
                chars[pos - n..pos].iter().collect()
            })
            .collect()
    }

    #[test]
    fn categories_collapse_to_llama_cpp_classes() {
        assert_eq!(collapse_pattern(r"\p{N}+"), r"[\xD10-9]+");
        assert_eq!(
            collapse_pattern(r"[\p{P}\$\+]+"),
            r"[\xD3!-#%-*,-/:-;?-@\[-\]_\{\}\$\+]+"
        );
        assert_eq!(collapse_pattern(r"\s?\p{L}+"), r"\s?[\xD2A-Za-z]+");
        assert_eq!(collapsed_byte('½'), 0xD1);
        assert_eq!(collapsed_byte('\u{3000}'), 0x0B);
        assert_eq!(collapsed_byte('\u{200d}'), 0xD0);
    }

    #[test]
    fn collapsed_regexes_split_by_category() {
        assert_eq!(split(r"\p{N}+", "a12½b٣"), ["a", "12½", "b", "٣"]);
        // Non-ASCII whitespace is `\s` there, but no ASCII \x1C.
        assert_eq!(
            split(r"\s?\p{L}+", "\u{a0}ab\x1Ccd"),
            ["\u{a0}ab", "\x1C", "cd"]
        );
        assert_eq!(split(r"\s?\p{P}+", " (x)."), [" (", "x", ")."]);
    }

    #[test]
    fn look_arounds_are_rewritten_exactly() {
        let (p, tail) = rewrite_lookarounds(r"((?=[\p{L}])([^a-z]))*x|\s+(?!\S)|\s+");
        assert_eq!(p, r"[\xD2A-Z]*x|(?P<wsrun>\s+)");
        assert!(tail);
        let tail_re = r"\p{L}+|\s*[\r\n]+|\s+(?!\S)|\s+";
        assert_eq!(split(tail_re, "a   b"), ["a", "  ", " ", "b"]);
        assert_eq!(
            split(tail_re, "a  \nb c  "),
            ["a", "  \n", "b", " ", "c", "  "]
        );
        // Non-ASCII spaces are `\s` too (collapsed to \x0B).
        assert_eq!(
            split(tail_re, "\u{3000}\u{3000}x"),
            ["\u{3000}", "\u{3000}", "x"]
        );
    }

    #[test]
    fn code_point_regexes_use_ascii_classes_and_piece_end_anchors() {
        assert_eq!(ascii_classes_pattern(r"\s+$"), r"(?-u:\s)+$");
        assert_eq!(
            ascii_classes_pattern(r"[^\s|.]\\s"),
            r"[^\t\n\x0B\x0C\r |.]\\s"
        );
        assert_eq!(split(r"\s+$", "a  b  "), ["a  b", "  "]);
        // U+3000 is replaced by \x0B first, so it is whitespace but not in [　-。].
        assert_eq!(
            split(r"\s?[！-／　-。]+", "x\u{3000}。！"),
            ["x", "\u{3000}。！"]
        );
        assert_eq!(split("[一-龥]+", "a中文b"), ["a", "中文", "b"]);
    }
}
