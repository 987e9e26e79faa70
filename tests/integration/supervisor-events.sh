#!/bin/sh
#  Lifecycle events reach the broker: the supervisor runs the broker itself
#  (ready on its notification fd) and a worker that depends on it. The
#  broker's own "started" event is emitted before any broker listens: the
#  client keeps it and sends it once the broker is up. Every event is
#  validated by the broker against agent-lifecycle-1.0 and stored.
. "$(dirname "$0")/supervisor-lib.sh"
"$PYTHON3" -c 'import sqlite3' 2>/dev/null || { echo "python3 sqlite3 missing"; exit 77; }
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["ipc://$WORK/broker.ipc"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "agents": {"supervisor": {"sources": ["cabruca.supervisor"]}}}
JSON
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log", "events_file": "events.jsonl",
 "broker": {"endpoint": "ipc://$WORK/broker.ipc", "agent_id": "supervisor"},
 "programs": [
  {"name": "broker", "command": ["$CAB_BUILDDIR/cabruca-broker", "-c", "$WORK/broker.json", "-d", "3"],
   "notify_fd": 3, "start_secs": 0.2},
  {"name": "worker", "command": ["$WORK/bin/run-then-crash", "worker", "0.3"], "depends_on": ["broker"],
   "start_secs": 0.1, "restart": "on-failure", "backoff": {"initial": 1, "maximum": 1},
   "start_limit_burst": 1}
 ]}
JSON
start_supervisor
wait_for 15 state_is broker RUNNING || fail "the broker did not start"
wait_for 15 started_at_least worker 2 || fail "worker was not restarted"

stored () {
    "$PYTHON3" - "$WORK/events.db" "$@" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
rows = [json.loads(t) for (t,) in db.execute(
    "SELECT text FROM events WHERE source = 'cabruca.supervisor' AND detail_type = 'Agent Lifecycle'")]
have = set((r["detail"]["program"], r["detail"]["state"]) for r in rows)
want = set(tuple(x.split(":")) for x in sys.argv[2:])
sys.exit(0 if want <= have else 1)
PY
}
wait_for 15 stored broker:started broker:ready worker:started worker:ready worker:exited worker:restarted \
    || fail "lifecycle events missing from the store: $(cat "$WORK/events.jsonl" | cut -c1-0)"
echo "supervisor-events: started, ready, exited, restarted stored by the broker"
stop_supervisor
echo "supervisor-events: ok"
