//! GBNF (llama.cpp's grammar format) → llguidance's Lark dialect, following the syntax that
//! llama.cpp's `llama_grammar_parser` accepts (`src/llama-grammar.cpp`).
//!
//! llguidance has no GBNF front end of its own, so the grammar is re-emitted rule by rule:
//! `name ::= body` becomes `name: body`, character classes become `/[...]/` regexes (a
//! repetition right after a class is folded into the regex, so `[0-9]+` is one lexeme instead
//! of a character-level rule), string literals are re-escaped as JSON strings, `.` becomes
//! `/(?s:.)/`, and `start: root` names the entry point. Rule names map injectively onto Lark
//! rule names (GBNF names have no `_`, so an upper-case `X` becomes `_x`).

use crate::error::{Error, Result};

/// Converts a GBNF grammar to llguidance Lark; errors name the position and what was expected.
pub fn gbnf_to_lark(src: &str) -> Result<String> {
    let mut conv = Converter {
        src: src.chars().collect(),
        pos: 0,
    };
    let mut out = String::from("start: root\n");
    let mut has_root = false;
    conv.skip_space(true);
    while !conv.eof() {
        let (name, body) = conv.rule()?;
        has_root |= name == "root";
        out.push_str(&format!("{}: {body}\n", lark_name(&name)));
    }
    if !has_root {
        return Err(invalid("grammar does not define a `root` rule".into()));
    }
    Ok(out)
}

/// One emitted sequence element; a class stays open so that a following `*`, `+`, `?` or
/// `{m,n}` can go inside its regex.
enum Item {
    Text(String),
    Class(String),
}

impl Item {
    fn render(self) -> String {
        match self {
            Item::Text(t) => t,
            Item::Class(c) => format!("/{c}/"),
        }
    }
}

struct Converter {
    src: Vec<char>,
    pos: usize,
}

fn invalid(reason: String) -> Error {
    Error::InvalidConstraint {
        kind: "GBNF grammar",
        reason,
    }
}

/// `root` and every other GBNF name as a Lark rule name (see the module comment).
fn lark_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    if name == "start" || name.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        out.push_str("r_");
    }
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

