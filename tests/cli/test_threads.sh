#!/usr/bin/env bash
# Threads on a shared machine: the runtime settings tril puts in place before
# OpenMP and OpenBLAS start (a bounded spin, a vector OpenBLAS kernel), and
# --threads / TRIL_NUM_THREADS on every command that computes.
# usage: test_threads.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# ctest sets OMP_WAIT_POLICY for every test: start from a user's environment.
clean=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OPENBLAS_CORETYPE -u TRIL_NUM_THREADS
       -u TRIL_RUNTIME_ENV)

# The wait policy: bounded spinning unless the user chose one.
expect 0 "version" -- "${clean[@]}" "$TRIL" version
contains "$tmp/out" "GOMP_SPINCOUNT=1000" "a bounded spin is set before OpenMP starts"
expect 0 "version, user's policy" -- "${clean[@]}" OMP_WAIT_POLICY=active "$TRIL" version
contains "$tmp/out" "OMP_WAIT_POLICY=active GOMP_SPINCOUNT=(unset)" "the user's OMP_WAIT_POLICY is kept"
expect 0 "version, user's spin" -- "${clean[@]}" GOMP_SPINCOUNT=77 "$TRIL" version
contains "$tmp/out" "GOMP_SPINCOUNT=77" "the user's GOMP_SPINCOUNT is kept"
# The settings reach the computing process itself (not only `version`): a
# running bench's environment has them.
"${clean[@]}" "$TRIL" bench decode --model gpt2-124m --position 8 --repeats 1000 >/dev/null 2>&1 &
pid=$!
sleep 2
if [ -r "/proc/$pid/environ" ] && tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "GOMP_SPINCOUNT=1000"; then
    ok
else
    bad "a running bench decode does not have GOMP_SPINCOUNT=1000 in its environment"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

# OpenBLAS's GEMM kernel uses the vector unit the CPU has (0.3.21 falls back
# to SSE3 "Prescott" on CPUs it does not know).
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    expect 0 "version (openblas)" -- "${clean[@]}" "$TRIL" version
    core=$(sed -n 's/^openblas: \([A-Za-z0-9]*\).*/\1/p' "$tmp/out")
    case "$(echo "$core" | tr 'A-Z' 'a-z')" in
        haswell|zen|skylakex|cooperlake|sapphirerapids|excavator) ok ;;
        *) bad "OpenBLAS runs the '$core' kernel on a CPU with AVX2+FMA" ;;
    esac
    expect 0 "version, user's core" -- "${clean[@]}" OPENBLAS_CORETYPE=Haswell "$TRIL" version
    contains "$tmp/out" "openblas: Haswell" "the user's OPENBLAS_CORETYPE is kept"
fi

# TRIL_NUM_THREADS and --threads
expect 0 "TRIL_NUM_THREADS=1" -- env TRIL_NUM_THREADS=1 "$TRIL" bench attention --seq 32 --heads 2 --head-dim 16 --repeats 1
contains "$tmp/out" "threads=1 " "TRIL_NUM_THREADS sets the thread count"
expect 0 "--threads over TRIL_NUM_THREADS" -- env TRIL_NUM_THREADS=1 "$TRIL" bench attention --seq 32 --heads 2 --head-dim 16 --repeats 1 --threads 2
contains "$tmp/out" "threads=2 " "--threads wins over TRIL_NUM_THREADS"
for bad_value in 0 -1 abc 2x 1025; do
    expect 2 "TRIL_NUM_THREADS='$bad_value'" -- env TRIL_NUM_THREADS="$bad_value" "$TRIL" mask 2
    contains "$tmp/err" "TRIL_NUM_THREADS must be an integer in [1, 1024]" "TRIL_NUM_THREADS='$bad_value' message"
done
expect 0 "TRIL_NUM_THREADS='' (= unset)" -- env TRIL_NUM_THREADS= "$TRIL" mask 2
for i in $(seq 20); do printf 'To be, or not to be, that is the question.\n'; done >"$tmp/text.txt"
# every computing command takes --threads: 1 works, 0 is a usage error
cmds=(
    "generate --tokens 3 --seed 1"
    "eval --file $tmp/text.txt --context 8"
    "leakcheck --trials 1 --seq 8"
    "attention --prompt abcdef --layer 0 --head 0 --png $tmp/a.png"
    "train --data $tmp/text.txt --out $tmp/run --steps 1 --batch 1 --seq 8 --layers 1 --heads 1 --embd 8 --context 8 --eval-every 0"
    "bench attention --seq 16 --heads 1 --head-dim 8 --repeats 1"
)
for c in "${cmds[@]}"; do
    rm -rf "$tmp/run"
    # shellcheck disable=SC2086
    expect 0 "$c --threads 1" -- "$TRIL" $c --threads 1
    # shellcheck disable=SC2086
    expect 2 "$c --threads 0" -- "$TRIL" $c --threads 0
    contains "$tmp/err" "--threads expects an integer in [1, 1024]" "$c --threads 0 message"
    name=${c%% *}
    "$TRIL" "$name" --help >"$tmp/help" 2>&1
    contains "$tmp/help" "--threads" "tril $name --help lists --threads"
done
# An unknown TRIL_ISA is refused (not taken as "no limit"); a known one caps.
expect 2 "TRIL_ISA=avx3" -- env TRIL_ISA=avx3 "$TRIL" version
contains "$tmp/err" "TRIL_ISA='avx3' names no instruction set" "TRIL_ISA=avx3 message"
expect 2 "TRIL_VNNI=yes" -- env TRIL_VNNI=yes "$TRIL" version
contains "$tmp/err" "TRIL_VNNI='yes' is neither 0" "TRIL_VNNI=yes message"
expect 0 "TRIL_VNNI=0" -- env TRIL_VNNI=0 "$TRIL" version
expect 0 "TRIL_VNNI=1" -- env TRIL_VNNI=1 "$TRIL" version
expect 2 "TRIL_AMX=on" -- env TRIL_AMX=on "$TRIL" version
contains "$tmp/err" "TRIL_AMX='on' is neither 0" "TRIL_AMX=on message"
expect 0 "TRIL_AMX=0" -- env TRIL_AMX=0 "$TRIL" version
expect 0 "TRIL_AMX=1" -- env TRIL_AMX=1 "$TRIL" version
expect 0 "TRIL_ISA=generic" -- env TRIL_ISA=generic "$TRIL" version
contains "$tmp/out" "kernels: generic" "TRIL_ISA=generic caps the kernels"
finish test_threads
