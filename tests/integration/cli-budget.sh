#!/bin/sh
#  `cabruca budget` and `cabruca mirror status`: their tables and --json
#  against canned broker answers (control_stub: every figure known), then
#  against a real broker whose mirror runs in dry-run; the broker down (a
#  typed error, exit 1); bad flags and unknown subcommands (exit 2).
. "$(dirname "$0")/broker-lib.sh"
STUB="$CAB_BUILDDIR/tests/integration/control_stub"
CANNED="$WORK/canned"
STUB_ENDPOINT="ipc://$WORK/stub.ipc"
mkdir "$CANNED"
unset CABRUCA_BROKER CABRUCA_CURVE_CERT CABRUCA_SERVER_CERT
#  No AWS account: the mirror must find no credentials and run in dry-run.
for name in $(env | sed -n 's/^\(AWS_[A-Z_]*\)=.*/\1/p'); do unset "$name"; done
export AWS_EC2_METADATA_DISABLED=true HOME="$WORK"

#  expect STATUS COMMAND...: run it (stdin from /dev/null, output in
#  $WORK/out and $WORK/err) and check its exit status.
expect () {
    want=$1
    shift
    "$@" < /dev/null > "$WORK/out" 2> "$WORK/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "$* exited $got, not $want: $(cat "$WORK/out" "$WORK/err")"
}
out_has () {
    grep -Eq -- "$1" "$WORK/out" || fail "stdout lacks /$1/: $(cat "$WORK/out")"
}
err_has () {
    grep -q -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
}

#  --- Usage: exit 2, a message naming the problem -------------------------
expect 0 "$CABRUCA" budget --help
grep -q '^usage: cabruca budget' "$WORK/out" || fail "budget --help"
expect 0 "$CABRUCA" mirror --help
grep -q '^usage: cabruca mirror status' "$WORK/out" || fail "mirror --help"
expect 0 "$CABRUCA" mirror status -h
expect 2 "$CABRUCA" mirror
grep -q '^usage: cabruca mirror status' "$WORK/err" || fail "mirror alone prints the usage"
expect 2 "$CABRUCA" mirror frobnicate
err_has "unknown command 'frobnicate'"
expect 2 "$CABRUCA" mirror --json
err_has "the command comes first"
expect 2 "$CABRUCA" mirror status --bogus
err_has "unknown option '--bogus'"
expect 2 "$CABRUCA" mirror status now
err_has "unexpected argument 'now'"
expect 2 "$CABRUCA" budget --bogus
err_has "unknown option"
expect 2 "$CABRUCA" budget month
err_has "unexpected argument"
expect 2 "$CABRUCA" budget --broker
err_has "needs a value"
for timeout in 0 -5 abc 10x 86400001 ''; do
    expect 2 "$CABRUCA" budget --timeout "$timeout"
    err_has "needs milliseconds"
done
expect 2 "$CABRUCA" budget --curve-cert "$WORK/none.key"
err_has "InvalidArgument"
expect 2 "$CABRUCA" frobnicate
expect 0 "$CABRUCA" --help
grep -q '^  budget ' "$WORK/out" && grep -q '^  mirror ' "$WORK/out" || fail "cabruca --help"

#  --- No broker: exit 1 with a typed error, quickly -----------------------
expect 1 "$CABRUCA" budget --broker "ipc://$WORK/none.ipc" --timeout 300
err_has "no answer from the broker at ipc://$WORK/none.ipc within 300 ms \[Timeout\]"
expect 1 "$CABRUCA" mirror status --broker "ipc://$WORK/none.ipc" --timeout 300 --json
err_has "\[Timeout\]"
[ ! -s "$WORK/out" ] || fail "nothing on stdout without an answer"
expect 1 env CABRUCA_BROKER="ipc://$WORK/none.ipc" "$CABRUCA" budget --timeout 200
err_has "ipc://$WORK/none.ipc"

