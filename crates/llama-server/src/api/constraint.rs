//! The request fields that constrain or shape sampling beyond the basics: structured output
//! (`response_format`, `json_schema`, `grammar`) and llama.cpp's extra sampler fields (DRY, XTC,
//! typical, top-n-sigma, Mirostat, `logit_bias`). Nothing here is silently ignored: a value we
//! cannot honour is a 400 naming the field.

use super::request::GenerationFields;
use crate::error::{Result, ServerError};
use llama_core::sampling::constraint::ConstraintSpec;
use llama_core::sampling::SamplingParams;
use llama_core::vocab::Vocab;
use serde_json::Value;

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// What the output must match, from OpenAI's `response_format` or llama.cpp's `json_schema` /
/// `grammar` (at most one of them, as llama.cpp).
pub fn constraint_spec(f: &GenerationFields) -> Result<Option<ConstraintSpec>> {
    let from_format = match &f.response_format {
        None | Some(Value::Null) => None,
        Some(rf) => response_format(rf)?,
    };
    let from_schema = match &f.json_schema {
        None | Some(Value::Null) => None,
        Some(s) => Some(ConstraintSpec::JsonSchema(s.clone())),
    };
    let from_grammar = f
        .grammar
        .as_deref()
        .filter(|g| !g.trim().is_empty())
        .map(ConstraintSpec::from_grammar_field);
    let mut given = [from_format, from_schema, from_grammar]
        .into_iter()
        .flatten();
    let spec = given.next();
    if given.next().is_some() {
        return Err(bad(
            "Either \"json_schema\" or \"grammar\" can be specified, but not both",
        ));
    }
    Ok(spec)
}

/// OpenAI's `response_format`: `text`, `json_object` (optionally with llama.cpp's `schema`) or
/// `json_schema` with `json_schema.schema`.
fn response_format(rf: &Value) -> Result<Option<ConstraintSpec>> {
    let kind = rf.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => Ok(None),
        "json_object" => Ok(Some(match rf.get("schema") {
            Some(s) if !s.is_null() => ConstraintSpec::JsonSchema(s.clone()),
            _ => ConstraintSpec::JsonObject,
        })),
        "json_schema" => {
            let schema = rf
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .or_else(|| rf.get("schema"))
                .ok_or_else(|| bad("'response_format.json_schema.schema' is required"))?;
            Ok(Some(ConstraintSpec::JsonSchema(schema.clone())))
        }
        other => Err(bad(format!(
            "'response_format.type' must be one of text, json_object, json_schema; got \"{other}\""
        ))),
    }
}

/// llama.cpp's extra sampler fields over `p` (which holds the server's defaults); `vocab`
/// tokenizes `logit_bias` given by token text (without it such entries are refused).
pub fn extra_sampling(
    f: &GenerationFields,
    p: &mut SamplingParams,
    vocab: Option<&Vocab>,
) -> Result<()> {
    let set = |dst: &mut f32, v: Option<f32>| {
        if let Some(v) = v {
            *dst = v;
        }
    };
    set(&mut p.typical_p, f.typical_p);
    set(&mut p.top_n_sigma, f.top_n_sigma);
    set(&mut p.xtc_probability, f.xtc_probability);
    set(&mut p.xtc_threshold, f.xtc_threshold);
    set(&mut p.mirostat_tau, f.mirostat_tau);
    set(&mut p.mirostat_eta, f.mirostat_eta);
    set(&mut p.dry_multiplier, f.dry_multiplier);
    set(&mut p.dry_base, f.dry_base);
    if let Some(m) = f.mirostat {
        p.mirostat = u8::try_from(m)
            .ok()
            .filter(|m| *m <= 2)
            .ok_or_else(|| bad(format!("'mirostat' must be 0, 1 or 2, got {m}")))?;
    }
    if let Some(n) = f.dry_allowed_length {
        p.dry_allowed_length = n;
    }
    if let Some(n) = f.dry_penalty_last_n {
        p.dry_penalty_last_n = n;
    }
    if let Some(b) = &f.dry_sequence_breakers {
        p.dry_sequence_breakers = b.clone();
    }
    if let Some(n) = f.min_keep {
        p.min_keep = usize::try_from(n).map_err(|_| bad("'min_keep' must be >= 0"))?;
    }
    if let Some(lb) = &f.logit_bias {
        p.logit_bias = logit_bias(lb, vocab)?;
    }
    Ok(())
}

