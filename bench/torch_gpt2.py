#!/usr/bin/python3
"""PyTorch side by side with tril on the same random GPT-2 weights.

    /usr/bin/python3 bench/torch_gpt2.py [--layers 12 --heads 12 --embd 768]
                                         [--tril build/tril] [--keep DIR]

Writes one random GPT-2 model as a Hugging Face folder (tests/ref/gpt2_torch.py
make, F32), then times, in float32 with 2 threads, PyTorch (the reference
GPT-2 of tests/ref/gpt2_torch.py, plus a KV cache for decoding) and
`tril bench` on that same folder:
  forward of 1024 tokens (logits for every position),
  decode at positions 16 and 1000 (ms per token with a KV cache),
  one training step B=4 T=64 (forward, backward, AdamW).
Prints one line per figure: name, PyTorch ms, tril ms, speed-up.
"""
import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import gpt2_torch  # noqa: E402


def timed(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def decode_step(cfg, p, cache, token, pos):
    """One token through the model with a KV cache (cache: list of [K, V])."""
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    D = C // H
    x = p["wte.weight"][token] + p["wpe.weight"][pos]
    for l in range(cfg["n_layer"]):
        g = lambda n: p["h.%d.%s" % (l, n)]
        h = gpt2_torch.layer_norm(x, g("ln_1.weight"), g("ln_1.bias"), eps)
        q, k, v = (h @ g("attn.c_attn.weight") + g("attn.c_attn.bias")).split(C)
        cache[l][0][pos] = k
        cache[l][1][pos] = v
        K, V = cache[l][0][:pos + 1].view(-1, H, D), cache[l][1][:pos + 1].view(-1, H, D)
        att = torch.softmax(torch.einsum("hd,thd->ht", q.view(H, D), K) / math.sqrt(D), dim=-1)
        y = torch.einsum("ht,thd->hd", att, V).reshape(C)
        a = x + y @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        h = gpt2_torch.layer_norm(a, g("ln_2.weight"), g("ln_2.bias"), eps)
        x = a + gpt2_torch.gelu_new(h @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias")) @ \
            g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
    x = gpt2_torch.layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
    return x @ p["wte.weight"].t()


def tril_figure(tril, args, key):
    out = subprocess.run([tril, "bench"] + args, check=True, capture_output=True, text=True).stdout
    return float(out.split(key + "=")[1].split()[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--embd", type=int, default=768)
    ap.add_argument("--tril", default=os.path.join(HERE, "..", "build", "tril"))
    ap.add_argument("--keep", help="write the model folder here and keep it")
    a = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    work = a.keep or tempfile.mkdtemp()
    if not os.path.exists(os.path.join(work, "model.safetensors")):
        subprocess.run([sys.executable, os.path.join(HERE, "..", "tests", "ref", "gpt2_torch.py"),
                        "make", "--out", work, "--layers", str(a.layers), "--heads", str(a.heads),
                        "--embd", str(a.embd), "--positions", "1024", "--vocab", "50257"],
                       check=True)
    cfg, params, _ = gpt2_torch.load_model(work)
    p = {k: v.to(torch.float32) for k, v in params.items()}
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 50257, (1025,), generator=g).tolist()
    rows = []
    with torch.no_grad():
        ms = timed(lambda: gpt2_torch.forward(cfg, p, ids[:1024]), 3)
        rows.append(("forward 1024 tokens", ms,
                     tril_figure(a.tril, ["forward", "--model", work, "--tokens", "1024"], "ms")))
        for pos in (16, 1000):
            C, L = cfg["n_embd"], cfg["n_layer"]
            # the cache's contents do not change the time: random keys/values
            cache = [[torch.randn(1024, C, generator=g), torch.randn(1024, C, generator=g)]
                     for _ in range(L)]
            ms = timed(lambda: decode_step(cfg, p, cache, ids[pos], pos), 10)
            rows.append((f"decode at position {pos} (ms/token)", ms,
                         tril_figure(a.tril, ["decode", "--model", work, "--position", str(pos)],
                                     "ms_per_token")))
    B, T = 4, 64
    tp = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    opt = torch.optim.AdamW(list(tp.values()), lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    seqs = [ids[b * T:(b + 1) * T + 1] for b in range(B)]

    def train_step():
        opt.zero_grad()
        loss = sum(torch.nn.functional.cross_entropy(gpt2_torch.forward(cfg, tp, s[:-1]),
                                                     torch.tensor(s[1:])) for s in seqs) / B
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(tp.values()), 1.0)
        opt.step()

    with torch.enable_grad():
        ms = timed(train_step, 3)
    rows.append((f"training step B={B} T={T} (fwd+bwd+AdamW)", ms,
                 tril_figure(a.tril, ["train", "--model", work, "--batch", str(B), "--seq", str(T)],
                             "ms_per_step")))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads; model "
          f"{a.layers}x{a.embd} ({a.heads} heads) in {work}")
    print(f"{'work':<42} {'torch_ms':>10} {'tril_ms':>10} {'speedup':>8}")
    for name, t_ms, r_ms in rows:
        print(f"{name:<42} {t_ms:10.1f} {r_ms:10.1f} {t_ms / r_ms:7.1f}x")


if __name__ == "__main__":
    main()
