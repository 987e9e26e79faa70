#!/bin/sh
#  10,000 events routed to an agent queue while no consumer is connected:
#  10,000 pending deliveries. kill -9 of the broker, a restart on the same
#  store, and then a consumer receives every one of the 10,000 event ids at
#  least once; a duplicate carries the same event id (and delivery id). A
#  second kill -9 while the consumer is at work gives real duplicates.
#  CAB_KILL9_EVENTS sets the number (default 10000).
. "$(dirname "$0")/delivery-lib.sh"
TOTAL=${CAB_KILL9_EVENTS:-10000}
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "to-product",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
            "targets": [{"id": "product-management", "type": "agent", "queue": "product-management"}]}]}
JSON
#  A window of 1,000 pending deliveries in memory: the rest is read back
#  from the store as the window drains.
write_delivery_config '{"ack_timeout_ms": 5000, "backoff_base_ms": 50, "backoff_max_ms": 500, "max_pending_in_memory": 1000}'
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the config does not check"
start_broker
make_events feature "$TOTAL" "$WORK/events"
publish "$WORK/events" product-001
#  Each ACKed event has its delivery recorded in the same transaction.
[ "$(sql "SELECT count(*) FROM deliveries WHERE state = 0")" = "$TOTAL" ] \
    || fail "$(sql "SELECT count(*) FROM deliveries WHERE state = 0") pending deliveries after $TOTAL ACKs, want $TOTAL"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
echo "kill -9 with $TOTAL pending deliveries"
start_broker
start_consumer c consumer-1 product-management --max-in-flight 100 --count "$TOTAL" --timeout 50000
#  And once more while the consumer is at work: acknowledgements not yet
#  committed, deliveries in flight. The consumer's client reconnects.
wait_for 20 lines_at_least $((TOTAL * 3 / 10)) "$WORK/c.rec" || fail "the consumer did not start consuming"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
echo "kill -9 again after $(wc -l < "$WORK/c.rec") deliveries to the consumer"
start_broker
wait_pid 45 "$CONSUMER_PID" || fail "the consumer did not get every delivery: $(cat "$WORK/c.err")"

"$PYTHON3" - "$WORK" <<'PY' || fail "the deliveries after the restart do not add up"
import os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
published = set(check.ids_of(work + "/events"))
records = check.records([work + "/c.rec"])
event_of = {}
for delivery, attempt, event_id, action, replay in records:
    assert event_id in published, "delivered an event nobody published: %s" % event_id
    assert event_of.setdefault(delivery, event_id) == event_id, "delivery %d: two event ids" % delivery
    assert action == "ack" and replay == "-"
received = set(event_of.values())
assert received == published, "%d of %d events never delivered" % (len(published - received), len(published))
print("after kill -9 and restart: %d deliveries, %d distinct events, %d duplicates (same ids)"
      % (len(records), len(received), len(records) - len(received)))
PY
stop_broker
[ "$(sql 'SELECT count(*) FROM deliveries WHERE state != 1')" = 0 ] \
    || fail "deliveries not DONE: $(sql 'SELECT state, count(*) FROM deliveries GROUP BY state')"
echo "delivery-kill9: ok"