#  --- Canned answers: every figure known ----------------------------------
cat > "$CANNED/budget.json" <<'JSON'
{"ok": true, "enabled": true, "report":
 {"time": "2026-11-16T00:00:00Z",
  "month": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z",
            "elapsed_percent": 50.0, "events": 9300000, "chunks": 9310000,
            "rule_matches": 250000, "cost_usd": 9.47, "projected_usd": 18.94,
            "budget_usd": 10.0, "used_percent": 94.7, "over_budget": false},
  "threshold": {"alarm_percent": 90.0, "alarm_at": "2026-11-15T10:20:00Z", "limit_at": null},
  "counts": {"mirrored": 9300000, "always_mirror_bypassed": 3, "sample_mirrored": 12,
             "deferred": 40, "deferrals": 41, "sampled": 108, "shed": 7},
  "windows": {"hour_start": "2026-11-16T00:00:00Z", "day_start": "2026-11-16T00:00:00Z"},
  "agent_types": {
    "monitor": {"hour": {"used": 2100, "cap": 2100}, "day": {"used": 2100, "cap": 50000},
                "in_flight": 2, "mirrored": 9000000, "deferred": 40, "sampled": 108, "shed": 0},
    "product": {"hour": {"used": 5, "cap": 200}, "day": {"used": 5, "cap": 5000},
                "in_flight": 0, "mirrored": 300000, "deferred": 0, "sampled": 0, "shed": 7},
    "other": {"hour": {"used": 0, "cap": null}, "day": {"used": 0, "cap": null},
              "in_flight": 0, "mirrored": 0, "deferred": 0, "sampled": 0, "shed": 0}},
  "in_flight": {"events": 2, "cost_usd": 0.000002},
  "config": {"per_million_entries_usd": 1.0, "per_million_matches_usd": 0.64,
             "default_policy": "defer", "policies": 0, "always_mirror": 2}}}
JSON
cat > "$CANNED/mirror-status.json" <<'JSON'
{"ok": true, "enabled": true, "dry_run": false, "bus": "cabruca-agents-bus",
 "endpoint": "https://events.eu-west-1.amazonaws.com", "region": "eu-west-1",
 "sender": {"submitted": 1200, "requests": 140, "accepted": 1180, "dead_lettered": 1,
            "failed": 4, "dry_run_events": 0, "retries": 33, "throttled": 21,
            "server_errors": 5, "network_errors": 7, "auth_errors": 0, "bytes": 612345,
            "chunks": 1180, "cost_usd": 0.00118, "queued": 12, "in_flight": 3,
            "retry_tokens": 487, "last_error": "ThrottlingException"},
 "store": {"outbox": 4321, "deferred": 2, "failed": 1, "due": 4000,
           "oldest_received_ms": 1795305600000, "lag_ms": 192500,
           "accepted": 1180, "dry_run": 0, "dead": 1, "sampled": 108, "shed": 7,
           "dlq_depth": 1}}
JSON
"$STUB" "$STUB_ENDPOINT" "$CANNED" > "$WORK/stub.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 grep -qs ready "$WORK/stub.out" || fail "control_stub did not start"

expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT"
out_has '^month +2026-11 \(2026-11-01T00:00:00Z to 2026-12-01T00:00:00Z\), 50\.0% elapsed$'
out_has '^events +9,300,000 mirrored \(9,310,000 chunks of 64 KB, 250,000 cloud rule matches\)$'
out_has '^cost +\$9\.47 month to date, \$18\.94 projected to the month.s end$'
out_has '^budget +\$10\.00 a month, 94\.7% used$'
out_has '^state +ALARM: 90\.0% of the budget reached at 2026-11-15T10:20:00Z'
out_has '^held back +40 deferred \(41 deferrals\), 108 sampled out, 7 shed$'
out_has '^past limits +3 always_mirror, 12 sampled through$'
out_has '^in flight +2 events, <\$0\.0001$'
out_has '^mirror +live, lag 3m 12s, outbox 4,321 \(2 deferred, 1 failed\)$'
out_has '^AGENT TYPE +HOUR USED/CAP +DAY USED/CAP +IN-FLIGHT +MIRRORED +DEFERRED +SAMPLED +SHED$'
out_has '^monitor +2,100/2,100 \(100%\) +2,100/50,000 \(4%\) +2 +9,000,000 +40 +108 +0$'
out_has '^product +5/200 \(2%\) +5/5,000 \(<1%\) +0 +300,000 +0 +0 +7$'
out_has '^other +0/no cap +0/no cap +0 +0 +0 +0 +0$'
[ -s "$WORK/err" ] && fail "budget wrote to stderr: $(cat "$WORK/err")"

