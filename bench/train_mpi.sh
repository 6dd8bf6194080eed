#!/usr/bin/env bash
# Data-parallel tril train on the GPT-2 124M shape (12 layers, 12 heads, 768
# wide, context 1024, the GPT-2 tokenizer; random initial weights), the same
# global batch three ways:
#   one process x 2 threads, --accum 2
#   2 MPI processes x 1 thread, the optimizer sharded (ZeRO-1, the default)
#   2 MPI processes x 1 thread, --replicate-optimizer
# and prints tokens/s, a step's time split into compute (forward + backward),
# waiting for the other rank, gradient exchange and optimizer (rank 0's means
# over the steps), every rank's peak RSS, and whether the two MPI runs made
# the same bytes. Figures in docs/DISTRIBUTED.md.
#
#   bench/train_mpi.sh [--tril PATH] [--steps N] [--batch B] [--seq T] [--threads N]
#                      [--check-bits]
#
# --threads is the single process's thread count (default 2); each MPI
# process gets --threads / 2 (at least 1). --check-bits also runs one process
# with the ranks' thread count and --accum 2, whose model must be the MPI
# runs' bytes (one process with 2 threads rounds some sums differently from 1
# thread at this size, so it is no reference for them). Needs mpirun
# (Debian: openmpi-bin) and about 6 GB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."
tril=build/tril steps=4 batch=4 seq=64 threads=2 check_bits=0
while [ $# -gt 0 ]; do
    case "$1" in
        --tril) tril=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --seq) seq=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --check-bits) check_bits=1; shift ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "train_mpi.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$tril" ] || { echo "train_mpi.sh: $tril not built (bash scripts/setup.sh)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "train_mpi.sh: no mpirun (Debian: openmpi-bin)" >&2; exit 1; }
per_rank=$((threads / 2 > 0 ? threads / 2 : 1))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp data/tinyshakespeare.txt "$work/data.txt" # its token cache goes beside it
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=(--data "$work/data.txt" --tokenizer gpt2 --eval-every 0 --eval-batches 1)
run=(train "${data[@]}" --layers 12 --heads 12 --embd 768 --context 1024 --batch "$batch"
     --seq "$seq" --steps "$steps" --warmup 1)
# Tokenize once (a tiny model), so that no timed run does it.
"$tril" train "${data[@]}" --out "$work/warm" --steps 1 --layers 1 --heads 1 --embd 48 \
    --context 64 --batch 1 --seq 16 >/dev/null 2>&1

# field NAME FILE: the value of NAME=... in a summary
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" "$2" | head -1; }
# tokens/s of steps 2.. (the first step also faults the fresh buffers in)
steady() { awk -F, 'NR > 2 { s += $5; n++ } END { if (n) printf "%.0f", s / n; else print "?" }' "$1/log.csv"; }
report() { # label out-dir summary-file
    printf '%-34s %8s %8s %8s %8s %8s %8s  %s\n' "$1" "$(steady "$2")" \
        "$(field compute "$3")" "$(field wait "$3")" "$(field exchange "$3")" \
        "$(field optimizer "$3")" "$(field peak_rss_mb "$3")" "$(field peak_rss_mb_per_rank "$3")"
}

OMP_NUM_THREADS=$threads "$tril" "${run[@]}" --out "$work/one" --accum 2 --threads "$threads" \
    >"$work/one.txt" 2>"$work/one.err"
for mode in sharded replicated; do
    extra=()
    [ "$mode" = replicated ] && extra=(--replicate-optimizer)
    mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS="$per_rank" -np 2 \
        "$tril" "${run[@]}" --out "$work/$mode" --threads "$per_rank" "${extra[@]}" \
        >"$work/$mode.txt" 2>"$work/$mode.err"
done

echo "GPT-2 124M shape, batch $batch x $seq, 2 micro-batches per step ($((2 * batch * seq)) tokens), $steps steps"
printf '%-34s %8s %8s %8s %8s %8s %8s  %s\n' "run" "tok/s" "compute" "wait" "exchange" "optim" \
    "rss0 MB" "per-rank MB"
printf '%-34s %8s %8s %8s %8s %8s\n' "" "steps 2+" "ms/step" "ms/step" "ms/step" "ms/step"
report "1 process x $threads threads, --accum 2" "$work/one" "$work/one.txt"
report "2 processes x $per_rank thread, sharded" "$work/sharded" "$work/sharded.txt"
report "2 processes x $per_rank thread, replicated" "$work/replicated" "$work/replicated.txt"
same() { cmp -s "$work/$1/model.safetensors" "$work/$2/model.safetensors" && echo yes || echo NO; }
echo "same bytes, sharded vs replicated optimizer: $(same sharded replicated)"
if [ "$check_bits" = 1 ]; then
    OMP_NUM_THREADS=$per_rank "$tril" "${run[@]}" --out "$work/ref" --accum 2 --threads "$per_rank" \
        >/dev/null 2>&1
    echo "same bytes, 2 processes vs 1 process x $per_rank thread --accum 2: $(same sharded ref)"
fi
