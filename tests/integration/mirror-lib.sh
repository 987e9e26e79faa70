#!/bin/sh
#  Shared by the mirror's integration tests: a temporary directory, the fake
#  PutEvents endpoint (tests/fake_aws/eventbridge.py) started on a free port
#  of 127.0.0.1 with a readiness deadline, the AWS environment pointing the
#  mirror at it, and a trap that leaves no process and no file behind.
#  Source it; it sets WORK, FAKE_PID and PORT.
set -u
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
FAKE="$CAB_SRCDIR/tests/fake_aws/eventbridge.py"
DRIVER="$CAB_BUILDDIR/tests/integration/mirror_driver"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cab-mirror-XXXXXX")
FAKE_PID=
PORT=0

cleanup () {
    [ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail () {
    echo "FAIL: $*" >&2
    [ -f "$WORK/driver.out" ] && sed 's/^/  driver: /' "$WORK/driver.out" >&2
    [ -f "$WORK/fake.err" ] && tail -20 "$WORK/fake.err" | sed 's/^/  fake: /' >&2
    exit 1
}

. "$CAB_SRCDIR/tests/integration/wait.sh"

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
print(len({json.loads(json.loads(l)["Detail"])["n"] for l in open(sys.argv[1])}))' "$WORK/accepted.jsonl"
}
