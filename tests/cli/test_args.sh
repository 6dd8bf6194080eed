#!/usr/bin/env bash
# One way to parse options (issue 11). Every command's option table, dumped
# by the hidden `tril --dump-options`, drives the checks: each table agrees
# with its --help, and for every option of every command the parser refuses
# what it must, at parsing (exit 2, the option named, nothing run): an
# unknown option, a missing value, a value out of range or of the wrong
# kind, a missing required option, a repeat of an option that may not
# repeat. Then the repeatable one (detokenize's IDs) and help / version.
# usage: test_args.sh PATH/TO/tril
set -u
TRIL=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# refused DESCRIPTION TEXT -- command...: exit 2, TEXT on stderr, nothing on stdout
refused() {
    local what=$1 text=$2
    shift 3
    expect 2 "$what" -- "$@"
    contains "$tmp/err" "$text" "$what: message"
    check "[ ! -s '$tmp/out' ]" "$what: nothing on stdout"
}

# --- the tables: consistent, and one per command -------------------------------------
expect 0 "--dump-options" -- "$TRIL" --dump-options
check "[ ! -s '$tmp/err' ]" "every option table is consistent: $(head -c 400 "$tmp/err")"
cp "$tmp/out" "$tmp/table"
check "[ \"\$(wc -l <'$tmp/table')\" -ge 80 ]" "the dump lists the options ($(wc -l <"$tmp/table") lines)"
refused "--dump-options of an unknown command" "unknown command 'nope'" -- "$TRIL" --dump-options nope
cmds=$("$TRIL" help | awk '/^commands:/ { on = 1; next } on && NF { print $1 }')
check "[ \"\$(echo \"$cmds\" | wc -w)\" -ge 13 ]" "help lists the commands ($cmds)"
for c in $cmds; do
    case $c in help | version) continue ;; esac
    check "awk -F'\t' -v c='$c' '\$1 == c { found = 1 } END { exit !found }' '$tmp/table'" "no option table for $c"
done
specs=$(cut -f2 "$tmp/table" | sort -u | tr ' ' '+') # "bench+attention": one word each

# --- --help against the table, for every command ----------------------------------------
# What a help lists: the options in its usage lines (from "usage:" to the first
# blank line) and the option-list entries (lines that start with two spaces and
# the option; their continuation lines are indented further).
listed() {
    {
        awk '/^usage:/ { on = 1 } on && !NF { exit } on' "$1" | grep -oE -- '--[a-z][a-z0-9-]*'
        grep -E -- '^  --[a-z]' "$1" | awk '{ print $1 }'
    } | sort -u
}
for c in $cmds; do
    expect 0 "$c --help" -- "$TRIL" "$c" --help
    cp "$tmp/out" "$tmp/help"
    listed "$tmp/help" >"$tmp/listed"
    awk -F'\t' -v c="$c" '$1 == c && $3 ~ /^--/ { print $3 }' "$tmp/table" | sort -u >"$tmp/opts"
    if diff "$tmp/opts" "$tmp/listed" >"$tmp/diff"; then ok; else
        bad "tril $c --help and its table disagree (< table only, > help only): $(tr '\n' ' ' <"$tmp/diff")"
    fi
    expect 0 "help $c" -- "$TRIL" help "$c"
    if cmp -s "$tmp/out" "$tmp/help"; then ok; else bad "'tril help $c' differs from 'tril $c --help'"; fi
done
# the check above catches an option in one and not the other
printf 'usage: tril x [--a N]\n\n  --b N  text\n        --c continued\n' >"$tmp/fake"
same "$(listed "$tmp/fake" | tr '\n' ' ')" "--a --b " "what a help lists: usage and entries, not continuations"

# --- an unknown option or argument: every command, every benchmark -------------------------
for c in $cmds; do
    refused "$c --no-such-option" "tril $c: unknown option '--no-such-option'" -- "$TRIL" "$c" --no-such-option
