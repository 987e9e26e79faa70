#!/bin/sh
#  kill -9 of the supervisor leaves no child running: direct children die
#  by PR_SET_PDEATHSIG, and the orphan guard kills each process group, so
#  grandchildren (here, sleeps that ignore SIGTERM) go too.
. "$(dirname "$0")/supervisor-lib.sh"
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log",
 "programs": [
  {"name": "one", "command": ["$WORK/bin/daemon", "one"], "start_secs": 0.2, "instances": 2},
  {"name": "two", "command": ["$WORK/bin/stubborn", "two"], "start_secs": 0.2}
 ]}
JSON
start_supervisor
wait_for 10 state_is one-2 RUNNING || fail "one-2 did not start"
wait_for 10 state_is two RUNNING || fail "two did not start"
wait_for 5 started_at_least one.grandchild 2 || fail "no grandchildren"
wait_for 5 started_at_least two.grandchild 1 || fail "no grandchild"
pids=$(cat "$WORK"/pids/* | cut -d' ' -f1)
[ "$(echo $pids | wc -w)" -eq 6 ] || fail "want 6 processes, have: $pids"
for pid in $pids; do alive "$pid" || fail "$pid is not running"; done

kill -9 "$SUP_PID"
wait "$SUP_PID" 2>/dev/null
SUP_PID=
for pid in $pids; do
    wait_for 5 gone "$pid" || fail "pid $pid still running after the supervisor was killed"
done
echo "supervisor-kill9: all $(echo $pids | wc -w) processes (3 children, 3 grandchildren) gone"
echo "supervisor-kill9: ok"
