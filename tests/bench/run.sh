#!/bin/sh
#  Run every benchmark program that `make bench` built, one after the other
#  (they measure throughput: never in parallel). Usage: run.sh BUILDDIR SRCDIR
#  Extra arguments for one program: BENCH_ARGS_<name>="..." (e.g.
#  BENCH_ARGS_bench_store="-r 5").
builddir=${1:?usage: run.sh BUILDDIR SRCDIR}
status=0
for bin in "$builddir"/tests/bench/bench_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    eval "args=\${BENCH_ARGS_$name:-}"
    echo "== $name $args"
    "$bin" $args || status=1
done
exit $status
