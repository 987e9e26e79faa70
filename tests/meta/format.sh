#!/bin/sh
#  Every .c file is formatted by the checked-in .clang-format.
. "$(dirname "$0")/lib.sh"
command -v clang-format >/dev/null 2>&1 || { echo "clang-format not installed"; exit 77; }
files=$(git ls-files '*.c' 2>/dev/null || find core agents tests -name '*.c')
[ -n "$files" ] || files=$(find core agents tests -name '*.c')
clang-format --dry-run -Werror $files || { echo "run: clang-format -i <files>"; exit 1; }
echo "format: $(echo $files | wc -w) files clean"
