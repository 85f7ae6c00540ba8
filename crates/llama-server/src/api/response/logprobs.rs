//! Token log-probabilities in the three shapes the server reports them: OpenAI chat
//! (`logprobs.content`), OpenAI legacy completions (`tokens`/`token_logprobs`/`top_logprobs`/
//! `text_offset`) and llama.cpp's `completion_probabilities`. Log-probabilities are computed as
//! `f32` and written as `f64` (as llama.cpp's JSON library widens them), so `-0.2485881`
//! reads `-0.24858812987804413`; a missing one (`-inf`) is written `null`.

use crate::scheduler::job::TokenInfo;
use llama_core::Model;
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A token's text as responses show it: the bytes of its piece, control tokens rendered.
pub trait TokenPieces {
    fn piece(&self, id: u32) -> Vec<u8>;
}

impl TokenPieces for Model {
    fn piece(&self, id: u32) -> Vec<u8> {
        self.vocab().token_to_piece(id, true).to_vec()
    }
}

impl<F: Fn(u32) -> Vec<u8>> TokenPieces for F {
    fn piece(&self, id: u32) -> Vec<u8> {
        self(id)
    }
}

/// The piece as (lossy) text and its raw bytes.
fn text_and_bytes(pieces: &dyn TokenPieces, id: u32) -> (String, Vec<u8>) {
    let bytes = pieces.piece(id);
    (String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

/// The chosen token's log-probability (`-inf`, written `null`, when it was not computed).
fn chosen(t: &TokenInfo) -> f64 {
    f64::from(t.logprob.unwrap_or(f32::NEG_INFINITY))
}

/// OpenAI chat `logprobs`: `{"content": [...]}`; under `post_sampling_probs` the entries are
/// llama.cpp's (`id`, `prob`, `top_probs`), as its chat endpoint writes them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatLogprobs {
    pub content: ChatLogprobEntries,
}

/// The entries of [`ChatLogprobs`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ChatLogprobEntries {
    OpenAi(Vec<ChatTokenLogprob>),
    PostSampling(Vec<TokenProbability>),
}

/// One generated token of [`ChatLogprobs`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChatTokenLogprob {
    pub token: String,
    pub logprob: f64,
    pub bytes: Vec<u8>,
    pub top_logprobs: Vec<TopLogprob>,
}

/// One alternative in `top_logprobs`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f64,
    pub bytes: Vec<u8>,
}

impl TopLogprob {
    fn new(pieces: &dyn TokenPieces, id: u32, logprob: f64) -> Self {
        let (token, bytes) = text_and_bytes(pieces, id);
        TopLogprob {
            token,
            logprob,
            bytes,
        }
    }
}

impl ChatLogprobs {
    pub fn new(pieces: &dyn TokenPieces, tokens: &[TokenInfo]) -> Self {
        if tokens.iter().any(|t| t.post_sampling) {
            return ChatLogprobs {
                content: ChatLogprobEntries::PostSampling(completion_probabilities(pieces, tokens)),
            };
        }
        let content = tokens
            .iter()
            .map(|t| {
                let TopLogprob {
                    token,
                    logprob,
                    bytes,
                } = TopLogprob::new(pieces, t.id, chosen(t));
                ChatTokenLogprob {
                    token,
                    logprob,
                    bytes,
                    top_logprobs: t
                        .top
                        .iter()
                        .map(|&(id, lp)| TopLogprob::new(pieces, id, f64::from(lp)))
                        .collect(),
                }
            })
            .collect();
        ChatLogprobs {
            content: ChatLogprobEntries::OpenAi(content),
        }
    }
}

/// OpenAI legacy completions `logprobs`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LegacyLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<Option<f64>>,
    pub top_logprobs: Vec<TopMap>,
    /// Byte offset of each token in the text generated so far.
    pub text_offset: Vec<usize>,
}

/// `{piece: logprob, ...}` in rank order; a piece seen twice keeps its first place and the later
/// value (as a JSON object built key by key does).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopMap(Vec<(String, f64)>);

impl TopMap {
    pub fn insert(&mut self, piece: String, logprob: f64) {
        match self.0.iter_mut().find(|(p, _)| *p == piece) {
            Some(entry) => entry.1 = logprob,
            None => self.0.push((piece, logprob)),
        }
    }
}

impl Serialize for TopMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (piece, lp) in &self.0 {
            map.serialize_entry(piece, lp)?;
        }
        map.end()
    }
}

impl LegacyLogprobs {
    /// `offset0`: bytes of text sent before these tokens.
    pub fn new(pieces: &dyn TokenPieces, tokens: &[TokenInfo], offset0: usize) -> Self {
        let mut lp = LegacyLogprobs {
            tokens: Vec::with_capacity(tokens.len()),
            token_logprobs: Vec::with_capacity(tokens.len()),
            top_logprobs: Vec::with_capacity(tokens.len()),
            text_offset: Vec::with_capacity(tokens.len()),
        };
        let mut offset = offset0;
        for t in tokens {
            let (text, _) = text_and_bytes(pieces, t.id);
            lp.text_offset.push(offset);
            offset += text.len();
            lp.tokens.push(text);
            lp.token_logprobs.push(t.logprob.map(f64::from));
            let mut top = TopMap::default();
            for &(id, l) in &t.top {
                top.insert(text_and_bytes(pieces, id).0, f64::from(l));
            }
            lp.top_logprobs.push(top);
        }
        lp
    }
}

