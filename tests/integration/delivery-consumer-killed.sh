#!/bin/sh
#  Consumers share one agent queue; one is killed (SIGKILL, by itself) while
#  it holds a delivery it never acknowledged. The broker redelivers what it
#  held to another: every event is acknowledged, none is lost, and a
#  duplicate always carries the same event id (and delivery id). A third
#  consumer refuses (DNACK) every first attempt: what it refuses comes back.
. "$(dirname "$0")/delivery-lib.sh"
TOTAL=200
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "work-queue",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
            "targets": [{"id": "workers", "type": "agent", "queue": "work"}]}]}
JSON
write_delivery_config
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the config does not check"
start_broker

#  consumer-1 dies on its 5th delivery; consumer-2 takes the rest.
start_consumer a consumer-1 work --max-in-flight 10 --die-after 5
A_PID=$CONSUMER_PID
start_consumer b consumer-2 work --max-in-flight 10 --timeout 60000
B_PID=$CONSUMER_PID
start_consumer c consumer-3 work --max-in-flight 10 --timeout 60000 --nack-first
C_PID=$CONSUMER_PID
make_events feature "$TOTAL" "$WORK/events"
publish "$WORK/events" product-001

wait_pid 20 "$A_PID"
status=$?
[ "$status" -eq 137 ] || fail "consumer-1 should have died by SIGKILL, exit status $status"
grep -q ' die ' "$WORK/a.rec" || fail "consumer-1 recorded no delivery it died holding"
wait_for 30 "$PYTHON3" "$CHECK" covered "$WORK/events" "$WORK/a.rec" "$WORK/b.rec" "$WORK/c.rec" \
    || fail "not every event was acknowledged: $(cat "$WORK"/?.rec | wc -l) deliveries recorded"
kill -TERM "$B_PID" "$C_PID"
wait_pid 10 "$B_PID" || fail "consumer-2 did not stop on SIGTERM"
wait_pid 10 "$C_PID" || fail "consumer-3 did not stop on SIGTERM"

"$PYTHON3" - "$WORK" <<'PY' || fail "the deliveries do not add up"
import os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
published = set(check.ids_of(work + "/events"))
a, b, c = (check.records([work + "/%s.rec" % name]) for name in "abc")
event_of = {}
for delivery, attempt, event_id, action, replay in a + b + c:
    assert event_id in published, "delivered an event nobody published: %s" % event_id
    assert event_of.setdefault(delivery, event_id) == event_id, \
        "delivery %d carried two event ids" % delivery
    assert replay == "-", "a replay-name outside a replay"
acked_a = {e for _, _, e, action, _ in a if action == "ack"}
acked_b = {e for _, _, e, action, _ in b if action == "ack"}
acked_c = {e for _, _, e, action, _ in c if action == "ack"}
assert acked_a | acked_b | acked_c == published, \
    "%d events never acknowledged" % len(published - acked_a - acked_b - acked_c)
# consumer-3 refused each first attempt; each refused delivery came back and was acknowledged.
refused = {d for d, attempt, _, action, _ in c if action == "nack"}
assert refused and all(attempt == 1 for _, attempt, _, action, _ in c if action == "nack")
assert all(attempt >= 2 for _, attempt, _, action, _ in c if action == "ack")
acked_deliveries = {d: attempt for d, attempt, _, action, _ in a + b + c if action == "ack"}
assert all(acked_deliveries.get(d, 0) >= 2 for d in refused), "a refused delivery never came back"
dead = [(d, e) for d, _, e, action, _ in a if action == "die"]
assert len(dead) == 1 and len(a) == 5, "consumer-1 handled %d deliveries, died with %d" % (len(a), len(dead))
delivery, event_id = dead[0]
redelivered = [attempt for d, attempt, e, action, _ in b + c if d == delivery and action == "ack"]
assert redelivered, "the delivery consumer-1 died holding (%s) was not redelivered" % event_id
assert max(redelivered) >= 2, "its redelivery says attempt %s" % redelivered
acks = sum(1 for r in a + b + c if r[3] == "ack")
print("%d events: %d acknowledged by consumer-1 before it died, %d by consumer-2, %d by consumer-3 "
      "(which refused %d first attempts); the one consumer-1 held came back as attempt %d; "
      "%d duplicate acknowledgements (same ids)"
      % (len(published), len(acked_a), len(acked_b), len(acked_c), len(refused), max(redelivered),
         acks - len(published)))
PY

stop_broker
#  Every acknowledgement reached the store: no delivery is left pending.
[ "$(sql 'SELECT count(*) FROM deliveries')" = "$TOTAL" ] \
    || fail "$(sql 'SELECT count(*) FROM deliveries') deliveries in the store, want $TOTAL"
[ "$(sql 'SELECT count(*) FROM deliveries WHERE state != 1')" = 0 ] \
    || fail "deliveries not DONE after the acknowledgements: $(sql 'SELECT state, count(*) FROM deliveries GROUP BY state')"
echo "delivery-consumer-killed: ok"
