#!/usr/bin/env bash
# End-to-end tests of the GPT-2 commands on a random-weight Hugging Face
# folder made by tests/ref/make_gpt2_cases.py (weights checked against
# PyTorch in test_gpt2_reference): outputs, exit codes and messages.
# usage: test_gpt2_cli.sh PATH/TO/tril CASES_DIR
set -u
TRIL=$1
M=$2/small_f32
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# tokenize / detokenize: the known ids, and round trips
expect 0 "tokenize" -- "$TRIL" tokenize --model "$M" --text "Hello, world!"
same "$(cat "$tmp/out")" "15496 11 995 0" "Hello, world! ids"
expect 0 "detokenize" -- "$TRIL" detokenize --model "$M" 15496 11 995 0
same "$(cat "$tmp/out")" "Hello, world!" "detokenize"
printf 'caf\xc3\xa9 \xff\xfe bytes\n\n  tabs\there' >"$tmp/odd.txt"
expect 0 "tokenize --file" -- "$TRIL" tokenize --model "$M" --file "$tmp/odd.txt"
# shellcheck disable=SC2046
"$TRIL" detokenize --model "$M" $(cat "$tmp/out") >"$tmp/back" 2>/dev/null
# exactly the bytes: no newline added
if cmp -s "$tmp/odd.txt" "$tmp/back"; then ok; else bad "file round trip with invalid UTF-8"; fi
expect 1 "detokenize id >= vocab" -- "$TRIL" detokenize --model "$M" 15496 50257
contains "$tmp/err" "50257" "out-of-range id named"
expect 1 "detokenize negative id" -- "$TRIL" detokenize --model "$M" -5
expect 2 "detokenize not a number" -- "$TRIL" detokenize --model "$M" 12x
expect 2 "tokenize both" -- "$TRIL" tokenize --model "$M" --text a --file "$tmp/odd.txt"
expect 2 "tokenize neither" -- "$TRIL" tokenize --model "$M"

# info
expect 0 "info" -- "$TRIL" info --model "$M"
contains "$tmp/out" "n_layer=2" "info n_layer"
contains "$tmp/out" "vocab_size=50257" "info vocab"
contains "$tmp/out" "stored_dtype=F32" "info dtype"
contains "$tmp/out" "parameters=" "info params"
contains "$tmp/out" "mlp_width=256" "info default MLP width"
# info on the cases with HF config options set: the options as read
expect 0 "info n_inner" -- "$TRIL" info --model "$2/inner_bf16"
contains "$tmp/out" "mlp_width=300" "info n_inner 300"
contains "$tmp/out" "parameters=3331992 " "info params with n_inner"
expect 0 "info scale options" -- "$TRIL" info --model "$2/reorder_f16"
contains "$tmp/out" "scale_attn_weights=false" "info scale_attn_weights false"
contains "$tmp/out" "scale_attn_by_inverse_layer_idx=true" "info inverse layer scaling"

