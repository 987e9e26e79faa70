#!/bin/sh
#  Shared by the dashboard tests: a store seeded through a real broker
#  (broker-lib.sh: WORK, start_broker, the cleanup trap), a chain of four
#  events (issue -> feature -> change -> test, linked by causation_id), a
#  poison rule whose command target always fails (dead letters), 1,000
#  events from cabruca-loadtest, two refused events (NACKs), a connected
#  consuming agent, the cloud mirror in dry-run with a small budget
#  ($0.002 a month; product's 200 an hour over its cap are shed), a real
#  cabruca-supervisor with two programs, then cabruca-dashboard on a free
#  port asking both. Sets DASH_URL, DASH_PID, ISSUE_ID .. TEST_ID, CTL.
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
 "mirror": {"enabled": true, "dry_run": true},
 "budget": {"monthly_budget_usd": 0.002,
            "policies": [{"source": "cabruca.agents.product", "policy": "shed"}]},
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "watcher-001": {"sources": []},
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
#  Two refused events: a schema violation and a source the agent may not use.
new_event "$WORK/bad" cabruca.agents.tester "Test Results" tester-001 "" "" '{"test_type": "UNIT", "status": "MAYBE"}' >/dev/null
new_event "$WORK/bad" cabruca.agents.monitor "Issue Detection" tester-001 "" "" \
    '{"severity": "LOW", "issue_type": "disk", "description": "not mine to say"}' >/dev/null
CABRUCA_BROKER=$ENDPOINT timeout 60 "$CABRUCA" publish --agent tester-001 --timeout 30000 "$WORK/bad" \
    > "$WORK/publish.out" 2>&1 && fail "the refused events were accepted"

#  A consuming agent that stays connected (a queue nothing is routed to).
"$CAB_BUILDDIR/tests/integration/consumer" --broker "$ENDPOINT" --agent watcher-001 --queue dash-watch \
    --pattern '{"source": ["cabruca.agents.nobody"]}' --timeout 600000 \
    > "$WORK/watcher.out" 2> "$WORK/watcher.err" &
PIDS="$PIDS $!"
wait_for 10 grep -qs "^SUBSCRIBED dash-watch" "$WORK/watcher.out" \
    || fail "the watcher did not subscribe: $(cat "$WORK/watcher.err")"

#  A real supervisor: a program that runs and one that keeps failing.
CTL="ipc://$WORK/run/supervisor.ipc"
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "$WORK/run", "log_dir": "$WORK/log",
 "programs": [{"name": "sleeper", "command": ["/bin/sleep", "1000"], "start_secs": 0.2},
              {"name": "crasher", "command": ["/bin/false"], "start_secs": 0.2,
               "backoff": {"initial": 1, "maximum": 2}}]}
JSON
rm -f "$WORK/sup-ready"
"$CAB_BUILDDIR/cabruca-supervisor" --config "$WORK/supervisor.json" --notify-fd 3 3>"$WORK/sup-ready" \
    2>>"$WORK/supervisor.log" &
SUP_PID=$!
#  Stopped with SIGTERM (it stops its programs) before the broker-lib trap
#  kills and waits for the rest; SIGKILL only if it does not stop.
stop_supervisor () {
    [ -n "$SUP_PID" ] || return 0
    kill -TERM "$SUP_PID" 2>/dev/null
    wait_for 15 sh -c "! kill -0 $SUP_PID 2>/dev/null" || kill -9 "$SUP_PID" 2>/dev/null
    wait "$SUP_PID" 2>/dev/null
    SUP_PID=
}
trap 'stop_supervisor; cleanup' EXIT
wait_for 10 test -s "$WORK/sup-ready" || fail "the supervisor did not get ready: $(cat "$WORK/supervisor.log")"

#  mirrored: the outbox is empty (every event dry-run, sampled or shed).
mirrored () {
    "$PYTHON3" - "$WORK/events.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
sys.exit(0 if db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0 else 1)
PY
}
wait_for 30 settled || fail "the deliveries did not settle"
wait_for 30 mirrored || fail "the mirror's outbox did not empty"

#  start_dashboard [EXTRA_JSON_MEMBERS]: config, -n check, start, wait for
#  readiness; DASH_URL from its "ready on" line.
start_dashboard () {
    cat > "$WORK/dash.json" <<JSON
{"listen": "127.0.0.1:0", "store": "events.db", "www": "$CAB_SRCDIR/core/dashboard/www",
 "broker": "${DASH_BROKER:-$ENDPOINT}", "supervisor": "${DASH_SUPERVISOR:-$CTL}", "poll_ms": 500${1:+, $1}}
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
