#!/bin/sh
#  The non-agent targets with real processes:
#  - log: JSON lines, rotated by size, at most `keep` rotated files;
#  - http: POSTs to a real local webhook (webhook.py) with the configured
#    headers; a 503 is retried, a 400 is dead-lettered at once
#    (TARGET_REJECTED);
#  - input transformers: the webhook, a command and an agent queue's
#    consumer see exactly the transformed payload;
#  - an http target's rate limit spaces its requests; a command past its
#    timeout is killed (its process group) and dead-lettered;
#  - SIGHUP: a rule added to the file takes the events published after the
#    reload; a broken file is refused and the broker keeps its rules.
. "$(dirname "$0")/delivery-lib.sh"
"$PYTHON3" "$CAB_SRCDIR/tests/integration/webhook.py" "$WORK/port" "$WORK/webhook.log" &
PIDS="$PIDS $!"
wait_for 10 test -s "$WORK/port" || fail "the webhook did not start"
HOOK="http://127.0.0.1:$(cat "$WORK/port")"
cat > "$WORK/capture.sh" <<SH
#!/bin/sh
cat > "$WORK/command.tmp" && mv "$WORK/command.tmp" "$WORK/command.out"
SH
#  A command that hangs; its sleep has a duration no other process has.
HANG="sleep 37.$$"
cat > "$WORK/hang.sh" <<SH
#!/bin/sh
cat > /dev/null
echo started >> "$WORK/hang.log"
$HANG
SH
chmod +x "$WORK/capture.sh" "$WORK/hang.sh"

#  rules_file [EXTRA_RULE]: the rule file, with one more rule when given.
rules_file () {
    cat > "$WORK/rules.json.tmp" <<JSON
{"rules": [
  {"name": "issues-log",
   "event_pattern": {"source": ["cabruca.agents.monitor"], "detail-type": ["Issue Detection"]},
   "targets": [{"id": "log", "type": "log", "path": "logs/issues.jsonl", "max_bytes": 4096, "keep": 2}]},
  {"name": "to-http",
   "event_pattern": {"source": ["cabruca.agents.developer"], "detail-type": ["Code Change"],
                     "detail": {"status": ["APPROVED"]}},
   "targets": [
     {"id": "ok", "type": "http", "url": "$HOOK/status/200", "headers": {"X-Cabruca-Test": "yes"},
      "input_transformer": {
        "input_paths_map": {"st": "\$.detail.status", "id": "\$.id", "branch": "\$.detail.branch",
                            "missing": "\$.detail.nothing"},
        "input_template": "{\"status\": <st>, \"event\": <id>, \"rule\": <aws.events.rule-name>, \"text\": \"<branch> is <st>\", \"missing\": <missing>}"}},
     {"id": "flaky", "type": "http", "url": "$HOOK/flaky/503"},
     {"id": "reject", "type": "http", "url": "$HOOK/status/400",
      "retry_policy": {"maximum_retry_attempts": 5, "maximum_event_age_seconds": 600}},
     {"id": "command", "type": "command", "command": ["$WORK/capture.sh"],
      "input_transformer": {"input_paths_map": {"st": "\$.detail.status", "branch": "\$.detail.branch"},
                            "input_template": "\"change on <branch> is <st>\""}},
     {"id": "agent", "type": "agent", "queue": "transformed",
      "input_transformer": {"input_paths_map": {"id": "\$.id"},
                            "input_template": "{\"wrapped\": <id>, \"rule\": \"<aws.events.rule-name>\"}"}}]},
  {"name": "rated",
   "event_pattern": {"source": ["cabruca.agents.tester"], "detail-type": ["Test Results"]},
   "targets": [{"id": "rated", "type": "http", "url": "$HOOK/rated", "rate_per_second": 10}]},
  {"name": "hang",
   "event_pattern": {"source": ["cabruca.agents.tester"], "detail-type": ["Test Results"],
                     "detail": {"status": ["FAILED"]}},
   "targets": [{"id": "hang", "type": "command", "command": ["$WORK/hang.sh"], "timeout_ms": 300,
                "retry_policy": {"maximum_retry_attempts": 0, "maximum_event_age_seconds": 600},
                "dead_letter_queue": "critical"}]}${1:-}
]}
JSON
    mv "$WORK/rules.json.tmp" "$WORK/rules.json"
}
rules_file
write_delivery_config
"$BROKER" -n --config "$WORK/broker.json" 2>>"$WORK/broker.log" || fail "the config does not check"
start_broker

