#!/usr/bin/env bash
# Decode speed per weight dtype and GPT-2 size: ms/token, GB/s read, the
# fraction of the streaming limit measured in the same run (of_limit: the
# median token against the best read; paired: the median of each token
# against the read right after it), b2b_ms (the same positions decoded
# back to back, as generation runs them), the steady RSS, the peak while
# loading and the seconds loading took (load_s), from Hugging Face folders
# (random weights, F32, made once by tests/ref/gpt2_torch.py: 0.5 / 1.4 /
# 3.1 / 6.2 GB).
#
#   bench/decode_sizes.sh [--tril build/tril] [--dir /tmp/tril-sizes]
#                         [--sizes "124m 355m 774m 1558m"] [--dtypes "fp32 bf16 int8"]
#                         [--position 16] [--repeats 20] [--threads N] [--torch]
#
# --threads N goes to tril (and with --torch to PyTorch too); default
# $TRIL_NUM_THREADS, else nproc (which honours OMP_NUM_THREADS).
# --torch also runs bench/decode_torch.py (/usr/bin/python3, PyTorch with a
# KV cache: fp32, bf16 = model.to(bfloat16), int8 = quantize_dynamic) on the
# same folder, dtype, position, repeats and threads, and adds the columns
# torch_ms (its ms/token, tokens back to back) and tril_vs_torch (torch_ms /
# b2b_ms: how many times faster tril is); a failed PyTorch run shows "-" and
# the table goes on.
# PyTorch runs in this script's environment: OPENBLAS_CORETYPE=SKYLAKEX
# GOMP_SPINCOUNT=1000 (what tril sets for itself) before the command give it
# tril's settings. Its loader holds the weights in float64 while loading:
# about 3x the F32 file (19 GB at 1558M).
set -euo pipefail
cd "$(dirname "$0")/.."
tril=build/tril dir=/tmp/tril-sizes sizes="124m 355m 774m 1558m" dtypes="fp32 bf16 int8"
position=16 repeats=20 threads=${TRIL_NUM_THREADS:-$(nproc)} torch=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tril) tril=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --dtypes) dtypes=$2; shift 2 ;;
        --position) position=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --torch) torch=1; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "decode_sizes.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
shape() { # layers heads embd
    case "$1" in
        124m) echo "12 12 768" ;; 355m) echo "24 16 1024" ;;
        774m) echo "36 20 1280" ;; 1558m) echo "48 25 1600" ;;
        *) echo "decode_sizes.sh: unknown size $1" >&2; exit 2 ;;
    esac
}
mkdir -p "$dir"
echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
row() { # 11 columns, or 13 with --torch
    printf '%-6s %-5s %12s %8s %10s %9s %7s %7s %9s %12s %6s' "${@:1:11}"
    if [ $# -gt 11 ]; then printf ' %9s %13s' "${@:12}"; fi
    printf '\n'
}
if [ "$torch" = 1 ]; then
    errs=$(mktemp) && trap 'rm -f "$errs"' EXIT
    echo "# threads: $threads; torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
    row size dtype ms_per_token gbps limit_gbps of_limit paired b2b_ms rss_mb load_peak_mb load_s torch_ms tril_vs_torch
else
    row size dtype ms_per_token gbps limit_gbps of_limit paired b2b_ms rss_mb load_peak_mb load_s
fi
for size in $sizes; do
    read -r layers heads embd <<<"$(shape "$size")"
    model=$dir/gpt2-$size
    if [ ! -f "$model/model.safetensors" ]; then
        /usr/bin/python3 tests/ref/gpt2_torch.py make --out "$model" --layers "$layers" \
            --heads "$heads" --embd "$embd" --positions 1024 --vocab 50257 --seed 1 \
            --no-mask-buffers --tokenizer-dir data/gpt2 >/dev/null
    fi
    for dtype in $dtypes; do
        line=$("$tril" bench decode --model "$model" --position "$position" --repeats "$repeats" \
                   --dtype "$dtype" --threads "$threads" | tail -1)
        get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
        cols=("$size" "$dtype" "$(get ms_per_token)" "$(get gbps)" "$(get limit_gbps)" \
              "$(get of_limit)" "$(get paired_of_limit)" "$(get b2b_ms_per_token)" "$(get peak_rss_mb)" \
              "$(get load_peak_rss_mb)" "$(get load_s)")
        if [ "$torch" = 1 ]; then
            tril_ms=$(get b2b_ms_per_token) # PyTorch's tokens run back to back too
            # its check's notes (stderr) are shown only when it fails
            line=$(/usr/bin/python3 bench/decode_torch.py --model "$model" --position "$position" \
                       --repeats "$repeats" --dtype "$dtype" --threads "$threads" \
                       2>"$errs" | tail -1) || { line=; cat "$errs" >&2; }
            torch_ms=$(get ms_per_token)
            if [ -n "$torch_ms" ]; then
                cols+=("$torch_ms" "$(awk -v a="$torch_ms" -v b="$tril_ms" 'BEGIN { printf "%.2f", a / b }')")
            else
                cols+=(- -)
            fi
        fi
        row "${cols[@]}"
    done
done
