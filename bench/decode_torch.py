#!/usr/bin/python3
"""PyTorch's decode speed on a Hugging Face GPT-2 folder, beside `tril bench decode`.

    /usr/bin/python3 bench/decode_torch.py --model DIR [--dtype fp32|bf16|int8]
        [--position 16] [--repeats 20] [--threads N] [--qengine onednn|qnnpack|...]

Loads DIR (config.json + model.safetensors) with the reference loader of
tests/ref/gpt2_torch.py, builds GPT-2 as torch modules (nn.Linear for
c_attn, attn.c_proj, c_fc, mlp.c_proj and the LM head tied to wte; HF's
Conv1D weights are [in, out], so each is stored transposed) with a KV cache,
fills the cache with --position random tokens in one pass, then times
one-token steps under torch.inference_mode(), the greedy (argmax) token fed
back: 3 warm-up steps, then the median of --repeats timed steps. Only the
model's step is timed (embedding to logits), as `tril bench decode` times
tril_gpt2_forward; the argmax is outside the timed region.

dtypes, as a PyTorch user would get them:
  fp32  the modules as built.
  bf16  model.to(torch.bfloat16): weights, activations and the KV cache in
        bf16.
  int8  torch.ao.quantization.quantize_dynamic on the fp32 model, every
        nn.Linear (the LM head included) -> a dynamically quantised Linear:
        weights qint8 per output channel (per_channel_dynamic_qconfig;
        quantize_dynamic's default would be per-tensor), activations
        quantised to quint8 per step with a per-tensor range measured on the
        fly, fp32 out. The head is an nn.Linear whose weight is wte's, so it is
        quantised like the others (into its own packed int8 copy); the
        embeddings wte/wpe, LayerNorms, attention and the KV cache stay fp32.
        --qengine picks the quantised backend (default: torch's default;
        Debian's torch 1.13 has onednn and qnnpack, no fbgemm).

Check before timing: the logits of the first decode step (position P, the
prefill's argmax as input) against tests/ref/gpt2_torch.py forward's full
recomputation in float64 of the same P + 1 tokens, from the same weights;
for fp32 a max abs difference above 1e-3 fails (exit 1). For bf16 and int8
the same step's max abs difference from the fp32 model is printed (stderr),
for information.

Prints one line (stdout), key=value like `tril bench decode`:
  bench=decode_torch model=DIR dtype=D position=P threads=N ms_per_token=MS
  peak_rss_mb=MB load_peak_rss_mb=MB max_abs_diff=X qengine=E openblas=CORE
  torch=VERSION
peak_rss_mb is the resident peak (VmHWM) from after loading to the end,
prefill and steps included (the peak is reset once the model is built, as
tril does; where /proc is missing, getrusage's ru_maxrss, which cannot be
reset); load_peak_rss_mb is the peak before that, i.e. mostly the reference
loader, which holds every weight in float64 (3x an F32 file, plus the file
read whole while parsing). max_abs_diff is the check's figure (vs float64
for fp32, vs fp32 for bf16/int8). openblas is the kernel set Debian's
OpenBLAS chose, which fp32 nn.Linear uses (bf16 goes to oneDNN): on a CPU
that OpenBLAS 0.3.21 does not know it is "Prescott" (SSE3) unless
OPENBLAS_CORETYPE is set, which tril does for itself (`tril version`). This
script changes no environment: PyTorch runs as a user would get it; set
OPENBLAS_CORETYPE=SKYLAKEX (and GOMP_SPINCOUNT=1000 on a shared machine, as
tril does) before it starts to give it tril's settings.

Exit status: 0 on success; 1 for a bad model folder, a failed check or a
run-time failure; 2 for bad usage.
"""
import argparse
import ctypes
import gc
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import gpt2_torch  # noqa: E402  (the reference loader and full-recomputation forward)

PROG = "decode_torch.py"
WARMUP = 3
FP32_TOLERANCE = 1e-3


# ---------------------------------------------------------------- memory

