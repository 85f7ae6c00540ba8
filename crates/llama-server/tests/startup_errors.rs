//! Startup failures are reported as one line: a model of an architecture the engine does not
//! implement makes `llama-server` exit non-zero with a single stderr line naming it and listing
//! the supported ones. Needs no model file (a tiny GGUF is written).

use llama_core::gguf::GgufWriter;
use std::process::Command;

/// A header-only GGUF of architecture `arch` (a few keys, no tensors).
fn write_gguf(arch: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("llama-server-{arch}-{}.gguf", std::process::id()));
    let mut w = GgufWriter::new();
    w.add_string("general.architecture", arch).expect("key");
    w.add_string("general.name", format!("tiny {arch}"))
        .expect("key");
    w.add_u32(format!("{arch}.block_count"), 1).expect("key");
    w.add_u32(format!("{arch}.context_length"), 128)
        .expect("key");
    w.add_u32(format!("{arch}.embedding_length"), 8)
        .expect("key");
    w.write_file(&path).expect("write gguf");
    path
}

#[test]
fn unsupported_architecture_exits_with_one_line() {
    let path = write_gguf("mamba");
    let out = Command::new(env!("CARGO_BIN_EXE_llama-server"))
        .arg("-m")
        .arg(&path)
        .args(["--host", "127.0.0.1", "--port", "0"])
        .env_remove("LLAMA_API_KEY")
        .output()
        .expect("run llama-server");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("stderr: {stderr}");
    assert!(!out.status.success(), "exit status {}", out.status);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    let line = lines[0];
    assert!(line.contains("mamba"), "{line}");
    for arch in llama_core::model::supported_architectures() {
        assert!(line.contains(arch), "{line} does not list {arch}");
    }
    assert!(line.contains("llama") && line.contains("qwen2"), "{line}");
}
