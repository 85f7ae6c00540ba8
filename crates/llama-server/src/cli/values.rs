//! Value parsers for flags whose values are spelled as llama.cpp spells them.

use llama_core::kv_cache::KvCacheType;

/// `-fa/--flash-attn` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashAttn {
    On,
    Off,
    /// llama.cpp turns flash attention on when the device supports it for the model; every
    /// backend we run on does, so this resolves to on.
    Auto,
}

/// `-rea/--reasoning`: thinking in chat templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reasoning {
    /// `enable_thinking` is true for every request (unless it sets its own).
    On,
    /// `enable_thinking` is false: templates close the thinking block up front.
    Off,
    /// The template's own default (on when it supports thinking).
    Auto,
}

/// `on|off|auto` as llama.cpp reads `--reasoning` (`is_truthy`, `is_falsey`, `is_autoy`).
pub fn parse_reasoning(s: &str) -> Result<Reasoning, String> {
    match s {
        "auto" | "-1" => Ok(Reasoning::Auto),
        _ => match parse_bool(s) {
            Ok(true) => Ok(Reasoning::On),
            Ok(false) => Ok(Reasoning::Off),
            Err(_) => Err(format!(
                "unknown value for --reasoning: '{s}' (on|off|auto)"
            )),
        },
    }
}

/// llama.cpp's `is_truthy` / `is_falsey` (`common/arg.cpp`), used for boolean env variables.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "on" | "enabled" | "true" | "1" => Ok(true),
        "off" | "disabled" | "false" | "0" => Ok(false),
        _ => Err(format!(
            "expected on|off, enabled|disabled, true|false or 1|0, got '{s}'"
        )),
    }
}

/// `on|off|auto` as llama.cpp reads `--flash-attn` (`auto` may also be spelled `-1`).
pub fn parse_flash_attn(s: &str) -> Result<FlashAttn, String> {
    match s {
        "auto" | "-1" => Ok(FlashAttn::Auto),
        _ => match parse_bool(s) {
            Ok(true) => Ok(FlashAttn::On),
            Ok(false) => Ok(FlashAttn::Off),
            Err(_) => Err(format!(
                "unknown value for --flash-attn: '{s}' (on|off|auto)"
            )),
        },
    }
}

/// `--log-colors on|off|auto`.
pub fn parse_on_off_auto(s: &str) -> Result<String, String> {
    match s {
        "on" | "off" | "auto" => Ok(s.to_string()),
        _ => Err(format!("expected on, off or auto, got '{s}'")),
    }
}

/// `-ngl N|all|auto`: `all` and `auto` offload every layer (we do not size the offload to the
/// device's free memory as llama.cpp's `auto` does).
pub fn parse_gpu_layers(s: &str) -> Result<usize, String> {
    match s {
        "all" | "auto" => Ok(usize::MAX),
        _ => s
            .parse()
            .map_err(|_| format!("expected a layer count, 'all' or 'auto', got '{s}'")),
    }
}

pub fn parse_kwargs(s: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(s) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(_) => Err("--chat-template-kwargs must be a JSON object".into()),
        Err(e) => Err(format!("--chat-template-kwargs is not valid JSON: {e}")),
    }
}

pub fn parse_pooling(s: &str) -> Result<llama_core::Pooling, String> {
    s.parse().map_err(|e: llama_core::Error| e.to_string())
}

/// `-np N`: 1..=64 slots, or -1 for auto.
pub fn parse_parallel(s: &str) -> Result<i32, String> {
    match s.parse::<i32>() {
        Ok(-1) => Ok(-1),
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("expected 1..=64 slots or -1 (auto), got '{s}'")),
    }
}

/// `--slot-save-path`: an existing directory (llama.cpp refuses anything else).
pub fn parse_slot_dir(s: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(s);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("not a directory: {s}"))
    }
}

/// `--sleep-idle-seconds`: -1 (never) or a positive count, as llama.cpp accepts it.
pub fn parse_sleep_idle(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(v) if v == -1 || v > 0 => Ok(v),
        Ok(_) => Err("invalid value: cannot be 0 or less than -1".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `-ctk`/`-ctv`: one of llama.cpp's KV cache types by its ggml name (`q8_0`, `f16`, ...).
pub fn parse_cache_type(s: &str) -> Result<KvCacheType, String> {
    KvCacheType::parse_arg(s)
}
