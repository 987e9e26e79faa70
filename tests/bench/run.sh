#!/bin/sh
#  The benchmark suite: run every benchmark program that `make bench` built,
#  one after the other (they measure throughput: never in parallel), collect
#  the `BENCH name=... value=... unit=... [baseline=...] [target=...]` lines
#  they print, and write ONE markdown table -- median, the baseline measured
#  in the same run, the ratio, the target and PASS/MISS -- to stdout and to
#  BUILDDIR/bench-results.md (each program's output: BUILDDIR/bench-logs/).
#
#    run.sh BUILDDIR SRCDIR          (`make bench`, `make bench-quick`)
#
#  Environment:
#    BENCH_QUICK=1           smaller counts for a smoke run (< 3 minutes)
#    BENCH_ONLY="a b"        run only these programs (names without the path)
#    BENCH_ARGS_<name>="..." the arguments of one program instead of the
#                            suite's (e.g. BENCH_ARGS_bench_store="-r 5")
#    BENCH_TIMEOUT=S         stop a program after S seconds (default 900,
#                            quick 180)
#  Exit status: 0 every program ran and exited 0 (a MISS is not a failure:
#  the table says it); 1 otherwise.
builddir=${1:?usage: run.sh BUILDDIR SRCDIR}
srcdir=${2:?usage: run.sh BUILDDIR SRCDIR}
CAB_BUILDDIR=$builddir
CAB_SRCDIR=$srcdir
export CAB_BUILDDIR CAB_SRCDIR
LC_ALL=C
export LC_ALL
logdir=$builddir/bench-logs
results=$builddir/bench-results.md
summary=$logdir/summary.txt
mkdir -p "$logdir" || exit 1
: > "$summary"
quick=${BENCH_QUICK:-}
if [ -n "$quick" ]; then
    mode=quick
    limit=${BENCH_TIMEOUT:-180}
else
    mode=full
    limit=${BENCH_TIMEOUT:-900}
fi

#  The suite's arguments for a program (full, quick).
args_for () {
    case "$1" in
    bench_event) [ -n "$quick" ] && echo "-r 3 -n 5000" || echo "-r 11 -n 20000" ;;
    bench_schema) [ -n "$quick" ] && echo "-r 3 -n 5000" || echo "-r 9 -n 20000" ;;
    bench_store) [ -n "$quick" ] && echo "-r 1 -n 5000" || echo "-r 3 -n 50000" ;;
    bench_pattern) [ -n "$quick" ] && echo "-r 1 -n 2000" || echo "-r 5 -n 10000" ;;
    bench_mirror) [ -n "$quick" ] && echo "-r 1 -n 2000" || echo "-r 3 -n 10000" ;;
    bench_mirror_path) [ -n "$quick" ] && echo "-r 1 -n 5000" || echo "-r 3 -n 20000" ;;
    bench_ingest) [ -n "$quick" ] && echo "-n 40000 -r 1 -l 2 -S 0 -G 2000,20000" ||
        echo "-n 200000 -r 5 -l 5 -S 1000000 -G 1000,2000,5000,10000,20000" ;;
    bench_delivery) [ -n "$quick" ] && echo "-r 1 -n 20000 -R 10000 -s 2" ||
        echo "-r 5 -n 100000 -R 10000 -s 10" ;;
    bench_startup) [ -n "$quick" ] && echo "-r 3" || echo "-r 7" ;;
    bench_dashboard) [ -n "$quick" ] && echo "-n 20000 -q 20" || echo "-n 1000000 -q 20" ;;
    bench_dashboard_queries) [ -n "$quick" ] && echo "-n 20000 -q 5" || echo "-n 1000000 -q 20" ;;
    bench_rules) [ -n "$quick" ] && echo "-r 3 -n 20000" || echo "-r 9 -n 100000" ;;
    bench_typed_events) [ -n "$quick" ] && echo "-r 3 -n 5000" || echo "-r 5 -n 20000" ;;
    bench_budget) [ -n "$quick" ] && echo "-r 3 -n 20000" || echo "-r 5 -n 200000" ;;
    bench_sender) [ -n "$quick" ] && echo "-r 1 -n 5000 -h 300" || echo "-r 5 -n 50000 -h 3000" ;;
    *) echo "" ;;
    esac
}

