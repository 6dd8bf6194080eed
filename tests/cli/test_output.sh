#!/usr/bin/env bash
# Output correctness of the tril program: every write is checked (stdout of
# every command, the training log, PNGs; a full disk, /dev/full, a closed
# stdout, a reader gone with SIGPIPE ignored), and README, --help and the
# program agree (every command's --help and `tril help CMD` exit 0; every
# option README's command table names is in that command's --help, required
# or optional alike).
# usage: test_output.sh PATH/TO/tril
set -u
TRIL=$1
here=$(cd "$(dirname "$0")" && pwd)
README=${TRIL_README:-$here/../../README.md} # overridable to check another copy
tmp=$(mktemp -d)
fs=$tmp/fs
trap 'mountpoint -q "$fs" 2>/dev/null && umount "$fs"; rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$here/lib.sh"

# --- help: every command, and help about help ------------------------------------
cmds=$("$TRIL" help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
check "[ \"\$(echo \"$cmds\" | wc -w)\" -ge 12 ]" "help lists the commands ($cmds)"
for c in $cmds; do
    [ "$c" = version ] && continue
    expect 0 "$c --help" -- "$TRIL" "$c" --help
    check "[ -s '$tmp/out' ] && [ ! -s '$tmp/err' ]" "$c --help prints on stdout only"
    [ "$c" = help ] || contains "$tmp/out" "usage: tril $c" "$c --help usage line"
    expect 0 "help $c" -- "$TRIL" help "$c"
done
expect 0 "help --help" -- "$TRIL" help --help
contains "$tmp/out" "commands:" "help --help lists the commands"
expect 0 "--help" -- "$TRIL" --help
expect 2 "help of an unknown command" -- "$TRIL" help frobnicate

# --- README's command table against each command's --help -------------------------
# For each `tril CMD ...` in the table, each --option with "req" or "opt": inside
# [...] is optional, anything else (also (A | B)) is required.
options_of() { # reads text, prints "OPTION req|opt" per occurrence
    awk '{
        depth = 0; s = $0
        while (length(s) > 0) {
            c = substr(s, 1, 1)
            if (c == "[") depth++
            else if (c == "]") depth--
            else if (c == "-" && match(s, /^--[a-z][a-z0-9-]*/)) {
                print substr(s, 1, RLENGTH), (depth > 0 ? "opt" : "req")
                s = substr(s, RLENGTH + 1); continue
            }
            s = substr(s, 2)
        }
    }'
}
# The table's command cells, one `tril CMD ...` span a line, \| unescaped.
grep '^| `tril ' "$README" | sed 's/\\|/\x01/g' | cut -d'|' -f2 | tr '\001' '|' |
    grep -o '`tril [^`]*`' | tr -d '`' >"$tmp/spans"
check "[ \"\$(wc -l <'$tmp/spans')\" -ge 12 ]" "README command table found ($(wc -l <"$tmp/spans") spans)"
while read -r _ cmd rest; do
    case $cmd in help | CMD) continue ;; esac
    if ! "$TRIL" "$cmd" --help >"$tmp/help" 2>&1; then
        bad "README names 'tril $cmd' but 'tril $cmd --help' fails"
        continue
    fi
    # the usage lines: from "usage:" to the first blank line
    awk '/^usage:/ { on = 1 } on && !NF { exit } on' "$tmp/help" | options_of >"$tmp/usage_opts"
    while read -r opt kind; do
        if grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|\$)" "$tmp/help"; then ok; else
            bad "README: 'tril $cmd $opt' is not in 'tril $cmd --help'"
            continue
        fi
        if [ "$kind" = req ]; then
            grep -qx -- "$opt req" "$tmp/usage_opts" && ok ||
                bad "README says $opt is required for tril $cmd; its --help usage does not"
        else
            grep -qx -- "$opt req" "$tmp/usage_opts" &&
                bad "README says $opt is optional for tril $cmd; its --help usage requires it" || ok
        fi
    done < <(echo "$rest" | options_of)
done <"$tmp/spans"

# --- stdout that cannot be written: an error and exit 1, for every command ------
printf 'To be, or not to be, that is the question. %.0s' $(seq 1 20) >"$tmp/text.txt"
printf 'step,train_loss,val_loss,lr,tokens_per_s\n1,5.5,,1e-3,100\n2,5.0,4.9,1e-3,100\n' >"$tmp/log.csv"
full_stdout() { # DESCRIPTION -- command...
    local what=$1
    shift 2
    "$@" >/dev/full 2>"$tmp/err"
    local got=$?
    if [ "$got" -eq 1 ]; then ok; else bad "$what > /dev/full: exit $got, wanted 1"; fi
    contains "$tmp/err" "error writing standard output: No space left on device" "$what > /dev/full message"
}
full_stdout "tokenize" -- "$TRIL" tokenize --text "Hello, world"
full_stdout "detokenize" -- "$TRIL" detokenize 72 105
full_stdout "generate" -- "$TRIL" generate --tokens 300 --seed 1
# promptly: it stops at the first token instead of running on to the full context
check "! grep -q 'context' '$tmp/err'" "generate > /dev/full stops at once ($(cat "$tmp/err"))"
full_stdout "generate --ids" -- "$TRIL" generate --tokens 5 --seed 1 --ids
full_stdout "mask 8" -- "$TRIL" mask 8
full_stdout "mask --numerics" -- "$TRIL" mask --numerics
full_stdout "info" -- "$TRIL" info
full_stdout "eval" -- "$TRIL" eval --file "$tmp/text.txt" --context 32
full_stdout "leakcheck" -- "$TRIL" leakcheck --trials 1 --seq 8
full_stdout "bench attention" -- "$TRIL" bench attention --seq 8 --heads 1 --head-dim 8 --repeats 1
full_stdout "help" -- "$TRIL" help
full_stdout "mask --help" -- "$TRIL" mask --help
full_stdout "version" -- "$TRIL" version
full_stdout "plot (its 'wrote' line)" -- "$TRIL" plot --log "$tmp/log.csv" --png "$tmp/p.png"
# a closed stdout
"$TRIL" mask 4 >&- 2>"$tmp/err"
same "$?" "1" "mask 4 with stdout closed: exit"
contains "$tmp/err" "error writing standard output" "closed stdout message"

