#!/usr/bin/env bash
# Broken weights through the model commands: a NaN weight is refused at load
# (naming the tensor and index), and finite weights whose logits overflow
# fail at run time. Never a NaN loss, NUL bytes or garbage with exit 0.
# usage: test_gpt2_nonfinite_cli.sh PATH/TO/tril CASES_DIR PYTHON
set -u
TRIL=$1
SRC=$2/small_f32
PY=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# make_model DIR NAME:BEGIN:END:VALUE...: a copy of small_f32 (F32) with
# elements [BEGIN, END) of tensor NAME set to VALUE in the file.
make_model() {
    local dir=$1
    shift
    mkdir -p "$dir" || return 1
    cp "$SRC/config.json" "$SRC/vocab.json" "$SRC/merges.txt" "$SRC/model.safetensors" "$dir/" || return 1
    "$PY" - "$dir/model.safetensors" "$@" <<'EOF'
import json, struct, sys
path, edits = sys.argv[1], sys.argv[2:]
with open(path, "r+b") as f:
    data = bytearray(f.read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    for e in edits:
        name, begin, end, value = e.split(":")
        assert header[name]["dtype"] == "F32"
        at = 8 + n + header[name]["data_offsets"][0]
        for i in range(int(begin), int(end)):
            struct.pack_into("<f", data, at + 4 * i, float(value))
    f.seek(0)
    f.write(data)
EOF
}

printf 'The quick brown fox jumps over the lazy dog. %.0s' $(seq 1 10) >"$tmp/text.txt"

# One NaN weight: every command that loads the model says where it is.
N=$tmp/nan
make_model "$N" "h.1.attn.c_attn.weight:1234:1235:nan" || bad "make the NaN model"
want="tensor 'h.1.attn.c_attn.weight' has a non-finite value (nan) at index 1234"
expect 1 "generate, NaN weight" -- "$TRIL" generate --model "$N" --prompt "The dog" --tokens 4 --temperature 0
contains "$tmp/err" "$want" "generate names the NaN"
expect 1 "generate bf16, NaN weight" -- "$TRIL" generate --model "$N" --prompt "The dog" --tokens 4 --dtype bf16
contains "$tmp/err" "$want" "generate bf16 names the NaN"
expect 1 "generate int8, NaN weight" -- "$TRIL" generate --model "$N" --prompt "The dog" --tokens 4 --dtype int8
contains "$tmp/err" "$want" "generate int8 names the NaN"
expect 1 "eval, NaN weight" -- "$TRIL" eval --model "$N" --file "$tmp/text.txt" --context 32
contains "$tmp/err" "$want" "eval names the NaN"
expect 1 "leakcheck, NaN weight" -- "$TRIL" leakcheck --model "$N" --trials 2 --seq 8
contains "$tmp/err" "$want" "leakcheck names the NaN"
expect 1 "info, NaN weight" -- "$TRIL" info --model "$N"
contains "$tmp/err" "$want" "info names the NaN"

# Finite weights, overflowing logit: ln_f passes a constant 1 (weight 0, bias
# 1), so token 50000's logit is 64 x -3e38 = -inf whatever the input (no
# prompt or text below holds that token).
O=$tmp/overflow
make_model "$O" "ln_f.weight:0:64:0" "ln_f.bias:0:64:1" "wte.weight:3200000:3200064:-3e38" ||
    bad "make the overflow model"
expect 0 "info, finite weights" -- "$TRIL" info --model "$O"
# int8 holds a block's scale (max |w| / 127) in fp16: -3e38 is refused at
# load, naming the tensor. Its overflow model keeps |w| within fp16's range
# (8e6) and makes ln_f's constant 1e32: 1e32 x 64 x -8e6 is -inf in fp32,
# in the GEMM (eval) and the quantised GEMV (decoding) alike.
expect 1 "generate int8, weight beyond an fp16 scale" -- "$TRIL" generate --model "$O" --prompt "The dog" --tokens 4 --dtype int8
contains "$tmp/err" "tensor 'wte.weight': int8 quantisation: row 50000 has a weight beyond what an fp16 block scale holds" "int8 names the weight it cannot scale"
O8=$tmp/overflow8
make_model "$O8" "ln_f.weight:0:64:0" "ln_f.bias:0:64:1e32" "wte.weight:3200000:3200064:-8e6" ||
    bad "make the int8 overflow model"
for dtype in fp32 bf16 int8; do
    model=$O
    [ $dtype = int8 ] && model=$O8
    expect 1 "generate $dtype, overflow" -- "$TRIL" generate --model "$model" --prompt "The dog" --tokens 4 --temperature 0 --dtype $dtype
    contains "$tmp/err" "non-finite logit (-inf)" "generate $dtype reports the overflow"
    check "cmp -s <(tr -d '\\000' <'$tmp/out') '$tmp/out'" "generate $dtype printed no NUL bytes"
    expect 1 "eval $dtype, overflow" -- "$TRIL" eval --model "$model" --file "$tmp/text.txt" --context 32 --dtype $dtype
    contains "$tmp/err" "non-finite logit (-inf)" "eval $dtype reports the overflow"
    check "! grep -q 'loss=' '$tmp/out'" "eval $dtype printed no loss"
done
expect 1 "leakcheck, overflow" -- "$TRIL" leakcheck --model "$O" --trials 2 --seq 8
contains "$tmp/err" "non-finite logit" "leakcheck reports the overflow"
check "! grep -q 'max_abs_change' '$tmp/out'" "leakcheck printed no value"

finish "gpt2 nonfinite cli"
