//! Jinja features llama.cpp's engine has and minijinja lacks: transformers' `{% generation %}`
//! blocks (ignored) and lists mutated in place (`ns.items.append(x)`, `.pop(0)`).
//! Both are handled by rewriting the source before it is compiled.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, State, Value};

/// Name of the function that makes a mutable list (`__llama_list()`).
pub(crate) const LIST_FN: &str = "__llama_list";

/// `{%- generation -%}` / `{% endgeneration %}` become `{%- if true -%}` / `{% endif %}`,
/// keeping their whitespace control.
pub(crate) fn rewrite_generation_tags(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while let Some(pos) = rest.find("{%") {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos..];
        let Some(end) = tag.find("%}") else {
            out.push_str(tag);
            return out;
        };
        let inner = &tag[2..end];
        let (lead, body) = match inner.strip_prefix(['-', '+']) {
            Some(b) => (&inner[..1], b),
            None => ("", inner),
        };
        let (body, trail) = match body.trim_end().strip_suffix(['-', '+']) {
            Some(b) => (b, &body.trim_end()[b.len()..]),
            None => (body, ""),
        };
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(r) => out.push_str(&format!("{{%{lead} {r} {trail}%}}")),
            None => out.push_str(&tag[..end + 2]),
        }
        rest = &tag[end + 2..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Attribute or variable names that the template mutates with list methods.
fn mutated_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    for method in [".append(", ".pop(", ".extend(", ".insert("] {
        for (pos, _) in src.match_indices(method) {
            let before = &src[..pos];
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| !is_ident(*c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let name = &before[start..];
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Empty list literals assigned to a mutated name (`set xs = []`, `namespace(ids=[])`)
/// become `__llama_list()`.
pub(crate) fn rewrite_mutable_lists(src: &str) -> String {
    let mut out = src.to_string();
    for name in mutated_names(src) {
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(pos) = rest.find(name.as_str()) {
            let boundary_before = rest[..pos].chars().next_back().is_none_or(|c| !is_ident(c));
            let after = &rest[pos + name.len()..];
            let assigned = after
                .trim_start()
                .strip_prefix('=')
                .filter(|a| !a.starts_with('='))
                .map(str::trim_start)
                .and_then(|a| a.strip_prefix('['))
                .map(str::trim_start)
                .and_then(|a| a.strip_prefix(']'));
            match assigned {
                Some(tail) if boundary_before => {
                    result.push_str(&rest[..pos + name.len()]);
                    result.push_str(&format!("={LIST_FN}()"));
                    rest = tail;
                }
                _ => {
                    result.push_str(&rest[..pos + name.len()]);
                    rest = after;
                }
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// A list that `append`/`pop`/`extend`/`insert` change in place, as in Python.
#[derive(Default)]
pub(crate) struct MutList(Mutex<Vec<Value>>);

impl fmt::Debug for MutList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items().iter()).finish()
    }
}

impl MutList {
    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn new_value() -> Value {
        Value::from_object(MutList::default())
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let idx = if i < 0 { i + len as i64 } else { i };
    usize::try_from(idx).ok().filter(|&i| i < len)
}

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = i64::try_from(key.clone()).ok()?;
        index(items.len(), i).map(|i| items[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.items().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let mut items = self.items();
        match (method, args) {
            ("append", [v]) => items.push(v.clone()),
            ("extend", [vs]) => items.extend(vs.try_iter()?),
            ("insert", [i, v]) => {
                let i = i64::try_from(i.clone())?;
                let len = items.len() as i64;
                let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
                items.insert(at as usize, v.clone());
            }
            ("pop", []) => return items.pop().ok_or_else(pop_error),
            ("pop", [i]) => {
                let i = index(items.len(), i64::try_from(i.clone())?).ok_or_else(pop_error)?;
                return Ok(items.remove(i));
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }
}

fn pop_error() -> Error {
    Error::new(ErrorKind::InvalidOperation, "pop index out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_tags_become_if_blocks() {
        assert_eq!(
            rewrite_generation_tags("a{%- generation -%}b{% endgeneration %}c{{ x }}{% if y %}"),
            "a{%- if true -%}b{% endif %}c{{ x }}{% if y %}"
        );
    }

    #[test]
    fn only_mutated_empty_lists_are_rewritten() {
        let src = "{% set ns = namespace(ids=[], other=[]) %}{% set q = [] %}\
                   {% set _ = ns.ids.append(1) %}{{ q.pop() }}{% if q == [] %}{% endif %}";
        assert_eq!(
            rewrite_mutable_lists(src),
            "{% set ns = namespace(ids=__llama_list(), other=[]) %}{% set q=__llama_list() %}\
             {% set _ = ns.ids.append(1) %}{{ q.pop() }}{% if q == [] %}{% endif %}"
        );
    }
}