#  bench_delivery prints no summary lines: take its figures from its report.
delivery_summary () {
    awk '
        $1 == "publish->delivery" { d50 = $3; d99 = $6; d999 = $9 }
        $1 == "publish->ACK" { a50 = $3; a99 = $6; a999 = $9 }
        $1 == "ingest:" && $2 == "routing" {
            off = $4; on = $9; sub(/,$/, "", off)
        }
        END {
            if (d50 != "") {
                printf "BENCH name=delivery_p50 value=%s unit=ms baseline=%s baseline_unit=ms\n", d50, a50
                printf "BENCH name=delivery_p99 value=%s unit=ms baseline=%s baseline_unit=ms target=<5\n", d99, a99
                printf "BENCH name=delivery_p999 value=%s unit=ms baseline=%s baseline_unit=ms\n", d999, a999
            }
            if (on != "")
                printf "BENCH name=routing_throughput value=%s unit=events/s baseline=%s baseline_unit=events/s target=ratio>=0.8\n", on, off
        }' "$1"
}

#  ------------------------------------------------------------------------
#  The machine and the command, before anything runs.
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
cpus=$(nproc 2>/dev/null || echo '?')
model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
memory=$(awk '/^MemTotal:/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
kernel=$(uname -sr)
cflags=$(sed -n 's/^CFLAGS = //p' "$builddir/Makefile" 2>/dev/null | head -n 1)
revision=$(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$quick" ] && command="make bench-quick" || command="make bench"

#  ------------------------------------------------------------------------
#  Run the programs: the suite's order first, then any other bench_*.
order="bench_event bench_schema bench_store bench_pattern bench_mirror bench_ingest"
order="$order bench_delivery bench_dashboard bench_dashboard_queries bench_startup bench_rules bench_typed_events bench_budget bench_sender"
for bin in "$builddir"/tests/bench/bench_*; do
    name=$(basename "$bin")
    case "$name" in *.*) continue ;; esac
    case " $order " in *" $name "*) ;; *) order="$order $name" ;; esac
done
status=0
missing=""
failed=""
for name in $order; do
    bin=$builddir/tests/bench/$name
    if [ -n "${BENCH_ONLY:-}" ]; then
        case " $BENCH_ONLY " in *" $name "*) ;; *) continue ;; esac
    fi
    if [ ! -x "$bin" ]; then
        missing="$missing $name"
        continue
    fi
    custom=""
    eval "custom=\${BENCH_ARGS_$name+set}"
    if [ "$custom" = set ]; then
        eval "args=\$BENCH_ARGS_$name"
    else
        args=$(args_for "$name")
    fi
    echo "== $name $args"
    log=$logdir/$name.log
    timer=""
    command -v timeout > /dev/null 2>&1 && timer="timeout -k 10 $limit"
    # shellcheck disable=SC2086
    { $timer "$bin" $args 2>&1; echo "$?" > "$logdir/$name.rc"; } | tee "$log"
    rc=$(cat "$logdir/$name.rc" 2>/dev/null || echo 1)
    if [ "$rc" != 0 ]; then
        status=1
        failed="$failed $name($rc)"
        echo "== $name exited $rc"
    fi
    #  bench_delivery's figures from its report (its own BENCH lines, if it
    #  prints some one day, come after and win).
    if [ "$name" = bench_delivery ]; then
        delivery_summary "$log" | sed "s/^BENCH /BENCH prog=$name /" >> "$summary"
    fi
    sed -n "s/^BENCH /BENCH prog=$name /p" "$log" >> "$summary"
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)

#  The tuned SQLite insert loop: bench_store's baseline at 1,000 rows per commit.
awk '/name=store_normal_b1000_v7 / { for (i = 1; i <= NF; i++) if ($i ~ /^baseline=/)
    print "BENCH prog=bench_store name=sqlite_baseline value=" substr($i, 10) " unit=rows/s" }' \
    "$summary" >> "$summary.tmp" && cat "$summary.tmp" >> "$summary"
rm -f "$summary.tmp"

