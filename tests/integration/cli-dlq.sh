#!/bin/sh
#  `cabruca dlq list|show` on a store seeded by store_seed (read-only, no
#  broker), and every usage error of `cabruca dlq` and `cabruca replay`:
#  bad flags, bad times, missing or unusable stores. The round trips through
#  a broker (redrive, purge, replay) are in delivery-poison.sh and
#  delivery-replay.sh.
set -u
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
PYTHON3=${PYTHON3:-/usr/bin/python3}
CABRUCA="$CAB_BUILDDIR/cabruca"
SEED="$CAB_BUILDDIR/tests/integration/store_seed"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cab-dlq-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM HUP
unset CABRUCA_STORE

fail () {
    echo "FAIL: $*" >&2
    exit 1
}

#  expect STATUS COMMAND...: run it (stdin from /dev/null, output in
#  $WORK/out and $WORK/err) and check its exit status.
expect () {
    want=$1
    shift
    "$@" < /dev/null > "$WORK/out" 2> "$WORK/err"
    got=$?
    [ "$got" -eq "$want" ] \
        || fail "$* exited $got, not $want: $(cat "$WORK/out" "$WORK/err")"
}

#  err_has TEXT: the last command's stderr contains TEXT.
err_has () {
    grep -q -- "$1" "$WORK/err" || fail "stderr lacks '$1': $(cat "$WORK/err")"
}

rows () {
    tail -n +2 "$WORK/out" | wc -l | tr -d ' '
}

"$SEED" "$WORK/events.db" || fail "store_seed"
DB="$WORK/events.db"

#  list: a table of the 4 dead letters, oldest id first.
expect 0 "$CABRUCA" dlq list --store "$DB"
head -1 "$WORK/out" | grep -q '^ID  *DEAD-LETTERED  *QUEUE  *RULE  *TARGET  *ATTEMPTS  *EVENT  *ERROR$' \
    || fail "list header: $(cat "$WORK/out")"
[ "$(rows)" = 4 ] || fail "list: 4 dead letters expected: $(cat "$WORK/out")"
[ "$(tail -n +2 "$WORK/out" | awk '{print $1}' | tr '\n' ' ')" = "1 3 5 7 " ] \
    || fail "list order: $(cat "$WORK/out")"
grep -Eq '^1 +20[0-9-]{8}T[0-9:.]{12}Z +standard +poison +fail +4 +0190a0b0-0000-7000-8000-000000000001 +exit status 1$' \
    "$WORK/out" || fail "list row: $(cat "$WORK/out")"
#  A two-line error stays on its row.
grep -q ' critical .* timeout after 10000 ms$' "$WORK/out" || fail "error cell: $(cat "$WORK/out")"

#  Filters.
expect 0 "$CABRUCA" dlq list --store "$DB" --queue critical
[ "$(rows)" = 1 ] && grep -q '^7 ' "$WORK/out" || fail "--queue critical: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --queue standard --rule poison --target fail
[ "$(rows)" = 3 ] || fail "--queue standard --rule --target: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --rule audit
[ "$(rows)" = 0 ] || fail "--rule audit has no dead letters: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --target log
[ "$(rows)" = 0 ] || fail "--target log: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --event-id 0190a0b0-0000-7000-8000-000000000003
[ "$(rows)" = 1 ] && grep -q '^5 ' "$WORK/out" || fail "--event-id: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --since -1h --until now
[ "$(rows)" = 4 ] || fail "--since -1h: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --until -1h
[ "$(rows)" = 0 ] || fail "--until -1h: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --since 2100-01-01T00:00:00Z
[ "$(rows)" = 0 ] || fail "--since 2100: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --since 2020-01-01T00:00:00.5Z --until -0s
[ "$(rows)" = 4 ] || fail "--since 2020: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq list --store "$DB" --limit 2
[ "$(rows)" = 2 ] || fail "--limit 2: $(cat "$WORK/out")"
err_has "raise --limit"

