#!/bin/sh
#  Through the broker: 30% of PutEvents requests throttled
#  (ThrottlingException). The mirror worker backs off with full jitter and
#  every event is mirrored, none twice; STATUS reports the counts.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake --throttle-rate 0.3 --seed 7
write_config "{\"endpoint\": \"http://127.0.0.1:$PORT\", \"backoff_base_ms\": 20, \"backoff_cap_ms\": 300}"
start_broker
publish 500 0
wait_for 30 is 500 mirrored 1 || fail "not all mirrored: $(mirrored 1) accepted, $(outbox) in the outbox"
[ "$(outbox)" = 0 ] || fail "outbox not empty"
[ "$(unique_accepted)" = 500 ] || fail "distinct events: $(unique_accepted)"
[ "$(accepted_lines)" = 500 ] || fail "an event was accepted twice"
[ "$(status_mirror accepted)" = 500 ] || fail "STATUS accepted: $(status_mirror accepted)"
[ "$(status_mirror outbox)" = 0 ] || fail "STATUS outbox"
#  Every accepted event has its AWS EventId.
[ "$(sql "select count(*) from mirrored where aws_event_id is null")" = 0 ] || fail "EventIds"
stop_broker
echo "ok: 500 events mirrored once each through 30% throttling"
