#!/bin/sh
#  All events accepted: 500 events, batches of 10, each accepted exactly
#  once with its AWS EventId; then a 256 KB-limit batch of large events.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake
"$DRIVER" -n 500 > "$WORK/driver.out" || fail "driver"
[ "$(value accepted)" = 500 ] || fail "accepted"
[ "$(value requests)" = 50 ] || fail "expected 50 requests of 10"
[ "$(value missing_ids)" = 0 ] || fail "accepted without EventId"
[ "$(wc -l < "$WORK/accepted.jsonl")" -eq 500 ] || fail "fake log"
[ "$(unique_accepted)" = 500 ] || fail "distinct events"
#  30 events of ~100 KB: at most 2 fit under 256 KB, so 15 requests; none refused.
rm -f "$WORK/accepted.jsonl"
"$DRIVER" -n 30 -s 100000 > "$WORK/driver.out" || fail "driver (large)"
[ "$(value accepted)" = 30 ] || fail "large accepted"
[ "$(value requests)" = 15 ] || fail "expected 15 requests for large events"
[ "$(value chunks)" = 60 ] || fail "expected 2 chunks per 100 KB entry"
echo "ok: 500 events in 50 requests; 30 large events in 15 requests"
