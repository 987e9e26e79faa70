#!/bin/sh
#  `cabruca publish` and `cabruca status` against a real broker: answers in
#  input order, exit statuses, --type, duplicates, a broker that is absent.
. "$(dirname "$0")/broker-lib.sh"
write_config
export CABRUCA_BROKER=$ENDPOINT
EX="$CAB_SRCDIR/schemas/examples"

#  No broker yet: exit 1 with a Timeout message, quickly.
"$CABRUCA" status --timeout 300 > /dev/null 2> "$WORK/err" && fail "status without a broker"
grep -q Timeout "$WORK/err" || fail "status without a broker: $(cat "$WORK/err")"
start_broker

#  Mixed input: answers in input order, exit 1.
{
    cat "$EX/issue-detection.valid.json"
    echo
    echo 'not json'
    head -1 "$EX/issue-detection.invalid.json"
    cat "$EX/test-results.valid.json"
} > "$WORK/mixed"
"$CABRUCA" publish --agent monitor-001 "$WORK/mixed" > "$WORK/out"
[ $? -eq 1 ] || fail "some NACKs must give exit status 1"
#  (2 valid issues, a blank line, not JSON, 1 invalid issue, 2 tester events)
sed 's/ .*//' "$WORK/out" | tr '\n' ' ' > "$WORK/words"
[ "$(cat "$WORK/words")" = "ack ack nack nack nack nack " ] \
    || fail "answers out of order: $(cat "$WORK/out")"
sed -n 3p "$WORK/out" | grep -q '^nack InvalidJson : ' || fail "line 3: $(cat "$WORK/out")"
sed -n 4p "$WORK/out" | grep -q '^nack SchemaViolation /detail/severity: ' \
    || fail "line 4: $(cat "$WORK/out")"
sed -n 5p "$WORK/out" | grep -q '^nack AccessDenied /detail/agent_id: ' \
    || fail "line 5: $(cat "$WORK/out")"

#  The same valid events again: ACKed with the same seqs, exit 0.
cat "$EX/issue-detection.valid.json" > "$WORK/valid"
"$CABRUCA" publish --agent monitor-001 < "$WORK/valid" > "$WORK/again" || fail "re-publish"
head -2 "$WORK/out" | cmp -s - "$WORK/again" || fail "duplicates must keep their seq"

#  One event built from flags; the agent defaults to the first event's.
"$CABRUCA" publish --agent tester-001 --type test --field test_type=UNIT --field status=PASSED \
    --field duration_ms=12 > "$WORK/built" || fail "--type test: $(cat "$WORK/built")"
grep -Eq '^ack [0-9]+ [0-9a-f-]{36}$' "$WORK/built" || fail "--type output: $(cat "$WORK/built")"
"$CABRUCA" publish < "$WORK/valid" > /dev/null || fail "agent id from the first event"

#  Usage errors: exit 2.
"$CABRUCA" publish --type nonsense > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --type: exit 2"
"$CABRUCA" publish --field x=1 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--field without --type"
"$CABRUCA" publish --agent 'bad agent' < "$WORK/valid" > /dev/null 2>&1
[ $? -eq 2 ] || fail "bad agent id: exit 2"
"$CABRUCA" status --bogus > /dev/null 2>&1; [ $? -eq 2 ] || fail "status --bogus: exit 2"

#  Status, as text and as JSON.
"$CABRUCA" status > "$WORK/status" || fail "status"
grep -q '^stored  *3$' "$WORK/status" || fail "status text: $(cat "$WORK/status")"
grep -q '^nacked  *4 (' "$WORK/status" || fail "status text: $(cat "$WORK/status")"
"$CABRUCA" status --json | "$PYTHON3" -c '
import json, sys
s = json.load(sys.stdin)
assert s["stored"] == 3 and s["duplicates"] == 4, s
assert s["nacked"]["InvalidJson"] == 1 and s["nacked"]["AccessDenied"] == 2, s
assert s["store"]["last_seq"] == 3, s
' || fail "status --json"
stop_broker
echo "cli-publish: ok"