#  JSON lines.
expect 0 "$CABRUCA" dlq list --store "$DB" --json
"$PYTHON3" - "$WORK/out" <<'PY' || fail "list --json: $(cat "$WORK/out")"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert [r["id"] for r in rows] == [1, 3, 5, 7], rows
r = rows[3]
assert r["state"] == "dead" and r["queue"] == "critical" and r["rule"] == "poison", r
assert r["target"] == "fail" and r["attempts"] == 2 and r["seq"] == 4, r
assert r["error"] == "timeout\nafter 10000 ms", r
assert r["event_id"] == "0190a0b0-0000-7000-8000-000000000004", r
assert r["dead_lettered"].endswith("Z") and r["replay"] is None, r
PY

#  The store from the broker's configuration (relative to its directory),
#  and from $CABRUCA_STORE.
mkdir "$WORK/etc"
printf '{"endpoints": ["ipc://x"], "store": {"path": "../events.db"}}\n' > "$WORK/etc/broker.json"
expect 0 "$CABRUCA" dlq list --config "$WORK/etc/broker.json" --queue critical
[ "$(rows)" = 1 ] || fail "--config: $(cat "$WORK/out")"
(cd / && CABRUCA_STORE="$DB" "$CABRUCA" dlq list > "$WORK/out" 2>&1) || fail "\$CABRUCA_STORE"
[ "$(rows)" = 4 ] || fail "\$CABRUCA_STORE: $(cat "$WORK/out")"

#  show: the delivery and its event; any state; JSON.
expect 0 "$CABRUCA" dlq show 7 --store "$DB"
grep -q '^state  *dead$' "$WORK/out" && grep -q '^queue  *critical$' "$WORK/out" \
    && grep -q '^attempts  *2$' "$WORK/out" && grep -q '^dead-lettered  *20' "$WORK/out" \
    && grep -q '^event id  *0190a0b0-0000-7000-8000-000000000004$' "$WORK/out" \
    && grep -q '^event time  *2026-11-22T10:00:04.000Z$' "$WORK/out" \
    && grep -q '"detail-type": "Seed Event"' "$WORK/out" || fail "show 7: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq show 2 --store "$DB"
grep -q '^state  *done$' "$WORK/out" || fail "show 2: $(cat "$WORK/out")"
expect 0 "$CABRUCA" dlq show 1 --store "$DB" --json
"$PYTHON3" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == 1 and d["state"] == "dead" and d["error"] == "exit status 1", d
assert d["event"]["id"] == "0190a0b0-0000-7000-8000-000000000001", d
assert d["event"]["detail"] == {"n": 1}, d
' "$WORK/out" || fail "show --json: $(cat "$WORK/out")"
expect 1 "$CABRUCA" dlq show 999 --store "$DB"
err_has "NotFound"

#  Missing or unusable stores: exit 1 with the reason.
expect 1 "$CABRUCA" dlq list --store "$WORK/none.db"
err_has "StoreUnavailable"
[ ! -e "$WORK/none.db" ] || fail "a reader must not create the store"
"$SEED" --v2 "$WORK/old.db" || fail "store_seed --v2"
expect 1 "$CABRUCA" dlq list --store "$WORK/old.db"
err_has "UnsupportedVersion"
echo "just text" > "$WORK/text.db"
expect 1 "$CABRUCA" dlq show 1 --store "$WORK/text.db"
err_has "IoError"

#  Usage errors: exit 2, a message naming the problem.
expect 2 "$CABRUCA" dlq
expect 2 "$CABRUCA" dlq frobnicate
err_has "unknown command"
expect 2 "$CABRUCA" dlq list
err_has "no store"
expect 2 "$CABRUCA" dlq list --store
err_has "needs a value"
expect 2 "$CABRUCA" dlq list --store "$DB" --bogus
err_has "unknown option"
expect 2 "$CABRUCA" dlq list --store "$DB" --config "$WORK/etc/broker.json"
err_has "not both"
expect 2 "$CABRUCA" dlq list --store "$DB" --queue urgent
err_has "standard, critical or mirror"
for time in yesterday -15x -15 15m - '-h' 2026-13-01T00:00:00Z 2026-11-22T10:00:00 \
    2026-11-22 '-99999999999999999999d' '-999999999d'; do
    expect 2 "$CABRUCA" dlq list --store "$DB" --since "$time"
    err_has "bad TIME"
