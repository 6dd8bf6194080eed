#!/usr/bin/env bash
# The cheating experiment (docs/MASKING.md): the same model trained twice on
# tiny shakespeare, with the causal mask and without it. Prints the training
# and validation losses of both, what each scores when it must predict one
# token at a time (tril eval runs through the KV cache: no future exists),
# a leak check of each, samples, and draws both loss curves.
#   usage: scripts/experiment_no_causal_mask.sh [OUTDIR] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/cheating}
steps=${2:-2000}
mkdir -p "$out"
cp data/tinyshakespeare.txt "$out/"
head -c 100000 data/tinyshakespeare.txt | tail -c 50000 >"$out/heldout.txt"
common=(--data "$out/tinyshakespeare.txt" --layers 2 --heads 4 --embd 64 --context 128
        --tokenizer bytes --seq 128 --batch 16 --steps "$steps" --lr 3e-3 --eval-every 50
        --seed 7 --overwrite) # a rerun replaces the last one
build/tril train "${common[@]}" --out "$out/causal"
build/tril train "${common[@]}" --out "$out/no_mask" --no-causal-mask
for m in causal no_mask; do
    echo "== $m"
    tail -n 1 "$out/$m/log.csv"
    echo -n "one token at a time (tril eval, causal by construction): "
    build/tril eval --model "$out/$m" --file "$out/heldout.txt" --context 128
    echo -n "leakcheck as trained: "
    if [ "$m" = no_mask ]; then build/tril leakcheck --model "$out/$m" --no-causal-mask; else build/tril leakcheck --model "$out/$m"; fi
    echo "sample:"
    build/tril generate --model "$out/$m" --prompt "ROMEO:" --tokens 200 --temperature 0.8 --seed 1
done
build/tril plot --log "$out/causal/log.csv" --label causal --log2 "$out/no_mask/log.csv" \
    --label2 "no causal mask" --png "$out/loss_curves.png"
