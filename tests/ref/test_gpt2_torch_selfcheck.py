#!/usr/bin/python3
"""Self-checks for tests/ref/gpt2_torch.py (the GPT-2 reference the C tests trust).

Usage: test_gpt2_torch_selfcheck.py        (exit status 0 = all checks pass)

Checks the reference against independent formulations:
  * a naive numpy GPT-2 (per-head, per-query-row attention loops, explicit
    max-subtracted softmax, per-row LayerNorm) gives the same logits;
  * causality: changing future ids leaves earlier logits unchanged, and the
    logits of a prefix equal the first rows of the full sequence's logits;
  * safetensors: header layout (u64 length, space padding to 8, contiguous
    aligned offsets), f32 round trip exact, f16/bf16 equal to independent
    conversions (numpy float16, torch bfloat16) and within rounding of f32;
  * "transformer." prefix, missing mask buffers and an lm_head.weight copy all
    load to the same model; malformed files are rejected;
  * the config options that change the math (n_inner, scale_attn_weights,
    scale_attn_by_inverse_layer_idx, reorder_and_upcast_attn): the naive
    GPT-2 with its own per-layer factor gives the same logits, each option
    really changes them, and HF's reordered path equals its eager path;
  * eval windowing and greedy generation against naive recomputation;
  * the CLI end to end (make, logits, eval, greedy).
"""
import contextlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gpt2_torch as g  # noqa: E402

SCRIPT = os.path.join(HERE, "gpt2_torch.py")
TOKENIZER = os.path.normpath(os.path.join(HERE, "..", "..", "data", "gpt2"))
if not os.path.exists(os.path.join(TOKENIZER, "vocab.json")):
    TOKENIZER = None  # the tokenizer-copy checks are skipped

failures = []


def check(cond, what):
    print("%s  %s" % ("ok  " if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def max_rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b)))))


# ------------------------------------------------------------ naive numpy GPT-2

def np_layer_norm(x, w, b, eps):
    out = np.empty_like(x)
    for t in range(x.shape[0]):
        row = x[t]
        mu = sum(row) / len(row)
        var = sum((r - mu) ** 2 for r in row) / len(row)
        out[t] = (row - mu) / math.sqrt(var + eps) * w + b
    return out


def np_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))


def np_attention(qkv, H, factor=None):
    """factor: what q.k is multiplied by (default 1/sqrt(D))."""
    T, C3 = qkv.shape
    C = C3 // 3
    D = C // H
    if factor is None:
        factor = 1.0 / math.sqrt(D)
    out = np.zeros((T, C))
    for h in range(H):
        for i in range(T):
            q = qkv[i, h * D:(h + 1) * D]
            scores = []
            for j in range(i + 1):  # keys 0..i only
                k = qkv[j, C + h * D:C + (h + 1) * D]
                scores.append(float(np.dot(q, k)) * factor)
            m = max(scores)
            e = [math.exp(s - m) for s in scores]
            z = sum(e)
            acc = np.zeros(D)
            for j in range(i + 1):
                acc += (e[j] / z) * qkv[j, 2 * C + h * D:2 * C + (h + 1) * D]
            out[i, h * D:(h + 1) * D] = acc
    return out


def np_forward(cfg, p, ids):
    p = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in p.items()}
    eps, H = cfg["layer_norm_epsilon"], cfg["n_head"]
    x = np.stack([p["wte.weight"][t] + p["wpe.weight"][i] for i, t in enumerate(ids)])
    for l in range(cfg["n_layer"]):
        pre = "h.%d." % l
        h = np_layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"], eps)
        qkv = np.dot(h, p[pre + "attn.c_attn.weight"]) + p[pre + "attn.c_attn.bias"]
        # the per-layer factor, written out from the config's words
        factor = 1.0
        if cfg.get("scale_attn_weights", True):
            factor /= math.sqrt(cfg["n_embd"] // H)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            factor /= l + 1
        att = np_attention(qkv, H, factor)
        x = x + np.dot(att, p[pre + "attn.c_proj.weight"]) + p[pre + "attn.c_proj.bias"]
        h = np_layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"], eps)
        m = np_gelu(np.dot(h, p[pre + "mlp.c_fc.weight"]) + p[pre + "mlp.c_fc.bias"])
        x = x + np.dot(m, p[pre + "mlp.c_proj.weight"]) + p[pre + "mlp.c_proj.bias"]
    x = np_layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
    return np.dot(x, p["wte.weight"].T)


def np_log_softmax_at(row, target):
    m = np.max(row)
    return row[target] - (m + math.log(np.sum(np.exp(row - m))))


# ------------------------------------------------------------ helpers

def tparams(params):
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}


