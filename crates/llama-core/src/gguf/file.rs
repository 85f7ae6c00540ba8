//! `GgufFile`: a parsed GGUF file whose tensor data stays in a memory map (or owned buffer).

use std::fs::File;
use std::path::Path;

use super::cursor::to_u64;
use super::metadata::Metadata;
use super::parse::GgufHeader;
use super::tensor::TensorInfo;
use crate::error::{Error, Result};

enum Backing {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

/// A validated GGUF file. Tensor data is never copied: [`GgufFile::tensor_data`]
/// returns slices of the memory map (or of the buffer given to `from_bytes`).
pub struct GgufFile {
    backing: Backing,
    header: GgufHeader,
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("size", &self.file_size())
            .field("version", &self.header.version)
            .field("n_kv", &self.header.metadata.len())
            .field("n_tensors", &self.header.tensors.len())
            .finish()
    }
}

impl GgufFile {
    /// Memory-maps and parses the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io_err = |source| Error::GgufIo {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let backing = if file.metadata().map_err(io_err)?.len() == 0 {
            // mmap of an empty file fails on some platforms; parse it as bytes
            // so the caller gets the same "truncated" error as from_bytes.
            Backing::Owned(Vec::new())
        } else {
            Backing::Mmap(crate::ggml::map_readonly(&file).map_err(io_err)?)
        };
        Self::from_backing(backing)
    }

    /// Parses a GGUF file held in memory; tensor data is sliced from `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Self::from_backing(Backing::Owned(bytes))
    }

    fn from_backing(backing: Backing) -> Result<Self> {
        let header = GgufHeader::parse(backing.bytes())?;
        Ok(Self { backing, header })
    }

    /// The whole file.
    pub fn as_bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// Tells the OS that `[offset, offset + len)` will not be read through the map again (its
    /// bytes were copied elsewhere), so its resident pages need not count against the process.
    pub fn release(&self, offset: usize, len: usize) {
        if let Backing::Mmap(m) = &self.backing {
            crate::ggml::release_pages(m, offset, len);
        }
    }

    /// File size in bytes.
    pub fn file_size(&self) -> u64 {
        to_u64(self.as_bytes().len())
    }

    /// True when the data lives in a memory map (from [`GgufFile::open`]).
    pub fn is_mmapped(&self) -> bool {
        matches!(self.backing, Backing::Mmap(_))
    }

    /// Everything parsed from before the data section.
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// GGUF format version (2 or 3).
    pub fn version(&self) -> u32 {
        self.header.version
    }

    /// Data alignment in bytes.
    pub fn alignment(&self) -> u64 {
        self.header.alignment
    }

    /// Absolute offset of the data section.
    pub fn data_offset(&self) -> u64 {
        self.header.data_offset
    }

    /// Key/value metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.header.metadata
    }

    /// Mutable metadata, e.g. to move large arrays out with [`Metadata::take_str_array`].
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.header.metadata
    }

    /// Tensor descriptors in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.header.tensors
    }

    /// Tensor descriptor by name.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.header
            .tensor_index
            .get(name)
            .and_then(|&i| self.header.tensors.get(i))
    }

    /// Tensor descriptor by name; absence is a `GgufMissingTensor` error.
    pub fn require_tensor(&self, name: &str) -> Result<&TensorInfo> {
        self.tensor(name).ok_or_else(|| Error::GgufMissingTensor {
            name: name.to_string(),
        })
    }

    /// The raw bytes of a tensor (`info.n_bytes()` long), borrowed from the file.
    ///
    /// `info` must come from this file; for a foreign `info` whose range lies
    /// outside this file an empty slice is returned rather than panicking.
    pub fn tensor_data(&self, info: &TensorInfo) -> &[u8] {
        let range = info.file_range();
        usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(s, e)| self.as_bytes().get(s..e))
            .unwrap_or(&[])
    }
}
