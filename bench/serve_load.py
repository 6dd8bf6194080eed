#!/usr/bin/python3
"""Load generator for tril serve: N concurrent streaming completions.

usage: serve_load.py --url http://127.0.0.1:8080 [--streams 1,4,8,16]
                     [--tokens 64] [--prompt-tokens 16] [--rounds 1]
                     [--api-key KEY]

For each stream count, N clients each send one streaming /v1/completions
request at the same time (greedy, max_tokens = --tokens, a prompt of about
--prompt-tokens words) and time every server-sent chunk. Prints per stream
count: aggregate generated tokens/s (all tokens / wall time from the first
request to the last [DONE]), time to first token p50/p99 and inter-token
latency p50/p99 (ms), and the speed-up of the aggregate over one stream.

One stream runs before each larger count and once after the last, and a
count's speed-up is over the mean of the one-stream runs just before and
just after it: on a shared machine the speed moves from one minute to the
next, and a speed-up against a single run made minutes earlier measures
the drift as much as the batching. With --rounds R the whole sequence runs
R times; each column is the median over the rounds, and speedup_range
gives the lowest and highest speed-up. Standard library only."""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

WORDS = ("the king of the castle spoke to his people of war and of peace and "
         "the night came down on the old town while the river ran").split()


def one_stream(url, api_key, prompt, tokens, out):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=600)
    body = json.dumps({"prompt": prompt, "max_tokens": tokens, "temperature": 0,
                       "stream": True})
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    t0 = time.monotonic()
    conn.request("POST", "/v1/completions", body, headers)
    resp = conn.getresponse()
    if resp.status != 200:
        out["error"] = "HTTP %d: %s" % (resp.status, resp.read()[:200])
        return
    stamps, buf = [], b""
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            if not event.startswith(b"data: "):
                continue
            data = event[6:]
            if data == b"[DONE]":
                out.update(t0=t0, stamps=stamps, end=time.monotonic())
                conn.close()
                return
            if json.loads(data)["choices"][0].get("text"):
                stamps.append(time.monotonic())
    out["error"] = "stream ended without [DONE]"


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100.0 * (len(v) - 1))))]


def run(url, api_key, n, tokens, prompt_tokens):
    outs = [{} for _ in range(n)]
    prompts = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(prompt_tokens))
               for i in range(n)]
    threads = [threading.Thread(target=one_stream, args=(url, api_key, prompts[i], tokens, outs[i]))
               for i in range(n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise SystemExit("serve_load: " + errors[0])
    end = max(o["end"] for o in outs)
    total = sum(len(o["stamps"]) for o in outs)
    ttft = [1e3 * (o["stamps"][0] - o["t0"]) for o in outs if o["stamps"]]
    itl = [1e3 * (b - a) for o in outs for a, b in zip(o["stamps"], o["stamps"][1:])]
    return total / (end - start), ttft, itl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--streams", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--api-key", default=None)
    a = ap.parse_args()
    counts = [int(s) for s in a.streams.split(",")]
    if a.rounds < 1 or not counts or min(counts) < 1:
        raise SystemExit("serve_load: --rounds and every stream count must be >= 1")
    larger = [n for n in counts if n > 1]
    # per count: each round's (tokens/s, ttft p50, ttft p99, itl p50, itl p99, speedup)
    rows = {n: [] for n in counts}

    def measure(n):
        tps, ttft, itl = run(a.url, a.api_key, n, a.tokens, a.prompt_tokens)
        return [tps, pct(ttft, 50), pct(ttft, 99), pct(itl, 50), pct(itl, 99)]

    for _ in range(a.rounds):
        before = measure(1)
        singles = [before]
        for n in larger:
            r = measure(n)
            after = measure(1)
            singles.append(after)
            rows[n].append(r + [r[0] / ((before[0] + after[0]) / 2.0)])
            before = after
        if 1 in rows:
            for one in singles:
                rows[1].append(one + [1.0])
    print("%-8s %10s %10s %10s %10s %10s %8s %15s" % (
        "streams", "tokens/s", "ttft_p50", "ttft_p99", "itl_p50", "itl_p99", "speedup",
        "speedup_range"))
    for n in counts:
        if not rows[n]:
            continue
        cols = [statistics.median(r[c] for r in rows[n]) for c in range(6)]
        lo, hi = min(r[5] for r in rows[n]), max(r[5] for r in rows[n])
        print("%-8d %10.1f %10.1f %10.1f %10.1f %10.1f %8.2f %15s" % (
            n, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], "%.2f-%.2f" % (lo, hi)),
            flush=True)


if __name__ == "__main__":
    main()
