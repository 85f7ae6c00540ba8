//! The shared walk over a model's output: content up to the next tool-call opener, the call
//! body parsed by the format, and so on. On a partial (still generating) text, a tail that
//! could be the start of an opener is held back, and a call is reported only once its name
//! is known, so that nothing streamed as content later turns out to be part of a call.

use super::json_scan::{decode_string, minify, scan_object, skip_ws, Member, Scan};

/// A tool call as parsed so far; `args` is minified JSON text (a prefix while partial).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PCall {
    pub id: String,
    pub name: String,
    pub args: String,
}

/// What a format's body parser found after an opener.
#[derive(Debug)]
pub(crate) enum Body {
    /// Complete calls; parsing resumes at `end`.
    Done { calls: Vec<PCall>, end: usize },
    /// The text ends inside the body; the calls known so far (their last one unfinished).
    Partial { calls: Vec<PCall> },
    /// Text to keep as content in place of the opener (or nothing: a dropped marker).
    Text { text: String, end: usize },
    /// Not a call after all: the opener is content.
    Invalid,
}

/// The result of one walk: content and calls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Walk {
    pub content: String,
    pub calls: Vec<PCall>,
}

/// Where an opener starts: `(start, end of opener, which opener)`; `Held(pos)`: the tail
/// from `pos` may still become an opener.
pub(crate) enum Found {
    At(usize, usize, usize),
    Held(usize),
    Nothing,
}

pub(crate) fn find_opener(text: &str, from: usize, openers: &[&str], partial: bool) -> Found {
    let best = openers
        .iter()
        .enumerate()
        .filter_map(|(w, o)| {
            text[from..]
                .find(o)
                .map(|p| (from + p, from + p + o.len(), w))
        })
        .min_by_key(|&(start, _, _)| start);
    if let Some((start, end, w)) = best {
        return Found::At(start, end, w);
    }
    match partial.then(|| held_tail(&text[from..], openers)).flatten() {
        Some(p) => Found::Held(from + p),
        None => Found::Nothing,
    }
}

/// The earliest position whose tail is a proper, non-empty prefix of one of `markers`.
pub(crate) fn held_tail(text: &str, markers: &[&str]) -> Option<usize> {
    let longest = markers.iter().map(|m| m.len()).max().unwrap_or(0);
    let lo = text.len().saturating_sub(longest);
    (lo..text.len())
        .filter(|&p| text.is_char_boundary(p))
        .find(|&p| {
            markers
                .iter()
                .any(|m| m.len() > text.len() - p && m.starts_with(&text[p..]))
        })
}

/// Content and calls of `text`: `body(text, opener_end, which)` parses a call body.
pub(crate) fn walk(
    text: &str,
    partial: bool,
    openers: &[&str],
    body: impl Fn(&str, usize, usize) -> Body,
) -> Walk {
    walk_with(
        text,
        partial,
        |t, from, p| find_opener(t, from, openers, p),
        body,
    )
}

/// [`walk`] with any opener finder (`find(text, from, partial)`).
pub(crate) fn walk_with(
    text: &str,
    partial: bool,
    find: impl Fn(&str, usize, bool) -> Found,
    body: impl Fn(&str, usize, usize) -> Body,
) -> Walk {
    let mut out = Walk::default();
    let mut pos = 0;
    while pos <= text.len() {
        match find(text, pos, partial) {
            Found::Nothing => {
                out.content.push_str(&text[pos..]);
                break;
            }
            Found::Held(h) => {
                out.content.push_str(&text[pos..h]);
                break;
            }
            Found::At(start, end, which) => {
                out.content.push_str(&text[pos..start]);
                match body(text, end, which) {
                    Body::Done { calls, end } => {
                        out.calls.extend(calls);
                        pos = end;
                    }
                    Body::Text { text: t, end } => {
                        out.content.push_str(&t);
                        pos = end;
                    }
                    Body::Partial { calls } if partial => {
                        out.calls.extend(calls);
                        break;
                    }
                    // Cut off or malformed at the end of the output: it stays text.
                    Body::Partial { .. } => {
                        out.content.push_str(&text[start..]);
                        break;
                    }
                    Body::Invalid => {
                        // An empty opener (a pattern) still moves on by one character.
                        let next = text[start..]
                            .chars()
                            .next()
                            .map_or(start, |c| start + c.len_utf8());
                        let end = end.max(next);
                        out.content.push_str(&text[start..end]);
                        pos = end;
                    }
                }
            }
        }
    }
    out
}

/// Key names of a JSON call object (`{"name": ..., "arguments": ...}` and its variants).
pub(crate) struct Keys {
    pub name: &'static [&'static str],
    pub args: &'static [&'static str],
    /// When the model writes ids, a call waits for its id (it may come last).
    pub id: &'static [&'static str],
}

pub(crate) const NAME_ARGUMENTS: Keys = Keys {
    name: &["name"],
    args: &["arguments", "parameters"],
    id: &[],
};

fn member<'a>(members: &'a [Member], keys: &[&str]) -> Option<&'a Member> {
    members.iter().find(|m| keys.contains(&m.key.as_str()))
}

