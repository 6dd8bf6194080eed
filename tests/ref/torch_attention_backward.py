#!/usr/bin/python3
"""Reference attention gradients computed by PyTorch autograd, for
tests/test_attention_backward.c.

Usage: torch_attention_backward.py OUTDIR

Writes OUTDIR/bwd_NN.bin, one random problem per file: q, k, v and an
upstream gradient dout drawn in float32, and dq, dk, dv = d(sum(out * dout))
/ d(q, k, v) computed by torch.autograd in float64 from those float32 values
with torch ops only (tril, masked_fill, softmax, matmul), independent of
tril's code.

File format (all little-endian, no padding between fields):
  char    magic[8]        "TRILBWD1"
  int64   B, H, D, Tq, Tk, has_padding, mask   (mask: 0 structural,
                                               1 additive, 2 boolean, 3 none)
  float64 fill            (additive/boolean only; 0 otherwise)
  float32 q    [B, Tq, H, D]
  float32 k    [B, Tk, H, D]
  float32 v    [B, Tk, H, D]
  int64   key_start [B]   (0 for every b when has_padding == 0)
  int64   key_end   [B]   (Tk for every b when has_padding == 0)
  float32 dout [B, Tq, H, D]
  float64 dq   [B, Tq, H, D]
  float64 dk   [B, Tk, H, D]
  float64 dv   [B, Tk, H, D]

Semantics (tril's, see include/tril/attention.h): query row i sits at
absolute position past + i, past = Tk - Tq, and sees key j iff key_start[b]
<= j < key_end[b] and (mask == none or j <= past + i). Structural and none
give the other keys no weight at all; additive adds `fill` to their scores,
boolean replaces their scores by `fill`. A row with no visible key has out = 0
(whatever the mode), so it passes no gradient anywhere.
"""
import os
import struct
import sys

import torch

MAGIC = b"TRILBWD1"
STRUCTURAL, ADDITIVE, BOOLEAN, NONE = 0, 1, 2, 3


def forward(q, k, v, key_start, key_end, mask, fill):
    """q [B,Tq,H,D], k/v [B,Tk,H,D] float64 -> out [B,Tq,H,D]."""
    B, Tq, H, D = q.shape
    Tk = k.shape[1]
    if mask == NONE:
        causal = torch.ones(Tq, Tk, dtype=torch.bool)
    else:
        causal = torch.tril(torch.ones(Tq, Tk, dtype=torch.bool), diagonal=Tk - Tq)
    j = torch.arange(Tk)
    window = (j[None, :] >= key_start[:, None]) & (j[None, :] < key_end[:, None])  # [B,Tk]
    visible = causal[None, None, :, :] & window[:, None, None, :]  # [B,1,Tq,Tk]
    empty = ~visible.any(dim=-1, keepdim=True)  # [B,1,Tq,1]

    zero = torch.zeros((), dtype=torch.float64)
    qh, kh, vh = (t.permute(0, 2, 1, 3) for t in (q, k, v))  # [B,H,T,D]
    scores = torch.matmul(qh, kh.transpose(-1, -2)) / (D ** 0.5)  # [B,H,Tq,Tk]
    if mask == ADDITIVE:
        scores = scores + torch.where(visible, zero, torch.full((), fill, dtype=torch.float64))
    elif mask == BOOLEAN:
        scores = scores.masked_fill(~visible, fill)
    else:
        scores = scores.masked_fill(~visible, float("-inf"))
    # Empty rows: softmax of a harmless row, then zeroed, so no gradient (and
    # no NaN from -inf - -inf) flows back through them.
    scores = torch.where(empty, zero, scores)
    probs = torch.softmax(scores, dim=-1)
    probs = torch.where(empty, zero, probs)
    out = torch.matmul(probs, vh)
    return out.permute(0, 2, 1, 3)


