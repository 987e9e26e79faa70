#!/bin/sh
#  Shared by the mirror's integration tests: a temporary directory, the fake
#  PutEvents endpoint (tests/fake_aws/eventbridge.py) started on a free port
#  of 127.0.0.1 with a readiness deadline, the AWS environment pointing the
#  mirror at it, a real cabruca-broker with its mirror worker (started and
#  stopped by broker-lib.sh's start_broker / stop_broker), and a trap that
#  leaves no process and no file behind. Source it; it sets WORK, FAKE_PID,
#  PORT and BROKER_PID.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
FAKE="$CAB_SRCDIR/tests/fake_aws/eventbridge.py"
DRIVER="$CAB_BUILDDIR/tests/integration/mirror_driver"
FAKE_PID=
PORT=0

#  broker-lib.sh's trap calls these by name: the fake is stopped too, and a
#  failure shows the driver's and the fake's output as well.
cleanup () {
    for pid in $BROKER_PID $PIDS; do
        kill -9 "$pid" 2>/dev/null
    done
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
    wait 2>/dev/null
    eval "$CLEANUP_EXTRA"
    rm -rf "$WORK"
}

fail () {
    echo "FAIL: $*" >&2
    [ -f "$WORK/driver.out" ] && sed 's/^/  driver: /' "$WORK/driver.out" >&2
    [ -f "$WORK/broker.log" ] && tail -20 "$WORK/broker.log" | sed 's/^/  broker: /' >&2
    [ -f "$WORK/fake.err" ] && tail -20 "$WORK/fake.err" | sed 's/^/  fake: /' >&2
    exit 1
}

#  start_fake [ARGS...]: start the fake on $PORT (0 = any free port) and
#  wait (5 s at most) until it has written the port it listens on.
start_fake () {
    rm -f "$WORK/port"
    "$PYTHON3" "$FAKE" --port "$PORT" --port-file "$WORK/port" --log "$WORK/accepted.jsonl" \
        --requests-log "$WORK/requests.jsonl" "$@" >/dev/null 2>>"$WORK/fake.err" &
    FAKE_PID=$!
    wait_for 5 test -s "$WORK/port" || fail "the fake endpoint did not start"
    PORT=$(cat "$WORK/port")
    export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$PORT"
}

stop_fake () {
    kill "$FAKE_PID" 2>/dev/null
    wait "$FAKE_PID" 2>/dev/null
    FAKE_PID=
}

#  The environment a broker would have; nothing from the user's own AWS setup.
export HOME="$WORK" AWS_CONFIG_FILE="$WORK/none" AWS_SHARED_CREDENTIALS_FILE="$WORK/none"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIDCABRUCATEST AWS_SECRET_ACCESS_KEY=cabruca/secret/key
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_CONTAINER_CREDENTIALS_FULL_URI \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI 2>/dev/null

#  value KEY: a key=value line of the driver's output.
value () {
    sed -n "s/^$1=//p" "$WORK/driver.out"
}

#  unique_accepted: distinct events (by detail "n") the fake accepted.
unique_accepted () {
    "$PYTHON3" -c 'import json,sys
print(len({json.loads(json.loads(l)["Detail"]).get("n") for l in open(sys.argv[1])} - {None}))' \
        "$WORK/accepted.jsonl" 2>/dev/null || echo 0
}

#  accepted_lines: entries the fake accepted (an event accepted twice counts twice).
accepted_lines () {
    [ -f "$WORK/accepted.jsonl" ] && wc -l < "$WORK/accepted.jsonl" || echo 0
}

#  ---- The broker ------------------------------------------------------------

#  write_config MIRROR_JSON [EXTRA_JSON]: a broker config with this "mirror"
#  section (no schemas unless EXTRA_JSON says so: the events carry a detail
#  "n" the fake's request log reads).
write_config () {
    cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db"},
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]}},
 "limits": {"heartbeat_ms": 200, "timeout_ms": 2000},
 "mirror": $1${2:+,
 $2}}
JSON
}

#  publish COUNT FIRST [POISON_EVERY]: COUNT Issue Detection events with
#  detail "n" = FIRST, FIRST+1, ... (none with PLAIN=1: schema-valid events);
#  every POISON_EVERY-th also has "poison": true. All must be acknowledged.
publish () {
    "$PYTHON3" - "$WORK/events.jsonl" "$1" "$2" "${3:-0}" "${PLAIN:-0}" <<'PY' || fail "cannot write events"
import json, sys, uuid
path, count, first, poison = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
plain = sys.argv[5]
with open(path, "w") as out:
    for n in range(first, first + count):
        eid = str(uuid.uuid4())
        detail = {"schema_version": "1.0", "agent_id": "monitor-001", "correlation_id": eid,
                  "severity": "LOW", "issue_type": "mirror_test", "description": "event %d" % n}
        if plain != "1":
            detail["n"] = n  # for the fake's request log (not in the Issue Detection schema)
        if poison and n % poison == 0:
            detail["poison"] = True
        out.write(json.dumps({"version": "0", "id": eid, "detail-type": "Issue Detection",
                              "source": "cabruca.agents.monitor", "account": "local",
                              "time": "2026-11-22T10:00:00Z", "region": "sa-east-1",
                              "resources": [], "detail": detail}) + "\n")
PY
    CABRUCA_BROKER=$ENDPOINT timeout 60 "$CABRUCA" publish --agent monitor-001 \
        "$WORK/events.jsonl" > "$WORK/publish.out" 2>&1 || fail "publish: $(tail -3 "$WORK/publish.out")"
}

#  sql QUERY: one value from the store (read-only, while the broker runs).
sql () {
    "$PYTHON3" -c 'import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=5)
print(c.execute(sys.argv[2]).fetchone()[0])' "$WORK/events.db" "$1"
}

#  outbox: rows in the outbox; mirrored OUTCOME: mirrored rows with that
#  outcome (1 accepted, 2 dry-run, 3 dead, 4 sampled, 5 shed).
outbox () {
    sql "select count(*) from outbox"
}
mirrored () {
    sql "select count(*) from mirrored where outcome = $1"
}

#  status_mirror KEY: a member of STATUS-REPLY's "mirror" object.
status_mirror () {
    CABRUCA_BROKER=$ENDPOINT "$CABRUCA" status --json 2>/dev/null | "$PYTHON3" -c 'import json, sys
v = json.load(sys.stdin)["mirror"][sys.argv[1]]
print(str(v).lower() if isinstance(v, bool) else v)' "$1"
}

#  is N COMMAND...: the command's output is N.
is () {
    expected=$1
    shift
    [ "$("$@" 2>/dev/null)" = "$expected" ]
}

#  mirror_json EXPR: EXPR (Python, on the document d) of `cabruca mirror
#  status --json`, the CONTROL "mirror-status" reply.
mirror_json () {
    CABRUCA_BROKER=$ENDPOINT "$CABRUCA" mirror status --json 2>/dev/null | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
