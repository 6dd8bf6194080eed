#!/usr/bin/python3
"""Reference attention cases computed by PyTorch, for tests/test_attention_torch.c.

Usage: torch_attention.py OUTDIR

Writes OUTDIR/case_NN.bin, one random causal-attention problem per file, with
torch's answer. The answer is computed in float64 with torch ops only
(torch.tril, matmul, masked_fill, softmax, logsumexp), independent of tril's
code, and then stored as float32.

File format (all little-endian, no padding between fields):
  char    magic[8]        "TRILATT1"
  int64   B, H, D, Tq, Tk, has_padding
  float32 q   [B, Tq, H, D]
  float32 k   [B, Tk, H, D]
  float32 v   [B, Tk, H, D]
  int64   key_start [B]   (0 for every b when has_padding == 0)
  int64   key_end   [B]   (Tk for every b when has_padding == 0)
  float32 out [B, Tq, H, D]
  float32 lse [B, H, Tq]

Semantics: query row i sits at absolute position past + i, past = Tk - Tq, and
sees key j iff j <= past + i and key_start[b] <= j < key_end[b].
  out[b,i,h,:] = softmax_j(q[b,i,h,:] . k[b,j,h,:] / sqrt(D), visible j) @ v
  lse[b,h,i]   = logsumexp over visible j of the scaled scores
A row with no visible key has out = 0 and lse = -inf.
"""
import os
import struct
import sys

import numpy as np
import torch

MAGIC = b"TRILATT1"


def reference(q, k, v, key_start, key_end):
    """q [B,Tq,H,D], k/v [B,Tk,H,D] float64 -> out [B,Tq,H,D], lse [B,H,Tq]."""
    B, Tq, H, D = q.shape
    Tk = k.shape[1]
    past = Tk - Tq
    # causal: ones on and below diagonal `past` of a [Tq, Tk] matrix
    causal = torch.tril(torch.ones(Tq, Tk, dtype=torch.bool), diagonal=past)
    j = torch.arange(Tk)
    window = (j[None, :] >= key_start[:, None]) & (j[None, :] < key_end[:, None])  # [B,Tk]
    visible = causal[None, None, :, :] & window[:, None, None, :]  # [B,1,Tq,Tk]

    qh = q.permute(0, 2, 1, 3)  # [B,H,Tq,D]
    kh = k.permute(0, 2, 1, 3)
    vh = v.permute(0, 2, 1, 3)
    scores = torch.matmul(qh, kh.transpose(-1, -2)) / (D ** 0.5)  # [B,H,Tq,Tk]
    scores = scores.masked_fill(~visible, float("-inf"))
    probs = torch.softmax(scores, dim=-1)  # NaN on rows with no visible key
    lse = torch.logsumexp(scores, dim=-1)  # [B,H,Tq]

    empty = ~visible.any(dim=-1)  # [B,1,Tq]
    empty = empty.expand(B, H, Tq)
    probs = torch.where(empty[..., None], torch.zeros_like(probs), probs)
    lse = torch.where(empty, torch.full_like(lse, float("-inf")), lse)
    out = torch.matmul(probs, vh)  # [B,H,Tq,D]
    assert not torch.isnan(out).any() and not torch.isnan(lse).any()
    return out.permute(0, 2, 1, 3).contiguous(), lse.contiguous()


# (B, H, D, Tq, Tk, key_start or None, key_end or None)
CASES = [
    (1, 1, 16, 1, 1, None, None),            # a single token
    (2, 3, 32, 7, 7, None, None),            # small square
    (1, 12, 64, 64, 64, None, None),         # GPT-2 heads
    (3, 3, 80, 100, 100, None, None),        # D = 80, T not a power of two
    (1, 3, 128, 64, 64, None, None),         # D = 128
    (2, 1, 64, 1, 300, None, None),          # decoding: Tq = 1, long past
    (1, 3, 32, 20, 50, None, None),          # Tq < Tk, past = 30
    (2, 3, 16, 40, 25, None, None),          # Tq > Tk: top 15 rows see nothing
    (3, 3, 64, 37, 37, [0, 5, 12], [37, 37, 37]),   # left padding
    (3, 1, 80, 33, 33, [0, 0, 0], [33, 20, 3]),     # right padding
    (2, 12, 32, 10, 45, [3, 40], [45, 44]),  # both; b=1 rows 0..4 see nothing
    (2, 3, 128, 16, 16, [8, 0], [8, 16]),    # b=0: empty window, all rows empty
    (2, 3, 16, 30, 20, [2, 0], [20, 11]),    # Tq > Tk with padding
    (1, 1, 16, 100, 100, None, None),        # T = 100, H = 1, D = 16
]


def write_case(path, q, k, v, key_start, key_end, has_padding, out, lse):
    B, Tq, H, D = q.shape
    Tk = k.shape[1]
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<6q", B, H, D, Tq, Tk, has_padding))
        for t in (q, k, v):
            f.write(t.numpy().astype("<f4").tobytes())
        f.write(key_start.numpy().astype("<i8").tobytes())
        f.write(key_end.numpy().astype("<i8").tobytes())
        f.write(out.numpy().astype("<f4").tobytes())
        f.write(lse.numpy().astype("<f4").tobytes())


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: torch_attention.py OUTDIR\n")
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in os.listdir(outdir):  # stale cases from an older run
        if name.startswith("case_") and name.endswith(".bin"):
            os.remove(os.path.join(outdir, name))
    gen = torch.Generator().manual_seed(20240611)
    for n, (B, H, D, Tq, Tk, ks, ke) in enumerate(CASES):
        # Draw in float32 (what tril reads), compute in float64.
        q = torch.randn(B, Tq, H, D, generator=gen, dtype=torch.float32)
        k = torch.randn(B, Tk, H, D, generator=gen, dtype=torch.float32)
        v = torch.randn(B, Tk, H, D, generator=gen, dtype=torch.float32)
        has_padding = 1 if ks is not None else 0
        key_start = torch.tensor(ks if ks else [0] * B, dtype=torch.int64)
        key_end = torch.tensor(ke if ke else [Tk] * B, dtype=torch.int64)
        out, lse = reference(q.double(), k.double(), v.double(), key_start, key_end)
        write_case(os.path.join(outdir, "case_%02d.bin" % n), q, k, v, key_start, key_end,
                   has_padding, out.float(), lse.float())
    print("wrote %d cases to %s" % (len(CASES), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
