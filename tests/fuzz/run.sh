#!/bin/sh
#  run.sh BUILDDIR SRCDIR SECONDS TARGET... - run libFuzzer targets, one
#  after the other, SECONDS each (make fuzz, make fuzz-smoke).
#
#  Each target starts from its seeds and regression cases
#  (SRCDIR/tests/fuzz/corpus/NAME) plus what earlier runs found
#  (BUILDDIR/tests/fuzz/work/NAME, where new inputs go), with its dictionary
#  SRCDIR/tests/fuzz/dict/NAME.dict when there is one. A crash, leak,
#  sanitizer report, oracle failure or slow input stops that target and
#  leaves the input in BUILDDIR/tests/fuzz/findings/NAME/; the run goes on
#  with the other targets and exits 1 at the end. FUZZ_FLAGS adds options.
set -u
builddir=$1 srcdir=$2 seconds=$3
shift 3
failed=""
for name in "$@"; do
    #  Largest input tried: about what the parser meets in practice, and
    #  past the bounds it checks (pattern 2048 characters, template 8192).
    case $name in
        pattern_compile) max_len=2400 ;;
        rules | transform) max_len=10000 ;;
        #  Configurations of a few programs or policies, a budget state
        #  with its agent types: a few KB is plenty; past 8 KB is noise.
        supervisor_config | budget_config | budget_state) max_len=8192 ;;
        *) max_len=4096 ;;
    esac
    work="$builddir/tests/fuzz/work/$name"
    findings="$builddir/tests/fuzz/findings/$name"
    log="$builddir/tests/fuzz/fuzz_$name.log"
    mkdir -p "$work" "$findings"
    dict=""
    [ -f "$srcdir/tests/fuzz/dict/$name.dict" ] && dict="-dict=$srcdir/tests/fuzz/dict/$name.dict"
    printf 'fuzz %-16s %4ss, max_len %5s ... ' "$name" "$seconds" "$max_len"
    #  libFuzzer writes new inputs to the first corpus directory only.
    # shellcheck disable=SC2086
    if ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
        "$builddir/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -max_len="$max_len" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="$findings/" \
        $dict ${FUZZ_FLAGS:-} "$work" "$srcdir/tests/fuzz/corpus/$name" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        units=$(ls "$work" | wc -l)
        echo "ok: $runs runs, $units inputs in work/"
    else
        echo "FAILED (log: $log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*oracle failed|artifact_prefix|Test unit written)' \
            "$log" | head -8 | sed 's/^/    /'
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: findings in:$failed (inputs under $builddir/tests/fuzz/findings/)"
    exit 1
fi
echo "fuzz: no findings"
