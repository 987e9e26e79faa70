#!/bin/sh
#  `cabruca query` and `cabruca tail` on a store a real broker filled (the
#  load test's four event types): filters, pattern, order, limit, JSON lines;
#  tail prints the last N then follows new events; bad input exits 2.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "agents": {"monitor-lt-1": {"sources": ["cabruca.agents.monitor"]},
            "product-lt-2": {"sources": ["cabruca.agents.product"]},
            "developer-lt-3": {"sources": ["cabruca.agents.developer"]},
            "tester-lt-4": {"sources": ["cabruca.agents.tester"]}}}
JSON
start_broker
"$CAB_BUILDDIR/cabruca-loadtest" --broker "$ENDPOINT" --agents 4 --events-per-agent 25 \
    > /dev/null || fail "seeding"
STORE="$WORK/events.db"

n=$("$CABRUCA" query --store "$STORE" --limit 0 --json | wc -l)
[ "$n" = 100 ] || fail "query all: $n"
n=$("$CABRUCA" query --config "$WORK/broker.json" --json | wc -l)
[ "$n" = 100 ] || fail "query via --config: $n"
n=$("$CABRUCA" query --store "$STORE" --limit 7 --json | wc -l)
[ "$n" = 7 ] || fail "limit: $n"
n=$("$CABRUCA" query --store "$STORE" --type "Test Results" --json | wc -l)
[ "$n" = 25 ] || fail "type: $n"
n=$("$CABRUCA" query --store "$STORE" --source cabruca.agents.monitor --json | wc -l)
[ "$n" = 25 ] || fail "source: $n"
"$CABRUCA" query --store "$STORE" --pattern '{"detail":{"severity":["HIGH","CRITICAL"]}}' --json \
    > "$WORK/high.jsonl" || fail "pattern query"
"$PYTHON3" -c 'import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows and all(r["detail"]["severity"] in ("HIGH", "CRITICAL") for r in rows), rows' \
    "$WORK/high.jsonl" || fail "the pattern let other events through"
echo '{"detail-type": ["Code Change"]}' > "$WORK/pattern.json"
n=$("$CABRUCA" query --store "$STORE" --pattern "$WORK/pattern.json" --json | wc -l)
[ "$n" = 25 ] || fail "pattern file: $n"
first=$("$CABRUCA" query --store "$STORE" --desc --limit 1 | awk 'NR == 2 {print $1}')
[ "$first" = 100 ] || fail "--desc starts at $first"
"$CABRUCA" query --store "$STORE" --since -1h --until now --json | wc -l | grep -qx 100 ||
    fail "time range"
[ "$("$CABRUCA" query --store "$STORE" --since 2000-01-01T00:00:00Z --until 2000-01-02T00:00:00Z --json | wc -l)" = 0 ] ||
    fail "an empty window"
id=$(sed -n '1p' "$WORK/high.jsonl" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["detail"]["correlation_id"])')
[ "$("$CABRUCA" query --store "$STORE" --correlation "$id" --json | wc -l)" = 1 ] || fail "correlation"

#  tail: the last 3, then 2 new ones, then exit (--count 5).
"$CABRUCA" tail --store "$STORE" --last 3 --count 5 --timeout 20 --json > "$WORK/tail.jsonl" &
TAIL=$!
PIDS="$PIDS $TAIL"
wait_for 10 sh -c "[ \$(wc -l < '$WORK/tail.jsonl') -ge 3 ]" || fail "tail did not print the last 3"
"$CAB_BUILDDIR/cabruca-loadtest" --broker "$ENDPOINT" --agents 2 --events-per-agent 1 > /dev/null ||
    fail "publishing more"
wait_for 10 sh -c "! kill -0 $TAIL 2>/dev/null" || fail "tail did not stop after --count"
wait "$TAIL" || fail "tail exited $?"
[ "$(wc -l < "$WORK/tail.jsonl")" = 5 ] || fail "tail printed $(wc -l < "$WORK/tail.jsonl")"
#  --timeout before --count: exit 1.
"$CABRUCA" tail --store "$STORE" --last 0 --count 1 --timeout 0.5 > /dev/null
[ $? = 1 ] || fail "tail timeout must exit 1"

for args in "--since x" "--until 2026-13-01T00:00:00Z" "--limit -1" "--limit x" "--bogus" \
    "--pattern {" "--pattern /nonexistent.json" "--store a --config b" "--since now --until -1h" \
    "--source"; do
    # shellcheck disable=SC2086
    "$CABRUCA" query --store "$STORE" $args > /dev/null 2>&1
    [ $? = 2 ] || fail "query $args did not exit 2"
done
"$CABRUCA" tail --store "$STORE" --count 0 > /dev/null 2>&1; [ $? = 2 ] || fail "tail --count 0"
"$CABRUCA" query > /dev/null 2>&1; [ $? = 2 ] || fail "query without a store"
"$CABRUCA" query --store "$WORK/none.db" > /dev/null 2>&1; [ $? = 1 ] || fail "a missing store"
echo "{}" > "$WORK/notbroker.json"
"$CABRUCA" query --config "$WORK/notbroker.json" > /dev/null 2>&1; [ $? = 2 ] || fail "a config without store"
stop_broker
echo "ok: cabruca query and tail"
