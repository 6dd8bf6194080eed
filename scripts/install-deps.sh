#!/usr/bin/env bash
# Installs what tril needs on Debian 12 (bookworm). Run as root or with sudo.
#   build:  cmake, a C compiler, libpng (pictures), OpenMP (gcc's libgomp),
#           libmicrohttpd (the HTTP server of tril serve),
#           cJSON (config/safetensors/vocab JSON), PCRE2 (GPT-2 pre-tokenizer
#           regex with Unicode classes), OpenBLAS (GEMM; the OpenMP build),
#           Open MPI (libopenmpi-dev: data-parallel `tril train` under
#           mpirun/srun, docs/DISTRIBUTED.md; optional, CMake's TRIL_MPI)
#   run:    openmpi-bin (mpirun, for `mpirun -np N tril train` and its tests)
#   tests:  cmocka (C unit tests), python3-torch + numpy (independent
#           reference results), clang runtime (sanitizers), Node.js + npm
#           (the openai client test of tril serve; only if missing)
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential cmake pkg-config libpng-dev libcmocka-dev libcjson-dev libpcre2-dev \
    libmicrohttpd-dev curl \
    libopenblas-openmp-dev \
    libopenmpi-dev openmpi-bin \
    clang libclang-rt-14-dev libomp-dev \
    python3 python3-torch python3-numpy
# Node.js and npm for the tril serve test with the official openai client
# (.ci/run then runs `npm ci --prefix tests/serve`). Debian's own packages
# (Node.js 18) only where none is there yet: a machine with another Node.js
# build (npm bundled) keeps it, since Debian's npm would conflict with it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
