//! Read-only memory maps of model files (the storage CPU weight buffers wrap without copying).

use std::fs::File;

/// Maps `file` read-only.
pub fn map_readonly(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. Its contents can still change
    // if another process truncates or rewrites the file while it is mapped; like llama.cpp, we
    // accept that model files are not modified while loaded (memmap2 offers no safe alternative).
    unsafe { memmap2::Mmap::map(file) }
}

/// Lets the kernel drop the resident pages inside `[offset, offset + len)` of a read-only file
/// map, once their bytes were copied elsewhere (repacked or uploaded weights): the process keeps
/// only the copy, not both. Only whole 64 KiB blocks inside the range are released, so the pages
/// of neighbouring tensors that stay in the map are never touched (64 KiB is a multiple of every
/// page size in use). Best effort: the kernel may refuse, and nothing depends on it.
pub fn release_pages(map: &memmap2::Mmap, offset: usize, len: usize) {
    const BLOCK: usize = 64 * 1024;
    let start = offset.div_ceil(BLOCK) * BLOCK;
    let end = (offset.saturating_add(len) / BLOCK) * BLOCK;
    if end > start && end <= map.len() {
        // SAFETY: the map is private and read-only and nothing ever writes to it, so dropping its
        // pages only means the file is read again if those bytes are touched: the contents seen
        // through the map do not change (the hazard `MADV_DONTNEED` carries for written private
        // pages cannot arise).
        let _ = unsafe {
            map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }
}
