#  Shared helpers for the meta-tests. Sourced, not run.
: "${CAB_SRCDIR:?run through make check}"
: "${CAB_BUILDDIR:?run through make check}"
PYTHON3="${PYTHON3:-python3}"
cd "$CAB_SRCDIR" || exit 99