#  ------------------------------------------------------------------------
#  The table.
dashboard="not built"
[ -x "$builddir/cabruca-dashboard" ] && dashboard="bench_dashboard not run or failed (see bench-logs/)"

{
    echo "# cabruca benchmark results ($mode)"
    echo
    echo "- command: \`$command\` (tests/bench/run.sh; each program's output in bench-logs/)"
    echo "- started: $started, revision $revision; load average at the start: $load_start, at the end: $load_end"
    echo "- machine: $cpus CPUs, $model, $memory memory, $kernel"
    echo "- build: CFLAGS = $cflags"
    [ -n "$failed" ] && echo "- FAILED (exit status): $failed -- their rows may be missing"
    [ -n "$missing" ] && echo "- not built:$missing"
    echo
    awk -v dashboard="$dashboard" '
        function fmt(x,    s, neg, out, n) {
            if (x == "") return ""
            x = x + 0
            if (x >= 1000 || x <= -1000) {
                s = sprintf("%.0f", x); neg = ""
                if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
                out = ""
                while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
                return neg s out
            }
            if (x >= 100 || x <= -100) return sprintf("%.0f", x)
            if (x >= 10 || x <= -10) return sprintf("%.1f", x)
            return sprintf("%.3g", x)
        }
        #  Does value (or ratio, for "ratio>=X") meet target? PASS, MISS or --.
        function verdict(target, value, ratio,    op, limit, v) {
            if (target == "" || value == "") return "--"
            v = value + 0
            if (substr(target, 1, 5) == "ratio") { target = substr(target, 6); if (ratio == "") return "--"; v = ratio + 0 }
            op = target; sub(/[0-9.].*$/, "", op)
            limit = substr(target, length(op) + 1) + 0
            if (op == ">=") return v >= limit ? "PASS" : "MISS"
            if (op == ">") return v > limit ? "PASS" : "MISS"
            if (op == "<=") return v <= limit ? "PASS" : "MISS"
            if (op == "<") return v < limit ? "PASS" : "MISS"
            return "--"
        }
        function mt(n) { return MA[n] == "" ? "" : " (" MA[n] " matches/event)" }
        function target_text(target, unit,    t, pre, op) {
            if (target == "") return "--"
            t = target; pre = ""
            if (substr(t, 1, 5) == "ratio") { t = substr(t, 6); unit = ""; pre = "ratio " }
            op = t; sub(/[0-9.].*$/, "", op)
            return pre op " " fmt(substr(t, length(op) + 1)) (unit == "" ? "" : " " unit)
        }
        #  One row: label, metric, baseline text; base (optional): another
        #  metric whose value is the baseline; why: text when not measured.
        function row(label, name, baseline_label, base, why, target_override,    v, b, r, t, u) {
            v = V[name]; u = U[name] == "" ? DU[name] : U[name]
            t = target_override != "" ? target_override : (T[name] != "" ? T[name] : DT[name])
            if (t == "none") t = ""
            if (v == "") {
                printf "| %s | %s | | | %s | -- |\n", label, why == "" ? "not measured (see bench-logs/)" : why, target_text(t, u)
                return
            }
            b = base != "" ? V[base] : B[name]
            r = (b != "" && b + 0 != 0) ? v / b : ""
            result = verdict(t, v, r)
            if ((name == "broker_rss" || name ~ /^dashboard/) && E[name] + 0 < 1000000 && result != "--") result = result " (fewer than 1,000,000 events stored)"
            printf "| %s | %s %s | %s | %s | %s | %s |\n", label, fmt(v), u, \
                b == "" ? "--" : fmt(b) " " baseline_label, r == "" ? "--" : sprintf("%.3g", r), \
                target_text(t, u), result
        }
        BEGIN {
            #  The targets of issues 4, 5, 7, 9 and 12 (a program line may state its own).
            DT["ingest_throughput"] = ">=50000"; DU["ingest_throughput"] = "events/s"
            DT["ack_p99"] = "<5"; DU["ack_p99"] = "ms"; DT["mix_ack_p99"] = "<5"; DU["mix_ack_p99"] = "ms"
            DT["delivery_p99"] = "<5"; DU["delivery_p99"] = "ms"
            DT["pattern_100"] = ">=100000"; DU["pattern_100"] = "events/s"
            DT["mirror"] = ">=10000"; DU["mirror"] = "events/s"
            DT["broker_rss"] = "<64"; DU["broker_rss"] = "MB"
        }
        {
            name = ""
            for (i = 2; i <= NF; i++) {
                eq = index($i, "="); if (!eq) continue
                k = substr($i, 1, eq - 1); val = substr($i, eq + 1)
                if (k == "name") name = val
                F[k] = val
            }
            if (name == "") next
            V[name] = F["value"]; U[name] = F["unit"]; B[name] = F["baseline"]; T[name] = F["target"]
            E[name] = F["events"]; R[name] = F["rate"]; M[name] = F["mode"]; P[name] = F["programs"]
            MA[name] = F["matches"]; BE[name] = F["baseline_events"]
            P50[name] = F["p50"]; P999[name] = F["p999"]; AR[name] = F["acked_rate"]; CPU[name] = F["cpu_us"]
            if (name ~ /^load_/) loads[++nloads] = name
            if (name ~ /^dashq_/) dashq[++ndashq] = name
            delete F
        }
        END {
            print "| metric | median | baseline (same run) | ratio | target | result |"
            print "|---|---|---|---|---|---|"
            row("ingest, acknowledged + durable (4 publisher processes, 1 KB, normal)", "ingest_throughput", "raw ZeroMQ DEALER/ROUTER acks/s")
            row("ingest against a tuned SQLite insert loop (1 KB rows, 1,000 per commit)", "ingest_throughput", "rows/s", "sqlite_baseline", "", "none")
            row("ingest against jansson parse of the same 1 KB event", "ingest_throughput", "parses/s", "jansson_parse", "", "none")
            row("ingest, realistic mix (cabruca-loadtest: 4 agents, 4 event types, 1 KB)", "mix_throughput", "raw ZeroMQ acks/s")
            rate = R["ack_p50"] == "" ? "10,000" : fmt(R["ack_p50"])
            row("publish->ACK p50 at " rate " events/s", "ack_p50", "ms raw ZeroMQ")
            row("publish->ACK p99 at " rate " events/s", "ack_p99", "ms raw ZeroMQ")
            row("publish->ACK p99.9 at " rate " events/s", "ack_p999", "ms raw ZeroMQ")
            row("publish->ACK p99, realistic mix (cabruca-loadtest) at " rate " events/s", "mix_ack_p99", "ms raw ZeroMQ")
            why = "bench_delivery not run or failed (see bench-logs/)"
            row("publish->delivery p50 at 10,000 events/s, six default rules", "delivery_p50", "ms publish->ACK", "", why)
            row("publish->delivery p99 at 10,000 events/s, six default rules", "delivery_p99", "ms publish->ACK", "", why, "<5")
            row("publish->delivery p99.9 at 10,000 events/s, six default rules", "delivery_p999", "ms publish->ACK", "", why)
            row("ingest with the six default rules routing (on vs off)", "routing_throughput", "events/s routing off", "", why, "ratio>=0.8")
            row("pattern matching, 10 rules, one core" mt("pattern_10"), "pattern_10", "json_loads/s")
            row("pattern matching, 100 rules, one core" mt("pattern_100"), "pattern_100", "json_loads/s")
            row("pattern matching, 1,000 rules, one core" mt("pattern_1000"), "pattern_1000", "json_loads/s")
            row("mirror to the local endpoint (PutEvents, batches of 10)", "mirror", "the fake alone")
            if (V["dashboard_p95"] != "") {
                row("dashboard filtered pages of 100, p95, on " fmt(E["dashboard_p95"]) " stored events", "dashboard_p95", "ms SQLite alone")
                row("dashboard stats p95 on " fmt(E["dashboard_stats_p95"]) " stored events", "dashboard_stats_p95", "")
            } else
                printf "| dashboard query p95 on 1,000,000 events | %s | | | < 100 ms | -- |\n", dashboard
            ev = E["broker_rss"] == "" ? "" : " after " fmt(E["broker_rss"]) " stored events"
            row("broker peak RSS" ev, "broker_rss", "")
            what = M["startup"] == "system" ? "the whole system, " P["startup"] " programs (cabruca-system.sh: broker, 4 agents, ...)" : "the broker only (the agents are not built)"
            row("start-up under cabruca-supervisor: " what, "startup", "ms the broker alone")
            print ""
            print "Baselines and components, same run:"
            print ""
            print "| what | median | baseline | ratio |"
            print "|---|---|---|---|"
            if (V["ingest_throughput"] != "") printf "| raw ZeroMQ DEALER/ROUTER, 1 KB, acked, 4 processes | %s msg/s | | |\n", fmt(B["ingest_throughput"])
            if (V["sqlite_baseline"] != "") printf "| tuned SQLite insert loop (WAL, NORMAL, 1,000 rows per commit) | %s rows/s | | |\n", fmt(V["sqlite_baseline"])
            if (V["jansson_parse"] != "") printf "| jansson parse of the 1 KB event (json_loadb) | %s events/s | | |\n", fmt(V["jansson_parse"])
            if (V["store_normal_b1000_v7"] != "") printf "| cab_store_append, NORMAL, 1,000 per commit | %s rows/s | %s SQLite | %.2f |\n", fmt(V["store_normal_b1000_v7"]), fmt(B["store_normal_b1000_v7"]), V["store_normal_b1000_v7"] / B["store_normal_b1000_v7"]
            if (V["event_load"] != "") printf "| cab_event_load (scan + parse + envelope) | %s events/s | %s json_loadb | %.2f |\n", fmt(V["event_load"]), fmt(B["event_load"]), V["event_load"] / B["event_load"]
            if (V["event_text"] != "") printf "| cabi_json_dumps, the event back to text (cab_event_text) | %s events/s | %s json_dumps | %.2f |\n", fmt(V["event_text"]), fmt(B["event_text"]), V["event_text"] / B["event_text"]
            if (V["registry_validate"] != "") printf "| cab_registry_validate (envelope + type schema) | %s events/s | %s json_loadb | %.2f |\n", fmt(V["registry_validate"]), fmt(B["registry_validate"]), V["registry_validate"] / B["registry_validate"]
            if (V["ingest_cpu"] != "") printf "| broker CPU per acked event (all threads) | %s us | %s us per event in the publisher | |\n", fmt(V["ingest_cpu"]), fmt(B["ingest_cpu"])
            for (i = 1; i <= ndashq; i++) {
                n = dashq[i]; label = n; sub(/^dashq_/, "", label); gsub(/_/, " ", label)
                printf "| dashboard store query in-process (bench_dashboard_queries): %s | %s %s | %s | %s |\n", label, fmt(V[n]), U[n], \
                    B[n] == "" ? "" : fmt(B[n]) " ms bare SQLite page", (B[n] != "" && B[n] + 0 != 0) ? sprintf("%.3g", V[n] / B[n]) : ""
            }
            if (V["mirror_dry"] != "") printf "| cab_mirror dry-run (no network) | %s events/s | | |\n", fmt(V["mirror_dry"])
            if (nloads) {
                print ""
                print "Cost against load (bench_ingest -G: 4 paced publishers, one run per rate):"
                print ""
                print "| offered events/s | acked events/s | publish->ACK p50 | p99 | p99.9 | broker CPU per event |"
                print "|---|---|---|---|---|---|"
                for (i = 1; i <= nloads; i++) {
                    n = loads[i]; r = n; sub(/^load_/, "", r)
                    printf "| %s | %s | %s ms | %s ms | %s ms | %s us |\n", fmt(r), fmt(AR[n]), fmt(P50[n]), fmt(V[n]), fmt(P999[n]), fmt(CPU[n])
                }
            }
            if (V["ingest_history"] != "") {
                print ""
                printf "Stored history: ingest %s events/s with %s events already stored, against %s with %s (first run); ratio %.2f.\n", \
                    fmt(V["ingest_history"]), fmt(E["ingest_history"]), fmt(B["ingest_history"]), fmt(BE["ingest_history"]), V["ingest_history"] / B["ingest_history"]
            }
        }' "$summary"
} > "$results"
echo
echo "== results ($results)"
cat "$results"
exit $status
