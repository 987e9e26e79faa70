#!/bin/sh
#  Replay of a time window: Feature Requests published in three windows (event
#  times 3, 2 and 1 hours ago, plus one HIGH event just before and one just
#  after the middle window). `cabruca replay` of the middle window with
#  --rule replayed reaches exactly that window's events matching the rule:
#  its log target and its agent queue get them again, marked "replay-name";
#  the other rule's target gets nothing more, and nothing is stored again.
. "$(dirname "$0")/delivery-lib.sh"
cat > "$WORK/rules.json" <<'JSON'
{"rules": [{"name": "replayed",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"],
                              "detail": {"priority": ["HIGH"]}},
            "targets": [{"id": "log", "type": "log", "path": "logs/replayed.jsonl"},
                        {"id": "queue", "type": "agent", "queue": "rq"}]},
           {"name": "other",
            "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
            "targets": [{"id": "log", "type": "log", "path": "logs/other.jsonl"}]}]}
JSON
write_delivery_config
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the config does not check"
start_broker

#  Window w (1, 2, 3) starts (4 - w) hours ago, on a whole second; 10 HIGH
#  and 10 LOW events a second apart in each.
NOW=$(date -u +%s)
iso () { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
for w in 1 2 3; do
    start=$((NOW - (4 - w) * 3600))
    make_events feature 10 "$WORK/w$w.high" --time "$(iso "$start")" --step-ms 1000 --set 'priority="HIGH"'
    make_events feature 10 "$WORK/w$w.low" --time "$(iso "$start")" --step-ms 1000 --set 'priority="LOW"'
done
FROM=$((NOW - 2 * 3600))
TO=$((FROM + 9))
make_events feature 1 "$WORK/edge.before" --time "$(iso $((FROM - 1)))" --set 'priority="HIGH"'
make_events feature 1 "$WORK/edge.after" --time "$(iso $((TO + 1)))" --set 'priority="HIGH"'
cat "$WORK"/w?.high "$WORK"/w?.low "$WORK"/edge.* > "$WORK/events"
HIGH=$(cat "$WORK"/w?.high "$WORK"/edge.* | wc -l)  #  32: what rule "replayed" matches
ALL=$(wc -l < "$WORK/events")                         #  62
start_consumer c consumer-1 rq --count $((HIGH + 10)) --timeout 50000
publish "$WORK/events" product-001

#  Live delivery first: each target has its events once.
wait_for 20 lines_at_least "$HIGH" "$WORK/logs/replayed.jsonl" \
    || fail "the log target of rule replayed has $(cat "$WORK/logs/replayed.jsonl" 2>/dev/null | wc -l) lines, want $HIGH"
wait_for 20 lines_at_least "$ALL" "$WORK/logs/other.jsonl" \
    || fail "the log target of rule other has $(cat "$WORK/logs/other.jsonl" 2>/dev/null | wc -l) lines, want $ALL"
wait_for 20 lines_at_least "$HIGH" "$WORK/c.rec" || fail "the consumer got $(wc -l < "$WORK/c.rec") deliveries, want $HIGH"
STORED=$(sql 'SELECT count(*) FROM events')

cab replay --from "$(iso "$FROM")" --to "$(iso "$TO")" --rule replayed --speed max --name middle \
    > "$WORK/replay.out" 2>&1 || fail "cabruca replay: $(cat "$WORK/replay.out")"
wait_pid 30 "$CONSUMER_PID" || fail "the consumer did not get the replayed events: $(cat "$WORK/c.err")"
wait_for 20 lines_at_least $((HIGH + 10)) "$WORK/logs/replayed.jsonl" \
    || fail "the log target got $(($(wc -l < "$WORK/logs/replayed.jsonl") - HIGH)) replayed events, want 10"
#  Every replay delivery is done (and there are exactly 2 x 10 of them).
wait_for 10 sql_is "20 20" "SELECT count(*), sum(state = 1) FROM deliveries WHERE replay IS NOT NULL" \
    || fail "replay deliveries (count, done): $(sql 'SELECT count(*), sum(state = 1) FROM deliveries WHERE replay IS NOT NULL')"
[ "$(sql 'SELECT count(*) FROM events')" = "$STORED" ] || fail "the replay stored events again"

"$PYTHON3" - "$WORK" <<'PY' || fail "the replay did not reach exactly the window's events matching the rule"
import json, os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
window = set(check.ids_of(work + "/w2.high"))
high = set().union(*(check.ids_of("%s/%s" % (work, f)) for f in
                     ("w1.high", "w2.high", "w3.high", "edge.before", "edge.after")))
def log(name):
    return [json.loads(line) for line in open("%s/logs/%s.jsonl" % (work, name))]
replayed = [e for e in log("replayed") if "replay-name" in e]
live = [e for e in log("replayed") if "replay-name" not in e]
assert sorted(e["id"] for e in live) == sorted(high), "live log deliveries are not the HIGH events"
assert sorted(e["id"] for e in replayed) == sorted(window), \
    "the log target's replayed events are not the window's: %d extra, %d missing" % (
        len({e["id"] for e in replayed} - window), len(window - {e["id"] for e in replayed}))
names = {e["replay-name"] for e in replayed}
assert names == {"middle"}, "replay names %s" % names
name = names.pop()
assert not any("replay-name" in e for e in log("other")), "rule other got replayed events"
records = check.records([work + "/c.rec"])
queue_replayed = {(d, e, r) for d, _, e, action, r in records if r != "-"}
assert sorted(e for _, e, _ in queue_replayed) == sorted(window), "the queue's replayed events differ"
assert {r for _, _, r in queue_replayed} == {name}, "the queue saw replay names %s" % {r for _, _, r in queue_replayed}
assert {e for _, _, e, _, r in records if r == "-"} == high, "the queue's live events are not the HIGH ones"
print("replay %s of the middle window: %d events to the log target and the queue, each once; "
      "the other rule and the events outside the window untouched" % (name, len(window)))
PY

#  A replay of a rule that does not exist is refused, and changes nothing.
cab replay --from "$(iso "$FROM")" --to "$(iso "$TO")" --rule no-such-rule --name nope \
    > "$WORK/replay-nope.out" 2>&1 && fail "a replay of an unknown rule succeeded: $(cat "$WORK/replay-nope.out")"
grep -q NotFound "$WORK/replay-nope.out" || fail "an unknown rule: $(cat "$WORK/replay-nope.out")"

#  A second replay, of the first 3 seconds of window 3, without --rule but
#  with --pattern (LOW only) at the original speed: only rule "other" matches
#  LOW events, and its 3 events come spaced as they were (0, 1 and 2 s).
echo '{"detail": {"priority": ["LOW"]}}' > "$WORK/low.json"
FROM3=$((NOW - 3600))
started=$(date +%s%N)
#  On a terminal (script(1) gives it one) the CLI shows its progress.
REPLAY="CABRUCA_BROKER='$ENDPOINT' '$CABRUCA' replay --from $(iso "$FROM3") --to $(iso $((FROM3 + 2))) \
    --pattern '$WORK/low.json' --speed original --name paced"
if command -v script > /dev/null; then
    script -qefc "$REPLAY" "$WORK/replay2.tty" > "$WORK/replay2.out" 2>&1 \
        || fail "cabruca replay --pattern: $(cat "$WORK/replay2.out")"
    grep -q "100%" "$WORK/replay2.tty" || fail "no progress on the terminal: $(cat "$WORK/replay2.tty")"
else
    sh -c "$REPLAY" > "$WORK/replay2.out" 2>&1 || fail "cabruca replay --pattern: $(cat "$WORK/replay2.out")"
fi
wait_for 10 sql_is "3 3" "SELECT count(*), sum(state = 1) FROM deliveries WHERE replay = 'paced'" \
    || fail "replay paced (count, done): $(sql "SELECT count(*), sum(state = 1) FROM deliveries WHERE replay = 'paced'")"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
[ "$elapsed_ms" -ge 1800 ] || fail "a replay at the original speed of 2 s of events took $elapsed_ms ms"
"$PYTHON3" - "$WORK" <<'PY' || fail "the replay with --pattern did not reach exactly the LOW events"
import json, os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
want = check.ids_of(work + "/w3.low")[:3]
paced = [e["id"] for e in map(json.loads, open(work + "/logs/other.jsonl")) if e.get("replay-name") == "paced"]
assert sorted(paced) == sorted(want), "rule other got %d paced events" % len(paced)
assert not any(json.loads(l).get("replay-name") == "paced" for l in open(work + "/logs/replayed.jsonl"))
print("replay paced (--pattern, --speed original): exactly the 3 LOW events to rule other")
PY
stop_broker
echo "delivery-replay: ok"
