#!/bin/sh
#  Banned functions (STYLE.md): strcpy strcat sprintf vsprintf strtok atoi
#  atol gets strncpy. Calls are found in code with comments and string
#  literals removed; use snprintf, strtol with checks, memcpy instead.
. "$(dirname "$0")/lib.sh"
"$PYTHON3" - <<'PY'
import os, re, sys
banned = re.compile(r'\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|strncpy)\s*\(')
strip = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
found = 0
for top in ('core', 'agents', 'tests'):
    for root, dirs, files in os.walk(top):
        for name in files:
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(root, name)
            text = open(path, encoding='utf-8', errors='replace').read()
            code = strip.sub(lambda m: re.sub(r'[^\n]', ' ', m.group(0)), text)
            for m in banned.finditer(code):
                line = code.count('\n', 0, m.start()) + 1
                print(f"{path}:{line}: {m.group(1)} is banned")
                found += 1
print(f"banned: {found} uses found")
sys.exit(1 if found else 0)
PY
