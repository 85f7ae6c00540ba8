//! The `tojson` filter as HuggingFace transformers defines it for chat templates:
//! `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`, i.e. no
//! HTML escaping of `< > & '`, Python's default separators and float formatting.

use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Error, ErrorKind, Value};

/// Options of Python's `json.dumps` that HF exposes.
#[derive(Clone, Debug)]
pub(crate) struct JsonOptions {
    pub indent: Option<String>,
    pub item_sep: String,
    pub key_sep: String,
    pub sort_keys: bool,
    pub ensure_ascii: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            indent: None,
            item_sep: ", ".into(),
            key_sep: ": ".into(),
            sort_keys: false,
            ensure_ascii: false,
        }
    }
}

impl JsonOptions {
    fn from_kwargs(kwargs: &Kwargs) -> Result<Self, Error> {
        let mut opts = JsonOptions::default();
        if let Some(indent) = kwargs
            .get::<Option<Value>>("indent")?
            .filter(|v| !v.is_none())
        {
            opts.indent = Some(match indent.as_str() {
                Some(s) => s.to_string(),
                None => " ".repeat(usize::try_from(indent)?),
            });
            // Python drops the space after ',' when indenting.
            opts.item_sep = ",".into();
        }
        if let Some(seps) = kwargs.get::<Option<Vec<String>>>("separators")? {
            let [item, key]: [String; 2] = seps.try_into().map_err(|_| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: separators must be a pair",
                )
            })?;
            opts.item_sep = item;
            opts.key_sep = key;
        }
        opts.sort_keys = kwargs.get::<Option<bool>>("sort_keys")?.unwrap_or(false);
        opts.ensure_ascii = kwargs.get::<Option<bool>>("ensure_ascii")?.unwrap_or(false);
        kwargs.assert_all_used()?;
        Ok(opts)
    }
}

/// The `tojson` filter registered on chat-template environments.
pub(crate) fn tojson_filter(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let opts = JsonOptions::from_kwargs(&kwargs)?;
    Ok(Value::from_safe_string(to_json(value, &opts)?))
}

/// Serializes `value` like Python's `json.dumps` with the given options.
pub(crate) fn to_json(value: &Value, opts: &JsonOptions) -> Result<String, Error> {
    let mut out = String::new();
    write_value(&mut out, value, opts, 0)?;
    Ok(out)
}

fn write_value(
    out: &mut String,
    value: &Value,
    opts: &JsonOptions,
    depth: usize,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&number_repr(value)),
        ValueKind::String => {
            write_string(out, value.as_str().unwrap_or_default(), opts.ensure_ascii)
        }
        ValueKind::Map => write_map(out, value, opts, depth)?,
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            write_container(out, opts, depth, ('[', ']'), &items, |out, item, d| {
                write_value(out, item, opts, d)
            })?;
        }
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "tojson: object of kind {} is not JSON serializable",
                    value.kind()
                ),
            ))
        }
    }
    Ok(())
}

fn write_map(
    out: &mut String,
    value: &Value,
    opts: &JsonOptions,
    depth: usize,
) -> Result<(), Error> {
    let mut entries = Vec::new();
    for key in value.try_iter()? {
        let item = value.get_item(&key)?;
        entries.push((key_string(&key), item));
    }
    if opts.sort_keys {
        entries.sort_by(|a, b| a.0.cmp(&b.0));
    }
    write_container(
        out,
        opts,
        depth,
        ('{', '}'),
        &entries,
        |out, (key, item), d| {
            write_string(out, key, opts.ensure_ascii);
            out.push_str(&opts.key_sep);
            write_value(out, item, opts, d)
        },
    )
}

/// Writes `open item sep item ... close`, with Python's newline/indent layout when indenting.
fn write_container<T>(
    out: &mut String,
    opts: &JsonOptions,
    depth: usize,
    (open, close): (char, char),
    items: &[T],
    mut write_item: impl FnMut(&mut String, &T, usize) -> Result<(), Error>,
) -> Result<(), Error> {
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return Ok(());
    }
    let newline = |out: &mut String, level: usize| {
        if let Some(indent) = &opts.indent {
            out.push('\n');
            out.push_str(&indent.repeat(level));
        }
    };
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&opts.item_sep);
        }
        newline(out, depth + 1);
        write_item(out, item, depth + 1)?;
    }
    newline(out, depth);
    out.push(close);
    Ok(())
}

/// Python converts dict keys to strings: str as is, numbers by repr, True/False/None as JSON.
fn key_string(key: &Value) -> String {
    match key.kind() {
        ValueKind::String => key.as_str().unwrap_or_default().to_string(),
        ValueKind::Bool => if key.is_true() { "true" } else { "false" }.to_string(),
        ValueKind::None | ValueKind::Undefined => "null".to_string(),
        ValueKind::Number => number_repr(key),
        _ => key.to_string(),
    }
}

fn number_repr(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(f) => float_repr(f),
        Err(_) => value.to_string(),
    }
}

/// Python's `float.__repr__` (which `json.dumps` uses): shortest round-trip digits, scientific
/// notation outside [1e-4, 1e16) with a signed exponent of at least two digits.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's Debug uses the same shortest digits and the same fixed/scientific thresholds.
    let s = format!("{f:?}");
    let Some((mantissa, exp)) = s.split_once('e') else {
        return s;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

fn write_string(out: &mut String, s: &str, ensure_ascii: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (ensure_ascii && !c.is_ascii()) => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Environment;

    fn render(template: &str, ctx: Value) -> String {
        let mut env = Environment::new();
        env.add_filter("tojson", tojson_filter);
        env.render_str(template, ctx).unwrap()
    }

    #[test]
    fn strings_keep_html_characters_and_unicode() {
        let v = Value::from("<a href='x'> & é \"q\"\n\u{1}");
        assert_eq!(
            to_json(&v, &JsonOptions::default()).unwrap(),
            "\"<a href='x'> & é \\\"q\\\"\\n\\u0001\""
        );
        let ascii = JsonOptions {
            ensure_ascii: true,
            ..Default::default()
        };
        assert_eq!(
            to_json(&Value::from("é🦙"), &ascii).unwrap(),
            "\"\\u00e9\\ud83e\\udd99\""
        );
    }

    #[test]
    fn floats_follow_python_repr() {
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(0.1), "0.1");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
        assert_eq!(float_repr(123456.789), "123456.789");
        assert_eq!(float_repr(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn filter_uses_python_separators_and_key_order() {
        let out = render(
            "{{ {'b': 1, 'a': [true, none, 2.5], 'c': {}}|tojson }}",
            Value::from(()),
        );
        assert_eq!(out, r#"{"b": 1, "a": [true, null, 2.5], "c": {}}"#);
        let sorted = render(
            "{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }}",
            Value::from(()),
        );
        assert_eq!(sorted, r#"{"a": 2, "b": 1}"#);
        let compact = render(
            "{{ {'a': [1, 2]}|tojson(separators=[',', ':']) }}",
            Value::from(()),
        );
        assert_eq!(compact, r#"{"a":[1,2]}"#);
    }

    #[test]
    fn filter_indents_like_python() {
        let out = render(
            "{{ {'a': [1, 2], 'b': []}|tojson(indent=2) }}",
            Value::from(()),
        );
        assert_eq!(out, "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": []\n}");
    }
}