def same_params(a, b):
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def read_header(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return n, data[8:8 + n], data


def run_cli(*args):
    """Runs gpt2_torch.py as a program (slow: imports torch again)."""
    r = subprocess.run([sys.executable, SCRIPT] + [str(a) for a in args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    return r.returncode, r.stdout, r.stderr


def run_main(*args):
    """Runs gpt2_torch.main(argv) in this process, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = g.main([str(a) for a in args])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    return rc, out.getvalue(), err.getvalue()


# ------------------------------------------------------------ checks

def check_math():
    # gelu_new at known points (closed form evaluated with math, not torch)
    for x in (-3.0, -1.0, 0.0, 0.5, 1.0, 2.5):
        want = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
        got = float(g.gelu_new(torch.tensor([x], dtype=torch.float64))[0])
        if abs(got - want) > 1e-15:
            check(False, "gelu_new(%g)" % x)
            return
    check(abs(float(g.gelu_new(torch.tensor([1.0], dtype=torch.float64))) - 0.8411919906082768) < 1e-15,
          "gelu_new(1) = 0.8411919906082768")
    # LayerNorm against torch's own layer_norm (biased variance, eps)
    x = torch.randn(5, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    w = torch.randn(24, dtype=torch.float64)
    b = torch.randn(24, dtype=torch.float64)
    ref = torch.nn.functional.layer_norm(x, (24,), w, b, 1e-5)
    check(max_rel(g.layer_norm(x, w, b, 1e-5), ref) < 1e-13, "layer_norm matches torch.nn.functional.layer_norm")
    # argmax ties go to the lowest id
    row = torch.tensor([0.0, 3.0, -1.0, 3.0, 3.0], dtype=torch.float64)
    check(g.argmax_lowest(row) == 1, "argmax ties go to the lowest id")
    # the attention kernel alone against the naive loop
    T, H, D = 9, 3, 8
    qkv = torch.randn(T, 3 * H * D, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 2
    q, k, v = qkv.split(H * D, dim=-1)
    check(max_rel(g.attention(q, k, v, H), np_attention(qkv.numpy(), H)) < 1e-13,
          "batched attention == naive per-head per-row loop")


def check_forward(cfg, params):
    tp = tparams(params)
    rng = np.random.RandomState(11)
    ids = [int(t) for t in rng.randint(0, cfg["vocab_size"], size=13)]
    ref = g.forward(cfg, tp, ids).numpy()
    naive = np_forward(cfg, params, ids)
    check(ref.shape == (13, cfg["vocab_size"]), "logits shape [T, V]")
    check(max_rel(ref, naive) < 1e-12, "forward == naive numpy GPT-2 (rel %.2e)" % max_rel(ref, naive))
    # causality: change future ids, earlier rows unchanged
    ids2 = ids[:6] + [(t + 1234) % cfg["vocab_size"] for t in ids[6:]]
    ref2 = g.forward(cfg, tp, ids2).numpy()
    check(np.max(np.abs(ref2[:6] - ref[:6])) <= 1e-12 * np.max(np.abs(ref)),
          "changing future ids leaves earlier logits unchanged")
    check(np.max(np.abs(ref2[6:] - ref[6:])) > 1e-3, "changing ids does change later logits")
    # prefix logits == first rows of the full logits (what a KV cache must give)
    worst = 0.0
    for n in (1, 2, 7, 12):
        worst = max(worst, max_rel(g.forward(cfg, tp, ids[:n]).numpy(), ref[:n]))
    check(worst < 1e-12, "prefix logits == first rows of full logits")
    # full context works
    P = cfg["n_positions"]
    full = [int(t) for t in rng.randint(0, cfg["vocab_size"], size=P)]
    check(g.forward(cfg, tp, full).shape[0] == P, "forward at T = n_positions")
    for bad in ([], full + [0], [cfg["vocab_size"]], [-1]):
        try:
            g.forward(cfg, tp, bad)
            check(False, "forward rejects %s" % (bad[:3],))
        except ValueError:
            pass
    return ids, ref


def check_options():
    """The options that change the math, each against the naive numpy GPT-2."""
    base = dict(layers=3, heads=2, embd=32, positions=16, vocab=97)
    C = base["embd"]
    variants = {
        "n_inner=3C+8": dict(n_inner=3 * C + 8),
        "scale_attn_weights=false": dict(scale_attn_weights=False),
        "scale_attn_by_inverse_layer_idx": dict(scale_attn_by_inverse_layer_idx=True),
        "all, reorder_and_upcast_attn": dict(n_inner=2 * C, scale_attn_weights=False,
                                             scale_attn_by_inverse_layer_idx=True,
                                             reorder_and_upcast_attn=True),
    }
    plain = g.make_config(**base)
    ids = [int(t) for t in np.random.RandomState(4).randint(0, base["vocab"], size=11)]
    ref_plain = g.forward(plain, tparams(g.random_params(plain, 21, weight_scale=5.0)), ids).numpy()
    for name, opts in variants.items():
        cfg = g.make_config(**base, **opts)
        params = g.random_params(cfg, 21, weight_scale=5.0)
        if "n_inner" in opts:
            check(params["h.0.mlp.c_fc.weight"].shape == (C, opts["n_inner"])
                  and params["h.2.mlp.c_proj.weight"].shape == (opts["n_inner"], C),
                  "%s: MLP weights [C, I] and [I, C]" % name)
        ref = g.forward(cfg, tparams(params), ids).numpy()
        naive = np_forward(cfg, params, ids)
        check(max_rel(ref, naive) < 1e-12, "%s: forward == naive numpy (rel %.2e)"
              % (name, max_rel(ref, naive)))
        if "n_inner" not in opts:  # same weights as plain: the option alone moved the logits
            check(max_rel(ref, ref_plain) > 1e-3, "%s changes the logits (rel %.2e)"
                  % (name, max_rel(ref, ref_plain)))
        if opts.get("reorder_and_upcast_attn"):
            eager = dict(cfg, reorder_and_upcast_attn=False)
            other = g.forward(eager, tparams(params), ids).numpy()
            check(max_rel(ref, other) < 1e-13, "reorder_and_upcast_attn == eager path in float64")
        with tempfile.TemporaryDirectory() as tmp:  # the options survive config.json
            g.save_model(tmp, cfg, params)
            lcfg, lp, _ = g.load_model(tmp)
            again = g.forward(lcfg, lp, ids).numpy()
            check(np.array_equal(again, ref), "%s: saved and loaded, same logits" % name)
    with tempfile.TemporaryDirectory() as tmp:
        for key, value in (("add_cross_attention", True), ("n_inner", 0),
                           ("scale_attn_weights", "yes")):
            cfg = dict(plain, **{key: value})
            g.save_model(tmp, plain, g.random_params(plain, 1))
            with open(os.path.join(tmp, "config.json"), "w") as f:
                json.dump(cfg, f)
            try:
                g.load_model(tmp)
                check(False, "rejects %s = %r" % (key, value))
            except ValueError as e:
                check(key in str(e), "rejects %s = %r (%s)" % (key, value, e))


def check_bf16_conversion():
    vals = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -8 + 2 ** -20, -1.0 - 2 ** -8,
                     1e-40, -0.0, 3.0e38, 0.1, 1 / 3.0], dtype=np.float32)
    vals = np.concatenate([vals, np.random.RandomState(2).standard_normal(20000).astype(np.float32) * 10])
    mine = g.f32_to_bf16_bits(vals)
    theirs = torch.from_numpy(vals).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    check(np.array_equal(mine, theirs), "bf16 encoding == torch .to(bfloat16) (RNE, ties to even)")
    back = g.bf16_bits_to_f32(mine)
    check(np.array_equal(back, torch.from_numpy(vals).to(torch.bfloat16).to(torch.float32).numpy()),
          "bf16 decoding == torch bfloat16 -> float32")
    check(g.f32_to_bf16_bits(np.array([1.0 + 2 ** -8], np.float32))[0] == 0x3F80, "bf16 tie rounds to even (down)")
    check(g.f32_to_bf16_bits(np.array([1.0 + 3 * 2 ** -8], np.float32))[0] == 0x3F82, "bf16 tie rounds to even (up)")


def check_files(cfg, params, tmp):
    base = os.path.join(tmp, "f32")
    g.save_model(base, cfg, params, dtype="F32", tokenizer_dir=TOKENIZER)
    path = os.path.join(base, "model.safetensors")
    n, hjson, data = read_header(path)
    check(n % 8 == 0, "header length is a multiple of 8")
    check(hjson == hjson.rstrip(b" ") + b" " * (len(hjson) - len(hjson.rstrip(b" "))),
          "header padded with trailing spaces")
    header = json.loads(hjson)
    check(header.get("__metadata__") == {"format": "pt"}, '__metadata__ == {"format": "pt"}')
    entries = sorted((v["data_offsets"], k, v) for k, v in header.items() if k != "__metadata__")
    pos, ok, aligned = 0, True, True
    for (b, e), k, v in entries:
        size = {"F32": 4, "F16": 2, "BF16": 2}[v["dtype"]]
        ok &= b == pos and e - b == size * int(np.prod(v["shape"], dtype=np.int64))
        aligned &= (8 + n + b) % size == 0
        pos = e
    check(ok and pos == len(data) - 8 - n, "offsets contiguous, sizes = numel * itemsize, no trailing bytes")
    check(aligned, "every tensor aligned to its element size in the file")
    L, P, C, V = cfg["n_layer"], cfg["n_positions"], cfg["n_embd"], cfg["vocab_size"]
    check(header["wte.weight"]["shape"] == [V, C] and header["h.0.attn.c_attn.weight"]["shape"] == [C, 3 * C]
          and header["h.0.mlp.c_proj.weight"]["shape"] == [4 * C, C], "HF shapes (Conv1D [in, out])")
    check(header["h.0.attn.bias"] == {"dtype": "F32", "shape": [1, 1, P, P],
                                      "data_offsets": header["h.0.attn.bias"]["data_offsets"]},
          "attn.bias buffer F32 [1,1,P,P]")
    check(header["h.0.attn.masked_bias"]["shape"] == [], "attn.masked_bias is a 0-dim tensor")
    check("lm_head.weight" not in header, "no lm_head.weight (tied)")
    expect_names = {nm for nm, _ in g.param_shapes(cfg)}
    expect_names |= {"h.%d.attn.bias" % l for l in range(L)} | {"h.%d.attn.masked_bias" % l for l in range(L)}
    check(set(header) - {"__metadata__"} == expect_names, "exactly the expected tensor names")
    raw, _ = g.read_safetensors(path)
    b0 = header["h.0.attn.bias"]["data_offsets"][0]
    mask = np.frombuffer(data[8 + n + b0:8 + n + b0 + 4 * P * P], dtype="<f4").reshape(P, P)
    check(np.array_equal(mask, np.tril(np.ones((P, P)))), "mask buffer bytes = tril(ones)")
    check(float(raw["h.1.attn.masked_bias"][1]) == -1e4, "masked_bias = -1e4")
    off = header["wte.weight"]["data_offsets"][0]
    first = struct.unpack("<f", data[8 + n + off:8 + n + off + 4])[0]
    check(first == params["wte.weight"][0, 0], "raw bytes little-endian float32, row-major")

    # config
    with open(os.path.join(base, "config.json")) as f:
        c = json.load(f)
    check(c["n_ctx"] == c["n_positions"] == P and c["n_layer"] == L and c["n_embd"] == C
          and c["vocab_size"] == V and c["activation_function"] == "gelu_new"
          and c["model_type"] == "gpt2" and c["architectures"] == ["GPT2LMHeadModel"]
          and c["layer_norm_epsilon"] == 1e-5, "config.json keys")
    if TOKENIZER:
        check(os.path.exists(os.path.join(base, "vocab.json")) and os.path.exists(os.path.join(base, "merges.txt")),
              "tokenizer files copied")

    # f32 round trip exact
    cfg2, loaded, dt = g.load_model(base)
    check(dt == "F32" and same_params(loaded, tparams(params)), "f32 save -> load round trip is exact")

    # variants load to the same model
    variants = {
        "prefix": dict(prefix=True),
        "nomask": dict(mask_buffers=False),
        "nomaskedbias": dict(masked_bias=False),
        "prefix_nomask": dict(prefix=True, mask_buffers=False),
    }
    for name, kw in variants.items():
        d = os.path.join(tmp, name)
        g.save_model(d, cfg, params, dtype="F32", **kw)
        hdr = json.loads(read_header(os.path.join(d, "model.safetensors"))[1])
        names = set(hdr) - {"__metadata__"}
        if kw.get("prefix"):
            check(all(k.startswith("transformer.") for k in names), "%s: every name has transformer." % name)
        if kw.get("mask_buffers") is False:
            check(not any(k.endswith(".attn.bias") or k.endswith("masked_bias") for k in names),
                  "%s: no mask buffers" % name)
        _, lp, _ = g.load_model(d)
        check(same_params(lp, loaded), "%s loads the same weights" % name)
    # an explicit lm_head.weight copy is accepted
    t = {k: ("F32", v) for k, v in params.items()}
    t["lm_head.weight"] = ("F32", params["wte.weight"])
    d = os.path.join(tmp, "lmhead")
    g.save_model(d, cfg, params)
    g.write_safetensors(os.path.join(d, "model.safetensors"), t)
    _, lp, _ = g.load_model(d)
    check(same_params(lp, loaded), "lm_head.weight copy loads the same weights")

    # malformed files are rejected
    def rejected(tensors, what):
        d = os.path.join(tmp, "bad")
        g.save_model(d, cfg, params)
        g.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        try:
            g.load_model(d)
            check(False, "rejects " + what)
        except ValueError:
            check(True, "rejects " + what)
    t = {k: ("F32", v) for k, v in params.items()}
    del t["h.1.mlp.c_fc.bias"]
    rejected(t, "a missing tensor")
    t = {k: ("F32", v) for k, v in params.items()}
    t["h.0.attn.bias"] = ("F32", np.ones((1, 1, P, P)))
    rejected(t, "a non-causal mask buffer")
    t = {k: ("F32", v) for k, v in params.items()}
    t["ln_f.bias"] = ("F32", np.zeros(C + 1))
    rejected(t, "a wrong shape")
    with open(path, "rb") as f:
        good = f.read()
    bad = os.path.join(tmp, "trunc.safetensors")
    with open(bad, "wb") as f:
        f.write(good[:-4])
    try:
        g.read_safetensors(bad)
        check(False, "rejects a truncated file")
    except ValueError:
        check(True, "rejects a truncated file")

    # f16 / bf16
    p32 = tparams(params)
    for dt, eps_rel in (("F16", 2.0 ** -11), ("BF16", 2.0 ** -8)):
        d = os.path.join(tmp, dt)
        stored = {k: g.round_to_storage(v, dt) for k, v in params.items()}
        g.save_model(d, cfg, stored, dtype=dt)
        hdr = json.loads(read_header(os.path.join(d, "model.safetensors"))[1])
        check(hdr["wte.weight"]["dtype"] == dt and hdr["h.0.attn.bias"]["dtype"] == "F32",
              "%s: weights %s, mask buffer F32" % (dt, dt))
        _, lp, got_dt = g.load_model(d)
        check(got_dt == dt, "%s: loader reports %s" % (dt, dt))
        if dt == "F16":
            indep = {k: torch.from_numpy(v.astype(np.float32).astype(np.float16).astype(np.float64))
                     for k, v in params.items()}
        else:
            indep = {k: torch.from_numpy(v.astype(np.float32)).to(torch.bfloat16).to(torch.float64)
                     for k, v in params.items()}
        check(same_params(lp, indep), "%s: loaded == independent conversion of the f32 weights" % dt)
        worst = max(float(torch.max(torch.abs(lp[k] - p32[k]) / torch.clamp(torch.abs(p32[k]), min=1e-4)))
                    for k in p32)
        check(worst <= eps_rel * 1.0001, "%s: within rounding of f32 (max rel %.3g <= %.3g)" % (dt, worst, eps_rel))
        # save -> load -> save gives identical bytes (stored values are exactly representable)
        d2 = os.path.join(tmp, dt + "_again")
        g.save_model(d2, cfg, {k: v.numpy() for k, v in lp.items()}, dtype=dt)
        with open(os.path.join(d, "model.safetensors"), "rb") as f1, \
                open(os.path.join(d2, "model.safetensors"), "rb") as f2:
            check(f1.read() == f2.read(), "%s: load -> save reproduces the file byte for byte" % dt)
    # random_params with a storage dtype gives values the file stores exactly
    pb = g.random_params(cfg, 5, "BF16")
    check(all(np.array_equal(v, torch.from_numpy(v).to(torch.bfloat16).to(torch.float64).numpy())
              for v in pb.values()), "random_params(bf16) values are exactly bf16")
    ph = g.random_params(cfg, 5, "F16")
    check(all(np.array_equal(v, v.astype(np.float16).astype(np.float64)) for v in ph.values()),
          "random_params(f16) values are exactly f16")


def check_eval_greedy(cfg, params):
    tp = tparams(params)
    V = cfg["vocab_size"]
    rng = np.random.RandomState(7)
    check(g.eval_windows(37, 16) == [(0, 16), (16, 32), (32, 37)], "windows of 37 tokens, N=16")
    check(g.eval_windows(33, 16) == [(0, 16), (16, 32)], "a 1-token last window is dropped")
    check(g.eval_windows(34, 16) == [(0, 16), (16, 32), (32, 34)], "a 2-token last window counts")
    check(g.eval_windows(1, 16) == [], "a single token predicts nothing")
    ids = [int(t) for t in rng.randint(0, V, size=37)]
    count, total = g.evaluate(cfg, tp, ids, 16)
    naive_total, naive_count = 0.0, 0
    for s in (0, 16, 32):
        w = ids[s:s + 16]
        lg = np_forward(cfg, params, w)
        for i in range(1, len(w)):
            naive_total -= np_log_softmax_at(lg[i - 1], w[i])
            naive_count += 1
    check(count == naive_count == 34, "eval counts 15 + 15 + 4 = 34 predictions")
    check(abs(total - naive_total) < 1e-9 * abs(naive_total), "eval total nats == naive")
    c2, _ = g.evaluate(cfg, tp, ids)  # default context = n_positions
    check(c2 == 19 + 16, "default context = n_positions (windows of 20)")

    prompt = [int(t) for t in rng.randint(0, V, size=3)]
    out = g.greedy(cfg, tp, prompt, 5)
    seq = list(prompt)
    for _ in range(5):
        seq.append(int(np.argmax(np_forward(cfg, params, seq)[-1])))
    check(out == seq[3:], "greedy == naive argmax recomputation")
    try:
        g.greedy(cfg, tp, prompt, cfg["n_positions"])
        check(False, "greedy refuses to run past n_positions")
    except ValueError:
        check(True, "greedy refuses to run past n_positions")


def check_cli(tmp):
    # make runs as a real program; the other commands go through main(argv) in
    # this process (same argparse and code, without paying torch's import again)
    d = os.path.join(tmp, "cli")
    rc, _, err = run_cli("make", "--out", d, "--layers", 2, "--heads", 2, "--embd", 64, "--positions", 64,
                         "--vocab", 50257, "--seed", 3, "--dtype", "bf16", "--prefix",
                         *(["--tokenizer-dir", TOKENIZER] if TOKENIZER else []))
    check(rc == 0, "cli make (bf16, prefix) " + err.strip())
    cfg, tp, dt = g.load_model(d)
    check(dt == "BF16", "cli make wrote BF16")
    cfg_ = g.make_config(2, 2, 64, 64, 50257)
    expect = tparams(g.random_params(cfg_, 3, "BF16"))
    check(same_params(tp, expect), "cli make weights == random_params(seed, bf16)")
    ids = [464, 3290, 318, 257, 50256, 0, 11]
    out = os.path.join(tmp, "logits.bin")
    rc, _, err = run_main("logits", "--model", d, "--ids", ",".join(map(str, ids)), "--out", out)
    check(rc == 0, "cli logits " + err.strip())
    got = np.fromfile(out, dtype="<f4")
    check(got.size == len(ids) * 50257, "logits file is float32 [T, V]")
    want = g.forward(cfg, tp, ids).numpy().astype(np.float32)
    check(np.array_equal(got.reshape(len(ids), 50257), want), "cli logits == in-process forward")
    idf = os.path.join(tmp, "ids.txt")
    with open(idf, "w") as f:
        f.write("464 3290\n318\t257 50256 0 11 \n 13 198 284\n")
    rc, so, err = run_main("eval", "--model", d, "--ids-file", idf, "--context", 4)
    fields = dict(kv.split("=") for kv in so.split())
    count, total = g.evaluate(cfg, tp, [464, 3290, 318, 257, 50256, 0, 11, 13, 198, 284], 4)
    check(rc == 0 and int(fields["tokens"]) == count == 3 + 3 + 1
          and abs(float(fields["loss"]) - total / count) < 1e-8
          and abs(float(fields["ppl"]) - math.exp(total / count)) < 1e-6 * math.exp(total / count),
          "cli eval prints tokens= loss= ppl= (%s)" % so.strip())
    rc, so, err = run_main("greedy", "--model", d, "--ids", "464,3290", "--tokens", 6, "--gaps")
    gen = [int(t) for t in so.split()]
    check(rc == 0 and gen == g.greedy(cfg, tp, [464, 3290], 6) and err.startswith("min_gap="),
          "cli greedy (%s)" % so.strip())
    rc, _, err = run_main("greedy", "--model", d, "--ids", "464", "--tokens", 64)
    check(rc != 0 and "n_positions" in err, "cli greedy past n_positions fails cleanly")


def main():
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    cfg = g.make_config(2, 2, 64, 64, 50257)
    params = g.random_params(cfg, 1)
    check_math()
    check_bf16_conversion()
    check_forward(cfg, params)
    # a second shape: more heads, odd sizes, small vocab, nondefault eps
    cfg_b = g.make_config(3, 4, 48, 20, 97, eps=1e-6)
    params_b = g.random_params(cfg_b, 9, weight_scale=10.0)
    check_forward(cfg_b, params_b)
    check_options()
    with tempfile.TemporaryDirectory() as tmp:
        check_files(cfg, params, tmp)
        check_eval_greedy(cfg_b, params_b)
        check_cli(tmp)
    if failures:
        print("\n%d check(s) FAILED" % len(failures))
        for f in failures:
            print("  " + f)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
