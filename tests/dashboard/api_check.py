"""The dashboard's API over real HTTP, checked against the store itself.

usage: api_check.py URL STORE ISSUE_ID FEATURE_ID CHANGE_ID TEST_ID PUBLISH_LIVE
       api_check.py unreachable URL STORE

Run by api.sh (which seeds the store through a real broker with the mirror
in dry-run and a small budget, starts a real supervisor and
cabruca-dashboard asking both). The broker's and the supervisor's answers
are compared with the store and with `cabruca supervisor status --json`
(CABRUCA and DASH_CTL in the environment). The second form checks a
dashboard whose broker does not answer. Exits 1 with a message at the first
difference.
"""
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse

UNREACHABLE = sys.argv[1] == "unreachable"
if UNREACHABLE:
    URL, STORE = sys.argv[2:4]
else:
    URL, STORE, ISSUE, FEATURE, CHANGE, TEST, PUBLISH_LIVE = sys.argv[1:8]
HOST, PORT = urllib.parse.urlsplit(URL).hostname, urllib.parse.urlsplit(URL).port
DB = sqlite3.connect("file:%s?mode=ro" % STORE, uri=True, timeout=5)


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def request(path, method="GET", headers=None, raw=None):
    """(status, headers, body bytes); path is sent exactly as given."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=20)
    if raw is not None:
        conn.connect()
        conn.sock.sendall(raw)
        response = http.client.HTTPResponse(conn.sock, method=method)
        response.begin()
    else:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def api(path, want=200):
    status, headers, body = request(path)
    check(status == want, "%s: status %d, want %d: %r" % (path, status, want, body[:300]))
    check(headers.get("content-type", "").startswith("application/json"), path + ": not JSON")
    check("default-src 'self'" in headers.get("content-security-policy", ""), path + ": no CSP")
    return json.loads(body)


def query(**params):
    return "/api/events?" + urllib.parse.urlencode(params)


def db_count(where="1", args=()):
    return DB.execute("SELECT count(*) FROM events WHERE " + where, args).fetchone()[0]


def all_pages(**params):
    """Every event of a filtered listing, following next_cursor."""
    seen, cursor, pages = [], None, 0
    while True:
        if cursor:
            params["cursor"] = cursor
        answer = api(query(**params))
        seen += answer["events"]
        cursor = answer.get("next_cursor")
        pages += 1
        check(pages < 100, "too many pages")
        if not cursor:
            return seen


def bad(path, parameter, want=400):
    answer = api(path, want)
    check(answer.get("error") == "InvalidArgument", "%s: error %r" % (path, answer))
    check(answer.get("parameter") == parameter,
          "%s: parameter %r, want %r" % (path, answer.get("parameter"), parameter))
    check(isinstance(answer.get("message"), str) and answer["message"], path + ": no message")


def until(what, seconds, fn):
    """Call fn until it returns True; fail with its last answer after seconds."""
    deadline, last = time.time() + seconds, None
    while time.time() < deadline:
        last = fn()
        if last is True:
            return
        time.sleep(0.2)
    fail("%s (after %d s): %s" % (what, seconds, last))


def outcomes():
    """The store's mirrored rows by outcome name, and the outbox's size."""
    names = {1: "accepted", 2: "dry_run", 3: "dead", 4: "sampled", 5: "shed"}
    counts = {name: 0 for name in names.values()}
    for outcome, count in DB.execute("SELECT outcome, count(*) FROM mirrored GROUP BY 1"):
        counts[names[outcome]] = count
    counts["outbox"] = DB.execute("SELECT count(*) FROM outbox").fetchone()[0]
    counts["dlq_depth"] = DB.execute(
        "SELECT count(*) FROM deliveries WHERE state = 2 AND dlq = 'mirror'").fetchone()[0]
    return counts


def check_unreachable():
    """The broker does not answer: its members say so, the page's answers stand."""
    def saved_budget():
        budget = api("/api/budget")
        saved = budget.get("saved")
        if not saved:
            return "no saved budget in %r" % budget
        state = json.loads(DB.execute("SELECT value FROM meta WHERE key = 'budget_state'").fetchone()[0])
        return (saved["events"] == state["month"]["entries"] and saved["shed"] == state["month"]["shed"]
                and abs(saved["cost_usd"] - state["month"]["cost_pusd"] / 1e12) < 1e-12
                or "saved %r, the store's state %r" % (saved, state["month"]))
    until("/api/budget shows the budget the broker saved", 10, saved_budget)
    for path in ("/api/budget", "/api/agents"):
        # Until the first question timed out, the member is "not asked yet".
        until(path + " says the broker did not answer", 10, lambda: (
            lambda answer: (answer["available"] is False and "no status" in answer["error"])
            or "%s without a broker: %r" % (path, answer))(api(path)))
    def store_figures():
        mirror = api("/api/mirror")
        if mirror.get("source") != "store":
            return "mirror %r" % mirror
        want = outcomes()
        got = {k: mirror["store"][k] for k in want}
        return got == want or "store figures %r, the store has %r" % (got, want)
    until("/api/mirror falls back to the store's figures", 10, store_figures)
    mirror = api("/api/mirror")
    check(mirror["available"] is True and mirror["broker_error"], "mirror %r" % mirror)
    stats = api("/api/stats")
    check(stats["events"] == db_count(), "stats without a broker")
    for key in ("nacks", "agents", "budget"):
        check(stats[key]["available"] is False and stats[key]["error"], "stats %s: %r" % (key, stats[key]))
    check(stats["mirror"]["available"] is True and stats["mirror"]["source"] == "store"
          and stats["mirror"]["outbox"] == outcomes()["outbox"], "stats mirror %r" % stats["mirror"])
    supervisor = api("/api/supervisor")
    check(supervisor["available"] is False and supervisor["error"], "supervisor %r" % supervisor)
    bad("/api/budget?x=1", "x")
    print("api_check.py unreachable: OK")
    sys.exit(0)


