#!/bin/sh
#  The pattern conformance suite through the CLI: `cabruca pattern check`,
#  `match` (one case, one process) and `match-rules` (every valid pattern of
#  a file as a rule, every event of the file on stdin), checking outputs and
#  exit statuses against tests/conformance/patterns/*.json.
: "${CAB_SRCDIR:?run through make check}"
: "${CAB_BUILDDIR:?run through make check}"
PYTHON3="${PYTHON3:-python3}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
"$PYTHON3" - "$CAB_BUILDDIR/cabruca" "$CAB_SRCDIR/tests/conformance/patterns" "$tmp" <<'PY'
import glob, json, os, subprocess, sys
cli, data, tmp = sys.argv[1:4]
failures = cases = 0
def fail(msg):
    global failures
    failures += 1
    print("FAIL", msg)
def text(case, key):
    return case[key + "_text"] if key + "_text" in case else json.dumps(case[key], ensure_ascii=False)
for path in sorted(glob.glob(os.path.join(data, "*.json"))):
    name = os.path.basename(path)
    with open(path, encoding="utf-8") as fh:
        suite = json.load(fh)
    rules, events, expected = [], [], []
    for i, case in enumerate(suite):
        cases += 1
        pfile = os.path.join(tmp, "p.json")
        with open(pfile, "w", encoding="utf-8") as fh:
            fh.write(text(case, "pattern"))
        if "error" in case:
            r = subprocess.run([cli, "pattern", "check", pfile], capture_output=True, text=True)
            want = case["error"]
            prefix = (want["path"] + ": ") if want["path"] else ""
            if r.returncode != 2 or not r.stderr.startswith(prefix) or want["contains"] not in r.stderr:
                fail("%s: %s: check gave %d %r" % (name, case["name"], r.returncode, r.stderr))
            continue
        event = text(case, "event")
        r = subprocess.run([cli, "pattern", "match", pfile, "-"], input=event + "\n",
                           capture_output=True, text=True)
        want = "true\n" if case["match"] else "false\n"
        if r.returncode != 0 or r.stdout != want:
            fail("%s: %s: match gave %d %r" % (name, case["name"], r.returncode, r.stdout + r.stderr))
        rid = "c%03d" % i
        if "pattern_text" not in case:  # rules files go through jansson: exact texts only here
            rules.append(json.dumps({"id": rid, "pattern": case["pattern"]}, ensure_ascii=False))
            events.append((rid, event, case["match"]))
    rfile = os.path.join(tmp, "rules.txt")
    with open(rfile, "w", encoding="utf-8") as fh:
        fh.write("\n".join(rules) + "\n")
    r = subprocess.run([cli, "pattern", "match-rules", rfile],
                       input="".join(e[1] + "\n" for e in events), capture_output=True, text=True)
    lines = r.stdout.split("\n")
    if r.returncode != 0 or len(lines) != len(events) + 1:
        fail("%s: match-rules gave %d %r" % (name, r.returncode, r.stderr))
        continue
    for (rid, event, match), line in zip(events, lines):
        ids = line.split(",") if line else []
        if ids != sorted(ids):
            fail("%s: %s: ids not sorted: %s" % (name, rid, line))
        if (rid in ids) != match:
            fail("%s: %s: match-rules %s" % (name, rid, line))
# Exit statuses and an invalid event line
pfile = os.path.join(tmp, "p.json")
with open(pfile, "w") as fh:
    fh.write('{"a":["x"]}')
r = subprocess.run([cli, "pattern", "match", pfile], input='{"a":"x"}\nnot json\n{"a":"y"}\n',
                   capture_output=True, text=True)
if r.returncode != 1 or not r.stdout.startswith("true\nerror: ") or not r.stdout.endswith("\nfalse\n"):
    fail("invalid event line: %d %r" % (r.returncode, r.stdout))
for args in (["pattern"], ["pattern", "frob", pfile], ["pattern", "check"]):
    if subprocess.run([cli] + args, capture_output=True).returncode != 2:
        fail("usage error not 2: %s" % args)
if subprocess.run([cli, "pattern", "--help"], capture_output=True).returncode != 0:
    fail("--help")
print("pattern-cli: %d cases, %d failures" % (cases, failures))
sys.exit(1 if failures else 0)
PY
