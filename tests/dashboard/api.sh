#!/bin/sh
#  cabruca-dashboard over real HTTP against a store seeded through a real
#  broker (dash-lib.sh): every endpoint, every bad parameter, the bearer
#  token, the live stream, hostile input (huge requests, bad UTF-8, path
#  traversal, SQL-looking strings), and a clean SIGTERM with a stream open.
#  The answers are checked against the store itself (python3's sqlite3,
#  read-only).
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}"
"${PYTHON3:-python3}" -c 'import sqlite3' 2>/dev/null || { echo "python3 sqlite3 missing"; exit 77; }
. "$CAB_SRCDIR/tests/dashboard/dash-lib.sh"
start_dashboard

#  The event published while a stream is open (the checker runs this).
cat > "$WORK/publish-live.sh" <<SH
#!/bin/sh
rm -f "$WORK/live"
id=\$(. "$WORK/funcs.sh"; new_event "$WORK/live" cabruca.agents.tester "Test Results" tester-001 "" "" \
    '{"test_type": "UNIT", "status": "FAILED", "duration_ms": 7}')
CABRUCA_BROKER=$ENDPOINT "$CABRUCA" publish --agent tester-001 --timeout 30000 "$WORK/live" >/dev/null 2>&1 || exit 1
echo "\$id"
SH
chmod +x "$WORK/publish-live.sh"
{ echo "PYTHON3=${PYTHON3:-python3}"; sed -n '/^new_event () {/,/^}/p' "$CAB_SRCDIR/tests/dashboard/dash-lib.sh"; } > "$WORK/funcs.sh"

CABRUCA="$CABRUCA" DASH_CTL="$CTL" \
"$PYTHON3" "$CAB_SRCDIR/tests/dashboard/api_check.py" "$DASH_URL" "$WORK/events.db" \
    "$ISSUE_ID" "$FEATURE_ID" "$CHANGE_ID" "$TEST_ID" "$WORK/publish-live.sh" \
    || fail "api_check.py failed (dashboard log: $(tail -5 "$WORK/dash.log"))"

#  SIGTERM with a live stream open: exit 0, promptly.
"$PYTHON3" -c 'import sys, urllib.request, time
r = urllib.request.urlopen(sys.argv[1] + "/api/stream", timeout=10)
r.readline()
open(sys.argv[2], "w").write("open")
time.sleep(30)' "$DASH_URL" "$WORK/stream-open" 2>/dev/null &
STREAM_PID=$!
PIDS="$PIDS $STREAM_PID"
wait_for 10 test -s "$WORK/stream-open" || fail "the stream did not open"
stop_dashboard

#  The bearer token.
TOKEN=0123456789abcdef-secret
start_dashboard "\"token\": \"$TOKEN\""
code () { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$DASH_URL/api/stats")" = 401 ] || fail "no token: not 401"
[ "$(code -H "Authorization: Bearer wrong" "$DASH_URL/api/stats")" = 401 ] || fail "wrong token: not 401"
[ "$(code -H "Authorization: Bearer ${TOKEN}x" "$DASH_URL/api/stats")" = 401 ] || fail "longer token: not 401"
[ "$(code -H "Authorization: Basic $TOKEN" "$DASH_URL/api/stats")" = 401 ] || fail "basic auth: not 401"
[ "$(code -H "Authorization: Bearer $TOKEN" "$DASH_URL/api/stats")" = 200 ] || fail "right token: not 200"
[ "$(code -H "Authorization: Bearer $TOKEN" "$DASH_URL/api/events?limit=1")" = 200 ] || fail "right token: events not 200"
[ "$(code "$DASH_URL/")" = 200 ] || fail "the page itself needs no token"
curl -s -D - -o /dev/null "$DASH_URL/api/events" | grep -qi '^WWW-Authenticate: Bearer' || fail "no WWW-Authenticate"
stop_dashboard

#  A broker and a supervisor that do not answer: their members say so, the
#  mirror's figures come from the store, the rest of the API stands.
DASH_BROKER="ipc://$WORK/nobody.ipc" DASH_SUPERVISOR="ipc://$WORK/nobody-sup.ipc" start_dashboard
"$PYTHON3" "$CAB_SRCDIR/tests/dashboard/api_check.py" unreachable "$DASH_URL" "$WORK/events.db" \
    || fail "api_check.py unreachable failed (dashboard log: $(tail -5 "$WORK/dash.log"))"
stop_dashboard

#  Configuration errors: exit 100 with a message.
echo '{"listen": "localhost:80", "store": "events.db"}' > "$WORK/bad.json"
"$DASHBOARD" -n --config "$WORK/bad.json" 2>"$WORK/bad.err"; [ $? -eq 100 ] || fail "a host name: not exit 100"
grep -q '/listen' "$WORK/bad.err" || fail "no /listen in: $(cat "$WORK/bad.err")"
echo '{"store": "events.db", "colour": "red"}' > "$WORK/bad.json"
"$DASHBOARD" -n --config "$WORK/bad.json" 2>"$WORK/bad.err"; [ $? -eq 100 ] || fail "unknown key: not exit 100"
echo '{"store": "missing.db"}' > "$WORK/bad.json"
"$DASHBOARD" -n --config "$WORK/bad.json" 2>"$WORK/bad.err"; [ $? -eq 111 ] || fail "missing store: not exit 111"
"$DASHBOARD" --bogus 2>/dev/null; [ $? -eq 100 ] || fail "bad flag: not exit 100"
for bad in '"broker": 5' '"broker": "http://x"' '"broker": {"endpoint": "tcp://127.0.0.1:1", "curve_cert": "a"}' \
           '"broker": {"endpoint": "tcp://127.0.0.1:1", "colour": 1}' '"supervisor": ""' '"poll_ms": 10'; do
    echo "{\"store\": \"events.db\", $bad}" > "$WORK/bad.json"
    CABRUCA_CURVE_CERT= CABRUCA_SERVER_CERT= "$DASHBOARD" -n --config "$WORK/bad.json" 2>"$WORK/bad.err"
    [ $? -eq 100 ] || fail "$bad: not exit 100: $(cat "$WORK/bad.err")"
done
echo "{\"store\": \"events.db\", \"broker\": {\"endpoint\": \"$ENDPOINT\"}, \"supervisor\": \"run/supervisor.ipc\", \"poll_ms\": 1000}" > "$WORK/good.json"
"$DASHBOARD" -n --config "$WORK/good.json" 2>"$WORK/good.err" || fail "a good config: $(cat "$WORK/good.err")"
stop_broker
echo "api.sh: OK"
