#!/bin/sh
#  Through the broker: kill -9 with a full outbox (the endpoint is down, so
#  nothing has left), then a restart with the endpoint back: every event is
#  mirrored, nothing is lost. Then kill -9 in the middle of sending (slow
#  endpoint): after the restart every event is mirrored; an event accepted
#  just before the kill may be sent again (at-least-once), none is missing.
#  Last a SIGTERM while sending: the last outcomes are committed first.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake
stop_fake
write_config "{\"endpoint\": \"http://127.0.0.1:$PORT\", \"max_in_flight\": 1, \"backoff_base_ms\": 50, \"backoff_cap_ms\": 500}"
start_broker
publish 500 0
wait_for 10 is 500 status_mirror outbox || fail "the outbox does not hold the events"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
[ "$(outbox)" = 500 ] || fail "outbox after kill -9: $(outbox)"
start_fake
start_broker
wait_for 30 is 500 mirrored 1 || fail "after the restart: $(mirrored 1) accepted, $(outbox) left"
[ "$(unique_accepted)" = 500 ] || fail "distinct events: $(unique_accepted)"
[ "$(accepted_lines)" = 500 ] || fail "an event was accepted twice"

#  kill -9 while sending: 40 ms a request, 1 in flight.
"$PYTHON3" -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/_control" % sys.argv[1],
    data=b"{\"delay_ms\": 40}", method="POST")).read()' "$PORT" || fail "fake control"
publish 500 500
wait_for 20 sh -c "[ \$(wc -l < '$WORK/accepted.jsonl') -ge 600 ]" || fail "sending did not start"
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=
left=$(outbox)
[ "$left" -gt 0 ] || fail "nothing left in the outbox at the kill"
start_broker
wait_for 60 is 0 outbox || fail "after the second restart: $(outbox) left"
[ "$(mirrored 1)" = 1000 ] || fail "accepted rows: $(mirrored 1)"
[ "$(unique_accepted)" = 1000 ] || fail "distinct events: $(unique_accepted)"
again=$(( $(accepted_lines) - 1000 ))

#  SIGTERM while sending: the broker commits the worker's last outcomes
#  before it exits, so only the request in flight (10 events at most) is
#  sent again after the restart.
publish 500 1000
before=$(accepted_lines)
wait_for 20 sh -c "[ \$(wc -l < '$WORK/accepted.jsonl') -ge $((before + 100)) ]" ||
    fail "sending did not start"
stop_broker
left=$(outbox)
[ "$left" -gt 0 ] || fail "nothing left in the outbox at the SIGTERM"
grep -q "without its last outcomes" "$WORK/broker.log" && fail "the worker did not drain"
start_broker
wait_for 60 is 0 outbox || fail "after the SIGTERM: $(outbox) left"
[ "$(unique_accepted)" = 1500 ] || fail "distinct events: $(unique_accepted)"
resent=$(( $(accepted_lines) - 1500 - again ))
[ "$resent" -le 10 ] || fail "$resent events sent again after a SIGTERM"
stop_broker
echo "ok: nothing lost across two kill -9 ($left left in the outbox at the second; $again sent again) and a SIGTERM ($resent sent again)"
