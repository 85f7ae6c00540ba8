//! Template capabilities, probed like llama.cpp's `jinja::caps_get`: the template is rendered
//! with small synthetic conversations whose values record when the template reads them, and
//! what it reads decides which input workarounds `apply` uses (system role merged away,
//! string arguments parsed into objects, content turned into typed parts or back).

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use minijinja::value::{Enumerator, Object, ObjectRepr, Serde};
use minijinja::Value;
use serde_json::{json, Value as Json};

/// What a template handles (llama.cpp `jinja::caps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateCaps {
    pub supports_tools: bool,
    pub supports_tool_calls: bool,
    pub supports_system_role: bool,
    pub supports_parallel_tool_calls: bool,
    pub supports_preserve_reasoning: bool,
    pub supports_string_content: bool,
    pub supports_typed_content: bool,
    pub supports_object_arguments: bool,
}

impl Default for TemplateCaps {
    fn default() -> Self {
        TemplateCaps {
            supports_tools: true,
            supports_tool_calls: true,
            supports_system_role: true,
            supports_parallel_tool_calls: true,
            supports_preserve_reasoning: false,
            supports_string_content: true,
            supports_typed_content: false,
            supports_object_arguments: false,
        }
    }
}

/// Paths (`messages.1.tool_calls`) read by the template, and containers it iterated or indexed.
#[derive(Default)]
struct AccessLog {
    used: HashSet<String>,
    array_access: HashSet<String>,
}

type Log = Arc<Mutex<AccessLog>>;

fn record(log: &Log, f: impl FnOnce(&mut AccessLog)) {
    f(&mut log.lock().unwrap_or_else(PoisonError::into_inner));
}

/// A JSON map or list that logs reads of its members.
struct Tracked {
    json: Json,
    path: String,
    log: Log,
}

impl fmt::Debug for Tracked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tracked({})", self.path)
    }
}

/// Wraps `json` so that member reads under `path` are logged.
fn tracked(json: &Json, path: String, log: &Log) -> Value {
    match json {
        Json::Object(_) | Json::Array(_) => Value::from_object(Tracked {
            json: json.clone(),
            path,
            log: log.clone(),
        }),
        other => Value::from(Serde(other)),
    }
}

impl Object for Tracked {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (child, name) = match &self.json {
            Json::Array(items) => {
                let idx = usize::try_from(key.clone()).ok()?;
                record(&self.log, |l| {
                    l.array_access.insert(self.path.clone());
                });
                (items.get(idx)?, idx.to_string())
            }
            Json::Object(map) => {
                let k = key.as_str()?;
                (map.get(k)?, k.to_string())
            }
            _ => return None,
        };
        let path = format!("{}.{name}", self.path);
        record(&self.log, |l| {
            l.used.insert(path.clone());
        });
        Some(tracked(child, path, &self.log))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match &self.json {
            Json::Array(items) => {
                record(&self.log, |l| {
                    l.array_access.insert(self.path.clone());
                });
                Enumerator::Seq(items.len())
            }
            Json::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match &self.json {
            Json::Array(items) => Some(items.len()),
            Json::Object(map) => Some(map.len()),
            _ => Some(0),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printing a container does not read its members (llama.cpp marks none used).
        fmt::Display::fmt(&Value::from(Serde(&self.json)), f)
    }
}

/// One probe: renders with tracked `messages`/`tools` and returns the output (None on error).
pub(crate) trait Prober {
    fn probe(&self, ctx: Value) -> Option<String>;
}

struct Probe {
    log: Log,
    output: Option<String>,
}

impl Probe {
    fn used(&self, path: &str) -> bool {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .used
            .contains(path)
    }
    fn array_access(&self, path: &str) -> bool {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.array_access.contains(path)
    }
}

fn run(prober: &dyn Prober, messages: Json, tools: Json, extra: &[(&str, Value)]) -> Probe {
    let log: Log = Arc::default();
    let mut ctx = vec![
        (
            "messages".to_string(),
            tracked(&messages, "messages".into(), &log),
        ),
        ("tools".to_string(), tracked(&tools, "tools".into(), &log)),
        ("bos_token".to_string(), Value::from("")),
        ("eos_token".to_string(), Value::from("")),
        ("add_generation_prompt".to_string(), Value::from(true)),
    ];
    ctx.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let output = prober.probe(Value::from(
        ctx.into_iter()
            .collect::<std::collections::BTreeMap<String, Value>>(),
    ));
    Probe { log, output }
}

fn probe_tools() -> Json {
    json!([{
        "name": "tool",
        "type": "function",
        "function": {
            "name": "tool1",
            "description": "Tool description",
            "parameters": {
                "type": "object",
                "properties": {"arg": {"type": "string", "description": "Arg description"}},
                "required": ["arg"],
            },
        },
    }])
}

fn tool_conversation(args: &Json, n_calls: usize) -> Json {
    let calls: Vec<Json> = (1..=n_calls)
        .map(|i| {
            json!({
                "id": format!("call0000{i}"),
                "type": "function",
                "function": {"name": "tool1", "arguments": args},
            })
        })
        .collect();
    json!([
        {"role": "user", "content": "User message"},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "Tool response", "tool_call_id": "call00001"},
        {"role": "assistant", "content": "The tool response was 'tool response'"},
        {"role": "user", "content": "User message"},
    ])
}

