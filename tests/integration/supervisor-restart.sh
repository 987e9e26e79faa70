#!/bin/sh
#  Restarts: a program that crashes at once is restarted with growing
#  delays (1 s, then 2 s) and marked FATAL when it hits its start limit; a
#  program that crashes after running healthily (longer than start_secs)
#  is restarted promptly, every time, and never marked FATAL; a program
#  with restart "on-failure" that exits 0 stays EXITED.
. "$(dirname "$0")/supervisor-lib.sh"
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log", "events_file": "events.jsonl",
 "programs": [
  {"name": "crasher", "command": ["$WORK/bin/crash", "crasher", "3"], "start_secs": 0.5,
   "backoff": {"initial": 1, "maximum": 8}, "start_limit_burst": 3, "start_limit_interval": 60},
  {"name": "healthy", "command": ["$WORK/bin/run-then-crash", "healthy", "1.2"], "start_secs": 0.5,
   "backoff": {"initial": 4, "maximum": 8}, "start_limit_burst": 2, "start_limit_interval": 60},
  {"name": "oneshot", "command": ["$WORK/bin/crash", "oneshot", "0"], "restart": "on-failure"}
 ]}
JSON
"$SUPERVISOR" -n -c "$WORK/supervisor.json" 2>/dev/null || fail "-n refused a good config"
start_supervisor

wait_for 15 state_is crasher FATAL || fail "crasher never became FATAL ($(starts crasher) starts)"
[ "$(starts crasher)" -eq 3 ] || fail "crasher started $(starts crasher) times, want 3 (burst)"
"$PYTHON3" - "$WORK/pids/crasher" <<'PY' || fail "crasher's restart delays did not grow"
import sys
t = [float(l.split()[1]) for l in open(sys.argv[1])]
gaps = [b - a for a, b in zip(t, t[1:])]
print("crasher restart gaps: " + ", ".join("%.2f s" % g for g in gaps))
assert 0.9 <= gaps[0] <= 1.6, gaps
assert 1.9 <= gaps[1] <= 2.8, gaps
PY
[ "$(field crasher last_exit)" = "{'status': 3}" ] || fail "crasher last_exit: $(field crasher last_exit)"
grep -q '"state":"fatal","program":"crasher"' "$WORK/events.jsonl" || fail "no fatal event"
[ "$(grep -c 'crash crasher' "$WORK/log/crasher.log")" -eq 3 ] || fail "crasher's output not logged"

wait_for 10 started_at_least healthy 4 || fail "healthy was not restarted promptly"
"$PYTHON3" - "$WORK/pids/healthy" <<'PY' || fail "healthy's restarts were not prompt"
import sys
t = [float(l.split()[1]) for l in open(sys.argv[1])]
gaps = [b - a for a, b in zip(t, t[1:])]
print("healthy restart gaps: " + ", ".join("%.2f s" % g for g in gaps))
#  1.2 s of running plus a prompt restart; never the 4 s backoff.
assert all(1.15 <= g <= 2.0 for g in gaps), gaps
PY
state=$(field healthy state)
[ "$state" != FATAL ] || fail "healthy was marked FATAL"
[ "$(field healthy restarts)" -ge 3 ] || fail "healthy restarts: $(field healthy restarts)"

state_is oneshot EXITED || fail "oneshot: $(field oneshot state), want EXITED"
[ "$(starts oneshot)" -eq 1 ] || fail "oneshot started $(starts oneshot) times"

#  FATAL is left by an explicit start.
ctl start crasher > /dev/null || fail "start crasher refused"
wait_for 5 started_at_least crasher 4 || fail "start did not restart a FATAL program"
stop_supervisor
echo "supervisor-restart: ok"
