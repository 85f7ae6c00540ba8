//! Running the Python client scripts of `tests/python/` (the official `openai` package and
//! friends) against a test server: finding an interpreter that has the packages, and running
//! one script to its success line.

use std::process::Command;

/// `$PYTHON` (else `python3`) when it can `import {modules}` (comma-separated); else `None`
/// after a note on stderr. Under `CI`, where `.ci/run` installs the packages, a missing one
/// fails the test instead.
pub fn python_importing(modules: &str) -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{python} with the `{modules}` packages is required in CI (python3 -m pip install ...)"
    );
    eprintln!("skipping: {python} cannot import {modules}");
    None
}

/// Runs `tests/python/{script}` with `args`; asserts that it exits 0 and prints `passed` (its
/// success line), naming `what` on failure. Returns its standard output.
pub fn run_script(python: &str, script: &str, args: &[&str], what: &str, passed: &str) -> String {
    let path = format!("{}/tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(passed), "{stdout}");
    stdout
}
