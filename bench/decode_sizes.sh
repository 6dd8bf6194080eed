#!/usr/bin/env bash
# Decode speed per weight dtype and GPT-2 size: ms/token, GB/s read, the
# fraction of the streaming limit measured in the same run, the steady RSS
# and the peak while loading, from Hugging Face folders (random weights,
# F32, made once by tests/ref/gpt2_torch.py: 0.5 / 1.4 / 3.1 / 6.2 GB).
#
#   bench/decode_sizes.sh [--tril build/tril] [--dir /tmp/tril-sizes]
#                         [--sizes "124m 355m 774m 1558m"] [--dtypes "fp32 bf16 int8"]
#                         [--position 16] [--repeats 20]
set -euo pipefail
cd "$(dirname "$0")/.."
tril=build/tril dir=/tmp/tril-sizes sizes="124m 355m 774m 1558m" dtypes="fp32 bf16 int8"
position=16 repeats=20
while [ $# -gt 0 ]; do
    case "$1" in
        --tril) tril=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --dtypes) dtypes=$2; shift 2 ;;
        --position) position=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
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
printf '%-6s %-5s %12s %8s %10s %9s %9s %12s\n' size dtype ms_per_token gbps limit_gbps of_limit rss_mb load_peak_mb
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
                   --dtype "$dtype" | tail -1)
        get() { tr ' ' '\n' <<<"$line" | sed -n "s/^$1=//p"; }
        printf '%-6s %-5s %12s %8s %10s %9s %9s %12s\n' "$size" "$dtype" "$(get ms_per_token)" \
            "$(get gbps)" "$(get limit_gbps)" "$(get of_limit)" "$(get peak_rss_mb)" \
            "$(get load_peak_rss_mb)"
    done
done
