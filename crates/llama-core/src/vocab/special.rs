//! Special tokens: llama.cpp's load-time detection of EOT / EOM / FIM / end-of-generation tokens
//! by their text, and the longest-first partition of input text around special tokens.

use std::collections::{BTreeSet, HashMap};

use super::types::TokenAttr;

const EOT_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];
const EOM_TEXTS: &[&str] = &["<|eom_id|>"];
/// Token texts llama.cpp takes for the FIM prefix token when the GGUF names none.
pub const FIM_PRE_TEXTS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
];
/// Token texts llama.cpp takes for the FIM suffix token when the GGUF names none.
pub const FIM_SUF_TEXTS: &[&str] = &[
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
];
/// Token texts llama.cpp takes for the FIM middle token when the GGUF names none.
pub const FIM_MID_TEXTS: &[&str] = &[
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];
const FIM_PAD_TEXTS: &[&str] = &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
/// Token texts llama.cpp takes for the FIM repository name token when the GGUF names none.
pub const FIM_REP_TEXTS: &[&str] = &[
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
];
/// Token texts llama.cpp takes for the FIM file separator token when the GGUF names none.
pub const FIM_SEP_TEXTS: &[&str] = &["<|file_sep|>"];
const EOG_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<｜end▁of▁sentence｜>",
    "[e~[",
];
/// gpt-oss tokens that llama.cpp always renders (forced to USER_DEFINED).
const ALWAYS_RENDERED_TEXTS: &[&str] =
    &["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"];

/// Ids found (or given) for the special roles; all optional.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpecialIds {
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
}

/// Token texts and their (mutable) attributes during detection.
pub(crate) struct Detector<'a> {
    pub texts: &'a [String],
    pub attrs: &'a mut [TokenAttr],
}

impl Detector<'_> {
    fn ids_with_text<'s>(&'s self, list: &'s [&str]) -> impl Iterator<Item = u32> + 's {
        (0..self.texts.len() as u32)
            .filter(move |&i| list.contains(&self.texts[i as usize].as_str()))
    }

    /// The lowest id whose text is in `list`, marked CONTROL. llama.cpp takes the first hit of
    /// an unordered hash-map walk; the lowest id is this crate's deterministic stand-in.
    fn find_and_mark(&mut self, list: &[&str]) -> Option<u32> {
        let id = self.ids_with_text(list).next()?;
        self.mark_control(id);
        Some(id)
    }

    fn mark_control(&mut self, id: u32) {
        let attr = &mut self.attrs[id as usize];
        *attr = attr.with(TokenAttr::CONTROL);
    }

    /// Fills in EOT / EOM when absent and returns the end-of-generation set, adjusting
    /// attributes exactly where llama.cpp's loader does.
    pub(crate) fn detect(&mut self, ids: &mut SpecialIds) -> BTreeSet<u32> {
        if ids.eot.is_none() {
            ids.eot = self.find_and_mark(EOT_TEXTS);
        }
        if ids.eom.is_none() {
            ids.eom = self.find_and_mark(EOM_TEXTS);
        }
        for list in [FIM_PRE_TEXTS, FIM_SUF_TEXTS, FIM_MID_TEXTS] {
            self.find_and_mark(list);
        }
        let mut eog = BTreeSet::new();
        for list in [FIM_PAD_TEXTS, FIM_REP_TEXTS, FIM_SEP_TEXTS] {
            eog.extend(self.find_and_mark(list));
        }
        self.mark_unused();
        let eog_ids: Vec<u32> = self.ids_with_text(EOG_TEXTS).collect();
        for id in eog_ids {
            eog.insert(id);
            self.mark_control(id);
        }
        let rendered: Vec<u32> = self.ids_with_text(ALWAYS_RENDERED_TEXTS).collect();
        for id in rendered {
            self.attrs[id as usize] = TokenAttr::USER_DEFINED;
        }
        eog.extend(ids.eos.iter().chain(&ids.eot).chain(&ids.eom));
        self.apply_eog_workarounds(&mut eog);
        eog
    }

    /// Control tokens whose text contains "unused" are flagged UNUSED.
    fn mark_unused(&mut self) {
        for (text, attr) in self.texts.iter().zip(self.attrs.iter_mut()) {
            if attr.intersects(TokenAttr::CONTROL) && text.contains("unused") {
                *attr = attr.with(TokenAttr::UNUSED);
            }
        }
    }

    /// gpt-oss / solar-open: `<|end|>` is not EOG when `<|return|>`+`<|call|>` or
    /// `<|call(s)|>`+`<|flush|>` exist; gemma4 / paddleocr: `</s>` is not EOG next to
    /// `<|tool_response>`.
    fn apply_eog_workarounds(&mut self, eog: &mut BTreeSet<u32>) {
        let find = |eog: &BTreeSet<u32>, texts: &[&str]| {
            eog.iter()
                .copied()
                .find(|&id| texts.contains(&self.texts[id as usize].as_str()))
        };
        let has_return = find(eog, &["<|return|>"]).is_some();
        let has_call = find(eog, &["<|call|>", "<|calls|>"]).is_some();
        let has_flush = find(eog, &["<|flush|>"]).is_some();
        if let Some(end) = find(eog, &["<|end|>"]) {
            if has_call && (has_return || has_flush) {
                eog.remove(&end);
                self.attrs[end as usize] = TokenAttr::USER_DEFINED;
            }
        }
        if find(eog, &["<|tool_response>"]).is_some() {
            if let Some(s) = find(eog, &["</s>"]) {
                eog.remove(&s);
                self.attrs[s as usize] = TokenAttr::NORMAL;
            }
        }
    }
}

