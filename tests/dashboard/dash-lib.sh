#!/bin/sh
#  Shared by the dashboard tests: a store seeded through a real broker
#  (broker-lib.sh: WORK, start_broker, the cleanup trap), a chain of four
#  events (issue -> feature -> change -> test, linked by causation_id), a
#  poison rule whose command target always fails (dead letters), 1,000
#  events from cabruca-loadtest, then cabruca-dashboard on a free port.
#  Sets DASH_URL, DASH_PID, ISSUE_ID .. TEST_ID.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
DASHBOARD="$CAB_BUILDDIR/cabruca-dashboard"
LOADTEST="$CAB_BUILDDIR/cabruca-loadtest"
DASH_PID=

cat > "$WORK/fail.sh" <<SH
#!/bin/sh
cat > /dev/null
echo "the target is broken" >&2
exit 1
SH
chmod +x "$WORK/fail.sh"
cat > "$WORK/rules.json" <<JSON
{"rules": [{"name": "poison-issues",
            "event_pattern": {"source": ["cabruca.agents.monitor"], "detail-type": ["Issue Detection"],
                              "detail": {"severity": ["CRITICAL"]}},
            "targets": [{"id": "broken", "type": "command", "command": ["$WORK/fail.sh"],
                         "timeout_ms": 5000,
                         "retry_policy": {"maximum_retry_attempts": 1, "maximum_event_age_seconds": 600},
                         "dead_letter_queue": "critical"}]},
           {"name": "all-tests", "event_pattern": {"source": ["cabruca.agents.tester"]},
            "targets": [{"id": "log", "type": "log", "path": "$WORK/tests.log"}]}]}
JSON
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "rules": "$WORK/rules.json",
 "data_dir": "$WORK",
 "delivery": {"ack_timeout_ms": 3000, "backoff_base_ms": 20, "backoff_max_ms": 100},
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "product-001": {"sources": ["cabruca.agents.product"]},
            "developer-001": {"sources": ["cabruca.agents.developer"]},
            "tester-001": {"sources": ["cabruca.agents.tester"]},
            "monitor-lt-1": {"sources": ["cabruca.agents.monitor"]},
            "product-lt-2": {"sources": ["cabruca.agents.product"]},
            "developer-lt-3": {"sources": ["cabruca.agents.developer"]},
            "tester-lt-4": {"sources": ["cabruca.agents.tester"]}}}
JSON
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the broker config does not check"
start_broker

#  new_event FILE SOURCE TYPE AGENT CORRELATION CAUSATION DETAIL_JSON: print the id.
new_event () {
    "$PYTHON3" - "$@" <<'PY'
import json, sys, uuid, datetime
path, source, dtype, agent, corr, cause, extra = sys.argv[1:8]
event_id = str(uuid.uuid4())
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
detail = {"schema_version": "1.0", "agent_id": agent, "correlation_id": corr or event_id}
if cause:
    detail["causation_id"] = cause
detail.update(json.loads(extra))
event = {"version": "0", "id": event_id, "detail-type": dtype, "source": source,
         "account": "local", "time": now, "region": "sa-east-1", "resources": [], "detail": detail}
open(path, "a").write(json.dumps(event, separators=(",", ":")) + "\n")
print(event_id)
PY
}

#  publish_as AGENT FILE: every line ACKed.
publish_as () {
    CABRUCA_BROKER=$ENDPOINT timeout 60 "$CABRUCA" publish --agent "$1" --timeout 30000 "$2" \
        > "$WORK/publish.out" 2> "$WORK/publish.err" \
        || fail "cabruca publish $2: $(cat "$WORK/publish.err" "$WORK/publish.out" | head -5)"
    rm -f "$2"
}

ISSUE_ID=$(new_event "$WORK/e1" cabruca.agents.monitor "Issue Detection" monitor-001 "" "" \
    '{"severity": "CRITICAL", "issue_type": "disk", "description": "disk almost full on web-1"}')
publish_as monitor-001 "$WORK/e1"
FEATURE_ID=$(new_event "$WORK/e2" cabruca.agents.product "Feature Request" product-001 "$ISSUE_ID" "$ISSUE_ID" \
    '{"priority": "HIGH", "feature_type": "RELIABILITY", "title": "log rotation", "description": "rotate logs"}')
publish_as product-001 "$WORK/e2"
CHANGE_ID=$(new_event "$WORK/e3" cabruca.agents.developer "Code Change" developer-001 "$ISSUE_ID" "$FEATURE_ID" \
    '{"repository": "/srv/git/webapp", "branch": "main", "commit": "3f2a9c1", "change_type": "FEATURE", "status": "APPROVED"}')
publish_as developer-001 "$WORK/e3"
TEST_ID=$(new_event "$WORK/e4" cabruca.agents.tester "Test Results" tester-001 "$ISSUE_ID" "$CHANGE_ID" \
    '{"test_type": "UNIT", "status": "PASSED", "duration_ms": 10}')
publish_as tester-001 "$WORK/e4"

"$LOADTEST" --broker "$ENDPOINT" --agents 4 --events-per-agent 250 > "$WORK/loadtest.out" 2>&1 \
    || fail "cabruca-loadtest: $(tail -5 "$WORK/loadtest.out")"

#  settled: no delivery pending and a "Delivery Dead-Lettered" event stored
#  for every dead letter (the broker writes those after the retries).
settled () {
    "$PYTHON3" - "$WORK/events.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
pending = db.execute("SELECT count(*) FROM deliveries WHERE state = 0").fetchone()[0]
dead = db.execute("SELECT count(*) FROM deliveries WHERE state = 2").fetchone()[0]
told = db.execute("SELECT count(*) FROM events WHERE detail_type = 'Delivery Dead-Lettered'").fetchone()[0]
sys.exit(0 if pending == 0 and dead > 0 and told == dead else 1)
PY
}
wait_for 30 settled || fail "the deliveries did not settle"

#  start_dashboard [EXTRA_JSON_MEMBERS]: config, -n check, start, wait for
#  readiness; DASH_URL from its "ready on" line.
start_dashboard () {
    cat > "$WORK/dash.json" <<JSON
{"listen": "127.0.0.1:0", "store": "events.db", "www": "$CAB_SRCDIR/core/dashboard/www"${1:+, $1}}
JSON
    "$DASHBOARD" -n --config "$WORK/dash.json" 2>>"$WORK/dash.log" || fail "dashboard -n failed: $(cat "$WORK/dash.log")"
    rm -f "$WORK/dash-ready"
    : > "$WORK/dash.log"
    "$DASHBOARD" --config "$WORK/dash.json" --notify-fd 3 3>"$WORK/dash-ready" 2>>"$WORK/dash.log" &
    DASH_PID=$!
    PIDS="$PIDS $DASH_PID"
    wait_for 10 test -s "$WORK/dash-ready" || fail "the dashboard did not get ready: $(cat "$WORK/dash.log")"
    DASH_URL=$(sed -n 's/^cabruca-dashboard: ready on \(http:[^ ]*\)\/ .*/\1/p' "$WORK/dash.log")
    [ -n "$DASH_URL" ] || fail "no ready line: $(cat "$WORK/dash.log")"
}

#  stop_dashboard: SIGTERM; exit status 0 within 10 s.
stop_dashboard () {
    kill -TERM "$DASH_PID"
    wait_for 10 sh -c "! kill -0 $DASH_PID 2>/dev/null" || fail "the dashboard did not stop"
    wait "$DASH_PID"
    status=$?
    DASH_PID=
    [ "$status" -eq 0 ] || fail "dashboard exit status $status after SIGTERM"
}