# --- a reader that goes away ------------------------------------------------------
# Default SIGPIPE: tril dies by it silently, like any Unix filter (| head).
"$TRIL" mask 4000 2>"$tmp/err" | head -c 1 >/dev/null
same "${PIPESTATUS[0]}" "141" "mask | head: killed by SIGPIPE"
check "[ ! -s '$tmp/err' ]" "mask | head: silent ($(head -c 200 "$tmp/err"))"
# SIGPIPE ignored: the write fails with EPIPE; generate stops at once, exit 1.
if command -v python3 >/dev/null; then
    python3 - "$TRIL" >"$tmp/pipe" 2>&1 <<'EOF'
import os, signal, subprocess, sys
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
r, w = os.pipe()
os.close(r)  # the reader is gone before the first token
p = subprocess.run([sys.argv[1], "generate", "--tokens", "300", "--seed", "1"], stdout=w,
                   stderr=subprocess.PIPE, restore_signals=False)
print("rc=%d" % p.returncode)
sys.stdout.write(p.stderr.decode())
EOF
    contains "$tmp/pipe" "rc=1" "generate into a closed pipe (SIGPIPE ignored): exit 1"
    contains "$tmp/pipe" "error writing standard output: Broken pipe" "EPIPE message"
    check "! grep -q context '$tmp/pipe'" "EPIPE: generate stops at once"
else
    echo "SKIP: no python3 for the SIGPIPE-ignored case"
fi

# --- PNGs that cannot be written ----------------------------------------------------
expect 1 "mask --png /dev/full" -- "$TRIL" mask 8 --png /dev/full
contains "$tmp/err" "No space left on device" "mask PNG write error named"
expect 1 "attention --png /dev/full" -- "$TRIL" attention --prompt "To be" --layer 0 --head 0 --png /dev/full
contains "$tmp/err" "No space left on device" "attention PNG write error named"
expect 1 "plot --png /dev/full" -- "$TRIL" plot --log "$tmp/log.csv" --png /dev/full
contains "$tmp/err" "No space left on device" "plot PNG write error named"

# --- the training log ---------------------------------------------------------------
head -c 20000 "$here/../../data/tinyshakespeare.txt" >"$tmp/ts.txt"
TINY="--layers 1 --heads 2 --embd 16 --context 32 --seq 16 --batch 2"
# shellcheck disable=SC2086
expect 1 "train --log /dev/full" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/run1" $TINY --steps 3 --log /dev/full
contains "$tmp/err" "cannot write the log '/dev/full': No space left on device" "log error named"
check "! grep -q 'saved' '$tmp/out'" "no model announced after a failed log"
# shellcheck disable=SC2086
expect 0 "train (to compare)" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/run2" $TINY --steps 3
# shellcheck disable=SC2086
full_stdout "train" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/run3" $TINY --steps 3

# --- a disk that fills up: a 64 KiB tmpfs (needs root, as in CI) ------------------
mkdir -p "$fs"
if mount -t tmpfs -o size=64k tmpfs "$fs" 2>/dev/null; then
    # leave one 4 KiB page: the header and ~90 rows fit, the run needs 300
    dd if=/dev/zero of="$fs/fill" bs=4096 count=15 2>/dev/null
    # shellcheck disable=SC2086
    expect 1 "train, log on a disk filling up" -- "$TRIL" train --data "$tmp/ts.txt" --out "$tmp/run4" \
        $TINY --steps 300 --eval-every 0 --log "$fs/log.csv"
    contains "$tmp/err" "cannot write the log '$fs/log.csv': No space left on device" "full disk named"
    check "[ \"\$(head -1 '$fs/log.csv')\" = 'step,train_loss,val_loss,lr,tokens_per_s' ]" "log written up to the full disk"
    check "! grep -q 'saved' '$tmp/out'" "no model announced after the disk filled"
    rm -f "$fs/log.csv"
    dd if=/dev/zero of="$fs/fill2" bs=4096 count=1 2>/dev/null # now quite full
    expect 1 "mask --png on a full disk" -- "$TRIL" mask 300 --png "$fs/m.png"
    contains "$tmp/err" "No space left on device" "full disk PNG error named"
    check "[ ! -e '$fs/m.png' ]" "no truncated PNG left behind"
    umount "$fs"
else
    echo "SKIP: cannot mount a tmpfs here (not root?): the full-disk cases rely on /dev/full above"
fi

finish "output"