/// Tokens that are split out of raw text before tokenization: CONTROL, USER_DEFINED and
/// UNKNOWN ones, longest text first (ties by id, where llama.cpp's unstable sort is arbitrary).
pub(crate) fn special_token_cache(texts: &[String], attrs: &[TokenAttr]) -> Vec<u32> {
    let wanted = TokenAttr::CONTROL | TokenAttr::USER_DEFINED | TokenAttr::UNKNOWN;
    let mut ids: Vec<u32> = (0..texts.len() as u32)
        .filter(|&i| attrs[i as usize].intersects(wanted))
        .collect();
    ids.sort_by(|&a, &b| {
        texts[b as usize]
            .len()
            .cmp(&texts[a as usize].len())
            .then(a.cmp(&b))
    });
    ids
}

/// The names llama.cpp sets per-token attributes by (GGUF files carry no strip attributes).
pub(crate) struct NamedModel<'a> {
    /// `tokenizer.ggml.pre`
    pub pre: Option<&'a str>,
    /// `general.name`
    pub name: Option<&'a str>,
    /// `general.architecture`
    pub architecture: Option<&'a str>,
}

/// llama.cpp's attribute overrides by model / tokenizer / architecture name: `<mask>` strips
/// whitespace to its left for some Jina / Nomic MoE models, `[MASK]` for ModernBERT, and Phi-3
/// strips whitespace to the right of its special tokens (except `<unk>`, `<s>`,
/// `<|endoftext|>`). Tokens that llama.cpp would look up and not find are skipped here.
pub(crate) fn set_attrs_by_name(
    model: &NamedModel<'_>,
    specials: &[u32],
    token_to_id: &HashMap<String, u32>,
    attrs: &mut [TokenAttr],
) {
    let contains_any =
        |s: Option<&str>, list: &[&str]| s.is_some_and(|s| list.iter().any(|sub| s.contains(sub)));
    let name = model.name.map(str::to_ascii_lowercase);
    let name = name.as_deref();
    let masked_left = contains_any(model.pre, &["jina-v2-de", "jina-v2-es", "jina-v2-code"])
        || contains_any(model.architecture, &["nomic-bert-moe", "jina-bert-v3"]);
    let phi3 = !masked_left && contains_any(name, &["phi-3", "phi3"]);
    if phi3 {
        for &id in specials {
            attrs[id as usize] = attrs[id as usize].with(TokenAttr::RSTRIP);
        }
    }
    let mut set = |text: &str, attr: TokenAttr, on: bool| {
        if let Some(&id) = token_to_id.get(text) {
            let a = &mut attrs[id as usize];
            *a = if on { a.with(attr) } else { a.without(attr) };
        }
    };
    if masked_left {
        set("<mask>", TokenAttr::LSTRIP, true);
    } else if phi3 {
        set("</s>", TokenAttr::RSTRIP, true);
        for text in ["<unk>", "<s>", "<|endoftext|>"] {
            set(text, TokenAttr::RSTRIP, false);
        }
    } else if contains_any(name, &["modern-bert"]) {
        set("[MASK]", TokenAttr::LSTRIP, true);
    }
}

