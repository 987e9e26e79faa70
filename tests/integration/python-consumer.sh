#!/bin/sh
#  The consuming side of the protocol from docs/protocol.md alone: the Python
#  agent (agent.py consume) subscribes to the queue a rule routes Feature
#  Requests to, checks the window, DNACK and redelivery, DACK, a run-time
#  pattern subscription, UNSUBSCRIBE and CONTROL against a real broker.
. "$(dirname "$0")/delivery-lib.sh"
"$PYTHON3" -c 'import zmq' 2>/dev/null || { echo "python3-zmq not installed"; exit 77; }
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "feature-request-product-queue",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
            "targets": [{"id": "product-management", "type": "agent", "queue": "product-management"}]}]}
JSON
write_delivery_config
start_broker
timeout 60 "$PYTHON3" "$CAB_SRCDIR/tests/integration/agent.py" consume "$ENDPOINT" \
    || fail "the Python consumer found a problem"
stop_broker
#  Every delivery of the rule's queue was acknowledged (the pattern
#  subscription's too).
[ "$(sql "SELECT count(*) FROM deliveries WHERE state != 1")" = 0 ] \
    || fail "deliveries not DONE: $(sql 'SELECT rule, target, state, attempts FROM deliveries WHERE state != 1')"
[ "$(sql "SELECT count(*) FROM deliveries WHERE rule = 'feature-request-product-queue'")" = 30 ] \
    || fail "$(sql "SELECT count(*) FROM deliveries WHERE rule = 'feature-request-product-queue'") deliveries for the rule, want 30"
echo "python-consumer: ok"
