//! Bounds-checked little-endian reader over a byte slice, reporting offsets in errors.

use crate::error::{Error, Result};

/// A position in a byte slice; every read checks the remaining length first.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// Widens a length to u64; usize is at most 64 bits on supported targets.
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Current absolute offset.
    pub(crate) fn pos(&self) -> u64 {
        to_u64(self.pos)
    }

    /// Bytes left after the current position.
    pub(crate) fn remaining(&self) -> u64 {
        to_u64(self.buf.len().saturating_sub(self.pos))
    }

    /// Takes `n` bytes or fails with `GgufTruncated` naming `context`.
    pub(crate) fn take(&mut self, n: u64, context: &dyn Fn() -> String) -> Result<&'a [u8]> {
        let slice = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .and_then(|end| self.buf.get(self.pos..end));
        match slice {
            Some(s) => {
                self.pos += s.len();
                Ok(s)
            }
            None => Err(Error::GgufTruncated {
                offset: self.pos(),
                needed: n,
                available: self.remaining(),
                context: context(),
            }),
        }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        context: &dyn Fn() -> String,
    ) -> Result<[u8; N]> {
        let bytes = self.take(to_u64(N), context)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u32(&mut self, context: &dyn Fn() -> String) -> Result<u32> {
        self.array(context).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, context: &dyn Fn() -> String) -> Result<u64> {
        self.array(context).map(u64::from_le_bytes)
    }

    pub(crate) fn i64(&mut self, context: &dyn Fn() -> String) -> Result<i64> {
        self.array(context).map(i64::from_le_bytes)
    }

    /// Fails with `GgufCountExceedsFile` unless `count` items of at least
    /// `min_size` bytes each could fit in what remains. Called before any
    /// allocation sized by `count`.
    pub(crate) fn check_count(
        &self,
        what: &'static str,
        count: u64,
        min_size: u64,
        count_offset: u64,
        context: &dyn Fn() -> String,
    ) -> Result<()> {
        let min_bytes = u128::from(count) * u128::from(min_size);
        if min_bytes > u128::from(self.remaining()) {
            return Err(Error::GgufCountExceedsFile {
                what,
                count,
                min_bytes,
                remaining: self.remaining(),
                offset: count_offset,
                context: context(),
            });
        }
        Ok(())
    }

    /// Reads a u64 length prefix followed by that many bytes of UTF-8.
    pub(crate) fn string(&mut self, context: &dyn Fn() -> String) -> Result<String> {
        let len_offset = self.pos();
        let len = self.u64(context)?;
        self.check_count("string length", len, 1, len_offset, context)?;
        let start = self.pos();
        let bytes = self.take(len, context)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(Error::GgufInvalidUtf8 {
                offset: start,
                context: context(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> String {
        "test".to_string()
    }

    #[test]
    fn reads_little_endian_integers_in_sequence() {
        let bytes = [1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        let mut c = Cursor::new(&bytes);
        assert_eq!(c.u32(&ctx).unwrap(), 1);
        assert_eq!(c.u64(&ctx).unwrap(), 2);
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn short_read_reports_offset_and_sizes() {
        let bytes = [0u8; 6];
        let mut c = Cursor::new(&bytes);
        c.u32(&ctx).unwrap();
        match c.u32(&ctx) {
            Err(Error::GgufTruncated {
                offset,
                needed,
                available,
                context,
            }) => assert_eq!(
                (offset, needed, available, context.as_str()),
                (4, 4, 2, "test")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn huge_take_fails_without_overflow() {
        let mut c = Cursor::new(&[0u8; 4]);
        assert!(c.take(u64::MAX, &ctx).is_err());
        assert_eq!(c.pos(), 0);
    }

    #[test]
    fn string_length_past_end_is_a_count_error() {
        let mut bytes = 100u64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let err = Cursor::new(&bytes).string(&ctx).unwrap_err();
        assert!(
            matches!(
                err,
                Error::GgufCountExceedsFile {
                    what: "string length",
                    count: 100,
                    offset: 0,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
