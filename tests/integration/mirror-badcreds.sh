#!/bin/sh
#  Bad credentials: the endpoint answers InvalidSignatureException, which
#  the mirror reports as FAILED (events stay in the outbox) and does not
#  retry; an unknown key gives UnrecognizedClientException; a required
#  session token that is missing is refused the same way (the sender alone,
#  mirror_driver). Then through the broker: the events wait in the outbox.
. "$CAB_SRCDIR/tests/integration/mirror-lib.sh"
start_fake
AWS_SECRET_ACCESS_KEY=wrong "$DRIVER" -n 50 > "$WORK/driver.out" || fail "driver"
[ "$(value failed)" = 50 ] || fail "failed"
[ "$(value first_code)" = InvalidSignatureException ] || fail "code"
[ "$(value requests)" = 5 ] || fail "retried: $(value requests) requests"
AWS_ACCESS_KEY_ID=AKIDNOBODY "$DRIVER" -n 10 > "$WORK/driver.out" || fail "driver"
[ "$(value first_code)" = UnrecognizedClientException ] || fail "unknown key"
stop_fake
start_fake --session-token tok3n
"$DRIVER" -n 10 > "$WORK/driver.out" || fail "driver"
[ "$(value first_code)" = UnrecognizedClientException ] || fail "missing token"
AWS_SESSION_TOKEN=tok3n "$DRIVER" -n 10 > "$WORK/driver.out" || fail "driver"
[ "$(value accepted)" = 10 ] || fail "with the session token"
[ -s "$WORK/accepted.jsonl" ] || fail "nothing accepted"

#  Through the broker: a wrong secret key. The events stay in the outbox
#  (FAILED: attempts counted, tried again after failed_retry_ms), the error
#  is reported; with the right key after a restart every event goes.
stop_fake
start_fake
write_config "{\"endpoint\": \"http://127.0.0.1:$PORT\", \"failed_retry_ms\": 300}"
AWS_SECRET_ACCESS_KEY=wrong
start_broker
AWS_SECRET_ACCESS_KEY=cabruca/secret/key
publish 20 0
wait_for 10 is 20 sql "select count(*) from outbox where attempts >= 2" ||
    fail "failed events not retried: $(sql "select count(*), max(attempts) from outbox")"
[ "$(mirrored 1)" = 0 ] || fail "accepted with a wrong key"
sql "select error from outbox limit 1" | grep -q InvalidSignatureException || fail "outbox error"
[ "$(mirror_json 'd["sender"]["last_error"]')" = InvalidSignatureException ] ||
    fail "last_error: $(mirror_json 'd["sender"]["last_error"]')"
stop_broker
start_broker
wait_for 10 is 20 mirrored 1 || fail "with the right key: $(mirrored 1) accepted"
[ "$(outbox)" = 0 ] || fail "outbox not empty"
stop_broker
echo "ok: bad signature, unknown key and missing token reported, not retried; through the broker the events wait in the outbox"