/// `logit_bias` as OpenAI (`{"15043": -100}`) or llama.cpp (`[[15043, -1.0], [2, false]]`,
/// `false` bans the token) writes it. A key or entry that is text biases each of its tokens, as
/// llama.cpp tokenizes it (no special tokens); without a vocabulary it is refused, not ignored.
fn logit_bias(v: &Value, vocab: Option<&Vocab>) -> Result<Vec<(u32, f32)>> {
    let bias = |b: &Value| -> Result<f32> {
        match b {
            Value::Bool(false) => Ok(f32::NEG_INFINITY),
            Value::Number(n) => n
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| bad("'logit_bias' values must be numbers")),
            _ => Err(bad("'logit_bias' values must be numbers or false")),
        }
    };
    // A key: a token id, else text whose tokens all get the bias.
    let ids = |s: &str| -> Result<Vec<u32>> {
        match (s.parse::<u32>(), vocab) {
            (Ok(id), _) => Ok(vec![id]),
            (Err(_), Some(v)) => Ok(v.tokenize(s, false, false)),
            (Err(_), None) => Err(bad(format!(
                "'logit_bias' by token text needs the model's vocabulary: \"{s}\""
            ))),
        }
    };
    let each = |s: &str, b: &Value| -> Result<Vec<(u32, f32)>> {
        let b = bias(b)?;
        Ok(ids(s)?.into_iter().map(|t| (t, b)).collect())
    };
    let entries: Vec<Vec<(u32, f32)>> = match v {
        Value::Null => Vec::new(),
        Value::Object(m) => m.iter().map(|(k, b)| each(k, b)).collect::<Result<_>>()?,
        Value::Array(items) => items
            .iter()
            .map(|it| match it.as_array().map(Vec::as_slice) {
                Some([Value::Number(n), b]) => {
                    let t = n
                        .as_u64()
                        .and_then(|t| u32::try_from(t).ok())
                        .ok_or_else(|| bad(format!("'logit_bias' token id {n} is invalid")))?;
                    Ok(vec![(t, bias(b)?)])
                }
                Some([Value::String(s), b]) => each(s, b),
                _ => Err(bad("'logit_bias' entries must be [token_id, bias] pairs")),
            })
            .collect::<Result<_>>()?,
        _ => return Err(bad("'logit_bias' must be an object or an array of pairs")),
    };
    Ok(entries.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> GenerationFields {
        serde_json::from_str(json).expect("valid fields")
    }

    #[test]
    fn response_format_json_schema_and_grammar_map_to_one_spec() {
        let spec = |j: &str| constraint_spec(&fields(j));
        assert_eq!(spec("{}").unwrap(), None);
        assert_eq!(
            spec(r#"{"response_format":{"type":"text"}}"#).unwrap(),
            None
        );
        assert_eq!(
            spec(r#"{"response_format":{"type":"json_object"}}"#).unwrap(),
            Some(ConstraintSpec::JsonObject)
        );
        let schema =
            serde_json::json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let openai = format!(
            r#"{{"response_format":{{"type":"json_schema","json_schema":{{"name":"x","strict":true,"schema":{schema}}}}}}}"#
        );
        assert_eq!(
            spec(&openai).unwrap(),
            Some(ConstraintSpec::JsonSchema(schema.clone()))
        );
        assert_eq!(
            spec(&format!(r#"{{"json_schema":{schema}}}"#)).unwrap(),
            Some(ConstraintSpec::JsonSchema(schema))
        );
        assert_eq!(
            spec(r#"{"grammar":"root ::= \"yes\""}"#).unwrap(),
            Some(ConstraintSpec::Gbnf("root ::= \"yes\"".into()))
        );
        for refused in [
            r#"{"response_format":{"type":"xml"}}"#,
            r#"{"response_format":{"type":"json_schema"}}"#,
            r#"{"grammar":"root ::= \"a\"","json_schema":{"type":"string"}}"#,
        ] {
            assert!(
                matches!(spec(refused), Err(ServerError::BadRequest(_))),
                "{refused}"
            );
        }
    }

    #[test]
    fn sampler_fields_and_both_logit_bias_forms() {
        let mut p = SamplingParams::default();
        let f = fields(
            r#"{"typical_p":0.9,"mirostat":2,"mirostat_tau":4.0,"dry_multiplier":0.8,
                "dry_sequence_breakers":["\n"],"xtc_probability":0.5,"top_n_sigma":1.5,
                "logit_bias":{"15":-100,"7":2.5}}"#,
        );
        extra_sampling(&f, &mut p, None).expect("valid");
        assert_eq!((p.typical_p, p.mirostat, p.mirostat_tau), (0.9, 2, 4.0));
        assert_eq!(
            (p.dry_multiplier, p.xtc_probability, p.top_n_sigma),
            (0.8, 0.5, 1.5)
        );
        assert_eq!(p.dry_sequence_breakers, vec!["\n".to_string()]);
        let mut lb = p.logit_bias.clone();
        lb.sort_by_key(|e| e.0);
        assert_eq!(lb, vec![(7, 2.5), (15, -100.0)]);
        let f = fields(r#"{"logit_bias":[[3,false],[4,1.0]]}"#);
        extra_sampling(&f, &mut p, None).expect("valid");
        assert_eq!(p.logit_bias, vec![(3, f32::NEG_INFINITY), (4, 1.0)]);
        for refused in [
            r#"{"logit_bias":[["Hello",1.0]]}"#,
            r#"{"logit_bias":{"abc":1}}"#,
            r#"{"mirostat":3}"#,
        ] {
            let e = extra_sampling(&fields(refused), &mut SamplingParams::default(), None);
            assert!(matches!(e, Err(ServerError::BadRequest(_))), "{refused}");
        }
    }
}
