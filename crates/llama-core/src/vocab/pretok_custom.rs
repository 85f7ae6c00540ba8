//! llama.cpp's hand-written pre-tokenizer matchers (`unicode_regex_split_custom_gpt2` /
//! `_llama3` / `_qwen2`) and class-run scanners for simple character-class regexes.
//!
//! The matchers work on one piece at a time and see code points past its end as
//! llama.cpp's OUT_OF_RANGE (all flags clear), which is what makes them differ from a plain regex
//! at piece boundaries.

use super::unicode::{category, Category, Flags};

/// How many consecutive class members one regex match takes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Count {
    One,
    OneOrMore,
    Exactly(usize),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Class {
    /// `\p{N}`
    Number,
    /// `[0-9]`
    AsciiDigit,
    /// `[\p{P}\$\+<=>\^~\|]`
    PunctOrMathAscii,
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
pub(crate) fn split_class(piece: &[char], class: Class, count: Count, out: &mut Vec<usize>) {
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

/// llama.cpp's AFMoE digit splitter (`\p{AFMoE_digits}`, also its stand-in for tiny_aya's
/// `\d{1,3}(?=(?:\d{3})*\b)`): a `\p{N}` run splits into its leading `len % 3` digits and groups
/// of three. As in llama.cpp, text before a run is not split off but joins the run's first group.
pub(crate) fn split_afmoe_digits(piece: &[char], out: &mut Vec<usize>) {
    let n = piece.len();
    let number = |c: char| Flags::of(c).number;
    let mut prev = 0;
    let mut emit = |end: usize| {
        if end > prev {
            out.push(end - prev);
        }
        prev = end;
    };
    let mut pos = 0;
    while pos < n {
        if !number(piece[pos]) {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < n && number(piece[pos]) {
            pos += 1;
        }
        let mut cur = start + (pos - start) % 3;
        if cur > start {
            emit(cur);
        }
        while cur < pos {
            cur += 3;
            emit(cur);
        }
    }
    emit(n);
}

/// State of one hand-written regex matcher over one piece.
pub(crate) struct Splitter<'a, 'o> {
    c: &'a [char],
    out: &'o mut Vec<usize>,
    prev_end: usize,
    /// Letter runs also take combining marks (`[\p{L}\p{M}]+`, Qwen3.5).
    marks: bool,
}

impl<'a, 'o> Splitter<'a, 'o> {
    pub(crate) fn new(c: &'a [char], out: &'o mut Vec<usize>) -> Self {
        Splitter {
            c,
            out,
            prev_end: 0,
            marks: false,
        }
    }

    /// A letter, or with `marks` also a combining mark.
    fn wordy(&self, f: Flags) -> bool {
        f.letter || (self.marks && f.mark)
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

    pub(crate) fn gpt2(mut self) {
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

    /// The Llama-3 (`max_digits` 3), Qwen2 (1) and, with `marks`, Qwen3.5 (1) regexes.
    pub(crate) fn llama3(mut self, max_digits: usize, marks: bool) {
        self.marks = marks;
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
            // [^\r\n\p{L}\p{N}]?\p{L}+ (Qwen3.5: [\p{L}\p{M}]+)
            if !(cpt == '\r' || cpt == '\n' || f.number)
                && (self.wordy(f) || self.wordy(self.flags(pos + 1)))
            {
                pos += 1;
                while self.wordy(self.flags(pos)) {
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
            // <space>?[^\s\p{L}\p{N}]+[\r\n]* (Qwen3.5: also not \p{M})
            let lead_space = usize::from(cpt == ' ');
            let other = |s: &Self, f: Flags| !(f.whitespace || s.wordy(f) || f.number);
            if other(&self, self.flags(pos + lead_space)) && f.in_range {
                pos += lead_space;
                while self.flags(pos).in_range && other(&self, self.flags(pos)) {
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
