#!/bin/sh
#  Through the broker: the endpoint is down for 30 s (connections refused:
#  the fake is stopped), events pile up in the outbox and the worker backs
#  off without spinning; once the fake is back on the same port every event
#  is mirrored, once, and STATUS reports the counts.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake
stop_fake
write_config "{\"endpoint\": \"http://127.0.0.1:$PORT\", \"backoff_base_ms\": 50, \"backoff_cap_ms\": 2000}"
start_broker
publish 300 0
down_until=$(( $(date +%s) + 30 ))
wait_for 10 is 300 status_mirror outbox || fail "the outbox does not hold the events"
[ "$(mirrored 1)" = 0 ] || fail "accepted while down"
#  Down for 30 s: the events wait in the outbox, the broker keeps answering.
wait_for 40 sh -c "[ \$(date +%s) -ge $down_until ]"
[ "$(status_mirror outbox)" = 300 ] || fail "outbox after 30 s: $(status_mirror outbox)"
errors=$(mirror_json 'd["sender"]["network_errors"]')
[ "$errors" -gt 0 ] || fail "no network errors reported"
#  No spinning: 30 s down with a 2 s cap is at most a few hundred attempts.
[ "$errors" -lt 3000 ] || fail "the mirror spun ($errors network errors)"
lag=$(status_mirror lag_ms)
[ "$lag" -ge 25000 ] || fail "lag_ms $lag after 30 s"
start_fake
back=$(date +%s)
wait_for 30 is 300 mirrored 1 || fail "after the outage: $(mirrored 1) accepted, $(outbox) left"
[ "$(unique_accepted)" = 300 ] || fail "distinct events: $(unique_accepted)"
[ "$(accepted_lines)" = 300 ] || fail "an event was accepted twice"
[ "$(status_mirror accepted)" = 300 ] || fail "STATUS accepted"
[ "$(status_mirror outbox)" = 0 ] || fail "STATUS outbox"
[ "$(status_mirror lag_ms)" = 0 ] || fail "STATUS lag"
recovery=$(( $(date +%s) - back ))
stop_broker
echo "ok: 300 events mirrored after a 30 s outage ($errors refused requests, lag $lag ms, all sent ${recovery} s after)"
