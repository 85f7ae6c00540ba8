#!/usr/bin/env python3
"""gpu-check: the CUDA llama-server on each reference model, on a machine with an NVIDIA GPU.

Prepared by `cargo xtask gpu-check --bundle DIR` (binaries, this script, llama.cpp's reference
outputs); needs only python3 and the NVIDIA driver there (no Rust toolchain). For each model in
MODELS it starts `llama-server -ngl 99`, checks that the CUDA device was used, runs every greedy
`generate` case of the reference through POST /completion and compares the tokens with llama.cpp's
CPU run up to the first near-tie (the reference's `top2` gap below --near-tie, else our own top-2
when a token differs), then measures prompt and generation speed from the server's `timings`.
With --llama-cpp DIR (llama.cpp's CUDA build of the vendored commit: DIR/llama-server) the same
runs go through llama.cpp's server for comparison. Exit status 0 only when every comparison passed. --cpu is a self-test of this script on a machine
without a GPU (-ngl 0, no CUDA checks, a short speed run).
"""
import argparse, json, os, shutil, socket, subprocess, sys, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {  # reference file -> model file (as `cargo xtask fetch-model` names them)
    "smollm2.json": "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.json": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "gemma3.json": "gemma-3-270m-q4_k_m.gguf",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body, timeout=300):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.load(r)


