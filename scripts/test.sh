#!/usr/bin/env bash
# Builds tril twice (optimised, and with AddressSanitizer + UBSan) and runs
# every test in both, the PyTorch reference tests included (TRIL_TORCH_TESTS=ON:
# configuring fails without python3-torch instead of leaving them out) and the
# MPI training tests (TRIL_MPI=ON: configuring fails without Open MPI). This
# is the command CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTRIL_TORCH_TESTS=ON -DTRIL_MPI=ON >/dev/null
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTRIL_SANITIZE=ON -DTRIL_BUILD_BENCH=OFF \
    -DTRIL_TORCH_TESTS=ON -DTRIL_MPI=ON -DTRIL_BUILD_SHARED=OFF >/dev/null
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"

# The benchmark must keep working (figures only, no pass/fail on speed).
./build/bench/bench_attention 256
./build/tril bench attention --seq 256 --heads 12 --head-dim 64 --repeats 3
# Fuzz the file parsers (safetensors, tokenizer) and the sampler for a bounded time.
FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
echo "all tests passed (release and asan+ubsan builds)"
