#!/usr/bin/python3
"""Independent PyTorch reference for GPT-2 (Hugging Face GPT2LMHeadModel), for tril's tests.

Self-contained: needs only torch and numpy (no transformers, no safetensors
package). All reference math is float64; weights are stored as F32, F16 or
BF16 and upcast exactly to float64 when loaded.

Commands
--------
  gpt2_torch.py make --out DIR --layers L --heads H --embd C --positions P
                     --vocab V --seed S [--prefix] [--dtype f32|f16|bf16]
                     [--no-mask-buffers] [--no-masked-bias] [--eps E]
                     [--weight-scale K] [--tokenizer-dir data/gpt2]
                     [--n-inner I] [--no-scale-attn-weights]
                     [--scale-attn-by-inverse-layer-idx] [--reorder-and-upcast-attn]
      Writes a Hugging Face style model folder:
        DIR/config.json        (every key of HF's gpt2 config.json, including
                                null values and nested task_specific_params;
                                n_ctx == n_positions; the four attention/MLP
                                options below as given, HF's defaults otherwise)
        DIR/model.safetensors  (weights, see "Tensor names" below)
        DIR/vocab.json, DIR/merges.txt  (copied from --tokenizer-dir if given)
      The weights are a deterministic function of (shape, seed, dtype): they are
      drawn with numpy's legacy RandomState(seed) in float64, rounded to
      float32, then (for f16/bf16) rounded to the storage dtype.
      Init: wte, wpe, c_attn, c_fc weights N(0, 0.02); c_proj weights
      N(0, 0.02/sqrt(2L)); linear biases N(0, 0.02); LayerNorm weight
      1 + 0.1 N(0,1), bias 0.1 N(0,1). --weight-scale K multiplies the std of
      the four block matrices: at K = 1 the tied embeddings dominate and a
      random model's greedy output just repeats one token; K around 10 gives
      varied output and sharp attention, better for generation/KV-cache tests.

  gpt2_torch.py logits --model DIR (--ids 1,2,3 | --ids-file F) --out FILE
      Loads DIR/model.safetensors with this file's own reader and writes the
      logits of every position: raw float32 little-endian, shape [T, V],
      row-major, no header (file size = T * V * 4 bytes).

  gpt2_torch.py probs --model DIR (--ids 1,2,3 | --ids-file F) --layer L --head H --out FILE
      Writes one head's attention probabilities over the ids: float32 [T, T]
      little-endian, row i = query i (zeros right of the diagonal).

  gpt2_torch.py eval --model DIR --ids-file F [--context N]
      F holds whitespace-separated token ids. Prints one line:
        tokens=<count> loss=<mean nats per token> ppl=<exp(loss)>
      Windowing: the ids are split into consecutive, non-overlapping windows of
      N tokens (default n_positions). A last partial window counts only if it
      has >= 2 tokens. Each window is run from position 0 on its own; within a
      window of length n, tokens 2..n (1-based) are predicted from the ones
      before them in that window, i.e. n - 1 predictions. tokens = total number
      of predictions; loss = total nats / tokens; ppl = exp(loss).

  gpt2_torch.py greedy --model DIR (--ids 464,3290 | --ids-file F) --tokens 32 [--gaps]
      Prints the generated ids (not the prompt), space-separated, on one line.
      Each step recomputes the whole sequence (no cache) and takes the argmax of
      the last position's logits, ties going to the lowest id. It is an error
      if prompt + tokens exceeds n_positions.
      --gaps also prints "min_gap=G gaps=g1,g2,..." (top1 - top2 logit at each
      step) to stderr, so a test can check no step is a near-tie. With random
      weights and V = 50257 the gaps can be ~1e-5; a small vocab (e.g. 512)
      with --weight-scale 10 gives gaps ~1e-3 and up.

  Exit status 0 on success; 1 with "gpt2_torch.py: error: ..." on stderr for a
  bad model folder/file, bad ids, or lengths out of range; 2 for bad usage.
  eval's --context must be in 2..n_positions; ids must be in 0..V-1; logits
  needs 1..n_positions ids.

  Loading (logits/eval/greedy) reads config.json (n_layer, n_head, n_embd,
  n_positions or n_ctx, vocab_size, layer_norm_epsilon default 1e-5,
  activation_function must be gelu_new, n_inner (null: 4 n_embd),
  scale_attn_weights (default true), scale_attn_by_inverse_layer_idx and
  reorder_and_upcast_attn (default false); add_cross_attention must be false)
  and model.safetensors; it strips a
  "transformer." prefix, checks any attn.bias buffer is tril(ones), ignores
  masked_bias, accepts lm_head.weight only if equal to wte.weight, and rejects
  anything else unexpected, missing, misshapen or malformed.

Model (identical to HF GPT2LMHeadModel in eval mode, activation "gelu_new")
--------------------------------------------------------------------------
  x = wte[ids] + wpe[0..T-1]
  per block l:
    h  = LN(x; ln_1)                                   LN: biased variance, eps
    qkv = h @ c_attn.weight + c_attn.bias              Conv1D, weight [in, out]
    q, k, v = qkv[:, :C], qkv[:, C:2C], qkv[:, 2C:]    heads: [T, H, D], D = C/H
    att = softmax(s, causal: key j visible to query i iff j <= i) v
          s = q k^T, then / sqrt(D) if scale_attn_weights, then / (l + 1) if
          scale_attn_by_inverse_layer_idx (l 0-based) - HF's eager GPT2Attention;
          reorder_and_upcast_attn: s = f * (q k^T) with the one factor
          f = (1/sqrt(D) or 1) / (l + 1 or 1), as HF's _upcast_and_reordered_attn
          (HF: baddbmm with alpha = f and an upcast to float32 - here a float64
           product times f)
    a  = x + (att merged back to [T, C]) @ attn.c_proj.weight + bias
    x  = a + gelu_new(LN(a; ln_2) @ c_fc.weight + b) @ mlp.c_proj.weight + b
                                                       (MLP width I = n_inner or 4C)
  logits = LN(x; ln_f) @ wte^T                         (LM head tied to wte)
  gelu_new(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

Tensor names in model.safetensors (optionally all prefixed "transformer.")
-------------------------------------------------------------------------
  wte.weight [V, C]   wpe.weight [P, C]   ln_f.weight [C]   ln_f.bias [C]
  h.{l}.ln_1.weight [C]             h.{l}.ln_1.bias [C]
  h.{l}.attn.c_attn.weight [C, 3C]  h.{l}.attn.c_attn.bias [3C]
  h.{l}.attn.c_proj.weight [C, C]   h.{l}.attn.c_proj.bias [C]
  h.{l}.ln_2.weight [C]             h.{l}.ln_2.bias [C]
  h.{l}.mlp.c_fc.weight [C, I]      h.{l}.mlp.c_fc.bias [I]
  h.{l}.mlp.c_proj.weight [I, C]    h.{l}.mlp.c_proj.bias [C]
  buffers (unless --no-mask-buffers), always F32:
  h.{l}.attn.bias [1, 1, P, P] = tril(ones)   h.{l}.attn.masked_bias [] = -1e4
  (masked_bias omitted with --no-masked-bias). No lm_head.weight.
  Tensors are laid out like the safetensors library does it: sorted by
  element size (largest first), then by name; header padded with spaces to a
  multiple of 8 bytes.

Self-checks: tests/ref/test_gpt2_torch_selfcheck.py
"""
import argparse
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

