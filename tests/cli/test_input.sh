#!/usr/bin/env bash
# End-to-end tests of what the commands read: --file, --prompt-file, --data
# and standard input (regular files only, never a FIFO or a device; a size cap
# with --max-file-mb), the messages for bad input (what a path really is, the
# byte a vocabulary lacks, the option at fault), and the source location kept
# out of messages unless TRIL_DEBUG=1. Every command that could block runs
# under `timeout`, so a regression fails instead of hanging.
# usage: test_input.sh PATH/TO/tril REPO_DATA_DIR
set -u
TRIL=$1
DATA=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
T="timeout 20"
# timeout exits 124 when it had to stop the command: a hang
not_hung() { if [ "$1" -ne 124 ] && [ "$1" -ne 137 ]; then ok; else bad "$2: hung (killed by timeout)"; fi; }

mkfifo "$tmp/fifo"
mkdir "$tmp/dir"
printf 'ROMEO:\nWhat light' >"$tmp/romeo.txt"

# --- what is not a regular file is refused at once, saying what it is ------------
expect 1 "tokenize --file /dev/zero" -- $T "$TRIL" tokenize --file /dev/zero
contains "$tmp/err" "'/dev/zero' is a character device, not a regular file" "/dev/zero named"
expect 1 "tokenize --file FIFO without a writer" -- $T "$TRIL" tokenize --file "$tmp/fifo"
contains "$tmp/err" "is a FIFO (named pipe), not a regular file" "FIFO named"
expect 1 "tokenize --file DIR" -- $T "$TRIL" tokenize --file "$tmp/dir"
contains "$tmp/err" "is a directory, not a regular file" "directory named"
expect 1 "tokenize --file missing" -- $T "$TRIL" tokenize --file "$tmp/none.txt"
contains "$tmp/err" "'$tmp/none.txt' does not exist" "missing file named"
expect 1 "eval --file FIFO" -- $T "$TRIL" eval --file "$tmp/fifo"
contains "$tmp/err" "FIFO" "eval: FIFO named"
expect 1 "generate --prompt-file FIFO" -- $T "$TRIL" generate --prompt-file "$tmp/fifo" --tokens 1
contains "$tmp/err" "FIFO" "generate: FIFO named"
expect 1 "train --data FIFO" -- $T "$TRIL" train --data "$tmp/fifo" --out "$tmp/run" --steps 1
contains "$tmp/err" "FIFO" "train: FIFO named"
expect 1 "train --data /dev/zero" -- $T "$TRIL" train --data /dev/zero --out "$tmp/run" --steps 1
contains "$tmp/err" "character device" "train: device named"
expect 1 "plot --log FIFO" -- $T "$TRIL" plot --log "$tmp/fifo" --png "$tmp/p.png"
contains "$tmp/err" "FIFO" "plot: FIFO named"

# --- the size cap ---------------------------------------------------------------------
truncate -s 3M "$tmp/big.txt" # sparse: costs nothing
expect 1 "a 3 MB file over --max-file-mb 2" -- $T "$TRIL" tokenize --file "$tmp/big.txt" --max-file-mb 2
contains "$tmp/err" "is larger than the limit of 2 MB" "cap named"
contains "$tmp/err" "--max-file-mb" "the flag that raises it named"
expect 0 "the same file under --max-file-mb 4" -- $T "$TRIL" tokenize --file "$tmp/big.txt" --max-file-mb 4
same "$(wc -w <"$tmp/out" | tr -d ' ')" "3145728" "3 MB of NUL bytes: one byte token each"
truncate -s 1025M "$tmp/huge.txt" # over the default 1024 MB, refused before reading
expect 1 "default cap" -- $T "$TRIL" tokenize --file "$tmp/huge.txt"
contains "$tmp/err" "larger than the limit of 1024 MB" "default cap named"
expect 1 "eval default cap" -- $T "$TRIL" eval --file "$tmp/huge.txt"
contains "$tmp/err" "larger than the limit of 1024 MB" "eval: default cap named"
expect 1 "train --data over the cap" -- $T "$TRIL" train --data "$tmp/huge.txt" --out "$tmp/run" --steps 1
contains "$tmp/err" "larger than the limit of 1024 MB" "train: default cap named"
$T "$TRIL" tokenize --file - --max-file-mb 1 </dev/zero >"$tmp/out" 2>"$tmp/err"
rc=$?
not_hung "$rc" "endless standard input"
same "$rc" "1" "endless standard input exit code"
contains "$tmp/err" "standard input' is larger than the limit of 1 MB" "stdin cap named"
expect 2 "--max-file-mb 0" -- "$TRIL" tokenize --file "$tmp/romeo.txt" --max-file-mb 0
contains "$tmp/err" "--max-file-mb expects an integer" "--max-file-mb range"

