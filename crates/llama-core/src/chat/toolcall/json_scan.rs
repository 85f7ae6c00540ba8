//! Lenient JSON scanning over a growing text: where a value ends (or that it has not ended
//! yet), the members of an object read so far, and whitespace-free copies of JSON text
//! whose prefixes stay prefixes as the text grows (what streamed `arguments` need).

/// Outcome of scanning one JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The value ends at this byte offset (exclusive).
    Done(usize),
    /// The text ends before the value does (it may still complete).
    Incomplete,
    /// This can never become valid JSON.
    Invalid,
}

pub(crate) fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// Scans the JSON value starting at `i` (after optional whitespace).
pub(crate) fn skip_value(s: &[u8], i: usize) -> Scan {
    let i = skip_ws(s, i);
    match s.get(i) {
        None => Scan::Incomplete,
        Some(b'"') => skip_string(s, i),
        Some(b'{') => skip_container(s, i, b'}'),
        Some(b'[') => skip_container(s, i, b']'),
        Some(b't') => skip_literal(s, i, b"true"),
        Some(b'f') => skip_literal(s, i, b"false"),
        Some(b'n') => skip_literal(s, i, b"null"),
        Some(b'-' | b'0'..=b'9') => skip_number(s, i),
        Some(_) => Scan::Invalid,
    }
}

fn skip_literal(s: &[u8], i: usize, lit: &[u8]) -> Scan {
    let avail = &s[i..s.len().min(i + lit.len())];
    if !lit.starts_with(avail) {
        Scan::Invalid
    } else if avail.len() < lit.len() {
        Scan::Incomplete
    } else {
        Scan::Done(i + lit.len())
    }
}

/// A number ends at the first byte that cannot continue it; at the end of the text it might
/// still grow, so it is incomplete there.
fn skip_number(s: &[u8], i: usize) -> Scan {
    let mut j = i;
    while j < s.len() && matches!(s[j], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
        j += 1;
    }
    if j == s.len() {
        Scan::Incomplete
    } else if s[i..j].iter().any(u8::is_ascii_digit) {
        Scan::Done(j)
    } else {
        Scan::Invalid
    }
}

/// `s[i]` is the opening quote.
pub(crate) fn skip_string(s: &[u8], i: usize) -> Scan {
    let mut j = i + 1;
    while j < s.len() {
        match s[j] {
            b'\\' => j += 2,
            b'"' => return Scan::Done(j + 1),
            b'\n' => return Scan::Invalid,
            _ => j += 1,
        }
    }
    Scan::Incomplete
}

fn skip_container(s: &[u8], i: usize, close: u8) -> Scan {
    let mut j = skip_ws(s, i + 1);
    if s.get(j) == Some(&close) {
        return Scan::Done(j + 1);
    }
    loop {
        if close == b'}' {
            match s.get(j) {
                None => return Scan::Incomplete,
                Some(b'"') => {}
                Some(_) => return Scan::Invalid,
            }
            j = match skip_string(s, j) {
                Scan::Done(e) => skip_ws(s, e),
                other => return other,
            };
            match s.get(j) {
                None => return Scan::Incomplete,
                Some(b':') => j += 1,
                Some(_) => return Scan::Invalid,
            }
        }
        j = match skip_value(s, j) {
            Scan::Done(e) => skip_ws(s, e),
            other => return other,
        };
        match s.get(j) {
            None => return Scan::Incomplete,
            Some(b',') => j = skip_ws(s, j + 1),
            Some(&c) if c == close => return Scan::Done(j + 1),
            Some(_) => return Scan::Invalid,
        }
    }
}

/// One member of an object read so far: its key, and where its value starts and (if it
/// has ended) ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub key: String,
    pub start: usize,
    pub end: Option<usize>,
}

/// The members of the object opening at `s[i] == '{'` read so far, and whether it closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ObjectScan {
    pub members: Vec<Member>,
    pub state: Scan,
}

