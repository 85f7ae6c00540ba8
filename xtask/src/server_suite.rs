//! `cargo xtask server-suite`: llama.cpp's own server test-suite (pytest) against a llama-server.
//!
//! The suite (`tools/server/tests` of the llama-cpp-python 0.3.36 sdist) is copied with the chat
//! templates it reads into `target/server-suite/llama.cpp/`, unmodified; the pytest plugin
//! `xtask/server_suite_plugin.py` replaces its Hugging Face downloads by the local models. pytest
//! runs in a venv under `target/server-suite/venv`, one server at a time, inside its own network
//! namespace where `unshare` allows it. The result is a JSON + markdown summary per file and per
//! test; `--compare` puts two of them side by side (llama.cpp's binary against ours).

mod report;

use crate::util;
use anyhow::{bail, Context, Result};
use report::{compare, file_table, summarise, write_summary};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const SDIST: &str = "llama-cpp-python==0.3.36";
const SDIST_DIR: &str = "llama_cpp_python-0.3.36";
const PLUGIN_PY: &str = include_str!("../server_suite_plugin.py");
/// Python packages beyond the suite's requirements.txt: the per-test timeout.
const EXTRA_REQUIREMENTS: &[&str] = &["pytest-timeout~=2.3"];

/// The test files run by default. Left out, because neither server can run them here:
/// test_vision_api (multimodal projector), test_lora (LoRA adapters downloaded from HF),
/// test_speculative (draft models), test_rerank (no reranker among the local models),
/// test_router and test_stream (router mode loading several HF models by name), test_proxy
/// (its CORS proxy fetches example.com: no internet here).
const DEFAULT_FILES: &[&str] = &[
    "test_basic.py",
    "test_tokenize.py",
    "test_completion.py",
    "test_chat_completion.py",
    "test_compat_anthropic.py",
    "test_compat_gcp.py",
    "test_compat_oai_responses.py",
    "test_ctx_shift.py",
    "test_embedding.py",
    "test_ignore_eos.py",
    "test_infill.py",
    "test_kv_keep_only_active.py",
    "test_mcp_servers.py",
    "test_metrics.py",
    "test_security.py",
    "test_sleep.py",
    "test_slot_save.py",
    "test_template.py",
    "test_tool_call.py",
    "test_tools_builtin.py",
];

