#!/bin/sh
#  setup.sh - install what is missing, build, then start cabruca or test it.
#
#    ./setup.sh start   install, build, run the main job
#    ./setup.sh test    install, build, run the full test suite
#    ./setup.sh build   install and build only
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
  clang-format valgrind"
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

case "${1:-}" in
    start)
        install_packages; build
        #  The main job at this stage: validate the example events against the
        #  schema registry (later issues start the broker, agents, dashboard).
        cd "$TOP"
        log "validating schemas/examples/*.valid.json against the registry"
        cat schemas/examples/*.valid.json | "$BUILD/cabruca" schemas validate -
        ;;
    test)
        install_packages; build
        log "make check"
        make -C "$BUILD" -j"$JOBS" check
        ;;
    build)
        install_packages; build
        ;;
    *)
        echo "usage: ./setup.sh start|test|build" >&2
        exit 100
        ;;
esac
