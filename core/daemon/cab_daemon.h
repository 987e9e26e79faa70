/*  =========================================================================
    cab_daemon - what every cabruca daemon's thin main shares

    The s6 conventions of STYLE.md in one place: the common options
    (--config, -n, --notify-fd, --help, --version), the exit codes, and the
    readiness line on a notification fd.
    =========================================================================
*/
#ifndef CAB_DAEMON_H_INCLUDED
#define CAB_DAEMON_H_INCLUDED

#include "cabruca.h"
#include <stdio.h>

//  Exit codes of every daemon (docs/errors.md).
#define CAB_DAEMON_EXIT_OK     0
#define CAB_DAEMON_EXIT_USAGE  100
#define CAB_DAEMON_EXIT_SYSTEM 111

//  Result of cab_daemon_parse: go on and run the daemon.
#define CAB_DAEMON_RUN (-1)

typedef struct {
    const char *config_path;  //  --config FILE (borrowed from argv)
    bool check_only;          //  -n, --check
    int notify_fd;            //  --notify-fd N, or -1
} cab_daemon_options_t;

//  Print a daemon's usage: the line "usage: NAME --config FILE [-n]
//  [--notify-fd N]", the common options with `config_help` and `check_help`
//  as the texts of --config and -n, and the exit statuses.
void
    cab_daemon_usage (FILE *out, const char *name, const char *config_help,
                      const char *check_help);

//  Parse the common options into *options. Returns CAB_DAEMON_RUN when the
//  daemon should go on; otherwise the exit code main should return, after
//  printing the help (0), the version (0) or a usage error (100) as NAME.
int
    cab_daemon_parse (int argc, char **argv, const char *name, const char *config_help,
                      const char *check_help, cab_daemon_options_t *options);

//  Announce readiness: write a newline to notify_fd and close it (nothing
//  when notify_fd is negative). A failed write is logged on stderr as NAME
//  and otherwise ignored: the daemon runs on.
void
    cab_daemon_notify_ready (const char *name, int notify_fd);

#endif
