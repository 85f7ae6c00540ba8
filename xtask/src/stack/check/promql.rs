//! PromQL as the stack writes it, made evaluable: Grafana's variables filled in, dashboard
//! variables as series queries, alert conditions as `bool` comparisons.

/// A PromQL expression to evaluate, with where it comes from.
#[derive(Debug, Clone)]
pub(super) struct Query {
    pub(super) source: String,
    pub(super) expr: String,
}

/// Grafana's variables → values Prometheus accepts: intervals get fixed values, every other
/// variable matches anything (the dashboards use them as `=~"$var"`).
pub(super) fn substitute(expr: &str) -> String {
    let mut s = expr.to_string();
    for (var, value) in [
        ("${__rate_interval}", "1m"),
        ("$__rate_interval", "1m"),
        ("${__interval}", "15s"),
        ("$__interval", "15s"),
        ("${__range}", "5m"),
        ("$__range", "5m"),
    ] {
        s = s.replace(var, value);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'{') {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
            }
            out.push_str(".*");
        } else if chars
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            while chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
            {
                chars.next();
            }
            out.push_str(".*");
        } else {
            out.push('$');
        }
    }
    out
}

/// `label_values(selector, label)` / `label_values(label)` → a query that returns one series per
/// value (`count by (label) (selector)`).
pub(super) fn variable_query(q: &str) -> Option<String> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    let (selector, label) = match inner.rfind(',') {
        Some(i) if !inner[i..].contains('}') => (
            inner[..i].trim().to_string(),
            inner[i + 1..].trim().to_string(),
        ),
        _ => (
            format!("{{{}!=\"\"}}", inner.trim()),
            inner.trim().to_string(),
        ),
    };
    Some(format!("count by ({label}) ({selector})"))
}

/// Every top-level comparison of an alert expression as a `bool` comparison, so the expression
/// returns its series whether or not the alert would fire.
pub(super) fn comparison_as_bool(expr: &str) -> String {
    let bytes = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 16);
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' && i + 1 < bytes.len() {
                out.push_str(&expr[i..i + 2]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            out.push(c as char);
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => quote = Some(c),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            _ => {}
        }
        let two = expr.get(i..i + 2).unwrap_or("");
        let op_len = if depth == 0 && matches!(two, ">=" | "<=" | "==" | "!=") {
            2
        } else if depth == 0 && (c == b'>' || c == b'<') {
            1
        } else {
            0
        };
        if op_len == 0 {
            out.push(c as char);
            i += 1;
            continue;
        }
        out.push_str(&expr[i..i + op_len]);
        i += op_len;
        if !expr[i..].trim_start().starts_with("bool") {
            out.push_str(" bool");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_variables_are_substituted() {
        assert_eq!(
            substitute("rate(x{instance=~\"$instance\", m=~\"${model:regex}\"}[$__rate_interval]) $__interval"),
            "rate(x{instance=~\".*\", m=~\".*\"}[1m]) 15s"
        );
        assert_eq!(substitute("a $ b"), "a $ b");
    }

    #[test]
    fn comparisons_become_bool() {
        assert_eq!(comparison_as_bool("up == 0"), "up == bool 0");
        assert_eq!(
            comparison_as_bool("sum(x{a!=\"b\"}) by (i) > 0.9"),
            "sum(x{a!=\"b\"}) by (i) > bool 0.9"
        );
        assert_eq!(comparison_as_bool("a >= bool 2"), "a >= bool 2");
        assert_eq!(
            comparison_as_bool("histogram_quantile(0.95, x) > 2 and y < 1"),
            "histogram_quantile(0.95, x) > bool 2 and y < bool 1"
        );
        assert_eq!(
            comparison_as_bool("x{l=\"a>b\"} > 1"),
            "x{l=\"a>b\"} > bool 1"
        );
    }

    #[test]
    fn label_values_become_count_by() {
        assert_eq!(
            variable_query("label_values(target_info{a=~\".*\"}, instance)").as_deref(),
            Some("count by (instance) (target_info{a=~\".*\"})")
        );
        assert_eq!(
            variable_query("label_values(job)").as_deref(),
            Some("count by (job) ({job!=\"\"})")
        );
        assert_eq!(variable_query("query_result(up)"), None);
    }
}