def peak_rss_mb():
    """VmHWM of /proc/self/status in MiB (follows reset_peak_rss); else ru_maxrss."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def openblas_core():
    """The kernel set OpenBLAS picked (fp32 nn.Linear runs on it): Debian's
    OpenBLAS 0.3.21 calls a CPU it does not know "Prescott" (SSE3) unless
    OPENBLAS_CORETYPE is set in the environment; "-" where there is none."""
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode() or "-"
    except (OSError, AttributeError):
        return "-"


def release_and_reset_peak():
    """Frees what Python and malloc hold, then resets VmHWM (proc(5) clear_refs "5")."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


# ---------------------------------------------------------------- model

class Block(nn.Module):
    def __init__(self, C, H, I, eps, scale):
        super().__init__()
        self.C, self.H, self.D, self.scale = C, H, C // H, scale
        self.ln_1 = nn.LayerNorm(C, eps=eps)
        self.c_attn = nn.Linear(C, 3 * C)
        self.attn_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=eps)
        self.c_fc = nn.Linear(C, I)
        self.mlp_proj = nn.Linear(I, C)

    def forward(self, x, kc, vc, pos):
        """x [T, C] at positions pos..pos+T-1; kc, vc [H, max_T, D] this layer's cache."""
        T, C, H, D = x.shape[0], self.C, self.H, self.D
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=-1)
        kc[:, pos:pos + T] = k.reshape(T, H, D).transpose(0, 1)
        vc[:, pos:pos + T] = v.reshape(T, H, D).transpose(0, 1)
        K, V = kc[:, :pos + T], vc[:, :pos + T]
        s = torch.matmul(q.reshape(T, H, D).transpose(0, 1), K.transpose(1, 2))  # [H, T, pos+T]
        if self.scale != 1.0:
            s = s * self.scale
        if T > 1:  # query i (position pos+i) sees keys 0..pos+i
            j = torch.arange(pos + T)
            i = torch.arange(T).unsqueeze(1) + pos
            s = s.masked_fill(j > i, float("-inf"))
        y = torch.matmul(torch.softmax(s, dim=-1), V).transpose(0, 1).reshape(T, C)
        a = x + self.attn_proj(y)
        return a + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(a)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        V, P, eps = cfg["vocab_size"], cfg["n_positions"], cfg["layer_norm_epsilon"]
        I = gpt2_torch.mlp_width(cfg)
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(P, C)
        blocks = []
        for l in range(L):
            # HF eager attention: / sqrt(D) if scale_attn_weights, / (l + 1) if
            # scale_attn_by_inverse_layer_idx (reorder_and_upcast_attn: same math)
            scale = 1.0
            if cfg.get("scale_attn_weights", True):
                scale /= math.sqrt(C // H)
            if cfg.get("scale_attn_by_inverse_layer_idx", False):
                scale /= float(l + 1)
            blocks.append(Block(C, H, I, eps, scale))
        self.h = nn.ModuleList(blocks)
        self.ln_f = nn.LayerNorm(C, eps=eps)
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.wte.weight  # tied, as GPT2LMHeadModel

    def forward(self, ids, pos, cache):
        """ids [T] at positions pos..pos+T-1 -> logits [1, V] of the last one."""
        T = ids.shape[0]
        x = self.wte(ids) + self.wpe(torch.arange(pos, pos + T))
        for block, (kc, vc) in zip(self.h, cache):
            x = block(x, kc, vc, pos)
        return self.lm_head(self.ln_f(x[-1:]))


# HF name suffix (per block) -> (module attribute path, Conv1D weight stored [in, out])
BLOCK_NAMES = {
    "ln_1.weight": ("ln_1.weight", False), "ln_1.bias": ("ln_1.bias", False),
    "attn.c_attn.weight": ("c_attn.weight", True), "attn.c_attn.bias": ("c_attn.bias", False),
    "attn.c_proj.weight": ("attn_proj.weight", True), "attn.c_proj.bias": ("attn_proj.bias", False),
    "ln_2.weight": ("ln_2.weight", False), "ln_2.bias": ("ln_2.bias", False),
    "mlp.c_fc.weight": ("c_fc.weight", True), "mlp.c_fc.bias": ("c_fc.bias", False),
    "mlp.c_proj.weight": ("mlp_proj.weight", True), "mlp.c_proj.bias": ("mlp_proj.bias", False),
}


def module_tensor(model, name):
    """The module's tensor for HF name `name`, in HF's layout -> (tensor, transposed)."""
    if name.startswith("h."):
        _, l, rest = name.split(".", 2)
        path, transposed = BLOCK_NAMES[rest]
        obj = model.h[int(l)]
    else:
        path, transposed = name, False
        obj = model
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj, transposed


def build_fp32(cfg, params):
    """fp32 modules from the loader's float64 tensors; empties `params` as it goes."""
    model = GPT2(cfg).eval()
    with torch.no_grad():
        for name in list(params):
            t, transposed = module_tensor(model, name)
            src = params.pop(name)
            t.copy_((src.t() if transposed else src).to(torch.float32))
            del src
    return model


class RefParams:
    """gpt2_torch.forward's params, read lazily from the model as float64 in HF's
    layout (one tensor at a time, so no second copy of the weights is held)."""

    def __init__(self, model):
        self.model = model

    def __getitem__(self, name):
        t, transposed = module_tensor(self.model, name)
        t = t.detach()
        return (t.t() if transposed else t).to(torch.float64)


def new_cache(cfg, n, dtype):
    H, D = cfg["n_head"], cfg["n_embd"] // cfg["n_head"]
    return [(torch.zeros(H, n, D, dtype=dtype), torch.zeros(H, n, D, dtype=dtype))
            for _ in range(cfg["n_layer"])]


def first_step(model, prompt, t0, cache):
    """Prefill `prompt` (if any), then one step with t0 -> its logits [V] (fp32)."""
    P = len(prompt)
    if P:
        model(torch.tensor(prompt), 0, cache)
    return model(torch.tensor([t0]), P, cache)[0].float()


# ---------------------------------------------------------------- main

def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog=PROG, description="PyTorch GPT-2 decode ms/token (fp32, bf16 or int8), "
        "beside `tril bench decode`.")
    ap.add_argument("--model", required=True, help="Hugging Face GPT-2 folder "
                    "(config.json + model.safetensors)")
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "int8"],
                    help="fp32 (default), bf16 (model.to(bfloat16)) or int8 (quantize_dynamic)")
    ap.add_argument("--position", type=int, default=16,
                    help="tokens in the KV cache before the steps (default 16)")
    ap.add_argument("--repeats", type=int, default=20, help="timed one-token steps (default 20)")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch.set_num_threads (default: all cores this process may use)")
    ap.add_argument("--qengine", default=None,
                    help="quantised engine for int8 (default: torch's, %s; available: %s)"
                    % (torch.backends.quantized.engine,
                       ", ".join(e for e in torch.backends.quantized.supported_engines
                                 if e != "none")))
    a = ap.parse_args(argv)
    if a.position < 0:
        ap.error("--position must be >= 0")
    if a.repeats < 1:
        ap.error("--repeats must be >= 1")
    if a.threads is not None and a.threads < 1:
        ap.error("--threads must be >= 1")
    if a.qengine is not None:
        if a.dtype != "int8":
            ap.error("--qengine applies to --dtype int8 only")
        if a.qengine not in torch.backends.quantized.supported_engines or a.qengine == "none":
            ap.error("--qengine %s is not in this torch (available: %s)" % (
                a.qengine, ", ".join(e for e in torch.backends.quantized.supported_engines
                                     if e != "none")))
    return a