/// Runs llama.cpp's server test-suite against a llama-server; or compares two results.
///
/// Copies the suite out of the sdist (--sdist, else a pip download of the llama-cpp-python
/// 0.3.36 sdist into target/server-suite/sdist), makes a venv with its requirements, runs pytest
/// (`-m "not slow"`, one server at a time, a per-test timeout) with the suite's HF models mapped
/// to the local models, and writes --out (JSON) and a markdown table beside it.
#[derive(Debug, clap::Args)]
pub struct Opts {
    /// `ours` (target/release/llama-server, built first), `llama-cpp` (llama.cpp's, from
    /// LLAMA_CPP_SERVER or the sdist's build/bin) or the path of a llama-server binary
    #[arg(long, value_name = "ours|llama-cpp|PATH", default_value = "ours")]
    binary: String,
    /// Test files, comma-separated [default: the selection that can run here]
    #[arg(long, value_name = "FILES", value_delimiter = ',')]
    files: Vec<String>,
    /// pytest -k expression
    #[arg(short = 'k', value_name = "EXPR")]
    keyword: Option<String>,
    /// pytest-xdist workers (1: no xdist, one server at a time)
    #[arg(long, value_name = "N", default_value_t = 1)]
    jobs: usize,
    /// Per-test timeout in seconds
    #[arg(long, value_name = "S", default_value_t = 300)]
    timeout: u64,
    /// The extracted sdist (or its vendor/llama.cpp), or the .tar.gz [env: LLAMA_CPP_SDIST]
    #[arg(long, value_name = "PATH")]
    sdist: Option<PathBuf>,
    /// Result file [default: target/server-suite/<binary>.json]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Threads of each server (`--threads`) where a test sets none [default: the server's own]
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Keep the results already in target/server-suite/<binary>.jsonl (a later result of the
    /// same test replaces the earlier): run the suite file by file
    #[arg(long)]
    append: bool,
    /// Use target/release/llama-server as it is (no cargo build)
    #[arg(long)]
    no_build: bool,
    /// Compare two result files (llama.cpp's first, ours second) instead of running
    #[arg(long, num_args = 2, value_names = ["LLAMA_CPP_JSON", "OURS_JSON"])]
    compare: Option<Vec<PathBuf>>,
    /// With --compare: also write the comparison (markdown) to FILE
    #[arg(long, value_name = "FILE", requires = "compare")]
    markdown: Option<PathBuf>,
}

pub fn run(o: Opts) -> Result<()> {
    if let Some(files) = &o.compare {
        return compare(&files[0], &files[1], o.markdown.as_deref());
    }
    let root = util::workspace_root();
    let work = util::target_dir(&root).join("server-suite");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let source = suite_source(o.sdist.clone(), &work)?;
    let staged = stage(&source, &work)?;
    let python = venv(&work, &staged.join("tools/server/tests/requirements.txt"))?;
    let (label, binary, lib_path) = resolve_binary(&o.binary, &source, o.no_build)?;
    let out = o
        .out
        .clone()
        .unwrap_or_else(|| work.join(format!("{label}.json")));
    let results = work.join(format!("{label}.jsonl"));
    if !o.append {
        let _ = fs::remove_file(&results);
    }
    let args = pytest_args(&o)?;
    let log = work.join(format!("{label}.log"));
    println!(
        "server-suite: {label} = {}; pytest log: {}",
        binary.display(),
        log.display()
    );
    let mut cmd = pytest_command(&python, &args)?;
    cmd.current_dir(staged.join("tools/server/tests"))
        .env("LLAMA_SERVER_BIN_PATH", &binary)
        .env("LLAMA_RS_SUITE_MODELS_DIR", models_dir(&root)?)
        .env("LLAMA_RS_SUITE_RESULTS", &results)
        .env("PYTHONPATH", pythonpath(&staged))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(n) = o.threads {
        cmd.env("LLAMA_RS_SUITE_THREADS", n.to_string());
    }
    if let Some(dir) = lib_path {
        let old = std::env::var("LD_LIBRARY_PATH").unwrap_or_default();
        cmd.env("LD_LIBRARY_PATH", format!("{}:{old}", dir.display()));
    }
    let log_file = fs::File::create(&log).with_context(|| log.display().to_string())?;
    cmd.stdout(log_file.try_clone()?).stderr(log_file);
    let status = cmd
        .status()
        .with_context(|| format!("starting {}", util::display(&cmd)))?;
    println!("server-suite: pytest exited with {status}");
    let mut summary = summarise(&results, &label, &binary, &args, &source)?;
    summary.server_threads = o.threads;
    write_summary(&summary, &out)?;
    print!("{}", file_table(&summary));
    Ok(())
}

/// The llama.cpp tree that holds `tools/server/tests`: from --sdist / LLAMA_CPP_SDIST, else a
/// previous download under `work`, else a fresh `pip download` of the sdist.
fn suite_source(sdist: Option<PathBuf>, work: &Path) -> Result<PathBuf> {
    let given = sdist.or_else(|| std::env::var_os("LLAMA_CPP_SDIST").map(PathBuf::from));
    let path = match given {
        Some(p) => p,
        None => {
            let dir = work.join("sdist");
            if !dir.join(SDIST_DIR).exists() {
                download_sdist(&dir)?;
            }
            dir.join(SDIST_DIR)
        }
    };
    let path = if path.is_file() {
        extract(&path, &work.join("sdist"))?
    } else {
        path
    };
    for cand in [path.join("vendor/llama.cpp"), path.clone()] {
        if cand.join("tools/server/tests/utils.py").is_file() {
            return Ok(cand);
        }
    }
    bail!(
        "{} holds no tools/server/tests (expected the {SDIST} sdist)",
        path.display()
    )
}

/// `pip download`s the sdist into `dir` and extracts what the suite needs. pip prepares the
/// sdist's metadata first, installing its build backend in an isolated env: minutes, once.
fn download_sdist(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    println!("server-suite: downloading the {SDIST} sdist with pip ...");
    util::run(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary=llama-cpp-python",
            ])
            .arg("-d")
            .arg(dir)
            .arg(SDIST),
    )
    .context("downloading the sdist (or pass --sdist)")?;
    extract(&dir.join(format!("{SDIST_DIR}.tar.gz")), dir).map(|_| ())
}

