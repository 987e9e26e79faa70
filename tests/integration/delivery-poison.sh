#!/bin/sh
#  Poison events: their command target fails every time (exit 1) until a
#  flag file exists. With maximum_retry_attempts 2 each is tried 3 times,
#  then dead-lettered: `cabruca dlq list` shows it with its rule, target,
#  error and attempts (filters, `dlq show`), and the broker stored a
#  "Delivery Dead-Lettered" event about it. Once the target is fixed,
#  `cabruca dlq redrive` delivers one (chosen by event id), `cabruca dlq
#  purge` drops the other, and the dead-letter queue is empty.
. "$(dirname "$0")/delivery-lib.sh"
cat > "$WORK/target.sh" <<SH
#!/bin/sh
echo attempt >> "$WORK/attempts"
if [ -f "$WORK/fixed" ]; then
    cat >> "$WORK/delivered"
    echo >> "$WORK/delivered"
    exit 0
fi
cat > /dev/null
echo "the target is broken" >&2
exit 1
SH
chmod +x "$WORK/target.sh"
cat > "$WORK/rules.json" <<JSON
{"rules": [{"name": "poison",
            "event_pattern": {"source": ["cabruca.agents.monitor"], "detail-type": ["Issue Detection"]},
            "targets": [{"id": "broken-command", "type": "command", "command": ["$WORK/target.sh"],
                         "timeout_ms": 5000,
                         "retry_policy": {"maximum_retry_attempts": 2, "maximum_event_age_seconds": 600},
                         "dead_letter_queue": "standard"}]}]}
JSON
write_delivery_config '{"ack_timeout_ms": 3000, "backoff_base_ms": 20, "backoff_max_ms": 100}'
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the config does not check"
start_broker
make_events issue 2 "$WORK/events"
id_of () {  #  id_of N: the id of the N-th event
    sed -n "${1}p" "$WORK/events" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
FIRST=$(id_of 1)
SECOND=$(id_of 2)
publish "$WORK/events" monitor-001

#  dlq ARGS...: `cabruca dlq list --json` (one object a line) with ARGS.
dlq () {
    cab dlq list --config "$WORK/broker.json" --json "$@" > "$WORK/dlq.json" 2> "$WORK/dlq.err"
}
dlq_count_is () {
    n=$1
    shift
    dlq "$@" && [ "$(grep -c . "$WORK/dlq.json")" -eq "$n" ]
}
wait_for 20 dlq_count_is 2 \
    || fail "the events were not dead-lettered: dlq list: $(cat "$WORK/dlq.json" "$WORK/dlq.err"); attempts: $(grep -c . "$WORK/attempts" 2>/dev/null)"
[ "$(grep -c attempt "$WORK/attempts")" -eq 6 ] \
    || fail "the target ran $(grep -c attempt "$WORK/attempts") times, want 6 (1 + 2 retries, twice)"
dlq_count_is 1 --event-id "$FIRST" || fail "dlq list --event-id: $(cat "$WORK/dlq.json" "$WORK/dlq.err")"
"$PYTHON3" - "$FIRST" "$WORK/dlq.json" <<'PY' || fail "the dead letter is not described as it should be"
import json, sys
entry = json.loads(open(sys.argv[2]).readline())
want = {"event_id": sys.argv[1], "rule": "poison", "target": "broken-command", "attempts": 3,
        "queue": "standard", "state": "dead"}
assert {k: entry.get(k) for k in want} == want, entry
assert "broken" in entry["error"] and entry.get("dead_lettered"), entry
print("dead letter:", json.dumps(entry, sort_keys=True))
PY
DEAD_ID=$("$PYTHON3" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$WORK/dlq.json")
cab dlq show "$DEAD_ID" --config "$WORK/broker.json" --json > "$WORK/show.json" 2>&1 \
    || fail "cabruca dlq show: $(cat "$WORK/show.json")"
grep -q "$FIRST" "$WORK/show.json" || fail "cabruca dlq show $DEAD_ID: $(cat "$WORK/show.json")"
dlq_count_is 0 --rule no-such-rule || fail "dlq list --rule filters nothing"
#  The text output names them too.
cab dlq list --config "$WORK/broker.json" > "$WORK/dlq.txt" 2>&1 || fail "cabruca dlq list: $(cat "$WORK/dlq.txt")"
grep -q "$FIRST" "$WORK/dlq.txt" && grep -q "$SECOND" "$WORK/dlq.txt" \
    || fail "cabruca dlq list does not show the events: $(cat "$WORK/dlq.txt")"

#  The broker published a cabruca.broker event about each (stored like any other).
notices="SELECT text FROM events WHERE source = 'cabruca.broker' AND detail_type = 'Delivery Dead-Lettered'"
wait_for 5 sql_is 2 "SELECT count(*) FROM ($notices)" || fail "not 2 Delivery Dead-Lettered events in the store"
sql "$notices" | "$PYTHON3" -c '
import json, sys
details = {d["event_id"]: d for d in (json.loads(line)["detail"] for line in sys.stdin)}
assert set(details) == set(sys.argv[1:]), details
for detail in details.values():
    assert (detail["rule"], detail["target"], detail["queue"]) == ("poison", "broken-command", "standard"), detail
    assert detail["reason"] == "MAX_ATTEMPTS" and detail["attempts"] == 3, detail
    assert "broken" in detail.get("last_error", ""), detail
' "$FIRST" "$SECOND" || fail "the Delivery Dead-Lettered events are wrong: $(sql "$notices")"

#  Fix the target, redrive the first: delivered. Purge the second: gone.
: > "$WORK/fixed"
cab dlq redrive --event-id "$FIRST" > "$WORK/redrive.out" 2>&1 || fail "cabruca dlq redrive: $(cat "$WORK/redrive.out")"
wait_for 20 grep -qs "$FIRST" "$WORK/delivered" || fail "the redriven event did not reach the fixed target"
wait_for 10 dlq_count_is 1 || fail "after the redrive: $(cat "$WORK/dlq.json")"
grep -q "$SECOND" "$WORK/dlq.json" || fail "the wrong dead letter was redriven"
cab dlq purge --event-id "$SECOND" --yes > "$WORK/purge.out" 2>&1 || fail "cabruca dlq purge: $(cat "$WORK/purge.out")"
wait_for 10 dlq_count_is 0 || fail "the dead-letter queue is not empty: $(cat "$WORK/dlq.json")"
"$PYTHON3" -c '
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
assert [e["id"] for e in events] == [sys.argv[2]], "the fixed target got %s" % [e["id"] for e in events]
assert "replay-name" not in events[0]
' "$WORK/delivered" "$FIRST" || fail "the target got: $(cat "$WORK/delivered")"
stop_broker
[ "$(sql "SELECT group_concat(state) FROM deliveries WHERE rule = 'poison'")" = 1 ] \
    || fail "deliveries after redrive and purge: $(sql 'SELECT id, state, attempts, error FROM deliveries')"
echo "delivery-poison: ok"
