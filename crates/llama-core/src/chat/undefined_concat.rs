//! llama.cpp's engine concatenates an undefined variable with a string as an empty string
//! (`workaround_concat_null_with_str` in `common/jinja/runtime.cpp`), where minijinja (and
//! Jinja2) fail: FireFunction v2's template adds an undefined `functions` to its system
//! prompt. The source is rewritten so that each undeclared variable next to a `+` reads
//! `(name|default(''))`; a variable the context does define is unchanged by the filter.

use std::collections::HashSet;

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The source with the undeclared `names` that are operands of `+` wrapped in `default('')`.
/// Only the code inside `{{ }}` and `{% %}` is touched, never string literals or comments.
pub(crate) fn rewrite_undefined_concat(src: &str, names: &HashSet<String>) -> String {
    if names.is_empty() {
        return src.to_string();
    }
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let (mut i, mut in_tag, mut quote) = (0, false, None::<char>);
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(n) = next {
                    out.push(n);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if !in_tag {
            if c == '{' && next == Some('#') {
                // A comment runs to `#}` untouched.
                let rest: String = chars[i..].iter().collect();
                let end = rest.find("#}").map_or(rest.len(), |p| p + 2);
                out.push_str(&rest[..end]);
                i += rest[..end].chars().count();
                continue;
            }
            in_tag = c == '{' && matches!(next, Some('{' | '%'));
            out.push(c);
            i += 1;
            continue;
        }
        if (c == '}' || c == '%') && next == Some('}') {
            in_tag = false;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
        let starts_ident = (c.is_ascii_alphabetic() || c == '_')
            && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == '.'));
        if !starts_ident {
            out.push(c);
            i += 1;
            continue;
        }
        let end = (i..chars.len())
            .find(|&j| !is_ident(chars[j]))
            .unwrap_or(chars.len());
        let name: String = chars[i..end].iter().collect();
        let before = chars[..i].iter().rev().find(|c| !c.is_whitespace());
        let after = chars[end..].iter().find(|c| !c.is_whitespace());
        let operand = before == Some(&'+') || after == Some(&'+');
        let accessed = matches!(after, Some('.' | '[' | '('));
        if names.contains(&name) && operand && !accessed {
            out.push_str(&format!("({name}|default(''))"));
        } else {
            out.push_str(&name);
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_undeclared_operands_of_plus_in_code_are_wrapped() {
        let names: HashSet<String> = ["functions".to_string()].into();
        let src = "{%- set s = s + \"\\n\" + functions -%}{# functions + x #}functions + 1\
                   {{ 'functions + ' ~ functions.x + other }}";
        assert_eq!(
            rewrite_undefined_concat(src, &names),
            "{%- set s = s + \"\\n\" + (functions|default('')) -%}{# functions + x #}\
             functions + 1{{ 'functions + ' ~ functions.x + other }}"
        );
    }
}