#  --json: the broker's document, as it is.
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT" --json
"$PYTHON3" - "$WORK/out" "$CANNED/budget.json" <<'PY' || fail "budget --json: $(cat "$WORK/out")"
import json, sys
printed, canned = (json.load(open(p)) for p in sys.argv[1:3])
assert printed == canned, printed
PY

expect 0 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
out_has '^mode +live$'
out_has '^bus +cabruca-agents-bus$'
out_has '^endpoint +https://events\.eu-west-1\.amazonaws\.com$'
out_has '^region +eu-west-1$'
out_has '^outbox +4,321 events \(2 deferred, 1 failed, 4,000 due\), lag 3m 12s$'
out_has '^oldest +2026-11-22T00:00:00\.000Z$'
out_has '^mirrored +1,180 accepted, 0 dry-run, 1 dead, 108 sampled, 7 shed$'
out_has '^dead letters +1 in queue mirror \(cabruca dlq list --queue mirror\)$'
out_has '^sender +1,200 submitted, 140 requests, 1,180 accepted, 0 dry-run, 4 failed$'
out_has '^retries +33 retries, 21 throttled, 487 retry tokens left$'
out_has '^errors +5 server \(5xx\), 7 network, 0 auth, 1 dead-lettered$'
out_has '^last error +ThrottlingException$'
out_has '^sent +612\.3 kB in requests, 1,180 chunks of 64 KB, \$0\.0012$'
out_has '^now +12 queued, 3 requests in flight$'
expect 0 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT" --json
"$PYTHON3" - "$WORK/out" "$CANNED/mirror-status.json" <<'PY' || fail "mirror --json: $(cat "$WORK/out")"
import json, sys
printed, canned = (json.load(open(p)) for p in sys.argv[1:3])
assert printed == canned, printed
PY

#  The budget's states: ok, the limit; small amounts; the mirror disabled.
"$PYTHON3" - "$CANNED/budget.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m, t = d["report"]["month"], d["report"]["threshold"]
m.update(cost_usd=0.0123, projected_usd=0.0246, used_percent=0.123, budget_usd=10)
t["alarm_at"] = None
json.dump(d, open(sys.argv[1], "w"))
PY
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT"
out_has '^cost +\$0\.0123 month to date, \$0\.0246 projected'
out_has '^budget +\$10\.00 a month, 0\.1% used$'
out_has '^state +ok \(the alarm fires at 90\.0%\)$'
"$PYTHON3" - "$CANNED/budget.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
m, t = d["report"]["month"], d["report"]["threshold"]
m.update(cost_usd=10.0001, used_percent=100.001, over_budget=True, events=0)
t.update(alarm_at="2026-11-15T10:20:00Z", limit_at="2026-11-15T23:00:00Z")
json.dump(d, open(sys.argv[1], "w"))
PY
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT"
out_has '^state +LIMIT: budget spent since 2026-11-15T23:00:00Z; only always_mirror events are mirrored$'
out_has '^events +0 mirrored'
out_has '^budget +\$10\.00 a month, 100\.0% used$'

#  Lags of hours and days.
for lag in '7500000 2h 05m' '97200000 1d 03h' '999 999 ms' '59999 59\.9 s' '1050 1\.0 s'; do
    set -- $lag
    "$PYTHON3" - "$CANNED/mirror-status.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["store"]["lag_ms"] = int(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"))
PY
    expect 0 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
    out_has "^outbox .*, lag $2 $3\$"
