#!/bin/sh
#  Reload applies exactly the differences: after SIGHUP with a changed
#  config, the removed program is stopped, the changed one restarted (new
#  pid), the added one started, and the unchanged ones keep their pids.
#  A bad config is refused and changes nothing; `reload` over the control
#  socket does the same as SIGHUP.
. "$(dirname "$0")/supervisor-lib.sh"
config () {
    cat > "$WORK/supervisor.json" <<JSON
{"run_dir": "run", "log_dir": "log",
 "programs": [
  {"name": "keep", "command": ["$WORK/bin/daemon", "keep"], "start_secs": 0.2},
  {"name": "keep2", "command": ["$WORK/bin/daemon", "keep2"], "start_secs": 0.2, "instances": 2,
   "environment": {"A": "1"}, "depends_on": ["keep"]},
  $1
 ]}
JSON
}
config '{"name": "gone", "command": ["'"$WORK"'/bin/daemon", "gone"], "start_secs": 0.2},
  {"name": "change", "command": ["'"$WORK"'/bin/daemon", "change"], "start_secs": 0.2, "environment": {"X": "1"}}'
start_supervisor
for name in keep keep2-1 keep2-2 gone change; do
    wait_for 10 state_is $name RUNNING || fail "$name did not start"
done
ctl status --json > "$WORK/before.json"

#  Reformatted, reordered and with defaults spelled out, keep and keep2 are
#  the same programs; gone is removed, change changes, added is new.
cat > "$WORK/supervisor.json" <<JSON
{"log_dir": "log", "run_dir": "run",
 "programs": [
  {"name": "change", "command": ["$WORK/bin/daemon", "change"], "start_secs": 0.2, "environment": {"X": "2"}},
  {"start_secs": 0.2, "command": ["$WORK/bin/daemon", "keep"], "name": "keep",
   "restart": "always", "autostart": true, "instances": 1},
  {"name": "keep2", "command": ["$WORK/bin/daemon", "keep2"], "start_secs": 0.2, "instances": 2,
   "environment": {"A": "1"}, "depends_on": ["keep"], "stop_signal": "SIGTERM"},
  {"name": "added", "command": ["$WORK/bin/daemon", "added"], "start_secs": 0.2}
 ]}
JSON
gone_pid=$(field gone pid)
change_pid=$(field change pid)
kill -HUP "$SUP_PID"
wait_for 10 state_is added RUNNING || fail "added did not start"
wait_for 10 state_is change RUNNING || fail "change did not restart"
wait_for 5 gone "$gone_pid" || fail "gone ($gone_pid) still runs"
[ -z "$(field gone state)" ] || fail "gone is still listed: $(field gone state)"
[ "$(field change pid)" != "$change_pid" ] || fail "change kept its pid"
ctl status --json > "$WORK/after.json"
"$PYTHON3" - "$WORK/before.json" "$WORK/after.json" <<'PY' || fail "unchanged programs were touched"
import json, sys
before = json.load(open(sys.argv[1]))["programs"]
after = json.load(open(sys.argv[2]))["programs"]
for name in ("keep", "keep2-1", "keep2-2"):
    assert after[name]["pid"] == before[name]["pid"], name
    assert after[name]["state"] == "RUNNING", name
assert sorted(after) == ["added", "change", "keep", "keep2-1", "keep2-2"], sorted(after)
print("reload: keep, keep2-1, keep2-2 kept their pids")
PY
[ "$(starts keep)" -eq 1 ] && [ "$(starts keep2)" -eq 2 ] || fail "an unchanged program restarted"
grep -q '1 changed, 1 removed, 1 added' "$WORK/supervisor.log" || fail "no reload summary"

#  A broken config: refused, nothing changes.
echo '{"programs": [{"name": "x"}]}' > "$WORK/supervisor.json"
ctl reload 2> "$WORK/err" && fail "a bad config was accepted"
grep -q '/programs/0/command' "$WORK/err" || fail "reload error: $(cat "$WORK/err")"
kill -HUP "$SUP_PID"
wait_for 5 grep -q 'reload refused' "$WORK/supervisor.log" || fail "SIGHUP with a bad config"
ctl status --json > "$WORK/after2.json"
"$PYTHON3" - "$WORK/after.json" "$WORK/after2.json" <<'PY' || fail "a refused reload changed something"
import json, sys
a = json.load(open(sys.argv[1]))["programs"]
b = json.load(open(sys.argv[2]))["programs"]
assert sorted(a) == sorted(b) and all(a[n]["pid"] == b[n]["pid"] for n in a)
PY
stop_supervisor
echo "supervisor-reload: ok"
