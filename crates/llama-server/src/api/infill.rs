//! Fill-in-the-middle (`POST /infill`): the request, the model's FIM tokens, and the prompt
//! built from them token for token as llama.cpp's `format_prompt_infill`
//! (`tools/server/server-common.cpp`), repo-level pattern:
//! `[FIM_REP]myproject\n [FIM_SEP]file\n extra … [FIM_SEP]filename\n [FIM_PRE]prefix prompt
//! [FIM_SUF]suffix [FIM_MID]`.

use super::request::GenerationFields;
use crate::error::{Result, ServerError};
use llama_core::vocab::Vocab;
use serde::Deserialize;
use serde_json::Value;

/// `POST /infill`. The texts stay JSON values: llama.cpp accepts a string or an array of
/// strings and token ids for the prefix and suffix, and checks the types itself.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct InfillRequest {
    #[serde(default)]
    pub input_prefix: Option<Value>,
    #[serde(default)]
    pub input_suffix: Option<Value>,
    /// `[{"filename": string, "text": string}]`: other files, before the prefix.
    #[serde(default)]
    pub input_extra: Option<Value>,
    /// Text the completion continues from, after the prefix (parsed for special tokens).
    #[serde(default)]
    pub prompt: Option<Value>,
    /// The generated ids in the response, as `/completion`'s `return_tokens`.
    #[serde(default)]
    pub return_tokens: Option<bool>,
    #[serde(flatten)]
    pub fields: GenerationFields,
}

// llama.cpp's vocabulary loader's token texts for each FIM role, shared with llama-core.
use llama_core::vocab::{
    FIM_MID_TEXTS as MID, FIM_PRE_TEXTS as PRE, FIM_REP_TEXTS as REP, FIM_SEP_TEXTS as SEP,
    FIM_SUF_TEXTS as SUF,
};

/// The model's FIM tokens: prefix, suffix and middle are required; repo and file separator
/// are used when present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FimTokens {
    pub pre: u32,
    pub suf: u32,
    pub mid: u32,
    pub rep: Option<u32>,
    pub sep: Option<u32>,
}

impl FimTokens {
    /// The FIM tokens of `vocab`, or llama.cpp's 501 naming the missing ones.
    pub fn of(vocab: &Vocab) -> Result<Self> {
        let find = |texts: &[&str]| texts.iter().find_map(|t| vocab.token_id(t));
        let (pre, suf, mid) = (find(PRE), find(SUF), find(MID));
        match (pre, suf, mid) {
            (Some(pre), Some(suf), Some(mid)) => Ok(FimTokens {
                pre,
                suf,
                mid,
                rep: find(REP),
                sep: find(SEP),
            }),
            _ => {
                let mut err = String::new();
                for (id, role) in [(pre, "prefix"), (suf, "suffix"), (mid, "middle")] {
                    if id.is_none() {
                        err.push_str(&format!("{role} token is missing. "));
                    }
                }
                Err(ServerError::NotSupported(format!(
                    "Infill is not supported by this model: {err}"
                )))
            }
        }
    }
}

/// One element of `input_extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraChunk {
    pub filename: String,
    pub text: String,
}

fn bad(msg: &str) -> ServerError {
    ServerError::BadRequest(msg.into())
}

/// Checks the request as llama.cpp's `post_infill` does; returns prefix, suffix, extra chunks
/// and prompt text.
pub fn validate(req: &InfillRequest) -> Result<(&Value, &Value, Vec<ExtraChunk>, String)> {
    let prompt = match &req.prompt {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(bad("\"prompt\" must be a string")),
    };
    let prefix = req
        .input_prefix
        .as_ref()
        .ok_or_else(|| bad("\"input_prefix\" is required"))?;
    let suffix = req
        .input_suffix
        .as_ref()
        .ok_or_else(|| bad("\"input_suffix\" is required"))?;
    let extra = match &req.input_extra {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(chunks)) => chunks.iter().map(extra_chunk).collect::<Result<_>>()?,
        Some(_) => {
            return Err(bad(
                "\"input_extra\" must be an array of {\"filename\": string, \"text\": string}",
            ))
        }
    };
    Ok((prefix, suffix, extra, prompt))
}

fn extra_chunk(chunk: &Value) -> Result<ExtraChunk> {
    let Some(Value::String(text)) = chunk.get("text") else {
        return Err(bad(
            "extra_context chunk must contain a \"text\" field with a string value",
        ));
    };
    let filename = match chunk.get("filename") {
        None => "tmp".to_string(),
        Some(Value::String(f)) => f.clone(),
        Some(_) => {
            return Err(bad(
                "extra_context chunk's \"filename\" field must be a string",
            ))
        }
    };
    Ok(ExtraChunk {
        filename,
        text: text.clone(),
    })
}