# --- tokenize --file - and detokenize reading its ids from standard input ----------
"$TRIL" tokenize --text "ROMEO: hi" >"$tmp/ids"
"$TRIL" tokenize --file - <"$tmp/romeo.txt" >"$tmp/ids_stdin" 2>"$tmp/err"
same "$(cat "$tmp/ids_stdin")" "$("$TRIL" tokenize --file "$tmp/romeo.txt")" "tokenize --file - equals --file"
expect 0 "detokenize reads ids from standard input" -- sh -c "'$TRIL' detokenize <'$tmp/ids'"
same "$(cat "$tmp/out")" "ROMEO: hi" "ids from standard input decoded"
printf '72\n101 108\t108 111\n' >"$tmp/ids2"
expect 0 "detokenize: ids on lines and tabs" -- sh -c "'$TRIL' detokenize <'$tmp/ids2'"
same "$(cat "$tmp/out")" "Hello" "ids separated by any white space"
printf '72 x1 101' >"$tmp/ids3"
expect 1 "detokenize: a word that is not an id" -- sh -c "'$TRIL' detokenize <'$tmp/ids3'"
contains "$tmp/err" "word 2 ('x1') is not a token id" "bad word named"

# --- generate --prompt-file ------------------------------------------------------------
expect 0 "--prompt-file" -- "$TRIL" generate --prompt-file "$tmp/romeo.txt" --tokens 12 --temperature 0 --ids
from_file=$(cat "$tmp/out")
expect 0 "--prompt" -- "$TRIL" generate --prompt "$(printf 'ROMEO:\nWhat light')" --tokens 12 --temperature 0 --ids
same "$from_file" "$(cat "$tmp/out")" "the same prompt from a file or the command line"
expect 0 "--prompt-file -" -- sh -c "'$TRIL' generate --prompt-file - --tokens 12 --temperature 0 --ids <'$tmp/romeo.txt'"
same "$(cat "$tmp/out")" "$from_file" "the same prompt from standard input"
# NUL bytes are prompt bytes: 300 of them are 300 tokens of the byte-level
# default model, more than its context of 256 (cut at the first NUL, it would run)
head -c 300 /dev/zero >"$tmp/nul.txt"
expect 1 "a prompt of NUL bytes" -- "$TRIL" generate --prompt-file "$tmp/nul.txt" --tokens 1
contains "$tmp/err" "the prompt has 300 tokens" "every NUL byte kept"
head -c 1048576 /dev/urandom >"$tmp/mb.txt"
expect 1 "a 1 MB prompt from standard input" -- sh -c "$T '$TRIL' generate --prompt-file - --tokens 1 <'$tmp/mb.txt'"
contains "$tmp/err" "the prompt has 1048576 tokens" "the whole 1 MB read"
expect 2 "--prompt and --prompt-file" -- "$TRIL" generate --prompt x --prompt-file "$tmp/romeo.txt"
contains "$tmp/err" "not both" "both prompts refused"
expect 1 "a prompt file over the cap" -- "$TRIL" generate --prompt-file "$tmp/big.txt" --max-file-mb 1
contains "$tmp/err" "larger than the limit of 1 MB" "prompt cap named"

