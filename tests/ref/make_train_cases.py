#!/usr/bin/python3
"""Random GPT-2 models, batches and PyTorch autograd answers for
tests/test_train_grads.c.

usage: make_train_cases.py OUTDIR
  OUTDIR/<case>/            model folder (gpt2_torch.py make)
  OUTDIR/<case>/batch.txt   "B T", inputs, targets
  OUTDIR/<case>/grads.bin   torch_train_ref.py grads output
  OUTDIR/adamw/batches.txt, OUTDIR/adamw/losses.txt, OUTDIR/adamw/params.txt
  OUTDIR/cases.txt          the gradient case names (the last ones with HF
                            config options set: n_inner,
                            scale_attn_weights false,
                            scale_attn_by_inverse_layer_idx,
                            reorder_and_upcast_attn)
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

# name, layers, heads, embd, positions, vocab, B, T  (T never a multiple of a tile)
CASES = [
    ("g_l2_h2", 2, 2, 32, 16, 64, 2, 13),
    ("g_l1_h3_full", 1, 3, 24, 20, 50, 3, 20),
    ("g_l3_h2", 3, 2, 16, 40, 300, 2, 37),
]
# The config options that change the math (HF GPT2Config), with their
# gpt2_torch.py make flags; generated after the AdamW case so that case's
# batches stay what they were.
OPTION_CASES = [
    ("g_invlayer_unscaled", 3, 2, 16, 24, 80, 2, 19,
     ["--scale-attn-by-inverse-layer-idx", "--no-scale-attn-weights"]),
    ("g_inner_reorder", 2, 3, 24, 20, 70, 2, 17,
     ["--n-inner", "37", "--scale-attn-by-inverse-layer-idx", "--reorder-and-upcast-attn"]),
]


def sh(*args):
    subprocess.run([PY] + list(args), check=True)


def make(d, layers, heads, embd, pos, vocab, seed, flags=()):
    sh(os.path.join(HERE, "gpt2_torch.py"), "make", "--out", d, "--layers", str(layers),
       "--heads", str(heads), "--embd", str(embd), "--positions", str(pos), "--vocab", str(vocab),
       "--seed", str(seed), "--weight-scale", "5", *flags)


def grads_case(out, name, L, H, C, P, V, B, T, seed, rng, flags=()):
    d = os.path.join(out, name)
    make(d, L, H, C, P, V, seed, flags)
    seq = [[rng.randrange(V) for _ in range(T + 1)] for _ in range(B)]
    with open(os.path.join(d, "batch.txt"), "w") as f:
        f.write(f"{B} {T}\n")
        f.write(" ".join(str(s[t]) for s in seq for t in range(T)) + "\n")
        f.write(" ".join(str(s[t + 1]) for s in seq for t in range(T)) + "\n")
    sh(os.path.join(HERE, "torch_train_ref.py"), "grads", "--model", d, "--batch",
       os.path.join(d, "batch.txt"), "--out", os.path.join(d, "grads.bin"))


def main():
    out = sys.argv[1]
    rng = random.Random(7)
    names = []
    for seed, (name, L, H, C, P, V, B, T) in enumerate(CASES, start=11):
        grads_case(out, name, L, H, C, P, V, B, T, seed, rng)
        names.append(name)
    # AdamW: 10 steps, clipping and weight decay on
    d = os.path.join(out, "adamw")
    make(d, 2, 2, 32, 16, 64, 99)
    B, T, N = 2, 11, 10
    with open(os.path.join(d, "batches.txt"), "w") as f:
        f.write(f"{B} {T} {N}\n")
        # one batch, ten times: the loss must fall, so a wrong update shows
        seq = [[rng.randrange(64) for _ in range(T + 1)] for _ in range(B)]
        for _ in range(N):
            f.write(" ".join(str(s[t]) for s in seq for t in range(T)) + "\n")
            f.write(" ".join(str(s[t + 1]) for s in seq for t in range(T)) + "\n")
    lr, wd, clip = 1e-2, 0.1, 0.5
    with open(os.path.join(d, "params.txt"), "w") as f:
        f.write(f"lr={lr} weight_decay={wd} clip={clip}\n")
    sh(os.path.join(HERE, "torch_train_ref.py"), "adamw", "--model", d, "--batches",
       os.path.join(d, "batches.txt"), "--steps", str(N), "--lr", str(lr), "--weight-decay",
       str(wd), "--clip", str(clip), "--out", os.path.join(d, "losses.txt"))
    for seed, (name, L, H, C, P, V, B, T, flags) in enumerate(OPTION_CASES, start=31):
        grads_case(out, name, L, H, C, P, V, B, T, seed, rng, flags)
        names.append(name)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
