//! The element types a KV cache may be stored in (llama.cpp's `-ctk/--cache-type-k` and
//! `-ctv/--cache-type-v`), and llama.cpp's checks of a K/V type pair against a model.

use crate::error::{Error, Result};
use crate::ggml::{self, types, RawType};
use std::fmt;
use std::str::FromStr;

/// A KV cache element type: llama.cpp's `kv_cache_types` list (common/arg.cpp), same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvCacheType {
    F32,
    #[default]
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Iq4Nl,
    Q5_0,
    Q5_1,
}

impl KvCacheType {
    /// Every allowed type, in llama.cpp's order (its help text and error list them so).
    pub const ALL: [KvCacheType; 9] = [
        KvCacheType::F32,
        KvCacheType::F16,
        KvCacheType::BF16,
        KvCacheType::Q8_0,
        KvCacheType::Q4_0,
        KvCacheType::Q4_1,
        KvCacheType::Iq4Nl,
        KvCacheType::Q5_0,
        KvCacheType::Q5_1,
    ];

    /// The ggml type id.
    pub fn raw(self) -> RawType {
        match self {
            KvCacheType::F32 => types::F32,
            KvCacheType::F16 => types::F16,
            KvCacheType::BF16 => types::BF16,
            KvCacheType::Q8_0 => types::Q8_0,
            KvCacheType::Q4_0 => types::Q4_0,
            KvCacheType::Q4_1 => types::Q4_1,
            KvCacheType::Iq4Nl => types::IQ4_NL,
            KvCacheType::Q5_0 => types::Q5_0,
            KvCacheType::Q5_1 => types::Q5_1,
        }
    }

    /// ggml's name of the type ("q8_0", "iq4_nl", ...), which is what the flags take.
    pub fn name(self) -> &'static str {
        match self {
            KvCacheType::F32 => "f32",
            KvCacheType::F16 => "f16",
            KvCacheType::BF16 => "bf16",
            KvCacheType::Q8_0 => "q8_0",
            KvCacheType::Q4_0 => "q4_0",
            KvCacheType::Q4_1 => "q4_1",
            KvCacheType::Iq4Nl => "iq4_nl",
            KvCacheType::Q5_0 => "q5_0",
            KvCacheType::Q5_1 => "q5_1",
        }
    }

    /// Block-quantized (everything but f32, f16 and bf16).
    pub fn is_quantized(self) -> bool {
        ggml::is_quantized(self.raw())
    }

    /// Elements per quantization block (1 for the float types).
    pub fn block_size(self) -> usize {
        ggml::blck_size(self.raw()) as usize
    }

    /// The allowed names, comma-separated, as llama.cpp's help text lists them.
    pub fn allowed() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|t| t.name()).collect();
        names.join(", ")
    }

    /// A `-ctk`/`-ctv` value: llama.cpp's error for an unknown name, plus the allowed ones
    /// (which llama.cpp prints in its usage text).
    pub fn parse_arg(s: &str) -> std::result::Result<Self, String> {
        s.parse()
            .map_err(|e| format!("{e} (allowed values: {})", Self::allowed()))
    }
}

impl fmt::Display for KvCacheType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KvCacheType {
    type Err = String;

    /// Exact ggml names only, as llama.cpp's `kv_cache_type_from_str` (its message too).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("Unsupported cache type: {s}"))
    }
}

/// The K and V cache types of a context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KvTypes {
    pub k: KvCacheType,
    pub v: KvCacheType,
}

impl KvTypes {
    /// llama.cpp's checks in `llama_init_from_model`, in its order and with its messages: a
    /// quantized V needs flash attention (V is stored transposed without it, one element per
    /// row, which a block type cannot hold); with flash attention a quantized type's block must
    /// divide the head size. Without flash attention llama.cpp checks no block size and ggml
    /// would abort on the K view, so that is refused here too.
    pub fn check(&self, flash_attn: bool, head_dim_k: usize, head_dim_v: usize) -> Result<()> {
        if self.v.is_quantized() && !flash_attn {
            return Err(Error::Model(
                "quantized V cache requires flash_attn to be enabled".into(),
            ));
        }
        for (ty, what, head) in [(self.k, "K", head_dim_k), (self.v, "V", head_dim_v)] {
            let blck = ty.block_size();
            if ty.is_quantized() && head % blck != 0 {
                let dim = if what == "K" { "k" } else { "v" };
                return Err(Error::Model(format!(
                    "{what} cache type {ty} with block size {blck} does not divide n_embd_head_{dim}={head}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_ggml() {
        for t in KvCacheType::ALL {
            assert_eq!(t.name().parse::<KvCacheType>(), Ok(t));
            assert_eq!(ggml::type_name(t.raw()), t.name());
        }
        assert_eq!(
            KvCacheType::allowed(),
            "f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1"
        );
        assert_eq!(KvCacheType::default(), KvCacheType::F16);
    }

    #[test]
    fn unknown_and_miscased_names_are_refused_like_llama_cpp() {
        for bad in ["Q8_0", "q8", "q4_k", "fp16", ""] {
            assert_eq!(
                bad.parse::<KvCacheType>(),
                Err(format!("Unsupported cache type: {bad}"))
            );
        }
    }

    #[test]
    fn quantized_types_and_block_sizes() {
        let q: Vec<_> = KvCacheType::ALL
            .into_iter()
            .filter(|t| t.is_quantized())
            .collect();
        assert_eq!(q.len(), 6);
        assert_eq!(KvCacheType::Q8_0.block_size(), 32);
        assert_eq!(KvCacheType::BF16.block_size(), 1);
    }

    #[test]
    fn quantized_v_needs_flash_attention() {
        let q8 = KvTypes {
            k: KvCacheType::Q8_0,
            v: KvCacheType::Q8_0,
        };
        let e = q8.check(false, 64, 64).unwrap_err().to_string();
        assert_eq!(
            e,
            "model: quantized V cache requires flash_attn to be enabled"
        );
        assert!(q8.check(true, 64, 64).is_ok());
        // A quantized K alone is allowed without flash attention (llama.cpp too).
        let k_only = KvTypes {
            k: KvCacheType::Q4_0,
            v: KvCacheType::F16,
        };
        assert!(k_only.check(false, 64, 64).is_ok());
        let f32s = KvTypes {
            k: KvCacheType::F32,
            v: KvCacheType::F32,
        };
        assert!(f32s.check(false, 64, 64).is_ok());
    }

    #[test]
    fn block_size_must_divide_the_head_size() {
        let t = KvTypes {
            k: KvCacheType::Q4_0,
            v: KvCacheType::Q8_0,
        };
        let e = t.check(true, 80, 64).unwrap_err().to_string();
        assert_eq!(
            e,
            "model: K cache type q4_0 with block size 32 does not divide n_embd_head_k=80"
        );
        let e = t.check(true, 64, 48).unwrap_err().to_string();
        assert_eq!(
            e,
            "model: V cache type q8_0 with block size 32 does not divide n_embd_head_v=48"
        );
    }
}