def run(a):
    if not os.path.isdir(a.model):
        raise ValueError("model folder %s does not exist (or is not a folder)" % a.model)
    for fn in ("config.json", "model.safetensors"):
        if not os.path.isfile(os.path.join(a.model, fn)):
            raise ValueError("%s has no %s (expected a Hugging Face GPT-2 folder)" % (a.model, fn))
    threads = a.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    if a.qengine:
        torch.backends.quantized.engine = a.qengine

    cfg, params, _ = gpt2_torch.load_model(a.model)
    n = a.position + WARMUP + a.repeats  # cache rows: the timed run's (the check needs P + 1)
    if a.position + WARMUP + a.repeats > cfg["n_positions"]:
        raise ValueError("position %d + %d warm-up + %d repeats exceeds n_positions %d"
                         % (a.position, WARMUP, a.repeats, cfg["n_positions"]))
    V = cfg["vocab_size"]
    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, V, (a.position,), generator=g).tolist()

    with torch.inference_mode():
        model = build_fp32(cfg, params)
        del params
        gc.collect()
        # the check: the first decode step at position P, fed the prefill's argmax
        cache = new_cache(cfg, n, torch.float32)
        if prompt:
            t0 = int(torch.argmax(model(torch.tensor(prompt), 0, cache)[0]))
        else:
            t0 = int(torch.randint(0, V, (1,), generator=g))
        ref32 = model(torch.tensor([t0]), a.position, cache)[0].float()
        del cache
        if a.dtype == "fp32":
            ref64 = gpt2_torch.forward(cfg, RefParams(model), prompt + [t0])[-1]
            diff = float((ref32.double() - ref64).abs().max())
            print("%s: fp32 first decode step vs float64 full recomputation: max_abs_diff=%.3g"
                  % (PROG, diff), file=sys.stderr)
            del ref64
            if not diff <= FP32_TOLERANCE:
                raise RuntimeError("fp32 decode logits differ from the full recomputation by "
                                   "%.3g (> %g)" % (diff, FP32_TOLERANCE))
            cache_dtype = torch.float32
        else:
            if a.dtype == "bf16":
                model = model.to(torch.bfloat16)
                cache_dtype = torch.bfloat16
            else:
                model = torch.ao.quantization.quantize_dynamic(
                    model, {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
                    dtype=torch.qint8, inplace=True)
                cache_dtype = torch.float32
                if not isinstance(model.lm_head, torch.ao.nn.quantized.dynamic.Linear):
                    raise RuntimeError("quantize_dynamic left the LM head as %s"
                                       % type(model.lm_head).__name__)
            cache = new_cache(cfg, n, cache_dtype)
            diff = float((first_step(model, prompt, t0, cache) - ref32).abs().max())
            print("%s: %s first decode step vs fp32: max_abs_diff=%.3g (logits' range %.3g..%.3g)"
                  % (PROG, a.dtype, diff, float(ref32.min()), float(ref32.max())),
                  file=sys.stderr)
            del cache
        del ref32
        load_peak = peak_rss_mb()
        release_and_reset_peak()

        # the timed run: prefill P tokens, 3 warm-up steps, then the repeats
        cache = new_cache(cfg, n, cache_dtype)
        tok = t0
        if prompt:
            model(torch.tensor(prompt), 0, cache)
        times = []
        for step in range(WARMUP + a.repeats):
            ids = torch.tensor([tok])
            t_start = time.perf_counter()
            logits = model(ids, a.position + step, cache)
            t_end = time.perf_counter()
            tok = int(torch.argmax(logits[0]))
            if step >= WARMUP:
                times.append(t_end - t_start)
        if not bool(torch.isfinite(logits).all()):
            raise RuntimeError("non-finite logits in the timed steps")
    ms = statistics.median(times) * 1e3
    print("bench=decode_torch model=%s dtype=%s position=%d threads=%d ms_per_token=%.2f "
          "peak_rss_mb=%.1f load_peak_rss_mb=%.1f max_abs_diff=%.3g qengine=%s openblas=%s torch=%s"
          % (a.model, a.dtype, a.position, torch.get_num_threads(), ms, peak_rss_mb(),
             load_peak, diff, torch.backends.quantized.engine if a.dtype == "int8" else "-",
             openblas_core(), torch.__version__))


def main(argv=None):
    a = parse_args(argv)
    try:
        run(a)
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    except MemoryError:
        print("%s: error: out of memory" % PROG, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
