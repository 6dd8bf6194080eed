#!/usr/bin/python3
"""Helpers for the tril serve tests (Python 3 standard library only).

    helpers.py get FILE EXPR          the value of EXPR over the JSON `d` in FILE
    helpers.py sse FILE               checks SSE framing; prints the stream as one
                                      JSON object (text, finish_reason, events, ...)
    helpers.py metric FILE NAME       a Prometheus sample's value (0 if absent)
    helpers.py slow PORT SECONDS      a client sending one byte a second: exits 0
                                      once the server closes it, 1 after SECONDS
    helpers.py hangup PORT BODY       starts a streaming completion, reads the
                                      first event (or the headers) and hangs up
"""
import json
import socket
import sys
import time


def show(v):
    if isinstance(v, str):
        sys.stdout.write(v)
    else:
        sys.stdout.write(json.dumps(v))


def cmd_get(path, expr):
    with open(path, "rb") as f:
        d = json.loads(f.read().decode("utf-8"))
    show(eval(expr, {"d": d, "len": len, "all": all, "any": any, "isinstance": isinstance,
                     "str": str, "int": int, "float": float, "dict": dict, "list": list,
                     "sorted": sorted, "sum": sum, "type": type}))


def cmd_sse(path):
    raw = open(path, "rb").read().decode("utf-8")
    if not raw.endswith("\n\n"):
        sys.exit("sse: the stream does not end with a blank line: %r" % raw[-80:])
    events = raw[:-2].split("\n\n")
    out = {"text": "", "finish_reason": None, "events": len(events), "ids": [],
           "tokens": [], "token_logprobs": [], "usage": None, "error": None, "finishes": 0}
    if events[-1] != "data: [DONE]":
        sys.exit("sse: the last event is not 'data: [DONE]': %r" % events[-1][:200])
    for ev in events[:-1]:
        if not ev.startswith("data: ") or "\n" in ev:
            sys.exit("sse: not a one-line data event: %r" % ev[:200])
        d = json.loads(ev[6:])
        if "error" in d:
            out["error"] = d["error"]
            continue
        if d.get("object") != "text_completion" or not d.get("id", "").startswith("cmpl-"):
            sys.exit("sse: bad chunk head: %r" % ev[:200])
        if d.get("usage"):
            out["usage"] = d["usage"]
        for c in d["choices"]:
            out["text"] += c["text"]
            if c.get("finish_reason"):
                out["finish_reason"] = c["finish_reason"]
                out["finishes"] += 1
            out["ids"] += c.get("token_ids") or []
            lp = c.get("logprobs")
            if lp:
                out["tokens"] += lp["tokens"]
                out["token_logprobs"] += lp["token_logprobs"]
    print(json.dumps(out))


def cmd_metric(path, name):
    for line in open(path, encoding="utf-8"):
        if line.startswith(name + " "):
            print(line.split()[1])
            return
    print(0)


def cmd_slow(port, seconds):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.settimeout(1.0)
    msg = b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000
    start = time.time()
    for i in range(len(msg)):
        if time.time() - start > float(seconds):
            print("still open after %.1f s (%d bytes sent)" % (time.time() - start, i))
            sys.exit(1)
        try:
            s.send(msg[i:i + 1])
            data = s.recv(4096)  # waits up to 1 s: one byte a second
            if data == b"" or data:
                print("closed after %.1f s (%d bytes sent)" % (time.time() - start, i + 1))
                return
        except socket.timeout:
            continue
        except OSError:
            print("closed after %.1f s (%d bytes sent)" % (time.time() - start, i + 1))
            return


def cmd_hangup(port, body):
    s = socket.create_connection(("127.0.0.1", int(port)))
    b = body.encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(b) + b)
    s.settimeout(10)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    print(got.split(b"\r\n")[0].decode(errors="replace"))


def main():
    cmds = {"get": cmd_get, "sse": cmd_sse, "metric": cmd_metric, "slow": cmd_slow,
            "hangup": cmd_hangup}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
