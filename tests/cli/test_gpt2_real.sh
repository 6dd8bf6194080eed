#!/usr/bin/env bash
# Opt-in: a real Hugging Face GPT-2 checkpoint folder (gpt2, 124M) in
# $TRIL_GPT2_DIR. Skipped (exit 77) when it is not set.
set -u
TRIL=$1
if [ -z "${TRIL_GPT2_DIR:-}" ]; then
    echo "skipped: set TRIL_GPT2_DIR to a Hugging Face gpt2 folder to run"
    exit 77
fi
fail=0
got=$("$TRIL" tokenize --model "$TRIL_GPT2_DIR" --text "Hello, world!")
[ "$got" = "15496 11 995 0" ] || { echo "FAIL: Hello, world! -> $got"; fail=1; }
want="373 1043 287 257 2214 1474 262 16246 286 2688 290 2688 27262 13 198 198 464 3290"
got=$("$TRIL" generate --model "$TRIL_GPT2_DIR" --prompt "The dog" --tokens 18 --temperature 0 --ids)
[ "$got" = "$want" ] || { echo "FAIL: greedy from 'The dog' -> $got"; fail=1; }
[ $fail -eq 0 ] && echo "real gpt2: 2 passed, 0 failed"
exit $fail