done
grep -q '^SENDER DOWN' "$WORK/out" && fail "no sender error, yet: $(cat "$WORK/out")"
"$PYTHON3" - "$CANNED/mirror-status.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["sender_error"] = "AWS credentials: IMDSv2 token: HTTP 403 [IoError]"
json.dump(d, open(sys.argv[1], "w"))
PY
expect 0 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
out_has '^SENDER DOWN +AWS credentials: IMDSv2 token: HTTP 403 \[IoError\]$'

#  The mirror-status question fails: the budget is still printed.
mv "$CANNED/mirror-status.json" "$CANNED/mirror-status.off"
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT"
out_has '^mirror +- \(no mirror-status answer\)$'
out_has '^AGENT TYPE'
#  A broker that does not know the op: exit 1, said so.
expect 1 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
err_has 'does not know {"op":"mirror-status"}'
err_has '\[InvalidArgument\]'
#  A refusal: exit 1 with the broker's reason and code.
echo '{"ok": false, "code": 8, "error": "StoreUnavailable", "message": "disk I/O error"}' \
    > "$CANNED/mirror-status.json"
expect 1 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
err_has 'the broker refused: disk I/O error \[StoreUnavailable\]'
#  The mirror disabled in the broker's configuration.
echo '{"ok": true, "enabled": false}' > "$CANNED/budget.json"
echo '{"ok": true, "enabled": false}' > "$CANNED/mirror-status.json"
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT"
out_has '^budget +none: the mirror is disabled'
expect 0 "$CABRUCA" mirror status --broker "$STUB_ENDPOINT"
out_has '^mirror +disabled'
expect 0 "$CABRUCA" budget --broker "$STUB_ENDPOINT" --json
"$PYTHON3" -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"ok": True, "enabled": False}' \
    "$WORK/out" || fail "disabled --json: $(cat "$WORK/out")"

#  --- A real broker: the mirror on by default, in dry-run -----------------
write_config
start_broker
export CABRUCA_BROKER=$ENDPOINT
for n in 1 2 3; do
    "$CABRUCA" publish --agent tester-001 --type test --field test_type=UNIT \
        --field status=PASSED --field duration_ms=$n > /dev/null || fail "publish $n"
done
#  mirrored: the 3 events charged as dry-run (the worker commits with the
#  next group commit, so wait for it).
mirrored () {
    "$CABRUCA" budget --json > "$WORK/budget.json" 2> "$WORK/err" || return 1
    "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["report"]["month"]["events"] == 3 else 1)' "$WORK/budget.json"
}
wait_for 20 mirrored || fail "the 3 events were not charged: $(cat "$WORK/budget.json" "$WORK/err")"
"$PYTHON3" - "$WORK/budget.json" <<'PY' || fail "budget --json: $(cat "$WORK/budget.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["enabled"] is True, d
r = d["report"]
m = r["month"]
assert m["events"] == 3 and m["chunks"] == 3 and m["budget_usd"] == 10, m
assert abs(m["cost_usd"] - 3 * 1e-6 - m["rule_matches"] * 0.64e-6) < 1e-12, m
assert m["over_budget"] is False and r["threshold"]["alarm_at"] is None, r
assert r["agent_types"]["tester"]["hour"] in ({"used": 3, "cap": 1250},
                                             {"used": 0, "cap": 1250}), r["agent_types"]
