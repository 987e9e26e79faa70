#!/bin/sh
#  Every status code is listed in docs/errors.md with its number and name,
#  and nothing else is.
. "$(dirname "$0")/lib.sh"
"$PYTHON3" - <<'PY'
import re, sys
header = open('core/include/cab_status.h').read()
codes = {}
for m in re.finditer(r'^\s+(CAB_[A-Z0-9_]+)\s*=\s*(\d+),\s*//\s*(\w+)', header, re.M):
    codes[int(m.group(2))] = (m.group(1), m.group(3))
codes[0] = ('CAB_OK', 'Ok')
source = open('core/src/cab_status.c').read()
for m in re.finditer(r'\[(CAB_[A-Z0-9_]+)\]\s*=\s*\{\s*"(\w+)"', source):
    ok = [v for v in codes.values() if v[0] == m.group(1)]
    if not ok or ok[0][1] != m.group(2):
        print(f"cab_status.c names {m.group(1)} '{m.group(2)}' unlike cab_status.h"); sys.exit(1)
doc = open('docs/errors.md').read()
rows = {}
for m in re.finditer(r'^\|\s*(\d+)\s*\|\s*`?(\w+)`?\s*\|\s*`?(CAB_[A-Z0-9_]+)`?\s*\|', doc, re.M):
    rows[int(m.group(1))] = (m.group(3), m.group(2))
bad = 0
for n, (const, name) in sorted(codes.items()):
    if rows.get(n) != (const, name):
        print(f"docs/errors.md: code {n} should read | {n} | {name} | {const} |, has {rows.get(n)}"); bad += 1
for n in rows:
    if n not in codes:
        print(f"docs/errors.md: code {n} is not in cab_status.h"); bad += 1
print(f"errors-doc: {len(codes)} codes checked")
sys.exit(1 if bad else 0)
PY