torch.set_grad_enabled(False)

# ---------------------------------------------------------------- safetensors

ST_DTYPES = {
    # name: (numpy dtype used for raw bytes, bytes per element)
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U8": ("u1", 1),
    "BOOL": ("u1", 1),
}


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bf16 bit patterns, round to nearest even."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def bf16_bits_to_f32(bits):
    """uint16 bf16 bit patterns -> float32 array (exact)."""
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def encode_tensor(arr, dtype):
    """numpy array (any float) -> raw little-endian bytes in safetensors dtype."""
    a32 = np.asarray(arr, dtype=np.float64).astype("<f4")
    if dtype == "F32":
        return a32.tobytes()
    if dtype == "F16":
        return a32.astype("<f2").tobytes()
    if dtype == "BF16":
        return f32_to_bf16_bits(a32).tobytes()
    if dtype == "F64":
        return np.asarray(arr, dtype="<f8").tobytes()
    raise ValueError("unsupported dtype for writing: %s" % dtype)


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> (dtype string, numpy array). Writes a .safetensors file."""
    if metadata is None:
        metadata = {"format": "pt"}
    order = sorted(tensors, key=lambda n: (-ST_DTYPES[tensors[n][0]][1], n))
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in order:
        dtype, arr = tensors[name]
        raw = encode_tensor(arr, dtype)
        shape = list(np.shape(arr))
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * ST_DTYPES[dtype][1]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((-len(hjson)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """-> (dict name -> (dtype string, float64 numpy array), metadata dict).

    Validates the header strictly: length, JSON, dtypes, shapes, offsets inside
    the data, sizes, no overlaps, no gaps."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: file too short" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d exceeds file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {})
    out = {}
    spans = []
    for name, info in header.items():
        dtype = info["dtype"]
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(x) for x in info["data_offsets"])
        if dtype not in ST_DTYPES:
            raise ValueError("%s: tensor %s has unknown dtype %s" % (path, name, dtype))
        if any(s < 0 for s in shape):
            raise ValueError("%s: tensor %s has negative shape" % (path, name))
        npdt, size = ST_DTYPES[dtype]
        numel = int(np.prod(shape, dtype=np.int64))
        if not (0 <= begin <= end <= len(body)) or end - begin != numel * size:
            raise ValueError("%s: tensor %s has bad data_offsets" % (path, name))
        spans.append((begin, end, name))
        raw = np.frombuffer(body[begin:end], dtype=npdt).reshape(shape)
        if dtype == "BF16":
            arr = bf16_bits_to_f32(raw).astype(np.float64)
        else:
            arr = raw.astype(np.float64)
        out[name] = (dtype, arr)
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise ValueError("%s: tensor %s overlaps or leaves a gap" % (path, name))
        pos = end
    if pos != len(body):
        raise ValueError("%s: %d trailing bytes after the last tensor" % (path, len(body) - pos))
    return out, metadata


