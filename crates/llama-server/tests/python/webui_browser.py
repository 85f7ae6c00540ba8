"""Drives Debian's headless Chromium through the built-in live view of a running llama-server.

Usage: webui_browser.py CHROMIUM SERVER_URL API_KEY SCREENSHOT_PATH

Talks the Chrome DevTools Protocol over `--remote-debugging-pipe` (file descriptors 3 and 4,
NUL-separated JSON), so it needs nothing beyond the standard library. It loads the page, types
the API key and a prompt into the page, clicks Send, waits until the waterfall shows a row for
the trace id the page got back (`traceresponse`), checks the row's span bars in the DOM
(HTTP, GenAI, queue/prefill/generate, llama.decode) against /debug/traces, and writes a
screenshot. Prints "webui browser checks passed" on success.
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request


class Cdp:
    """A minimal CDP client over Chromium's debugging pipe."""

    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        flags = [
            "--headless=new", "--remote-debugging-pipe", "--no-sandbox",
            "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions",
            "--user-data-dir=" + profile, "--window-size=1400,1800", "about:blank",
        ]
        # Chromium reads commands on fd 3 and writes replies on fd 4: bash moves the pipe ends
        # there (whatever numbers they have here) and closes the originals.
        # Through spare numbers first, as the pipe ends may themselves be 3 or 4.
        r, w = to_chrome_r, from_chrome_w
        a, b = max(r, w, 4) + 1, max(r, w, 4) + 2
        script = (f'exec "$0" "$@" {a}<&{r} {b}>&{w} {r}<&- {w}>&- '
                  f'3<&{a} 4>&{b} {a}<&- {b}>&-')
        self.proc = subprocess.Popen(["bash", "-c", script, chromium, *flags], pass_fds=(r, w),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.time() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_chrome, 1 << 16)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError("chromium closed the pipe: " + err[-2000:])
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing is best effort; the process is killed below
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def evaluate(cdp, session, expr):
    r = cdp.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                      "awaitPromise": True}, session)
    if "exceptionDetails" in r:
        raise RuntimeError(f"page exception: {r['exceptionDetails']}")
    return r["result"].get("value")


def wait_for(cdp, session, expr, what, timeout=180):
    start = time.time()
    while time.time() - start < timeout:
        value = evaluate(cdp, session, expr)
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


# The DOM of the waterfall row of trace `id`: which span categories have bars.
ROW_JS = """(() => {
  const id = %s;
  const row = document.querySelector('.trace[data-trace-id="' + id + '"]');
  if (!row) return null;
  const bars = [...row.querySelectorAll('.bar')].map(b => ({
    category: b.dataset.category, name: b.dataset.spanName, span: b.dataset.spanId,
    left: parseFloat(b.style.left), width: parseFloat(b.style.width)}));
  return {bars, mine: row.classList.contains('mine'),
          head: row.querySelector('.trace-head').textContent};
})()"""


