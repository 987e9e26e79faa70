#!/bin/sh
#  kill -9 of the broker during a storm of events from 4 publisher processes,
#  then a restart: every event ACKed before the kill is in the store, once,
#  with its seq; the publishers re-send what was not ACKed (same ids) and end
#  with every event stored exactly once. CAB_CRASH_EVENTS sets the total
#  (default 100000); CAB_CRASH_SIGNAL the signal (default KILL; broker-term.sh
#  runs it with TERM: the broker drains, then exits 0).
. "$(dirname "$0")/broker-lib.sh"
"$PYTHON3" -c 'import sqlite3' 2>/dev/null || { echo "python3 sqlite3 missing"; exit 77; }
TOTAL=${CAB_CRASH_EVENTS:-100000}
SIGNAL=${CAB_CRASH_SIGNAL:-KILL}
PUBLISHERS=4
write_config
start_broker

#  Four files of distinct events (UUIDv7-like ids, 1 KB each).
"$PYTHON3" - "$WORK" "$TOTAL" "$PUBLISHERS" <<'PY' || fail "cannot generate events"
import json, sys, uuid, time
work, total, publishers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
base = int(time.time() * 1000)
for p in range(publishers):
    with open("%s/events.%d" % (work, p), "w") as out:
        for i in range(p, total, publishers):
            eid = "%08x-%04x-7%03x-8%03x-%012x" % (base >> 16, base & 0xffff, p, 0, i)
            e = {"version": "0", "id": eid, "detail-type": "Issue Detection",
                 "source": "cabruca.agents.monitor", "account": "local",
                 "time": "2026-11-22T10:00:00Z", "region": "sa-east-1", "resources": [],
                 "detail": {"schema_version": "1.0", "agent_id": "monitor-001",
                            "correlation_id": eid, "severity": "LOW", "issue_type": "storm",
                            "description": "x" * 700}}
            out.write(json.dumps(e, separators=(",", ":")) + "\n")
PY

for p in 0 1 2 3; do
    CABRUCA_BROKER=$ENDPOINT timeout 300 "$CABRUCA" publish --agent monitor-001 --timeout 120000 \
        "$WORK/events.$p" > "$WORK/out.$p" 2> "$WORK/err.$p" &
    PIDS="$PIDS $!"
done

#  Let a part of the storm be stored, then kill -9.
stored () {
    n=$(cat "$WORK"/out.* 2>/dev/null | grep -c '^ack ')
    [ "$n" -ge "$1" ]
}
wait_for 60 stored $((TOTAL / 5)) || fail "the storm did not start"
kill -"$SIGNAL" "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
status=$?
BROKER_PID=
[ "$SIGNAL" = KILL ] || [ "$status" -eq 0 ] || fail "exit status $status after SIG$SIGNAL"
#  (Output is buffered: keep whole lines only; a line cut short is not an ACK.)
grep -hE '^ack [0-9]+ [0-9a-f-]{36}$' "$WORK"/out.* > "$WORK/acked-before-kill"
echo "SIG$SIGNAL to the broker after $(wc -l < "$WORK/acked-before-kill") ACKs"
sleep 0.3  # the broker stays down a moment (not a wait for a condition)
start_broker

#  Every publisher ends, with every event ACKed.
for pid in $PIDS; do
    wait "$pid" || fail "a publisher failed (exit $?): $(cat "$WORK"/err.* | head -5)"
done
PIDS=
stop_broker

"$PYTHON3" - "$WORK" "$TOTAL" "$PUBLISHERS" <<'PY' || fail "the store does not match the ACKs"
import sqlite3, sys
work, total, publishers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
db = sqlite3.connect("file:%s/events.db?mode=ro" % work, uri=True)
#  The publishers' events; the broker may have stored one of its own (the
#  Budget Threshold event of the monitors' default hourly cap, 2,100).
rows = dict(db.execute("SELECT id, seq FROM events WHERE source <> 'cabruca.broker'"))
count = db.execute("SELECT count(*) FROM events WHERE source <> 'cabruca.broker'").fetchone()[0]
assert count == len(rows) == total, "store has %d rows, %d ids, want %d" % (count, len(rows), total)
ids = set()
for p in range(publishers):
    for line in open("%s/events.%d" % (work, p)):
        ids.add(line.split('"id":"', 1)[1].split('"', 1)[0])
assert ids == set(rows), "the stored ids are not the published ids"
for name in ["acked-before-kill"] + ["out.%d" % p for p in range(publishers)]:
    for line in open("%s/%s" % (work, name)):
        word, seq, eid = line.split()
        assert word == "ack", line
        assert rows.get(eid) == int(seq), "ACKed %s seq %s, stored %s" % (eid, seq, rows.get(eid))
print("store: %d events, each once; every ACK matches its stored seq" % count)
PY
echo "broker-crash (SIG$SIGNAL): ok"
