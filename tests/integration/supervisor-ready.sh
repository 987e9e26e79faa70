#!/bin/sh
#  Readiness gates dependents: "app" depends on "db", which reports ready
#  on its notification fd after 1.5 s; app starts only after that line.
#  A program whose dependency never gets ready is never started. Also:
#  `cabruca-supervisor -n` exits 0 on a good config, 100 on a bad one.
. "$(dirname "$0")/supervisor-lib.sh"
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log", "events_file": "events.jsonl",
 "programs": [
  {"name": "app", "command": ["$WORK/bin/daemon", "app"], "start_secs": 0.2,
   "depends_on": ["db"]},
  {"name": "db", "command": ["$WORK/bin/notifier", "db", "1.5"], "notify_fd": 3,
   "start_secs": 0.2},
  {"name": "mute", "command": ["$WORK/bin/daemon", "mute"], "notify_fd": 5},
  {"name": "waiter", "command": ["$WORK/bin/daemon", "waiter"], "depends_on": ["mute"]}
 ]}
JSON
"$SUPERVISOR" -n -c "$WORK/supervisor.json" 2>/dev/null || fail "-n: $?"
echo '{"programs": [{"name": "a", "command": ["x"], "restart": "sometimes"}]}' > "$WORK/bad.json"
"$SUPERVISOR" -n -c "$WORK/bad.json" 2> "$WORK/err"
[ $? -eq 100 ] || fail "-n on a bad config did not exit 100"
grep -q '/programs/0/restart' "$WORK/err" || fail "-n message: $(cat "$WORK/err")"

start_supervisor
wait_for 10 state_is app RUNNING || fail "app did not start"
"$PYTHON3" - "$WORK" <<'PY' || fail "app started before db was ready"
import sys
work = sys.argv[1]
ready = float(open(work + "/db.ready-at").read())
db_start = float(open(work + "/pids/db").read().split()[1])
app_start = float(open(work + "/pids/app").read().split()[1])
print("db ready %.2f s after its start; app started %.2f s after db was ready"
      % (ready - db_start, app_start - ready))
assert app_start >= ready, (app_start, ready)
PY
#  mute runs (state STARTING: it never says ready); waiter waits.
state_is mute STARTING || fail "mute: $(field mute state)"
state_is waiter STOPPED || fail "waiter: $(field waiter state)"
[ "$(starts waiter)" -eq 0 ] || fail "waiter started"
grep -q '"state":"ready","program":"db"' "$WORK/events.jsonl" || fail "no ready event"
stop_supervisor
echo "supervisor-ready: ok"