/// Extracts the suite and the chat templates out of the sdist tarball into `dir`.
fn extract(tarball: &Path, dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir)?;
    util::run(
        Command::new("tar")
            .arg("xzf")
            .arg(tarball)
            .arg("-C")
            .arg(dir)
            .arg("--wildcards")
            .args([
                "*/vendor/llama.cpp/tools/server/tests/*",
                "*/vendor/llama.cpp/models/templates/*",
            ]),
    )?;
    Ok(dir.join(SDIST_DIR))
}

/// Copies the suite and `models/templates` (tests read `../../../models/templates/*.jinja`) into
/// a fresh `work/llama.cpp` so that nothing is written into the sdist; adds the plugin.
fn stage(source: &Path, work: &Path) -> Result<PathBuf> {
    let dest = work.join("llama.cpp");
    if dest.exists() {
        fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    for sub in ["tools/server/tests", "models/templates"] {
        copy_dir(&source.join(sub), &dest.join(sub))?;
    }
    fs::write(dest.join("server_suite_plugin.py"), PLUGIN_PY)?;
    // The suite's own model downloads create tests/tmp, which tests then use (--slot-save-path ./tmp).
    fs::create_dir_all(dest.join("tools/server/tests/tmp"))?;
    // A repository of its own, as upstream's checkout is: the built-in file tools honour
    // .gitignore, and ours ignores target/, where the copy lives.
    let git = Command::new("git")
        .arg("init")
        .arg("-q")
        .arg(&dest)
        .status();
    if !git.is_ok_and(|s| s.success()) {
        println!(
            "server-suite: `git init` failed; tools that honour .gitignore will not see the copy"
        );
    }
    Ok(dest)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != "__pycache__" && entry.file_name() != "tmp" {
                copy_dir(&entry.path(), &target)?;
            }
        } else {
            fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The venv's python, creating the venv (suite requirements + pytest-timeout) unless one that
/// imports them is already there.
fn venv(work: &Path, requirements: &Path) -> Result<PathBuf> {
    let dir = work.join("venv");
    let python = dir.join("bin/python");
    let probe = "import pytest, pytest_timeout, xdist, requests, openai, wget, filelock";
    let ok = |p: &Path| {
        Command::new(p)
            .args(["-c", probe])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.exists() && ok(&python) {
        return Ok(python);
    }
    println!("server-suite: creating the venv {} ...", dir.display());
    util::run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    util::run(
        Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(requirements)
            .args(EXTRA_REQUIREMENTS),
    )?;
    if !ok(&python) {
        bail!(
            "the venv at {} cannot import the suite's packages",
            dir.display()
        );
    }
    Ok(python)
}

/// (label, binary, extra library dir) for --binary.
fn resolve_binary(
    which: &str,
    source: &Path,
    no_build: bool,
) -> Result<(String, PathBuf, Option<PathBuf>)> {
    let (label, bin) = match which {
        "ours" => {
            let bin = util::target_dir(&util::workspace_root()).join("release/llama-server");
            if !no_build {
                util::run(util::cargo().args(["build", "--release", "-p", "llama-server"]))?;
            }
            ("ours".to_string(), bin)
        }
        "llama-cpp" => {
            let bin = std::env::var_os("LLAMA_CPP_SERVER")
                .map_or_else(|| source.join("build/bin/llama-server"), PathBuf::from);
            ("llama-cpp".to_string(), bin)
        }
        path => {
            let p = PathBuf::from(path);
            let stem = p
                .file_stem()
                .map_or("server".into(), |s| s.to_string_lossy().into_owned());
            (stem, p)
        }
    };
    let bin =
        fs::canonicalize(&bin).with_context(|| format!("no llama-server at {}", bin.display()))?;
    Ok((label, bin.clone(), noamx_libs(&bin)))
}

/// llama.cpp's CMake build at the vendored commit dies with SIGILL on AMX-capable CPUs; a
/// `build-noamx/bin` beside its `build/bin` holds the same libraries with AMX compiled out.
fn noamx_libs(bin: &Path) -> Option<PathBuf> {
    let build = bin.parent()?.parent()?;
    let dir = build.parent()?.join("build-noamx/bin");
    let is_build_bin = build.file_name().is_some_and(|n| n == "build");
    (is_build_bin && dir.join("libggml-cpu.so").exists()).then(|| {
        println!(
            "server-suite: LD_LIBRARY_PATH gets {} (ggml without AMX)",
            dir.display()
        );
        dir
    })
}

fn models_dir(root: &Path) -> Result<PathBuf> {
    let dir = root.join("models");
    let need = [
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "nomic-embed-text-v1.5.f16.gguf",
    ];
    if let Some(missing) = need.iter().find(|f| !dir.join(f).exists()) {
        bail!("models/{missing} is missing: run `cargo xtask fetch-model all`");
    }
    fs::canonicalize(&dir).context("models/")
}

fn pythonpath(staged: &Path) -> String {
    format!(
        "{}:{}",
        staged.display(),
        staged.join("tools/server/tests").display()
    )
}

/// pytest's arguments (after `python -m pytest`).
fn pytest_args(o: &Opts) -> Result<Vec<String>> {
    let files: Vec<String> = if o.files.is_empty() {
        DEFAULT_FILES.iter().map(|f| f.to_string()).collect()
    } else {
        o.files.clone()
    };
    let mut args: Vec<String> = [
        "-p",
        "server_suite_plugin",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
    ]
    .map(String::from)
    .into();
    args.extend([
        format!("--timeout={}", o.timeout),
        "-v".into(),
        "--tb=short".into(),
    ]);
    if o.jobs > 1 {
        args.extend(["-n".into(), o.jobs.to_string(), "--dist=worksteal".into()]);
    }
    if let Some(k) = &o.keyword {
        args.extend(["-k".into(), k.clone()]);
    }
    for f in files {
        let name = f.trim().trim_start_matches("unit/");
        if !name.starts_with("test_") || !name.ends_with(".py") {
            bail!("--files takes test file names such as test_basic.py, not `{f}`");
        }
        args.push(format!("unit/{name}"));
    }
    Ok(args)
}

/// `python -m pytest ARGS`, in a network namespace of its own with only loopback up when
/// `unshare` works here (no test can reach the internet, and ports never clash with other
/// servers on the machine); otherwise plainly, with a free port in $PORT.
fn pytest_command(python: &Path, args: &[String]) -> Result<Command> {
    let probe = Command::new("unshare")
        .args(["--net", "--", "ip", "link", "set", "lo", "up"])
        .output();
    if probe.is_ok_and(|o| o.status.success()) {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--net",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(python)
        .args(["-m", "pytest"])
        .args(args);
        return Ok(cmd);
    }
    println!("server-suite: no network namespace (unshare --net failed); the plugin still blocks name resolution");
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pytest"]).args(args);
    cmd.env("PORT", crate::stack::process::free_port()?.to_string());
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_files_exist_in_the_arguments() {
        let o = Opts {
            binary: "ours".into(),
            files: vec!["test_basic.py".into(), "unit/test_tokenize.py".into()],
            keyword: Some("simple".into()),
            jobs: 1,
            timeout: 60,
            sdist: None,
            out: None,
            threads: None,
            append: false,
            no_build: true,
            compare: None,
            markdown: None,
        };
        let args = pytest_args(&o).unwrap();
        assert!(
            args.ends_with(&["unit/test_basic.py".into(), "unit/test_tokenize.py".into()]),
            "{args:?}"
        );
        assert!(args.contains(&"--timeout=60".into()) && args.contains(&"simple".into()));
        let bad = Opts {
            files: vec!["basic".into()],
            ..o
        };
        assert!(pytest_args(&bad).is_err());
    }
}
