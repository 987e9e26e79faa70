#!/bin/sh
#  Through the broker, in dry-run, with a tiny monthly budget ($0.00002:
#  20 events at $1.00 per million): the 90% Budget Threshold event is
#  stored once (valid against its schema), and the 100% one; past the
#  budget the events wait in the outbox (default policy defer); the budget's
#  counters survive a restart, and the alarm is not raised again after it.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
write_config '{"dry_run": true}' \
    "\"schemas\": \"$CAB_SRCDIR/schemas\", \"budget\": {\"monthly_budget_usd\": 0.00002}"
start_broker
threshold () {
    sql "select count(*) from events where source = 'cabruca.broker' and
         detail_type = 'Budget Threshold' and json_extract(text, '$.detail.threshold_percent') = $1"
}
budget () {
    CABRUCA_BROKER=$ENDPOINT "$CABRUCA" budget --json 2>/dev/null | "$PYTHON3" -c '
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}
PLAIN=1 publish 15 0
wait_for 10 is 15 mirrored 2 || fail "dry-run: $(mirrored 2)"
[ "$(threshold 90)" = 0 ] || fail "alarm before 90%"
PLAIN=1 publish 10 15
#  25 events and the two Budget Threshold events: 20 fit the budget.
wait_for 10 is 1 threshold 90 || fail "no 90% Budget Threshold event"
wait_for 10 is 1 threshold 100 || fail "no 100% Budget Threshold event"
wait_for 10 is 20 mirrored 2 || fail "dry-run: $(mirrored 2)"
wait_for 10 is 7 sql "select count(*) from outbox where deferred = 1" || fail "deferred: $(outbox)"
wait_for 5 is 20 budget 'd["report"]["month"]["events"]' || fail "budget events: $(budget 'd["report"]["month"]')"
[ "$(budget 'd["report"]["month"]["over_budget"]')" = True ] || fail "over_budget"
[ "$(budget 'd["report"]["threshold"]["alarm_at"] is not None')" = True ] || fail "alarm_at"
#  The report is published at most every 200 ms: it may lag the outbox.
wait_for 5 is 7 budget 'd["report"]["counts"]["deferred"]' || fail "deferred count"
#  The state saved with the outcomes survives a restart.
stop_broker
start_broker
[ "$(budget 'd["report"]["month"]["events"]')" = 20 ] || fail "events after the restart"
[ "$(budget 'd["report"]["threshold"]["alarm_at"] is not None')" = True ] || fail "alarm lost"
PLAIN=1 publish 3 25
wait_for 10 is 10 sql "select count(*) from outbox where deferred = 1" || fail "deferred: $(outbox)"
[ "$(threshold 90)" = 1 ] || fail "the alarm was raised again"
[ "$(threshold 100)" = 1 ] || fail "the 100% event was raised again"
[ "$(mirrored 2)" = 20 ] || fail "dry-run after the restart: $(mirrored 2)"
stop_broker
echo "ok: Budget Threshold stored once at 90% and at 100%; counts kept across a restart"
