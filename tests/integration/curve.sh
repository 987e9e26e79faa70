#!/bin/sh
#  CURVE end to end (docs/security.md): `cabruca keys` makes the broker's
#  and an agent's certificates; `cabruca publish` with them is stored; a
#  certificate the broker does not know, or none, gets no answer; an
#  agent cannot publish another agent's source, nor subscribe where its
#  certificate does not let it; the broker refuses to start without its key.
. "$(dirname "$0")/broker-lib.sh"
EX="$CAB_SRCDIR/schemas/examples"
KEYS="$WORK/keys"

"$CABRUCA" keys new-broker --dir "$KEYS" > /dev/null || fail "keys new-broker"
"$CABRUCA" keys new monitor-001 --sources cabruca.agents.monitor --dir "$KEYS" > /dev/null \
    || fail "keys new"
"$CABRUCA" keys new stranger --sources '*' --dir "$WORK/other" > /dev/null || fail "keys new"
[ "$(stat -c %a "$KEYS/monitor-001_secret")" = 600 ] || fail "the secret key must be 0600"
[ "$(stat -c %a "$KEYS/broker.key_secret")" = 600 ] || fail "the broker key must be 0600"
grep -q 'sources = "cabruca.agents.monitor"' "$KEYS/monitor-001" || fail "sources metadata"
"$CABRUCA" keys new monitor-001 --sources x --dir "$KEYS" > /dev/null 2>&1 \
    && fail "keys new must not overwrite a key"
"$CABRUCA" keys new 'bad name' --sources x --dir "$KEYS" > /dev/null 2>&1
[ $? -eq 2 ] || fail "keys new with a bad name: exit 2"
mkdir "$WORK/certs"
cp "$KEYS/monitor-001" "$WORK/certs/"

cat > "$WORK/broker.json" <<JSON
{"endpoints": ["tcp://127.0.0.1:*"],
 "store": {"path": "events.db"},
 "schemas": "$CAB_SRCDIR/schemas",
 "curve": {"secret_key_file": "keys/broker.key_secret", "clients_dir": "certs"}}
JSON
start_broker
ENDPOINT=$(sed -n 's/.*ready on \(tcp:[^ ]*\).*/\1/p' "$WORK/broker.log" | tail -1)
[ -n "$ENDPOINT" ] || fail "no endpoint in the log"
export CABRUCA_BROKER=$ENDPOINT

#  A known agent: stored.
"$CABRUCA" publish --agent monitor-001 --curve-cert "$KEYS/monitor-001_secret" \
    --server-cert "$KEYS/broker.key" "$EX/issue-detection.valid.json" > "$WORK/out" \
    || fail "known agent: $(cat "$WORK/out")"
[ "$(grep -c '^ack ' "$WORK/out")" -ge 1 ] || fail "known agent: $(cat "$WORK/out")"
#  The same by environment, on status.
CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
    "$CABRUCA" status --json --timeout 5000 > "$WORK/status" || fail "status with CURVE"
STORED=$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored"])' \
    "$WORK/status")
[ "$STORED" -ge 1 ] || fail "nothing stored: $(cat "$WORK/status")"

#  Another agent's source: NACK AccessDenied /source.
sed 's/"cabruca.agents.monitor"/"cabruca.agents.tester"/' "$EX/issue-detection.valid.json" \
    | head -1 > "$WORK/foreign"
"$CABRUCA" publish --agent monitor-001 --curve-cert "$KEYS/monitor-001_secret" \
    --server-cert "$KEYS/broker.key" "$WORK/foreign" > "$WORK/out"
grep -q '^nack AccessDenied /source' "$WORK/out" || fail "foreign source: $(cat "$WORK/out")"

#  Unknown certificate, no certificate, only one of the two: no answer or usage.
"$CABRUCA" publish --agent stranger --timeout 1500 --curve-cert "$WORK/other/stranger_secret" \
    --server-cert "$KEYS/broker.key" "$EX/issue-detection.valid.json" > "$WORK/out" 2>&1 \
    && fail "an unknown certificate must not get in: $(cat "$WORK/out")"
grep -q '^ack' "$WORK/out" && fail "an unknown certificate got an ACK"
"$CABRUCA" status --timeout 1000 > /dev/null 2>&1 && fail "status without CURVE answered"
"$CABRUCA" status --curve-cert "$KEYS/monitor-001_secret" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--curve-cert without --server-cert: exit 2"
CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
    "$CABRUCA" status --json > "$WORK/status2" || fail "status"
[ "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored"])' \
    "$WORK/status2")" = "$STORED" ] || fail "something more was stored"
#  An agent (cab_agent) takes its certificates from the environment: the
#  monitor connects and its event is stored; without them it gets no session.
cat > "$WORK/agents.json" <<JSON
{"monitor": {"interval_ms": 100, "load": false, "memory": false,
             "disks": [{"path": "$WORK", "medium": 0.001}]}}