# generate: greedy ids are reproducible and equal the library's greedy run
expect 0 "generate --ids greedy" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 8 --temperature 0 --ids
g1=$(cat "$tmp/out")
same "$(echo "$g1" | wc -w)" "8" "8 ids"
expect 0 "generate greedy again" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 8 --temperature 0 --ids
same "$(cat "$tmp/out")" "$g1" "greedy reproducible"
# the text output is exactly the detokenized ids
expect 0 "generate text" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 8 --temperature 0
# shellcheck disable=SC2086
"$TRIL" detokenize --model "$M" $g1 >"$tmp/want" 2>/dev/null
echo >>"$tmp/want" # generate ends its output with a newline, detokenize adds none
if cmp -s "$tmp/out" "$tmp/want"; then ok; else bad "streamed text differs from detokenized ids"; fi
expect 0 "sampling seed" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 12 --seed 7 --top-k 50 --top-p 0.9 --temperature 0.8 --ids
s1=$(cat "$tmp/out")
expect 0 "sampling seed again" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 12 --seed 7 --top-k 50 --top-p 0.9 --temperature 0.8 --ids
same "$(cat "$tmp/out")" "$s1" "same seed, same tokens"
expect 2 "tokens 0 (nothing to generate) refused" -- "$TRIL" generate --model "$M" --prompt "x" --tokens 0 --ids
expect 0 "empty prompt starts from eot" -- "$TRIL" generate --model "$M" --tokens 3 --seed 1 --ids
# context: 64 positions; a long prompt stops with a note, a too-long one fails
long=$(printf 'word %.0s' $(seq 1 60))
expect 0 "context full stop" -- "$TRIL" generate --model "$M" --prompt "$long" --tokens 50 --temperature 0 --ids
contains "$tmp/err" "context (64) is full" "context full note"
toolong=$(printf 'word %.0s' $(seq 1 70))
expect 1 "prompt longer than context" -- "$TRIL" generate --model "$M" --prompt "$toolong" --tokens 5
contains "$tmp/err" "context is 64" "too-long prompt message"
expect 2 "top-p 0" -- "$TRIL" generate --model "$M" --prompt x --top-p 0
contains "$tmp/err" "--top-p must be in (0, 1]" "top-p message"
expect 2 "top-p 1.5" -- "$TRIL" generate --model "$M" --prompt x --top-p 1.5
expect 2 "tokens -1" -- "$TRIL" generate --model "$M" --prompt x --tokens -1
contains "$tmp/err" "--tokens expects an integer" "tokens message"
expect 2 "temperature -1" -- "$TRIL" generate --model "$M" --prompt x --temperature -1
expect 2 "unknown flag" -- "$TRIL" generate --model "$M" --bogus
# non-finite logits: finite weights (ln_f.weight = 3e38, so the loader
# accepts them) whose final layer norm overflows, making NaN logits: a
# message naming the token (from the forward's check, or the sampler's) and
# exit 1, not silent ids
cp -R "$M" "$tmp/overflow"
python3 - "$tmp/overflow/model.safetensors" <<'PY'
import json, struct, sys
with open(sys.argv[1], "r+b") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    a, b = json.loads(f.read(n))["ln_f.weight"]["data_offsets"]
    f.seek(8 + n + a)
    f.write(struct.pack("<f", 3e38) * ((b - a) // 4))
PY
for t in 0 1; do
    expect 1 "non-finite logits (temperature $t)" -- "$TRIL" generate --model "$tmp/overflow" --prompt "The dog" --tokens 3 --temperature $t --ids
    check 'grep -qE "non-finite logit .*token [0-9]+|the logit of token [0-9]+ is" "$tmp/err"' "non-finite logit named (temperature $t): $(head -c 300 "$tmp/err")"
done
expect 1 "missing model" -- "$TRIL" generate --model "$tmp/nope" --prompt x
contains "$tmp/err" "$tmp/nope" "missing folder named"

# eval: the line format, and equality with the library figures checked
# against PyTorch in test_gpt2_reference
printf 'The quick brown fox jumps over the lazy dog. %.0s' $(seq 1 20) >"$tmp/text.txt"
expect 0 "eval" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 32
if grep -qE '^tokens=[0-9]+ loss=[0-9.]+ ppl=[0-9.]+$' "$tmp/out"; then ok; else bad "eval line: $(cat "$tmp/out")"; fi
expect 1 "eval missing file" -- "$TRIL" eval --model "$M" --file "$tmp/none.txt"
expect 2 "eval context too long" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 65
expect 2 "eval context 1" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 1
printf 'a' >"$tmp/one.txt"
expect 1 "eval one token" -- "$TRIL" eval --model "$M" --file "$tmp/one.txt"
expect 2 "eval no file" -- "$TRIL" eval --model "$M"

# attention picture
expect 0 "attention png" -- "$TRIL" attention --model "$M" --prompt "The dog ran to the park" --layer 1 --head 0 --png "$tmp/a.png"
[ "$(head -c 8 "$tmp/a.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] && ok || bad "attention PNG signature"
expect 1 "attention bad layer" -- "$TRIL" attention --model "$M" --prompt "The dog" --layer 2 --head 0 --png "$tmp/b.png"
expect 1 "attention bad head" -- "$TRIL" attention --model "$M" --prompt "The dog" --layer 0 --head 5 --png "$tmp/b.png"

# bf16 weights: the same interface, and a clear error for other dtypes
expect 0 "generate bf16" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 6 --temperature 0 --ids --dtype bf16
same "$(wc -w <"$tmp/out" | tr -d ' ')" "6" "6 ids with bf16 weights"
expect 0 "eval bf16" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 32 --dtype bf16
contains "$tmp/out" "loss=" "bf16 eval line"
expect 2 "dtype fp16 refused" -- "$TRIL" generate --model "$M" --prompt x --dtype fp16
contains "$tmp/err" "--dtype expects fp32, bf16 or int8" "dtype message"
expect 0 "bench decode bf16" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2 --dtype bf16
contains "$tmp/out" "dtype=bf16" "bench reports bf16"
expect 2 "bench train bf16 refused" -- "$TRIL" bench train --model "$M" --batch 2 --seq 8 --dtype bf16
# the KV cache's dtype: bf16 by default with bf16 weights, fp32 with fp32
# ones, either on request; a bf16 cache moves the loss, slightly
expect 0 "bench decode bf16 kv default" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2 --dtype bf16
contains "$tmp/out" "kv_dtype=bf16" "bf16 weights: a bf16 KV cache by default"
expect 0 "bench decode fp32 kv default" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2
contains "$tmp/out" "kv_dtype=fp32" "fp32 weights: an fp32 KV cache by default"
expect 0 "bench decode kv fp32" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2 --dtype bf16 --kv-dtype fp32
contains "$tmp/out" "kv_dtype=fp32" "--kv-dtype fp32 with bf16 weights"
expect 0 "eval kv fp32" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 32 --kv-dtype fp32
cp "$tmp/out" "$tmp/eval_kv32"
expect 0 "eval kv bf16" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 32 --kv-dtype bf16
check "! cmp -s '$tmp/out' '$tmp/eval_kv32'" "a bf16 KV cache changes the loss"
expect 0 "generate kv bf16" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 6 --temperature 0 --ids --kv-dtype bf16
same "$(wc -w <"$tmp/out" | tr -d ' ')" "6" "6 ids with a bf16 KV cache"
expect 2 "kv fp16 refused" -- "$TRIL" generate --model "$M" --prompt x --kv-dtype fp16
contains "$tmp/err" "--kv-dtype expects auto, fp32 or bf16" "kv dtype message"
# int8 weights (Q8_0): the same interface
expect 0 "generate int8" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 6 --temperature 0 --ids --dtype int8
same "$(wc -w <"$tmp/out" | tr -d ' ')" "6" "6 ids with int8 weights"
# sampled tokens are a sharp test of equal logits: the int8 kernels with and
# without AVX-512 VNNI (where the CPU has it) agree
expect 0 "generate int8 sampled" -- "$TRIL" generate --model "$M" --prompt "The dog" --tokens 24 --temperature 1.5 --seed 5 --ids --dtype int8
cp "$tmp/out" "$tmp/int8_ids"
expect 0 "generate int8 without VNNI" -- env TRIL_VNNI=0 "$TRIL" generate --model "$M" --prompt "The dog" --tokens 24 --temperature 1.5 --seed 5 --ids --dtype int8
check "cmp -s '$tmp/out' '$tmp/int8_ids'" "int8 with and without VNNI: the same tokens"
expect 0 "eval int8" -- "$TRIL" eval --model "$M" --file "$tmp/text.txt" --context 32 --dtype int8
contains "$tmp/out" "loss=" "int8 eval line"
expect 0 "bench decode int8" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2 --dtype int8
contains "$tmp/out" "dtype=int8" "bench reports int8"
expect 2 "bench train int8 refused" -- "$TRIL" bench train --model "$M" --batch 2 --seq 8 --dtype int8

# model benchmarks (a smoke pass: figures are not judged)
expect 0 "bench forward" -- "$TRIL" bench forward --model "$M" --tokens 16 --repeats 1
contains "$tmp/out" "ms=" "bench forward ms"
expect 0 "bench decode" -- "$TRIL" bench decode --model "$M" --position 4 --repeats 2
contains "$tmp/out" "ms_per_token=" "bench decode figure"
contains "$tmp/out" "limit_gbps=" "bench decode limit"
contains "$tmp/out" "b2b_ms_per_token=" "bench decode back to back"
check "grep -Eq 'load_s=[0-9]+\\.[0-9]{2}( |\$)' '$tmp/out'" "bench decode load time"
expect 0 "bench train" -- "$TRIL" bench train --model "$M" --batch 2 --seq 8 --repeats 1
contains "$tmp/out" "ms_per_step=" "bench train figure"
expect 2 "bench forward too long" -- "$TRIL" bench forward --model "$M" --tokens 65
expect 2 "bench train no batch" -- "$TRIL" bench train --model "$M" --seq 8
expect 1 "bench unknown model" -- "$TRIL" bench forward --model gpt2-999m --tokens 4
expect 2 "bench no model" -- "$TRIL" bench decode --position 3

echo "gpt2 cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
