#!/bin/sh
#  An agent written in Python from docs/protocol.md alone talks to a real
#  cabruca-broker: pipelined publish, every refusal code, duplicates, errors.
. "$(dirname "$0")/broker-lib.sh"
"$PYTHON3" -c 'import zmq' 2>/dev/null || { echo "python3-zmq not installed"; exit 77; }
write_config
"$BROKER" -n --config "$WORK/broker.json" 2>/dev/null || fail "the config does not check"
start_broker
timeout 60 "$PYTHON3" "$CAB_SRCDIR/tests/integration/agent.py" "$ENDPOINT" 2000 \
    || fail "the Python agent found a problem"
CABRUCA_BROKER=$ENDPOINT "$CABRUCA" status --json > "$WORK/status.json" || fail "cabruca status"
grep -q '"stored": 2001' "$WORK/status.json" || fail "status: $(cat "$WORK/status.json")"
stop_broker
echo "python-agent: ok"
