#!/bin/sh
#  Through the broker: partial failures (HTTP 200, FailedEntryCount > 0).
#  Only the failed entries are resent; a non-retryable entry
#  (MalformedDetail) is a dead letter in queue "mirror" (`cabruca dlq`),
#  never resent by the mirror; redriven once the endpoint takes it, it goes
#  back to the outbox and is mirrored.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake --entry-fail-rate 0.2 --entry-fail-code InternalFailure --poison poison --seed 3
write_config "{\"endpoint\": \"http://127.0.0.1:$PORT\", \"backoff_base_ms\": 20, \"backoff_cap_ms\": 300}"
start_broker
publish 400 0 50
wait_for 30 is 392 mirrored 1 || fail "accepted: $(mirrored 1)"
wait_for 10 is 8 mirrored 3 || fail "dead: $(mirrored 3)"
[ "$(outbox)" = 0 ] || fail "outbox not empty"
[ "$(accepted_lines)" = 392 ] || fail "an event was accepted twice"
#  From the fake's request log: an event is sent again only after it failed
#  with a retryable code, and the poisoned ones are sent exactly once.
"$PYTHON3" - "$WORK/requests.jsonl" <<'PY' || fail "resend check"
import json, sys
last, sends = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    for n, code in zip(r["entries"], r["results"]):
        if n in last and last[n] != "InternalFailure":
            sys.exit("event %s resent after %s" % (n, last[n]))
        last[n] = code
        sends[n] = sends.get(n, 0) + 1
poisoned = [n for n, code in last.items() if code == "MalformedDetail"]
assert len(poisoned) == 8 and all(sends[n] == 1 for n in poisoned), poisoned
assert all(code in ("ok", "MalformedDetail") for code in last.values())
assert sum(v - 1 for v in sends.values()) > 0, "nothing was resent"
print("resent entries:", sum(v - 1 for v in sends.values()))
PY
#  The mirror's dead letters, as `cabruca dlq` lists them, with the code.
"$CABRUCA" dlq list --store "$WORK/events.db" --queue mirror --json > "$WORK/dlq.json" ||
    fail "cabruca dlq list --queue mirror"
[ "$(wc -l < "$WORK/dlq.json")" = 8 ] || fail "dlq list: $(cat "$WORK/dlq.json")"
grep -q MalformedDetail "$WORK/dlq.json" || fail "the error code is not in the dead letter"
[ "$(mirror_json 'd["store"]["dlq_depth"]')" = 8 ] || fail "mirror status dlq_depth"
[ "$(status_mirror dead)" = 8 ] || fail "STATUS dead"
#  The endpoint takes them now: redrive, and they are mirrored.
"$PYTHON3" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_control" % sys.argv[1],
    data=b"{\"poison\": \"\", \"entry_fail_rate\": 0}", method="POST")).read()' "$PORT" ||
    fail "fake control"
CABRUCA_BROKER=$ENDPOINT "$CABRUCA" dlq redrive --queue mirror --yes > "$WORK/redrive.out" 2>&1 ||
    fail "redrive: $(cat "$WORK/redrive.out")"
wait_for 20 is 400 mirrored 1 || fail "after the redrive: $(mirrored 1) accepted, $(outbox) left"
[ "$(unique_accepted)" = 400 ] || fail "distinct events: $(unique_accepted)"
[ "$(mirror_json 'd["store"]["dlq_depth"]')" = 0 ] || fail "dlq_depth after the redrive"
stop_broker
echo "ok: only failed entries resent; 8 mirror dead letters listed, redriven, mirrored"
