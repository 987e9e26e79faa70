#!/bin/sh
#  The README's main job without its install and build steps: the default
#  system (core/supervisor/cabruca-system.sh) starts the supervisor, the
#  broker and the four agents; they connect, events flow into the store;
#  SIGINT (Ctrl-C) stops everything and leaves no process.
set -u
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
. "$CAB_SRCDIR/tests/integration/wait.sh"
command -v git >/dev/null 2>&1 || { echo "git not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cab-it-XXXXXX")
SUPERVISOR=
cleanup () {
    [ -n "$SUPERVISOR" ] && kill -9 "$SUPERVISOR" 2>/dev/null
    for pid in $(cat "$WORK/pids" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail () { echo "FAIL: $*" >&2; tail -5 "$WORK"/run/logs/*.log >&2 2>/dev/null; exit 1; }

git init -q -b main "$WORK/repo"
git -C "$WORK/repo" -c user.email=a@b -c user.name=A commit -q --allow-empty -m "init"
RUN="$WORK/run"
CABRUCA="$CAB_BUILDDIR/cabruca"
export CABRUCA_SUPERVISOR="ipc://$RUN/supervisor.ipc" CABRUCA_BROKER="ipc://$RUN/broker.ipc"
export CABRUCA_DASHBOARD_LISTEN=127.0.0.1:0
sh "$CAB_SRCDIR/core/supervisor/cabruca-system.sh" "$CAB_BUILDDIR" "$CAB_SRCDIR" "$RUN" \
    "$WORK/repo" 2>"$WORK/start.log" &
SUPERVISOR=$!

all_ready () {
    "$CABRUCA" supervisor --json status > "$WORK/status.json" 2>/dev/null || return 1
    "$PYTHON3" -c 'import json, sys
s = json.load(open(sys.argv[1]))
names = {name for name, p in s["programs"].items() if p["state"] == "RUNNING"}
sys.exit(0 if {"broker", "monitor", "developer", "tester", "product", "dashboard"} <= names else 1)' \
        "$WORK/status.json" 2>/dev/null
}
wait_for 60 all_ready || fail "not every program is running: $(cat "$WORK/status.json" 2>/dev/null)"
grep -q "cabruca status" "$WORK/start.log" || fail "no hint on where to look next"
for file in broker.json agents.json supervisor.json dashboard.json; do
    test -f "$RUN/$file" || fail "$file was not written"
done

agents_connected () {
    "$CABRUCA" status --json > "$WORK/broker.json" 2>/dev/null &&
        "$PYTHON3" -c 'import json, sys
s = json.load(open(sys.argv[1]))
ids = {a["agent_id"] for a in s["agents"]}
sys.exit(0 if {"monitor-001", "developer-001", "tester-001", "product-001"} <= ids else 1)' \
            "$WORK/broker.json" 2>/dev/null
}
wait_for 30 agents_connected || fail "agents not connected: $(cat "$WORK/broker.json")"

#  Lifecycle events of the supervisor reach the history.
stored () {
    "$PYTHON3" -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
sys.exit(0 if db.execute("SELECT count(*) FROM events WHERE source = ?", ("cabruca.supervisor",)).fetchone()[0] else 1)' \
        "$RUN/events.db" 2>/dev/null
}
wait_for 20 stored || fail "no supervisor events in the store"

#  The dashboard answers on the address it logged.
url=$(sed -n 's|.*ready on \(http://[^ ]*\).*|\1|p' "$RUN/logs/dashboard.log" | tail -1)
[ -n "$url" ] || fail "the dashboard logged no address: $(cat "$RUN/logs/dashboard.log")"
"$PYTHON3" -c 'import json, sys, urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1] + "api/events?limit=5", timeout=10))
assert d["events"], d' "$url" || fail "the dashboard API at $url"

#  Every pid the supervisor started, to check none survives.
"$PYTHON3" -c 'import json, sys
s = json.load(open(sys.argv[1]))
print(" ".join(str(p["pid"]) for p in s["programs"].values() if p.get("pid")))' "$WORK/status.json" > "$WORK/pids"
[ -s "$WORK/pids" ] || fail "no pids in the status"

kill -INT "$SUPERVISOR"
wait_for 60 sh -c "! kill -0 $SUPERVISOR 2>/dev/null" || fail "the supervisor did not stop on SIGINT"
wait "$SUPERVISOR"
status=$?
SUPERVISOR=
[ "$status" = 0 ] || fail "the supervisor exited $status"
for pid in $(cat "$WORK/pids"); do
    kill -0 "$pid" 2>/dev/null && fail "process $pid survived"
done
echo "ok: the whole system starts and stops"
