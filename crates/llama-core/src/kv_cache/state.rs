//! One sequence of a KV cache as bytes, in llama.cpp's `llama_kv_cache::state_write`/`state_read`
//! layout (stream count, cell count, per cell `pos`/`n_seq_id`/`seq_id`, then per layer the K rows,
//! then the V rows or, transposed, V's elements row by row), so that a slot saved by either
//! server restores in the other.

use super::{is_masked_swa, seq_bit, KvCache, SeqId};
use crate::error::{Error, Result};
use crate::ggml::{self, Tensor};

/// Cursor over the bytes of a state file; every read past its end is an error.
#[derive(Debug)]
pub struct StateReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> StateReader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        StateReader { bytes, at: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The next `n` bytes (an error when fewer remain).
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(Error::SeqState(format!(
                "truncated: {n} bytes needed at offset {}, {} remain",
                self.at,
                self.bytes.len() - self.at
            )));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    /// The next little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The next little-endian `i32`.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(self.u32()? as i32)
    }

    /// The next little-endian `u64` (two `u32` words, low first, as llama.cpp writes it).
    pub fn u64(&mut self) -> Result<u64> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Ok(lo | hi << 32)
    }
}

/// Where a sequence lives: llama.cpp keeps one stream per sequence without a unified cache
/// (`-np N` without `-kvu`) and one stream for all with it; the count is part of the format.
#[derive(Debug, Clone, Copy)]
pub struct StreamLayout {
    pub n_stream: u32,
}

impl StreamLayout {
    fn stream_of(&self, seq: SeqId) -> u32 {
        if self.n_stream > 1 {
            seq
        } else {
            0
        }
    }
}

/// Maximal runs of consecutive cell indices in `cells` (sorted): `(first, len)`.
fn runs(cells: &[u32]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &c in cells {
        match out.last_mut() {
            Some((first, len)) if *first + *len == c as usize => *len += 1,
            _ => out.push((c as usize, 1)),
        }
    }
    out
}

fn read_bytes(t: Tensor<'_>, offset: usize, n: usize, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.resize(start + n, 0);
    t.read(&mut out[start..], offset)
}

impl KvCache {
    /// The cells `seq` holds that a next token could still see, in cell order (llama.cpp
    /// leaves out cells its sliding window already masks).
    fn seq_cells(&self, seq: SeqId) -> Result<Vec<u32>> {
        let bit = seq_bit(seq)?;
        let pos_max = self.cells.seq_pos_max(seq).unwrap_or(-1);
        let swa = self.n_swa;
        let cells = (0..self.size())
            .filter(|&i| self.cells.seq_mask(i) & bit != 0)
            .filter(|&i| swa == 0 || !is_masked_swa(swa, self.cells.pos(i), pos_max))
            .map(|i| i as u32)
            .collect();
        Ok(cells)
    }

    /// Appends `seq`'s cells and their K/V data to `out` (llama.cpp's `state_write(io, seq_id)`).
    pub fn write_seq_state(
        &self,
        seq: SeqId,
        layout: StreamLayout,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let cells = self.seq_cells(seq)?;
        out.extend_from_slice(&layout.n_stream.to_le_bytes());
        for s in 0..layout.n_stream {
            let n = if s == layout.stream_of(seq) {
                cells.len()
            } else {
                0
            };
            out.extend_from_slice(&(n as u32).to_le_bytes());
            if n == 0 {
                continue;
            }
            for &c in &cells {
                out.extend_from_slice(&self.cells.pos(c as usize).to_le_bytes());
                out.extend_from_slice(&1u32.to_le_bytes());
                out.extend_from_slice(&(seq as i32).to_le_bytes());
            }
            self.write_seq_data(&cells, out)?;
        }
        Ok(())
    }

    /// V elements per cell (all KV heads), and the bytes of one cell's K row and V row.
    fn row_layout(&self) -> (i64, usize, usize) {
        let ek = self.shape.head_dim_k * self.shape.n_head_kv;
        let ev = self.shape.head_dim_v * self.shape.n_head_kv;
        let k_row = ggml::row_size(self.ty_k(), ek);
        (ev, k_row, ggml::row_size(self.ty_v(), ev))
    }

    /// llama.cpp's `state_write_data`: K rows of every layer, then V.
    fn write_seq_data(&self, cells: &[u32], out: &mut Vec<u8>) -> Result<()> {
        let held: Vec<_> = self.layers.iter().flatten().collect();
        out.extend_from_slice(&u32::from(self.v_trans).to_le_bytes());
        out.extend_from_slice(&(held.len() as u32).to_le_bytes());
        let (ev, k_row, v_row) = self.row_layout();
        let runs = runs(cells);
        for l in &held {
            out.extend_from_slice(&(self.ty_k() as i32).to_le_bytes());
            out.extend_from_slice(&(k_row as u64).to_le_bytes());
            let k = self.arena.get(l.k);
            for &(first, len) in &runs {
                read_bytes(k, first * k_row, len * k_row, out)?;
            }
        }
        for l in &held {
            let v = self.arena.get(l.v);
            out.extend_from_slice(&(self.ty_v() as i32).to_le_bytes());
            if !self.v_trans {
                out.extend_from_slice(&(v_row as u64).to_le_bytes());
                for &(first, len) in &runs {
                    read_bytes(v, first * v_row, len * v_row, out)?;
                }
                continue;
            }
            let el = ggml::row_size(self.ty_v(), 1);
            out.extend_from_slice(&(el as u32).to_le_bytes());
            out.extend_from_slice(&(ev as u32).to_le_bytes());
            for j in 0..ev as usize {
                for &(first, len) in &runs {
                    read_bytes(v, (first + j * self.size()) * el, len * el, out)?;
                }
            }
        }
        Ok(())
    }

