#!/bin/sh
#  Shared by the delivery tests (delivery-*.sh, python-consumer.sh): on top
#  of broker-lib.sh (WORK, start_broker, stop_broker, fail, the cleanup
#  trap), a broker config with a rule file and fast delivery timers,
#  consumers (tests/integration/consumer) started in the background with
#  readiness, event files, publishing, and read-only looks into the store.
. "$(dirname "$0")/broker-lib.sh"
CONSUMER="$CAB_BUILDDIR/tests/integration/consumer"
#  (No __pycache__ in the source tree.)
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
CHECK="$CAB_SRCDIR/tests/integration/delivery_check.py"
[ -x "$CONSUMER" ] || { echo "$CONSUMER not built"; exit 77; }
"$PYTHON3" -c 'import sqlite3' 2>/dev/null || { echo "python3 sqlite3 missing"; exit 77; }

#  write_delivery_config [DELIVERY_JSON [LIMITS_JSON]]: the broker config,
#  with the rule file $WORK/rules.json (write it first) and $WORK as data_dir.
#  Agents: monitor-001, product-001, developer-001, tester-001 publish their
#  own sources; consumer-1 .. consumer-3 and py-consumer only consume.
write_delivery_config () {
    delivery=${1:-'{"ack_timeout_ms": 3000, "backoff_base_ms": 50, "backoff_max_ms": 500}'}
    limits=${2:-'{"heartbeat_ms": 200, "timeout_ms": 2000}'}
    cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "rules": "$WORK/rules.json",
 "data_dir": "$WORK",
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "product-001": {"sources": ["cabruca.agents.product"]},
            "developer-001": {"sources": ["cabruca.agents.developer"]},
            "tester-001": {"sources": ["cabruca.agents.tester"]},
            "consumer-1": {"sources": []}, "consumer-2": {"sources": []},
            "consumer-3": {"sources": []}, "py-consumer": {"sources": []}},
 "delivery": $delivery,
 "limits": $limits}
JSON
}

#  start_consumer NAME AGENT QUEUE [OPTION...]: a consumer in the background,
#  recording into $WORK/NAME.rec (stdout NAME.out, stderr NAME.err); waits
#  (10 s) for its SUBSCRIBED line. Sets CONSUMER_PID.
start_consumer () {
    name=$1 agent=$2 queue=$3
    shift 3
    "$CONSUMER" --broker "$ENDPOINT" --agent "$agent" --queue "$queue" \
        --record "$WORK/$name.rec" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
    CONSUMER_PID=$!
    PIDS="$PIDS $CONSUMER_PID"
    wait_for 10 grep -qs "^SUBSCRIBED $queue" "$WORK/$name.out" \
        || fail "consumer $name did not subscribe: $(cat "$WORK/$name.err")"
}

#  wait_pid SECONDS PID: wait for a background process to end; its exit
#  status (or 124 when it is still running after SECONDS: it is killed).
wait_pid () {
    if ! wait_for "$1" sh -c "! kill -0 $2 2>/dev/null"; then
        kill -9 "$2" 2>/dev/null
        wait "$2" 2>/dev/null
        return 124
    fi
    wait "$2"
}

#  make_events KIND COUNT FILE [OPTION...]: COUNT valid events of KIND
#  (issue, feature, change, test), one a line, distinct ids (see
#  delivery_check.py events --help for the options: --time, --set, --pad).
make_events () {
    "$PYTHON3" "$CHECK" events "$@" || fail "cannot generate events"
}

#  publish FILE AGENT: publish every line with `cabruca publish`; every
#  event must be ACKed (answers in $WORK/publish.out).
publish () {
    CABRUCA_BROKER=$ENDPOINT timeout 120 "$CABRUCA" publish --agent "$2" --timeout 60000 "$1" \
        > "$WORK/publish.out" 2> "$WORK/publish.err" \
        || fail "cabruca publish $1: $(head -3 "$WORK/publish.err") $(grep -v '^ack' "$WORK/publish.out" | head -3)"
    [ "$(grep -c '^ack ' "$WORK/publish.out")" -eq "$(grep -c . "$1")" ] \
        || fail "not every event of $1 was ACKed"
}

#  sql QUERY: run a read-only query on the store; one line per row, columns
#  separated by a space.
sql () {
    "$PYTHON3" "$CHECK" sql "$WORK/events.db" "$1"
}

#  sql_is VALUE QUERY: true when the query's single value is VALUE (for wait_for).
sql_is () {
    [ "$(sql "$2" 2>/dev/null)" = "$1" ]
}

#  cab ARGS...: the cabruca CLI against this broker and store.
cab () {
    CABRUCA_BROKER=$ENDPOINT "$CABRUCA" "$@"
}

#  lines_at_least N FILE...: the files have N lines or more in all.
lines_at_least () {
    n=$1
    shift
    [ "$(cat "$@" 2>/dev/null | wc -l)" -ge "$n" ]
}
