#!/bin/sh
#  No credentials anywhere: the mirror runs in dry-run, computes batches,
#  sizes and costs, and touches no network (the endpoint points at a port
#  where nothing listens).
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
export AWS_ENDPOINT_URL_EVENTBRIDGE=http://127.0.0.1:9
"$DRIVER" -n 95 > "$WORK/driver.out" || fail "driver"
[ "$(value dry_run)" = 1 ] || fail "not in dry-run"
[ "$(value dry_run_events)" = 95 ] || fail "events"
[ "$(value requests)" = 10 ] || fail "batches"
[ "$(value network_errors)" = 0 ] || fail "network used"
[ "$(value cost_usd)" = 0.000095 ] || fail "cost"
#  70 KB details: 2 chunks each, 3 per request.
"$DRIVER" -n 9 -s 70000 > "$WORK/driver.out" || fail "driver"
[ "$(value requests)" = 3 ] || fail "large batches"
[ "$(value chunks)" = 18 ] || fail "chunks"
echo "ok: dry-run batches, sizes and costs"