    /// Replaces `seq`'s cells with those in `r` (llama.cpp's `state_read(io, dest_seq_id)`);
    /// on a malformed or mismatched state the sequence is left empty.
    pub fn read_seq_state(
        &mut self,
        seq: SeqId,
        layout: StreamLayout,
        r: &mut StateReader<'_>,
    ) -> Result<()> {
        let n_stream = r.u32()?;
        if n_stream != layout.n_stream {
            return Err(Error::SeqState(format!(
                "the state has {n_stream} KV streams, this context {}",
                layout.n_stream
            )));
        }
        for _ in 0..n_stream {
            let n = r.u32()? as usize;
            if n == 0 {
                continue;
            }
            let res = self.read_seq_cells(seq, n, r);
            if res.is_err() {
                self.cells.seq_rm(Some(seq), None, None)?;
                return res;
            }
        }
        Ok(())
    }

    fn read_seq_cells(&mut self, seq: SeqId, n: usize, r: &mut StateReader<'_>) -> Result<()> {
        if n > self.size() {
            return Err(Error::SeqState(format!(
                "{n} cells do not fit in a cache of {}",
                self.size()
            )));
        }
        self.cells.seq_rm(Some(seq), None, None)?;
        let mut pos = Vec::with_capacity(n);
        for _ in 0..n {
            pos.push(r.i32()?);
            if r.u32()? != 1 {
                return Err(Error::SeqState("a cell shared by several sequences".into()));
            }
            r.i32()?;
        }
        let bits = vec![seq_bit(seq)?; n];
        let mut cells = Vec::with_capacity(n);
        let found = if self.n_swa == 0 {
            self.cells.find_free_ordered(&bits, &mut cells)
        } else {
            self.cells.find_slot_swa(self.n_swa, &bits, &mut cells)
        };
        if !found {
            return Err(Error::KvCacheFull {
                needed: n,
                free: self.size() - self.cells.used(),
                size: self.size(),
            });
        }
        // Data first, cells after: a state that fails half-way leaves no cell claimed.
        self.read_seq_data(&cells, r)?;
        if self.n_swa == 0 {
            for (&c, &p) in cells.iter().zip(&pos) {
                self.cells.assign(c as usize, p, bits[0]);
            }
        } else {
            self.cells.assign_swa(&cells, &pos, &bits);
        }
        Ok(())
    }

    fn expect(what: &str, found: u64, want: u64) -> Result<()> {
        if found == want {
            return Ok(());
        }
        Err(Error::SeqState(format!(
            "{what} is {found} in the state, {want} in this context"
        )))
    }

    /// llama.cpp's `state_read_data` into the (not yet assigned) destination `cells`.
    fn read_seq_data(&mut self, cells: &[u32], r: &mut StateReader<'_>) -> Result<()> {
        let held: Vec<_> = self.layers.iter().flatten().map(|l| (l.k, l.v)).collect();
        Self::expect("v_trans", u64::from(r.u32()?), u64::from(self.v_trans))?;
        Self::expect("the layer count", u64::from(r.u32()?), held.len() as u64)?;
        let (ev, k_row, v_row) = self.row_layout();
        let runs = runs(cells);
        let (ty_k, ty_v) = (u64::from(self.ty_k()), u64::from(self.ty_v()));
        for &(k, _) in &held {
            Self::expect("the K type", u64::from(r.u32()?), ty_k)?;
            Self::expect("the K row size", r.u64()?, k_row as u64)?;
            for &(first, len) in &runs {
                self.arena
                    .get(k)
                    .write(r.take(len * k_row)?, first * k_row)?;
            }
        }
        for &(_, v) in &held {
            Self::expect("the V type", u64::from(r.u32()?), ty_v)?;
            if !self.v_trans {
                Self::expect("the V row size", r.u64()?, v_row as u64)?;
                for &(first, len) in &runs {
                    self.arena
                        .get(v)
                        .write(r.take(len * v_row)?, first * v_row)?;
                }
                continue;
            }
            let el = ggml::row_size(self.ty_v(), 1);
            Self::expect("the V element size", u64::from(r.u32()?), el as u64)?;
            Self::expect("the V row count", u64::from(r.u32()?), ev as u64)?;
            for j in 0..ev as usize {
                for &(first, len) in &runs {
                    let at = (first + j * self.size()) * el;
                    self.arena.get(v).write(r.take(len * el)?, at)?;
                }
            }
        }
        Ok(())
    }
}