# (B, H, D, Tq, Tk, key_start or None, key_end or None, mask, fill)
CASES = [
    (1, 1, 16, 1, 1, None, None, STRUCTURAL, 0.0),          # a single token
    (2, 3, 16, 7, 7, None, None, STRUCTURAL, 0.0),          # small square, B > 1
    (1, 4, 64, 64, 64, None, None, STRUCTURAL, 0.0),        # one full tile
    (2, 2, 80, 100, 100, None, None, STRUCTURAL, 0.0),      # D = 80, T not a tile multiple
    (1, 2, 64, 130, 130, None, None, STRUCTURAL, 0.0),      # T = 2 tiles + 2
    (2, 1, 64, 1, 150, None, None, STRUCTURAL, 0.0),        # decoding: Tq = 1, long past
    (1, 3, 16, 20, 50, None, None, STRUCTURAL, 0.0),        # Tq < Tk, past = 30
    (2, 3, 16, 40, 25, None, None, STRUCTURAL, 0.0),        # Tq > Tk: top 15 rows empty
    (3, 2, 64, 37, 37, [0, 5, 12], [37, 37, 37], STRUCTURAL, 0.0),  # left padding
    (3, 1, 80, 33, 33, [0, 0, 0], [33, 20, 3], STRUCTURAL, 0.0),    # right padding
    (2, 2, 16, 10, 45, [3, 40], [45, 44], STRUCTURAL, 0.0),  # both; b=1 rows 0..4 empty
    (2, 2, 64, 16, 16, [8, 0], [8, 16], STRUCTURAL, 0.0),    # b=0: empty window
    (2, 3, 16, 30, 20, [2, 0], [20, 11], STRUCTURAL, 0.0),   # Tq > Tk with padding
    (2, 2, 64, 70, 70, [0, 9], [61, 70], NONE, 0.0),         # no causal mask, padding
    (2, 2, 16, 33, 40, None, None, ADDITIVE, 0.0),           # fill 0: the future leaks
    (1, 2, 80, 45, 45, [4], [40], ADDITIVE, -1e4),           # old HF masked_bias
    (2, 2, 16, 33, 40, [0, 3], [40, 30], BOOLEAN, 0.0),      # constant fill carries p
    (1, 3, 64, 66, 66, None, None, BOOLEAN, float("-inf")),  # same as structural
    (2, 2, 16, 30, 20, None, None, ADDITIVE, -1e9),          # Tq > Tk in a fill mode
]


def f32(t):
    return t.numpy().astype("<f4").tobytes()


def f64(t):
    return t.detach().numpy().astype("<f8").tobytes()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: torch_attention_backward.py OUTDIR\n")
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in os.listdir(outdir):  # stale cases from an older run
        if name.startswith("bwd_") and name.endswith(".bin"):
            os.remove(os.path.join(outdir, name))
    gen = torch.Generator().manual_seed(20240907)
    for n, (B, H, D, Tq, Tk, ks, ke, mask, fill) in enumerate(CASES):
        q, k, v = (torch.randn(B, T, H, D, generator=gen, dtype=torch.float32)
                   for T in (Tq, Tk, Tk))
        dout = torch.randn(B, Tq, H, D, generator=gen, dtype=torch.float32)
        has_padding = 1 if ks is not None else 0
        key_start = torch.tensor(ks if ks else [0] * B, dtype=torch.int64)
        key_end = torch.tensor(ke if ke else [Tk] * B, dtype=torch.int64)
        q64, k64, v64 = (t.double().requires_grad_(True) for t in (q, k, v))
        out = forward(q64, k64, v64, key_start, key_end, mask, fill)
        dq, dk, dv = torch.autograd.grad((out * dout.double()).sum(), (q64, k64, v64))
        for g in (dq, dk, dv):
            assert torch.isfinite(g).all()
        with open(os.path.join(outdir, "bwd_%02d.bin" % n), "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<7qd", B, H, D, Tq, Tk, has_padding, mask, fill))
            for t in (q, k, v):
                f.write(f32(t))
            f.write(key_start.numpy().astype("<i8").tobytes())
            f.write(key_end.numpy().astype("<i8").tobytes())
            f.write(f32(dout))
            for g in (dq, dk, dv):
                f.write(f64(g))
    print("wrote %d cases to %s" % (len(CASES), outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
