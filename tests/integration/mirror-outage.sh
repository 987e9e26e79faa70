#!/bin/sh
#  Endpoint down, then back: connections are refused for a while (the fake
#  is stopped), the mirror backs off without spinning, and once the fake is
#  back on the same port every event is mirrored.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake
stop_fake
"$DRIVER" -n 300 -b 300 -t 15 > "$WORK/driver.out" &
DRIVER_PID=$!
sleep_until=$(( $(date +%s) + 3 ))
wait_for 5 test "$(date +%s)" -ge "$sleep_until"
start_fake
wait "$DRIVER_PID" || fail "driver"
[ "$(value accepted)" = 300 ] || fail "accepted"
[ "$(value network_errors)" -gt 0 ] || fail "no network errors seen"
#  No spinning: 3 s down with a 300 ms cap and 8 in flight is at most a few
#  hundred attempts, not tens of thousands.
[ "$(value network_errors)" -lt 2000 ] || fail "the mirror spun ($(value network_errors) errors)"
[ "$(unique_accepted)" = 300 ] || fail "distinct events"
echo "ok: 300 events after a 3 s outage ($(value network_errors) refused requests)"
