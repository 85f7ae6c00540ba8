//! YAML, parsed by Python's yaml (the CI image has python3-yaml) and handed over as JSON.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// Loads YAML with duplicate keys rejected, prints `{path: {"ok": doc} | {"err": msg}}`.
const YAML_TO_JSON: &str = r#"
import json, sys, yaml
class Strict(yaml.SafeLoader):
    pass
def mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)
Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
out = {}
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            out[path] = {"ok": yaml.load(f, Loader=Strict)}
    except Exception as e:
        out[path] = {"err": str(e).replace("\n", " ")}
json.dump(out, sys.stdout, default=str)
"#;

/// Path → its document, or why it does not parse.
type YamlDocs = BTreeMap<String, std::result::Result<Value, String>>;

/// Parses `paths` in one `python3` run.
fn load_yaml(paths: &[&str]) -> Result<YamlDocs> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(YAML_TO_JSON)
        .args(paths)
        .stderr(Stdio::piped())
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => bail!(
            "parsing YAML needs python3 with PyYAML (Debian: python3-yaml): {}",
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ),
        Err(e) => bail!("parsing YAML needs python3 with PyYAML (Debian: python3-yaml): {e}"),
    };
    let all: BTreeMap<String, Value> =
        serde_json::from_slice(&out.stdout).context("YAML → JSON")?;
    Ok(all
        .into_iter()
        .map(|(path, v)| {
            let r = match (v.get("ok"), v.get("err")) {
                (_, Some(e)) => Err(e.as_str().unwrap_or("?").to_string()),
                (Some(doc), None) => Ok(doc.clone()),
                (None, None) => Err("no result".into()),
            };
            (path, r)
        })
        .collect())
}

/// The parsed YAML files, or why none could be parsed.
pub(super) struct Docs(Result<YamlDocs>);

impl Docs {
    pub(super) fn load(paths: &[&str]) -> Self {
        Docs(load_yaml(paths))
    }

    /// The document at `path` (as passed to `load`).
    pub(super) fn get(&self, path: &str) -> Result<&Value> {
        match &self.0 {
            Err(e) => Err(anyhow!("{e:#}")),
            Ok(docs) => match docs.get(path) {
                Some(Ok(v)) => Ok(v),
                Some(Err(e)) => Err(anyhow!("{path}: {e}")),
                None => Err(anyhow!("{path}: not parsed")),
            },
        }
    }
}
