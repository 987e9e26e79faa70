#!/bin/sh
#  Examples in the docs are real programs: a line `<!-- example: PATH -->`
#  in docs/*.md must be followed by a fenced code block holding the file
#  PATH (a program make check builds and runs) exactly, so the page and the
#  compiled code cannot drift. The check checks itself first.
. "$(dirname "$0")/lib.sh"
command -v "$PYTHON3" >/dev/null 2>&1 || { echo "no python3"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/check.py" <<'PY'
import os, re, sys
top, pages = sys.argv[1], sys.argv[2:]
bad = count = 0
for page in pages:
    lines = open(page, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"\s*<!-- example: (\S+) -->\s*$", line)
        if not m:
            continue
        count += 1
        path = os.path.join(top, m.group(1))
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or not lines[j].startswith("```"):
            print(f"{page}:{i + 1}: no fenced code block after the marker"); bad += 1
            continue
        k = j + 1
        while k < len(lines) and not lines[k].startswith("```"):
            k += 1
        block = "\n".join(lines[j + 1:k]) + "\n"
        try:
            text = open(path, encoding="utf-8").read()
        except OSError as e:
            print(f"{page}:{i + 1}: {e}"); bad += 1
            continue
        if block != text:
            print(f"{page}:{j + 1}: the code block differs from {m.group(1)}; paste the file again")
            bad += 1
print(f"docs-examples: {count} examples, {bad} problems")
sys.exit(1 if bad else 0)
PY
#  The check catches a stale copy.
printf 'int main (void) { return 0; }\n' > "$tmp/prog.c"
printf '<!-- example: prog.c -->\n```c\nint main (void) { return 1; }\n```\n' > "$tmp/page.md"
if "$PYTHON3" "$tmp/check.py" "$tmp" "$tmp/page.md" > /dev/null; then
    echo "FAIL: the check missed a stale example"; exit 1
fi
"$PYTHON3" "$tmp/check.py" "$CAB_SRCDIR" docs/*.md
