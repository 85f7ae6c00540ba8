//! The crate-wide error type: one enum, messages prefixed by the subsystem that failed.

use std::path::PathBuf;

/// Everything that can go wrong in llama-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ggml: {0}")]
    Ggml(String),
    #[error("model: {0}")]
    Model(String),
    #[error("model: unsupported architecture '{name}' (supported: {})", supported.join(", "))]
    UnsupportedArchitecture {
        name: String,
        supported: Vec<&'static str>,
    },
    #[error("kv cache: full: {needed} cells needed, {free} of {size} free")]
    KvCacheFull {
        needed: usize,
        free: usize,
        size: usize,
    },
    #[error("batch: {0}")]
    Batch(String),
    /// A sequence state (llama.cpp's `llama_state_seq_*` files) that cannot be saved or restored.
    #[error("seq state: {0}")]
    SeqState(String),
    #[error("embed: {0}")]
    Embed(String),

    // ---- gguf ----
    #[error("gguf: cannot access {path}: {source}")]
    GgufIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("gguf: truncated file: {context} needs {needed} bytes at offset {offset}, only {available} remain")]
    GgufTruncated {
        offset: u64,
        needed: u64,
        available: u64,
        context: String,
    },

    #[error("gguf: bad magic {found:02x?} at offset 0, expected \"GGUF\"")]
    GgufBadMagic { found: [u8; 4] },

    #[error("gguf: version field at offset 4 reads {version:#010x}: file is big-endian, only little-endian is supported")]
    GgufBigEndian { version: u32 },

    #[error("gguf: unsupported version {version} at offset 4 (supported: 2, 3)")]
    GgufUnsupportedVersion { version: u32 },

    /// A length or count read from the file cannot possibly be satisfied by
    /// the bytes that remain (`what` is e.g. "string length", "array count").
    #[error("gguf: {what} {count} at offset {offset} ({context}) needs at least {min_bytes} bytes, only {remaining} remain")]
    GgufCountExceedsFile {
        what: &'static str,
        count: u64,
        min_bytes: u128,
        remaining: u64,
        offset: u64,
        context: String,
    },

    #[error("gguf: unknown value type {type_id} at offset {offset} ({context})")]
    GgufUnknownValueType {
        type_id: u32,
        offset: u64,
        context: String,
    },

    #[error("gguf: arrays nested deeper than {max_depth} levels at offset {offset} ({context})")]
    GgufNestingTooDeep {
        max_depth: usize,
        offset: u64,
        context: String,
    },

    #[error("gguf: invalid UTF-8 in string at offset {offset} ({context})")]
    GgufInvalidUtf8 { offset: u64, context: String },

    #[error("gguf: invalid bool byte {value} at offset {offset} ({context})")]
    GgufInvalidBool {
        value: u8,
        offset: u64,
        context: String,
    },

    #[error("gguf: key #{index} at offset {offset} is empty")]
    GgufEmptyKey { index: u64, offset: u64 },

    #[error("gguf: duplicate key '{key}' at offset {offset}")]
    GgufDuplicateKey { key: String, offset: u64 },

    #[error("gguf: general.alignment is {alignment}, must be a non-zero power of two")]
    GgufInvalidAlignment { alignment: u64 },

    #[error("gguf: tensor '{tensor}' has unknown ggml type {type_id} at offset {offset}")]
    GgufUnknownTensorType {
        tensor: String,
        type_id: u32,
        offset: u64,
    },

    #[error(
        "gguf: tensor '{tensor}' has removed ggml type {type_id} ({type_name}) at offset {offset}"
    )]
    GgufRemovedTensorType {
        tensor: String,
        type_id: u32,
        type_name: &'static str,
        offset: u64,
    },

    #[error(
        "gguf: tensor '{tensor}' has {n_dims} dimensions at offset {offset}, at most 4 are allowed"
    )]
    GgufTooManyDims {
        tensor: String,
        n_dims: u32,
        offset: u64,
    },

    #[error(
        "gguf: tensor '{tensor}' dimension {index} is {value} at offset {offset}, must be positive"
    )]
    GgufInvalidDim {
        tensor: String,
        index: usize,
        value: i64,
        offset: u64,
    },

    #[error("gguf: tensor '{tensor}' shape {dims:?} of type {type_name} overflows its element or byte count")]
    GgufShapeOverflow {
        tensor: String,
        dims: Vec<u64>,
        type_name: &'static str,
    },

    #[error("gguf: tensor '{tensor}' row size {row} is not a multiple of the {type_name} block size {block_size}")]
    GgufRowNotBlockMultiple {
        tensor: String,
        row: u64,
        block_size: u64,
        type_name: &'static str,
    },

    #[error("gguf: tensor '{tensor}' data offset {offset} is not a multiple of the alignment {alignment}")]
    GgufMisalignedTensor {
        tensor: String,
        offset: u64,
        alignment: u64,
    },

    #[error("gguf: tensor '{tensor}' data [{start}, {end}) lies past the end of the {file_size}-byte file")]
    GgufTensorOutOfBounds {
        tensor: String,
        start: u64,
        end: u64,
        file_size: u64,
    },

    #[error("gguf: tensor '{first}' data [{first_start}, {first_end}) overlaps tensor '{second}' starting at {second_start}")]
    GgufOverlappingTensors {
        first: String,
        first_start: u64,
        first_end: u64,
        second: String,
        second_start: u64,
    },

    #[error("gguf: duplicate tensor name '{name}' at offset {offset}")]
    GgufDuplicateTensor { name: String, offset: u64 },

    #[error("gguf: missing required key '{key}'")]
    GgufMissingKey { key: String },

    #[error("gguf: missing tensor '{name}'")]
    GgufMissingTensor { name: String },

    #[error("gguf: key '{key}' has type {found}, expected {expected}")]
    GgufTypeMismatch {
        key: String,
        expected: &'static str,
        found: String,
    },

    #[error("gguf: key '{key}' value {value} does not fit in {target}")]
    GgufValueOutOfRange {
        key: String,
        value: String,
        target: &'static str,
    },

    /// Raised by `GgufWriter` when asked to write something a reader would reject.
    #[error("gguf writer: {reason}")]
    GgufWriter { reason: String },

    // ---- vocab ----
    /// `tokenizer.ggml.model` names a tokenizer family this crate does not implement.
    #[error("vocab: unsupported tokenizer model '{0}'")]
    VocabUnsupportedModel(String),
    /// The vocabulary data is inconsistent (lengths, ids, duplicates, ...).
    #[error("vocab: invalid vocabulary: {0}")]
    VocabInvalid(String),
    /// A chat template failed to parse.
    #[error("chat: template parse error: {0}")]
    ChatTemplateParse(String),
    /// A chat template called `raise_exception(message)`.
    #[error("chat: template raised exception: {0}")]
    ChatTemplateRaised(String),
    /// A chat template failed while rendering.
    #[error("chat: template render error: {0}")]
    ChatTemplateRender(String),
    /// Chat messages or tools are malformed (llama.cpp's OpenAI-JSON rules).
    #[error("chat: invalid messages: {0}")]
    ChatMessages(String),
    /// `ChatTemplate::builtin` was given an unknown name.
    #[error("chat: unknown built-in template '{name}'; known: {known}")]
    ChatTemplateUnknown { name: String, known: String },

    // ---- sampling ----
    /// `sample` was handed an empty logit slice.
    #[error("sampling: logits are empty")]
    EmptyLogits,
    /// Every logit was NaN or -inf, so no token can be chosen.
    #[error("sampling: none of the {n_vocab} logits is a number above -inf")]
    NoValidLogits { n_vocab: usize },
    /// A sampling parameter is outside the range it can take.
    #[error("sampling: parameter {name} = {value} is invalid: {reason}")]
    InvalidParam {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    /// A JSON schema or grammar that the constraint engine cannot compile (a client error).
    #[error("sampling: invalid {kind}: {reason}")]
    InvalidConstraint { kind: &'static str, reason: String },
    /// The constraint engine failed while generating (e.g. a token it did not allow).
    #[error("sampling: constraint: {0}")]
    Constraint(String),
}

/// Result with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
