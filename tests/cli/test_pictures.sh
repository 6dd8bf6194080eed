#!/usr/bin/env bash
# End-to-end runs of the picture commands (the pixels themselves are checked
# in tests/test_image.c): tril attention on the bundled byte-level model with
# long and awkward prompts, tril plot on short, spiky and oddly labelled logs.
# usage: test_pictures.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

png_ok() { # FILE DESCRIPTION: a PNG signature and an IHDR of WIDTH x HEIGHT > 0
    if [ "$(head -c 8 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then ok; else bad "$2: not a PNG"; fi
}
png_width() { od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}'; }

# --- attention ------------------------------------------------------------------
expect 0 "attention short" -- "$TRIL" attention --prompt "The dog ran" --layer 0 --head 0 --png "$tmp/a.png"
png_ok "$tmp/a.png" "short prompt"
contains "$tmp/out" "11 tokens" "byte-level: 11 tokens"
# 249 bytes (the model's byte tokenizer: 249 tokens) with spaces, a newline,
# a tab, a backslash and UTF-8: every label escaped, labels thinned
p=$(printf 'caf\xc3\xa9 na\xc3\xafve\n\tx\\y \xe2\x82\xac '; head -c 227 /dev/zero | tr '\0' 'a')
expect 0 "attention 249 tokens" -- "$TRIL" attention --prompt "$p" --layer 3 --head 3 --png "$tmp/b.png"
contains "$tmp/out" "249 tokens" "249 tokens drawn"
png_ok "$tmp/b.png" "249 tokens"
# wider than the 747-px grid: labels, axis title and colour scale beside it
check "[ \"\$(png_width '$tmp/b.png')\" -gt 900 ]" "249-token picture has room for labels and scale ($(png_width "$tmp/b.png") px)"
expect 0 "attention --help" -- "$TRIL" attention --help
contains "$tmp/out" "colour scale" "help describes the scale"
contains "$tmp/out" "middle dot" "help describes escaped labels"

# --- plot -----------------------------------------------------------------------
H="step,train_loss,val_loss,lr,tokens_per_s"
printf '%s\n1,5.5,,1e-4,100\n' "$H" >"$tmp/one.csv"
expect 0 "plot one row" -- "$TRIL" plot --log "$tmp/one.csv" --png "$tmp/one.png"
png_ok "$tmp/one.png" "one-row log"
printf '%s\n1,5.5,,1e-4,100\n2,5.3,5.4,1e-4,100\n3,5.1,,1e-4,100\n' "$H" >"$tmp/three.csv"
expect 0 "plot three steps" -- "$TRIL" plot --log "$tmp/three.csv" --png "$tmp/three.png"
{ echo "$H"; for s in $(seq 1 50); do echo "$s,$((5 - s / 20)).5,,1e-4,100"; done; echo "51,1e300,1e300,1e-4,100"; } >"$tmp/spike.csv"
expect 0 "plot a 1e300 spike" -- "$TRIL" plot --log "$tmp/spike.csv" --log2 "$tmp/three.csv" \
    --label "$(printf 'a very long label %.0s' 1 2 3 4 5 6)" --label2 "$(printf 'caf\xc3\xa9\trun')" --png "$tmp/spike.png"
png_ok "$tmp/spike.png" "spike and long labels"
printf '%s\n1,-1e308,,1e-4,100\n2,1e308,,1e-4,100\n' "$H" >"$tmp/span.csv"
expect 1 "plot losses spanning more than a double" -- "$TRIL" plot --log "$tmp/span.csv" --png "$tmp/span.png"
contains "$tmp/err" "span" "span error named"
expect 0 "plot --help" -- "$TRIL" plot --help
contains "$tmp/out" "whole-number ticks" "help describes ticks"

finish "pictures cli"