assert r["agent_types"]["tester"]["day"]["cap"] == 30000, r["agent_types"]
assert r["counts"]["mirrored"] == 3 and r["counts"]["shed"] == 0, r["counts"]
PY
expect 0 "$CABRUCA" budget
out_has '^events +3 mirrored \(3 chunks of 64 KB, [0-9]+ cloud rule matches\)$'
out_has '^cost +\$0\.00[0-9][0-9] month to date|^cost +<\$0\.0001 month to date'
out_has '^budget +\$10\.00 a month, <0\.1% used$'
out_has '^state +ok \(the alarm fires at 90\.0%\)$'
out_has '^mirror +dry-run, lag [^,]+, outbox 0 \(0 deferred, 0 failed\)$'
#  (A window that turned since the events were charged reads 0.)
out_has '^tester +[03]/1,250 \((<1|0)%\) +[03]/30,000 \((<1|0)%\) +0 +3 +0 +0 +0$'
expect 0 "$CABRUCA" mirror status --json
"$PYTHON3" - "$WORK/out" <<'PY' || fail "mirror status --json: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["enabled"] is True and d["dry_run"] is True, d
assert d["bus"] == "cabruca-agents-bus", d
s, t = d["store"], d["sender"]
assert s["outbox"] == 0 and s["lag_ms"] == 0 and s["dry_run"] == 3 and s["dlq_depth"] == 0, s
assert s["accepted"] == 0 and s["dead"] == 0, s
assert t["dry_run_events"] == 3 and t["accepted"] == 0 and t["auth_errors"] == 0, t
PY
expect 0 "$CABRUCA" mirror status
out_has '^mode +dry-run'
out_has '^outbox +0 events \(0 deferred, 0 failed, 0 due\), lag 0 ms$'
out_has '^mirrored +0 accepted, 3 dry-run, 0 dead, 0 sampled, 0 shed$'
out_has '^dead letters +0 in queue mirror'
#  `cabruca status` sums the mirror up in a line.
expect 0 "$CABRUCA" status
out_has '^mirror +dry-run, outbox 0, lag 0 ms; 0 accepted, 3 dry-run, 0 dead; (<\$0\.0001|\$0\.00[0-9]+) this month$'

#  The broker gone: a typed error and exit 1, nothing on stdout.
stop_broker
expect 1 "$CABRUCA" budget --timeout 300
err_has "\[Timeout\]"
[ ! -s "$WORK/out" ] || fail "nothing on stdout without an answer"
expect 1 "$CABRUCA" mirror status --timeout 300
err_has "\[Timeout\]"

#  --- The store instead of the broker: what it saved ---------------------
expect 0 "$CABRUCA" budget --config "$WORK/broker.json" --json
"$PYTHON3" - "$WORK/out" <<'PY' || fail "budget --config --json: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"] == "store" and d["enabled"] is True, d
r = d["report"]
assert r["month"]["events"] == 3 and r["counts"]["mirrored"] == 3, r
assert r["agent_types"]["tester"]["day"]["used"] in (0, 3), r
assert r["agent_types"]["tester"]["day"]["cap"] == 30000, r
assert r["in_flight"]["events"] == 0, r
PY
expect 0 "$CABRUCA" budget --store "$WORK/events.db"
out_has '^events +3 mirrored'
out_has '^mirror +read from the store, lag 0 ms, outbox 0 \(0 deferred, 0 failed\)$'
expect 0 "$CABRUCA" mirror status --config "$WORK/broker.json"
out_has '^mode +- \(live, or dry-run'
out_has '^mirrored +0 accepted, 3 dry-run, 0 dead, 0 sampled, 0 shed$'
out_has '^sender +- \(read from the store'
expect 0 "$CABRUCA" mirror status --store "$WORK/events.db" --json
"$PYTHON3" - "$WORK/out" <<'PY' || fail "mirror status --store --json: $(cat "$WORK/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"] == "store" and d["sender"] is None and d["dry_run"] is None, d
assert d["store"]["dry_run"] == 3 and d["store"]["outbox"] == 0, d
PY
#  A budget section of the configuration applies; a bad one is a usage error.
"$PYTHON3" - "$WORK/broker.json" "$WORK/small.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["store"]["path"] = "events.db"
c["budget"] = {"monthly_budget_usd": 0.5, "caps": {"tester": {"per_hour": 2}}}
json.dump(c, open(sys.argv[2], "w"))
c["budget"] = {"monthly_budget_usd": -1}
json.dump(c, open(sys.argv[2] + ".bad", "w"))
c["budget"] = {}
c["mirror"] = {"enabled": False}
json.dump(c, open(sys.argv[2] + ".off", "w"))
PY
expect 0 "$CABRUCA" budget --config "$WORK/small.json"
out_has '^budget +\$0\.50 a month, <0\.1% used$'
out_has '^tester +(3/2 \(150%\)|0/2 \(0%\)) +[03]/30,000'
expect 2 "$CABRUCA" budget --config "$WORK/small.json.bad"
err_has "/budget/monthly_budget_usd"
err_has "InvalidConfig"
expect 0 "$CABRUCA" budget --config "$WORK/small.json.off"
out_has '^budget +none: the mirror is disabled'
#  Unusable stores and configurations.
expect 1 "$CABRUCA" budget --store "$WORK/none.db"
err_has "StoreUnavailable"
[ ! -e "$WORK/none.db" ] || fail "a reader must not create the store"
expect 1 "$CABRUCA" mirror status --store "$WORK/none.db"
err_has "StoreUnavailable"
expect 2 "$CABRUCA" budget --config "$WORK/none.json"
err_has "IoError"
echo '{"store": ' > "$WORK/bad.json"
expect 2 "$CABRUCA" mirror status --config "$WORK/bad.json"
err_has "InvalidJson"
echo '{"endpoints": []}' > "$WORK/nostore.json"
expect 2 "$CABRUCA" budget --config "$WORK/nostore.json"
err_has "/store/path"
expect 2 "$CABRUCA" budget --store "$WORK/events.db" --broker "$ENDPOINT"
err_has "not both"

