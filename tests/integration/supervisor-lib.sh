#!/bin/sh
#  Shared by the supervisor's integration tests: a temporary directory,
#  small helper programs (shell scripts) that record their pids and start
#  times, starting the supervisor with readiness on a notification fd,
#  deadlines, and a trap that leaves no process and no file behind. Source
#  it; it sets WORK, SUP_PID, CTL (the control endpoint).
set -u
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
SUPERVISOR="$CAB_BUILDDIR/cabruca-supervisor"
CABRUCA="$CAB_BUILDDIR/cabruca"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cab-sup-XXXXXX")
CTL="ipc://$WORK/run/supervisor.ipc"
SUP_PID=
mkdir -p "$WORK/pids" "$WORK/bin"

cleanup () {
    [ -n "$SUP_PID" ] && kill -9 "$SUP_PID" 2>/dev/null
    for file in "$WORK"/pids/*; do
        [ -f "$file" ] && kill -9 $(cat "$file") 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail () {
    echo "FAIL: $*" >&2
    [ -f "$WORK/supervisor.log" ] && sed 's/^/  supervisor: /' "$WORK/supervisor.log" | tail -30 >&2
    exit 1
}

. "$CAB_SRCDIR/tests/integration/wait.sh"

#  alive PID: the process exists and is not a zombie.
alive () {
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ]
}
gone () { ! alive "$1"; }

#  Helper programs. Each appends "PID TIME" to $WORK/pids/NAME (NAME from
#  its first argument), so tests know every pid and every start time.
cat > "$WORK/bin/crash" <<'SH'
#!/bin/sh
# crash NAME STATUS: exit at once
echo "$$ $(date +%s.%N)" >> "$WORK/pids/$1"
echo "crash $1"
exit "${2:-1}"
SH
cat > "$WORK/bin/run-then-crash" <<'SH'
#!/bin/sh
# run-then-crash NAME SECONDS: run a while, then fail
echo "$$ $(date +%s.%N)" >> "$WORK/pids/$1"
sleep "$2"
exit 1
SH
cat > "$WORK/bin/daemon" <<'SH'
#!/bin/sh
# daemon NAME: run until stopped, with a grandchild in the same group
echo "$$ $(date +%s.%N)" >> "$WORK/pids/$1"
sleep 1000 &
echo "$! $(date +%s.%N)" >> "$WORK/pids/$1.grandchild"
echo "daemon $1 up"
wait
SH
cat > "$WORK/bin/stubborn" <<'SH'
#!/bin/sh
# stubborn NAME: ignores SIGTERM, and so does its grandchild
trap '' TERM
echo "$$ $(date +%s.%N)" >> "$WORK/pids/$1"
sleep 1000 &
echo "$! $(date +%s.%N)" >> "$WORK/pids/$1.grandchild"
while :; do wait; done
SH
cat > "$WORK/bin/notifier" <<'SH'
#!/bin/sh
# notifier NAME DELAY: ready (a line on fd 3) after DELAY seconds
echo "$$ $(date +%s.%N)" >> "$WORK/pids/$1"
sleep "$2"
date +%s.%N > "$WORK/$1.ready-at"
echo ready >&3
exec 3>&-
exec sleep 1000
SH
chmod +x "$WORK"/bin/*
export WORK

#  start_supervisor: run it in the background; wait (10 s at most) for its
#  readiness line on fd 3.
start_supervisor () {
    rm -f "$WORK/ready"
    "$SUPERVISOR" --config "$WORK/supervisor.json" --notify-fd 3 3>"$WORK/ready" \
        2>>"$WORK/supervisor.log" &
    SUP_PID=$!
    wait_for 10 test -s "$WORK/ready" || fail "the supervisor did not get ready"
}

#  stop_supervisor: SIGTERM, and its exit status must be 0 (within 15 s).
stop_supervisor () {
    kill -TERM "$SUP_PID"
    wait_for 15 gone "$SUP_PID" || fail "the supervisor did not stop"
    wait "$SUP_PID"
    status=$?
    SUP_PID=
    [ "$status" -eq 0 ] || fail "supervisor exit status $status after SIGTERM"
}

#  ctl ARGS...: the CLI against this supervisor.
ctl () {
    CABRUCA_SUPERVISOR=$CTL "$CABRUCA" supervisor "$@"
}

#  field INSTANCE KEY: one field of `status --json` (empty when absent).
field () {
    ctl status --json | "$PYTHON3" -c '
import json, sys
p = json.load(sys.stdin)["programs"].get(sys.argv[1])
v = None if p is None else p.get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}

state_is () { [ "$(field "$1" state)" = "$2" ]; }

#  starts NAME: how many times NAME started; first_pid/last_pid NAME.
starts () { if [ -f "$WORK/pids/$1" ]; then wc -l < "$WORK/pids/$1"; else echo 0; fi; }
started_at_least () { [ "$(starts "$1")" -ge "$2" ]; }
last_pid () { tail -1 "$WORK/pids/$1" | cut -d' ' -f1; }
