# Shared helpers for the CLI test scripts (sourced; the script sets $tmp).
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect CODE DESCRIPTION -- command...: the exit code must be CODE; stdout and
# stderr land in $tmp/out and $tmp/err.
expect() {
    local code=$1 what=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -eq "$code" ]; then ok; else bad "$what: exit $got, wanted $code ($(head -c 400 "$tmp/err"))"; fi
}
# contains FILE TEXT DESCRIPTION
contains() { if grep -qF -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 400 "$1")"; fi; }
# same GOT WANT DESCRIPTION
same() { if [ "$1" = "$2" ]; then ok; else bad "$3: got '$1', wanted '$2'"; fi; }
# check SHELL-CONDITION DESCRIPTION
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# finish NAME: the closing line and the exit status
finish() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
