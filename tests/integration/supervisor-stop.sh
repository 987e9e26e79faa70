#!/bin/sh
#  Stopping: a program that ignores SIGTERM (and whose child ignores it
#  too) is killed after its stop timeout, with its whole process group;
#  SIGTERM to the supervisor stops every program in reverse dependency
#  order and exits 0.
. "$(dirname "$0")/supervisor-lib.sh"
cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log",
 "programs": [
  {"name": "base", "command": ["$WORK/bin/daemon", "base"], "start_secs": 0.2},
  {"name": "stubborn", "command": ["$WORK/bin/stubborn", "stubborn"], "start_secs": 0.2,
   "stop_timeout": 1, "depends_on": ["base"]},
  {"name": "top", "command": ["$WORK/bin/daemon", "top"], "start_secs": 0.2,
   "instances": 2, "depends_on": ["stubborn"]}
 ]}
JSON
start_supervisor
wait_for 10 state_is top-2 RUNNING || fail "top-2 did not start"
#  The control socket is owner-only.
[ "$(stat -c %a "$WORK/run")" = 700 ] || fail "run_dir mode $(stat -c %a "$WORK/run")"
[ "$(stat -c %a "$WORK/run/supervisor.ipc")" = 600 ] || fail "socket mode"
"$CABRUCA" supervisor --help | grep -q 'restart NAME' || fail "cabruca supervisor --help"
wait_for 5 test -s "$WORK/pids/stubborn.grandchild" || fail "no grandchild"
child=$(last_pid stubborn)
grandchild=$(last_pid stubborn.grandchild)
alive "$child" && alive "$grandchild" || fail "stubborn is not running"

#  Stop it through the control socket: TERM is ignored, KILL after 1 s.
before=$(date +%s.%N)
ctl stop stubborn > "$WORK/out" || fail "stop refused: $(cat "$WORK/out")"
grep -q '^stubborn: stop$' "$WORK/out" || fail "stop output: $(cat "$WORK/out")"
wait_for 5 state_is stubborn STOPPED || fail "stubborn did not stop"
after=$(date +%s.%N)
"$PYTHON3" -c "import sys; d = $after - $before; print('stop took %.2f s' % d); sys.exit(0 if 0.9 <= d <= 3 else 1)" \
    || fail "the stop did not wait for the stop timeout"
gone "$child" || fail "stubborn ($child) survived"
wait_for 2 gone "$grandchild" || fail "stubborn's grandchild ($grandchild) survived"
[ "$(field stubborn last_exit)" = "{'signal': 9}" ] || fail "last_exit $(field stubborn last_exit)"
grep -q 'stubborn: still running after 1000 ms: SIGKILL' "$WORK/supervisor.log" || fail "no KILL log"
#  Stopped by request: not restarted; a stopped program can be started.
[ "$(starts stubborn)" -eq 1 ] || fail "stubborn was restarted"
ctl start stubborn > /dev/null || fail "start refused"
wait_for 5 state_is stubborn RUNNING || fail "stubborn did not start again"
ctl stop nosuch 2> "$WORK/err" && fail "stop of an unknown program succeeded"
grep -q 'NotFound' "$WORK/err" || fail "unknown program: $(cat "$WORK/err")"

#  SIGTERM: top-1, top-2, then stubborn (1 s timeout), then base; exit 0.
stop_supervisor
grep -E ': stopping pid' "$WORK/supervisor.log" | sed 's/.*: \([a-z0-9-]*\): stopping.*/\1/' \
    | tail -4 | tr '\n' ' ' > "$WORK/order"
case "$(cat "$WORK/order")" in
    "top-1 top-2 stubborn base "|"top-2 top-1 stubborn base ") ;;
    *) fail "stop order: $(cat "$WORK/order")" ;;
esac
for file in "$WORK"/pids/*; do
    for pid in $(cut -d' ' -f1 "$file"); do
        wait_for 2 gone "$pid" || fail "pid $pid ($(basename "$file")) still running"
    done
done
echo "supervisor-stop: ok"