#  --- A real broker over a tiny budget: the alarm, the limit, deferrals --
"$PYTHON3" - "$WORK/broker.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["store"]["path"] = "tiny.db"
c["budget"] = {"monthly_budget_usd": 0.000002}
json.dump(c, open(sys.argv[1], "w"))
PY
start_broker
for n in 1 2 3 4; do
    "$CABRUCA" publish --agent tester-001 --type test --field test_type=UNIT \
        --field status=PASSED --field duration_ms=$n > /dev/null || fail "publish $n"
done
limited () {
    "$CABRUCA" budget --json > "$WORK/budget.json" 2> "$WORK/err" || return 1
    "$PYTHON3" -c '
import json, sys
r = json.load(open(sys.argv[1]))["report"]
sys.exit(0 if r["threshold"]["limit_at"] and r["counts"]["deferred"] >= 2 else 1)' \
        "$WORK/budget.json"
}
wait_for 20 limited || fail "no limit and deferrals: $(cat "$WORK/budget.json" "$WORK/err")"
expect 0 "$CABRUCA" budget
out_has '^state +LIMIT: budget spent since 20[0-9-]+T[0-9:.]+Z; only always_mirror'
out_has '^budget +<\$0\.0001 a month, 100\.0% used$'
out_has '^held back +[2-9] deferred'
expect 0 "$CABRUCA" mirror status --json
"$PYTHON3" - "$WORK/out" <<'PY' || fail "mirror status, deferred: $(cat "$WORK/out")"
import json, sys
s = json.load(open(sys.argv[1]))["store"]
assert s["outbox"] >= 2 and s["deferred"] == s["outbox"] and s["due"] == 0, s
assert s["dry_run"] == 2 and s["lag_ms"] > 0, s
PY
expect 0 "$CABRUCA" mirror status
out_has '^outbox +[2-9] events \([2-9] deferred, 0 failed, 0 due\), lag [0-9.]+ (ms|s)$'
stop_broker

#  --- A real broker with the mirror off ----------------------------------
cp "$WORK/small.json.off" "$WORK/broker.json"
start_broker
expect 0 "$CABRUCA" budget
out_has '^budget +none: the mirror is disabled'
expect 0 "$CABRUCA" mirror status --json
"$PYTHON3" -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"ok": True, "enabled": False}' \
    "$WORK/out" || fail "mirror off --json: $(cat "$WORK/out")"
expect 0 "$CABRUCA" status
out_has '^mirror +disabled$'
stop_broker

