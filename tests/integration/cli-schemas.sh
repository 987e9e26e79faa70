#!/bin/sh
#  `cabruca schemas` end to end, driving the built binary: the examples, the
#  hostile inputs of issue 2 (malformed JSON, invalid UTF-8, a 300 KB event,
#  10,000-deep nesting, wrong types in every envelope field, bad times and
#  ids), exit statuses, usage errors and unusable schemas.
: "${CAB_SRCDIR:?run through make check}"
: "${CAB_BUILDDIR:?run through make check}"
PYTHON3="${PYTHON3:-python3}"
CABRUCA="$CAB_BUILDDIR/cabruca"
EXAMPLES="$CAB_SRCDIR/schemas/examples"
export CABRUCA_SCHEMAS="$CAB_SRCDIR/schemas"
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

#  same FILE TEXT: the file holds exactly TEXT.
same () {
    checks=$((checks + 1))
    printf '%s\n' "$2" > "$tmp/want"
    cmp -s "$1" "$tmp/want" || { fail "output differs:"; diff "$tmp/want" "$1" | head -20; }
}

#  has FILE PATTERN: a line of FILE matches the grep pattern.
has () {
    checks=$((checks + 1))
    grep -q -e "$2" "$1" || fail "no line matching '$2' in: $(head -c 400 "$1")"
}

