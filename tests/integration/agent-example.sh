#!/bin/sh
#  agents/example built as a user outside the tree builds it -- against the
#  INSTALLED library with nothing but pkg-config -- and run against a real
#  broker: a HIGH disk_full issue becomes a Feature Request caused by it.
. "$CAB_SRCDIR/tests/integration/broker-lib.sh"
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }

stage="$WORK/stage"
make -s -C "$CAB_BUILDDIR" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA \
    DESTDIR="$stage" >"$WORK/install.log" 2>&1 || fail "make install: $(cat "$WORK/install.log")"
pcdir=$(dirname "$(find "$stage" -name libcabruca.pc | head -1)")
flags=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs libcabruca) ||
    fail "pkg-config"
${CAB_CC:-cc} ${CAB_CFLAGS:-} -Wall -Wextra -Werror -o "$WORK/example" \
    "$CAB_SRCDIR/agents/example/example.c" $flags ${CAB_LDFLAGS:-} || fail "compile with: $flags"
libdir=$(dirname "$(find "$stage" -name 'libcabruca.so' | head -1)")

cat > "$WORK/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$CAB_SRCDIR/schemas",
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "example-001": {"sources": ["cabruca.agents.product"]}}}
JSON
start_broker
LD_LIBRARY_PATH="$libdir" "$WORK/example" --broker "$ENDPOINT" --agent-id example-001 \
    --notify-fd 3 3>"$WORK/example.ready" 2>"$WORK/example.log" &
EXAMPLE=$!
PIDS="$PIDS $EXAMPLE"
wait_for 10 test -s "$WORK/example.ready" || fail "example not ready: $(cat "$WORK/example.log")"
LD_LIBRARY_PATH="$libdir" "$WORK/example" --help | grep -q "^usage: cabruca-example" || fail "--help"
sleep 0.3  #  The subscription travels with the session; give it a moment
cat "$CAB_SRCDIR/schemas/examples/issue-detection.valid.json" |
    "$CABRUCA" publish --broker "$ENDPOINT" --agent monitor-001 - >/dev/null ||
    fail "publish"

requests () {
    "$PYTHON3" -c 'import json, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (t,) in db.execute("SELECT text FROM events WHERE detail_type = ?", ("Feature Request",)):
    print(t)' "$WORK/events.db" 2>/dev/null
}
has_request () { [ -n "$(requests)" ]; }
wait_for 10 has_request ||
    fail "no Feature Request: $(cat "$WORK/example.log")"
requests | "$PYTHON3" -c 'import json, sys
lines = sys.stdin.read().split("\n")
r = json.loads(lines[0])["detail"]
assert r["agent_id"] == "example-001", r
assert r["causation_id"] == "0193a5b2-7c10-7001-8001-000000000001", r
assert r["correlation_id"] == "0193a5b2-7c10-7001-8001-000000000001", r
assert r["related_events"] == ["0193a5b2-7c10-7001-8001-000000000001"], r
assert r["title"].startswith("Free space on "), r' || fail "the request: $(requests)"

kill -TERM "$EXAMPLE"
wait_for 10 sh -c "! kill -0 $EXAMPLE 2>/dev/null" || fail "the example did not stop"
stop_broker
echo "ok: the example agent, built from the installed library"
