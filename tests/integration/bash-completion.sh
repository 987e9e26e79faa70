#!/bin/sh
#  The bash completion script completes commands, options and sub-commands
#  from the CLI's own --help.
command -v bash >/dev/null 2>&1 || { echo "bash missing"; exit 77; }
: "${CAB_BUILDDIR:?}" "${CAB_SRCDIR:?}"
exec bash -c '
. "$CAB_SRCDIR/core/cli/cabruca.bash-completion"
complete_line () {  # complete_line WORDS...: the candidates for the last word
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _cabruca
    printf "%s\n" "${COMPREPLY[@]}"
}
fail () { echo "FAIL: $*" >&2; exit 1; }
prog="$CAB_BUILDDIR/cabruca"
complete_line "$prog" "" | grep -qx query || fail "no query among the commands"
complete_line "$prog" "" | grep -qx supervisor || fail "no supervisor among the commands"
[ "$(complete_line "$prog" "qu")" = query ] || fail "qu -> $(complete_line "$prog" qu)"
complete_line "$prog" query "--pat" | grep -qx -- --pattern || fail "query --pat"
complete_line "$prog" tail "--" | grep -qx -- --count || fail "tail --count"
complete_line "$prog" dlq "" | grep -qx list || fail "dlq sub-commands: $(complete_line "$prog" dlq "")"
complete_line "$prog" dlq list --queue "c" | grep -qx critical || fail "dlq --queue"
complete_line "$prog" dlq list --queue "m" | grep -qx mirror || fail "dlq --queue mirror"
complete_line "$prog" "" | grep -qx budget || fail "no budget among the commands"
[ "$(complete_line "$prog" "mi")" = mirror ] || fail "mi -> $(complete_line "$prog" mi)"
[ "$(complete_line "$prog" mirror "")" = status ] || fail "mirror -> $(complete_line "$prog" mirror "")"
complete_line "$prog" mirror status "--" | grep -qx -- --json || fail "mirror status --json"
complete_line "$prog" budget "--ti" | grep -qx -- --timeout || fail "budget --timeout"
complete_line "$prog" replay --speed "" | grep -qx original || fail "replay --speed"
echo "ok: bash completion"
'
