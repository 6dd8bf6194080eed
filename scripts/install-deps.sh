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
#           reference results), clang runtime (sanitizers)
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
