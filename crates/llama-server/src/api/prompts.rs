//! llama.cpp's prompt shapes (`tokenize_input_prompts` in `server-common.cpp`), shared by
//! `/completion` and the embedding endpoints: a string, token ids, strings and ids mixed in one
//! array, a `{"prompt_string": ...}` object, or an array of those (one prompt each).

use crate::error::{Result, ServerError};
use llama_core::vocab::Vocab;
use serde_json::Value;

fn bad(msg: impl Into<String>) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// The key of a JSON prompt object (llama.cpp's `JSON_STRING_PROMPT_KEY`).
const PROMPT_STRING_KEY: &str = "prompt_string";
/// Media of a JSON prompt object; this server has no multimodal projector.
const MULTIMODAL_KEY: &str = "multimodal_data";

/// One token sequence per prompt. An array holds several prompts unless one of its elements is
/// a token id (then the whole array is one prompt), as llama.cpp decides. Text is tokenized
/// with special tokens added and parsed.
pub fn input_prompts(prompt: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<Vec<u32>>> {
    input_prompts_with(prompt, |p| subprompt(p, vocab, n_vocab))
}

/// [`input_prompts`] with another reader for each prompt (the embedding endpoints also take
/// OpenAI `{"content": [parts]}` objects).
pub fn input_prompts_with(
    prompt: &Value,
    mut one: impl FnMut(&Value) -> Result<Vec<u32>>,
) -> Result<Vec<Vec<u32>>> {
    let prompts = match prompt {
        Value::Array(items) if !items.iter().any(is_token_id) => {
            items.iter().map(&mut one).collect::<Result<Vec<_>>>()?
        }
        single => vec![one(single)?],
    };
    if prompts.is_empty() {
        return Err(bad("\"prompt\" must not be empty"));
    }
    Ok(prompts)
}

/// One prompt (llama.cpp's `tokenize_input_subprompt`).
pub fn subprompt(p: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<u32>> {
    match p {
        Value::String(_) => tokenize_mixed(p, vocab, n_vocab),
        // Token ids, or strings and ids mixed (an array of strings only is not one prompt).
        Value::Array(items)
            if items.iter().all(|v| v.is_string() || is_token_id(v))
                && (items.is_empty() || items.iter().any(is_token_id)) =>
        {
            tokenize_mixed(p, vocab, n_vocab)
        }
        Value::Object(o) if o.contains_key(PROMPT_STRING_KEY) => {
            if o.contains_key(MULTIMODAL_KEY) {
                return Err(bad(
                    "Multimodal data provided, but model does not support multimodal requests.",
                ));
            }
            tokenize_mixed(&o[PROMPT_STRING_KEY], vocab, n_vocab)
        }
        _ => Err(bad("\"prompt\" elements must be a string, a list of tokens, a JSON object containing a prompt string, or a list of mixed strings & tokens.")),
    }
}

fn is_token_id(v: &Value) -> bool {
    v.is_i64() || v.is_u64()
}

/// Strings and token ids in order; special tokens (BOS) are added only when the first element
/// is a string, as llama.cpp's `tokenize_mixed`.
fn tokenize_mixed(p: &Value, vocab: &Vocab, n_vocab: usize) -> Result<Vec<u32>> {
    let items = match p {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    let mut tokens = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Value::String(s) => tokens.extend(vocab.tokenize(s, i == 0, true)),
            v => tokens.push(token_id(v, n_vocab)?),
        }
    }
    Ok(tokens)
}

fn token_id(v: &Value, n_vocab: usize) -> Result<u32> {
    v.as_u64()
        .filter(|&t| (t as usize) < n_vocab)
        .map(|t| t as u32)
        .ok_or_else(|| {
            bad(format!(
                "invalid token id {v}: ids are integers below {n_vocab}"
            ))
        })
}

/// The text of an OpenAI content array (`[{"type": "text", "text": ...}]`), as llama.cpp's
/// `tokenize_oai_content_array` joins it; media parts are refused (no multimodal projector).
pub fn content_parts_text(content: &Value) -> Result<String> {
    let Value::Array(parts) = content else {
        return Err(bad("\"content\" must be an array"));
    };
    let mut text = String::new();
    for part in parts {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(part.get("text").and_then(Value::as_str).unwrap_or("")),
            Some(kind @ ("image_url" | "input_audio" | "input_video")) => {
                return Err(bad(format!(
                    "'{kind}' content needs a multimodal model; this server has no projector"
                )))
            }
            other => {
                return Err(bad(format!(
                    "unsupported content part type {}",
                    other.map_or("(none)".into(), |k| format!("'{k}'"))
                )))
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shapes(p: Value) -> Result<Vec<Vec<u32>>> {
        // Token ids only: no vocabulary needed.
        input_prompts_with(&p, |one| match one {
            Value::Array(ids) => ids.iter().map(|v| token_id(v, 100)).collect(),
            Value::Object(_) => Ok(vec![99]),
            _ => Ok(vec![0]),
        })
    }

    #[test]
    fn arrays_with_an_id_are_one_prompt_others_one_per_element() {
        assert_eq!(shapes(json!([1, 2, 3])).unwrap(), vec![vec![1, 2, 3]]);
        assert_eq!(
            shapes(json!([[1, 2], [3]])).unwrap(),
            vec![vec![1, 2], vec![3]]
        );
        assert_eq!(shapes(json!(["a", {"x": 1}])).unwrap().len(), 2);
        assert!(shapes(json!([])).is_err());
        assert!(shapes(json!([[1000]])).is_err(), "id out of range");
    }

    #[test]
    fn content_parts_join_text_and_refuse_media() {
        let parts = json!([{"type": "text", "text": "hello "}, {"type": "text", "text": "world"}]);
        assert_eq!(content_parts_text(&parts).unwrap(), "hello world");
        assert!(content_parts_text(&json!("string")).is_err());
        assert!(content_parts_text(&json!([{"type": "unknown"}])).is_err());
        assert!(content_parts_text(&json!([{"type": "image_url"}])).is_err());
    }
}