pub(crate) fn scan_object(s: &[u8], i: usize) -> ObjectScan {
    let mut members = Vec::new();
    let done = |members, state| ObjectScan { members, state };
    if s.get(i) != Some(&b'{') {
        return done(members, Scan::Invalid);
    }
    let mut j = skip_ws(s, i + 1);
    if s.get(j) == Some(&b'}') {
        return done(members, Scan::Done(j + 1));
    }
    loop {
        match s.get(j) {
            None => return done(members, Scan::Incomplete),
            Some(b'"') => {}
            Some(_) => return done(members, Scan::Invalid),
        }
        let key_end = match skip_string(s, j) {
            Scan::Done(e) => e,
            other => return done(members, other),
        };
        let Some(key) = decode_string(&s[j..key_end]) else {
            return done(members, Scan::Invalid);
        };
        j = skip_ws(s, key_end);
        match s.get(j) {
            None => return done(members, Scan::Incomplete),
            Some(b':') => j = skip_ws(s, j + 1),
            Some(_) => return done(members, Scan::Invalid),
        }
        let start = j;
        let scan = skip_value(s, j);
        let end = match scan {
            Scan::Done(e) => Some(e),
            _ => None,
        };
        members.push(Member { key, start, end });
        let Some(e) = end else {
            return done(members, scan);
        };
        j = skip_ws(s, e);
        match s.get(j) {
            None => return done(members, Scan::Incomplete),
            Some(b',') => j = skip_ws(s, j + 1),
            Some(b'}') => return done(members, Scan::Done(j + 1)),
            Some(_) => return done(members, Scan::Invalid),
        }
    }
}

/// The text of a complete JSON string literal (quotes included), decoded.
pub(crate) fn decode_string(lit: &[u8]) -> Option<String> {
    serde_json::from_slice::<String>(lit).ok()
}

/// `text` without whitespace outside strings. Deleting characters one at a time keeps this
/// monotone: the minified prefix of a text is a prefix of the minified whole text.
pub(crate) fn minify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_str, mut escaped) = (false, false);
    for c in text.chars() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
        } else if !c.is_whitespace() {
            out.push(c);
            in_str = c == '"';
        }
    }
    out
}

/// `s` as the inside of a JSON string literal (no quotes). Escaping each character on its own
/// keeps prefixes as prefixes, so a growing string can be streamed.
pub(crate) fn escape_str(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_end_where_json_says() {
        assert_eq!(skip_value(br#"{"a": [1, "x}"]} tail"#, 0), Scan::Done(16));
        assert_eq!(skip_value(br#"{"a": [1, "x}"#, 0), Scan::Incomplete);
        assert_eq!(skip_value(br#"{"a" 1}"#, 0), Scan::Invalid);
        assert_eq!(skip_value(b"12", 0), Scan::Incomplete);
        assert_eq!(skip_value(b"12,", 0), Scan::Done(2));
        assert_eq!(skip_value(b"tru", 0), Scan::Incomplete);
        assert_eq!(skip_value(b"trux", 0), Scan::Invalid);
    }

    #[test]
    fn object_members_are_read_as_far_as_they_go() {
        let s = br#"{"name": "f", "arguments": {"x": 1"#;
        let scan = scan_object(s, 0);
        assert_eq!(scan.state, Scan::Incomplete);
        assert_eq!(scan.members.len(), 2);
        assert_eq!(scan.members[0].key, "name");
        assert_eq!(scan.members[1].end, None);
    }

    #[test]
    fn minify_keeps_prefixes() {
        let full = "{\"a\": \"x y\",\n \"b\": [1, 2]}";
        let min = minify(full);
        assert_eq!(min, r#"{"a":"x y","b":[1,2]}"#);
        for (i, _) in full.char_indices() {
            assert!(min.starts_with(&minify(&full[..i])));
        }
        assert_eq!(escape_str("a\"\n格"), "a\\\"\\n格");
    }
}
