#!/usr/bin/python3
"""PyTorch reference timing for causal attention, written out the way most
code does it: matmul + masked_fill(-inf) + softmax + matmul, fp32 on the CPU.
Run beside build/bench/bench_attention for a side-by-side comparison:

    /usr/bin/python3 bench/torch_attention.py [T ...]
"""
import math
import os
import statistics
import sys
import time

import torch


def causal_attention(q, k, v, mask):
    # q, k, v: [H, T, D]
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))
    att = att.masked_fill(~mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    return att @ v


def main():
    seqs = [int(a) for a in sys.argv[1:]] or [256, 1024, 4096]
    torch.set_num_threads(os.cpu_count() or 1)
    H, D = 12, 64
    print(f"# torch {torch.__version__} threads={torch.get_num_threads()}")
    print(f"{'T':<6} {'torch_ms':>12} {'torch_gf/s':>12}")
    for T in seqs:
        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(H, T, D, generator=g) for _ in range(3))
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        with torch.no_grad():
            causal_attention(q, k, v, mask)  # warm-up
            reps = 3 if T >= 4096 else 10
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                causal_attention(q, k, v, mask)
                times.append(time.perf_counter() - t0)
        ms = statistics.median(times) * 1e3
        flops = 2.0 * H * T * T * D  # the causal half, as bench_attention counts
        print(f"{T:<6} {ms:12.2f} {flops / ms * 1e-6:12.1f}")


if __name__ == "__main__":
    main()
