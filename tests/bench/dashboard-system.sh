#!/bin/sh
#  The dashboard's broker panels: latency of /api/budget, /api/mirror,
#  /api/agents and /api/stats (served from the poller's cache) against
#  /api/events?limit=1 (one indexed SQLite read) in the same run, over one
#  kept-alive HTTP connection; then the same while the broker is stopped
#  (SIGSTOP): the API must not wait for it. A real broker (mirror in
#  dry-run, 4,000 events from cabruca-loadtest) and cabruca-dashboard
#  asking it every 500 ms. Not part of `make check`; run by hand:
#
#    CAB_BUILDDIR=BUILD CAB_SRCDIR=SRC sh SRC/tests/bench/dashboard-system.sh [REQUESTS]
#
#  Prints p50 / p95 in milliseconds per path and `BENCH` lines like the
#  other benchmarks (docs/performance.md, "Dashboard: broker panels").
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}"
COUNT=${1:-500}
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"], "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas", "data_dir": "$WORK",
 "mirror": {"enabled": true, "dry_run": true}, "budget": {"monthly_budget_usd": 10},
 "agents": {"monitor-lt-1": {"sources": ["cabruca.agents.monitor"]},
            "product-lt-2": {"sources": ["cabruca.agents.product"]},
            "developer-lt-3": {"sources": ["cabruca.agents.developer"]},
            "tester-lt-4": {"sources": ["cabruca.agents.tester"]}}}
JSON
start_broker
"$CAB_BUILDDIR/cabruca-loadtest" --broker "$ENDPOINT" --agents 4 --events-per-agent 1000 \
    > "$WORK/loadtest.out" 2>&1 || fail "cabruca-loadtest: $(tail -3 "$WORK/loadtest.out")"
cat > "$WORK/dash.json" <<JSON
{"listen": "127.0.0.1:0", "store": "events.db", "www": "$CAB_SRCDIR/core/dashboard/www",
 "broker": "$ENDPOINT", "poll_ms": 500}
JSON
"$CAB_BUILDDIR/cabruca-dashboard" --config "$WORK/dash.json" --notify-fd 3 3>"$WORK/dash-ready" \
    2>"$WORK/dash.log" &
PIDS="$PIDS $!"
wait_for 20 test -s "$WORK/dash-ready" || fail "the dashboard did not get ready"
URL=$(sed -n 's/^cabruca-dashboard: ready on \(http:[^ ]*\)\/ .*/\1/p' "$WORK/dash.log")

measure () {  # measure LABEL: p50/p95 of each path
    "$PYTHON3" - "$URL" "$COUNT" "$1" <<'PY'
import http.client, json, sys, time, urllib.parse
url, count, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
deadline = time.time() + 10
while time.time() < deadline:  # the poller's first answers
    conn.request("GET", "/api/budget")
    answer = json.loads(conn.getresponse().read())
    if label == "stopped" or answer.get("available"):
        break
    time.sleep(0.1)
for path in ("/api/events?limit=1", "/api/budget", "/api/mirror", "/api/agents", "/api/stats"):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, (path, response.status)
    times.sort()
    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
    print("%-8s %-22s p50 %7.3f ms  p95 %7.3f ms" % (label, path, p50, p95))
    name = path.strip("/").split("?")[0].replace("/", "_")
    print("BENCH name=dashboard_%s_%s_p95 value=%.3f unit=ms" % (label, name, p95))
PY
}
measure running || fail "measure"
kill -STOP "$BROKER_PID"
sleep 2
measure stopped || fail "measure while the broker is stopped"
kill -CONT "$BROKER_PID"
stop_broker
