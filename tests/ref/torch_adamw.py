#!/usr/bin/env python3
"""Reference trajectory for tril's AdamW, gradient clipping and learning-rate
schedule, computed by PyTorch itself (torch.optim.AdamW,
torch.nn.utils.clip_grad_norm_).

usage: torch_adamw.py OUT_DIR  -> OUT_DIR/adamw_case.txt

Three parameter tensors (two with weight decay, a bias without, as GPT-2's
parameter groups), fixed random gradients, 10 steps. Each step: set the
gradients, clip them to a global norm of 1, set the step's learning rate
(warm-up + cosine, computed here independently), optimizer.step(). The file
records the start, and per step the learning rate, the norm before clipping,
the gradients and the parameters and moments after the step. Every value is
a float32 written as a hex float, so the C side reads it exactly.
"""
import math
import os
import sys

import numpy as np
import torch


def f32(x):
    return float(np.float32(x))


def hexes(t):
    return " ".join(float(v).hex() for v in t.detach().reshape(-1).tolist())


def lr_at(step, warmup, total, max_lr, min_lr):
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(1234)
    # Hyperparameters that float32 represents exactly as given, so the C side
    # (float config) and PyTorch (Python floats) use the same numbers.
    beta1, beta2, eps, wd = f32(0.9), f32(0.95), f32(1e-8), f32(0.1)
    max_norm = 1.0
    shapes = [("w1", (4, 5), 1), ("b1", (5,), 0), ("w2", (3, 2), 1)]
    params = [torch.nn.Parameter(torch.randn(*s)) for _, s, _ in shapes]
    decay = [p for p, (_, _, d) in zip(params, shapes) if d]
    no_decay = [p for p, (_, _, d) in zip(params, shapes) if not d]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(beta1, beta2), eps=eps, foreach=False)
    steps, warmup, max_lr, min_lr = 10, 3, f32(0.05), f32(0.005)
    # gradient scales: some steps under the clip limit, some far over it
    scales = [0.01, 5.0, 0.05, 20.0, 0.1, 1.0, 0.02, 3.0, 0.3, 50.0]
    lines = ["tril-adamw-case 1",
             "config %s %s %s %s %s" % tuple(float(v).hex() for v in (beta1, beta2, eps, wd, max_norm)),
             "tensors %d" % len(shapes)]
    for (name, shape, d), p in zip(shapes, params):
        lines.append("tensor %s %d %d" % (name, d, p.numel()))
    lines.append("schedule %d %d %s %s" % (warmup, steps, float(max_lr).hex(), float(min_lr).hex()))
    # the schedule on its own, past the end too
    sched_steps = list(range(0, steps + 3))
    lines.append("lrs %d %s" % (len(sched_steps), " ".join(
        float(lr_at(s, warmup, steps, max_lr, min_lr)).hex() for s in sched_steps)))
    lines.append("init " + " ".join(hexes(p) for p in params))
    lines.append("steps %d" % steps)
    for step in range(steps):
        for p in params:
            p.grad = torch.randn_like(p) * scales[step]
        raw = " ".join(hexes(p.grad) for p in params)
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        lr = f32(lr_at(step, warmup, steps, max_lr, min_lr))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        lines.append("step %d %s %s" % (step, float(lr).hex(), float(norm).hex()))
        lines.append("grad " + raw)
        lines.append("param " + " ".join(hexes(p) for p in params))
        lines.append("m " + " ".join(hexes(opt.state[p]["exp_avg"]) for p in params))
        lines.append("v " + " ".join(hexes(opt.state[p]["exp_avg_sq"]) for p in params))
    with open(os.path.join(out_dir, "adamw_case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