impl Converter {
    fn eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.src.get(self.pos + off).copied()
    }

    /// Where an error happened: line, column and the rest of that line.
    fn here(&self) -> String {
        let line = self.src[..self.pos.min(self.src.len())]
            .iter()
            .filter(|&&c| c == '\n')
            .count()
            + 1;
        let rest: String = self.src[self.pos.min(self.src.len())..]
            .iter()
            .take_while(|&&c| c != '\n')
            .take(40)
            .collect();
        format!("line {line}, at {rest:?}")
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        Err(invalid(format!("expected {what} ({})", self.here())))
    }

    /// llama.cpp's `parse_space`: blanks and `#` comments; newlines only where allowed.
    fn skip_space(&mut self, newline_ok: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' => self.pos += 1,
                '\r' | '\n' if newline_ok => self.pos += 1,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\r' && c != '\n') {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn name(&mut self) -> Result<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_word_char) {
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("a rule name");
        }
        Ok(self.src[start..self.pos].iter().collect())
    }

    fn int(&mut self) -> Result<u64> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.src[start..self.pos].iter().collect();
        digits.parse().or_else(|_| self.fail("an integer"))
    }

    fn rule(&mut self) -> Result<(String, String)> {
        let name = self.name()?;
        self.skip_space(false);
        let arrow = [self.peek(), self.peek_at(1), self.peek_at(2)];
        if arrow != [Some(':'), Some(':'), Some('=')] {
            return self.fail("`::=`");
        }
        self.pos += 3;
        self.skip_space(true);
        let body = self.alternates(false)?;
        match self.peek() {
            None => {}
            Some('\r') | Some('\n') => self.pos += 1,
            Some(_) => return self.fail("a newline or the end of the grammar"),
        }
        self.skip_space(true);
        Ok((name, body))
    }

    fn alternates(&mut self, nested: bool) -> Result<String> {
        let mut alts = vec![self.sequence(nested)?];
        while self.peek() == Some('|') {
            self.pos += 1;
            self.skip_space(true);
            alts.push(self.sequence(nested)?);
        }
        Ok(alts.join(" | "))
    }

    fn sequence(&mut self, nested: bool) -> Result<String> {
        let mut items: Vec<Item> = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                '"' => items.push(Item::Text(self.literal()?)),
                '[' => items.push(Item::Class(self.class()?)),
                '<' | '!' => items.push(Item::Text(self.token()?)),
                '(' => {
                    self.pos += 1;
                    self.skip_space(true);
                    let inner = self.alternates(true)?;
                    if self.peek() != Some(')') {
                        return self.fail("`)`");
                    }
                    self.pos += 1;
                    items.push(Item::Text(format!("({inner})")));
                }
                '.' => {
                    self.pos += 1;
                    items.push(Item::Class("(?s:.)".into()));
                }
                '*' | '+' | '?' => {
                    self.pos += 1;
                    self.repeat(&mut items, c.to_string())?;
                }
                '{' => {
                    self.pos += 1;
                    let op = self.braces(nested)?;
                    self.repeat(&mut items, op)?;
                }
                c if is_word_char(c) => {
                    let name = self.name()?;
                    items.push(Item::Text(lark_name(&name)));
                }
                _ => break,
            }
            self.skip_space(nested);
        }
        let parts: Vec<String> = items.into_iter().map(Item::render).collect();
        if parts.is_empty() {
            // An empty alternative matches the empty string.
            return Ok("\"\"".into());
        }
        Ok(parts.join(" "))
    }

    fn repeat(&self, items: &mut [Item], op: String) -> Result<()> {
        match items.last_mut() {
            None => self.fail("an item before a repetition operator"),
            Some(Item::Class(c)) => {
                *c = format!("(?:{c}){op}");
                Ok(())
            }
            Some(Item::Text(t)) => {
                *t = format!("({t}){op}");
                Ok(())
            }
        }
    }

    /// `{m}`, `{m,}` or `{m,n}` (the `{` already consumed), returned in the same syntax.
    fn braces(&mut self, nested: bool) -> Result<String> {
        self.skip_space(nested);
        let min = self.int()?;
        self.skip_space(nested);
        let op = match self.peek() {
            Some('}') => format!("{{{min}}}"),
            Some(',') => {
                self.pos += 1;
                self.skip_space(nested);
                let max = if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    let max = self.int()?;
                    if max < min {
                        return self.fail("a maximum no smaller than the minimum");
                    }
                    self.skip_space(nested);
                    max.to_string()
                } else {
                    String::new()
                };
                if self.peek() != Some('}') {
                    return self.fail("`}`");
                }
                format!("{{{min},{max}}}")
            }
            _ => return self.fail("`,` or `}`"),
        };
        self.pos += 1;
        Ok(op)
    }

    /// A `"..."` literal as a JSON string (which is how llguidance reads Lark strings).
    fn literal(&mut self) -> Result<String> {
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return self.fail("a closing `\"`"),
                Some('"') => break,
                Some(_) => text.push(self.char()?),
            }
        }
        self.pos += 1;
        serde_json::to_string(&text).map_err(|e| invalid(e.to_string()))
    }

    /// A `[...]` class as the inside of a regex, every non-alphanumeric char escaped as `\x{..}`.
    fn class(&mut self) -> Result<String> {
        self.pos += 1;
        let mut out = String::from("[");
        if self.peek() == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut empty = true;
        loop {
            match self.peek() {
                None => return self.fail("a closing `]`"),
                Some(']') => break,
                Some(_) => {}
            }
            let lo = self.char()?;
            push_class_char(&mut out, lo);
            empty = false;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                let hi = self.char()?;
                if hi < lo {
                    return self.fail("a range whose end is not below its start");
                }
                out.push('-');
                push_class_char(&mut out, hi);
            }
        }
        self.pos += 1;
        if empty {
            return self.fail("at least one character in the class");
        }
        out.push(']');
        Ok(out)
    }

    /// `<name>`, `<[id]>` and their `!` negations. llguidance knows special tokens by name and
    /// negates only numeric ids.
    fn token(&mut self) -> Result<String> {
        let negate = self.peek() == Some('!');
        if negate {
            self.pos += 1;
        }
        if self.peek() != Some('<') {
            return self.fail("`<`");
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c != '>') {
            self.pos += 1;
        }
        if self.eof() {
            return self.fail("`>`");
        }
        self.pos += 1;
        let tok: String = self.src[start..self.pos].iter().collect();
        match (negate, tok.strip_prefix("<[")) {
            (false, _) => Ok(tok),
            (true, Some(id)) => Ok(format!("<[^{id}")),
            (true, None) => Err(invalid(format!(
                "negated token {tok} by name is not supported; use its id, !<[ID]>"
            ))),
        }
    }

    /// One possibly escaped character (llama.cpp's `parse_char`).
    fn char(&mut self) -> Result<char> {
        let Some(c) = self.peek() else {
            return self.fail("a character");
        };
        self.pos += 1;
        if c != '\\' {
            return Ok(c);
        }
        let Some(e) = self.peek() else {
            return self.fail("an escape");
        };
        self.pos += 1;
        let hex_len = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            't' => return Ok('\t'),
            'r' => return Ok('\r'),
            'n' => return Ok('\n'),
            '\\' | '"' | '[' | ']' | '-' => return Ok(e),
            _ => {
                self.pos -= 2;
                return self.fail("a known escape (\\x \\u \\U \\t \\r \\n \\\\ \\\" \\[ \\] \\-)");
            }
        };
        let digits: String = self.src[self.pos..(self.pos + hex_len).min(self.src.len())]
            .iter()
            .collect();
        let value = u32::from_str_radix(&digits, 16)
            .ok()
            .filter(|_| digits.len() == hex_len);
        let Some(ch) = value.and_then(char::from_u32) else {
            return self.fail(&format!("{hex_len} hex digits of a valid code point"));
        };
        self.pos += hex_len;
        Ok(ch)
    }
}