class Server:
    """One llama-server process with -ngl 99 on a free port; its log goes to LOGDIR."""

    def __init__(self, binary, model, logdir, tag, env, cpu=False):
        self.port = free_port()
        self.log_path = os.path.join(logdir, f"{tag}.log")
        self.log = open(self.log_path, "w")
        ngl = "0" if cpu else "99"
        args = [binary, "-m", model, "-ngl", ngl, "-np", "1", "-c", "4096", "--port", str(self.port)]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{tag}: server exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except Exception:
                time.sleep(0.5)
        raise RuntimeError(f"{tag}: not ready in 180 s; see {self.log_path}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def greedy(port, case):
    body = {"prompt": case["prompt_tokens"], "n_predict": len(case["tokens"]), "temperature": 0,
            "top_k": 1, "cache_prompt": False, "return_tokens": True, "n_probs": 2}
    return post(port, "/completion", body)


def our_top2(answer, step):
    """(id, logprob) of the two most likely tokens at `step`, from completion_probabilities."""
    probs = answer.get("completion_probabilities") or []
    if step >= len(probs):
        return None
    top = probs[step].get("top_logprobs") or probs[step].get("top_probs") or []
    pairs = [(t.get("id"), t.get("logprob", t.get("prob"))) for t in top[:2]]
    return pairs if len(pairs) == 2 else None


def compare(label, case, answer, near_tie):
    """Strict token comparison up to the first near-tie; returns (ok, compared, message)."""
    want, got = case["tokens"], answer.get("tokens") or []
    limit = len(want)
    for i, t in enumerate(case.get("top2") or []):  # [[id, logprob], [id, logprob]] per step
        if abs(t[0][1] - t[1][1]) < near_tie:
            limit = i
            break
    for step in range(limit):
        if step >= len(got):
            return False, step, f"{label}: ended after {step} tokens, llama.cpp went on with {want[step]}"
        if got[step] != want[step]:
            top = our_top2(answer, step)
            if "top2" not in case and top and top[0][1] - top[1][1] < near_tie and top[1][0] == want[step]:
                return True, step, f"{label}: our top two are a near-tie at step {step}; compared {step} tokens"
            return False, step, f"{label}: step {step}: got {got[step]}, llama.cpp chose {want[step]}"
    note = f" (stopped at the reference's near-tie at {limit})" if limit < len(want) else ""
    return True, limit, f"{label}: {limit}/{len(want)} tokens identical{note}"


def bench(port, n_prompt, n_gen):
    """Prompt and generation speed from the server's timings (llama.cpp's fields)."""
    body = {"prompt": list(range(100, 100 + n_prompt)), "n_predict": n_gen, "temperature": 0,
            "top_k": 1, "cache_prompt": False, "ignore_eos": True}
    t = post(port, "/completion", body).get("timings", {})
    return t.get("prompt_per_second"), t.get("predicted_per_second")


def run_server(name, binary, args, env, results):
    ok_all = True
    for ref_file, model_file in MODELS.items():
        model = os.path.join(args.models, model_file)
        if not os.path.exists(model):
            print(f"[{name}] {model_file}: missing in {args.models}", flush=True)
            ok_all = False
            continue
        ref = json.load(open(os.path.join(HERE, "reference", ref_file)))
        server = Server(binary, model, args.logdir, f"{name}-{ref_file[:-5]}", env, args.cpu)
        try:
            for case in ref["generate"]:
                label = f"[{name}] {ref_file[:-5]} {case['prompt'][:30]!r}"
                ok, _, msg = compare(label, case, greedy(server.port, case), args.near_tie)
                print(("PASS " if ok else "FAIL ") + msg, flush=True)
                ok_all &= ok
            pp, tg = bench(server.port, args.pp, args.tg)
            print(f"[{name}] {ref_file[:-5]}: pp{args.pp} {pp:.1f} tok/s, tg{args.tg} {tg:.1f} tok/s" if pp and tg
                  else f"[{name}] {ref_file[:-5]}: no timings", flush=True)
            results.append({"server": name, "model": model_file, "pp": args.pp, "tg": args.tg,
                            "pp_tok_s": pp, "tg_tok_s": tg})
        except Exception as e:  # one model's failure is reported, the others still run
            print(f"FAIL [{name}] {model_file}: {e!r}", flush=True)
            ok_all = False
        finally:
            server.stop()
        offloaded = "CUDA" in open(server.log_path, errors="replace").read()
        if not offloaded and not args.cpu:
            print(f"FAIL [{name}] {model_file}: the log never names a CUDA device ({server.log_path})")
            ok_all = False
    return ok_all


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=os.path.join(HERE, "models"), help="folder with the GGUF files")
    p.add_argument("--llama-cpp", help="folder of llama.cpp's CUDA build (its llama-server)")
    p.add_argument("--near-tie", type=float, default=0.02)
    p.add_argument("--logdir", default=os.path.join(HERE, "logs"))
    p.add_argument("--server", default=os.path.join(HERE, "llama-server"), help="our llama-server")
    p.add_argument("--cpu", action="store_true",
                   help="self-test of this script on a machine without a GPU: -ngl 0, no CUDA checks")
    p.add_argument("--pp", type=int, help="prompt tokens of the speed run (default 512; 32 with --cpu)")
    p.add_argument("--tg", type=int, help="generated tokens of the speed run (default 128; 8 with --cpu)")
    args = p.parse_args()
    args.pp = args.pp or (32 if args.cpu else 512)
    args.tg = args.tg or (8 if args.cpu else 128)
    os.makedirs(args.logdir, exist_ok=True)
    env = dict(os.environ)
    libdir = os.path.join(HERE, "lib")  # CUDA runtime libraries bundled with --cuda-libs
    if os.path.isdir(libdir):
        env["LD_LIBRARY_PATH"] = libdir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    if shutil.which("nvidia-smi"):
        subprocess.run(["nvidia-smi", "-L"])
    ours = args.server
    devices = subprocess.run([ours, "--list-devices"], env=env, capture_output=True, text=True)
    print(devices.stdout + devices.stderr, flush=True)
    if "CUDA" not in devices.stdout and not args.cpu:
        print("FAIL: our llama-server lists no CUDA device")
        return 1
    results = []
    # ggml's info log names the CUDA device and the buffers the weights went to.
    ok = run_server("ours", ours, args, dict(env, LLAMA_GGML_LOG="info"), results)
    if args.llama_cpp:
        lenv = dict(env, LD_LIBRARY_PATH=args.llama_cpp + os.pathsep + env.get("LD_LIBRARY_PATH", ""))
        ok &= run_server("llama.cpp", os.path.join(args.llama_cpp, "llama-server"), args, lenv, results)
    with open(os.path.join(args.logdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("gpu-check:", "PASS" if ok else "FAIL", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
