#!/bin/sh
#  Banned functions (STYLE.md): use snprintf, strtol with checks, memcpy.
. "$(dirname "$0")/lib.sh"
found=$(grep -rnwE 'strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|strncpy' \
        --include='*.c' --include='*.h' core agents tests 2>/dev/null \
        | grep -vE '^[^:]+:[0-9]+:\s*(//|\*)' | grep -v 'tests/meta/')
if [ -n "$found" ]; then
    echo "banned functions used:"; echo "$found"; exit 1
fi
echo "banned: none used"