# ---------------------------------------------------------------- config

def make_config(layers, heads, embd, positions, vocab, eps=1e-5, n_inner=None,
                scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False,
                reorder_and_upcast_attn=False):
    """A config.json like the one Hugging Face ships for gpt2 (same keys)."""
    eos = min(50256, vocab - 1)
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": eos,
        "embd_pdrop": 0.1,
        "eos_token_id": eos,
        "initializer_range": 0.02,
        "layer_norm_epsilon": eps,
        "model_type": "gpt2",
        "n_ctx": positions,
        "n_embd": embd,
        "n_head": heads,
        "n_inner": n_inner,
        "n_layer": layers,
        "n_positions": positions,
        "reorder_and_upcast_attn": reorder_and_upcast_attn,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": scale_attn_by_inverse_layer_idx,
        "scale_attn_weights": scale_attn_weights,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "tie_word_embeddings": True,
        "use_cache": True,
        "vocab_size": vocab,
    }


# ---------------------------------------------------------------- weights

def mlp_width(cfg):
    """HF: inner_dim = n_inner if n_inner is not None else 4 * n_embd."""
    return cfg["n_inner"] if cfg.get("n_inner") is not None else 4 * cfg["n_embd"]


def param_shapes(cfg):
    """Ordered list of (name, shape) of the learned parameters (no prefix)."""
    C, V, P, L = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_layer"]
    I = mlp_width(cfg)
    shapes = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for l in range(L):
        p = "h.%d." % l
        shapes += [
            (p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, I)), (p + "mlp.c_fc.bias", (I,)),
            (p + "mlp.c_proj.weight", (I, C)), (p + "mlp.c_proj.bias", (C,)),
        ]
    shapes += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return shapes


