//! Sequence state files as llama.cpp writes them (`llama_state_seq_save_file`/`load_file`):
//! `u32` magic `ggsq`, `u32` version 3, `u32` token count, the tokens as `i32`, then the memory's
//! state of that sequence — the full cache, then the sliding-window cache of an iSWA pair —
//! in [`crate::kv_cache::KvCache::write_seq_state`]'s layout. All little-endian.

use super::Context;
use crate::error::{Error, Result};
use crate::kv_cache::{SeqId, StateReader, StreamLayout};
use llama_otel::{names, set_attr, span};
use std::path::Path;

/// `LLAMA_STATE_SEQ_MAGIC` ('ggsq').
pub const SEQ_STATE_MAGIC: u32 = 0x6767_7371;
/// `LLAMA_STATE_SEQ_VERSION`.
pub const SEQ_STATE_VERSION: u32 = 3;

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::SeqState(format!("{}: {e}", path.display()))
}

impl Context {
    /// The state file of `seq` holding `tokens` (the caller's record of what the sequence holds;
    /// llama.cpp's server stores its own token list there).
    pub fn seq_state_bytes(
        &self,
        seq: SeqId,
        tokens: &[i32],
        layout: StreamLayout,
    ) -> Result<Vec<u8>> {
        let n = u32::try_from(tokens.len())
            .map_err(|_| Error::SeqState(format!("{} tokens", tokens.len())))?;
        let mut out = Vec::with_capacity(12 + 4 * tokens.len());
        for word in [SEQ_STATE_MAGIC, SEQ_STATE_VERSION, n] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        tokens
            .iter()
            .for_each(|t| out.extend_from_slice(&t.to_le_bytes()));
        self.kv.write_seq_state(seq, layout, &mut out)?;
        if let Some(swa) = &self.kv_swa {
            swa.write_seq_state(seq, layout, &mut out)?;
        }
        Ok(out)
    }

    /// Writes `seq`'s state file to `path`; the bytes written.
    pub fn seq_state_save_file(
        &self,
        path: &Path,
        seq: SeqId,
        tokens: &[i32],
        layout: StreamLayout,
    ) -> Result<usize> {
        let span = span!(
            "llama.kv_cache.seq_save",
            [names::SEQ_STATE_TOKENS] = tokens.len()
        );
        let bytes = self.seq_state_bytes(seq, tokens, layout)?;
        std::fs::write(path, &bytes).map_err(|e| io_error(path, e))?;
        set_attr!(span, [names::SEQ_STATE_BYTES] = bytes.len());
        Ok(bytes.len())
    }

    /// Replaces `seq`'s cache with the state in `bytes`; the tokens stored with it and the bytes
    /// read. A wrong magic or version, a different model shape or a cache too small is an
    /// error, after which `seq` is empty.
    pub fn seq_state_load(
        &mut self,
        seq: SeqId,
        bytes: &[u8],
        layout: StreamLayout,
    ) -> Result<(Vec<i32>, usize)> {
        let mut r = StateReader::new(bytes);
        let (magic, version) = (r.u32()?, r.u32()?);
        if magic != SEQ_STATE_MAGIC || version != SEQ_STATE_VERSION {
            return Err(Error::SeqState(format!(
                "unknown (magic, version) {magic:08x}, {version:08x}: not a llama.cpp sequence state file (ggsq, 3)"
            )));
        }
        let n = r.u32()? as usize;
        if n > bytes.len() / 4 {
            return Err(Error::SeqState(format!(
                "{n} tokens in a {}-byte file",
                bytes.len()
            )));
        }
        let tokens = (0..n).map(|_| r.i32()).collect::<Result<Vec<i32>>>()?;
        let res = self.read_memory(seq, layout, &mut r);
        if res.is_err() {
            self.seq_rm(Some(seq), None, None)?;
        }
        res.map(|()| (tokens, r.position()))
    }

    fn read_memory(
        &mut self,
        seq: SeqId,
        layout: StreamLayout,
        r: &mut StateReader<'_>,
    ) -> Result<()> {
        self.kv.read_seq_state(seq, layout, r)?;
        if let Some(swa) = &mut self.kv_swa {
            swa.read_seq_state(seq, layout, r)?;
        }
        Ok(())
    }

    /// [`Context::seq_state_load`] from the file at `path`.
    pub fn seq_state_load_file(
        &mut self,
        path: &Path,
        seq: SeqId,
        layout: StreamLayout,
    ) -> Result<(Vec<i32>, usize)> {
        let span = span!("llama.kv_cache.seq_restore");
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        let (tokens, n) = self.seq_state_load(seq, &bytes, layout)?;
        set_attr!(
            span,
            [names::SEQ_STATE_TOKENS] = tokens.len(),
            [names::SEQ_STATE_BYTES] = n
        );
        Ok((tokens, n))
    }
}
