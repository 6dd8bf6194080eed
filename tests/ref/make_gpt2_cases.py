#!/usr/bin/python3
"""Writes random-weight GPT-2 models as real Hugging Face folders, plus
PyTorch's answers for them, for tril's C tests (tests/test_gpt2_reference.c).

usage: make_gpt2_cases.py OUTDIR

OUTDIR/<case>/            a model folder (config.json, model.safetensors,
                          vocab.json, merges.txt) made by gpt2_torch.py
OUTDIR/<case>/ref/ids.txt        prompt ids for the logits check
OUTDIR/<case>/ref/logits.bin     float32 [T, V] from gpt2_torch.py logits
OUTDIR/<case>/ref/probs.bin      float32 [T, T]: the last layer's last head's
                                 attention probabilities over the same ids
OUTDIR/<case>/ref/eval_ids.txt   ids for the eval check
OUTDIR/<case>/ref/eval.txt       "context=N" line, then gpt2_torch.py eval output
OUTDIR/<case>/ref/greedy.txt     "prompt=a,b tokens=32" line, then the ids
                                 (only for cases with room for 34 positions;
                                 the prompt is "The dog" unless a step of its
                                 continuation has a top-2 logit gap < 1e-3)
OUTDIR/cases.txt                 the case names, one a line
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "gpt2_torch.py")
TOKENIZER = os.path.join(HERE, "..", "..", "data", "gpt2")
PY = "/usr/bin/python3"

# name, layers, heads, embd, positions, extra make flags
CASES = [
    ("small_f32", 2, 2, 64, 64, ["--weight-scale", "10"]),
    ("prefix_d24_f32", 3, 4, 96, 128, ["--prefix", "--weight-scale", "10"]),
    ("tiny_bf16", 1, 1, 32, 32, ["--dtype", "bf16"]),
    ("nomask_f16", 2, 3, 48, 48, ["--dtype", "f16", "--no-mask-buffers", "--weight-scale", "10"]),
    # config options that change the math (HF GPT2Config); bf16 storage so the
    # bf16 model computes with exactly the stored weights too
    # n_inner 300 > 4C: every buffer sized for the MLP width must follow it
    ("inner_bf16", 2, 2, 64, 64, ["--dtype", "bf16", "--n-inner", "300", "--weight-scale", "10"]),
    ("unscaled_f32", 2, 4, 64, 64, ["--no-scale-attn-weights", "--weight-scale", "10"]),
    ("invlayer_f32", 4, 2, 64, 64, ["--scale-attn-by-inverse-layer-idx", "--prefix",
                                    "--weight-scale", "10"]),
    ("reorder_f16", 3, 2, 48, 48, ["--dtype", "f16", "--reorder-and-upcast-attn",
                                   "--scale-attn-by-inverse-layer-idx", "--no-scale-attn-weights",
                                   "--n-inner", "96", "--weight-scale", "10"]),
]


def run(args, capture=False):
    res = subprocess.run([PY, REF] + args, check=True, capture_output=capture, text=True)
    return res.stdout if capture else None


def greedy_without_near_ties(model, rng, tokens=32, min_gap=1e-3):
    """A prompt whose greedy continuation never hinges on a near-tie between
    the top two logits (an fp32 engine could legitimately pick either)."""
    prompt = [464, 3290]  # "The dog"
    for _ in range(20):
        res = subprocess.run([PY, REF, "greedy", "--model", model, "--ids",
                              ",".join(map(str, prompt)), "--tokens", str(tokens), "--gaps"],
                             capture_output=True, text=True)
        if res.returncode != 0:  # show why: the output was captured
            sys.stderr.write(res.stderr)
            res.check_returncode()
        gap = float(res.stderr.split("min_gap=")[1].split()[0])
        if gap >= min_gap:
            return prompt, res.stdout
        prompt = [rng.randrange(50257), rng.randrange(50257)]
    raise SystemExit(f"no prompt without near-ties for {model}")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(1234)
    names = []
    for seed, (name, layers, heads, embd, pos, extra) in enumerate(CASES, start=1):
        d = os.path.join(out, name)
        ref = os.path.join(d, "ref")
        run(["make", "--out", d, "--layers", str(layers), "--heads", str(heads), "--embd",
             str(embd), "--positions", str(pos), "--vocab", "50257", "--seed", str(seed),
             "--tokenizer-dir", TOKENIZER] + extra)
        os.makedirs(ref, exist_ok=True)
        ids = [rng.randrange(50257) for _ in range(min(pos, 37))]
        with open(os.path.join(ref, "ids.txt"), "w") as f:
            f.write(" ".join(map(str, ids)) + "\n")
        run(["logits", "--model", d, "--ids-file", os.path.join(ref, "ids.txt"), "--out",
             os.path.join(ref, "logits.bin")])
        run(["probs", "--model", d, "--ids-file", os.path.join(ref, "ids.txt"), "--layer",
             str(layers - 1), "--head", str(heads - 1), "--out", os.path.join(ref, "probs.bin")])
        # eval: 3.5 windows, so a partial last window is included
        context = pos // 2 + 3
        eval_ids = [rng.randrange(50257) for _ in range(context * 3 + context // 2)]
        with open(os.path.join(ref, "eval_ids.txt"), "w") as f:
            f.write(" ".join(map(str, eval_ids)) + "\n")
        line = run(["eval", "--model", d, "--ids-file", os.path.join(ref, "eval_ids.txt"),
                    "--context", str(context)], capture=True)
        with open(os.path.join(ref, "eval.txt"), "w") as f:
            f.write(f"context={context}\n{line}")
        if pos >= 34:
            prompt, ids_line = greedy_without_near_ties(d, rng)
            with open(os.path.join(ref, "greedy.txt"), "w") as f:
                f.write(f"prompt={prompt[0]},{prompt[1]} tokens=32\n{ids_line}")
        names.append(name)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
