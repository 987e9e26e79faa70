#!/bin/sh
#  End to end: the broker's store on a file system that fills up. Events get
#  NACK StoreUnavailable (never a crash, never a false ACK); when space
#  returns, the same events are ACKed and stored once. On a read-only file
#  system the broker does not start (111); read-write again, it does.
#  Mounts a small tmpfs: needs root (skipped, status 77, otherwise).
. "$(dirname "$0")/broker-lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root to mount a tmpfs"; exit 77; }
mkdir "$WORK/disk"
mount -t tmpfs -o size=40m tmpfs "$WORK/disk" 2>/dev/null || { echo "cannot mount a tmpfs"; exit 77; }
CLEANUP_EXTRA='umount "$WORK/disk" 2>/dev/null'
write_config '{"batch_max": 50}' "$WORK/disk/events.db"
start_broker
export CABRUCA_BROKER=$ENDPOINT

"$PYTHON3" - "$WORK/events" 3000 <<'PY'
import json, sys, uuid
with open(sys.argv[1], "w") as out:
    for i in range(int(sys.argv[2])):
        eid = str(uuid.uuid4())
        out.write(json.dumps({"version": "0", "id": eid, "detail-type": "Issue Detection",
            "source": "cabruca.agents.monitor", "account": "local", "time": "2026-11-22T10:00:00Z",
            "region": "sa-east-1", "resources": [], "detail": {"schema_version": "1.0",
            "agent_id": "monitor-001", "correlation_id": eid, "severity": "LOW",
            "issue_type": "disk_full", "description": "y" * 900}}) + "\n")
PY
#  Leave the store about 1 MB: not enough for 3,000 events of 1 KB.
dd if=/dev/zero of="$WORK/disk/filler" bs=1k count=39000 2>/dev/null
"$CABRUCA" publish --agent monitor-001 "$WORK/events" > "$WORK/out.1" 2>/dev/null
[ $? -eq 1 ] || fail "a full disk must give exit status 1"
grep -q '^nack StoreUnavailable' "$WORK/out.1" || fail "no NACK StoreUnavailable: $(sort "$WORK/out.1" | uniq -c | head)"
[ "$(wc -l < "$WORK/out.1")" -eq 3000 ] || fail "every event must be answered"
kill -0 "$BROKER_PID" || fail "the broker died on a full disk"
"$CABRUCA" status --json | grep -q '"StoreUnavailable"' || fail "StoreUnavailable is not counted"

#  Space returns (the WAL needs room: the broker restarts it at about 66 MB):
#  the same events are all ACKed, each stored once.
rm -f "$WORK/disk/filler"
"$CABRUCA" publish --agent monitor-001 "$WORK/events" > "$WORK/out.2" \
    || fail "after space returned: $(grep -v "^ack" "$WORK/out.2" | sort | uniq -c | head -3)"
[ "$(grep -c '^ack' "$WORK/out.2")" -eq 3000 ] || fail "not every event ACKed"
[ "$(cut -d' ' -f2 "$WORK/out.2" | sort -u | wc -l)" -eq 3000 ] || fail "seqs are not distinct"

#  A read-only file system (it cannot turn read-only under an open writer):
#  the broker refuses to start, exit 111 and a StoreUnavailable message;
#  read-write again, it starts and ACKs.
stop_broker
mount -o remount,ro "$WORK/disk" || fail "cannot remount read-only"
timeout 10 "$BROKER" --config "$WORK/broker.json" 2> "$WORK/ro.log"
status=$?
[ "$status" -eq 111 ] || fail "read-only store: exit $status, want 111"
grep -q StoreUnavailable "$WORK/ro.log" || fail "read-only store: $(cat "$WORK/ro.log")"
mount -o remount,rw "$WORK/disk" || fail "cannot remount read-write"
start_broker
"$CABRUCA" publish --agent monitor-001 --type issue --field severity=LOW \
    --field issue_type=rw --field description=rw > "$WORK/out.4" || fail "read-write again: $(cat "$WORK/out.4")"
stop_broker
echo "broker-full-disk: ok"