if UNREACHABLE:
    check_unreachable()

# --- /api/events: the default page, then every event through the cursor ---
total = db_count()
check(total >= 1004, "the store holds %d events" % total)
page = api("/api/events")
check(len(page["events"]) == 100, "default limit: %d events" % len(page["events"]))
check(page["next_cursor"], "no next_cursor on a full page")
events = all_pages(limit=1000)
seqs = [row["seq"] for row in events]
check(len(events) == total, "paging gave %d events, the store has %d" % (len(events), total))
check(seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs), "pages out of order")
last = api(query(limit=1))["events"][0]
check(last["seq"] == DB.execute("SELECT max(seq) FROM events").fetchone()[0], "newest first")
row = DB.execute("SELECT id, text FROM events WHERE seq = ?", (last["seq"],)).fetchone()
check(last["event"] == json.loads(row[1]), "the event is not the stored one")

# --- filters, each compared with the store ---
for param, column in (("source", "source"), ("detail_type", "detail_type")):
    value = DB.execute("SELECT %s FROM events WHERE source LIKE 'cabruca.agents.%%' LIMIT 1"
                       % column).fetchone()[0]
    got = all_pages(**{param: value, "limit": 500})
    check(len(got) == db_count(column + " = ?", (value,)), "%s=%s: %d events" % (param, value, len(got)))
got = all_pages(correlation_id=ISSUE)
check(len(got) == db_count("correlation_id = ?", (ISSUE,)) and len(got) >= 4,
      "correlation_id: %d events" % len(got))
