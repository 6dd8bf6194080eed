# Shared helpers for the tril serve tests (sourced after tests/cli/lib.sh;
# the script sets $TRIL and $tmp). On exit, whatever happened: the server
# and any background client are killed and $tmp removed.
HELP="$(dirname "${BASH_SOURCE[0]}")/helpers.py"
SPID=
PORT=
U=
serve_cleanup() {
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null
    rm -rf "$tmp"
}
trap serve_cleanup EXIT
# py ARGS...: the Python helper (JSON queries, SSE checks, odd clients)
py() { python3 "$HELP" "$@"; }

# start_server NAME [serve options...]: starts `tril serve --port 0`, reads
# the port it printed and waits until /health answers 200 (30 s at most).
start_server() {
    local name=$1
    shift
    "$TRIL" serve --port 0 "$@" >"$tmp/$name.log" 2>&1 &
    SPID=$!
    PORT=
    for _ in $(seq 300); do
        PORT=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$tmp/$name.log")
        [ -n "$PORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$PORT" ]; then
        bad "$name: the server did not start: $(head -c 600 "$tmp/$name.log")"
        return 1
    fi
    U=http://127.0.0.1:$PORT
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$U/health")" = 200 ] && return 0
        sleep 0.1
    done
    bad "$name: /health never answered 200: $(head -c 600 "$tmp/$name.log")"
    return 1
}

# stop_server NAME: SIGTERM, then the exit status must be 0 (within 60 s).
stop_server() {
    local name=$1
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    local waited=0
    while kill -0 "$SPID" 2>/dev/null && [ $waited -lt 600 ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$SPID" 2>/dev/null; then
        bad "$name: still running 60 s after SIGTERM"
        kill -KILL "$SPID" 2>/dev/null
    fi
    wait "$SPID"
    local rc=$?
    same "$rc" 0 "$name: exit status after SIGTERM ($(tail -c 600 "$tmp/$name.log"))"
    SPID=
}

# post PATH JSON [curl options...]: the body lands in $tmp/out, the status in $tmp/code
post() {
    local path=$1 body=$2
    shift 2
    curl -s -o "$tmp/out" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
        --data-binary "$body" "$U$path" >"$tmp/code"
}
get() {
    local path=$1
    shift
    curl -s -o "$tmp/out" -w '%{http_code}' "$@" "$U$path" >"$tmp/code"
}
code() { cat "$tmp/code"; }
# jq-like: the value of a Python expression over the JSON d of a file
jget() { py get "$1" "$2"; }
