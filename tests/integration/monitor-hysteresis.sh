#!/bin/sh
#  cabruca-monitor against a real broker, a real HTTP server and a real log
#  file: an issue is reported when it starts, as a reminder while it lasts,
#  and when it resolves -- never on every sample.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"

#  An HTTP server answering with the status written in $WORK/status.
echo 200 > "$WORK/status"
cat > "$WORK/server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = int(open(sys.argv[2]).read().strip())
        self.send_response(code); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
"$PYTHON3" "$WORK/server.py" "$WORK/port" "$WORK/status" &
PIDS="$PIDS $!"
wait_for 10 test -s "$WORK/port" || fail "no HTTP server"
PORT=$(cat "$WORK/port")
: > "$WORK/app.log"

write_config
cat > "$WORK/monitor.json" <<JSON
{"broker": "$ENDPOINT",
 "monitor": {"interval_ms": 100, "reminder_s": 1, "load": false, "memory": false, "disks": [],
             "host": "host:test",
             "http": [{"name": "svc", "url": "http://127.0.0.1:$PORT/health", "timeout_ms": 1000}],
             "logs": [{"path": "$WORK/app.log", "pattern": "ERROR|FATAL", "severity": "HIGH",
                       "quiet_s": 1}]}}
JSON
start_broker
"$CAB_BUILDDIR/cabruca-monitor" --config "$WORK/monitor.json" --notify-fd 3 3>"$WORK/ready" \
    2>"$WORK/monitor.log" &
MONITOR=$!
PIDS="$PIDS $MONITOR"
wait_for 10 test -s "$WORK/ready" || fail "monitor not ready: $(cat "$WORK/monitor.log")"

events () {  # events ISSUE_TYPE -> "severity description" lines, in order
    "$PYTHON3" -c 'import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (t,) in db.execute("SELECT text FROM events ORDER BY seq"):
    d = json.loads(t)["detail"]
    if d["issue_type"] == sys.argv[2]:
        print(d["severity"], d["description"].split(":")[0])' "$WORK/events.db" "$1" 2>/dev/null
}
has () { events "$1" | grep -q "$2"; }

#  Healthy: nothing reported for 0.5 s (5 samples).
sleep 0.5
[ -z "$(events http_health)" ] || fail "a healthy service was reported: $(events http_health)"

#  Down (500): started, then one reminder a second, then resolved.
echo 500 > "$WORK/status"
wait_for 5 has http_health "HIGH started" || fail "the outage was not reported"
wait_for 5 has http_health "HIGH continues" || fail "no reminder"
echo 200 > "$WORK/status"
wait_for 5 has http_health_resolved "LOW resolved" || fail "the recovery was not reported"
#  About 15-30 samples happened while it was down; only 2-3 events came of them.
n=$(events http_health | wc -l)
[ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "http events: $n (hysteresis broken): $(events http_health)"

#  A log line matches: started; the issue lasts through the quiet second
#  (no flapping), then resolves.
echo "12:00:01 ERROR disk write failed" >> "$WORK/app.log"
wait_for 5 has log_pattern "HIGH started" || fail "the log line was not reported"
sleep 0.5
[ "$(events log_pattern_resolved | wc -l)" = 0 ] || fail "the log issue flapped"
wait_for 5 has log_pattern_resolved "LOW resolved" || fail "the log issue did not resolve"
[ "$(events log_pattern | wc -l)" -le 2 ] || fail "log events: $(events log_pattern)"

#  Every event names the resource and the host; the metrics are numbers.
"$PYTHON3" -c 'import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (t,) in db.execute("SELECT text FROM events"):
    d = json.loads(t)["detail"]
    assert "host:test" in d["affected_resources"], d
    assert all(isinstance(v, (int, float)) for v in d.get("metrics", {}).values()), d' \
    "$WORK/events.db" || fail "event contents"

kill -TERM "$MONITOR"
wait_for 10 sh -c "! kill -0 $MONITOR 2>/dev/null" || fail "the monitor did not stop"
stop_broker
echo "ok: monitor hysteresis"
