//! PromQL as the stack writes it, made evaluable: Grafana's variables filled in, dashboard
//! variables as series queries, alert conditions as `bool` comparisons.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// A PromQL expression to evaluate, with where it comes from.
#[derive(Debug, Clone)]
pub(super) struct Query {
    pub(super) source: String,
    pub(super) expr: String,
}

/// The prefix of the series the collector's `spanmetrics` connector computes from traces: the
/// live check runs no collector (none is installable here), so Prometheus checks those queries'
/// syntax but cannot be asked for their series.
pub(super) const COLLECTOR_SERIES: &str = "traces_span_metrics_";

impl Query {
    pub(super) fn new(source: String, expr: &str) -> Self {
        Query {
            source,
            expr: expr.to_string(),
        }
    }

    /// Whether the query reads series only the collector produces (see [`COLLECTOR_SERIES`]).
    pub(super) fn collector_only(&self) -> bool {
        self.expr.contains(COLLECTOR_SERIES)
    }
}

/// Grafana's variables → values Prometheus accepts: intervals get fixed values, every other
/// variable matches anything (the dashboards use them as `=~"$var"`).
pub(super) fn substitute(expr: &str) -> String {
    static VARIABLE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$\{(\w+)[^}]*\}|\$(\w+)").expect("a valid regex"));
    let value = |c: &Captures| match c.get(1).or(c.get(2)).map_or("", |m| m.as_str()) {
        "__rate_interval" => "1m",
        "__interval" => "15s",
        "__range" => "5m",
        _ => ".*",
    };
    VARIABLE.replace_all(expr, value).into_owned()
}

/// `label_values(selector, label)` / `label_values(label)` → a query that returns one series per
/// value (`count by (label) (selector)`).
pub(super) fn variable_query(q: &str) -> Option<String> {
    let inner = q.trim().strip_prefix("label_values(")?;
    let inner = inner.strip_suffix(')')?.trim();
    Some(match inner.rsplit_once(',') {
        Some((selector, label)) if !label.contains('}') => {
            format!("count by ({}) ({})", label.trim(), selector.trim())
        }
        _ => format!("count by ({inner}) ({{{inner}!=\"\"}})"),
    })
}

/// Every top-level comparison of an alert expression as a `bool` comparison, so the expression
/// returns its series whether or not the alert would fire.
pub(super) fn comparison_as_bool(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let (mut depth, mut quote, mut escaped) = (0i32, None, false);
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        out.push(c);
        if let Some(q) = quote {
            (escaped, quote) = (
                c == '\\' && !escaped,
                if c == q && !escaped { None } else { quote },
            );
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            '>' | '<' | '=' | '!' if depth == 0 => {
                let two = matches!(expr.get(i..i + 2), Some(">=" | "<=" | "==" | "!="));
                if two {
                    out.push('=');
                    chars.next();
                } else if c == '=' || c == '!' {
                    continue;
                }
                let rest = &expr[i + 1 + usize::from(two)..];
                if !rest.trim_start().starts_with("bool") {
                    out.push_str(" bool");
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_variables_are_substituted() {
        let expr = "rate(x{i=~\"$instance\", m=~\"${model:regex}\"}[$__rate_interval]) ${__range}";
        assert_eq!(substitute(expr), "rate(x{i=~\".*\", m=~\".*\"}[1m]) 5m");
        assert_eq!(substitute("a $ b $__interval"), "a $ b 15s");
    }

    #[test]
    fn comparisons_become_bool() {
        for (expr, bool) in [
            ("up == 0", "up == bool 0"),
            (
                "sum(x{a!=\"b\"}) by (i) > 0.9",
                "sum(x{a!=\"b\"}) by (i) > bool 0.9",
            ),
            ("a >= bool 2", "a >= bool 2"),
            (
                "q(0.95, x) > 2 and y < 1",
                "q(0.95, x) > bool 2 and y < bool 1",
            ),
            ("x{l=\"a>b\\\"\"} > 1", "x{l=\"a>b\\\"\"} > bool 1"),
        ] {
            assert_eq!(comparison_as_bool(expr), bool);
        }
    }

    #[test]
    fn label_values_become_count_by() {
        let q = variable_query("label_values(target_info{a=~\".*\"}, instance)");
        assert_eq!(
            q.as_deref(),
            Some("count by (instance) (target_info{a=~\".*\"})")
        );
        let q = variable_query("label_values(job)");
        assert_eq!(q.as_deref(), Some("count by (job) ({job!=\"\"})"));
        assert_eq!(variable_query("query_result(up)"), None);
    }
}
