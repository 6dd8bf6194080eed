#!/usr/bin/env bash
# Installs the Debian packages tril needs and builds it into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The official openai npm client for the tril serve test (tests/serve),
# pinned by its package-lock.json; needs Node.js and npm on the machine.
if command -v npm >/dev/null; then
    npm ci --prefix tests/serve --no-audit --no-fund >/dev/null ||
        echo "setup: npm ci --prefix tests/serve failed: the serve_openai test will say so" >&2
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
