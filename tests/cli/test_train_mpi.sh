#!/usr/bin/env bash
# Data-parallel tril train under MPI (docs/DISTRIBUTED.md), end to end on a
# small model: N processes give the bytes of one process with N x --accum
# (N = 2, 3, 4, and 2 x --accum 2, with clipping active and weight decay on,
# sharded and replicated optimizer), checkpoints resume across world sizes in
# both directions, a killed rank ends the job with a clear message and
# leaves a checkpoint that loads and resumes, and bad input (a checkpoint's
# micro-batches that N x K does not match, processes given different options,
# output paths rank 0 cannot write) is refused with a message.
# usage: test_train_mpi.sh PATH/TO/tril PATH/TO/mpiexec PATH/TO/tinyshakespeare.txt
set -u
TRIL=$1
MPIEXEC=$2
tmp=$(mktemp -d)
bg_pid=
# (timeout passes a TERM on to mpirun, which ends the ranks)
trap '[ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cp "$3" "$tmp/ts.txt"
D=$tmp/ts.txt
# Open MPI refuses root without these (CI runs as root); 3-4 ranks on a
# 2-core machine need --oversubscribe, and unbound ranks share the cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
# Under AddressSanitizer (scripts/test.sh) the ranks run without leak
# checking: Open MPI never frees much of what it allocates, and unloads its
# components before LeakSanitizer looks, so those leaks cannot be told apart
# or suppressed. ASan and UBSan stay on; tril's own leaks are checked in
# the one-process runs (here and in train_cli), which take the same code.
launch() { # launch ARGS...: the MPI launcher, bounded so that a hang fails
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        timeout 120 "$MPIEXEC" --oversubscribe --bind-to none -x OMP_NUM_THREADS "$@" </dev/null
}
mpi() { # mpi N ARGS...: tril train on N ranks
    local n=$1
    shift
    launch -np "$n" "$TRIL" train "$@"
}
one() { "$TRIL" train "$@"; }
same_file() { if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ"; fi; }
# 0.25M parameters: four 64k-value chunks of the gradient norm, so that 2-4
# ranks each own a real shard. Clipping at 0.5 is active and weight decay
# is on (both checked below).
BASE="--layers 2 --heads 2 --embd 96 --context 64 --seq 32 --batch 4 --lr 3e-3 --warmup 2 --threads 1"
M="$BASE --clip 0.5 --weight-decay 0.1"

# --- N ranks = one process with N x K micro-batches, byte for byte -------------------
for n in 2 3 4; do
    expect 0 "one process --accum $n" -- one --data "$D" --out "$tmp/one$n" $M --steps 24 --eval-every 8 --accum "$n"
    expect 0 "$n ranks" -- mpi "$n" --data "$D" --out "$tmp/mpi$n" $M --steps 24 --eval-every 8
    contains "$tmp/out" "final step=24" "$n ranks: summary from rank 0"
    contains "$tmp/out" "peak_rss_mb_per_rank=" "$n ranks: every rank's peak memory"
    check "[ \"\$(grep -c '^final step=' '$tmp/out')\" -eq 1 ]" "$n ranks: rank 0 alone prints the summary"
    same_file "$tmp/one$n/model.safetensors" "$tmp/mpi$n/model.safetensors" "$n ranks vs one process --accum $n"
    check "diff <(cut -d, -f1-4 '$tmp/one$n/log.csv') <(cut -d, -f1-4 '$tmp/mpi$n/log.csv') >/dev/null" \
        "$n ranks: the same losses (train and validation) and learning rates in the log"
done
expect 0 "2 ranks x --accum 2" -- mpi 2 --data "$D" --out "$tmp/mpi2x2" $M --steps 24 --eval-every 8 --accum 2
contains "$tmp/err" "batch 4 x 32 x 4 accum on 2 processes (2 each)" "2 x 2 micro-batches announced"
same_file "$tmp/one4/model.safetensors" "$tmp/mpi2x2/model.safetensors" "2 ranks x --accum 2 vs one process --accum 4"
expect 0 "2 ranks x --accum 2, replicated optimizer" -- mpi 2 --data "$D" --out "$tmp/rep" $M --steps 24 --eval-every 8 --accum 2 --replicate-optimizer
contains "$tmp/out" "(replicated optimizer)" "replicated optimizer reported"
same_file "$tmp/one4/model.safetensors" "$tmp/rep/model.safetensors" "replicated optimizer vs one process --accum 4"
expect 0 "1 rank under mpirun" -- mpi 1 --data "$D" --out "$tmp/mpi1" $M --steps 24 --eval-every 8 --accum 2
same_file "$tmp/one2/model.safetensors" "$tmp/mpi1/model.safetensors" "mpirun -np 1 vs one process"
# the settings compared above matter: without clipping or decay the bytes differ
expect 0 "one process, no clipping" -- one --data "$D" --out "$tmp/noclip" $BASE --weight-decay 0.1 --steps 24 --eval-every 8 --accum 4 --clip 0
check "! cmp -s '$tmp/one4/model.safetensors' '$tmp/noclip/model.safetensors'" "clipping was active"
expect 0 "one process, no weight decay" -- one --data "$D" --out "$tmp/nowd" $BASE --clip 0.5 --steps 24 --eval-every 8 --accum 4 --weight-decay 0
check "! cmp -s '$tmp/one4/model.safetensors' '$tmp/nowd/model.safetensors'" "weight decay was on"
check "[ -f '$D.bytes.tokens' ]" "the token cache next to the data"

# --- resume across world sizes, both directions ------------------------------------------
R="--data $D $M --steps 30 --eval-every 10 --save-every 15"
expect 0 "one process, checkpoints" -- one $R --out "$tmp/A1" --accum 2
expect 0 "2 ranks, checkpoints" -- mpi 2 $R --out "$tmp/A2"
same_file "$tmp/A1/checkpoint-15/optimizer.safetensors" "$tmp/A2/checkpoint-15/optimizer.safetensors" \
    "a checkpoint's gathered optimizer state does not depend on the ranks"
same_file "$tmp/A1/checkpoint-15/model.safetensors" "$tmp/A2/checkpoint-15/model.safetensors" "checkpoint weights"
expect 0 "2-rank checkpoint resumed by one process --accum 2" -- one --resume "$tmp/A2/checkpoint-15" --out "$tmp/B1" --accum 2
same_file "$tmp/A1/model.safetensors" "$tmp/B1/model.safetensors" "resumed 2 -> 1"
expect 0 "1-process checkpoint resumed by 2 ranks" -- mpi 2 --resume "$tmp/A1/checkpoint-15" --out "$tmp/B2"
contains "$tmp/err" "resuming" "resume announced"
same_file "$tmp/A1/model.safetensors" "$tmp/B2/model.safetensors" "resumed 1 -> 2"
check "diff <(cut -d, -f1-4 '$tmp/A1/log.csv') <(cut -d, -f1-4 '$tmp/B2/log.csv') >/dev/null" "resumed log equals the original"
expect 0 "2-rank checkpoint resumed by 2 ranks, replicated optimizer" -- mpi 2 --resume "$tmp/A2/checkpoint-15" --out "$tmp/B3" --replicate-optimizer
same_file "$tmp/A1/model.safetensors" "$tmp/B3/model.safetensors" "resumed into a replicated optimizer"

# --- bad input ---------------------------------------------------------------------------
expect 2 "N x K above the checkpoint's" -- mpi 2 --resume "$tmp/A1/checkpoint-15" --out "$tmp/C" --accum 2
contains "$tmp/err" "--accum 2 on 2 processes makes 4 micro-batches per step, but the checkpoint's run takes 2: give --accum 1" "N x K mismatch explained"
expect 2 "N not dividing the checkpoint's micro-batches" -- mpi 3 --resume "$tmp/A1/checkpoint-15" --out "$tmp/C"
contains "$tmp/err" "takes 2 micro-batches per step, which 3 processes cannot share" "3 ranks refused"
expect 2 "one process, other --accum" -- one --resume "$tmp/A2/checkpoint-15" --out "$tmp/C" --accum 1
contains "$tmp/err" "--accum 1 disagrees with the checkpoint (2)" "one process: --accum named"
check "[ ! -e '$tmp/C/model.safetensors' ]" "refused resumes wrote no model"
T="--data $D --out $tmp/F $M --eval-every 0"
expect 2 "ranks given different --steps" -- launch -np 1 "$TRIL" train $T --steps 20 \
    : -np 1 "$TRIL" train $T --steps 30
contains "$tmp/err" "rank 1: --steps is 30 here but 20 on rank 0: every process must be given the same options" "differing flag named"
expect 2 "a flag on rank 1 only" -- launch -np 1 "$TRIL" train $T --steps 2 \
    : -np 1 "$TRIL" train $T --steps 2 --no-causal-mask
contains "$tmp/err" "rank 1: --no-causal-mask is given here but not on rank 0" "flag on one rank named"
expect 2 "rank 1's options do not parse" -- launch -np 1 "$TRIL" train $T --steps 2 \
    : -np 1 "$TRIL" train $T --steps 2x
contains "$tmp/err" "rank 1: its options do not parse but rank 0's do" "rank 1's bad options named"
check "[ ! -e '$tmp/F' ]" "no output folder from refused jobs"
expect 2 "bad options on every rank: said once" -- mpi 2 $T --steps 2x
check "[ \"\$(grep -c 'expects an integer' '$tmp/err')\" -eq 1 ]" "the parse error printed once"
expect 1 "an output folder rank 0 cannot create" -- mpi 2 --data "$D" --out /dev/null/sub $M --steps 2
contains "$tmp/err" "rank 0: cannot create the output folder '/dev/null/sub'" "unwritable --out named"
mkdir "$tmp/G"
echo "not a folder" >"$tmp/G/checkpoint-2" # rank 0 cannot write checkpoint-2 there (even as root)
expect 1 "a checkpoint rank 0 cannot write" -- mpi 2 --data "$D" --out "$tmp/G" $M --steps 6 --save-every 2 --overwrite
contains "$tmp/err" "rank 0: cannot save a checkpoint" "failed checkpoint named"
check "[ ! -e '$tmp/G/model.safetensors' ]" "no model after a failed checkpoint"
expect 1 "a log rank 0 cannot write" -- mpi 2 --data "$D" --out "$tmp/H" $M --steps 4 --log /dev/full
contains "$tmp/err" "rank 0: cannot write the log '/dev/full'" "failed log named"

# --- a rank killed mid-run ---------------------------------------------------------------
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" timeout 120 "$MPIEXEC" --oversubscribe \
    --bind-to none -x OMP_NUM_THREADS -np 2 "$TRIL" train --data "$D" --out "$tmp/K" $M --steps 1000000 \
    --save-every 2 --eval-every 0 </dev/null >"$tmp/K.out" 2>"$tmp/K.err" &
bg_pid=$!
for _ in $(seq 600); do [ -d "$tmp/K/checkpoint-6" ] && break; sleep 0.05; done
victim=
launcher=$(pgrep -P "$bg_pid" | head -1) # timeout's child is mpirun, whose children are the ranks
for p in $(pgrep -P "$launcher"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && victim=$p
done
check "[ -n '$victim' ]" "rank 1 found (the launcher's children: $(pgrep -P "$launcher" | tr '\n' ' '))"
[ -n "$victim" ] && kill -9 "$victim"
start=$SECONDS
wait "$bg_pid"
code=$?
bg_pid=
check "[ $code -ne 0 ] && [ $code -ne 124 ]" "the job ends with an error, not a hang or success (exit $code)"
check "[ $((SECONDS - start)) -lt 60 ]" "the job ends soon after the kill ($((SECONDS - start)) s)"
contains "$tmp/K.err" "rank 1" "the dead rank named"
contains "$tmp/K.err" "signal 9" "how it died"
newest=$(ls -d "$tmp"/K/checkpoint-* 2>/dev/null | grep -E '/checkpoint-[0-9]+$' | sort -t- -k2 -n | tail -1)
check "[ -n '$newest' ]" "checkpoints written before the kill"
torn=0
for f in config.json model.safetensors optimizer.safetensors trainer_state.json; do [ -s "$newest/$f" ] || torn=$((torn + 1)); done
check "[ $torn -eq 0 ]" "the newest checkpoint is whole ($newest)"
expect 0 "the newest checkpoint loads" -- "$TRIL" info --model "$newest"
n=${newest##*-}
expect 0 "resume after the kill, 2 ranks" -- mpi 2 --resume "$newest" --out "$tmp/K" --steps $((n + 2))
contains "$tmp/out" "final step=$((n + 2))" "resumed past the kill"
expect 0 "the resumed folder loads" -- "$TRIL" info --model "$tmp/K"

finish "train mpi"
