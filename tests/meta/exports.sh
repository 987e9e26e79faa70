#!/bin/sh
#  The shared library exports exactly the functions declared in the public
#  headers: nothing private leaks, nothing declared is missing.
. "$(dirname "$0")/lib.sh"
LIB="$CAB_BUILDDIR/.libs/libcabruca.so"
test -f "$LIB" || { echo "no $LIB (shared library not built?)"; exit 77; }
nm -D --defined-only "$LIB" | awk '$2 == "T" {print $3}' | sort > "$CAB_BUILDDIR/exports.actual"
"$PYTHON3" - core/include/*.h > "$CAB_BUILDDIR/exports.declared" <<'PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'#[^\n]*', '', text)
    for m in re.finditer(r'\b(cab_[a-z0-9_]+)\s*\(', text):
        names.add(m.group(1))
for n in sorted(names): print(n)
PY
if ! diff -u "$CAB_BUILDDIR/exports.declared" "$CAB_BUILDDIR/exports.actual"; then
    echo "FAIL: exported symbols (+) differ from public declarations (-)"
    exit 1
fi
echo "exports: $(wc -l < "$CAB_BUILDDIR/exports.actual") symbols match the public headers"
rm -f "$CAB_BUILDDIR/exports.actual" "$CAB_BUILDDIR/exports.declared"
