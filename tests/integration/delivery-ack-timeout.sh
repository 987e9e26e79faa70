#!/bin/sh
#  The ack timeout and the per-consumer window: a consumer that stays
#  connected but never answers holds at most max_in_flight deliveries; the
#  others wait for a consumer with credit; after delivery.ack_timeout_ms each
#  held delivery counts as a failed attempt and is delivered again, until
#  another consumer acknowledges it. The silent consumer is never forgotten:
#  this is the timeout, not "consumer gone".
. "$(dirname "$0")/delivery-lib.sh"
TOTAL=6
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "work-queue",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
            "targets": [{"id": "workers", "type": "agent", "queue": "work"}]}]}
JSON
write_delivery_config '{"ack_timeout_ms": 1000, "backoff_base_ms": 20, "backoff_max_ms": 100}'
start_broker

start_consumer h consumer-1 work --max-in-flight 3 --hold --timeout 60000
H_PID=$CONSUMER_PID
make_events feature "$TOTAL" "$WORK/events"
publish "$WORK/events" product-001
#  The window: 3 held, and no more while none is answered.
wait_for 10 lines_at_least 3 "$WORK/h.rec" || fail "the holding consumer got $(wc -l < "$WORK/h.rec") deliveries"
[ "$(grep -c ' 1 .* hold ' "$WORK/h.rec")" -le 3 ] || fail "more than max_in_flight first deliveries: $(cat "$WORK/h.rec")"

start_consumer b consumer-2 work --max-in-flight 10 --timeout 60000
B_PID=$CONSUMER_PID
wait_for 30 "$PYTHON3" "$CHECK" covered "$WORK/events" "$WORK/b.rec" \
    || fail "consumer-2 did not get every event: $(cat "$WORK/b.rec")"
#  consumer-1 is still connected: its deliveries came back by the timeout.
cab status --json > "$WORK/status.json" || fail "cabruca status"
"$PYTHON3" - "$WORK" <<'PY' || fail "the ack timeout did not work as it should"
import json, os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
status = json.load(open(work + "/status.json"))
agents = {a["agent_id"] for a in status.get("agents", [])}
assert "consumer-1" in agents, "the silent consumer was forgotten (agents: %s)" % sorted(agents)
held = check.records([work + "/h.rec"])
acked = check.records([work + "/b.rec"])
assert all(action == "hold" for _, _, _, action, _ in held)
first = [(d, e) for d, attempt, e, _, _ in held if attempt == 1]
assert len(first) == 3, "first deliveries held: %d" % len(first)
attempts = {d: attempt for d, attempt, _, action, _ in acked if action == "ack"}
for delivery, event_id in first:
    assert attempts.get(delivery, 0) >= 2, "held delivery %d acknowledged at attempt %s" % (
        delivery, attempts.get(delivery))
retried = status.get("delivery", {}).get("retried", 0)
assert retried >= 3, "delivery.retried %s after 3 timeouts" % retried
print("ack timeout: 3 deliveries held by a connected consumer came back (attempts %s) and were "
      "acknowledged by the other; %d holds in all, delivery.retried %d"
      % (sorted(attempts[d] for d, _ in first), len(held), retried))
PY
kill -TERM "$B_PID" "$H_PID"
wait_pid 10 "$B_PID" || fail "consumer-2 did not stop"
wait_pid 10 "$H_PID" || fail "consumer-1 did not stop"
stop_broker
[ "$(sql 'SELECT count(*) FROM deliveries WHERE state != 1')" = 0 ] \
    || fail "deliveries not DONE: $(sql 'SELECT id, state, attempts, error FROM deliveries WHERE state != 1')"
echo "delivery-ack-timeout: ok"
