#!/bin/sh
#  schemas/rules/default.json: valid against schemas/config/rules.json, every
#  event pattern compiles with the broker's engine (cabruca pattern check), and
#  the example events of schemas/examples route as DESIGN.md's six rules say.
: "${CAB_SRCDIR:?}" "${CAB_BUILDDIR:?}" "${PYTHON3:?}"
cabruca="$CAB_BUILDDIR/cabruca"
rules="$CAB_SRCDIR/schemas/rules/default.json"
schema="$CAB_SRCDIR/schemas/config/rules.json"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

#  rule file -> one compact line; rule i's pattern -> pattern-i.json;
#  match-rules input; a few broken variants, one a line.
"$PYTHON3" - "$rules" "$tmp" <<'PY' || exit 99
import copy, json, sys
doc = json.load(open(sys.argv[1]))
out = sys.argv[2]
open(f"{out}/rules.line", "w").write(json.dumps(doc) + "\n")
with open(f"{out}/match-rules", "w") as f:
    for i, rule in enumerate(doc["rules"]):
        json.dump(rule["event_pattern"], open(f"{out}/pattern-{i}.json", "w"))
        f.write(json.dumps({"id": rule["name"], "pattern": rule["event_pattern"]}) + "\n")
def broken(edit):
    d = copy.deepcopy(doc); edit(d); return json.dumps(d)
target = lambda d: d["rules"][0]["targets"][0]
with open(f"{out}/broken", "w") as f:
    for edit in (lambda d: target(d)["retry_policy"].update(maximum_retry_attempts=186),
                 lambda d: target(d)["retry_policy"].update(maximum_event_age_seconds=59),
                 lambda d: target(d).update(type="agent"),
                 lambda d: target(d).update(dead_letter_queue="urgent"),
                 lambda d: d["rules"][0].update(name="has space"),
                 lambda d: d["rules"][0].update(targets=[]),
                 lambda d: d["rules"][0].pop("event_pattern")):
        f.write(broken(edit) + "\n")
PY

out=$("$cabruca" schemas validate --schema "$schema" "$tmp/rules.line") || {
    echo "FAIL: default.json against rules.json: $out"; exit 1; }
"$cabruca" schemas validate --schema "$schema" "$tmp/broken" > "$tmp/broken.out"
if grep -n '^valid$' "$tmp/broken.out"; then
    echo "FAIL: rules.json accepted a broken rule file (line above)"; exit 1
fi

for pattern in "$tmp"/pattern-*.json; do
    "$cabruca" pattern check "$pattern" || { echo "FAIL: $(cat "$pattern")"; exit 1; }
done

#  Routing of the examples, by event id (the last digits of each id).
cat "$CAB_SRCDIR"/schemas/examples/*.valid.json > "$tmp/events"
"$cabruca" pattern match-rules "$tmp/match-rules" "$tmp/events" > "$tmp/routes" || exit 1
"$PYTHON3" - "$tmp/events" "$tmp/routes" > "$tmp/actual" <<'PY' || exit 99
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
routes = open(sys.argv[2]).read().split("\n")
for event, route in sorted(zip(events, routes), key=lambda p: p[0]["id"]):
    print(event["detail-type"], event.get("detail", {}).get("severity", event["detail"].get("status", "-")), route or "-")
PY
cat > "$tmp/expected" <<'TXT'
Issue Detection HIGH high-severity-alert,issue-detection-log
Issue Detection LOW issue-detection-log
Feature Request - feature-request-product-queue
Feature Request - feature-request-product-queue
Code Change APPROVED approved-code-change-cicd
Code Change PROPOSED -
Test Results FAILED failed-tests-investigation,test-results-tracking
Test Results PASSED test-results-tracking
Budget Threshold - -
Budget Threshold - -
Delivery Dead-Lettered - -
Agent Lifecycle - -
Agent Lifecycle - -
Agent Lifecycle - -
TXT
diff -u "$tmp/expected" "$tmp/actual" || { echo "FAIL: default rules route the examples differently"; exit 1; }
echo "rules-default: $(grep -c . "$tmp/match-rules") rules valid, examples routed as DESIGN.md says"