#  ---------------------------------------------------------------------
#  The examples: every valid one valid, each invalid one at its pointer.
cat "$EXAMPLES"/*.valid.json > "$tmp/valid.jsonl"
expect 0 "$CABRUCA" schemas validate - < "$tmp/valid.jsonl"
lines=$(wc -l < "$tmp/valid.jsonl")
[ "$(grep -c '^valid$' "$tmp/out")" = "$lines" ] || fail "not all $lines valid examples valid"
[ "$(wc -l < "$tmp/out")" = "$lines" ] || fail "one output line per input line"
expect 0 "$CABRUCA" schemas validate "$tmp/valid.jsonl"

for pair in issue-detection:/detail/severity feature-request:/detail/feature_type \
            code-change:/detail/status test-results:/detail/duration_ms \
            budget-threshold:/detail/unit delivery-dead-lettered:/detail/queue \
            agent-lifecycle:/detail/pid; do
    slug=${pair%%:*}
    pointer=${pair#*:}
    expect 1 "$CABRUCA" schemas validate "$EXAMPLES/$slug.invalid.json"
    has "$tmp/out" "^invalid: $pointer: [a-zA-Z]*: "
done
expect 1 "$CABRUCA" schemas validate "$EXAMPLES/issue-detection.invalid.json"
has "$tmp/out" '^invalid: /detail/severity: enum: must be one of LOW, MEDIUM, HIGH, CRITICAL$'

#  Mixed input: one line out per line in, in order; blank lines skipped.
{ head -n 1 "$EXAMPLES/code-change.valid.json"; echo; echo '   ';
  cat "$EXAMPLES/code-change.invalid.json"; head -n 1 "$EXAMPLES/test-results.valid.json"; } \
    > "$tmp/mixed.jsonl"
expect 1 "$CABRUCA" schemas validate < "$tmp/mixed.jsonl"
same "$tmp/out" "valid
invalid: /detail/status: enum: must be one of PROPOSED, APPROVED, MERGED, REJECTED
valid"

#  ---------------------------------------------------------------------
#  Hostile input. The generator writes one case a line and the expected
#  output line for it; the CLI must answer each and go on to the next.
"$PYTHON3" - "$EXAMPLES/issue-detection.valid.json" "$tmp/hostile.jsonl" "$tmp/hostile.want" <<'PY'
import json, sys
base = json.loads(open(sys.argv[1], encoding="utf-8").readline())
cases, wants = [], []
def add(line, want):
    cases.append(line if isinstance(line, bytes) else line.encode())
    wants.append(want)
def event(change):
    e = json.loads(json.dumps(base))
    change(e)
    return json.dumps(e, separators=(",", ":"))
add('{"version":"0",', "invalid: : InvalidJson: ")
add("not json at all", "invalid: : InvalidJson: ")
add('{"a":1}{"b":2}', "invalid: : InvalidJson: ")
add(event(lambda e: None)[:-1] + ',"id":"x"}', "invalid: : InvalidJson: ")   # duplicate key
add(b'{"version":"0","detail":{"note":"caf\xe9"}}', "invalid: : InvalidUtf8: ")
add(b'{"version":"\xed\xa0\x80"}', "invalid: : InvalidUtf8: ")
add(event(lambda e: e["detail"].__setitem__("pad", "x" * (300 * 1024))),
    "invalid: : TooLarge: event is ")
add("[" * 10000 + "]" * 10000, "invalid: : TooDeep: ")
add('{"a":' * 10000 + "1" + "}" * 10000, "invalid: : TooDeep: ")
add("[]", "invalid: : InvalidEnvelope: ")
add('"an event"', "invalid: : InvalidEnvelope: ")
fields = ["version", "id", "detail-type", "source", "account", "time", "region", "resources",
          "detail", "detail/schema_version", "detail/agent_id", "detail/correlation_id"]
def put(e, field, value):
    parts = field.split("/")
    target = e["detail"] if len(parts) == 2 else e
    if value is KeyError:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
for field in fields:
    for wrong in (7, 2.5, True, None, {}, [], KeyError):
        if field == "resources" and wrong == []: continue
        if field == "detail" and wrong == {}: continue
        add(event(lambda e: put(e, field, wrong)), f"invalid: /{field}: InvalidEnvelope: ")
add(event(lambda e: put(e, "resources", ["arn:x", 5])), "invalid: /resources/1: InvalidEnvelope: ")
for bad in ("2026-11-22 10:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T10:00:00+01:00",
            "2026-11-22T25:00:00Z", "1700000000"):
    add(event(lambda e: put(e, "time", bad)), "invalid: /time: InvalidEnvelope: ")
for bad in ("", "1234", "0193a5b2-7c10-7001-8001-00000000000g", "0193a5b27c107001800100000000000100"):
    add(event(lambda e: put(e, "id", bad)), "invalid: /id: InvalidEnvelope: ")
    add(event(lambda e: put(e, "detail/correlation_id", bad)),
        "invalid: /detail/correlation_id: InvalidEnvelope: ")
add(event(lambda e: put(e, "version", "1")), "invalid: /version: InvalidEnvelope: ")
add(event(lambda e: put(e, "extra", 1)), "invalid: : InvalidEnvelope: ")
add(event(lambda e: put(e, "source", "cabruca.agents.chef")), "invalid: /source: UnknownEventType: ")
add(event(lambda e: put(e, "detail-type", "Dinner")), "invalid: /detail-type: UnknownEventType: ")
add(event(lambda e: put(e, "detail/schema_version", "7.0")),
    "invalid: /detail/schema_version: UnknownEventType: ")
add(event(lambda e: put(e, "detail/severity", 3)), "invalid: /detail/severity: type: ")
add(event(lambda e: None), "valid")   # and it still reads on
with open(sys.argv[2], "wb") as f:
    f.write(b"\n".join(cases) + b"\n")
with open(sys.argv[3], "w") as f:
    f.write("\n".join(wants) + "\n")
PY
expect 1 "$CABRUCA" schemas validate "$tmp/hostile.jsonl"
if [ "$(wc -l < "$tmp/out")" != "$(wc -l < "$tmp/hostile.want")" ]; then
    fail "hostile: $(wc -l < "$tmp/out") output lines for $(wc -l < "$tmp/hostile.want") inputs"
fi
n=0
while IFS= read -r want; do
    n=$((n + 1))
    got=$(sed -n "${n}p" "$tmp/out")
    checks=$((checks + 1))
    case "$got" in
        "$want"*) ;;
        *) fail "hostile line $n: got '$got', want '$want...'" ;;
    esac
done < "$tmp/hostile.want"

#  A line over the CLI's 1 MiB line limit is refused and reading goes on.
"$PYTHON3" -c 'import sys; sys.stdout.write("x" * (2 * 1024 * 1024) + "\n")' > "$tmp/long.jsonl"
head -n 1 "$EXAMPLES/agent-lifecycle.valid.json" >> "$tmp/long.jsonl"
expect 1 "$CABRUCA" schemas validate "$tmp/long.jsonl"
same "$tmp/out" "invalid: : TooLarge: line 1 is longer than 1048576 bytes
valid"

#  ---------------------------------------------------------------------
#  --schema: any JSON document against one schema file.
printf '{"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}\n' \
    > "$tmp/schema.json"
printf '{"n": 3}\n{"n": 0}\n[1]\n{"n": \n' > "$tmp/docs.jsonl"
expect 1 "$CABRUCA" schemas validate --schema "$tmp/schema.json" "$tmp/docs.jsonl"
same "$tmp/out" "valid
invalid: /n: minimum: must be at least 1
invalid: : type: must be object, not array
invalid: : InvalidJson: line 1, column 6: unexpected token near end of file"
echo '{"n": 5}' > "$tmp/one.jsonl"
expect 0 "$CABRUCA" schemas validate --schema="$tmp/schema.json" < "$tmp/one.jsonl"
same "$tmp/out" "valid"

#  Unusable schemas and inputs: exit 2, a message on stderr, nothing on stdout.
for schema in "$tmp/missing.json" "$tmp"; do
    expect 2 "$CABRUCA" schemas validate --schema "$schema" "$tmp/docs.jsonl"
    has "$tmp/err" "^cabruca schemas: "
    [ -s "$tmp/out" ] && fail "output on stdout for an unreadable schema"
done
printf '{"type": ' > "$tmp/broken.json"
expect 2 "$CABRUCA" schemas validate --schema "$tmp/broken.json" "$tmp/docs.jsonl"
has "$tmp/err" "broken.json:1:.*InvalidJson"
printf '{"type": "integr"}' > "$tmp/wrong.json"
expect 2 "$CABRUCA" schemas validate --schema "$tmp/wrong.json" "$tmp/docs.jsonl"
has "$tmp/err" "wrong.json: InvalidSchema: "
printf '{"$ref": "http://example.com/x.json"}' > "$tmp/remote.json"
expect 2 "$CABRUCA" schemas validate --schema "$tmp/remote.json" "$tmp/docs.jsonl"
expect 2 "$CABRUCA" schemas validate --schema "$tmp/schema.json" "$tmp/no-such-input"
has "$tmp/err" "no-such-input"
mkdir "$tmp/empty"
expect 2 "$CABRUCA" schemas validate --dir "$tmp/empty" "$tmp/valid.jsonl"
has "$tmp/err" "envelope.json"
expect 2 "$CABRUCA" schemas list --dir "$tmp/empty"
expect 2 env CABRUCA_SCHEMAS="$tmp/empty" "$CABRUCA" schemas validate "$tmp/valid.jsonl"

#  ---------------------------------------------------------------------
#  Usage errors.
expect 2 "$CABRUCA" schemas
expect 2 "$CABRUCA" schemas frobnicate
expect 2 "$CABRUCA" schemas validate --schema
expect 2 "$CABRUCA" schemas validate --frob
expect 2 "$CABRUCA" schemas validate a b
expect 2 "$CABRUCA" schemas validate --schema ""
expect 2 "$CABRUCA" schemas list extra
expect 2 "$CABRUCA" schemas list --schema x
has "$tmp/err" "unknown option --schema"
for command in "" list validate; do
    expect 0 "$CABRUCA" schemas $command --help
    has "$tmp/out" "^usage: cabruca schemas list"
done
expect 0 "$CABRUCA" --help
has "$tmp/out" "schemas"

#  ---------------------------------------------------------------------
#  list: a table and JSON.
expect 0 "$CABRUCA" schemas list
has "$tmp/out" "^SOURCE  *DETAIL-TYPE  *VERSION  *FILE$"
has "$tmp/out" "^cabruca.agents.monitor  *Issue Detection  *1.0  *.*events/issue-detection-1.0.json$"
[ "$(wc -l < "$tmp/out")" = 8 ] || fail "list: want a header and 7 types"
expect 0 "$CABRUCA" schemas list --json
"$PYTHON3" - "$tmp/out" <<'PY' || fail "list --json"
import json, sys
types = json.load(open(sys.argv[1]))
assert len(types) == 7, types
assert {"source", "detail-type", "schema_version", "file"} == set(types[0]), types[0]
assert ("cabruca.supervisor", "Agent Lifecycle") in [(t["source"], t["detail-type"]) for t in types]
PY

echo "cli-schemas: $((checks - failures))/$checks checks passed"
[ "$failures" = 0 ]
