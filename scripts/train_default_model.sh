#!/usr/bin/env bash
# Trains the bundled default model (data/models/default) with tril itself:
# a byte-level GPT (vocab 256, no tokenizer files needed) on tiny shakespeare.
# This is the exact command behind the committed model; see docs/TRAINING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp data/tinyshakespeare.txt "$work/" # the token cache lands beside the data, not in the repo
out=${1:-data/models/default}
time build/tril train --data "$work/tinyshakespeare.txt" --out "$out" \
    --layers 4 --heads 4 --embd 128 --context 256 --tokenizer bytes \
    --seq 256 --batch 16 --steps 2000 --lr 2e-3 --min-lr 2e-4 --warmup 100 \
    --weight-decay 0.1 --clip 1.0 --eval-every 250 --eval-batches 32 --seed 1337 \
    --overwrite # replaces the committed model
build/tril eval --model "$out" --file "$work/tinyshakespeare.txt" --context 256
