#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, into build-fuzz/) and runs
# each fuzz/fuzz_*.c target for a bounded time, starting from a scratch copy
# of its seed corpus (fuzz/corpus/NAME/, NAME = target without "fuzz_") so the
# repository is never modified. Fails if any target finds a crash, leak,
# timeout or out-of-memory; the reproducer is kept in build-fuzz/crashes/.
#
#   scripts/fuzz.sh                 every target, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh safetensors   one target, 5 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
jobs=$(nproc 2>/dev/null || echo 2)

CC=clang cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRIL_FUZZ=ON -DTRIL_BUILD_TESTS=OFF -DTRIL_BUILD_BENCH=OFF >/dev/null
# Only the fuzz targets (and libtril): the rest of the tree is not needed.
targets=()
for src in fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
ran=0
for src in fuzz/fuzz_*.c; do
    target=$(basename "$src" .c)
    name=${target#fuzz_}
    if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
    bin=build-fuzz/fuzz/$target
    [ -x "$bin" ] || { echo "fuzz: $bin was not built" >&2; exit 1; }
    corpus=$work/$name/corpus
    mkdir -p "$corpus" "$work/$name/artifacts"
    if [ -d "fuzz/corpus/$name" ]; then cp -R "fuzz/corpus/$name/." "$corpus/"; fi
    args=(-max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=25
          -print_final_stats=1 -artifact_prefix="$work/$name/artifacts/")
    if [ -f "fuzz/$target.dict" ]; then args+=(-dict="fuzz/$target.dict"); fi
    echo "fuzz: $target for ${seconds}s (seeds: $(ls "$corpus" | wc -l))"
    ran=$((ran + 1))
    if ! "$bin" "${args[@]}" "$corpus" >"$work/$name/log" 2>&1; then
        tail -n 60 "$work/$name/log" >&2
        mkdir -p build-fuzz/crashes
        cp "$work/$name/artifacts/"* build-fuzz/crashes/ 2>/dev/null || true
        echo "fuzz: $target FAILED; reproducers in build-fuzz/crashes/ (run: $bin FILE)" >&2
        failed+=("$target")
    else
        grep -E "^stat::(number_of_executed_units|peak_rss_mb)|Done [0-9]+ runs" \
            "$work/$name/log" | sed "s/^/fuzz: $target: /"
    fi
done
[ "$ran" -gt 0 ] || { echo "fuzz: no target matched" >&2; exit 1; }
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failures in: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: $ran target(s) ran ${seconds}s each without a failure"
