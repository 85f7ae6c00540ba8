//! GGUF file format: memory-mapped reader, metadata access, ggml type table and writer.

mod cursor;
mod file;
pub mod ggml_type;
mod metadata;
mod parse;
mod tensor;
mod value;
pub mod writer;

#[cfg(test)]
mod tests;

pub use file::GgufFile;
pub use ggml_type::{GgmlType, GgmlTypeId};
pub use metadata::Metadata;
pub use parse::{GgufHeader, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC, MAX_ARRAY_DEPTH};
pub use tensor::{TensorInfo, MAX_DIMS};
pub use value::{GgufArray, GgufValue, GgufValueType};
pub use writer::GgufWriter;
