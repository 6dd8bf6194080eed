#!/usr/bin/env bash
# End-to-end tests of tril train / plot / leakcheck on tiny models: a run
# that produces a loadable folder and a log, plots, bit-identical resume, a
# run killed while it writes checkpoints, one run per output folder (lock,
# --overwrite), fine-tuning, the GPT-2 tokenizer, causality, and every bad
# input with its exit code.
# usage: test_train_cli.sh PATH/TO/tril PATH/TO/tinyshakespeare.txt
set -u
TRIL=$1
tmp=$(mktemp -d)
bg_pid=
trap '[ -n "$bg_pid" ] && kill -9 "$bg_pid" 2>/dev/null; rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cp "$2" "$tmp/ts.txt" # the token cache is written next to the data
D=$tmp/ts.txt
TINY="--layers 1 --heads 2 --embd 32 --context 64 --seq 32 --batch 4"

# --- a tiny byte-level run -------------------------------------------------------
expect 0 "train 20 steps" -- "$TRIL" train --data "$D" --out "$tmp/run" $TINY --steps 20 --eval-every 5
contains "$tmp/out" "final step=20 train_loss=" "summary line"
contains "$tmp/out" "peak_rss_mb=" "peak RSS"
contains "$tmp/err" "step 20/20" "progress line"
check "[ -f '$tmp/run/config.json' ] && [ -f '$tmp/run/model.safetensors' ]" "model folder written"
check "[ -f '$D.bytes.tokens' ]" "token cache next to the data"
check "[ \"\$(head -1 '$tmp/run/log.csv')\" = 'step,train_loss,val_loss,lr,tokens_per_s' ]" "CSV header"
check "[ \"\$(wc -l <'$tmp/run/log.csv')\" -eq 21 ]" "one CSV row per step"
check "grep -q '^5,[0-9.]*,[0-9.]\\+,' '$tmp/run/log.csv' && grep -q '^4,[0-9.]*,,' '$tmp/run/log.csv'" \
    "val_loss at eval steps only"
first=$(sed -n 2p "$tmp/run/log.csv" | cut -d, -f2)
last=$(tail -1 "$tmp/run/log.csv" | cut -d, -f2)
check "awk 'BEGIN{exit !($last < $first)}'" "loss goes down ($first -> $last)"
expect 0 "generate from the trained folder" -- "$TRIL" generate --model "$tmp/run" --prompt ROMEO --tokens 20 --seed 1
check "[ \"\$(wc -c <'$tmp/out')\" -ge 1 ]" "generate printed text"
expect 0 "info" -- "$TRIL" info --model "$tmp/run"
contains "$tmp/out" "vocab_size=256" "byte-level vocab"
head -c 3000 "$D" >"$tmp/small.txt"
expect 0 "eval" -- "$TRIL" eval --model "$tmp/run" --file "$tmp/small.txt" --context 64
# the cache is reused: a second run gives the same first loss
expect 0 "train again (cached tokens)" -- "$TRIL" train --data "$D" --out "$tmp/run2" $TINY --steps 2
check "[ \"\$(sed -n 2p '$tmp/run2/log.csv' | cut -d, -f2)\" = '$first' ]" "same data order and loss from the cache"

# --- causality: exactly 0 with the mask, a visible leak without ------------------
expect 0 "leakcheck" -- "$TRIL" leakcheck --model "$tmp/run" --trials 4 --seq 32
check "[ \"\$(cat '$tmp/out')\" = 'max_abs_change=0' ]" "causal model: no change before i ($(cat "$tmp/out"))"
expect 0 "leakcheck --no-causal-mask" -- "$TRIL" leakcheck --model "$tmp/run" --trials 4 --seq 32 --no-causal-mask
check "awk -F= '/max_abs_change/{exit !(\$2 > 0)}' '$tmp/out'" "mask off: the future leaks ($(cat "$tmp/out"))"
expect 0 "train --no-causal-mask" -- "$TRIL" train --data "$D" --out "$tmp/cheat" $TINY --steps 20 --eval-every 5 --no-causal-mask
expect 2 "leakcheck --seq > context" -- "$TRIL" leakcheck --model "$tmp/run" --seq 65
expect 1 "leakcheck missing model" -- "$TRIL" leakcheck --model "$tmp/nope"

# --- plot --------------------------------------------------------------------------
expect 0 "plot" -- "$TRIL" plot --log "$tmp/run/log.csv" --png "$tmp/loss.png"
check "[ \"\$(head -c 8 '$tmp/loss.png' | od -An -tx1 | tr -d ' ')\" = '89504e470d0a1a0a' ]" "PNG written"
expect 0 "plot two logs" -- "$TRIL" plot --log "$tmp/run/log.csv" --log2 "$tmp/cheat/log.csv" \
    --label causal --label2 "no mask" --png "$tmp/cmp.png"
