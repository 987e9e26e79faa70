#!/bin/sh
#  cabruca-loadtest against a real broker: counts agree with the broker's,
#  a fixed rate sends exactly rate x duration events, refusals are reported
#  by code with exit 1, bad flags exit 2, no broker exits 1.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
LOADTEST="$CAB_BUILDDIR/cabruca-loadtest"

#  The cloud mirror off: its default caps (product 200 an hour) would add
#  the broker's own Budget Threshold events to the counts compared here.
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "mirror": {"enabled": false},
 "schemas": "$CAB_SRCDIR/schemas",
 "agents": {"monitor-lt-1": {"sources": ["cabruca.agents.monitor"]},
            "product-lt-2": {"sources": ["cabruca.agents.product"]},
            "developer-lt-3": {"sources": ["cabruca.agents.developer"]},
            "tester-lt-4": {"sources": ["cabruca.agents.tester"]}}}
JSON
start_broker

field () {  # field FILE KEY -> the value of a top-level or dotted key
    "$PYTHON3" -c 'import json,sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[k]
print(d)' "$1" "$2"
}

#  1. As fast as the windows allow: every event acknowledged and stored.
"$LOADTEST" --broker "$ENDPOINT" --agents 4 --events-per-agent 500 --json > "$WORK/r1.json" ||
    fail "a clean run exited $?"
[ "$(field "$WORK/r1.json" sent)" = 2000 ] || fail "sent $(field "$WORK/r1.json" sent), not 2000"
[ "$(field "$WORK/r1.json" acked)" = 2000 ] || fail "acked is not 2000"
[ "$(field "$WORK/r1.json" broker.stored)" = 2000 ] || fail "the broker stored other than 2000"
[ "$(field "$WORK/r1.json" unanswered)" = 0 ] || fail "unanswered events"

#  2. A fixed rate: 2,000 events/s for 1 s over 4 agents is 2,000 events.
"$LOADTEST" --broker "$ENDPOINT" --agents 4 --rate 2000 --duration 1 --json > "$WORK/r2.json" ||
    fail "the paced run exited $?"
[ "$(field "$WORK/r2.json" sent)" = 2000 ] || fail "paced run sent $(field "$WORK/r2.json" sent)"
"$PYTHON3" -c 'import json,sys
r = json.load(open(sys.argv[1]))
assert 0.8 <= r["seconds"] <= 5, r["seconds"]
l = r["latency"]
assert 0 < l["p50_ms"] <= l["p99_ms"] <= l["p999_ms"] <= l["max_ms"] + 1e-9, l' "$WORK/r2.json" ||
    fail "paced run: implausible duration or percentiles"

#  3. The readable report names the totals.
"$LOADTEST" --broker "$ENDPOINT" --agents 2 --events-per-agent 50 > "$WORK/r3.txt" ||
    fail "the table run exited $?"
grep -q '^acked       100 ' "$WORK/r3.txt" || fail "table: $(cat "$WORK/r3.txt")"

#  4. An agent the broker does not know: AccessDenied NACKs, exit 1.
"$LOADTEST" --broker "$ENDPOINT" --agents 2 --agent-ids monitor-lt-1,monitor-intruder \
    --events-per-agent 20 --json > "$WORK/r4.json"
[ $? = 1 ] || fail "refusals must exit 1"
[ "$(field "$WORK/r4.json" nacked_by_code.AccessDenied)" = 20 ] || fail "AccessDenied not counted"
[ "$(field "$WORK/r4.json" acked)" = 20 ] || fail "the known agent's events were not acked"

#  5. Usage errors exit 2 with a message.
for args in "--agents 0" "--agents 257" "--agents x" "--rate -1" "--duration 0" \
    "--window 0" "--payload-bytes 999999" "--events-per-agent 1.5" "--frobnicate 1" \
    "--agents" "stray" "--agents 1 --agent-ids bad/id" "--agents 1 --agent-ids a,b"; do
    # shellcheck disable=SC2086
    "$LOADTEST" $args > /dev/null 2> "$WORK/err"
    [ $? = 2 ] || fail "'$args' did not exit 2"
    grep -q "cabruca-loadtest: " "$WORK/err" || fail "'$args' gave no message"
done
"$LOADTEST" --help | grep -q '^usage: cabruca-loadtest' || fail "--help"

#  6. No broker: exit 1 with the reason, promptly.
"$LOADTEST" --broker "ipc://$WORK/nobody.ipc" --agents 1 --connect-timeout 0.3 \
    > /dev/null 2> "$WORK/err"
[ $? = 1 ] || fail "no broker must exit 1"
grep -q "no session" "$WORK/err" || fail "no broker: $(cat "$WORK/err")"

stop_broker
echo "ok: cabruca-loadtest"
