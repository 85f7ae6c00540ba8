#!/usr/bin/env python3
"""Reference outputs of llama.cpp's own llama-server with quantized / non-F16 KV caches
(`-ctk/-ctv`), written as testdata/reference/kv-cache-types.json.

Usage: kv_cache_types_ref.py LLAMA_CPP_DIR MODELS_DIR > kv-cache-types.json
  LLAMA_CPP_DIR: the vendored llama.cpp (commit 0c1e570) with build/bin/llama-server; its
  build-noamx/bin libraries are put first on LD_LIBRARY_PATH (the default build's AMX kernels
  die with SIGILL in VMs). Each configuration starts one server
  (`-np 1 -c 4096 -t 1 -ctk K -ctv V -fa on|off`, weights repacked as llama.cpp's default), then
  per prompt: POST /tokenize (add_special, parse_special) for prompt_tokens and POST /completion
  (temperature 0, top_k 1, n_predict 48, n_probs 5, cache_prompt false); top2[i] are the two most
  likely tokens at generated position i with their log-probabilities (pre-sampling), first_top5
  the first position's five.
"""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

PROMPTS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": [
        "The capital of France is",
        "Once upon a time, in a small village,",
        "def add(a, b):\n",
        "1, 2, 3, 4, 5,",
    ],
    "gemma-3-270m-q4_k_m.gguf": [
        "The capital of France is",
        "Once upon a time, in a small village,",
    ],
}
# (model, type_k, type_v, flash attention)
CONFIGS = [
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "q8_0", "q8_0", "on"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "q4_0", "q4_0", "on"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "q8_0", "f16", "off"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "f32", "f32", "off"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "f32", "f32", "on"),
    ("SmolLM2-135M-Instruct.Q4_1.gguf", "bf16", "bf16", "on"),
    ("gemma-3-270m-q4_k_m.gguf", "q8_0", "q8_0", "on"),
]


def post(port, path, body):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=3600) as r:
        return json.loads(r.read())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_config(llama, models, model, ctk, ctv, fa):
    port = free_port()
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = f"{llama}/build-noamx/bin:{llama}/build/bin"
    cmd = [f"{llama}/build/bin/llama-server", "-m", f"{models}/{model}", "-np", "1", "-c", "4096",
           "-t", "1", "-ctk", ctk, "-ctv", ctv, "-fa", fa, "--port", str(port)]
    srv = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.5)
        cases = []
        for prompt in PROMPTS[model]:
            toks = post(port, "/tokenize", {"content": prompt, "add_special": True,
                                            "parse_special": True})["tokens"]
            out = post(port, "/completion", {"prompt": prompt, "n_predict": 48, "temperature": 0,
                                             "top_k": 1, "n_probs": 5, "cache_prompt": False,
                                             "return_tokens": True})
            probs = out["completion_probabilities"]
            top2 = [[[t["id"], round(t["logprob"], 5)] for t in p["top_logprobs"][:2]] for p in probs]
            first5 = [[t["id"], round(t["logprob"], 5)] for t in probs[0]["top_logprobs"][:5]]
            cases.append({"prompt": prompt, "prompt_tokens": toks, "tokens": out["tokens"],
                          "first_top5": first5, "top2": top2})
        return {"model": model, "cache_type_k": ctk, "cache_type_v": ctv, "flash_attn": fa,
                "command": " ".join(os.path.basename(c) for c in cmd[:-2]),
                "generate": cases}
    finally:
        srv.terminate()
        srv.wait()


def main():
    llama, models = sys.argv[1], sys.argv[2]
    runs = [run_config(llama, models, *c) for c in CONFIGS]
    about = ("llama.cpp commit 0c1e570 (ggml 0.25.3), its own llama-server, CPU, 1 thread (one thread avoids ggml's spinning barrier on a loaded 2-core machine), "
             "produced by tools/kv_cache_types_ref.py on this project's development machine "
             "(same kernels as gemma3-local.json)")
    json.dump({"about": about, "runs": runs}, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
