#!/usr/bin/env bash
# tril generate --prompts-file: every prompt's ids equal `tril generate` of
# that prompt alone with the same parameters (plain lines use the command's
# options; JSON lines their own), one JSON line per prompt in order; bad
# lines are refused. Usage: test_prompts_file.sh TRIL
set -u
TRIL=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"

long=$(head -c 150 "$(dirname "$0")/../../data/tinyshakespeare.txt" | tr '\n"\\' '   ')
{
    echo "ROMEO:"
    echo ""
    echo '{"prompt": "JULIET: O", "max_tokens": 7, "temperature": 0}'
    echo "$long"
    echo '{"prompt": "First", "temperature": 1.5, "top_k": 5, "seed": 11}'
    echo "KING HENRY:"
    echo '{"prompt": "To be", "top_p": 0.5, "seed": 2, "max_tokens": 12}'
} > "$tmp/prompts.txt"
expect 0 "prompts file" -- "$TRIL" generate --prompts-file "$tmp/prompts.txt" --tokens 9 --seed 5 \
    --slots 3 --prefill-chunk 32
cp "$tmp/out" "$tmp/batch.jsonl"
check "[ \$(wc -l < '$tmp/batch.jsonl') -eq 6 ]" "one line per non-blank prompt"
ids() { # line-number -> ids of that result
    /usr/bin/python3 -c 'import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; r=[x for x in rows if x["line"]==int(sys.argv[2])][0]; print(" ".join(map(str,r["ids"])))' "$tmp/batch.jsonl" "$1"
}
alone() { "$TRIL" generate --ids --prefill-chunk 32 "$@" 2>/dev/null; }
same "$(ids 1)" "$(alone --prompt "ROMEO:" --tokens 9 --seed 5)" "plain line = generate alone"
same "$(ids 3)" "$(alone --prompt "JULIET: O" --tokens 7 --temperature 0 --seed 5)" "JSON line, greedy"
same "$(ids 4)" "$(alone --prompt "$long" --tokens 9 --seed 5)" "a prompt longer than the chunk"
same "$(ids 5)" "$(alone --prompt "First" --tokens 9 --temperature 1.5 --top-k 5 --seed 11)" "JSON sampling parameters"
same "$(ids 6)" "$(alone --prompt "KING HENRY:" --tokens 9 --seed 5)" "plain line after JSON lines"
same "$(ids 7)" "$(alone --prompt "To be" --tokens 12 --top-p 0.5 --seed 2)" "JSON top_p and seed"
contains "$tmp/batch.jsonl" '"finish_reason":"length"' "finish_reason"
# bad lines: exit 2 naming the line
printf 'ok\n{"prompt": 3}\n' > "$tmp/bad.txt"
expect 2 "prompt not a string" -- "$TRIL" generate --prompts-file "$tmp/bad.txt"
contains "$tmp/err" "line 2 of the prompts file" "bad line named"
printf '{"prompt": "a", "max_tokens": 0}\n' > "$tmp/bad.txt"
expect 2 "max_tokens 0" -- "$TRIL" generate --prompts-file "$tmp/bad.txt"
printf '{"prompt": "a", "top_p": 2}\n' > "$tmp/bad.txt"
expect 2 "top_p 2" -- "$TRIL" generate --prompts-file "$tmp/bad.txt"
printf '{not json\n' > "$tmp/bad.txt"
expect 2 "malformed JSON" -- "$TRIL" generate --prompts-file "$tmp/bad.txt"
expect 2 "--slots without --prompts-file" -- "$TRIL" generate --slots 2
expect 2 "--prompt and --prompts-file" -- "$TRIL" generate --prompt a --prompts-file "$tmp/prompts.txt"
finish test_prompts_file