#  1. Log target: 40 events of about 1 KB through a 4 KB file, keep 2.
make_events issue 40 "$WORK/issues" --pad 800
publish "$WORK/issues" monitor-001
LAST_ID=$(tail -1 "$WORK/issues" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
wait_for 20 grep -q "$LAST_ID" "$WORK/logs/issues.jsonl" 2>/dev/null \
    || fail "the last event did not reach the log: $(ls -l "$WORK/logs" 2>&1)"
"$PYTHON3" - "$WORK" <<'PY' || fail "the log target's files are wrong: $(ls -l "$WORK/logs")"
import glob, json, os, sys
sys.path.insert(0, os.environ["CAB_SRCDIR"] + "/tests/integration")
import delivery_check as check
work = sys.argv[1]
published = check.ids_of(work + "/issues")
files = sorted(glob.glob(work + "/logs/issues.jsonl*"))
rotated = [f for f in files if f != work + "/logs/issues.jsonl"]
assert 1 <= len(rotated) <= 2, "rotated files: %s (keep 2)" % rotated
logged = []
for name in files:
    size = os.path.getsize(name)
    lines = open(name).read().splitlines()
    assert size <= 4096 + 2048, "%s is %d bytes (max_bytes 4096)" % (name, size)
    for line in lines:
        event = json.loads(line)
        assert event["id"] in published, "a line that is not one of our events"
        logged.append(event["id"])
assert len(logged) == len(set(logged)), "an event logged twice"
assert published[-1] in logged and len(logged) >= 4, "%d events in the files kept" % len(logged)
print("log target: %d files (%d rotated), %d of %d events kept, every line JSON"
      % (len(files), len(rotated), len(logged), len(published)))
PY

#  2. HTTP, command and agent targets, with input transformers.
start_consumer t consumer-1 transformed --texts "$WORK/t.texts"
T_PID=$CONSUMER_PID
make_events change 1 "$WORK/change"
CHANGE_ID=$("$PYTHON3" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$WORK/change")
publish "$WORK/change" developer-001
requests () {  #  requests PATH N: the webhook had N requests (or more) for PATH
    [ "$(cat "$WORK/webhook.log" 2>/dev/null | grep -c "\"path\": \"$1\"")" -ge "$2" ]
}
wait_for 20 requests /status/200 1 || fail "no POST reached the webhook: $(cat "$WORK/webhook.log" 2>/dev/null)"
wait_for 20 requests /flaky/503 2 || fail "the 503 was not retried: $(cat "$WORK/webhook.log")"
wait_for 20 test -s "$WORK/command.out" || fail "the command target did not run"
wait_for 10 sql_is "2 1" "SELECT state, attempts FROM deliveries WHERE target = 'reject'" \
    || fail "the 400 was not dead-lettered at once: $(sql "SELECT state, attempts, error FROM deliveries WHERE target = 'reject'")"
wait_for 10 lines_at_least 1 "$WORK/t.rec" || fail "the agent target's consumer got nothing"
wait_for 10 sql_is "1 1 1 1" "SELECT group_concat(state, ' ') FROM deliveries WHERE target IN ('ok', 'flaky', 'command', 'agent')" \
    || fail "deliveries: $(sql 'SELECT target, state, attempts, error FROM deliveries WHERE rule = '"'to-http'"'')"
"$PYTHON3" - "$WORK" "$CHANGE_ID" <<'PY' || fail "the http and command targets did not get what they should"
import json, sys
work, event_id = sys.argv[1], sys.argv[2]
event = json.loads(open(work + "/change").readline())
requests = [json.loads(line) for line in open(work + "/webhook.log")]
ok = [r for r in requests if r["path"] == "/status/200"]
assert len(ok) == 1, "%d requests to the 2xx target" % len(ok)
assert ok[0]["method"] == "POST", ok[0]["method"]
assert ok[0]["headers"].get("x-cabruca-test") == "yes", "configured header missing: %s" % ok[0]["headers"]
body = json.loads(ok[0]["body"])
want = {"status": "APPROVED", "event": event_id, "rule": "to-http", "text": "main is APPROVED",
        "missing": None}
assert body == want, "transformed payload %s, want %s" % (ok[0]["body"], want)
flaky = [r for r in requests if r["path"] == "/flaky/503"]
assert [r["status"] for r in flaky] == [503, 200], "flaky target: %s" % [r["status"] for r in flaky]
assert json.loads(flaky[1]["body"]) == event, "an untransformed http target gets the event as published"
reject = [r for r in requests if r["path"] == "/status/400"]
assert len(reject) == 1, "a 400 was retried (%d requests)" % len(reject)
agent = json.loads(open(work + "/t.texts").readline())
assert agent == {"wrapped": event_id, "rule": "to-http"}, "the agent target got %s" % agent
record = open(work + "/t.rec").readline().split()
assert record[2] == "-", "a transformed payload has no event id, the client said %s" % record[2]
command = open(work + "/command.out").read()
assert command.strip() == '"change on main is APPROVED"', "the command got %r" % command
print("http: transformed body, header, 503 retried, 400 dead-lettered once; command: %s"
      % command.strip())
PY
sql "SELECT text FROM events WHERE detail_type = 'Delivery Dead-Lettered'" | grep -q TARGET_REJECTED \
    || fail "no Delivery Dead-Lettered event with reason TARGET_REJECTED"

#  3. Rate limit (10 requests/s: 11 events take 1 s or more) and a command
#  past its timeout (killed with its process group, dead-lettered at once).
make_events test 10 "$WORK/tests"
make_events test 1 "$WORK/tests" --append --set 'status="FAILED"'
publish "$WORK/tests" tester-001
wait_for 20 requests /rated 11 || fail "the rate-limited target got $(grep -c '/rated' "$WORK/webhook.log") of 11 requests"
"$PYTHON3" - "$WORK" <<'PY' || fail "the rate limit did not space the requests"
import json, sys
times = [r["time"] for r in map(json.loads, open(sys.argv[1] + "/webhook.log")) if r["path"] == "/rated"]
span = max(times) - min(times)
assert len(times) == 11 and span >= 0.9, "11 requests at 10/s took %.3f s" % span
print("rate limit: 11 requests at 10/s spread over %.2f s" % span)
PY
wait_for 10 sql_is "2 1" "SELECT state, attempts FROM deliveries WHERE target = 'hang'" \
    || fail "the hanging command: $(sql "SELECT state, attempts, error FROM deliveries WHERE target = 'hang'")"
sql "SELECT dlq, error FROM deliveries WHERE target = 'hang'" | grep -q "^critical .*time" \
    || fail "the hanging command's dead letter: $(sql "SELECT dlq, error FROM deliveries WHERE target = 'hang'")"
grep -q started "$WORK/hang.log" || fail "the hanging command never started"
no_hang () { ! ps -eo args | grep -q "^$HANG"; }
wait_for 5 no_hang || fail "the command's child ($HANG) outlived its timeout"

#  4. SIGHUP: a new rule takes the events published after the reload.
make_events feature 1 "$WORK/before"
publish "$WORK/before" product-001
rules_file ',
  {"name": "added",
   "event_pattern": {"source": ["cabruca.agents.product"], "detail-type": ["Feature Request"]},
   "targets": [{"id": "log", "type": "log", "path": "logs/added.jsonl"}]}'
kill -HUP "$BROKER_PID"
#  The reload is asynchronous: publish one event at a time until one is routed.
reloaded () {
    make_events feature 1 "$WORK/after" --append
    publish "$WORK/after" product-001 >/dev/null
    lines_at_least 1 "$WORK/logs/added.jsonl"
}
wait_for 10 reloaded || fail "the rule added by SIGHUP routes nothing"
kill -0 "$BROKER_PID" || fail "the broker died on SIGHUP"
BEFORE_ID=$("$PYTHON3" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$WORK/before")
grep -q "$BEFORE_ID" "$WORK/logs/added.jsonl" && fail "an event published before the reload was routed by the new rule"
#  A broken rule file is refused: the broker keeps the rules it has.
echo '{"rules": [{"name": "broken"' > "$WORK/rules.json"
logged=$(wc -l < "$WORK/broker.log")
kill -HUP "$BROKER_PID"
#  (The broker says it refused the file; wait for that line, not for a time.)
log_grew () { [ "$(wc -l < "$WORK/broker.log")" -gt "$logged" ]; }
wait_for 10 log_grew || fail "the broker said nothing about the broken rule file"
kill -0 "$BROKER_PID" || fail "the broker died on a broken rule file"
make_events feature 1 "$WORK/last"
publish "$WORK/last" product-001
LAST_ID=$("$PYTHON3" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["id"])' "$WORK/last")
wait_for 10 grep -q "$LAST_ID" "$WORK/logs/added.jsonl" \
    || fail "after a broken rule file the broker lost its rules"
stop_broker
echo "delivery-targets: ok"