done
for s in $specs; do
    # shellcheck disable=SC2046
    refused "${s//+/ } --no-such-option" "unknown option '--no-such-option'" -- "$TRIL" ${s//+/ } --no-such-option
done
refused "an option with =VALUE is not split" "unknown option '--tokens=3'" -- "$TRIL" generate --tokens=3
for c in generate eval info attention train plot leakcheck tokenize version help; do
    refused "$c with a stray argument" "unexpected argument 'stray'" -- "$TRIL" "$c" stray stray
done
refused "bench attention with a stray argument" "unexpected argument 'stray'" -- \
    "$TRIL" bench attention --seq 1 stray
refused "help CMD with an unknown option" "tril help: unknown option '--no-such-option'" -- \
    "$TRIL" help mask --no-such-option
refused "version with an unknown option" "tril version: unknown option '--no-such-option'" -- \
    "$TRIL" version --no-such-option
refused "--version with an unknown option" "unknown option '--no-such-option'" -- "$TRIL" --version --no-such-option
expect 0 "version --help" -- "$TRIL" version --help
contains "$tmp/out" "usage: tril version" "version --help explains version"
check "! grep -q '^kernels:' '$tmp/out'" "version --help does not print the version"
expect 0 "help version" -- "$TRIL" help version
contains "$tmp/out" "usage: tril version" "help version explains version"
expect 0 "help --help" -- "$TRIL" help --help
contains "$tmp/out" "commands:" "help --help: the list"
refused "help of an unknown command" "unknown command 'frobnicate'" -- "$TRIL" help frobnicate

# --- every option of every table -------------------------------------------------------------
# A value just outside a double range, or one that is out because the bound is open.
# (parenthesised: in awk, printf ... > is a redirection)
below() { awk -v v="$1" -v open="$2" 'BEGIN { printf "%.17g", (open ? v : (v < 0 ? 2 * v : v - 1)) }'; }
above() { awk -v v="$1" -v open="$2" 'BEGIN { printf "%.17g", (open ? v : (v > 0 ? 2 * v : v + 1)) }'; }
MAX_DOUBLE=1.7976931348623157e+308
while IFS=$'\t' read -r cmd spec name type flags lo hi sample; do
    read -r -a sp <<<"$spec" # "bench attention": two words
    case ,$flags, in *,positional,*) positional=1 ;; *) positional=0 ;; esac
    case ,$flags, in *,repeat,*) repeat=1 ;; *) repeat=0 ;; esac
    # how to give the option VALUE
    give() { if [ $positional = 1 ]; then echo "$1"; else echo "$name"; echo "$1"; fi; }
    bad_value() { # VALUE MESSAGE: refused while parsing
        local args
        mapfile -t args < <(give "$1")
        refused "$spec $name '$1'" "$2" -- "$TRIL" "${sp[@]}" "${args[@]}"
    }
    if [ $positional = 0 ] && [ "$type" != flag ]; then
        refused "$spec $name without its value" "option $name needs a value" -- "$TRIL" "${sp[@]}" "$name"
    fi
    case $type in
    int)
        msg="$name expects an integer in [$lo, $hi]"
        [ "$lo" = -9223372036854775808 ] || bad_value "$(awk -v v="$lo" 'BEGIN { printf "%.0f", v - 1 }' | sed 's/^-0$/-1/')" "$msg"
        # bash arithmetic is 64-bit: INT64_MAX + 1 is not, so it is left to the 99...9 case
        [ "$hi" = 9223372036854775807 ] || bad_value "$((hi + 1))" "$msg"
        bad_value "99999999999999999999" "$msg"
        bad_value "1x" "$msg"
        ;;
    double)
        case ,$flags, in *,min-open,*) lo_open=1 ;; *) lo_open=0 ;; esac
        case ,$flags, in *,max-open,*) hi_open=1 ;; *) hi_open=0 ;; esac
        bad_value "$(below "$lo" $lo_open)" "$name must be"
        if [ "$hi" = "$MAX_DOUBLE" ]; then bad_value inf "$name must be a finite number"
        else bad_value "$(above "$hi" $hi_open)" "$name must be"; fi
        bad_value nan "$name expects a number"
        bad_value 2x "$name expects a number"
        case ,$flags, in # used as a float: a value that rounds to an open bound of 0
        *,float,*) [ "$lo" = 0 ] && [ $lo_open = 1 ] && bad_value 1e-50 "$name must be" ;;
        esac
        ;;
    choice) bad_value no-such-choice "$name expects" ;;
    path) bad_value "" "$name expects a path" ;;
    flag | string) ;;
    *) bad_value no-such-value "$name" ;; # the shared and the commands' own value types
    esac
    # a second one: refused unless the option collects its values
    if [ $repeat = 0 ]; then
        if [ "$type" = flag ]; then
            refused "$spec $name twice" "$name given more than once" -- "$TRIL" "${sp[@]}" "$name" "$name"
        elif [ $positional = 1 ]; then
            refused "$spec $name twice" "unexpected argument '$sample'" -- "$TRIL" "${sp[@]}" "$sample" "$sample"
        else
            refused "$spec $name twice" "$name given more than once" -- \
                "$TRIL" "${sp[@]}" "$name" "$sample" "$name" "$sample"
        fi
    fi
    # required: with every other required option of the table given, this one missing
    case ,$flags, in
    *,required,*)
        others=()
        while IFS=$'\t' read -r _ s2 n2 _ f2 _ _ v2; do
            [ "$s2" = "$spec" ] && [ "$n2" != "$name" ] && [[ ,$f2, == *,required,* ]] && others+=("$n2" "$v2")
        done <"$tmp/table"
        refused "$spec without $name" "tril $spec: $name is required" -- "$TRIL" "${sp[@]}" "${others[@]}"
        ;;
    esac
done <"$tmp/table"

# --- a repeatable argument collects every value, in order ------------------------------------
# (the bundled default model is byte-level: ids are bytes)
expect 0 "detokenize several ids" -- "$TRIL" detokenize 72 105 33
same "$(cat "$tmp/out")" "Hi!" "every ID kept, in order"
expect 0 "detokenize ids around an option" -- "$TRIL" detokenize 72 --max-file-mb 1 105
same "$(cat "$tmp/out")" "Hi" "IDs before and after an option"
refused "detokenize: a bad id among good ones" "ID expects an integer" -- "$TRIL" detokenize 72 1x 105
# a negative number is a value, not an option
refused "mask -3" "N expects an integer in [1, 4096], got '-3'" -- "$TRIL" mask -3

# --- typed values reach the command ------------------------------------------------------------
expect 0 "mask with its options in any order" -- "$TRIL" mask --keys 3 2
same "$(cat "$tmp/out")" "$(printf '1 1 0\n1 1 1')" "mask 2 --keys 3"
expect 0 "generate --top-p 1 --temperature 0" -- "$TRIL" generate --top-p 1 --temperature 0 --tokens 2 --ids
same "$(wc -w <"$tmp/out" | tr -d ' ')" "2" "2 ids"

finish "args"