def round_to_storage(arr, dtype):
    """float64 -> float32 -> storage dtype -> back to float64 (the values the file holds)."""
    a32 = np.asarray(arr, dtype=np.float64).astype(np.float32)
    if dtype == "F32":
        r = a32
    elif dtype == "F16":
        r = a32.astype(np.float16).astype(np.float32)
    elif dtype == "BF16":
        r = bf16_bits_to_f32(f32_to_bf16_bits(a32))
    else:
        raise ValueError(dtype)
    return r.astype(np.float64)


def random_params(cfg, seed, dtype="F32", weight_scale=1.0):
    """Seeded random weights as float64 numpy arrays holding exactly-storable values.

    weight_scale multiplies the std of the block matrices (c_attn, attn.c_proj,
    c_fc, mlp.c_proj weights); > 1 makes the blocks matter more than the
    embeddings (sharper attention, varied greedy output)."""
    rng = np.random.RandomState(seed)
    proj_std = 0.02 / math.sqrt(2 * cfg["n_layer"])
    params = {}
    for name, shape in param_shapes(cfg):
        z = rng.standard_normal(size=shape)
        if ".ln_" in name or name.startswith("ln_"):
            v = 1.0 + 0.1 * z if name.endswith("weight") else 0.1 * z
        elif name.endswith("c_proj.weight"):
            v = weight_scale * proj_std * z
        elif name.endswith("c_attn.weight") or name.endswith("c_fc.weight"):
            v = weight_scale * 0.02 * z
        else:  # wte, wpe and all linear biases
            v = 0.02 * z
        params[name] = round_to_storage(v, dtype)
    return params


