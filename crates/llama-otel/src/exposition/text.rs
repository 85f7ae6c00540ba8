//! OpenMetrics text pieces shared by both encoders, and the conversion of hand-written
//! Prometheus text (the server's `llamacpp:*` series) to OpenMetrics: HELP quoting, counter
//! families named without `_total`, and counters whose samples lack `_total` typed `unknown`
//! so every series keeps the name it has in the plain format.

use std::collections::HashMap;
use std::fmt::Write as _;

/// Unit suffixes a family name may end with, longest first: its `# UNIT`.
const UNIT_SUFFIXES: [&str; 12] = [
    "milliseconds",
    "microseconds",
    "nanoseconds",
    "kibibytes",
    "mebibytes",
    "gibibytes",
    "seconds",
    "minutes",
    "percent",
    "bytes",
    "hours",
    "ratio",
];

/// The OpenMetrics family name and type of a plain-format family.
pub(crate) fn om_family<'a>(name: &'a str, plain_type: &str) -> (&'a str, &'static str) {
    match plain_type {
        "counter" => match name.strip_suffix("_total") {
            Some(base) => (base, "counter"),
            None => (name, "unknown"),
        },
        "gauge" => (name, "gauge"),
        "histogram" => (name, "histogram"),
        "summary" => (name, "summary"),
        _ => (name, "unknown"),
    }
}

/// `# TYPE`, `# UNIT` (with `unit`, when the family name ends with a unit) and `# HELP`
/// (`help` unescaped).
pub(crate) fn header(name: &str, om_type: &str, help: &str, unit: bool, out: &mut String) {
    let _ = writeln!(out, "# TYPE {name} {om_type}");
    let suffix = |u: &&str| {
        name.strip_suffix(*u)
            .is_some_and(|rest| rest.ends_with('_'))
    };
    if let Some(u) = UNIT_SUFFIXES.iter().copied().find(suffix).filter(|_| unit) {
        let _ = writeln!(out, "# UNIT {name} {u}");
    }
    if !help.is_empty() {
        let _ = writeln!(out, "# HELP {name} {}", escape(help));
    }
}

/// Escapes a label value or HELP text: backslash, double quote and newline.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Undoes the plain format's HELP escaping (`\\` and `\n` only).
fn unescape_plain_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// Appends Prometheus text format `plain` as OpenMetrics. Samples are copied (label escaping
/// is the same in both formats); comments other than HELP and TYPE are dropped. Families must
/// not repeat, as in the plain format.
pub(crate) fn convert(plain: &str, out: &mut String) {
    let types: HashMap<&str, &str> = plain
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(name, ty)| (name, ty.trim()))
        .collect();
    let mut helps: HashMap<&str, &str> = HashMap::new();
    for line in plain.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            helps.insert(name, help);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (family, om_type) = om_family(name, ty.trim());
            let help = helps
                .get(name)
                .map_or(String::new(), |h| unescape_plain_help(h));
            header(family, om_type, &help, false, out);
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            if !types.contains_key(&line[..name_end])
                && !has_typed_family(&types, &line[..name_end])
            {
                // An untyped sample: give it its own `unknown` family header.
                header(&line[..name_end], "unknown", "", false, out);
            }
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// True when `sample` belongs to a histogram or summary family declared in `types`.
fn has_typed_family(types: &HashMap<&str, &str>, sample: &str) -> bool {
    ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        sample
            .strip_suffix(suffix)
            .and_then(|base| types.get(base))
            .is_some_and(|t| *t == "histogram" || *t == "summary")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_lose_total_in_the_family_name_or_become_unknown() {
        let plain =
            "# HELP llamacpp:prompt_tokens_total Number of \"prompt\" tokens\\nprocessed.\n\
                     # TYPE llamacpp:prompt_tokens_total counter\n\
                     llamacpp:prompt_tokens_total 100\n\
                     # HELP llamacpp:n_tokens_max Largest observed n_tokens.\n\
                     # TYPE llamacpp:n_tokens_max counter\n\
                     llamacpp:n_tokens_max 7\n\
                     # TYPE llamacpp:kv_cache_usage_ratio gauge\n\
                     llamacpp:kv_cache_usage_ratio{a=\"x\\\"y\"} 0.25\n";
        let mut out = String::new();
        convert(plain, &mut out);
        assert_eq!(
            out,
            "# TYPE llamacpp:prompt_tokens counter\n\
             # HELP llamacpp:prompt_tokens Number of \\\"prompt\\\" tokens\\nprocessed.\n\
             llamacpp:prompt_tokens_total 100\n\
             # TYPE llamacpp:n_tokens_max unknown\n\
             # HELP llamacpp:n_tokens_max Largest observed n_tokens.\n\
             llamacpp:n_tokens_max 7\n\
             # TYPE llamacpp:kv_cache_usage_ratio gauge\n\
             llamacpp:kv_cache_usage_ratio{a=\"x\\\"y\"} 0.25\n"
        );
    }

    #[test]
    fn unit_is_declared_only_for_a_unit_suffix() {
        let mut out = String::new();
        header("a_duration_seconds", "histogram", "", true, &mut out);
        header("a_seconds", "gauge", "", false, &mut out);
        header("xseconds", "gauge", "", true, &mut out);
        assert_eq!(
            out,
            "# TYPE a_duration_seconds histogram\n# UNIT a_duration_seconds seconds\n\
             # TYPE a_seconds gauge\n# TYPE xseconds gauge\n"
        );
    }
}
