#!/bin/sh
#  cabruca-system.sh - start the whole system on its embedded defaults.
#
#    cabruca-system.sh BINDIR SRCDIR RUNDIR [REPOSITORY]
#
#  Writes a default configuration into RUNDIR (only the files that are not
#  there yet: edit them and run again) and runs cabruca-supervisor in the
#  foreground with the broker (the six default rules, a SQLite store in
#  RUNDIR), the dashboard ($CABRUCA_DASHBOARD_LISTEN, default
#  127.0.0.1:8080) and the four agents: the developer watching the git repository
#  REPOSITORY (default SRCDIR), the tester running its unit tests on approved commits, the
#  monitor watching this host, the product agent filing requests. Ctrl-C
#  (SIGINT) or SIGTERM stops everything, agents first, broker last.
#  `./setup.sh start` calls it; docs/operations.md explains the files.
set -eu
BIN=${1:?usage: cabruca-system.sh BINDIR SRCDIR RUNDIR}
SRC=${2:?usage: cabruca-system.sh BINDIR SRCDIR RUNDIR}
RUN=${3:?usage: cabruca-system.sh BINDIR SRCDIR RUNDIR}
REPO=${4:-$SRC}
mkdir -p "$RUN/logs"
chmod 700 "$RUN"
ENDPOINT="ipc://$RUN/broker.ipc"

#  write FILE: stdin to FILE unless it exists (the user's edits win).
write () {
    if [ -e "$1" ]; then cat > /dev/null; else cat > "$1"; fi
}

write "$RUN/broker.json" <<JSON
{"endpoints": ["$ENDPOINT"],
 "store": {"path": "events.db", "durability": "normal"},
 "schemas": "$SRC/schemas",
 "rules": "$SRC/schemas/rules/default.json",
 "data_dir": "$RUN",
 "agents": {"monitor-001": {"sources": ["cabruca.agents.monitor"]},
            "product-001": {"sources": ["cabruca.agents.product"]},
            "developer-001": {"sources": ["cabruca.agents.developer"]},
            "tester-001": {"sources": ["cabruca.agents.tester"]},
            "supervisor": {"sources": ["cabruca.supervisor"]}}}
JSON

#  The tester builds each approved commit of this repository in its own
#  worktree and runs the unit tests there.
write "$RUN/agents.json" <<JSON
{"broker": "$ENDPOINT",
 "monitor": {"interval_ms": 10000, "reminder_s": 3600, "host": "host:$(hostname)",
             "disks": [{"path": "/"}, {"path": "$RUN"}]},
 "developer": {"interval_ms": 5000, "state_file": "$RUN/developer-state.json",
               "repositories": [{"path": "$REPO", "branches": ["*"], "main_branches": ["main"],
                                 "test_command": "autoreconf -fi >/dev/null 2>&1 && ./configure -q && make -j2 >/dev/null && make check-unit"}]},
 "tester": {"work_dir": "$RUN/worktrees", "artifacts_dir": "$RUN/test-runs", "timeout_s": 1800},
 "product": {"threshold": 3, "window_s": 86400, "state_file": "$RUN/product-state.json"}}
JSON

LISTEN=${CABRUCA_DASHBOARD_LISTEN:-127.0.0.1:8080}
write "$RUN/dashboard.json" <<JSON
{"store": "$RUN/events.db", "listen": "$LISTEN", "www": "$SRC/core/dashboard/www",
 "broker": "$ENDPOINT", "supervisor": "ipc://$RUN/supervisor.ipc"}
JSON

agent () {  # agent NAME: one program entry
    cat <<JSON
  {"name": "$1", "command": ["$BIN/cabruca-$1", "--config", "$RUN/agents.json", "--notify-fd", "3"],
   "notify_fd": 3, "depends_on": ["broker"], "restart": "always",
   "backoff": {"initial": 1, "maximum": 30}, "directory": "$RUN"}
JSON
}
{
    cat <<JSON
{"run_dir": "$RUN", "log_dir": "$RUN/logs",
 "broker": {"endpoint": "$ENDPOINT"},
 "programs": [
  {"name": "broker", "command": ["$BIN/cabruca-broker", "--config", "$RUN/broker.json", "--notify-fd", "3"],
   "notify_fd": 3, "stop_timeout": 30, "directory": "$RUN"},
JSON
    agent monitor; echo ","; agent developer; echo ","; agent tester; echo ","; agent product
    cat <<JSON
 ,{"name": "dashboard", "command": ["$BIN/cabruca-dashboard", "--config", "$RUN/dashboard.json", "--notify-fd", "3"],
   "notify_fd": 3, "depends_on": ["broker"], "restart": "always", "directory": "$RUN"}
 ]}
JSON
} | write "$RUN/supervisor.json"

"$BIN/cabruca-supervisor" -n --config "$RUN/supervisor.json" >/dev/null

cat >&2 <<TEXT
cabruca: starting the supervisor, the broker and the four agents (configuration in $RUN).
  what happened:   CABRUCA_BROKER=$ENDPOINT $BIN/cabruca status
  cloud mirror:    CABRUCA_BROKER=$ENDPOINT $BIN/cabruca budget   (and: cabruca mirror status)
  the programs:    CABRUCA_SUPERVISOR=ipc://$RUN/supervisor.ipc $BIN/cabruca supervisor status
  live events:     $BIN/cabruca tail --store $RUN/events.db
  the dashboard:   http://$LISTEN/ (see $RUN/logs/dashboard.log for the address)
  dead letters:    $BIN/cabruca dlq list --store $RUN/events.db
  logs:            $RUN/logs/ (one file per program); routed events in $RUN/logs/*.jsonl
  stop:            Ctrl-C
TEXT
exec "$BIN/cabruca-supervisor" --config "$RUN/supervisor.json"
