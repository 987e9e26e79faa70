#!/bin/sh
#  setup.sh - install what is missing, build, then start cabruca or test it.
#
#    ./setup.sh start   install, build, start the whole system (Ctrl-C stops it)
#    ./setup.sh test    install, build, run the full test suite
#    ./setup.sh build   install and build only
#
#  `test` runs, in this order: the test suite (_build); the test suite again
#  under ASan+UBSan (_build-asan); the test programs under valgrind memcheck
#  (_build-valgrind); each libFuzzer target for a short time (_build-fuzz,
#  clang). CABRUCA_TEST="default asan valgrind fuzz" picks stages
#  (docs/robustness.md).
#
#  Idempotent: packages already present are not reinstalled, and the build
#  in _build/ is incremental. Works from a fresh clone on Debian 12.
set -eu

TOP=$(cd "$(dirname "$0")" && pwd)
BUILD="${CABRUCA_BUILD_DIR:-$TOP/_build}"
JOBS=$(nproc 2>/dev/null || echo 2)

PACKAGES="build-essential autoconf automake libtool pkg-config git
  libzmq3-dev libczmq-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev
  libpcre2-dev check json-schema-test-suite python3 python3-zmq sqlite3
  clang-format valgrind clang libclang-rt-dev lld libmicrohttpd-dev chromium"
#  tests/terraform runs node and npm: Debian's only when none is installed.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs"
command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES npm"

log () { printf 'setup: %s\n' "$*" >&2; }

install_packages () {
    missing=""
    for package in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' \
            || missing="$missing $package"
    done
    [ -z "$missing" ] && return 0
    log "installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
}

build () {
    cd "$TOP"
    if [ ! -x configure ] || [ configure.ac -nt configure ]; then
        log "autoreconf"
        autoreconf -fi >/dev/null
    fi
    mkdir -p "$BUILD"
    cd "$BUILD"
    if [ ! -f Makefile ]; then
        log "configure"
        "$TOP/configure" --enable-werror --quiet
    fi
    log "make"
    make -j"$JOBS" >/dev/null
}

#  Another build of the tree for a test stage: DIR CONFIGURE-OPTION...
#  (configured once; make builds what the stage needs, incrementally).
configure_extra () {
    dir=$1
    shift
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        log "configure $dir: $*"
        (cd "$dir" && "$TOP/configure" --quiet "$@")
    fi
}

#  Is stage $1 selected by CABRUCA_TEST (default: all)?
stage () {
    case " ${CABRUCA_TEST:-default asan valgrind fuzz} " in *" $1 "*) return 0 ;; esac
    return 1
}

case "${1:-}" in
    start)
        install_packages; build
        #  The main job: the supervisor, the broker and the four agents on
        #  their default configuration in $CABRUCA_RUN_DIR (default _run/),
        #  in the foreground until Ctrl-C (docs/operations.md).
        exec sh "$TOP/core/supervisor/cabruca-system.sh" "$BUILD" "$TOP" \
            "${CABRUCA_RUN_DIR:-$TOP/_run}"
        ;;
    test)
        install_packages; build
        if stage default; then
            log "make check"
            make -C "$BUILD" -j"$JOBS" check
            log "the benchmark programs still build (make bench-build)"
            make -C "$BUILD" -j"$JOBS" bench-build
        fi
        if stage asan; then
            configure_extra "$BUILD-asan" --enable-sanitizers --enable-werror
            log "make check under ASan+UBSan ($BUILD-asan)"
            make -C "$BUILD-asan" -j"$JOBS" >/dev/null
            make -C "$BUILD-asan" -j"$JOBS" check
        fi
        if stage valgrind; then
            configure_extra "$BUILD-valgrind" --enable-valgrind --enable-werror
            log "test programs under valgrind memcheck ($BUILD-valgrind)"
            make -C "$BUILD-valgrind" -j"$JOBS" >/dev/null
            make -C "$BUILD-valgrind" -j"$JOBS" check-programs
        fi
        if stage fuzz; then
            configure_extra "$BUILD-fuzz" --enable-fuzzing
            log "fuzz-smoke ($BUILD-fuzz)"
            make -C "$BUILD-fuzz" -j"$JOBS" fuzz-smoke
        fi
        ;;
    build)
        install_packages; build
        ;;
    *)
        echo "usage: ./setup.sh start|test|build" >&2
        exit 100
        ;;
esac