/// A value as llama.cpp names it: `logprob`, or `prob` under `post_sampling_probs`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbValue {
    Logprob(f64),
    Prob(f64),
}

/// The alternatives: `top_logprobs`, or `top_probs` under `post_sampling_probs`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TopList {
    TopLogprobs(Vec<TopProbability>),
    TopProbs(Vec<TopProbability>),
}

/// llama.cpp `completion_probabilities` entry: the chosen token and its alternatives, with ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenProbability {
    pub id: u32,
    pub token: String,
    #[serde(flatten)]
    pub value: ProbValue,
    pub bytes: Vec<u8>,
    #[serde(flatten)]
    pub top: TopList,
}

/// One alternative of a [`TokenProbability`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TopProbability {
    pub id: u32,
    pub token: String,
    #[serde(flatten)]
    pub value: ProbValue,
    pub bytes: Vec<u8>,
}

impl TopProbability {
    fn new(pieces: &dyn TokenPieces, id: u32, value: ProbValue) -> Self {
        let (token, bytes) = text_and_bytes(pieces, id);
        TopProbability {
            id,
            token,
            value,
            bytes,
        }
    }
}

/// `v` named as `t` reports it.
fn value(t: &TokenInfo, v: f64) -> ProbValue {
    if t.post_sampling {
        ProbValue::Prob(v)
    } else {
        ProbValue::Logprob(v)
    }
}

/// `completion_probabilities` of `tokens`.
pub fn completion_probabilities(
    pieces: &dyn TokenPieces,
    tokens: &[TokenInfo],
) -> Vec<TokenProbability> {
    tokens
        .iter()
        .map(|t| {
            let TopProbability {
                id,
                token,
                value: v,
                bytes,
            } = TopProbability::new(pieces, t.id, value(t, chosen(t)));
            let top = t
                .top
                .iter()
                .map(|&(id, lp)| TopProbability::new(pieces, id, value(t, f64::from(lp))))
                .collect();
            TokenProbability {
                id,
                token,
                value: v,
                bytes,
                top: if t.post_sampling {
                    TopList::TopProbs(top)
                } else {
                    TopList::TopLogprobs(top)
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Token 7042 is " Paris", 260 " the", 5 a lone UTF-8 continuation byte.
    fn pieces(id: u32) -> Vec<u8> {
        match id {
            7042 => b" Paris".to_vec(),
            260 => b" the".to_vec(),
            _ => vec![0x9f],
        }
    }

    fn paris() -> Vec<TokenInfo> {
        vec![TokenInfo {
            id: 7042,
            logprob: Some(-0.248_588_13),
            top: vec![(7042, -0.248_588_13), (260, -2.784_908_8)],
            post_sampling: false,
        }]
    }

    // The expected strings are the server's output before these types existed (SmolLM2,
    // "The capital of France is", n_probs 2).
    #[test]
    fn chat_logprobs_serialize_in_openai_shape() {
        let v = ChatLogprobs::new(&pieces, &paris());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"content":[{"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115],"top_logprobs":[{"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115]},{"token":" the","logprob":-2.7849087715148926,"bytes":[32,116,104,101]}]}]}"#
        );
    }

    #[test]
    fn llama_probabilities_carry_ids() {
        let v = completion_probabilities(&pieces, &paris());
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"[{"id":7042,"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115],"top_logprobs":[{"id":7042,"token":" Paris","logprob":-0.24858812987804413,"bytes":[32,80,97,114,105,115]},{"id":260,"token":" the","logprob":-2.7849087715148926,"bytes":[32,116,104,101]}]}]"#
        );
    }

    #[test]
    fn legacy_logprobs_offsets_and_top_maps() {
        let mut tokens = paris();
        // Two alternatives with the same (lossy) text collapse into one key, the later value.
        tokens.push(TokenInfo {
            id: 5,
            logprob: None,
            top: vec![(5, -1.0), (6, -2.0)],
            post_sampling: false,
        });
        let v = LegacyLogprobs::new(&pieces, &tokens, 3);
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"tokens":[" Paris","�"],"token_logprobs":[-0.24858812987804413,null],"top_logprobs":[{" Paris":-0.24858812987804413," the":-2.7849087715148926},{"�":-2.0}],"text_offset":[3,9]}"#
        );
    }

    #[test]
    fn a_missing_chosen_logprob_is_null() {
        let t = [TokenInfo {
            id: 260,
            logprob: None,
            top: vec![],
            post_sampling: false,
        }];
        let v = serde_json::to_value(ChatLogprobs::new(&pieces, &t)).unwrap();
        assert!(v["content"][0]["logprob"].is_null(), "{v}");
        assert_eq!(v["content"][0]["top_logprobs"], serde_json::json!([]));
    }
}
