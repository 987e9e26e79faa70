#!/bin/sh
#  Every public function has a comment right above its prototype, and every
#  public header has a header comment.
. "$(dirname "$0")/lib.sh"
"$PYTHON3" - core/include/*.h <<'PY'
import re, sys
bad = 0
for path in sys.argv[1:]:
    lines = open(path).read().split('\n')
    if not lines[0].startswith('/*'):
        print(f"{path}:1: header comment missing"); bad += 1
    for i, line in enumerate(lines):
        m = re.match(r'^\s+(cab_[a-z0-9_]+)\s*\(', line)
        if not m:
            continue
        #  The prototype's return type is on the line above the name.
        j = i - 1
        if j >= 0 and not lines[j].strip().startswith('//'):
            j -= 1
        if j < 0 or not (lines[j].strip().startswith('//') or lines[j].strip().endswith('*/')):
            print(f"{path}:{i+1}: {m.group(1)} has no comment above it"); bad += 1
sys.exit(1 if bad else 0)
PY