fn push_class_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_rules_classes_literals_and_repetitions() {
        let lark = gbnf_to_lark(
            "root ::= item+ # comment\nitem ::= \"- \" [a-zA-Z0-9]{1,3} \"\\n\" | dataType\ndataType ::= [^\\x00-\\x1F\"] .\n",
        )
        .unwrap();
        assert_eq!(
            lark,
            "start: root\nroot: (item)+\nitem: \"- \" /(?:[a-zA-Z0-9]){1,3}/ \"\\n\" | data_type\n\
             data_type: /[^\\x{0}-\\x{1f}\\x{22}]/ /(?s:.)/\n"
        );
    }

    #[test]
    fn multi_line_groups_and_empty_alternatives() {
        let lark = gbnf_to_lark("root ::= (\n  \"a\"\n  | \n) \"b\"?\n").unwrap();
        assert_eq!(lark, "start: root\nroot: (\"a\" | \"\") (\"b\")?\n");
    }

    #[test]
    fn errors_name_the_problem_and_line() {
        let err = gbnf_to_lark("root ::= \"a\"\nfoo = \"b\"\n").unwrap_err();
        assert!(err.to_string().contains("expected `::=` (line 2"), "{err}");
        let err = gbnf_to_lark("root ::= [a-\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("sampling: invalid GBNF grammar"),
            "{err}"
        );
        assert!(gbnf_to_lark("item ::= \"x\"\n").is_err());
        assert!(gbnf_to_lark("root ::= \"\\q\"\n").is_err());
    }
}
