//! llama.cpp's slot actions (`POST /slots/{id}?action=save|restore|erase`) as scheduler
//! commands: what is asked, what is answered (llama.cpp's JSON), llama.cpp's filename rule and
//! its packing of a slot's tokens into the state file (`server_tokens::serialize`).

use crate::error::{Result, ServerError};
use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::sync::oneshot;

/// What to do with a slot's KV cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotActionKind {
    Save { filename: String, path: PathBuf },
    Restore { filename: String, path: PathBuf },
    Erase,
}

impl SlotActionKind {
    /// The `llama.slot.action` label.
    pub fn name(&self) -> &'static str {
        match self {
            SlotActionKind::Save { .. } => "save",
            SlotActionKind::Restore { .. } => "restore",
            SlotActionKind::Erase => "erase",
        }
    }
}

/// One slot action, answered over `reply`; it waits while its slot serves a request (llama.cpp
/// defers the task the same way).
#[derive(Debug)]
pub struct SlotAction {
    pub id_slot: i64,
    pub kind: SlotActionKind,
    pub reply: oneshot::Sender<Result<SlotActionDone>>,
}

/// A finished action, in llama.cpp's result shapes.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotActionDone {
    Saved {
        id_slot: usize,
        filename: String,
        n_saved: usize,
        n_written: usize,
        ms: f64,
    },
    Restored {
        id_slot: usize,
        filename: String,
        n_restored: usize,
        n_read: usize,
        ms: f64,
    },
    Erased {
        id_slot: usize,
        n_erased: usize,
    },
}

impl SlotActionDone {
    /// llama.cpp's `server_task_result_slot_save_load` / `_slot_erase` JSON.
    pub fn to_json(&self) -> Value {
        match self {
            SlotActionDone::Saved {
                id_slot,
                filename,
                n_saved,
                n_written,
                ms,
            } => json!({"id_slot": id_slot, "filename": filename, "n_saved": n_saved,
                "n_written": n_written, "timings": {"save_ms": ms}}),
            SlotActionDone::Restored {
                id_slot,
                filename,
                n_restored,
                n_read,
                ms,
            } => json!({"id_slot": id_slot, "filename": filename, "n_restored": n_restored,
                "n_read": n_read, "timings": {"restore_ms": ms}}),
            SlotActionDone::Erased { id_slot, n_erased } => {
                json!({"id_slot": id_slot, "n_erased": n_erased})
            }
        }
    }
}

/// llama.cpp's `fs_validate_filename(name, false)`: one plain file name, so that nothing can
/// leave the `--slot-save-path` directory (no separators, no `..`, no control or look-alike
/// characters, no Windows-reserved ones, no leading/trailing space, no trailing dot).
pub fn validate_filename(name: &str) -> bool {
    if name.is_empty() || name.len() > 255 || name == "." || name.contains("..") {
        return false;
    }
    let forbidden = |c: char| {
        let u = c as u32;
        u <= 0x1F
            || u == 0x7F
            || (0x80..=0x9F).contains(&u)
            || matches!(u, 0xFF0E | 0x2215 | 0x2216 | 0xFFFD | 0xFEFF)
            || matches!(c, ':' | '*' | '?' | '"' | '<' | '>' | '|' | '/' | '\\')
    };
    if name.chars().any(forbidden) {
        return false;
    }
    !(name.starts_with(' ') || name.ends_with(' ') || name.ends_with('.'))
}

/// `LLAMA_TOKEN_NULL`, which opens llama.cpp's packed token list.
const TOKEN_NULL: i32 = -1;
/// `SERVER_TOKENS_STATE_VERSION`.
const TOKENS_STATE_VERSION: i32 = 1;

/// llama.cpp's `server_tokens::serialize` of a text-only slot: `-1`, version 1, the token
/// count and the tokens, then zero media chunks.
pub fn pack_tokens(tokens: &[u32]) -> Vec<i32> {
    let mut out = Vec::with_capacity(tokens.len() + 4);
    out.extend([TOKEN_NULL, TOKENS_STATE_VERSION, tokens.len() as i32]);
    out.extend(tokens.iter().map(|&t| t as i32));
    out.push(0);
    out
}

/// llama.cpp's `server_tokens::deserialize`: the packed form, or a plain token list as older
/// servers wrote it. Media chunks cannot be restored here (no multimodal projector).
pub fn unpack_tokens(packed: &[i32]) -> std::result::Result<Vec<u32>, String> {
    let to_u32 = |words: &[i32]| -> std::result::Result<Vec<u32>, String> {
        words
            .iter()
            .map(|&t| u32::try_from(t).map_err(|_| format!("Invalid token {t} in slot save file")))
            .collect()
    };
    if packed.first() != Some(&TOKEN_NULL) {
        return to_u32(packed);
    }
    if packed.get(1) != Some(&TOKENS_STATE_VERSION) {
        return Err("Unsupported server tokens state version".into());
    }
    let n = packed.get(2).and_then(|&n| usize::try_from(n).ok());
    let body = n.and_then(|n| packed.get(3..3 + n).map(|b| (n, b)));
    let Some((n, tokens)) = body else {
        return Err("Truncated server tokens state".into());
    };
    match packed.get(3 + n..) {
        Some([0]) => to_u32(tokens),
        Some([m, ..]) if *m != 0 => Err("Cannot restore media tokens without an mmproj".into()),
        _ => Err("Trailing data in server tokens state".into()),
    }
}

/// The error llama.cpp answers for an unknown slot id.
pub fn invalid_slot() -> ServerError {
    ServerError::BadRequest("Invalid slot ID".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_cannot_leave_the_directory() {
        for ok in ["slot1.bin", "a b.bin", "été.bin", ".hidden"] {
            assert!(validate_filename(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            "/etc/passwd",
            "x..y",
            "a:b",
            " a",
            "a ",
            "a.",
            "a\u{2215}b",
            "a\u{0}b",
            "a\nb",
        ] {
            assert!(!validate_filename(bad), "{bad:?}");
        }
        assert!(!validate_filename(&"a".repeat(256)));
    }

    #[test]
    fn tokens_pack_as_llama_cpp_and_unpack_both_forms() {
        let packed = pack_tokens(&[5, 6, 7]);
        assert_eq!(packed, vec![-1, 1, 3, 5, 6, 7, 0]);
        assert_eq!(unpack_tokens(&packed).unwrap(), vec![5, 6, 7]);
        assert_eq!(unpack_tokens(&[5, 6, 7]).unwrap(), vec![5, 6, 7]);
        assert_eq!(unpack_tokens(&[]).unwrap(), Vec::<u32>::new());
        assert!(unpack_tokens(&[-1, 2, 0, 0]).is_err());
        assert!(unpack_tokens(&[-1, 1, 3, 5, 6]).is_err());
        assert!(unpack_tokens(&[-1, 1, 1, 5, 1, 0]).is_err());
        assert!(unpack_tokens(&[-1, 1, 1, 5, 0, 9]).is_err());
    }

    #[test]
    fn results_have_llama_cpp_fields() {
        let saved = SlotActionDone::Saved {
            id_slot: 1,
            filename: "s.bin".into(),
            n_saved: 84,
            n_written: 1000,
            ms: 1.5,
        };
        let v = saved.to_json();
        assert_eq!(v["n_saved"], 84);
        assert_eq!(v["n_written"], 1000);
        assert_eq!(v["timings"]["save_ms"], 1.5);
        let erased = SlotActionDone::Erased {
            id_slot: 0,
            n_erased: 3,
        };
        assert_eq!(erased.to_json(), json!({"id_slot": 0, "n_erased": 3}));
    }
}