const STRING_MARKER: &str = "STRING_MARKER";

/// Probes `prober`'s template (llama.cpp `caps_get`).
pub(crate) fn detect(prober: &dyn Prober) -> TemplateCaps {
    let mut caps = TemplateCaps::default();
    detect_content(prober, &mut caps);

    let system = run(
        prober,
        json!([{"role": "system", "content": "System message"},
               {"role": "user", "content": "User message"}]),
        json!([]),
        &[],
    );
    caps.supports_system_role = system.used("messages.0.content");

    detect_tools(prober, &mut caps);

    let placeholder = "<REASONING_CONTENT_PLACEHOLDER>";
    let reasoning = run(
        prober,
        json!([
            {"role": "user", "content": "User message"},
            {"role": "assistant", "content": "Assistant message", "reasoning_content": placeholder},
            {"role": "user", "content": "User message"},
            {"role": "assistant", "content": "Assistant message", "reasoning_content": "Reasoning content"},
            {"role": "user", "content": "User message"},
        ]),
        json!([]),
        &preserve_reasoning_vars(true),
    );
    caps.supports_preserve_reasoning = reasoning.output.is_some_and(|o| o.contains(placeholder));
    caps
}

/// Variables llama.cpp sets for `preserve_reasoning` (`caps_apply_preserve_reasoning`).
pub(crate) fn preserve_reasoning_vars(enabled: bool) -> Vec<(&'static str, Value)> {
    vec![
        ("enable_thinking", Value::from(true)),
        ("preserve_thinking", Value::from(enabled)),
        ("clear_thinking", Value::from(!enabled)),
        ("truncate_history_thinking", Value::from(!enabled)),
        ("drop_thinking", Value::from(!enabled)),
    ]
}

/// String vs typed (`[{"type": "text", ...}]`) content. llama.cpp watches whether a string
/// content is iterated; minijinja iterates strings by character, so a template that loops
/// over a string content renders without the marker instead of failing: that counts too.
fn detect_content(prober: &dyn Prober, caps: &mut TemplateCaps) {
    let as_string = run(
        prober,
        json!([{"role": "user", "content": STRING_MARKER}]),
        json!([]),
        &[],
    );
    caps.supports_string_content = as_string
        .output
        .as_ref()
        .is_some_and(|o| o.contains(STRING_MARKER));
    let as_parts = run(
        prober,
        json!([{"role": "user", "content": []}]),
        json!([]),
        &[],
    );
    let iterated = as_parts.array_access("messages.0.content");
    caps.supports_typed_content = iterated && as_parts.output.is_some();
}

fn detect_tools(prober: &dyn Prober, caps: &mut TemplateCaps) {
    let object_args = json!({"arg": "value"});
    let single = run(
        prober,
        tool_conversation(&object_args, 1),
        probe_tools(),
        &[],
    );
    if single.output.is_some() {
        caps.supports_tools = single.used("tools.0.function.name");
        caps.supports_tool_calls = single.used("messages.1.tool_calls");
        caps.supports_object_arguments = caps.supports_tool_calls
            && single.used("messages.1.tool_calls.0.function.arguments.arg");
    }
    if !caps.supports_object_arguments {
        let string_args = Json::String(r#"{"arg": "value"}"#.into());
        let single = run(
            prober,
            tool_conversation(&string_args, 1),
            probe_tools(),
            &[],
        );
        if single.output.is_none() {
            caps.supports_tool_calls = false;
            caps.supports_tools = false;
        } else {
            caps.supports_tools = single.used("tools.0.function.name");
            caps.supports_tool_calls = single.used("messages.1.tool_calls");
        }
    }
    let args = if caps.supports_object_arguments {
        object_args
    } else {
        Json::String(r#"{"arg": "value"}"#.into())
    };
    let parallel = run(prober, tool_conversation(&args, 2), probe_tools(), &[]);
    caps.supports_parallel_tool_calls =
        parallel.output.is_some() && parallel.used("messages.1.tool_calls.1.function");
}
