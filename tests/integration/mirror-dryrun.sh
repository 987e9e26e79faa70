#!/bin/sh
#  No credentials anywhere: the mirror runs in dry-run, computes batches,
#  sizes and costs, and touches no network (the endpoint points at a port
#  where nothing listens). First the sender alone (mirror_driver), then the
#  broker with a configuration that does not mention the mirror: it is on,
#  in dry-run, and empties its outbox.
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

#  The broker's default: no "mirror" section at all.
cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"], "store": {"path": "events.db"},
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]}}}
JSON
start_broker
[ "$(status_mirror enabled)" = true ] || fail "the mirror is not on by default"
[ "$(status_mirror dry_run)" = true ] || fail "not in dry-run without credentials"
publish 95 0
wait_for 10 is 95 mirrored 2 || fail "dry-run rows: $(mirrored 2)"
[ "$(outbox)" = 0 ] || fail "outbox not empty"
#  (The worker publishes its figures a moment after a commit.)
wait_for 5 is 95 mirror_json 'd["sender"]["dry_run_events"]' || fail "sender dry-run events"
[ "$(mirror_json 'd["sender"]["requests"] >= 10')" = True ] || fail "broker's dry-run batches"
[ "$(mirror_json 'd["sender"]["network_errors"]')" = 0 ] || fail "network used by the broker"
[ "$(status_mirror dry_run_events)" = 95 ] || fail "STATUS dry_run_events"
grep -q "dry-run (no AWS credentials)" "$WORK/broker.log" || fail "no dry-run line in the log"
stop_broker
echo "ok: dry-run batches, sizes and costs; the broker mirrors in dry-run by default"
