#!/bin/sh
#  Shared by the broker's integration tests: a temporary directory, a broker
#  config, starting the broker with readiness on a notification fd, and a
#  trap that leaves no process and no file behind. Source it; it sets
#  WORK (the directory), BROKER_PID and ENDPOINT.
set -u
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
BROKER="$CAB_BUILDDIR/cabruca-broker"
CABRUCA="$CAB_BUILDDIR/cabruca"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cab-it-XXXXXX")
ENDPOINT="ipc://$WORK/broker.ipc"
BROKER_PID=
PIDS=

CLEANUP_EXTRA=:
cleanup () {
    for pid in $BROKER_PID $PIDS; do
        kill -9 "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    eval "$CLEANUP_EXTRA"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail () {
    echo "FAIL: $*" >&2
    [ -f "$WORK/broker.log" ] && sed 's/^/  broker: /' "$WORK/broker.log" | tail -20 >&2
    exit 1
}

#  write_config [LIMITS_JSON [STORE_PATH]]
write_config () {
    cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "${2:-events.db}", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "tester-001": {"sources": ["cabruca.agents.tester"]}},
 "limits": ${1:-{\}}}
JSON
}

#  start_broker: run it in the background; wait (10 s at most) for its
#  readiness line on fd 3.
start_broker () {
    rm -f "$WORK/ready"
    "$BROKER" --config "$WORK/broker.json" --notify-fd 3 3>"$WORK/ready" 2>>"$WORK/broker.log" &
    BROKER_PID=$!
    wait_for 10 test -s "$WORK/ready" || fail "the broker did not get ready"
}

. "$CAB_SRCDIR/tests/integration/wait.sh"

#  stop_broker: SIGTERM, and its exit status must be 0 (within 10 s).
stop_broker () {
    kill -TERM "$BROKER_PID"
    wait_for 10 sh -c "! kill -0 $BROKER_PID 2>/dev/null" || fail "the broker did not stop"
    wait "$BROKER_PID"
    status=$?
    BROKER_PID=
    [ "$status" -eq 0 ] || fail "broker exit status $status after SIGTERM"
}
