#!/usr/bin/env bash
# End-to-end tests of the tril program: outputs, exit codes and messages.
# usage: test_cli.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"



# help and usage
expect 0 "help" -- "$TRIL" help
contains "$tmp/out" "mask" "help lists mask"
expect 0 "mask --help" -- "$TRIL" mask --help
contains "$tmp/out" "usage: tril mask" "mask --help"
expect 0 "help mask" -- "$TRIL" help mask
expect 2 "no command" -- "$TRIL"
expect 2 "unknown command" -- "$TRIL" frobnicate
contains "$tmp/err" "unknown command 'frobnicate'" "unknown command message"
expect 2 "unknown flag" -- "$TRIL" mask 4 --bogus
contains "$tmp/err" "unknown option '--bogus'" "unknown flag message"

# tril mask N: exact rows of 0/1
expect 0 "mask 4" -- "$TRIL" mask 4
printf '1 0 0 0\n1 1 0 0\n1 1 1 0\n1 1 1 1\n' >"$tmp/want"
if cmp -s "$tmp/out" "$tmp/want"; then ok; else bad "mask 4 output: $(cat "$tmp/out")"; fi
expect 0 "mask 2 --keys 4" -- "$TRIL" mask 2 --keys 4
printf '1 1 1 0\n1 1 1 1\n' >"$tmp/want"
if cmp -s "$tmp/out" "$tmp/want"; then ok; else bad "mask 2 --keys 4 output: $(cat "$tmp/out")"; fi
expect 0 "mask 1" -- "$TRIL" mask 1
[ "$(cat "$tmp/out")" = "1" ] && ok || bad "mask 1 output"

# bad sizes
expect 2 "mask 0" -- "$TRIL" mask 0
contains "$tmp/err" "N expects an integer" "mask 0 message"
expect 2 "mask -3" -- "$TRIL" mask -3
expect 2 "mask abc" -- "$TRIL" mask abc
expect 2 "mask 4x" -- "$TRIL" mask 4x
expect 2 "mask huge" -- "$TRIL" mask 99999999999999999999
expect 2 "mask no N" -- "$TRIL" mask
expect 2 "--keys without value" -- "$TRIL" mask 4 --keys
contains "$tmp/err" "needs a value" "missing value message"

# PNG: a real PNG file of sensible size
expect 0 "mask --png" -- "$TRIL" mask 8 --png "$tmp/m.png"
if [ "$(head -c 8 "$tmp/m.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then ok; else bad "PNG signature"; fi
expect 1 "mask --png unwritable" -- "$TRIL" mask 8 --png /nonexistent-dir/m.png
contains "$tmp/err" "/nonexistent-dir/m.png" "unwritable path named"

# numerics: the exact header, 84 rows, tril rows clean, fill 0 leaks
expect 0 "numerics" -- "$TRIL" mask --numerics
[ "$(head -n 1 "$tmp/out")" = "$(printf 'method\tfill\tdtype\tscenario\tfuture_prob\tnan_rows')" ] && ok || bad "numerics header: $(head -n 1 "$tmp/out")"
[ "$(wc -l <"$tmp/out")" -eq 85 ] && ok || bad "numerics row count $(wc -l <"$tmp/out")"
awk -F'\t' 'NR > 1 && $1 == "tril" && ($5 != "0" || $6 != "0") { bad = 1 } END { exit bad }' "$tmp/out" && ok || bad "tril rows not clean"
awk -F'\t' 'NR > 1 && $1 == "textbook" && $2 == "0" && !($5 > 0) { bad = 1 } END { exit bad }' "$tmp/out" && ok || bad "fill 0 does not leak"
awk -F'\t' '$2 == "-inf" && $4 == "fully_masked_row" && $6 == "0" { bad = 1 } END { exit bad }' "$tmp/out" && ok || bad "-inf no NaN on masked row"
expect 2 "numerics with N" -- "$TRIL" mask 4 --numerics

# bench attention: a figure line, and bad shapes rejected with a message
expect 0 "bench attention" -- "$TRIL" bench attention --seq 40 --heads 2 --head-dim 16 --repeats 2
contains "$tmp/out" "bench=attention" "bench line"
contains "$tmp/out" " ms=" "bench ms"
contains "$tmp/out" "limit_gflops=" "bench limit"
expect 0 "bench fp16 reference" -- "$TRIL" bench attention --seq 8 --heads 1 --head-dim 8 --kernel reference --dtype fp16 --repeats 1
expect 2 "bench attention int8 refused" -- "$TRIL" bench attention --seq 8 --heads 1 --head-dim 8 --dtype int8
contains "$tmp/err" "unknown dtype 'int8' (fp32, fp16 or bf16)" "bench attention int8 message"
expect 2 "bench D=0" -- "$TRIL" bench attention --seq 10 --heads 2 --head-dim 0
contains "$tmp/err" "--head-dim expects" "bench D=0 message"
expect 2 "bench T=0" -- "$TRIL" bench attention --seq 0 --heads 2 --head-dim 16
expect 1 "bench H*D overflow" -- "$TRIL" bench attention --seq 4 --heads 4294967296 --head-dim 4294967296
contains "$tmp/err" "overflow" "bench overflow message"
expect 2 "bench missing shape" -- "$TRIL" bench attention --seq 10
expect 2 "bench unknown kernel" -- "$TRIL" bench attention --seq 10 --heads 1 --head-dim 8 --kernel nope
expect 2 "bench unknown dtype" -- "$TRIL" bench attention --seq 10 --heads 1 --head-dim 8 --dtype fp8
expect 2 "bench unknown target" -- "$TRIL" bench frobnicate
expect 2 "bench nothing" -- "$TRIL" bench

# the bundled default model: found with no --model from any directory
expect 0 "default generate" -- bash -c "cd / && '$TRIL' generate --tokens 40 --seed 1 --temperature 0.8"
[ "$(head -c 40 "$tmp/out" | wc -c)" -eq 40 ] && ok || bad "default model produced $(wc -c <"$tmp/out") bytes"
expect 0 "default generate ids" -- "$TRIL" generate --tokens 10 --seed 1 --ids
same "$(wc -w <"$tmp/out" | tr -d ' ')" "10" "10 ids from the default model"
expect 0 "default info" -- "$TRIL" info
contains "$tmp/out" "vocab_size=256" "default model is byte-level"
expect 0 "default leakcheck" -- "$TRIL" leakcheck --trials 4 --seq 32
same "$(cat "$tmp/out")" "max_abs_change=0" "the default model is causal"
printf 'ROMEO:\nWhat light through yonder window breaks?\n' >"$tmp/romeo.txt"
expect 0 "default eval" -- "$TRIL" eval --file "$tmp/romeo.txt"
expect 1 "no default model where TRIL_DATA_DIR points nowhere and no others" -- \
    env TRIL_DATA_DIR=/nonexistent "$TRIL" generate --model /nonexistent/model --tokens 1

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
