#!/bin/sh
#  The four agents with real processes, a real broker and a real git
#  repository: a commit lands on a watched branch -> Code Change (APPROVED by
#  its trailer) -> the default CI/CD rule -> the tester runs the repository's
#  tests, one of which fails -> Test Results FAILED -> after the threshold
#  the product agent files ONE Feature Request citing the failures; the
#  monitor reports a disk threshold it is configured to see. Every event
#  is in the history with the right correlation. The broker is killed and
#  restarted in the middle; the agents reconnect and the flow completes.
#  The developer and product agents restart too: their state survives.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
command -v git >/dev/null 2>&1 || { echo "git not installed"; exit 77; }

REPO="$WORK/repo"
mkdir -p "$REPO" "$WORK/logs"
git init -q -b main "$REPO"
git -C "$REPO" config user.email dev@example.org
git -C "$REPO" config user.name "Dev Eloper"
cat > "$REPO/run-tests.sh" <<'SH'
#!/bin/sh
# A TAP test suite: test_rotate fails while the file BROKEN exists.
echo "1..2"
echo "ok 1 - test_compress"
if [ -e BROKEN ]; then echo "not ok 2 - test_rotate"; exit 1; fi
echo "ok 2 - test_rotate"
SH
chmod +x "$REPO/run-tests.sh"
git -C "$REPO" add run-tests.sh
git -C "$REPO" commit -q -m "chore: the test suite"
git -C "$REPO" checkout -q -b feature/rotate

cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "rules": "$CAB_SRCDIR/schemas/rules/default.json",
 "data_dir": "$WORK",
 "delivery": {"backoff_base_ms": 100, "backoff_max_ms": 1000},
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "product-001": {"sources": ["cabruca.agents.product"]},
            "developer-001": {"sources": ["cabruca.agents.developer"]},
            "tester-001": {"sources": ["cabruca.agents.tester"]}}}
JSON
cat > "$WORK/agents.json" <<JSON
{"broker": "$ENDPOINT",
 "monitor": {"interval_ms": 200, "load": false, "memory": false,
             "disks": [{"path": "$WORK", "medium": 0.001}]},
 "developer": {"interval_ms": 200, "state_file": "$WORK/developer-state.json",
               "repositories": [{"path": "$REPO", "branches": ["feature/*"],
                                 "main_branches": ["main"], "test_command": "./run-tests.sh"}]},
 "tester": {"work_dir": "$WORK/worktrees", "artifacts_dir": "$WORK/runs", "timeout_s": 60},
 "product": {"threshold": 2, "window_s": 3600, "state_file": "$WORK/product-state.json"}}
JSON
start_broker

AGENT_PIDS=
start_agent () {
    "$CAB_BUILDDIR/cabruca-$1" --config "$WORK/agents.json" --notify-fd 3 \
        3>"$WORK/$1.ready" 2>>"$WORK/$1.log" &
    echo $! > "$WORK/$1.pid"
    AGENT_PIDS="$AGENT_PIDS $!"
    PIDS="$PIDS $!"
}
for agent in monitor developer tester product; do start_agent $agent; done
for agent in monitor developer tester product; do
    wait_for 10 test -s "$WORK/$agent.ready" || fail "$agent did not get ready: $(cat "$WORK/$agent.log")"
done

#  count SQL: the events in the store matching a WHERE clause.
count () {
    "$PYTHON3" -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM events WHERE " + sys.argv[2]).fetchone()[0])' \
        "$WORK/events.db" "$1" 2>/dev/null || echo 0
}
at_least () { [ "$(count "$2")" -ge "$1" ]; }

#  The developer remembered the branch; now two failing commits land,
#  approved by their trailer, with the broker killed in between.
wait_for 10 test -s "$WORK/developer-state.json" || fail "developer did not see the branch"
touch "$REPO/BROKEN"
git -C "$REPO" add BROKEN
git -C "$REPO" commit -q -m "feat: rotate logs" -m "Approved-by: Reviewer <r@example.org>"
wait_for 20 at_least 1 "detail_type = 'Test Results'" || fail "no Test Results for the first commit"

kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
git -C "$REPO" commit -q --allow-empty -m "fix: rotate again" -m "Approved-by: Reviewer <r@example.org>"
sleep 1
start_broker
wait_for 30 at_least 2 "detail_type = 'Test Results'" || fail "no Test Results for the second commit"
wait_for 20 at_least 1 "detail_type = 'Feature Request'" || fail "no Feature Request filed"
wait_for 10 at_least 1 "detail_type = 'Issue Detection' AND json_extract(text, '\$.detail.issue_type') = 'disk_full'" ||
    fail "the monitor reported no disk threshold"

#  The developer and the product agent restart: their state survives. A
#  third failing commit lands while the developer is down; it is published
#  once (and no earlier commit again), and no second request is filed.
for agent in developer product; do
    pid=$(cat "$WORK/$agent.pid")
    kill -TERM "$pid"
    wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "$agent did not stop on SIGTERM"
done
git -C "$REPO" commit -q --allow-empty -m "fix: third try" -m "Approved-by: Reviewer <r@example.org>"
for agent in developer product; do
    rm -f "$WORK/$agent.ready"
    start_agent $agent
    wait_for 10 test -s "$WORK/$agent.ready" || fail "$agent did not come back"
done
wait_for 30 at_least 3 "detail_type = 'Test Results'" || fail "no Test Results for the third commit"
sleep 1

#  One request only, citing the failures; chains correlate.
sleep 1
"$PYTHON3" - "$WORK/events.db" "$CAB_BUILDDIR/cabruca" "$CAB_SRCDIR/schemas" <<'PY' || fail "history check"
import json, sqlite3, subprocess, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
events = [json.loads(t) for (t,) in db.execute("SELECT text FROM events ORDER BY seq")]
by_id = {e["id"]: e for e in events}
changes = [e for e in events if e["detail-type"] == "Code Change"]
results = [e for e in events if e["detail-type"] == "Test Results"]
requests = [e for e in events if e["detail-type"] == "Feature Request"]
assert len(changes) == 3, "code changes: %d" % len(changes)
assert len({c["detail"]["commit"] for c in changes}) == 3, "a commit was published twice"
assert all(c["detail"]["status"] == "APPROVED" for c in changes), changes
assert all(r["detail"]["status"] == "FAILED" for r in results), results
assert len(requests) == 1, "feature requests: %d" % len(requests)
for r in results:
    change = by_id[r["detail"]["code_change_id"]]
    assert r["detail"]["correlation_id"] == change["detail"]["correlation_id"], "result correlation"
    assert r["detail"]["causation_id"] == change["id"], "result causation"
    assert [t["name"] for t in r["detail"]["failed_tests"]] == ["test_rotate"], r["detail"]
request = requests[0]["detail"]
assert "test_rotate" in request["title"], request["title"]
assert set(request["related_events"]) <= {r["id"] for r in results}, request["related_events"]
assert len(request["related_events"]) >= 2, request
cause = by_id[request["causation_id"]]
assert cause["detail-type"] == "Test Results" and request["correlation_id"] == cause["detail"]["correlation_id"]
# every event validates against its schema
for e in events:
    p = subprocess.run([sys.argv[2], "schemas", "validate", "--dir", sys.argv[3], "-"],
                       input=json.dumps(e).encode(), capture_output=True)
    assert p.returncode == 0, (e["detail-type"], p.stdout, p.stderr)
PY

#  The agents stop cleanly on SIGTERM.
for pid in $AGENT_PIDS; do kill -TERM "$pid" 2>/dev/null; done
for pid in $AGENT_PIDS; do
    wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "agent $pid did not stop"
done
stop_broker
echo "ok: the four agents, one flow, one feature request"
