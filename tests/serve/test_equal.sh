#!/usr/bin/env bash
# A request's tokens do not depend on what else is served (issue 12): ten
# requests at once - greedy and seeded sampling, prompts from 1 to ~150
# tokens (longer than --prefill-chunk 16, so read over several steps),
# streamed and not - each equal, token for token, to `tril generate` alone
# with the same parameters. usage: test_equal.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
here=$(dirname "$0")
# shellcheck source=../cli/lib.sh
source "$here/../cli/lib.sh"
# shellcheck source=lib.sh
source "$here/lib.sh"

long1="First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

First Citizen:
You are all resolved rather to die than to famish?"
long2="MENENIUS:
Either you must confess yourselves wondrous malicious,
Or be accused of folly. I shall tell you a pretty tale:
it may be you have heard it; but, since it serves my purpose"

# name, prompt, tokens, temperature (0: greedy), top_k, top_p, seed, stream
cases=(
    "g-short|ROMEO:|40|0|0|1|0|0"
    "g-long|$long1|50|0|0|1|0|0"
    "g-one|A|100|0|0|1|0|0"
    "g-stream|ROMEO:|40|0|0|1|0|1"
    "s-juliet|JULIET:|60|0.8|40|1|1|0"
    "s-topp|KING|40|1|0|0.9|2|0"
    "s-long|$long2|30|0.5|10|0.95|3|0"
    "s-hot|To be|80|1.2|100|1|99|0"
    "s-stream|HAMLET:|50|0.9|0|1|5|1"
    "s-long-stream|$long1|40|0.7|20|0.9|17|1"
)

start_server equal --slots 4 --prefill-chunk 16 --max-queue 16 || { finish equal; exit 1; }

body() { # prompt tokens temperature top_k top_p seed stream
    python3 -c 'import json,sys
p, n, t, k, pp, seed, stream = sys.argv[1:]
print(json.dumps({"prompt": p, "max_tokens": int(n), "temperature": float(t), "top_k": int(k),
                  "top_p": float(pp), "seed": int(seed), "stream": stream == "1",
                  "return_token_ids": True}))' "$@"
}

# parse CASE: name, prompt (it may hold newlines, never '|') and the numbers
parse() {
    name=${1%%|*}
    local rest=${1#*|}
    prompt=${rest%|*|*|*|*|*|*}
    IFS='|' read -r n t k p seed stream <<<"${rest#"$prompt"|}"
}

# all at once
pids=()
for c in "${cases[@]}"; do
    parse "$c"
    curl -s -N -o "$tmp/$name.out" -H 'Content-Type: application/json' \
        --data-binary "$(body "$prompt" "$n" "$t" "$k" "$p" "$seed" "$stream")" "$U/v1/completions" &
    pids+=($!)
done
wait "${pids[@]}"
get /metrics
echo "batch rows per step: $(grep -E '^tril_batch_rows_(sum|count)' "$tmp/out" | tr '\n' ' ')"
stop_server equal

# each alone through tril generate
for c in "${cases[@]}"; do
    parse "$c"
    "$TRIL" generate --prompt "$prompt" --tokens "$n" --temperature "$t" --top-k "$k" --top-p "$p" --prefill-chunk 16 \
        --seed "$seed" --ids >"$tmp/$name.gen" 2>"$tmp/$name.err"
    want="[$(sed 's/ /, /g' "$tmp/$name.gen" | tr -d '\n')]"
    if [ "$stream" = 1 ]; then
        if py sse "$tmp/$name.out" >"$tmp/$name.sse" 2>"$tmp/$name.sse_err"; then ok; else
            bad "$name: SSE: $(cat "$tmp/$name.sse_err")"
            continue
        fi
        got=$(jget "$tmp/$name.sse" 'd["ids"]')
    else
        got=$(jget "$tmp/$name.out" 'd["choices"][0]["token_ids"]')
    fi
    same "$got" "$want" "$name (n=$n T=$t k=$k p=$p seed=$seed stream=$stream) = tril generate alone"
done
finish equal
