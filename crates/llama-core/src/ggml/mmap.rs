//! Read-only memory maps of model files (the storage CPU weight buffers wrap without copying).

use std::fs::File;

/// Maps `file` read-only.
pub fn map_readonly(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. Its contents can still change
    // if another process truncates or rewrites the file while it is mapped; like llama.cpp, we
    // accept that model files are not modified while loaded (memmap2 offers no safe alternative).
    unsafe { memmap2::Mmap::map(file) }
}