/// `isspace` in the C locale, which llama.cpp's strip attributes use.
fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// A piece of input: raw text still to tokenize, or an already-recognized special token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

/// Splits `text` around every occurrence of each special token in `cache` order (llama.cpp's
/// `tokenizer_st_partition`). Without `parse_special`, CONTROL and UNKNOWN tokens stay text but
/// USER_DEFINED tokens are still split out, as in HF tokenizers. LSTRIP / RSTRIP tokens drop the
/// ASCII whitespace just before / after each occurrence.
pub(crate) fn partition<'a>(
    text: &'a str,
    cache: &[u32],
    texts: &[String],
    attrs: &[TokenAttr],
    parse_special: bool,
) -> Vec<Fragment<'a>> {
    let mut frags = Vec::new();
    if !text.is_empty() {
        frags.push(Fragment::Text(text));
    }
    for &id in cache {
        if !parse_special && attrs[id as usize].intersects(TokenAttr::CONTROL | TokenAttr::UNKNOWN)
        {
            continue;
        }
        let needle = texts[id as usize].as_str();
        if needle.is_empty() || !text.contains(needle) {
            continue;
        }
        let lstrip = attrs[id as usize].intersects(TokenAttr::LSTRIP);
        let rstrip = attrs[id as usize].intersects(TokenAttr::RSTRIP);
        let mut next = Vec::with_capacity(frags.len() + 2);
        for frag in frags {
            let Fragment::Text(s) = frag else {
                next.push(frag);
                continue;
            };
            let mut parts = s.split(needle).peekable();
            let mut first = true;
            while let Some(mut part) = parts.next() {
                if !first {
                    next.push(Fragment::Token(id));
                    if rstrip {
                        part = part.trim_start_matches(is_c_space);
                    }
                }
                if lstrip && parts.peek().is_some() {
                    part = part.trim_end_matches(is_c_space);
                }
                if !part.is_empty() {
                    next.push(Fragment::Text(part));
                }
                first = false;
            }
        }
        frags = next;
    }
    frags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn partition_prefers_longer_special_tokens() {
        let texts = strings(&["<a>", "<a><b>", "x"]);
        let attrs = [TokenAttr::CONTROL, TokenAttr::CONTROL, TokenAttr::NORMAL];
        let cache = special_token_cache(&texts, &attrs);
        assert_eq!(cache, [1, 0]);
        let frags = partition("q<a><b>r<a>", &cache, &texts, &attrs, true);
        use Fragment::*;
        assert_eq!(frags, [Text("q"), Token(1), Text("r"), Token(0)]);
    }

    #[test]
    fn partition_without_parse_special_keeps_control_but_splits_user_defined() {
        let texts = strings(&["<c>", "<u>"]);
        let attrs = [TokenAttr::CONTROL, TokenAttr::USER_DEFINED];
        let cache = special_token_cache(&texts, &attrs);
        use Fragment::*;
        assert_eq!(
            partition("a<c>b<u>", &cache, &texts, &attrs, false),
            [Text("a<c>b"), Token(1)]
        );
        assert_eq!(
            partition("<c><c>", &cache, &texts, &attrs, true),
            [Token(0), Token(0)]
        );
        assert!(partition("", &cache, &texts, &attrs, true).is_empty());
    }

    #[test]
    fn strip_attributes_drop_ascii_whitespace_around_the_token() {
        let texts = strings(&["<l>", "<r>"]);
        let attrs = [
            TokenAttr::USER_DEFINED | TokenAttr::LSTRIP,
            TokenAttr::USER_DEFINED | TokenAttr::RSTRIP,
        ];
        let cache = special_token_cache(&texts, &attrs);
        use Fragment::*;
        assert_eq!(
            partition("a \t<l> b<r> \n c\u{a0}<r>", &cache, &texts, &attrs, false),
            [
                Text("a"),
                Token(0),
                Text(" b"),
                Token(1),
                Text("c\u{a0}"),
                Token(1)
            ]
        );
        assert_eq!(
            partition("<r> <r>  ", &cache, &texts, &attrs, false),
            [Token(1), Token(1)]
        );
    }

    #[test]
    fn phi3_special_tokens_strip_right_except_bos_unk_endoftext() {
        let texts = strings(&["<unk>", "<s>", "</s>", "<|end|>", "<|endoftext|>"]);
        let mut attrs = vec![TokenAttr::CONTROL; 5];
        attrs[0] = TokenAttr::UNKNOWN;
        let t2i: HashMap<String, u32> = texts.iter().cloned().zip(0..).collect();
        let cache = special_token_cache(&texts, &attrs);
        let model = NamedModel {
            pre: None,
            name: Some("Phi-3 mini"),
            architecture: Some("phi3"),
        };
        set_attrs_by_name(&model, &cache, &t2i, &mut attrs);
        let rstrip: Vec<bool> = attrs
            .iter()
            .map(|a| a.intersects(TokenAttr::RSTRIP))
            .collect();
        assert_eq!(rstrip, [false, false, true, true, false]);
        let before = attrs.clone();
        let other = NamedModel {
            pre: Some("llama-bpe"),
            name: Some("llama"),
            architecture: None,
        };
        set_attrs_by_name(&other, &cache, &t2i, &mut attrs);
        assert_eq!(attrs, before);
    }

    #[test]
    fn detection_marks_eog_tokens_and_picks_lowest_eot() {
        let texts = strings(&[
            "<|endoftext|>",
            "<|im_start|>",
            "<|im_end|>",
            "<reponame>",
            "hi",
        ]);
        let mut attrs = vec![TokenAttr::CONTROL; 4];
        attrs.push(TokenAttr::NORMAL);
        let mut ids = SpecialIds {
            eos: Some(2),
            ..Default::default()
        };
        let eog = Detector {
            texts: &texts,
            attrs: &mut attrs,
        }
        .detect(&mut ids);
        assert_eq!(ids.eot, Some(0));
        assert_eq!(eog.into_iter().collect::<Vec<_>>(), [0, 2, 3]);
    }

    #[test]
    fn gpt_oss_end_token_is_not_eog_when_return_and_call_exist() {
        let texts = strings(&["<|return|>", "<|call|>", "<|end|>", "<|channel|>"]);
        let mut attrs = vec![TokenAttr::NORMAL; 4];
        let eog = Detector {
            texts: &texts,
            attrs: &mut attrs,
        }
        .detect(&mut SpecialIds::default());
        assert_eq!(eog.into_iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(attrs[2], TokenAttr::USER_DEFINED);
        assert_eq!(attrs[3], TokenAttr::USER_DEFINED);
        assert!(attrs[0].intersects(TokenAttr::CONTROL));
    }
}
