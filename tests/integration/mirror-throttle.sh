#!/bin/sh
#  30% of requests throttled (ThrottlingException): the mirror backs off
#  with full jitter and every event is mirrored, none twice.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake --throttle-rate 0.3 --seed 7
"$DRIVER" -n 1000 -b 200 > "$WORK/driver.out" || fail "driver"
[ "$(value accepted)" = 1000 ] || fail "accepted"
[ "$(value throttled)" -gt 0 ] || fail "no throttling seen"
[ "$(value retries)" -gt 0 ] || fail "no retries"
[ "$(unique_accepted)" = 1000 ] || fail "distinct events"
[ "$(wc -l < "$WORK/accepted.jsonl")" -eq 1000 ] || fail "an event was accepted twice"
echo "ok: 1000 events, $(value throttled) throttled requests, $(value retries) retries"
