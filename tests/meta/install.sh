#!/bin/sh
#  The installed library is usable as a user outside the tree would use it:
#  install into a staging directory, then compile and run a small program
#  with nothing but `pkg-config --cflags --libs libcabruca`.
. "$(dirname "$0")/lib.sh"
command -v pkg-config >/dev/null || { echo "pkg-config missing"; exit 77; }
stage=$(mktemp -d) || exit 99
trap 'rm -rf "$stage"' EXIT INT TERM
#  Install only the library, its headers and its .pc file: these targets do
#  not rebuild anything, so the test cannot race the other tests' binaries.
make -s -C "$CAB_BUILDDIR" install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA \
    DESTDIR="$stage" >"$stage/install.log" 2>&1 \
    || { cat "$stage/install.log"; echo "FAIL: make install"; exit 1; }
prefix=$(sed -n 's/^prefix=//p' "$CAB_BUILDDIR/libcabruca.pc")
root="$stage$prefix"
pcdir=$(dirname "$(find "$root" -name libcabruca.pc | head -1)")
test -f "$pcdir/libcabruca.pc" || { echo "FAIL: libcabruca.pc not installed"; exit 1; }
cat > "$stage/user.c" <<'C'
#include <cabruca.h>
#include <stdio.h>
#include <string.h>
int main (void) {
    cab_error_t error;
    cab_error_set (&error, CAB_ERR_SCHEMA_VIOLATION, "/detail", "%s", "ok");
    printf ("%s\n", cab_status_name (error.code));
    return strcmp (cab_status_name (error.code), "SchemaViolation") != 0;
}
C
flags=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs libcabruca) \
    || { echo "FAIL: pkg-config"; exit 1; }
#  Same compiler flags as the build (a sanitizer build needs them to link).
${CAB_CC:-cc} $CAB_CFLAGS -Wall -Werror -o "$stage/user" "$stage/user.c" $flags $CAB_LDFLAGS \
    || { echo "FAIL: compile against the installed headers with: $flags"; exit 1; }
LD_LIBRARY_PATH="$root/lib:$(dirname "$(find "$root" -name 'libcabruca.so' | head -1)")" "$stage/user" \
    || { echo "FAIL: run"; exit 1; }
for header in $(sed -n 's/^#include "\(cab_[a-z_]*\.h\)"/\1/p' "$CAB_SRCDIR/core/include/cabruca.h"); do
    test -f "$root/include/$header" || { echo "FAIL: $header not installed"; exit 1; }
done
echo "install: headers, libcabruca.pc and the library work from a staging prefix"
