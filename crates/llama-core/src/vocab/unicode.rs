//! Unicode code point classes and the GPT-2 byte<->char mapping, as llama.cpp's unicode.cpp defines them.
//!
//! llama.cpp classifies every code point by its general category (letter, number, punctuation, ...)
//! plus a separate White_Space flag. Its tables come from UnicodeData.txt; here the general
//! category comes from the `unicode-general-category` crate (Unicode 16) and White_Space from
//! `char::is_whitespace`, which is the same property. Only code points assigned in a Unicode
//! version newer than llama.cpp's table could classify differently.

use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// The coarse category llama.cpp assigns to a code point (`unicode_cpt_flags` category bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    Undefined,
    Number,
    Letter,
    Separator,
    Mark,
    Punctuation,
    Symbol,
    Control,
}

/// Category of ASCII code points, precomputed because they dominate typical text.
const ASCII_CATEGORY: [Category; 128] = build_ascii_table();

const fn build_ascii_table() -> [Category; 128] {
    let mut t = [Category::Control; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = match c {
            b'0'..=b'9' => Category::Number,
            b'A'..=b'Z' | b'a'..=b'z' => Category::Letter,
            b' ' => Category::Separator,
            b'$' | b'+' | b'<' | b'=' | b'>' | b'^' | b'`' | b'|' | b'~' => Category::Symbol,
            0x21..=0x7e => Category::Punctuation,
            _ => Category::Control,
        };
        i += 1;
    }
    t
}

/// The llama.cpp category of `c`.
pub(crate) fn category(c: char) -> Category {
    if c.is_ascii() {
        return ASCII_CATEGORY[c as usize];
    }
    match get_general_category(c) {
        Gc::UppercaseLetter
        | Gc::LowercaseLetter
        | Gc::TitlecaseLetter
        | Gc::ModifierLetter
        | Gc::OtherLetter => Category::Letter,
        Gc::DecimalNumber | Gc::LetterNumber | Gc::OtherNumber => Category::Number,
        Gc::SpaceSeparator | Gc::LineSeparator | Gc::ParagraphSeparator => Category::Separator,
        Gc::NonspacingMark | Gc::SpacingMark | Gc::EnclosingMark => Category::Mark,
        Gc::ConnectorPunctuation
        | Gc::DashPunctuation
        | Gc::OpenPunctuation
        | Gc::ClosePunctuation
        | Gc::InitialPunctuation
        | Gc::FinalPunctuation
        | Gc::OtherPunctuation => Category::Punctuation,
        Gc::MathSymbol | Gc::CurrencySymbol | Gc::ModifierSymbol | Gc::OtherSymbol => {
            Category::Symbol
        }
        Gc::Control | Gc::Format | Gc::PrivateUse | Gc::Surrogate => Category::Control,
        _ => Category::Undefined,
    }
}

/// Per-code-point flags used by the pre-tokenizers. `in_range` is false only for the
/// "position past the end of the fragment" sentinel, which llama.cpp models as all-zero flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub in_range: bool,
    pub letter: bool,
    pub mark: bool,
    pub number: bool,
    pub whitespace: bool,
}

impl Flags {
    pub(crate) fn of(c: char) -> Self {
        let cat = category(c);
        Flags {
            in_range: true,
            letter: cat == Category::Letter,
            mark: cat == Category::Mark,
            number: cat == Category::Number,
            whitespace: c.is_whitespace(),
        }
    }
}

/// `byte -> char` of GPT-2's byte-level encoding: printable Latin-1 bytes map to themselves,
/// the rest to U+0100.. in byte order.
pub(crate) const BYTE_TO_CHAR: [char; 256] = build_byte_to_char();

const fn is_printable_byte(b: u32) -> bool {
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
}

const fn build_byte_to_char() -> [char; 256] {
    let mut t = ['\0'; 256];
    let mut n = 0u32;
    let mut b = 0u32;
    while b < 256 {
        let cp = if is_printable_byte(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        t[b as usize] = match char::from_u32(cp) {
            Some(c) => c,
            None => '\0',
        };
        b += 1;
    }
    t
}

/// Highest code point produced by [`BYTE_TO_CHAR`] (256 + 68 non-printable bytes - 1).
const MAX_BYTE_CHAR: usize = 0x143;

const CHAR_TO_BYTE: [i16; MAX_BYTE_CHAR + 1] = build_char_to_byte();

const fn build_char_to_byte() -> [i16; MAX_BYTE_CHAR + 1] {
    let mut t = [-1i16; MAX_BYTE_CHAR + 1];
    let mut b = 0;
    while b < 256 {
        t[BYTE_TO_CHAR[b] as usize] = b as i16;
        b += 1;
    }
    t
}

/// Inverse of [`BYTE_TO_CHAR`]; `None` for chars outside the byte alphabet.
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    let i = c as usize;
    if i > MAX_BYTE_CHAR {
        return None;
    }
    u8::try_from(CHAR_TO_BYTE[i]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_mapping_matches_gpt2_for_known_bytes() {
        assert_eq!(BYTE_TO_CHAR[b' ' as usize], 'Ġ');
        assert_eq!(BYTE_TO_CHAR[b'\n' as usize], 'Ċ');
        assert_eq!(BYTE_TO_CHAR[b'\t' as usize], 'ĉ');
        assert_eq!(BYTE_TO_CHAR[b'A' as usize], 'A');
        assert_eq!(BYTE_TO_CHAR[0xad], 'Ń');
        assert_eq!(BYTE_TO_CHAR[0], 'Ā');
    }

    #[test]
    fn byte_mapping_round_trips_every_byte() {
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(BYTE_TO_CHAR[b as usize]), Some(b));
        }
        assert_eq!(char_to_byte('\u{144}'), None);
        assert_eq!(char_to_byte('日'), None);
    }

    #[test]
    fn categories_follow_unicode_general_category() {
        assert_eq!(category('a'), Category::Letter);
        assert_eq!(category('é'), Category::Letter);
        assert_eq!(category('日'), Category::Letter);
        assert_eq!(category('٣'), Category::Number);
        assert_eq!(category('½'), Category::Number);
        assert_eq!(category('!'), Category::Punctuation);
        assert_eq!(category('$'), Category::Symbol);
        assert_eq!(category('🦙'), Category::Symbol);
        assert_eq!(category('\u{301}'), Category::Mark);
        assert_eq!(category('\u{a0}'), Category::Separator);
        assert!(Flags::of('\u{3000}').whitespace);
        assert!(Flags::of('\u{85}').whitespace);
        assert!(!Flags::of('\u{200b}').whitespace);
    }
}
