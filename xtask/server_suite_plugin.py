"""pytest plugin for `cargo xtask server-suite`: runs llama.cpp's server tests on local models.

Loaded with `-p server_suite_plugin`; the upstream test files and utils.py stay unmodified. It
  * maps every Hugging Face model a test asks for (`model_hf_repo`/`model_hf_file`) to one of the
    project's four local GGUFs and starts the server with `--model` instead of `--hf-repo`
    (`--offline` is dropped with it: it only concerns downloads); a test whose model has no local
    stand-in is skipped and says so;
  * turns `ServerPreset.load_all()` (which starts every preset once to download its model) into a
    no-op, and `download_file()` into an error: nothing is fetched from the network;
  * refuses name resolution for anything but loopback, so a test that reaches for the internet
    fails fast instead of sending traffic (the harness also runs pytest in its own network
    namespace where it can);
  * gives servers a longer start-up limit (a busy 2-core machine loads slowly) and, with
    $LLAMA_RS_SUITE_THREADS, a thread count where the test sets none;
  * writes one JSON line per test (outcome, duration, failure message, the server's last error
    lines when it died, the last non-2xx answers it got) to $LLAMA_RS_SUITE_RESULTS as soon as the test ends.
"""

import json
import os
import re
import socket

import pytest

# HF repo (or repo/file) pattern -> key of LOCAL_MODELS. First match wins; matched case-insensitively.
HF_MAP = [
    (r"stories260k-infill", "qwen2"),  # infill needs FIM tokens: Qwen2.5-Coder has them
    (r"stories260k|tinyllamas|stories15m", "smollm2"),
    (r"bert-bge|nomic|embed", "nomic-embed"),
    (r"gemma", "gemma3"),
    (r"qwen", "qwen2"),
]

LOCAL_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
    "qwen2": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "nomic-embed": "nomic-embed-text-v1.5.f16.gguf",
}

LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|::1|0\.0\.0\.0|\[::1\])$", re.IGNORECASE)

_results_file = None
_reports = {}
# Non-2xx answers the current test received: "METHOD /path -> status".
_http_errors = []


def local_model(repo, file):
    """The local GGUF standing in for an HF repo/file, or None."""
    name = f"{repo or ''}/{file or ''}"
    for pattern, key in HF_MAP:
        if re.search(pattern, name, re.IGNORECASE):
            return os.path.join(os.environ["LLAMA_RS_SUITE_MODELS_DIR"], LOCAL_MODELS[key])
    return None


def _patch_utils():
    import utils

    orig_start = utils.ServerProcess.start
    start_timeout = int(os.environ.get("LLAMA_RS_SUITE_START_TIMEOUT", "180"))

    def start(self, timeout_seconds=None):
        if self.model_hf_repo or self.model_hf_file:
            path = local_model(self.model_hf_repo, self.model_hf_file)
            if path is None:
                pytest.skip(f"no local stand-in for {self.model_hf_repo}/{self.model_hf_file}")
            self.model_file = path
            self.model_hf_repo = None
            self.model_hf_file = None
            self.offline = False
        threads = os.environ.get("LLAMA_RS_SUITE_THREADS")
        if threads and not self.n_threads:
            self.n_threads = int(threads)
        if self.model_url or self.mmproj_url:
            pytest.skip("the test downloads a model or projector by URL")
        return orig_start(self, timeout_seconds or start_timeout)

    def no_download(url, output_file_path=None):
        raise RuntimeError(f"server-suite harness: downloads are disabled ({url})")

    orig_request = utils.ServerProcess.make_request
    orig_stream = utils.ServerProcess.make_stream_request

    def make_request(self, method, path, *args, **kwargs):
        res = orig_request(self, method, path, *args, **kwargs)
        # start() polls /health, which answers 503 while the model loads: not an answer to the test.
        polling = path == "/health" and res.status_code == 503
        if not 200 <= res.status_code < 300 and not polling:
            _http_errors.append(f"{method} {path.split('?')[0]} -> {res.status_code}")
        return res

    def make_stream_request(self, method, path, *args, **kwargs):
        try:
            yield from orig_stream(self, method, path, *args, **kwargs)
        except utils.ServerError as e:
            _http_errors.append(f"{method} {path.split('?')[0]} -> {e.code} (stream)")
            raise

    utils.ServerProcess.start = start
    utils.ServerProcess.make_request = make_request
    utils.ServerProcess.make_stream_request = make_stream_request
    utils.ServerPreset.load_all = staticmethod(lambda: None)
    utils.download_file = no_download


def _guard_network():
    orig = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        h = host.decode() if isinstance(host, bytes) else host
        if h and not LOOPBACK.match(str(h)):
            raise socket.gaierror(socket.EAI_NONAME, f"server-suite harness: no network ({h})")
        return orig(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def pytest_configure(config):
    global _results_file
    _patch_utils()
    _guard_network()
    path = os.environ.get("LLAMA_RS_SUITE_RESULTS")
    if path:
        _results_file = open(path, "a", encoding="utf-8")


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    if isinstance(report.longrepr, tuple):  # skips: (file, line, reason)
        return str(report.longrepr[2])
    return str(report.longrepr or "")


def _server_errors(report):
    """The last lines of the captured server output that look like an error."""
    text = "\n".join(content for (name, content) in report.sections if "stdout" in name or "stderr" in name)
    lines = [l.strip() for l in text.splitlines() if re.search(r"error|unsupported|not support|invalid|unknown", l, re.I)]
    lines = [l for l in lines if not l.startswith(("Response from server", "tests:", '"'))]
    return lines[-3:]


def pytest_runtest_setup(item):
    _http_errors.clear()


def pytest_runtest_logreport(report):
    entry = _reports.setdefault(report.nodeid, {"outcome": "passed", "duration_s": 0.0})
    entry["duration_s"] += report.duration
    if report.when == "call" and report.outcome != "passed":
        entry["outcome"] = "skipped" if report.skipped else "failed"
    elif report.when != "call" and report.failed and entry["outcome"] in ("passed", "skipped"):
        entry["outcome"] = "error"
    elif report.when == "setup" and report.skipped:
        entry["outcome"] = "skipped"
    else:
        return
    entry["message"] = _message(report)[:400]
    if report.failed:
        errors = _server_errors(report)
        if errors:
            entry["server_errors"] = [e[:300] for e in errors]
        if _http_errors:
            entry["http_errors"] = _http_errors[-3:]


def _write(nodeid, entry):
    if _results_file is not None:
        _results_file.write(json.dumps({"nodeid": nodeid, **entry}) + "\n")
        _results_file.flush()


def pytest_runtest_logfinish(nodeid, location):
    entry = _reports.pop(nodeid, None)
    if entry is not None:
        entry["duration_s"] = round(entry["duration_s"], 2)
        _write(nodeid, entry)


def pytest_collectreport(report):
    if report.failed:
        _write(report.nodeid, {"outcome": "error", "duration_s": 0.0, "message": _message(report)[:400]})
