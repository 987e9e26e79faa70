#!/bin/sh
#  Bad credentials: the endpoint answers InvalidSignatureException, which
#  the mirror reports as FAILED (events stay in the outbox) and does not
#  retry; an unknown key gives UnrecognizedClientException; a required
#  session token that is missing is refused the same way.
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
echo "ok: bad signature, unknown key and missing token reported, not retried"
