//! The stack's YAML files (serde_norway, duplicate keys rejected) and how the checks read them:
//! dotted paths, and compose's either-form fields.

use anyhow::{Context, Result};
use serde_norway::Value;

/// Reads and parses the file at `path` (relative to the workspace root); serde_norway's
/// mappings reject a duplicate key.
pub(super) fn load(path: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    serde_norway::from_str(&text).with_context(|| path.to_string())
}

/// Dotted-path access (`services.grafana.environment`): keys are the stack's names, which have
/// no dots.
pub(super) trait Doc {
    fn at(&self, path: &str) -> Option<&Value>;

    fn text(&self, path: &str) -> Option<&str> {
        self.at(path)?.as_str()
    }

    /// A sequence's items (none when absent).
    fn items(&self, path: &str) -> Vec<&Value> {
        self.at(path)
            .and_then(Value::as_sequence)
            .map_or(Vec::new(), |s| s.iter().collect())
    }

    /// A mapping's (key, value) pairs (none when absent).
    fn entries(&self, path: &str) -> Vec<(&str, &Value)> {
        let map = self
            .at(path)
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten();
        map.filter_map(|(k, v)| Some((k.as_str()?, v))).collect()
    }

    /// A string or a list of words (compose `command`, a healthcheck `test`).
    fn words(&self, path: &str) -> Vec<String> {
        match self.at(path) {
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            _ => self
                .items(path)
                .iter()
                .filter_map(|v| v.as_str())
                .map(String::from)
                .collect(),
        }
    }

    /// `--name=value` or `--name value` in the words at `path`.
    fn flag(&self, path: &str, name: &str) -> Option<String> {
        let (words, prefix) = (self.words(path), format!("{name}="));
        let at = words
            .iter()
            .position(|w| w == name || w.starts_with(&prefix))?;
        match words[at].strip_prefix(&prefix) {
            Some(v) => Some(v.to_string()),
            None => words.get(at + 1).cloned(),
        }
    }

    /// The value of `key` in a mapping or a list of `KEY=value` (compose `environment`, `args`).
    fn setting(&self, path: &str, key: &str) -> Option<String> {
        if let Some((_, v)) = self.entries(path).into_iter().find(|(k, _)| *k == key) {
            return Some(v.as_str().map_or_else(
                || serde_norway::to_string(v).unwrap_or_default(),
                String::from,
            ));
        }
        let list = self.items(path).into_iter().filter_map(Value::as_str);
        list.filter_map(|i| i.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }

    /// A mapping's keys or a list's strings (compose `depends_on`).
    fn names(&self, path: &str) -> Vec<String> {
        let keys = self.entries(path).into_iter().map(|(k, _)| k.to_string());
        let items = self
            .items(path)
            .into_iter()
            .filter_map(|v| v.as_str().map(String::from));
        keys.chain(items).collect()
    }
}

impl Doc for Value {
    fn at(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .filter(|k| !k.is_empty())
            .try_fold(self, |v, k| v.get(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_rejected_and_forms_read() {
        assert!(serde_norway::from_str::<Value>("a: {x: 1}\na: {x: 2}\n").is_err());
        let text = "s: {command: [--port=80, --host, h], environment: [K=v], depends_on: {a: {}}}";
        let v: Value = serde_norway::from_str(text).unwrap();
        assert_eq!(v.flag("s.command", "--port").as_deref(), Some("80"));
        assert_eq!(v.flag("s.command", "--host").as_deref(), Some("h"));
        assert_eq!(v.setting("s.environment", "K").as_deref(), Some("v"));
        assert_eq!(v.names("s.depends_on"), ["a"]);
    }
}
