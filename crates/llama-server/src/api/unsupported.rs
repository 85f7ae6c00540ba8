//! OpenAI request fields that would change the answer but that this server does not
//! implement: each is a 400 naming the field (and what to use instead), never a silently
//! different answer. Values that change nothing (`echo: false`, `best_of: 1`,
//! `modalities: ["text"]`, nulls) pass.

use crate::error::{Result, ServerError};
use serde::Deserialize;
use serde_json::Value;

/// The fields, as sent.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Unsupported {
    pub best_of: Option<Value>,
    pub echo: Option<Value>,
    pub suffix: Option<Value>,
    pub functions: Option<Value>,
    pub function_call: Option<Value>,
    pub audio: Option<Value>,
    pub prediction: Option<Value>,
    pub modalities: Option<Value>,
}

fn refuse(field: &str, why: &str) -> Result<()> {
    Err(ServerError::BadRequest(format!(
        "'{field}' is not supported by this server{why}"
    )))
}

impl Unsupported {
    /// A 400 for the first field set to a value that would change the answer.
    pub fn check(&self) -> Result<()> {
        let set = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
        if self
            .best_of
            .as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|n| n > 1.0)
        {
            return refuse("best_of", " (use 'n' for several choices)");
        }
        if self.echo == Some(Value::Bool(true)) {
            return refuse("echo", "");
        }
        if self
            .suffix
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
        {
            return refuse("suffix", " (use /infill for fill-in-the-middle)");
        }
        if self
            .functions
            .as_ref()
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
        {
            return refuse("functions", " (use 'tools')");
        }
        if set(&self.function_call) {
            return refuse("function_call", " (use 'tool_choice')");
        }
        if set(&self.audio) {
            return refuse("audio", "");
        }
        if set(&self.prediction) {
            return refuse("prediction", "");
        }
        let text_only = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(|m| m == "text"));
        if self
            .modalities
            .as_ref()
            .is_some_and(|m| !m.is_null() && !text_only(m))
        {
            return refuse("modalities", " (text only)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> Result<()> {
        serde_json::from_str::<Unsupported>(json)
            .expect("valid")
            .check()
    }

    #[test]
    fn fields_that_change_the_answer_are_named() {
        for (body, field) in [
            (r#"{"best_of":3}"#, "best_of"),
            (r#"{"echo":true}"#, "echo"),
            (r#"{"suffix":"}"}"#, "suffix"),
            (r#"{"functions":[{"name":"f"}]}"#, "functions"),
            (r#"{"function_call":"auto"}"#, "function_call"),
            (r#"{"audio":{"voice":"x"}}"#, "audio"),
            (
                r#"{"prediction":{"type":"content","content":"x"}}"#,
                "prediction",
            ),
            (r#"{"modalities":["text","audio"]}"#, "modalities"),
        ] {
            let err = check(body).expect_err(body).to_string();
            assert!(err.contains(&format!("'{field}'")), "{body}: {err}");
        }
    }

    #[test]
    fn values_that_change_nothing_pass() {
        for body in [
            r#"{}"#,
            r#"{"best_of":1,"echo":false,"suffix":"","functions":[],"function_call":null}"#,
            r#"{"modalities":["text"],"audio":null,"prediction":null}"#,
        ] {
            check(body).expect(body);
        }
    }
}