# --- messages: what is wrong, not something else ----------------------------------------
expect 1 "--model README.md" -- "$TRIL" generate --model "$DATA/README.md" --tokens 1
contains "$tmp/err" "is not a directory (it is a regular file)" "a file given as the model folder"
expect 1 "tokenize --model README.md" -- "$TRIL" tokenize --model "$DATA/README.md" --text hi
contains "$tmp/err" "is not a directory" "tokenize: a file given as the model folder"
mkdir "$tmp/m"
cp "$DATA/models/default/model.safetensors" "$tmp/m/"
mkdir "$tmp/m/config.json"
expect 1 "config.json is a directory" -- "$TRIL" generate --model "$tmp/m" --tokens 1
contains "$tmp/err" "config.json' is a directory, not a regular file" "config.json named as a directory"
rmdir "$tmp/m/config.json"
cp "$DATA/models/default/config.json" "$tmp/m/"
rm "$tmp/m/model.safetensors"
mkfifo "$tmp/m/model.safetensors"
expect 1 "model.safetensors is a FIFO" -- $T "$TRIL" generate --model "$tmp/m" --tokens 1
contains "$tmp/err" "model.safetensors' is a FIFO" "model.safetensors named as a FIFO"
# a GPT-2 vocab.json without the token of byte 'A' (0x41, id 32): the byte is to
# blame, not <|endoftext|> (whose id 50256 is then past the end)
mkdir "$tmp/tok"
cp "$DATA/gpt2/merges.txt" "$tmp/tok/"
/usr/bin/python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))
del v["A"]
json.dump(v, open(sys.argv[2], "w"))' "$DATA/gpt2/vocab.json" "$tmp/tok/vocab.json"
expect 1 "vocab.json without a byte token" -- "$TRIL" tokenize --model "$tmp/tok" --text hi
contains "$tmp/err" "no token for byte 0x41" "the missing byte named"
check "! grep -q endoftext '$tmp/err'" "<|endoftext|> not blamed ($(cat "$tmp/err"))"
cp "$DATA/gpt2/vocab.json" "$tmp/tok/"
: >"$tmp/tok/merges.txt"
expect 1 "empty merges.txt" -- "$TRIL" tokenize --model "$tmp/tok" --text hi
contains "$tmp/err" "merges.txt: no merges" "empty merges.txt refused"
rm "$tmp/tok/merges.txt"
mkdir "$tmp/tok/merges.txt"
expect 1 "merges.txt is a directory" -- "$TRIL" tokenize --model "$tmp/tok" --text hi
contains "$tmp/err" "merges.txt' is a directory, not a regular file" "merges.txt named as a directory"

# --- options refused when parsed (exit 2), not at run time -----------------------------
expect 2 "--temperature 1e39" -- "$TRIL" generate --temperature 1e39 --tokens 1
contains "$tmp/err" "--temperature must be in [0," "temperature range named"
expect 0 "--temperature 3e38" -- "$TRIL" generate --temperature 3e38 --tokens 2 --seed 1 --ids
expect 2 "--top-p 1e-50 (0 as a float)" -- "$TRIL" generate --top-p 1e-50 --tokens 1
expect 2 "--tokens 0" -- "$TRIL" generate --tokens 0
contains "$tmp/err" "--tokens expects an integer in [1," "tokens range named"
expect 0 "generate --help" -- "$TRIL" generate --help
check "! grep -q 'last two are reported' '$tmp/out'" "help promises no stderr note for N tokens"
contains "$tmp/out" "--prompt-file" "help names --prompt-file"
expect 0 "generate N tokens" -- "$TRIL" generate --tokens 3 --seed 1
check "[ ! -s '$tmp/err' ]" "N tokens: nothing on stderr, as --help says"
cp "$DATA/tinyshakespeare.txt" "$tmp/ts.txt"
TINY="--layers 1 --heads 2 --embd 32 --context 64 --seq 32 --batch 4"
expect 2 "--warmup longer than --steps" -- $T "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/w" $TINY --steps 5 --warmup 6
contains "$tmp/err" "--warmup 6 is longer than the run (5 steps)" "warm-up named"
check "[ ! -e '$tmp/w' ]" "nothing created for a refused run"
expect 2 "--warmup beyond the default 1000 steps" -- $T "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/w" $TINY --warmup 1001
expect 1 "--val-fraction 1e-300" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/v" $TINY --steps 1 --val-fraction 1e-300
contains "$tmp/err" "the validation fraction 1e-300 is too small" "the fraction blamed"
check "! grep -q 'too little text' '$tmp/err'" "the text not blamed"
expect 2 "train --max-file-mb 0" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/v" --max-file-mb 0
expect 1 "train --data over --max-file-mb 1" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/v" $TINY --steps 1 --max-file-mb 1
contains "$tmp/err" "larger than the limit of 1 MB" "train cap named"

# --- the source location: for debugging only -------------------------------------------
expect 1 "a library error" -- "$TRIL" generate --model "$tmp/nope" --tokens 1
contains "$tmp/err" "model folder '$tmp/nope' does not exist" "message kept"
check "! grep -qE '\\([a-z_0-9]+\\.c:[0-9]+\\)' '$tmp/err'" "no (file.c:N) by default ($(cat "$tmp/err"))"
expect 1 "a library error with TRIL_DEBUG=1" -- env TRIL_DEBUG=1 "$TRIL" generate --model "$tmp/nope" --tokens 1
contains "$tmp/err" "model folder '$tmp/nope' does not exist" "message kept with TRIL_DEBUG=1"
check "grep -qE '\\([a-z_0-9]+\\.c:[0-9]+\\)' '$tmp/err'" "(file.c:N) with TRIL_DEBUG=1 ($(cat "$tmp/err"))"

finish "cli input"