def debug_traces(url, key):
    req = urllib.request.Request(url + "/debug/traces?limit=32",
                                 headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def check_row(row, trace_id, otlp):
    cats = {b["category"] for b in row["bars"]}
    for needed in ("http", "gen_ai", "queue", "prefill", "generate", "decode"):
        assert needed in cats, f"no {needed} bar in the row of {trace_id}: {sorted(cats)}"
    assert row["mine"], "the page does not mark the row of its own request"
    for b in row["bars"]:
        assert 0 <= b["left"] <= 100.001 and b["width"] > 0, b
    entry = next(rs for rs in otlp["resourceSpans"]
                 if any(s["traceId"] == trace_id for ss in rs["scopeSpans"] for s in ss["spans"]))
    spans = [s for ss in entry["scopeSpans"] for s in ss["spans"]]
    ids = {s["spanId"]: s for s in spans}
    for b in row["bars"]:
        assert b["span"] in ids, f"bar {b} is not a span of /debug/traces"
        assert ids[b["span"]]["name"] == b["name"], b
    decode = [b for b in row["bars"] if b["category"] == "decode"]
    for b in decode:
        links = ids[b["span"]].get("links", [])
        assert any(l["traceId"] == trace_id for l in links), f"decode bar {b} not linked"
    http = next(b for b in row["bars"] if b["category"] == "http")
    assert ids[http["span"]]["name"] == "POST /v1/chat/completions", http
    return len(decode)


def main():
    chromium, url, key, screenshot = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as profile:
        cdp = Cdp(chromium, profile)
        try:
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = cdp.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
            cdp.call("Page.enable", session=session)
            cdp.call("Runtime.enable", session=session)
            cdp.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1400, "height": 1800, "deviceScaleFactor": 1, "mobile": False},
                     session)
            cdp.call("Page.navigate", {"url": url + "/"}, session)
            wait_for(cdp, session, "document.readyState === 'complete' && !!document.getElementById('send')",
                     "the page to load", 60)
            # Behind --api-key the page first asks for the key (and stops polling meanwhile).
            wait_for(cdp, session, "document.getElementById('model').textContent === 'API key needed'",
                     "the page to ask for the API key", 30)
            time.sleep(3)  # three polling periods without the key: checked below
            # The key goes in as a user would type it: the page keeps it and sends it.
            evaluate(cdp, session, """(() => { const k = document.getElementById('api-key');
                k.value = %s; k.dispatchEvent(new Event('change')); })()""" % json.dumps(key))
            wait_for(cdp, session, "document.getElementById('health').textContent === 'ready'",
                     "the health badge", 60)
            wait_for(cdp, session, "document.getElementById('model').textContent.endsWith('.gguf')",
                     "the model name from /props", 30)
            evaluate(cdp, session, """(() => {
                document.getElementById('prompt').value = 'What is the capital of France?';
                document.getElementById('max-tokens').value = '8';
                document.getElementById('send').click(); })()""")
            trace_id = wait_for(cdp, session,
                                "document.getElementById('chat-trace').dataset.traceId || ''",
                                "the trace id of the page's request", 120)
            wait_for(cdp, session, "document.getElementById('chat').dataset.done === 'true'",
                     "the streamed answer", 180)
            answer = evaluate(cdp, session, "document.getElementById('chat-output').textContent")
            assert answer.strip(), "the chat box shows no answer"
            expr = ROW_JS % json.dumps(trace_id)
            wait_for(cdp, session,
                     "(() => { const r = %s; return !!r && r.bars.some(b => b.category === 'decode')"
                     " && r.bars.some(b => b.category === 'generate'); })()" % expr,
                     "the waterfall row of " + trace_id, 60)
            row = evaluate(cdp, session, expr)
            n_decode = check_row(row, trace_id, debug_traces(url, key))
            # The metric cards are live: the KV card and the latency percentiles have values.
            for card in ("ttft", "tpot"):
                wait_for(cdp, session, "/\\d+(\\.\\d+)? m?s \\//.test(document.getElementById('%s').textContent)"
                         % card, card + " percentiles", 30)
            kv = evaluate(cdp, session, "document.getElementById('kv-usage').textContent")
            assert kv.endswith("%"), kv
            cards = evaluate(cdp, session, """(() => ({ttft: document.getElementById('ttft').textContent,
                tpot: document.getElementById('tpot').textContent,
                tps: document.getElementById('gen-tps').textContent}))()""")
            evaluate(cdp, session, "document.querySelector('.trace[data-trace-id=\"%s\"]').scrollIntoView()"
                     % trace_id)
            evaluate(cdp, session, "window.scrollTo(0, 0)")
            shot = cdp.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                            session)
            os.makedirs(os.path.dirname(screenshot), exist_ok=True)
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"trace {trace_id}: {len(row['bars'])} bars, {n_decode} llama.decode; "
                  f"answer {answer.strip()[:40]!r}; TTFT {cards['ttft']}; TPOT {cards['tpot']}; "
                  f"KV {kv}; screenshot {screenshot}")
            req = urllib.request.Request(url + "/metrics", headers={"Authorization": "Bearer " + key})
            with urllib.request.urlopen(req, timeout=30) as r:
                rejected = [l for l in r.read().decode().splitlines()
                            if l.startswith("llamacpp:requests_rejected_total{") and not l.endswith(" 0")]
            unauthorized = sum(int(float(l.rsplit(" ", 1)[1])) for l in rejected if "unauthorized" in l)
            # Before the key, one round of the four protected endpoints; then polling pauses.
            assert unauthorized <= 4, f"the page keeps polling without the key: {rejected}"
            print("webui browser checks passed")
        finally:
            cdp.close()


if __name__ == "__main__":
    main()