/// Arguments text of a (possibly unfinished) value: objects stream, strings holding JSON
/// text are used once complete.
fn args_text(s: &str, m: &Member) -> Option<String> {
    match m.end {
        Some(end) if s.as_bytes().get(m.start) == Some(&b'"') => {
            let inner = decode_string(&s.as_bytes()[m.start..end])?;
            Some(minify(&inner))
        }
        Some(end) => Some(minify(&s[m.start..end])),
        None if matches!(s.as_bytes().get(m.start), Some(b'{' | b'[')) => {
            Some(minify(&s[m.start..]))
        }
        None => Some(String::new()),
    }
}

/// A call from a scanned object: `Err` when it can never be a call, `Ok(None)` while the name
/// (or a model-written id) is still coming.
fn call_from(
    s: &str,
    scan: &super::json_scan::ObjectScan,
    keys: &Keys,
) -> Result<Option<PCall>, ()> {
    let closed = matches!(scan.state, Scan::Done(_));
    let string_of = |m: &Member| -> Result<Option<String>, ()> {
        match m.end {
            Some(end) => decode_string(&s.as_bytes()[m.start..end])
                .map(Some)
                .ok_or(()),
            None if matches!(s.as_bytes().get(m.start), Some(b'"') | None) => Ok(None),
            None => Err(()),
        }
    };
    let name = match member(&scan.members, keys.name) {
        Some(m) => string_of(m)?,
        None if closed => return Err(()),
        None => None,
    };
    let Some(name) = name else { return Ok(None) };
    let id = match member(&scan.members, keys.id) {
        Some(m) => string_of(m)?,
        None => Some(String::new()),
    };
    let id = match id {
        Some(id) if closed || !id.is_empty() || keys.id.is_empty() => id,
        _ => return Ok(None),
    };
    let args = match member(&scan.members, keys.args) {
        Some(m) => args_text(s, m).ok_or(())?,
        None if closed => "{}".to_string(),
        None => String::new(),
    };
    Ok(Some(PCall { id, name, args }))
}

/// One JSON call object at `i` (after whitespace), then `close` (may be empty), then
/// whitespace.
pub(crate) fn json_call(s: &str, i: usize, keys: &Keys, close: &str) -> Body {
    let i = skip_ws(s.as_bytes(), i);
    if i == s.len() {
        return Body::Partial { calls: vec![] };
    }
    let scan = scan_object(s.as_bytes(), i);
    let call = match call_from(s, &scan, keys) {
        Ok(c) => c,
        Err(()) => return Body::Invalid,
    };
    match scan.state {
        Scan::Invalid => Body::Invalid,
        Scan::Incomplete => Body::Partial {
            calls: call.into_iter().collect(),
        },
        Scan::Done(end) => match (call, expect_close(s, end, close)) {
            (Some(call), Some(Ok(end))) => Body::Done {
                calls: vec![call],
                end,
            },
            (Some(call), None) => Body::Partial { calls: vec![call] },
            _ => Body::Invalid,
        },
    }
}

/// After whitespace, `close`: `Some(Ok(end after it and whitespace))`, `None` while it may
/// still come, `Some(Err)` when something else is there.
pub(crate) fn expect_close(s: &str, i: usize, close: &str) -> Option<Result<usize, ()>> {
    let j = skip_ws(s.as_bytes(), i);
    let rest = &s[j..];
    if rest.starts_with(close) {
        Some(Ok(skip_ws(s.as_bytes(), j + close.len())))
    } else if close.starts_with(rest) {
        None
    } else {
        Some(Err(()))
    }
}

/// A JSON array of call objects at `i`, then `close`.
pub(crate) fn json_call_array(s: &str, i: usize, keys: &Keys, close: &str) -> Body {
    let b = s.as_bytes();
    let mut j = skip_ws(b, i);
    match b.get(j) {
        None => return Body::Partial { calls: vec![] },
        Some(b'[') => j = skip_ws(b, j + 1),
        Some(_) => return Body::Invalid,
    }
    let mut calls = Vec::new();
    if b.get(j) == Some(&b']') {
        return finish_array(s, j + 1, close, calls);
    }
    loop {
        if j == s.len() {
            return Body::Partial { calls };
        }
        match json_call(s, j, keys, "") {
            Body::Done { calls: c, end } => {
                calls.extend(c);
                j = end;
            }
            Body::Partial { calls: c } => {
                calls.extend(c);
                return Body::Partial { calls };
            }
            Body::Invalid | Body::Text { .. } => return Body::Invalid,
        }
        match b.get(j) {
            None => return Body::Partial { calls },
            Some(b',') => j = skip_ws(b, j + 1),
            Some(b']') => return finish_array(s, j + 1, close, calls),
            Some(_) => return Body::Invalid,
        }
    }
}

fn finish_array(s: &str, end: usize, close: &str, calls: Vec<PCall>) -> Body {
    match expect_close(s, end, close) {
        Some(Ok(end)) => Body::Done { calls, end },
        None => Body::Partial { calls },
        Some(Err(())) => Body::Invalid,
    }
}
