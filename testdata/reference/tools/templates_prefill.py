#!/usr/bin/env python3
"""Renders every template of ../templates/ with llama.cpp's POST /apply-template for conversations
that end with an assistant message (prefill / continue_final_message) and writes
../templates_prefill.json.

Usage: LLAMA_CPP_BIN=.../build/bin LD_LIBRARY_PATH=.../build-noamx/bin \
       python3 templates_prefill.py MODEL.gguf
"""
from concurrent.futures import ThreadPoolExecutor
import json, os, socket, subprocess, sys, time, urllib.request, urllib.error, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.dirname(HERE)
BASE = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the weather in Paris?"},
]
CASES = {
    # the last assistant message is continued (--prefill-assistant, llama.cpp's default)
    "content": {"messages": BASE + [{"role": "assistant", "content": "The weather in Paris is"}]},
    # typed parts are joined with "\n\n" (common_chat_msg::render_content)
    "parts": {"messages": BASE + [{"role": "assistant", "content": [
        {"type": "text", "text": "Wh"}, {"type": "text", "text": "ill"}]}]},
    # reasoning only: the reasoning is continued
    "reasoning": {"messages": BASE + [{"role": "assistant", "content": "",
                                       "reasoning_content": "The user asks about"}]},
    # reasoning and content
    "both": {"messages": BASE + [{"role": "assistant", "content": "It is",
                                  "reasoning_content": "I should answer."}]},
    # explicit vLLM-style flag
    "explicit": {"messages": BASE + [{"role": "assistant", "content": "Sunny"}],
                 "add_generation_prompt": False, "continue_final_message": True},
    # continue_final_message naming the reasoning
    "explicit_reasoning": {"messages": BASE + [{"role": "assistant", "content": "So",
                                                "reasoning_content": "Hmm"}],
                           "add_generation_prompt": False,
                           "continue_final_message": "reasoning_content"},
}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/apply-template",
                                 data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["prompt"]
    except urllib.error.HTTPError as e:
        return {"error": json.load(e).get("error", {}).get("message", str(e))}


def render(binary, model, template):
    port = free_port()
    proc = subprocess.Popen([binary, "-m", model, "--port", str(port), "-c", "512", "-np", "1", "-t", "1", "--no-warmup",
                             "--chat-template-file", template],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(3000):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        else:
            return {k: {"error": "server did not start"} for k in CASES}
        return {k: post(port, body) for k, body in CASES.items()}
    finally:
        proc.terminate()
        proc.wait()


def main():
    model = sys.argv[1]
    binary = os.path.join(os.environ["LLAMA_CPP_BIN"], "llama-server")
    out = {
        "about": "llama.cpp 0c1e57098bba llama-server --chat-template-file T (default --prefill-assistant), "
                 "POST /apply-template with each case's body; rendered on "
                 + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "cases": CASES,
        "templates": {},
    }
    names = sorted(os.listdir(os.path.join(REF, "templates")))
    with ThreadPoolExecutor(max_workers=int(os.environ.get("JOBS", "3"))) as pool:
        results = pool.map(lambda n: render(binary, model, os.path.join(REF, "templates", n)), names)
        for name, result in zip(names, results):
            out["templates"][name] = result
            print(name, file=sys.stderr)
    with open(os.path.join(REF, "templates_prefill.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


main()