got = all_pages(q="disk almost full on web-1")
check([row["event"]["id"] for row in got] == [ISSUE], "q: %r" % [r["event"]["id"] for r in got])
times = [r[0] for r in DB.execute("SELECT time_ms FROM events ORDER BY time_ms")]
low, high = times[len(times) // 4], times[3 * len(times) // 4]


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


got = all_pages(**{"from": iso(low), "to": iso(high), "limit": 1000})
check(len(got) == db_count("time_ms BETWEEN ? AND ?", (low, high)), "from/to: %d" % len(got))
got = all_pages(**{"from": iso(low)[:19] + "+00:00", "limit": 1000})
check(len(got) == db_count("time_ms >= ?", (low // 1000 * 1000,)), "from with an offset")
pattern = {"source": ["cabruca.agents.monitor"], "detail": {"severity": ["CRITICAL"]}}
got = all_pages(pattern=json.dumps(pattern))
check(ISSUE in [r["event"]["id"] for r in got], "pattern: the CRITICAL issue is missing")
check(all(r["event"]["detail"]["severity"] == "CRITICAL" for r in got), "pattern: a non-match")
want = sum(1 for (text,) in DB.execute("SELECT text FROM events WHERE source = 'cabruca.agents.monitor'")
           if json.loads(text)["detail"].get("severity") == "CRITICAL")
check(len(got) == want, "pattern: %d events, the store has %d" % (len(got), want))
got = all_pages(pattern=json.dumps({"detail-type": ["Test Results"]}), source="cabruca.agents.tester",
                limit=7)
check(len(got) == db_count("detail_type = 'Test Results'"), "pattern + source, small pages")
check(all_pages(source="' OR 1=1 --") == [], "SQL-looking source matched something")
check(all_pages(q="'; DROP TABLE events; --") == [], "SQL-looking q matched something")
check(all_pages(correlation_id="x\" OR \"1\"=\"1") == [], "SQL-looking correlation_id")
check(db_count() >= total, "the store lost events")

# --- one event: deliveries, dead letters ---
issue = api("/api/events/" + ISSUE)
check(issue["event"]["id"] == ISSUE, "event by id")
dead = [d for d in issue["deliveries"] if d["state"] == "dead"]
check(dead and dead[0]["dlq"] == "critical" and dead[0]["rule"] == "poison-issues"
      and dead[0]["attempts"] == 2 and "broken" in dead[0]["error"], "dead letter: %r" % issue)
check(issue["matched_rules"] == ["poison-issues"], "matched_rules %r" % issue["matched_rules"])
check(issue["mirror"]["state"] == "dry-run", "the issue's mirror state %r" % issue["mirror"])
shed = DB.execute("SELECT e.id FROM mirrored m JOIN events e ON e.seq = m.seq"
                  " WHERE m.outcome = 5 LIMIT 1").fetchone()
check(shed, "no event was shed by the budget's policy")
check(api("/api/events/" + shed[0])["mirror"]["state"] == "shed", "a shed event's mirror state")
test = api("/api/events/" + TEST)
check([d["rule"] for d in test["deliveries"]] == ["all-tests"], "test deliveries %r" % test)
api("/api/events/no-such-id", 404)
api("/api/events/" + "x" * 300, 400)
api("/api/events/%s/nope" % ISSUE, 404)

# --- the correlation chain ---
chain = api("/api/events/%s/chain" % TEST)
check([c["id"] for c in chain["causes"]] == [CHANGE, FEATURE, ISSUE], "causes %r" % chain["causes"])
chain = api("/api/events/%s/chain" % ISSUE)
check([c["id"] for c in chain["caused"]] == [FEATURE, CHANGE, TEST], "caused %r" % chain["caused"])
check([c["depth"] for c in chain["caused"]] == [1, 2, 3] and not chain["truncated"], "depths")
chain = api("/api/events/%s/chain" % CHANGE)
check([c["id"] for c in chain["causes"]] == [FEATURE, ISSUE]
      and [c["id"] for c in chain["caused"]] == [TEST], "middle of the chain")
api("/api/events/no-such-id/chain", 404)

# --- stats ---
stats = api("/api/stats")
check(stats["events"] == db_count(), "stats events")
for source, count in DB.execute("SELECT source, count(*) FROM events GROUP BY source"):
    check(stats["daily"]["totals"].get(source) == count, "daily total of %s" % source)
    check(sum(stats["hourly"]["by_source"][source].values()) == count, "hourly of %s" % source)
    check(sum(stats["daily"]["by_source"][source].values()) == count, "daily of %s" % source)
for agent, count in DB.execute("SELECT coalesce(agent_id, '(none)'), count(*) FROM events GROUP BY 1"):
    check(sum(stats["hourly"]["by_agent"][agent].values()) == count, "hourly of agent %s" % agent)
for rule, count in DB.execute("SELECT rule, count(*) FROM deliveries GROUP BY rule"):
    check(stats["rules"][rule]["matches"] == count, "matches of rule %s" % rule)
depth = DB.execute("SELECT count(*) FROM deliveries WHERE state = 2 AND dlq = 'critical'").fetchone()[0]
check(depth >= 1 and stats["dlq"]["critical"]["depth"] == depth, "DLQ depth %r" % stats["dlq"])
check(stats["dlq"]["standard"]["depth"] == 0, "standard DLQ")
check(stats["dlq"]["mirror"]["depth"] == 0, "mirror DLQ")

# --- the broker's answers (the poller's cache): budget, mirror, agents ---
def budget_settled():
    """/api/budget agrees with the store's mirror outcomes."""
    budget = api("/api/budget")
    if budget.get("available") is not True:
        return "budget %r" % budget
    report, want = budget["report"], outcomes()
    month = report["month"]
    if want["outbox"] or month["events"] != want["dry_run"] or report["counts"]["shed"] != want["shed"]:
        return "budget month %r counts %r, the store %r" % (month, report["counts"], want)
    return True


until("/api/budget agrees with the store", 20, budget_settled)
budget = api("/api/budget")
check(budget["enabled"] is True and budget["source"] == "broker" and budget["age_ms"] >= 0, "budget %r" % budget)
month = budget["report"]["month"]
check(month["budget_usd"] == 0.002, "budget_usd %r" % month["budget_usd"])
check(month["events"] >= 900 and 0 < month["cost_usd"] < month["budget_usd"], "month %r" % month)
check(abs(month["used_percent"] - 100 * month["cost_usd"] / month["budget_usd"]) < 1e-6, "used_percent")
check(month["projected_usd"] >= month["cost_usd"], "projected_usd %r" % month)
want_state = ("limit" if month["used_percent"] >= 100 else
              "alarm" if month["used_percent"] >= budget["report"]["threshold"]["alarm_percent"] else "ok")
check(budget["alarm_state"] == want_state, "alarm_state %r, want %r" % (budget["alarm_state"], want_state))
product = budget["report"]["agent_types"]["product"]
check(product["hour"]["cap"] == 200 and product["hour"]["used"] <= 200 and product["shed"] >= 1,
      "product's caps %r" % product)
check(budget["report"]["agent_types"]["tester"]["hour"]["used"] >= 250, "tester's hour")

mirror = api("/api/mirror")
check(mirror["available"] is True and mirror["source"] == "broker" and mirror["enabled"] is True
      and mirror["dry_run"] is True and mirror["bus"] == "cabruca-agents-bus", "mirror %r" % mirror)
want = outcomes()
check({k: mirror["store"][k] for k in want} == want, "mirror store %r, the store %r" % (mirror["store"], want))
check(mirror["store"]["lag_ms"] == 0 and isinstance(mirror["sender"]["dry_run_events"], int), "mirror %r" % mirror)


def agents_seen():
    agents = api("/api/agents")
    ids = [a["agent_id"] for a in agents.get("agents", [])]
    nacked = agents.get("nacked", {})
    return (agents.get("available") is True and "watcher-001" in ids
            and nacked.get("SchemaViolation", 0) >= 1 and nacked.get("AccessDenied", 0) >= 1
            or "agents %r" % agents)


until("/api/agents lists the watcher and the NACKs", 10, agents_seen)
agents = api("/api/agents")
check(agents["connected_agents"] == len(agents["agents"]) and agents["stored"] >= 1004, "agents %r" % agents)
check(agents["nacked_total"] == sum(agents["nacked"].values()), "nacked_total")
stats = api("/api/stats")
check(stats["nacks"]["available"] is True and stats["nacks"]["by_code"].get("SchemaViolation", 0) >= 1
      and stats["nacks"]["total"] >= 2, "stats nacks %r" % stats["nacks"])
check(stats["agents"]["available"] is True and stats["agents"]["connected_agents"] >= 1, "stats agents")
check(stats["mirror"]["available"] is True and stats["mirror"]["lag_ms"] == 0
      and stats["mirror"]["outbox"] == 0 and stats["mirror"]["mode"] == "dry-run", "stats mirror %r" % stats["mirror"])
check(stats["budget"]["available"] is True and stats["budget"]["budget_usd"] == 0.002
      and stats["budget"]["alarm_state"] == want_state, "stats budget %r" % stats["budget"])

# --- the supervisor's answer, compared with `cabruca supervisor status` ---
def supervisor_seen():
    answer = api("/api/supervisor")
    programs = answer.get("programs", {})
    return (answer.get("available") is True and programs.get("sleeper", {}).get("state") == "RUNNING"
            and programs.get("crasher", {}).get("restarts", 0) >= 1 or "supervisor %r" % answer)


until("/api/supervisor shows the programs", 15, supervisor_seen)
cli = json.loads(subprocess.run([os.environ["CABRUCA"], "supervisor", "--socket", os.environ["DASH_CTL"],
                                 "status", "--json"], capture_output=True, text=True, timeout=20).stdout)
answer = api("/api/supervisor")
check(answer["programs"]["sleeper"]["pid"] == cli["programs"]["sleeper"]["pid"], "sleeper's pid")
check(answer["programs"]["crasher"]["last_exit"] == {"status": 1}, "crasher %r" % answer["programs"]["crasher"])
check(answer["counts"].get("RUNNING", 0) >= 1 and sum(answer["counts"].values()) == len(answer["programs"]),
      "counts %r" % answer["counts"])
for path in ("/api/budget", "/api/mirror", "/api/agents", "/api/supervisor"):
    bad(path + "?x=1", "x")
api("/api/budget/x", 404)

# --- every bad parameter ---
bad("/api/events?limit=0", "limit")
bad("/api/events?limit=1001", "limit")
bad("/api/events?limit=abc", "limit")
bad("/api/events?limit=-5", "limit")
bad("/api/events?limit=99999999999999999999999", "limit")
bad("/api/events?cursor=xyz", "cursor")
bad("/api/events?cursor=s-1", "cursor")
bad("/api/events?from=yesterday", "from")
bad("/api/events?from=2026-02-30T00:00:00Z", "from")
bad("/api/events?to=2026-01-01T25:00:00Z", "to")
bad("/api/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to")
bad("/api/events?pattern=%7Bbad", "pattern")
bad("/api/events?pattern=%5B1%5D", "pattern")
bad("/api/events?pattern=" + urllib.parse.quote('{"source": "not-an-array"}'), "pattern")
bad("/api/events?colour=red", "colour")
bad("/api/events?limit=1&limit=2", "limit")
bad("/api/events?source=", "source")
bad("/api/events?q=%ff%fe", "q")
bad("/api/events?source=a%00b", "source")
bad("/api/events?q=" + "a" * 9000, "q")
answer = api("/api/events?" + "&".join("p%d=1" % i for i in range(20)), 400)
check(answer["error"] == "InvalidArgument", "too many parameters")
bad("/api/stats?x=1", "x")
bad("/api/events/%s?x=1" % ISSUE, "x")
bad("/api/stream?after=-1", "after")
bad("/api/stream?pattern=nope", "pattern")
api("/api/events/%ff%fe", 400)

# --- unknown paths, methods ---
check(api("/api/nope", 404)["error"] == "NotFound", "unknown API path")
api("/nope.html", 404)
for method in ("POST", "PUT", "DELETE", "PATCH", "HEAD"):
    status, headers, body = request("/api/events", method=method)
    check(status == 405 and headers.get("allow") == "GET", "%s: %d" % (method, status))

# --- hostile requests: the server answers and stays up ---
status, _, _ = request("/api/events?q=" + "a" * 100000)
check(status in (414, 431, 400), "a 100 KB URL got %d" % status)
status, _, _ = request("/api/events", headers={"X-Big": "b" * 60000})
check(status in (431, 413, 400), "a 60 KB header got %d" % status)
for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
             "/.htaccess", "/index.html%00.js", "/www/index.html", "//etc/passwd",
             "/app.js/../../configure.ac", "/%2fetc%2fpasswd", "/dash.h", "/..", "/...js"):
    status, _, body = request(path)
    check(status in (400, 404), "%s got %d" % (path, status))
    check(b"root:" not in body, path + " leaked a file")
status, headers, body = request("/")
check(status == 200 and headers["content-type"].startswith("text/html"), "the page")
check("default-src 'self'" in headers.get("content-security-policy", ""), "the page has no CSP")
check(b"http://" not in body and b"https://" not in body, "the page links outside")
status, headers, _ = request("/app.js")
check(status == 200 and "javascript" in headers["content-type"], "app.js")
# Garbage bytes in a header line and a bad request line: answered or
# dropped, never a crash.
for raw in (b"GET /api/events HTTP/1.1\r\nHost: x\r\n\x00\xff\r\n\r\n",
            b"\xff\xfe /api/events HTTP/1.1\r\n\r\n", b"GET\r\n\r\n"):
    try:
        status, _, _ = request(None, raw=raw)
    except (http.client.HTTPException, OSError):
        status = 400
    check(status in (200, 400, 405, 505), "garbage request got %d" % status)
check(api(query(limit=1))["events"], "the server is down after the hostile requests")

# --- the live stream: a new event arrives; a pattern filters ---
def open_stream(params=""):
    sock = socket.create_connection((HOST, PORT), timeout=15)
    sock.sendall(("GET /api/stream%s HTTP/1.1\r\nHost: x\r\n\r\n" % params).encode())
    return sock, sock.makefile("rb")


def read_until(stream, needle, seconds):
    deadline, data = time.time() + seconds, b""
    while time.time() < deadline and needle not in data:
        try:
            line = stream.readline()
        except socket.timeout:
            break
        if not line:
            break
        data += line
    return data


sock, stream = open_stream()
head = read_until(stream, b"retry:", 10)
check(b"200" in head.split(b"\r\n")[0] and b"text/event-stream" in head, "stream head %r" % head)
sock2, stream2 = open_stream("?pattern=" + urllib.parse.quote(
    json.dumps({"source": ["cabruca.agents.monitor"]})))
read_until(stream2, b"retry:", 10)
live_id = subprocess.run([PUBLISH_LIVE], capture_output=True, text=True, timeout=60).stdout.strip()
check(live_id, "could not publish the live event")
data = read_until(stream, live_id.encode(), 10)
check(live_id.encode() in data, "the live event did not arrive: %r" % data[-300:])
sock2.settimeout(1.0)
data2 = read_until(stream2, live_id.encode(), 1)
check(live_id.encode() not in data2, "the pattern did not filter the stream")
for handle in (stream, sock, stream2, sock2):
    handle.close()
# after=SEQ replays from a seq.
sock, stream = open_stream("?after=%d" % (total - 1))
data = read_until(stream, b"\n\n", 10) + read_until(stream, b"event: event", 10)
check(b"event: event" in data, "after= replays nothing")
stream.close()
sock.close()

# --- the bound on streams: 32 at once, the 33rd gets 503 ---
# The streams above are released when the server sees them close (at its
# next poll, 200 ms): until all 32 open, close them and try again.
def open_streams(count, seconds):
    deadline = time.time() + seconds
    while True:
        socks = [open_stream() for _ in range(count)]
        heads = [read_until(handle, b"retry:", 10) for _, handle in socks]
        if all(b" 200 " in head.split(b"\r\n")[0] for head in heads) or time.time() > deadline:
            return socks, heads
        for sock, handle in socks:
            handle.close()
            sock.close()
        time.sleep(0.5)


socks, heads = open_streams(32, 20)
check(all(b" 200 " in head.split(b"\r\n")[0] for head in heads), "32 streams did not all open")
# The 33rd: only its status line is read (a 200 would never end).
sock, handle = open_stream()
first = handle.readline()
handle.close()
sock.close()
check(b" 503 " in first, "stream 33 got %r" % first)
for sock, handle in socks:
    handle.close()
    sock.close()
deadline = time.time() + 10
while time.time() < deadline:
    sock, handle = open_stream()
    first = handle.readline()
    handle.close()
    sock.close()
    if b" 200 " in first:
        break
    time.sleep(0.2)
check(b" 200 " in first, "streams are not released: %r" % first)
print("api_check.py: OK")