done
expect 2 "$CABRUCA" dlq list --store "$DB" --since -1h --until -2h
err_has "after --until"
for limit in 0 -1 abc 10x; do
    expect 2 "$CABRUCA" dlq list --store "$DB" --limit "$limit"
done
expect 2 "$CABRUCA" dlq list --store "$DB" --id 3
err_has "not valid here"
expect 2 "$CABRUCA" dlq list --store "$DB" --yes
expect 2 "$CABRUCA" dlq show
expect 2 "$CABRUCA" dlq show abc --store "$DB"
expect 2 "$CABRUCA" dlq show 0 --store "$DB"
expect 2 "$CABRUCA" dlq show 1 --store "$DB" --queue standard
expect 2 "$CABRUCA" dlq show 1 --store "$DB" --since -1h
echo '{"store": ' > "$WORK/bad.json"
expect 2 "$CABRUCA" dlq list --config "$WORK/bad.json"
err_has "InvalidJson"
echo '{"endpoints": []}' > "$WORK/nostore.json"
expect 2 "$CABRUCA" dlq list --config "$WORK/nostore.json"
err_has "/store/path"
expect 2 "$CABRUCA" dlq list --config "$WORK/missing.json"
err_has "IoError"

#  redrive and purge: confirmation, filters, flags.
expect 2 "$CABRUCA" dlq purge --queue standard
err_has "add --yes"
expect 2 "$CABRUCA" dlq redrive
err_has "EVERY dead letter"
expect 2 "$CABRUCA" dlq redrive --since -1h
expect 2 "$CABRUCA" dlq redrive --store "$DB" --id 1
expect 2 "$CABRUCA" dlq redrive --id abc
expect 2 "$CABRUCA" dlq redrive --id 0
expect 2 "$CABRUCA" dlq purge --queue nope --yes
expect 2 "$CABRUCA" dlq redrive --id 1 --timeout 0
#  No broker there: exit 1, quickly.
expect 1 "$CABRUCA" dlq redrive --id 1 --broker "ipc://$WORK/none.ipc" --timeout 300
err_has "Timeout"

#  replay: flags and times.
expect 2 "$CABRUCA" replay
err_has "--from TIME is required"
expect 2 "$CABRUCA" replay --from
expect 2 "$CABRUCA" replay --from lastweek
err_has "bad TIME"
expect 2 "$CABRUCA" replay --from -1h --to 2026-02-30T00:00:00Z
err_has "bad TIME"
expect 2 "$CABRUCA" replay --from -1h --to -2h
err_has "after --to"
expect 2 "$CABRUCA" replay --from -1h --speed fast
err_has "original or max"
expect 2 "$CABRUCA" replay --from -1h --name 'my replay'
expect 2 "$CABRUCA" replay --from -1h --name "$(printf 'x%.0s' $(seq 65))"
expect 2 "$CABRUCA" replay --from -1h --timeout 0
expect 2 "$CABRUCA" replay --from -1h --bogus
err_has "unknown option"
expect 2 "$CABRUCA" replay --from -1h --pattern "$WORK/missing.json"
err_has "IoError"
echo '{"source": "not an array"}' > "$WORK/pattern.json"
expect 2 "$CABRUCA" replay --from -1h --pattern "$WORK/pattern.json"
err_has "InvalidPattern"
echo '{"source": [' > "$WORK/pattern.json"
expect 2 "$CABRUCA" replay --from -1h --pattern "$WORK/pattern.json"
err_has "InvalidJson"
echo '{"source": ["cabruca.test"]}' > "$WORK/pattern.json"
expect 1 "$CABRUCA" replay --from 2026-11-22T10:00:00Z --to 2026-11-22T11:00:00Z \
    --pattern "$WORK/pattern.json" --speed original --name r-1 \
    --broker "ipc://$WORK/none.ipc" --timeout 300
err_has "Timeout"

#  Help: exit 0 on stdout.
expect 0 "$CABRUCA" dlq --help
grep -q '^usage: cabruca dlq list' "$WORK/out" || fail "dlq --help"
expect 0 "$CABRUCA" dlq list --help
expect 0 "$CABRUCA" replay --help
grep -q '^usage: cabruca replay --from TIME' "$WORK/out" || fail "replay --help"
exit 0
