#!/bin/sh
#  The typed event layer (core/include/cab_events.h, core/src/cab_events.c)
#  is generated from schemas/events by core/src/gen_events.py and checked
#  in, so a build needs no Python. Regenerate it into a temporary directory
#  and fail on any difference: the schemas and the C layer cannot drift.
. "$(dirname "$0")/lib.sh"
command -v "$PYTHON3" >/dev/null 2>&1 || { echo "no python3"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
"$PYTHON3" core/src/gen_events.py schemas "$tmp/cab_events.h" "$tmp/cab_events.c" || {
    echo "FAIL: core/src/gen_events.py failed"; exit 1; }
status=0
for pair in "core/include/cab_events.h $tmp/cab_events.h" "core/src/cab_events.c $tmp/cab_events.c"; do
    set -- $pair
    if ! diff -u "$1" "$2"; then
        echo "FAIL: $1 differs from what the schemas generate"
        status=1
    fi
done
if [ $status -ne 0 ]; then
    echo "run: python3 core/src/gen_events.py   (from the top of the tree), then check both files in"
    exit 1
fi
#  The generated code is in the house format already.
if command -v clang-format >/dev/null 2>&1; then
    clang-format --dry-run -Werror --assume-filename=core/src/cab_events.c \
        < "$tmp/cab_events.c" || {
        echo "FAIL: the generator's output is not clang-format clean"; exit 1; }
fi
echo "events-generated: cab_events.h and cab_events.c match schemas/events"
