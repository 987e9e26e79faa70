#!/bin/sh
#  `cabruca rules check` end to end: the default rule file (text and
#  --json), invalid files with their JSON Pointers, a missing file, usage
#  errors; exit statuses as docs/errors.md says (0 valid, 2 invalid or usage).
: "${CAB_SRCDIR:?run through make check}"
: "${CAB_BUILDDIR:?run through make check}"
PYTHON3="${PYTHON3:-python3}"
CABRUCA="$CAB_BUILDDIR/cabruca"
RULES="$CAB_SRCDIR/schemas/rules/default.json"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail () {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

#  expect STATUS COMMAND...: run, keep stdout in $tmp/out, stderr in $tmp/err.
expect () {
    want=$1
    shift
    checks=$((checks + 1))
    "$@" > "$tmp/out" 2> "$tmp/err"
    got=$?
    [ "$got" = "$want" ] || fail "exit $got, want $want: $*: $(head -c 300 "$tmp/err")"
}

#  has FILE PATTERN: a line of FILE matches the fixed string.
has () {
    checks=$((checks + 1))
    grep -q -F -e "$2" "$1" || fail "no line with '$2' in: $(head -c 400 "$1")"
}

#  ---------------------------------------------------------------------
#  The default rules.
expect 0 "$CABRUCA" rules check --data-dir /srv/cabruca "$RULES"
has "$tmp/out" "$RULES: valid: 6 rules (6 enabled), 6 targets"
has "$tmp/out" "rule high-severity-alert (enabled)"
has "$tmp/out" "target alert: command logger --tag cabruca-alert --priority user.crit"
has "$tmp/out" "retry 20 attempts, 3600 s; dlq critical; input transformer"
has "$tmp/out" "target event-log: log /srv/cabruca/logs/issues.jsonl"
has "$tmp/out" "target cicd: agent queue cicd; retry 50 attempts, 21600 s; dlq critical"
[ -s "$tmp/err" ] && fail "stderr not empty: $(cat "$tmp/err")"

expect 0 "$CABRUCA" rules check "$RULES" --json
"$PYTHON3" - "$tmp/out" <<'PY' || fail "--json summary"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["valid"] is True and doc["rule_count"] == 6 and doc["target_count"] == 6, doc
names = [r["name"] for r in doc["rules"]]
assert names == ["issue-detection-log", "high-severity-alert", "feature-request-product-queue",
                 "approved-code-change-cicd", "test-results-tracking",
                 "failed-tests-investigation"], names
alert = doc["rules"][1]["targets"][0]
assert alert["type"] == "command" and alert["command"][0] == "logger", alert
assert alert["retry_policy"] == {"maximum_retry_attempts": 20, "maximum_event_age_seconds": 3600}
assert alert["dead_letter_queue"] == "critical" and alert["input_transformer"] is True
PY

#  ---------------------------------------------------------------------
#  Invalid files: each at its pointer, exit 2, JSON error with --json.
broken () {
    name=$1
    edit=$2
    "$PYTHON3" - "$RULES" "$tmp/$name.json" "$edit" <<'PY' || exit 99
import json, sys
doc = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(doc, open(sys.argv[2], "w"), indent=1)
PY
}
#  invalid NAME EDIT POINTER: the edited default file is refused at POINTER.
invalid () {
    broken "$1" "$2"
    expect 2 "$CABRUCA" rules check "$tmp/$1.json"
    has "$tmp/err" "cabruca rules: $tmp/$1.json: $3: "
    expect 2 "$CABRUCA" rules check --json "$tmp/$1.json"
    "$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["valid"] is False and d["path"] == sys.argv[2] and d["error"] in ("InvalidConfig","InvalidPattern"), d' \
        "$tmp/out" "$3" || fail "$1: --json error: $(cat "$tmp/out")"
}
invalid attempts 'doc["rules"][2]["targets"][0]["retry_policy"]["maximum_retry_attempts"] = 186' \
    /rules/2/targets/0/retry_policy/maximum_retry_attempts
invalid age 'doc["rules"][0]["targets"][0]["retry_policy"]["maximum_event_age_seconds"] = 59' \
    /rules/0/targets/0/retry_policy/maximum_event_age_seconds
invalid dlq 'doc["rules"][1]["targets"][0]["dead_letter_queue"] = "urgent"' \
    /rules/1/targets/0/dead_letter_queue
invalid duplicate 'doc["rules"][5]["name"] = doc["rules"][4]["name"]' /rules/5/name
invalid pattern 'doc["rules"][3]["event_pattern"]["detail"]["x"] = "APPROVED"' \
    /rules/3/event_pattern/detail/x
invalid unknown 'doc["rules"][0]["targets"][0]["arn"] = "arn:aws:sqs:x"' /rules/0/targets/0/arn
invalid transformer 'doc["rules"][1]["targets"][0]["input_transformer"]["input_template"] = "\"<nope>\""' \
    /rules/1/targets/0/input_transformer/input_template
invalid no-queue 'del doc["rules"][2]["targets"][0]["queue"]' /rules/2/targets/0/queue
has "$tmp/err" "'queue' is required"

#  Not JSON at all, and a file that is not there.
printf '{"rules": [\n  {"name": }\n]}\n' > "$tmp/syntax.json"
expect 2 "$CABRUCA" rules check "$tmp/syntax.json"
has "$tmp/err" "syntax.json:2:"
expect 2 "$CABRUCA" rules check "$tmp/missing.json"
has "$tmp/err" "cabruca rules: $tmp/missing.json: "
expect 2 "$CABRUCA" rules check --json "$tmp/missing.json"
has "$tmp/out" '"error":"IoError"'

#  ---------------------------------------------------------------------
#  Usage.
expect 2 "$CABRUCA" rules
expect 0 "$CABRUCA" rules --help
has "$tmp/out" "usage: cabruca rules check"
expect 0 "$CABRUCA" rules check --help
expect 2 "$CABRUCA" rules check
has "$tmp/err" "check needs a FILE"
expect 2 "$CABRUCA" rules check --bogus "$RULES"
has "$tmp/err" "unknown option '--bogus'"
expect 2 "$CABRUCA" rules check "$RULES" "$RULES"
expect 2 "$CABRUCA" rules check --data-dir
expect 2 "$CABRUCA" rules lint "$RULES"
has "$tmp/err" "unknown subcommand 'lint'"
expect 0 "$CABRUCA" --help
has "$tmp/out" "rules"

[ "$failures" = 0 ] || { echo "cli-rules: $failures of $checks checks failed"; exit 1; }
echo "cli-rules: $checks checks passed"
