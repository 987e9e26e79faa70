#!/bin/sh
#  SIGHUP with deliveries in flight: a rule file that drops two of three
#  rules. A delivery in flight (its consumer is busy with it) finishes, both
#  for the rule kept and for a rule removed; a pending delivery of a removed
#  rule (no consumer) is dead-lettered with "rule removed"; nothing is
#  redelivered.
. "$(dirname "$0")/delivery-lib.sh"
rule () {  #  rule NAME QUEUE
    echo "{\"name\": \"$1\", \"event_pattern\": {\"source\": [\"cabruca.agents.product\"]},
           \"targets\": [{\"id\": \"q\", \"type\": \"agent\", \"queue\": \"$2\"}]}"
}
echo "{\"rules\": [$(rule kept kq), $(rule removed rq), $(rule dropped void)]}" > "$WORK/rules.json"
#  Consumers busy for 4 s in a delivery must not be forgotten (timeout_ms)
#  nor see it time out (ack_timeout_ms) meanwhile.
write_delivery_config '{"ack_timeout_ms": 20000, "backoff_base_ms": 50, "backoff_max_ms": 500}' \
    '{"heartbeat_ms": 200, "timeout_ms": 15000}'
start_broker
start_consumer k consumer-1 kq --max-in-flight 1 --slow-ms 4000 --count 1 --timeout 30000
K_PID=$CONSUMER_PID
start_consumer r consumer-2 rq --max-in-flight 1 --slow-ms 4000 --count 1 --timeout 30000
R_PID=$CONSUMER_PID
make_events feature 1 "$WORK/events"
publish "$WORK/events" product-001
wait_for 10 lines_at_least 1 "$WORK/k.rec" || fail "consumer-1 got nothing"
wait_for 10 lines_at_least 1 "$WORK/r.rec" || fail "consumer-2 got nothing"

#  Both consumers are inside their delivery: reload with only rule "kept".
echo "{\"rules\": [$(rule kept kq)]}" > "$WORK/rules.json"
kill -HUP "$BROKER_PID"
wait_for 10 grep -q "rules reloaded" "$WORK/broker.log" || fail "the broker did not reload its rules"
[ "$(sql "SELECT count(*) FROM deliveries WHERE rule IN ('kept', 'removed') AND state = 0")" = 2 ] \
    || fail "inconclusive: the deliveries were no longer in flight when the reload was done"
wait_for 10 sql_is "2" "SELECT state FROM deliveries WHERE rule = 'dropped'" \
    || fail "the pending delivery of a removed rule: $(sql "SELECT state, error FROM deliveries WHERE rule = 'dropped'")"
sql "SELECT error FROM deliveries WHERE rule = 'dropped'" | grep -q "rule removed" \
    || fail "the dead letter says: $(sql "SELECT error FROM deliveries WHERE rule = 'dropped'")"
wait_pid 10 "$K_PID" || fail "consumer-1 did not finish: $(cat "$WORK/k.err")"
wait_pid 10 "$R_PID" || fail "consumer-2 did not finish: $(cat "$WORK/r.err")"
wait_for 10 sql_is "1 1" "SELECT group_concat(state, ' ') FROM deliveries WHERE rule IN ('kept', 'removed')" \
    || fail "in-flight deliveries after the reload: $(sql "SELECT rule, state, attempts, error FROM deliveries")"
cab status --json > "$WORK/status.json" || fail "cabruca status"
"$PYTHON3" -c '
import json, sys
delivery = json.load(open(sys.argv[1]))["delivery"]
assert delivery["retried"] == 0, "redeliveries: %s" % delivery
assert delivery["rules"] == 1, "rules after the reload: %s" % delivery
' "$WORK/status.json" || fail "status after the reload: $(cat "$WORK/status.json")"
[ "$(cat "$WORK/k.rec" "$WORK/r.rec" | wc -l)" -eq 2 ] || fail "a delivery came twice: $(cat "$WORK/k.rec" "$WORK/r.rec")"
stop_broker
echo "delivery-reload: ok"
