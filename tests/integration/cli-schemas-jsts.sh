#!/bin/sh
#  The official JSON Schema Test Suite (draft7, required tests) through the
#  command line: each test group becomes a schema file and a file of data
#  lines for `cabruca schemas validate --schema`, and each output line must
#  say `valid` or `invalid: ...` as the suite expects; the exit status must
#  agree too. Prints the pass count. refRemote.json is skipped here (the CLI
#  does not fetch remote references); the C test of cab_schema runs it
#  against the suite's remotes served on 127.0.0.1.
: "${CAB_SRCDIR:?run through make check}"
: "${CAB_BUILDDIR:?run through make check}"
: "${JSTS_DIR:=/usr/share/json-schema-test-suite}"
PYTHON3="${PYTHON3:-python3}"
if [ ! -d "$JSTS_DIR/tests/draft7" ]; then
    echo "SKIP: no JSON Schema Test Suite at $JSTS_DIR (apt-get install json-schema-test-suite)"
    exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

"$PYTHON3" - "$JSTS_DIR/tests/draft7" "$CAB_BUILDDIR/cabruca" "$tmp" <<'PY'
import json, os, subprocess, sys

suite, cabruca, tmp = sys.argv[1:4]
SKIP = {"refRemote.json": "remote references need the suite's remotes served over HTTP; "
                          "the CLI does not fetch them (tests/unit/test_cab_schema runs them)"}
passed = failed = skipped = groups = 0
for name in sorted(os.listdir(suite)):
    path = os.path.join(suite, name)
    if not name.endswith(".json") or not os.path.isfile(path):
        continue    # optional/ is not required
    cases = json.load(open(path, encoding="utf-8"))
    if name in SKIP:
        count = sum(len(group["tests"]) for group in cases)
        skipped += count
        print(f"skip {name}: {count} tests: {SKIP[name]}")
        continue
    for number, group in enumerate(cases):
        groups += 1
        schema = os.path.join(tmp, "schema.json")
        data = os.path.join(tmp, "data.jsonl")
        with open(schema, "w", encoding="utf-8") as f:
            json.dump(group["schema"], f, ensure_ascii=False)
        with open(data, "w", encoding="utf-8") as f:
            for test in group["tests"]:
                f.write(json.dumps(test["data"], ensure_ascii=False, separators=(",", ":")) + "\n")
        run = subprocess.run([cabruca, "schemas", "validate", "--schema", schema, data],
                             capture_output=True, timeout=60)
        lines = run.stdout.decode("utf-8", "replace").splitlines()
        want_status = 0 if all(t["valid"] for t in group["tests"]) else 1
        where = f"{name} #{number} ({group['description']})"
        if run.returncode != want_status:
            print(f"FAIL {where}: exit {run.returncode}, want {want_status}: "
                  f"{run.stderr.decode(errors='replace').strip()[:300]}")
        for i, test in enumerate(group["tests"]):
            got = lines[i] if i < len(lines) else "(no output)"
            ok = got == "valid" if test["valid"] else got.startswith("invalid: ")
            if ok and run.returncode == want_status:
                passed += 1
            else:
                failed += 1
                print(f"FAIL {where}: {test['description']}: got {got!r}, "
                      f"want {'valid' if test['valid'] else 'invalid'}")
total = passed + failed
print(f"draft7 through `cabruca schemas validate --schema`: {passed}/{total} required tests "
      f"passed in {groups} groups; {skipped} skipped (refRemote.json)")
sys.exit(1 if failed else 0)
PY