check "[ -s '$tmp/cmp.png' ]" "comparison PNG written"
expect 1 "plot missing log" -- "$TRIL" plot --log "$tmp/none.csv" --png "$tmp/x.png"
printf 'a,b,c\n1,2,3\n' >"$tmp/badhdr.csv"
expect 1 "plot bad header" -- "$TRIL" plot --log "$tmp/badhdr.csv" --png "$tmp/x.png"
contains "$tmp/err" "not a tril train log" "bad header named"
printf 'step,train_loss,val_loss,lr,tokens_per_s\n1,2.5,,1e-3,100\n2,abc,,1e-3,100\n' >"$tmp/badnum.csv"
expect 1 "plot non-numeric" -- "$TRIL" plot --log "$tmp/badnum.csv" --png "$tmp/x.png"
contains "$tmp/err" "badnum.csv:3" "bad line named"
expect 2 "plot without --png" -- "$TRIL" plot --log "$tmp/run/log.csv"
check "[ ! -e '$tmp/x.png' ]" "no PNG from a bad log"

# --- resume: 60 steps straight == 30 + resume to 60, bit for bit --------------------
R="--data $D $TINY --steps 60 --eval-every 10"
expect 0 "60 steps" -- "$TRIL" train $R --out "$tmp/A" --save-every 30
expect 0 "resume from checkpoint-30" -- "$TRIL" train --resume "$tmp/A/checkpoint-30" --out "$tmp/B"
contains "$tmp/err" "resuming" "resume announced"
check "! grep -q warning '$tmp/err'" "no data warning when the data is the same"
if cmp -s "$tmp/A/model.safetensors" "$tmp/B/model.safetensors"; then ok; else bad "resumed model differs from the uninterrupted run"; fi
if cmp -s "$tmp/A/checkpoint-60/optimizer.safetensors" "$tmp/A/checkpoint-60/optimizer.safetensors"; then ok; fi
check "diff <(cut -d, -f1-4 '$tmp/A/log.csv') <(cut -d, -f1-4 '$tmp/B/log.csv') >/dev/null" "resumed log equals the original"
expect 2 "resume with another shape" -- "$TRIL" train --resume "$tmp/A/checkpoint-30" --out "$tmp/C" --embd 64
contains "$tmp/err" "--embd 64 disagrees with the checkpoint (32)" "shape conflict named"
expect 2 "resume with another batch" -- "$TRIL" train --resume "$tmp/A/checkpoint-30" --out "$tmp/C" --batch 8
expect 0 "resume on other data warns" -- "$TRIL" train --resume "$tmp/A/checkpoint-30" --out "$tmp/C" --data "$tmp/small.txt" --steps 31
contains "$tmp/err" "the data order will not match" "changed data reported"
expect 1 "resume from a missing checkpoint" -- "$TRIL" train --resume "$tmp/A/checkpoint-31" --out "$tmp/C"
expect 1 "resume from a model folder" -- "$TRIL" train --resume "$tmp/run" --out "$tmp/C"
contains "$tmp/err" "trainer_state.json" "missing state named"

# --- killed while writing checkpoints: every checkpoint-N left is complete ------------
"$TRIL" train --data "$D" --out "$tmp/K" $TINY --steps 1000000 --warmup 2 --save-every 1 --eval-every 0 \
    >/dev/null 2>&1 &
bg_pid=$!
for _ in $(seq 200); do [ -d "$tmp/K/checkpoint-5" ] && break; sleep 0.05; done
sleep 0.3
kill -9 "$bg_pid" 2>/dev/null
wait "$bg_pid" 2>/dev/null
bg_pid=
newest=$(ls -d "$tmp"/K/checkpoint-* 2>/dev/null | grep -E '/checkpoint-[0-9]+$' | sort -t- -k2 -n | tail -1)
check "[ -n '$newest' ]" "checkpoints written before the kill"
expect 0 "newest checkpoint after kill -9 loads ($newest)" -- "$TRIL" info --model "$newest"
torn=0
for ck in $(ls -d "$tmp"/K/checkpoint-* | grep -E '/checkpoint-[0-9]+$'); do
    for f in config.json model.safetensors optimizer.safetensors trainer_state.json; do
        [ -s "$ck/$f" ] || torn=$((torn + 1))
    done