/// llama.cpp's `tokenize_mixed` without special tokens: a string, or an array of strings and
/// token ids.
pub fn tokenize_mixed(vocab: &Vocab, v: &Value, n_vocab: usize) -> Result<Vec<u32>> {
    let piece = |p: &Value| -> Result<Vec<u32>> {
        match p {
            Value::String(s) => Ok(vocab.tokenize(s, false, false)),
            Value::Number(n) => n
                .as_u64()
                .filter(|&t| (t as usize) < n_vocab)
                .map(|t| vec![t as u32])
                .ok_or_else(|| bad("invalid token id in an infill input")),
            _ => Err(bad(
                "infill inputs are strings or arrays of strings and token ids",
            )),
        }
    };
    match v {
        Value::Array(items) => Ok(items
            .iter()
            .map(piece)
            .collect::<Result<Vec<_>>>()?
            .concat()),
        other => piece(other),
    }
}

/// Sizes that bound the parts of the prompt (llama.cpp passes `n_batch`, the server's
/// `n_predict` and the slot's context).
#[derive(Debug, Clone, Copy)]
pub struct InfillLimits {
    pub n_batch: usize,
    /// The server-wide `-n` (-1: none).
    pub n_predict: i64,
    pub n_ctx: usize,
    /// Suffix before prefix (`--spm-infill`).
    pub spm: bool,
}

/// The prompt tokens, exactly as `format_prompt_infill` builds them.
pub fn format_prompt(
    vocab: &Vocab,
    fim: FimTokens,
    prefix: Vec<u32>,
    suffix: Vec<u32>,
    extra: &[ExtraChunk],
    prompt: &[u32],
    lim: InfillLimits,
) -> Vec<u32> {
    let extra_tokens = extra_context(vocab, fim, extra);
    let (n_batch, n_ctx) = (lim.n_batch as i64, lim.n_ctx as i64);
    let n_prefix_take = (prefix.len() as i64).min(3 * (n_batch / 4));
    let n_suffix_take = (suffix.len() as i64).min(0.max((n_batch / 4) - (2 + prompt.len() as i64)));
    // The rest of the context goes to the extra chunks (their end, nearest the prefix).
    let n_extra_take = 0
        .max(n_ctx - n_batch - 2 * lim.n_predict)
        .min(extra_tokens.len() as i64) as usize;
    let mut pre = vec![fim.pre];
    pre.extend_from_slice(&prefix[prefix.len() - n_prefix_take as usize..]);
    pre.extend_from_slice(prompt);
    let mut suf = vec![fim.suf];
    suf.extend_from_slice(&suffix[..n_suffix_take as usize]);
    let (mut inp, end) = if lim.spm { (suf, pre) } else { (pre, suf) };
    if vocab.add_bos() {
        if let Some(bos) = vocab.bos() {
            inp.insert(0, bos);
        }
    }
    let mut out = extra_tokens[extra_tokens.len() - n_extra_take..].to_vec();
    out.extend(inp);
    out.extend(end);
    out.push(fim.mid);
    out
}

/// `[FIM_REP]myproject\n`, each chunk behind `[FIM_SEP]filename\n` (or a text separator),
/// then `[FIM_SEP]filename\n` for the current file.
fn extra_context(vocab: &Vocab, fim: FimTokens, extra: &[ExtraChunk]) -> Vec<u32> {
    let tok = |s: &str| vocab.tokenize(s, false, false);
    let mut out = Vec::new();
    if let Some(rep) = fim.rep {
        out.push(rep);
        out.extend(tok("myproject\n"));
    }
    for chunk in extra {
        match fim.sep {
            Some(sep) => {
                out.push(sep);
                out.extend(tok(&format!("{}\n", chunk.filename)));
            }
            None => out.extend(tok("\n\n--- snippet ---\n\n")),
        }
        out.extend(tok(&chunk.text));
    }
    if let Some(sep) = fim.sep {
        out.push(sep);
        out.extend(tok("filename\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> InfillRequest {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn bad_extra_chunks_and_missing_parts_are_refused_as_llama_cpp() {
        for extra in [
            r#"{}"#,
            r#"{"filename":"ok"}"#,
            r#"{"filename":123}"#,
            r#"{"filename":123,"text":"abc"}"#,
            r#"{"filename":123,"text":456}"#,
        ] {
            let r = req(&format!(
                r#"{{"input_prefix":"a","input_suffix":"b","input_extra":[{extra}]}}"#
            ));
            assert!(validate(&r).is_err(), "{extra}");
        }
        assert!(validate(&req(r#"{"input_suffix":"b"}"#)).is_err());
        assert!(validate(&req(r#"{"input_prefix":"a"}"#)).is_err());
        assert!(validate(&req(
            r#"{"input_prefix":"a","input_suffix":"b","prompt":3}"#
        ))
        .is_err());
        let ok = req(r#"{"input_prefix":"a","input_suffix":"b","input_extra":[{"text":"t"}]}"#);
        let (_, _, extra, prompt) = validate(&ok).expect("valid");
        assert_eq!(extra[0].filename, "tmp");
        assert_eq!(prompt, "");
    }
}
