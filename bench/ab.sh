#!/usr/bin/env bash
# A/B of two tril builds on the same workloads, alternating A and B run by
# run so that a machine whose speed drifts (shared cores, turbo, other jobs)
# drifts for both. Prints each workload's median and range per build and
# the ratio B/A of the medians (< 1: B faster).
#
#   bench/ab.sh --a OLD/tril --b NEW/tril [--repeats R] [--quick] [--only REGEX]
#
# Workloads: attention forward (T=1024, 12 heads, D=64), decode at position
# 16 (fp32, bf16), forward of 1024 tokens and one training step (B=1,
# T=256), all on GPT-2 124M with random weights. --quick: smaller shapes.
set -euo pipefail
cd "$(dirname "$0")/.."
a="" b="" repeats=5 quick=0 only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --a) a=$2; shift 2 ;;
        --b) b=$2; shift 2 ;;
        --repeats) repeats=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --only) only=$2; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "ab.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$a" ] && [ -x "$b" ] || { echo "ab.sh: --a and --b must name tril programs" >&2; exit 2; }
if [ "$quick" = 1 ]; then
    work=("attention|bench attention --seq 256 --heads 4 --head-dim 64 --repeats 5|ms"
          "decode_fp32|bench decode --model gpt2-124m --position 16 --repeats 5|ms_per_token")
else
    work=("attention_fwd_1024|bench attention --seq 1024 --heads 12 --head-dim 64 --repeats 10|ms"
          "decode_fp32|bench decode --model gpt2-124m --position 16 --repeats 20|ms_per_token"
          "decode_bf16|bench decode --model gpt2-124m --position 16 --dtype bf16 --repeats 20|ms_per_token"
          "forward_1024|bench forward --model gpt2-124m --tokens 1024 --repeats 2|ms"
          "train_step_b1_t256|bench train --model gpt2-124m --batch 1 --seq 256 --repeats 2|ms_per_step")
fi
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }
stats() { sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.3f %.3f %.3f\n", m, v[1], v[NR]}'; }
echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%F)"
echo "# A=$a B=$b repeats=$repeats (alternating)"
printf "%-20s %22s %22s %8s\n" workload "A median [min-max]" "B median [min-max]" "B/A"
for w in "${work[@]}"; do
    IFS='|' read -r name args key <<<"$w"
    [ -n "$only" ] && ! [[ "$name" =~ $only ]] && continue
    ra=() rb=()
    for ((r = 0; r < repeats; r++)); do
        # shellcheck disable=SC2086
        ra+=("$("$a" $args 2>/dev/null | field "$key")")
        # shellcheck disable=SC2086
        rb+=("$("$b" $args 2>/dev/null | field "$key")")
    done
    read -r ma lo_a hi_a < <(printf '%s\n' "${ra[@]}" | stats)
    read -r mb lo_b hi_b < <(printf '%s\n' "${rb[@]}" | stats)
    printf "%-20s %8s [%s-%s] %8s [%s-%s] %8.3f\n" "$name" "$ma" "$lo_a" "$hi_a" "$mb" "$lo_b" "$hi_b" \
        "$(awk -v a="$ma" -v b="$mb" 'BEGIN {print b / a}')"
done
