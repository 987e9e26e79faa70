#!/bin/sh
#  A durable pattern subscription outlives its subscriber and a kill -9 of
#  the broker: the events matching it while nobody consumes are routed to
#  the queue, wait in the store, and reach the next durable subscriber --
#  exactly those events.
. "$(dirname "$0")/delivery-lib.sh"
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "unrelated",
            "event_pattern": {"source": ["cabruca.agents.tester"]},
            "targets": [{"id": "log", "type": "log", "path": "logs/tests.jsonl"}]}]}
JSON
write_delivery_config
start_broker
PATTERN='{"source": ["cabruca.agents.product"], "detail": {"priority": ["CRITICAL"]}}'
#  A durable subscriber comes and goes (it runs for half a second).
start_consumer first consumer-1 dq --pattern "$PATTERN" --durable --timeout 500
wait_pid 10 "$CONSUMER_PID" || fail "the first durable subscriber did not end"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
start_broker
make_events feature 3 "$WORK/critical" --set 'priority="CRITICAL"'
make_events feature 2 "$WORK/low" --set 'priority="LOW"'
cat "$WORK/critical" "$WORK/low" > "$WORK/events"
publish "$WORK/events" product-001
[ "$(sql "SELECT count(*) FROM deliveries WHERE state = 0")" = 3 ] \
    || fail "pending deliveries for the durable pattern: $(sql 'SELECT rule, target, state FROM deliveries')"
#  The next durable subscriber gets them, and nothing else.
start_consumer second consumer-2 dq --pattern "$PATTERN" --durable --count 3 --linger 300 --timeout 20000
wait_pid 25 "$CONSUMER_PID" || fail "the second durable subscriber did not get 3 events: $(cat "$WORK/second.err")"
"$PYTHON3" - "$WORK" <<'PY' || fail "the durable queue did not get exactly the CRITICAL events"
import os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
got = sorted(e for _, _, e, action, _ in check.records([work + "/second.rec"]))
assert got == sorted(check.ids_of(work + "/critical")), "the durable queue got %s" % got
print("durable subscription: 3 CRITICAL events waited through a kill -9 for the next subscriber")
PY
stop_broker
echo "delivery-durable: ok"
