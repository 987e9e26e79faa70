#!/bin/sh
#  The dashboard's HTTP bounds (docs/robustness.md, "Bounds";
#  docs/man/cabruca-dashboard.md): 16 query parameters of at most 8192
#  bytes (then 400 InvalidArgument naming the parameter), a parameter given
#  twice (400), 32 KB of request line and headers (414 / 431), 32 live
#  streams (the 33rd gets 503 TooManyStreams), 64 connections (the server
#  goes on answering past them), GET only (405). Each refusal leaves the
#  server answering. Only an empty store: no broker, no supervisor.
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}"
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
DASHBOARD="$CAB_BUILDDIR/cabruca-dashboard"
[ -x "$DASHBOARD" ] || { echo "$DASHBOARD not built"; exit 77; }

#  The store: made by a broker, which then stops.
write_config
start_broker
stop_broker

cat > "$WORK/dash.json" <<JSON
{"listen": "127.0.0.1:0", "store": "events.db", "www": "$CAB_SRCDIR/core/dashboard/www"}
JSON
"$DASHBOARD" --config "$WORK/dash.json" --notify-fd 3 3>"$WORK/dash-ready" 2>"$WORK/dash.log" &
DASH_PID=$!
PIDS="$PIDS $DASH_PID"
wait_for 20 test -s "$WORK/dash-ready" || fail "the dashboard did not get ready: $(cat "$WORK/dash.log")"
DASH_URL=$(sed -n 's/^cabruca-dashboard: ready on \(http:[^ ]*\)\/ .*/\1/p' "$WORK/dash.log")
[ -n "$DASH_URL" ] || fail "no ready line: $(cat "$WORK/dash.log")"

"$PYTHON3" - "$DASH_URL" <<'PY' || fail "bounds (dashboard log: $(tail -5 "$WORK/dash.log"))"
import http.client, json, socket, sys, time, urllib.parse

url = urllib.parse.urlsplit(sys.argv[1])
HOST, PORT = url.hostname, url.port
failures = []

def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)

def get(path, headers=None, method="GET"):
    connection = http.client.HTTPConnection(HOST, PORT, timeout=20)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, body
    finally:
        connection.close()

def refused(path, parameter, what):
    status, body = get(path)
    check(status == 400, "%s: status %d" % (what, status))
    if status == 400:
        answer = json.loads(body)
        check(answer.get("error") == "InvalidArgument", "%s: %s" % (what, answer))
        check(answer.get("parameter") == parameter, "%s: parameter %s" % (what, answer))

def alive():
    status, _ = get("/api/events?limit=1")
    check(status == 200, "the server stopped answering (status %d)" % status)

# Parameters: 16 pass the HTTP layer (then the API checks their names).
names = ["limit", "source", "detail_type", "from", "to", "correlation_id", "q", "cursor"]
status, _ = get("/api/events?" + "&".join("p%d=1" % i for i in range(16)))
check(status == 400, "16 unknown parameters: %d" % status)
status, body = get("/api/events?" + "&".join("p%d=1" % i for i in range(17)))
check(status == 400 and b"too many parameters" in body, "17 parameters: %d %s" % (status, body))
refused("/api/events?limit=1&limit=2", "limit", "a parameter given twice")
# (An 8192-byte value passes the HTTP layer; the API then holds q to 1024.)
status, body = get("/api/events?q=" + "a" * 8192)
check(status == 400 and b"1024" in body, "an 8192-byte value: %d %s" % (status, body))
refused("/api/events?q=" + "a" * 8193, "q", "an 8193-byte value")
status, body = get("/api/events?q=" + "a" * 8193)
check(b"too long" in body, "an 8193-byte value: %s" % body)
refused("/api/events?" + "n" * 65 + "=1", "n" * 65, "a 65-byte name")
alive()

# Request line and headers: 32 KB of request memory.
status, _ = get("/api/events?q=" + "a" * 40000)
check(status in (414, 431), "a 40 KB URL: %d" % status)
status, _ = get("/api/events", headers={"X-Big": "b" * 40000})
check(status in (431, 413), "a 40 KB header: %d" % status)
alive()

# Methods.
for method in ("POST", "PUT", "DELETE"):
    status, _ = get("/api/events", method=method)
    check(status == 405, "%s: %d" % (method, status))

# Live streams: 32 at once, the 33rd refused; closing one frees its slot.
streams = []
for index in range(32):
    connection = http.client.HTTPConnection(HOST, PORT, timeout=20)
    connection.request("GET", "/api/stream")
    response = connection.getresponse()
    check(response.status == 200, "stream %d: %d" % (index + 1, response.status))
    streams.append((connection, response))
status, body = get("/api/stream")
check(status == 503 and b"TooManyStreams" in body, "the 33rd stream: %d %s" % (status, body))
alive()
def open_stream():
    connection = http.client.HTTPConnection(HOST, PORT, timeout=20)
    connection.request("GET", "/api/stream")
    response = connection.getresponse()
    status = response.status
    response.close()
    connection.close()
    return status

# A stream whose client went away is noticed at its next write (a
# keep-alive comment at least every 15 s): its slot is then free.
connection, response = streams.pop()
response.close()  #  (the socket stays open while its response does)
connection.close()
deadline = time.time() + 40
while True:
    status = open_stream()
    if status != 503 or time.time() > deadline:
        break
    time.sleep(0.5)
check(status == 200, "a stream slot was not freed after a close: %d" % status)
for connection, response in streams:
    response.close()
    connection.close()

# Connections: 70 idle sockets (more than 64); the server recovers once they close.
sockets = []
for _ in range(70):
    try:
        sockets.append(socket.create_connection((HOST, PORT), timeout=5))
    except OSError:
        break
for s in sockets:
    s.close()
deadline = time.time() + 20
while True:
    try:
        status, _ = get("/api/events?limit=1")
    except OSError:
        status = 0
    if status == 200 or time.time() > deadline:
        break
    time.sleep(0.2)
check(status == 200, "after 70 connections the server does not answer: %d" % status)
sys.exit(1 if failures else 0)
PY

kill -TERM "$DASH_PID"
wait_for 10 sh -c "! kill -0 $DASH_PID 2>/dev/null" || fail "the dashboard did not stop"
exit 0