JSON
CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
    "$CAB_BUILDDIR/cabruca-monitor" --config "$WORK/agents.json" --notify-fd 3 \
    3>"$WORK/monitor.ready" 2>"$WORK/monitor.log" &
MONITOR=$!
PIDS="$PIDS $MONITOR"
wait_for 10 test -s "$WORK/monitor.ready" || fail "the monitor got no session: $(cat "$WORK/monitor.log")"
more_stored () {
    CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
        "$CABRUCA" status --json > "$WORK/status3" 2>/dev/null &&
        [ "$("$PYTHON3" -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored"])' \
            "$WORK/status3")" -gt "$STORED" ]
}
wait_for 10 more_stored || fail "the monitor's event was not stored"
kill -TERM "$MONITOR"
wait_for 10 sh -c "! kill -0 $MONITOR 2>/dev/null" || fail "the monitor did not stop"
CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" "$CAB_BUILDDIR/cabruca-monitor" \
    --config "$WORK/agents.json" 2> "$WORK/monitor2.log"
[ $? -eq 1 ] || fail "one CURVE variable alone must be refused"
grep -q "CABRUCA_SERVER_CERT" "$WORK/monitor2.log" || fail "message: $(cat "$WORK/monitor2.log")"
"$CAB_BUILDDIR/cabruca-monitor" --config "$WORK/agents.json" --notify-fd 3 \
    3>"$WORK/plain.ready" 2>/dev/null &
PLAIN=$!
PIDS="$PIDS $PLAIN"
sleep 1.5
[ -s "$WORK/plain.ready" ] && fail "an agent without CURVE got a session"
kill -TERM "$PLAIN" 2>/dev/null

#  Subscriptions (docs/security.md): a reader's certificate allows queue
#  "alerts" and patterns on the monitor's source only; each refusal is
#  AccessDenied with a pointer, and counted.
CONSUMER="$CAB_BUILDDIR/tests/integration/consumer"
"$CABRUCA" keys new reader-001 --sources none --queues alerts \
    --read-sources cabruca.agents.monitor --dir "$KEYS" > /dev/null || fail "keys new --queues"
grep -q 'queues = "alerts"' "$KEYS/reader-001" || fail "queues metadata"
cp "$KEYS/reader-001" "$WORK/certs/"
reader () {
    CABRUCA_CURVE_CERT="$KEYS/reader-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
        "$CONSUMER" --broker "$ENDPOINT" --agent reader-001 --timeout 200 "$@"
}
#  (The broker reads its clients directory again when it changes.)
reader --queue alerts > "$WORK/sub" 2>&1 || fail "reader, queue alerts: $(cat "$WORK/sub")"
reader --queue alerts --pattern '{"source": ["cabruca.agents.monitor"]}' > "$WORK/sub" 2>&1 \
    || fail "reader, allowed pattern: $(cat "$WORK/sub")"
reader --queue others > "$WORK/sub" 2>&1
[ $? -eq 111 ] || fail "reader subscribed to a queue not allowed: $(cat "$WORK/sub")"
grep -q 'AccessDenied /queue' "$WORK/sub" || fail "queue refusal: $(cat "$WORK/sub")"
reader --queue alerts --pattern '{"detail-type": ["Issue Detected"]}' > "$WORK/sub" 2>&1
[ $? -eq 111 ] || fail "a pattern not pinning source: $(cat "$WORK/sub")"
grep -q 'AccessDenied /pattern' "$WORK/sub" || fail "pattern refusal: $(cat "$WORK/sub")"
reader --queue alerts --pattern '{"source": ["cabruca.agents.tester"]}' > "$WORK/sub" 2>&1
grep -q 'AccessDenied /pattern/source/0' "$WORK/sub" || fail "source refusal: $(cat "$WORK/sub")"
CABRUCA_CURVE_CERT="$KEYS/monitor-001_secret" CABRUCA_SERVER_CERT="$KEYS/broker.key" \
    "$CABRUCA" status --json > "$WORK/status4" || fail "status"
REFUSED=$("$PYTHON3" -c 'import json,sys
d = json.load(open(sys.argv[1]))["delivery"]["subscriptions_refused"]
print(d.get("AccessDenied", 0))' "$WORK/status4")
[ "$REFUSED" -eq 3 ] || fail "subscriptions_refused: $(cat "$WORK/status4")"
stop_broker

#  Deny by default: no key, no start (exit 100, a clear message).
rm "$KEYS/broker.key_secret"
"$BROKER" --config "$WORK/broker.json" 2> "$WORK/err" && fail "started without its key"
grep -q 'secret_key_file' "$WORK/err" || fail "message: $(cat "$WORK/err")"
exit 0