def save_model(out_dir, cfg, params, dtype="F32", prefix=False, mask_buffers=True,
               masked_bias=True, tokenizer_dir=None):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    pre = "transformer." if prefix else ""
    P = cfg["n_positions"]
    tensors = {}
    for name, arr in params.items():
        tensors[pre + name] = (dtype, arr)
    if mask_buffers:
        mask = np.tril(np.ones((P, P), dtype=np.float32)).reshape(1, 1, P, P)
        for l in range(cfg["n_layer"]):
            tensors[pre + "h.%d.attn.bias" % l] = ("F32", mask)
            if masked_bias:
                tensors[pre + "h.%d.attn.masked_bias" % l] = ("F32", np.array(-1e4, dtype=np.float32))
    write_safetensors(os.path.join(out_dir, "model.safetensors"), tensors)
    if tokenizer_dir:
        for fn in ("vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(tokenizer_dir, fn), os.path.join(out_dir, fn))


def load_model(model_dir):
    """-> (config dict, dict name -> float64 torch tensor, storage dtype string)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if "n_positions" not in cfg and "n_ctx" in cfg:
        cfg["n_positions"] = cfg["n_ctx"]
    cfg.setdefault("layer_norm_epsilon", 1e-5)
    act = cfg.get("activation_function", "gelu_new")
    if act != "gelu_new":
        raise ValueError("only activation_function gelu_new is supported, got %r" % act)
    n_inner = cfg.setdefault("n_inner", None)
    if n_inner is not None and (not isinstance(n_inner, int) or isinstance(n_inner, bool)
                                or n_inner < 1):
        raise ValueError("n_inner must be null or a positive integer, got %r" % (n_inner,))
    for key, default in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                         ("reorder_and_upcast_attn", False)):
        if not isinstance(cfg.setdefault(key, default), bool):
            raise ValueError("%s must be true or false, got %r" % (key, cfg[key]))
    if cfg.get("add_cross_attention", False):
        raise ValueError("add_cross_attention is not supported")
    raw, _ = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    stripped = {}
    for name, (dt, arr) in raw.items():
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        if name in stripped:
            raise ValueError("tensor %s appears twice (with and without prefix)" % name)
        stripped[name] = (dt, arr)
    P = cfg["n_positions"]
    params = {}
    dtypes = set()
    for name, shape in param_shapes(cfg):
        if name not in stripped:
            raise ValueError("missing tensor %s" % name)
        dt, arr = stripped.pop(name)
        if tuple(arr.shape) != tuple(shape):
            raise ValueError("tensor %s has shape %s, expected %s" % (name, arr.shape, shape))
        params[name] = torch.from_numpy(np.ascontiguousarray(arr))
        dtypes.add(dt)
    for name in list(stripped):
        dt, arr = stripped.pop(name)
        if name.endswith(".attn.bias"):  # causal-mask buffer: must be tril(ones)
            want = np.tril(np.ones((P, P))).reshape(1, 1, P, P)
            if arr.shape != want.shape or not np.array_equal(arr != 0, want != 0):
                raise ValueError("buffer %s is not the causal mask" % name)
        elif name.endswith(".attn.masked_bias"):
            pass
        elif name == "lm_head.weight":
            if not np.array_equal(arr, params["wte.weight"].numpy()):
                raise ValueError("lm_head.weight differs from wte.weight (untied head unsupported)")
        else:
            raise ValueError("unexpected tensor %s" % name)
    if len(dtypes) != 1:
        raise ValueError("mixed weight dtypes %s" % sorted(dtypes))
    return cfg, params, dtypes.pop()


# ---------------------------------------------------------------- model

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x, w, b, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # biased
    return (x - mean) / torch.sqrt(var + eps) * w + b


def attention(q, k, v, n_head, layer=0, scale_attn_weights=True,
              scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False,
              probs_out=None):
    """q, k, v [T, C] -> [T, C]; causal multi-head softmax attention (batched).
    layer (0-based) and the three flags: the scores' scaling, as HF does it.
    probs_out: a list that gets the probabilities [H, T, T] appended."""
    T, C = q.shape
    D = C // n_head
    qh = q.view(T, n_head, D).transpose(0, 1)  # [H, T, D]
    kh = k.view(T, n_head, D).transpose(0, 1)
    vh = v.view(T, n_head, D).transpose(0, 1)
    if reorder_and_upcast_attn:
        # HF _upcast_and_reordered_attn: one factor folded into the product
        factor = 1.0
        if scale_attn_weights:
            factor /= float(D) ** 0.5
        if scale_attn_by_inverse_layer_idx:
            factor /= float(layer + 1)
        # HF computes this as baddbmm(empty, q, k^T, beta=0, alpha=factor).
        # Debian's torch 1.13 baddbmm now and then returns NaN for finite
        # inputs (seen 1 run in ~8, on zeros as well as empty, not
        # reproducible on recompute), so the same one factor times the
        # float64 product, computed as a plain product.
        scores = torch.bmm(qh, kh.transpose(-1, -2)) * factor
    else:
        # HF eager attention: the product, then each division in turn
        scores = torch.matmul(qh, kh.transpose(-1, -2))  # [H, T, T]
        if scale_attn_weights:
            scores = scores / math.sqrt(D)
        if scale_attn_by_inverse_layer_idx:
            scores = scores / float(layer + 1)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    scores = scores.masked_fill(~causal, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if probs_out is not None:
        probs_out.append(probs)
    out = torch.matmul(probs, vh)  # [H, T, D]
    return out.transpose(0, 1).reshape(T, C)


def forward(cfg, params, ids, probs_out=None):
    """ids: sequence of ints (length 1..n_positions) -> float64 logits [T, V].
    probs_out: a list that gets each layer's attention probabilities [H, T, T]."""
    ids = torch.as_tensor(list(ids), dtype=torch.long)
    T = ids.shape[0]
    if T < 1 or T > cfg["n_positions"]:
        raise ValueError("sequence length %d outside 1..%d" % (T, cfg["n_positions"]))
    if int(ids.min()) < 0 or int(ids.max()) >= cfg["vocab_size"]:
        raise ValueError("token id out of range 0..%d" % (cfg["vocab_size"] - 1))
    C, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    p = params
    x = p["wte.weight"][ids] + p["wpe.weight"][:T]
    for l in range(cfg["n_layer"]):
        g = lambda n: p["h.%d.%s" % (l, n)]
        h = layer_norm(x, g("ln_1.weight"), g("ln_1.bias"), eps)
        qkv = h @ g("attn.c_attn.weight") + g("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=-1)
        att = attention(q, k, v, H, l, cfg.get("scale_attn_weights", True),
                        cfg.get("scale_attn_by_inverse_layer_idx", False),
                        cfg.get("reorder_and_upcast_attn", False), probs_out)
        a = x + att @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        h = layer_norm(a, g("ln_2.weight"), g("ln_2.bias"), eps)
        m = gelu_new(h @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias"))
        x = a + m @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
    x = layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], eps)
    return x @ p["wte.weight"].t()


def eval_windows(n_tokens, context):
    """The windows (start, end) that eval scores; each predicts end - start - 1 tokens."""
    wins = []
    for s in range(0, n_tokens, context):
        e = min(s + context, n_tokens)
        if e - s >= 2:
            wins.append((s, e))
    return wins


def evaluate(cfg, params, ids, context=None):
    """-> (predicted token count, total nats)."""
    if context is None:
        context = cfg["n_positions"]
    if context < 2 or context > cfg["n_positions"]:
        raise ValueError("context must be in 2..%d" % cfg["n_positions"])
    total, count = 0.0, 0
    for s, e in eval_windows(len(ids), context):
        w = ids[s:e]
        logits = forward(cfg, params, w)[:-1]  # [n-1, V]
        target = torch.as_tensor(w[1:], dtype=torch.long)
        logp = torch.log_softmax(logits, dim=-1)
        total += float(-logp.gather(1, target[:, None]).sum())
        count += len(w) - 1
    return count, total


def argmax_lowest(row):
    m = row.max()
    return int(torch.nonzero(row == m)[0, 0])


def greedy(cfg, params, prompt, n_tokens, gaps=None):
    """Greedy ids; if gaps is a list, appends each step's top1 - top2 logit gap."""
    seq = list(prompt)
    if len(seq) + n_tokens > cfg["n_positions"]:
        raise ValueError("prompt + tokens = %d exceeds n_positions %d"
                         % (len(seq) + n_tokens, cfg["n_positions"]))
    out = []
    for _ in range(n_tokens):
        row = forward(cfg, params, seq)[-1]
        nxt = argmax_lowest(row)
        if gaps is not None:
            if row.numel() > 1:
                top2 = torch.topk(row, 2).values
                gaps.append(float(top2[0] - top2[1]))
            else:
                gaps.append(math.inf)
        seq.append(nxt)
        out.append(nxt)
    return out


# ---------------------------------------------------------------- CLI

def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def read_ids(args):
    if getattr(args, "ids", None) is not None:
        return parse_ids(args.ids)
    with open(args.ids_file) as f:
        return parse_ids(f.read())


def cmd_make(args):
    dtype = args.dtype.upper()
    if args.embd % args.heads:
        raise SystemExit("embd must be a multiple of heads")
    cfg = make_config(args.layers, args.heads, args.embd, args.positions, args.vocab, args.eps,
                      args.n_inner, not args.no_scale_attn_weights,
                      args.scale_attn_by_inverse_layer_idx, args.reorder_and_upcast_attn)
    params = random_params(cfg, args.seed, dtype, args.weight_scale)
    save_model(args.out, cfg, params, dtype=dtype, prefix=args.prefix,
               mask_buffers=not args.no_mask_buffers, masked_bias=not args.no_masked_bias,
               tokenizer_dir=args.tokenizer_dir)


def cmd_logits(args):
    cfg, params, _ = load_model(args.model)
    logits = forward(cfg, params, read_ids(args))
    with open(args.out, "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())


def cmd_probs(args):
    cfg, params, _ = load_model(args.model)
    if not (0 <= args.layer < cfg["n_layer"] and 0 <= args.head < cfg["n_head"]):
        raise ValueError("layer/head outside the model")
    probs = []
    forward(cfg, params, read_ids(args), probs)
    with open(args.out, "wb") as f:
        f.write(probs[args.layer][args.head].numpy().astype("<f4").tobytes())


def cmd_eval(args):
    cfg, params, _ = load_model(args.model)
    with open(args.ids_file) as f:
        ids = parse_ids(f.read())
    count, total = evaluate(cfg, params, ids, args.context)
    if count == 0:
        raise SystemExit("no tokens to predict")
    loss = total / count
    print("tokens=%d loss=%.9f ppl=%.9f" % (count, loss, math.exp(loss)))


def cmd_greedy(args):
    cfg, params, _ = load_model(args.model)
    gaps = [] if args.gaps else None
    print(" ".join(str(t) for t in greedy(cfg, params, read_ids(args), args.tokens, gaps)))
    if gaps:
        print("min_gap=%.9g gaps=%s" % (min(gaps), ",".join("%.6g" % g for g in gaps)),
              file=sys.stderr)


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch GPT-2 reference for tril's tests.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    m = sub.add_parser("make", help="write a random HF GPT-2 model folder")
    m.add_argument("--out", required=True)
    m.add_argument("--layers", type=int, required=True)
    m.add_argument("--heads", type=int, required=True)
    m.add_argument("--embd", type=int, required=True)
    m.add_argument("--positions", type=int, required=True)
    m.add_argument("--vocab", type=int, required=True)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--eps", type=float, default=1e-5)
    m.add_argument("--weight-scale", type=float, default=1.0,
                   help="multiply the std of the block matrices (default 1)")
    m.add_argument("--prefix", action="store_true", help='prefix names with "transformer."')
    m.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    m.add_argument("--no-mask-buffers", action="store_true", help="omit h.*.attn.bias/masked_bias")
    m.add_argument("--no-masked-bias", action="store_true", help="omit h.*.attn.masked_bias only")
    m.add_argument("--tokenizer-dir", help="copy vocab.json and merges.txt from here")
    m.add_argument("--n-inner", type=int, default=None, help="MLP width (default null: 4 embd)")
    m.add_argument("--no-scale-attn-weights", action="store_true",
                   help="scale_attn_weights: false (scores not divided by sqrt(D))")
    m.add_argument("--scale-attn-by-inverse-layer-idx", action="store_true",
                   help="scale_attn_by_inverse_layer_idx: true (scores / (layer + 1))")
    m.add_argument("--reorder-and-upcast-attn", action="store_true",
                   help="reorder_and_upcast_attn: true")
    m.set_defaults(fn=cmd_make)

    def add_ids(p, required=True):
        g = p.add_mutually_exclusive_group(required=required)
        g.add_argument("--ids", help="comma-separated token ids")
        g.add_argument("--ids-file", help="file of whitespace-separated token ids")

    lg = sub.add_parser("logits", help="write float32 [T, V] logits")
    lg.add_argument("--model", required=True)
    add_ids(lg)
    lg.add_argument("--out", required=True)
    lg.set_defaults(fn=cmd_logits)

    pr = sub.add_parser("probs", help="one head's attention probabilities, float32 [T, T]")
    pr.add_argument("--model", required=True)
    add_ids(pr)
    pr.add_argument("--layer", type=int, required=True)
    pr.add_argument("--head", type=int, required=True)
    pr.add_argument("--out", required=True)
    pr.set_defaults(fn=cmd_probs)

    ev = sub.add_parser("eval", help="windowed loss / perplexity")
    ev.add_argument("--model", required=True)
    ev.add_argument("--ids-file", required=True)
    ev.add_argument("--context", type=int, default=None)
    ev.set_defaults(fn=cmd_eval)

    gr = sub.add_parser("greedy", help="greedy generation, full recomputation")
    gr.add_argument("--model", required=True)
    add_ids(gr)
    gr.add_argument("--tokens", type=int, required=True)
    gr.add_argument("--gaps", action="store_true",
                    help="print each step's top1 - top2 logit gap to stderr")
    gr.set_defaults(fn=cmd_greedy)

    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except (ValueError, OSError) as e:
        print("gpt2_torch.py: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
