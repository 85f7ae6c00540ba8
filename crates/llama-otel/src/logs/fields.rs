//! An event's message and fields, collected once for whichever format writes them.

use std::fmt;

use tracing::field::{Field, Visit};

/// One field value, typed as far as JSON cares.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Value {
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::from(s.as_str()),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Uint(u) => serde_json::Value::from(*u),
            Value::Float(f) => serde_json::Value::from(*f),
            Value::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

impl fmt::Display for Value {
    /// Text form: strings bare when they are one word, quoted otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) if s.is_empty() || s.contains([' ', '=', '"', '\n', '\t']) => {
                write!(f, "{s:?}")
            }
            Value::Str(s) => f.write_str(s),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The `message` field apart, the others in the order they were written.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub message: String,
    pub fields: Vec<(&'static str, Value)>,
}

impl Fields {
    pub(crate) fn of(event: &tracing::Event<'_>) -> Self {
        let mut fields = Fields::default();
        event.record(&mut fields);
        fields
    }

    fn push(&mut self, field: &Field, value: Value) {
        // `log` crate records (see `log_crate`) carry their target, module and file as
        // `log.*` fields: the line's own target and text already say it.
        if field.name().starts_with("log.") {
            return;
        }
        if field.name() == "message" {
            self.message = match value {
                Value::Str(s) => s,
                other => other.to_string(),
            };
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::Float(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::Uint(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::Str(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `format_args!` messages arrive here; their Debug form is the formatted text.
        self.push(field, Value::Str(format!("{value:?}")));
    }
}
