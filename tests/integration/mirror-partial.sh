#!/bin/sh
#  Partial failures (HTTP 200, FailedEntryCount > 0): only the failed
#  entries are resent; a non-retryable entry (MalformedDetail) is
#  dead-lettered with its code and never resent.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake --entry-fail-rate 0.2 --entry-fail-code InternalFailure --poison '"poison":true' --seed 3
"$DRIVER" -n 400 -p 50 -b 200 > "$WORK/driver.out" || fail "driver"
[ "$(value accepted)" = 392 ] || fail "accepted"
[ "$(value dead_lettered)" = 8 ] || fail "dead-lettered"
[ "$(value first_code)" != "" ] || fail "no error code"
[ "$(wc -l < "$WORK/accepted.jsonl")" -eq 392 ] || fail "an event was accepted twice"
#  From the fake's request log: an event is sent again only after it failed
#  with a retryable code, and the poisoned ones are sent exactly once.
"$PYTHON3" - "$WORK/requests.jsonl" <<'PY' || fail "resend check"
import json, sys
last = {}
sends = {}
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
print("resent entries:", sum(v - 1 for v in sends.values()))
PY
echo "ok: partial failures resent individually, poison dead-lettered"