done
check "[ $torn -eq 0 ]" "no torn checkpoint ($torn files missing)"
n=${newest##*-}
ls -d "$tmp"/K/*.tmp-* >/dev/null 2>&1 && echo "note: the kill interrupted a checkpoint write"
expect 0 "resume after kill -9" -- "$TRIL" train --resume "$newest" --out "$tmp/K" --steps $((n + 2))
contains "$tmp/out" "final step=$((n + 2))" "resumed past the kill"
check "! ls -d '$tmp'/K/*.tmp-* >/dev/null 2>&1" "leftovers of the killed run tidied"
expect 0 "the resumed folder loads" -- "$TRIL" info --model "$tmp/K"

# --- one run per output folder ------------------------------------------------------
check "[ ! -e '$tmp/K/.tril-train.lock' ]" "the lock file goes with the run"
"$TRIL" train --data "$D" --out "$tmp/L" $TINY --steps 1000000 --eval-every 0 >/dev/null 2>&1 &
bg_pid=$!
for _ in $(seq 400); do
    [ "$(cat "$tmp/L/.tril-train.lock" 2>/dev/null)" = "$bg_pid" ] && break
    sleep 0.05
done
expect 1 "a second run into a folder in use" -- "$TRIL" train --data "$D" --out "$tmp/L" $TINY --steps 2
contains "$tmp/err" "output folder $tmp/L is in use by another tril train (pid $bg_pid)" "the first run's pid named"
check "kill -0 $bg_pid" "the first run goes on"
check "[ ! -e '$tmp/L/config.json' ]" "the second run wrote nothing"
for _ in $(seq 400); do [ -s "$tmp/L/log.csv" ] && break; sleep 0.05; done
kill -9 "$bg_pid" 2>/dev/null
wait "$bg_pid" 2>/dev/null
bg_pid=
# the killed run's lock died with it; its log.csv is an earlier run's file
expect 2 "a new run into the killed run's folder" -- "$TRIL" train --data "$D" --out "$tmp/L" $TINY --steps 2
contains "$tmp/err" "holds an earlier run (log.csv)" "the earlier run named, not a lock"

O="$tmp/O"
expect 0 "a run with checkpoints" -- "$TRIL" train --data "$D" --out "$O" $TINY --steps 6 --save-every 3 --eval-every 0
echo mine >"$O/notes.txt"
before=$(cksum <"$O/model.safetensors")
WIDER="--layers 2 --heads 2 --embd 32 --context 64 --seq 32 --batch 4 --steps 4 --save-every 2 --eval-every 0"
expect 2 "a new run of another shape into a used folder" -- "$TRIL" train --data "$D" --out "$O" $WIDER
contains "$tmp/err" "holds an earlier run" "refusal says why"
contains "$tmp/err" "--overwrite" "refusal names --overwrite"
check "[ \"\$(cksum <'$O/model.safetensors')\" = '$before' ] && [ -d '$O/checkpoint-6' ]" "the refused run changed nothing"
expect 2 "--overwrite with --resume" -- "$TRIL" train --resume "$O/checkpoint-3" --out "$O" --overwrite
check "[ -d '$O/checkpoint-3' ]" "--overwrite --resume removed nothing"
(exit 0) &
dead=$!
wait "$dead"
mkdir "$O/checkpoint-9.tmp-$dead" "$O/checkpoint-8.tmp-$$" # a dead pid; a live one that runs no tril train
echo x >"$O/checkpoint-9.tmp-$dead/model.safetensors"
echo x >"$O/checkpoint-8.tmp-$$/model.safetensors"
expect 0 "--overwrite replaces the earlier run" -- "$TRIL" train --data "$D" --out "$O" $WIDER --overwrite
contains "$tmp/err" "--overwrite: removed" "removal reported"
contains "$tmp/err" "checkpoint-6" "removed checkpoint named"
check "[ ! -e '$O/checkpoint-3' ] && [ ! -e '$O/checkpoint-6' ]" "no stale checkpoint of the old run"
check "[ -d '$O/checkpoint-2' ] && [ -d '$O/checkpoint-4' ]" "the new run's checkpoints"
check "grep -q '\"n_layer\":[[:space:]]*2' '$O/config.json' && grep -q '\"n_layer\":[[:space:]]*2' '$O/checkpoint-4/config.json'" "the new run's model"
check "[ \"\$(wc -l <'$O/log.csv')\" -eq 5 ]" "the new run's log only"
check "[ \"\$(cat '$O/notes.txt')\" = mine ]" "a user's file kept"
check "[ ! -e '$O/checkpoint-9.tmp-$dead' ]" "a dead run's tmp folder removed"
check "[ ! -e '$O/checkpoint-8.tmp-$$' ]" "a tmp folder of a reused (live) pid removed"
expect 0 "resume in the overwritten folder" -- "$TRIL" train --resume "$O/checkpoint-2" --out "$O"
check "cmp -s '$O/model.safetensors' '$O/checkpoint-4/model.safetensors'" "resume in place equals the run"

# --- fine-tuning and the GPT-2 tokenizer -------------------------------------------
expect 0 "fine-tune with --init" -- "$TRIL" train --data "$D" --init "$tmp/run" --out "$tmp/ft" --steps 3 --seq 32 --batch 2
head -c 12000 "$D" >"$tmp/g.txt"
expect 0 "train with the GPT-2 tokenizer" -- "$TRIL" train --data "$tmp/g.txt" --out "$tmp/g" \
    --tokenizer gpt2 --layers 1 --heads 2 --embd 16 --context 32 --seq 16 --batch 2 --steps 2
check "[ -f '$tmp/g/vocab.json' ] && [ -f '$tmp/g/merges.txt' ] && [ -f '$tmp/g.txt.gpt2.tokens' ]" "tokenizer files copied, cache named"
expect 0 "generate with the GPT-2 tokenizer" -- "$TRIL" generate --model "$tmp/g" --prompt ROMEO --tokens 5 --seed 1
expect 2 "fine-tune in place without --overwrite" -- "$TRIL" train --data "$tmp/g.txt" --init "$tmp/g" --out "$tmp/g" --steps 1 --seq 16 --batch 2
expect 0 "fine-tune in place with --overwrite" -- "$TRIL" train --data "$tmp/g.txt" --init "$tmp/g" --out "$tmp/g" --steps 1 --seq 16 --batch 2 --overwrite
check "[ -f '$tmp/g/vocab.json' ] && [ -f '$tmp/g/merges.txt' ]" "the tokenizer source kept"
expect 0 "generate from the fine-tuned folder" -- "$TRIL" generate --model "$tmp/g" --prompt ROMEO --tokens 5 --seed 1

# --- bad input ------------------------------------------------------------------------
: >"$tmp/empty.txt"
expect 1 "empty data" -- "$TRIL" train --data "$tmp/empty.txt" --out "$tmp/e" $TINY --steps 2
contains "$tmp/err" "empty" "empty file named"
head -c 40 "$D" >"$tmp/tiny.txt"
expect 1 "too little data" -- "$TRIL" train --data "$tmp/tiny.txt" --out "$tmp/e" $TINY --steps 2
contains "$tmp/err" "40 tokens, 36 for training and 4 for validation" "token counts named"
expect 1 "missing data" -- "$TRIL" train --data "$tmp/none.txt" --out "$tmp/e" $TINY --steps 2
expect 2 "--seq beyond the context" -- "$TRIL" train --data "$D" --out "$tmp/e" --layers 1 --heads 2 --embd 32 --context 64 --seq 65 --steps 2
contains "$tmp/err" "longer than the model's context (64)" "context named"
expect 1 "unwritable --out" -- "$TRIL" train --data "$D" --out /dev/null/sub $TINY --steps 2
expect 1 "non-finite loss" -- "$TRIL" train --data "$D" --out "$tmp/nan" $TINY --steps 20 --lr 1e30 --warmup 0
contains "$tmp/err" "not finite" "non-finite loss reported"
check "[ ! -f '$tmp/nan/model.safetensors' ]" "no model saved after a non-finite loss"
expect 2 "no --data" -- "$TRIL" train --out "$tmp/e"
expect 2 "no --out" -- "$TRIL" train --data "$D"
expect 2 "unknown option" -- "$TRIL" train --data "$D" --out "$tmp/e" --bogus 1
expect 2 "bad number" -- "$TRIL" train --data "$D" --out "$tmp/e" --steps 1x
expect 2 "bad tokenizer" -- "$TRIL" train --data "$D" --out "$tmp/e" --tokenizer words
expect 2 "bad shape" -- "$TRIL" train --data "$D" --out "$tmp/e" --heads 3 --embd 32
expect 2 "val fraction 0" -- "$TRIL" train --data "$D" --out "$tmp/e" --val-fraction 0
expect 2 "--init with a shape" -- "$TRIL" train --data "$D" --out "$tmp/e" --init "$tmp/run" --layers 2
expect 0 "train --help" -- "$TRIL" train --help
contains "$tmp/out" "--resume" "help lists --resume"

# --- a real learning test ---------------------------------------------------------
# 300 steps of a 2-layer byte model on tiny shakespeare must take the validation
# loss from ln 256 = 5.55 nats/byte to below 2.7: under the 3.31 of the bytes'
# unigram distribution, so the model has learned context, not just frequencies
# (2.46 is typical).
expect 0 "learning run" -- "$TRIL" train --data "$D" --out "$tmp/learn" --layers 2 --heads 4 --embd 64 \
    --context 64 --seq 64 --batch 16 --steps 300 --lr 3e-3 --eval-every 100 --eval-batches 16 --seed 3
val=$(tail -n 1 "$tmp/learn/log.csv" | cut -d, -f3)
check "awk -v v='$val' 'BEGIN { exit !(v < 2.7) }'" "validation loss $val after 300 steps is not below 2.7"

echo "train cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
