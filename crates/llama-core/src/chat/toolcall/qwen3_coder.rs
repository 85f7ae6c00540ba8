//! Qwen3-Coder XML calls: `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>\n
//! </function>\n</tool_call>` (the first `<tool_call>` may be missing). A value is a JSON
//! string when its schema says string, else JSON when it parses (llama.cpp's typing).

use serde_json::Value as Json;

use super::json_scan::skip_ws;
use super::scan::{walk, Body, PCall, Walk};
use crate::chat::ChatTool;

const PARAM_CLOSE: &str = "</parameter>";

pub(crate) fn qwen3_coder(text: &str, partial: bool, tools: &[ChatTool]) -> Walk {
    walk(
        text,
        partial,
        &["<tool_call>", "<function="],
        |s, i, which| {
            let i = skip_ws(s.as_bytes(), i);
            let i = if which == 0 {
                match literal(s, i, "<function=") {
                    Some(Ok(e)) => e,
                    None => return Body::Partial { calls: vec![] },
                    Some(Err(())) => return Body::Invalid,
                }
            } else {
                i
            };
            function(s, i, tools)
        },
    )
}

fn literal(s: &str, i: usize, lit: &str) -> Option<Result<usize, ()>> {
    let rest = &s[i..];
    if rest.starts_with(lit) {
        Some(Ok(i + lit.len()))
    } else if lit.starts_with(rest) {
        None
    } else {
        Some(Err(()))
    }
}

/// After `<function=`: the name, the parameters, `</function>`, an optional `</tool_call>`.
fn function(s: &str, i: usize, tools: &[ChatTool]) -> Body {
    let Some(gt) = s[i..].find('>') else {
        let ok = !s[i..].contains(['\n', '<']);
        return if ok {
            Body::Partial { calls: vec![] }
        } else {
            Body::Invalid
        };
    };
    let name = s[i..i + gt].trim();
    if name.is_empty() || name.contains(['\n', '<']) {
        return Body::Invalid;
    }
    let schema = tools.iter().find(|t| t.name == name).map(|t| &t.parameters);
    let mut params: Vec<String> = Vec::new();
    let mut j = i + gt + 1;
    let call = |params: &[String], done: bool| PCall {
        id: String::new(),
        name: name.to_string(),
        args: format!("{{{}{}", params.join(","), if done { "}" } else { "" }),
    };
    loop {
        j = skip_ws(s.as_bytes(), j);
        if let Some(Ok(e)) = literal(s, j, "</function>") {
            let mut end = skip_ws(s.as_bytes(), e);
            match literal(s, end, "</tool_call>") {
                Some(Ok(e)) => end = skip_ws(s.as_bytes(), e),
                None if end < s.len() => {
                    return Body::Partial {
                        calls: vec![call(&params, true)],
                    }
                }
                _ => {}
            }
            return Body::Done {
                calls: vec![call(&params, true)],
                end,
            };
        }
        match literal(s, j, "<parameter=") {
            Some(Ok(e)) => match parameter(s, e, schema) {
                Ok(Some((p, end))) => {
                    params.push(p);
                    j = end;
                }
                Ok(None) => {
                    return Body::Partial {
                        calls: vec![call(&params, false)],
                    }
                }
                Err(()) => return Body::Invalid,
            },
            Some(Err(())) if !"</function>".starts_with(&s[j..]) => return Body::Invalid,
            _ => {
                return Body::Partial {
                    calls: vec![call(&params, false)],
                }
            }
        }
    }
}

/// After `<parameter=`: `"key":value` and where it ends; `Ok(None)` while unfinished.
fn parameter(s: &str, i: usize, schema: Option<&Json>) -> Result<Option<(String, usize)>, ()> {
    let Some(gt) = s[i..].find('>') else {
        return if s[i..].contains('\n') {
            Err(())
        } else {
            Ok(None)
        };
    };
    let key = s[i..i + gt].trim();
    let body = i + gt + 1;
    let Some(close) = s[body..].find(PARAM_CLOSE) else {
        return Ok(None);
    };
    let raw = &s[body..body + close];
    let raw = raw.strip_prefix('\n').unwrap_or(raw);
    let raw = raw.strip_suffix('\n').unwrap_or(raw);
    let value = typed_value(raw, schema.and_then(|p| p.get("properties")?.get(key)));
    let member = format!("{}:{}", Json::String(key.to_string()), value);
    Ok(Some((member, body + close + PARAM_CLOSE.len())))
}

fn typed_value(raw: &str, schema: Option<&Json>) -> Json {
    let types: Vec<&str> = match schema.and_then(|s| s.get("type")) {
        Some(Json::String(t)) => vec![t.as_str()],
        Some(Json::Array(ts)) => ts.iter().filter_map(Json::as_str).collect(),
        _ => vec![],
    };
    if types == ["string"] {
        return Json::String(raw.to_string());
    }
    serde_json::from_str(raw.trim()).unwrap_or_else(|_| Json::String(raw.to_string()))
}
