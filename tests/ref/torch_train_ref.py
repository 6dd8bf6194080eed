#!/usr/bin/python3
"""PyTorch autograd reference for tril's training step (tests/test_train_grads.c).

  torch_train_ref.py grads --model DIR --batch FILE --out FILE
      FILE (text): "B T", then B*T input ids, then B*T target ids.
      Computes the mean cross-entropy over the B*T positions in float64 and
      its gradient for every parameter. Writes: float64 loss, then each
      gradient as float32, concatenated in tril's parameter-table order
      (wte, wpe, per layer ln_1.w/b, c_attn.w/b, c_proj.w/b, ln_2.w/b,
      c_fc.w/b, mlp c_proj.w/b, then ln_f.w/b) - little-endian, no header.

  torch_train_ref.py adamw --model DIR --batches FILE --steps N --lr X
                           --weight-decay X --clip X --out FILE
      FILE: "B T N" then per step B*T inputs and B*T targets. Trains in
      float32 with torch.optim.AdamW (betas 0.9/0.95, eps 1e-8, weight decay
      only on matrices and embeddings) and clip_grad_norm_; writes the loss of
      each step before its update, one per line (%.10f).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_torch  # noqa: E402

LAYER_PARAMS = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"]


def table_names(cfg):
    names = ["wte.weight", "wpe.weight"]
    for l in range(cfg["n_layer"]):
        names += ["h.%d.%s" % (l, n) for n in LAYER_PARAMS]
    return names + ["ln_f.weight", "ln_f.bias"]


def decays(name):
    return name in ("wte.weight", "wpe.weight") or (name.endswith(".weight") and "ln_" not in name)


def batch_loss(cfg, params, inputs, targets):
    losses = []
    for x, y in zip(inputs, targets):
        logits = gpt2_torch.forward(cfg, params, x)
        losses.append(torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none"))
    return torch.cat(losses).mean()


def read_ints(path):
    with open(path) as f:
        return [int(t) for t in f.read().split()]


def cmd_grads(a):
    cfg, params, _ = gpt2_torch.load_model(a.model)
    vals = read_ints(a.batch)
    B, T = vals[0], vals[1]
    ids = vals[2:2 + B * T]
    tgt = vals[2 + B * T:2 + 2 * B * T]
    inputs = [ids[b * T:(b + 1) * T] for b in range(B)]
    targets = [tgt[b * T:(b + 1) * T] for b in range(B)]
    with torch.enable_grad():
        for p in params.values():
            p.requires_grad_(True)
        loss = batch_loss(cfg, params, inputs, targets)
        loss.backward()
    with open(a.out, "wb") as f:
        f.write(torch.tensor([loss.item()], dtype=torch.float64).numpy().tobytes())
        for name in table_names(cfg):
            f.write(params[name].grad.to(torch.float32).contiguous().numpy().tobytes())


def cmd_adamw(a):
    cfg, params, _ = gpt2_torch.load_model(a.model)
    vals = read_ints(a.batches)
    B, T, N = vals[0], vals[1], vals[2]
    pos = 3
    params = {k: v.to(torch.float32).clone().requires_grad_(True) for k, v in params.items()}
    names = table_names(cfg)
    groups = [{"params": [params[n] for n in names if decays(n)], "weight_decay": a.weight_decay},
              {"params": [params[n] for n in names if not decays(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    out = []
    with torch.enable_grad():
        for _ in range(min(N, a.steps)):
            ids = vals[pos:pos + B * T]
            tgt = vals[pos + B * T:pos + 2 * B * T]
            pos += 2 * B * T
            opt.zero_grad()
            loss = batch_loss(cfg, params, [ids[b * T:(b + 1) * T] for b in range(B)],
                              [tgt[b * T:(b + 1) * T] for b in range(B)])
            loss.backward()
            torch.nn.utils.clip_grad_norm_([params[n] for n in names], a.clip)
            opt.step()
            out.append("%.10f" % loss.item())
    with open(a.out, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("grads")
    g.add_argument("--model", required=True)
    g.add_argument("--batch", required=True)
    g.add_argument("--out", required=True)
    w = sub.add_parser("adamw")
    w.add_argument("--model", required=True)
    w.add_argument("--batches", required=True)
    w.add_argument("--steps", type=int, default=10)
    w.add_argument("--lr", type=float, required=True)
    w.add_argument("--weight-decay", type=float, required=True)
    w.add_argument("--clip", type=float, required=True)
    w.add_argument("--out", required=True)
    a = ap.parse_args()
    cmd_grads(a) if a.cmd == "grads" else cmd_adamw(a)


if __name__ == "__main__":
    main()
