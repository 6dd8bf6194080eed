#!/usr/bin/env bash
# tril serve through the official `openai` npm package (openai_client.mjs).
# Needs Node.js and tests/serve/node_modules: `npm ci --prefix tests/serve`
# (.ci/run does it before scripts/test.sh). Fails, never skips, without them.
# usage: test_openai.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../cli/lib.sh
source "$here/../cli/lib.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"

if ! command -v node >/dev/null; then
    echo "FAIL: node (Node.js >= 18) is not installed: the openai client test needs it"
    exit 1
fi
if [ ! -f "$here/node_modules/openai/package.json" ]; then
    echo "FAIL: the openai npm package is missing: run 'npm ci --prefix tests/serve' first"
    echo "      (from the source tree; .ci/run does this before scripts/test.sh)"
    exit 1
fi

"$TRIL" generate --prompt "ROMEO:" --tokens 30 --temperature 0 >"$tmp/expected" 2>/dev/null
start_server openai --api-key test-key-123 || { finish openai; exit 1; }
if node "$here/openai_client.mjs" "$U" test-key-123 "$tmp/expected"; then ok; else bad "the openai client's checks"; fi
stop_server openai
finish openai