#  --- Live, to the local PutEvents endpoint: accepted and a dead letter ---
rm -f "$WORK/port"
"$PYTHON3" "$CAB_SRCDIR/tests/fake_aws/eventbridge.py" --port 0 --port-file "$WORK/port" \
    --poison '"poison"' > /dev/null 2>> "$WORK/fake.err" &
PIDS="$PIDS $!"
wait_for 10 test -s "$WORK/port" || fail "the fake endpoint did not start"
export AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$(cat "$WORK/port")" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIDCABRUCATEST AWS_SECRET_ACCESS_KEY=cabruca/secret/key
"$PYTHON3" - "$WORK/broker.json" "$WORK/events.jsonl" <<'PY'
import json, sys, uuid
c = json.load(open(sys.argv[1]))
c["store"]["path"] = "live.db"
c["mirror"] = {}
del c["budget"], c["schemas"]  # no schemas: the poison member is not in Issue Detection's
json.dump(c, open(sys.argv[1], "w"))
with open(sys.argv[2], "w") as out:
    for n in range(3):
        eid = str(uuid.uuid4())
        detail = {"schema_version": "1.0", "agent_id": "monitor-001", "correlation_id": eid,
                  "severity": "LOW", "issue_type": "cli_test", "description": "event", "n": n}
        if n == 1:
            detail["poison"] = True
        out.write(json.dumps({"version": "0", "id": eid,
                              "detail-type": "Issue Detection", "source": "cabruca.agents.monitor",
                              "account": "local", "time": "2026-11-22T10:00:00Z",
                              "region": "sa-east-1", "resources": [], "detail": detail}) + "\n")
PY
start_broker
"$CABRUCA" publish --agent monitor-001 "$WORK/events.jsonl" > "$WORK/out" 2>&1 || fail "publish live: $(cat "$WORK/out")"
settled () {
    "$CABRUCA" mirror status --json > "$WORK/mirror.json" 2> "$WORK/err" || return 1
    "$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
s, t = d["store"], d["sender"]
# The sender'"'"'s counters reach the broker a moment after the store'"'"'s rows.
sys.exit(0 if s["accepted"] == 2 and s["dead"] == 1 and s["outbox"] == 0
         and t["accepted"] == 2 and t["dead_lettered"] == 1 else 1)' \
        "$WORK/mirror.json"
}
wait_for 20 settled || fail "live: not settled: $(cat "$WORK/mirror.json" "$WORK/err")"
expect 0 "$CABRUCA" mirror status
out_has '^mode +live$'
out_has "^endpoint +http://127\\.0\\.0\\.1:$(cat "$WORK/port")$"
out_has '^region +us-east-1$'
out_has '^outbox +0 events \(0 deferred, 0 failed, 0 due\), lag 0 ms$'
out_has '^mirrored +2 accepted, 0 dry-run, 1 dead, 0 sampled, 0 shed$'
out_has '^dead letters +1 in queue mirror'
out_has '^sender +3 submitted, [1-9][0-9]* requests, 2 accepted, 0 dry-run, 0 failed$'
out_has '^errors +0 server \(5xx\), 0 network, 0 auth, 1 dead-lettered$'
expect 0 "$CABRUCA" dlq list --queue mirror --config "$WORK/broker.json"
out_has '^[0-9]+ +20[0-9T:.-]+Z +mirror +cabruca-mirror +cabruca-agents-bus +[0-9]+ +[0-9a-f-]{36} +MalformedDetail'
expect 0 "$CABRUCA" budget
out_has '^events +2 mirrored \(2 chunks of 64 KB, 0 cloud rule matches\)$'
out_has '^mirror +live, lag 0 ms, outbox 0 \(0 deferred, 0 failed\)$'
out_has '^monitor +[02]/2,100 \((<1|0)%\) +[02]/50,000 \((<1|0)%\) +0 +2 +0 +0 +0$'
expect 0 "$CABRUCA" status
out_has '^mirror +live, outbox 0, lag 0 ms; 2 accepted, 0 dry-run, 1 dead; '
stop_broker
exit 0
