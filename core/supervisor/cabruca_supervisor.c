/*  =========================================================================
    cabruca-supervisor - runs and keeps up the programs of a configuration
    (a thin main; see docs/man/cabruca-supervisor.md)

    Foreground, logs to stderr, readiness line on a notification fd (s6),
    SIGTERM or SIGINT stops every program in reverse dependency order,
    SIGHUP reloads. Exit: 0 ok, 100 usage or configuration error, 111
    system error.
    =========================================================================
*/
#include "config.h"
#include "cab_supervisor.h"
#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_EXIT_OK     0
#define S_EXIT_USAGE  100
#define S_EXIT_SYSTEM 111

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: cabruca-supervisor --config FILE [-n] [--notify-fd N]\n"
                  "\n"
                  "  -c, --config FILE   the supervisor's JSON configuration (required)\n"
                  "  -n, --check         check the configuration, then exit\n"
                  "  -d, --notify-fd N   write a newline to fd N when ready, then close it\n"
                  "  -h, --help          show this help\n"
                  "      --version       show the version\n"
                  "\n"
                  "Exit status: 0 ok, 100 usage or configuration error, 111 system error.\n");
}

static int
s_parse_fd (const char *text)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < 0 || value > 65535)
        return -1;
    return (int)value;
}

int
main (int argc, char **argv)
{
    const char *config_path = NULL;
    bool check_only = false;
    int notify_fd = -1;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        bool has_value = index + 1 < argc;
        if ((streq (arg, "-c") || streq (arg, "--config")) && has_value)
            config_path = argv[++index];
        else if (streq (arg, "-n") || streq (arg, "--check"))
            check_only = true;
        else if ((streq (arg, "-d") || streq (arg, "--notify-fd")) && has_value) {
            notify_fd = s_parse_fd (argv[++index]);
            if (notify_fd < 0) {
                fprintf (stderr, "cabruca-supervisor: --notify-fd needs a file descriptor\n");
                return S_EXIT_USAGE;
            }
        } else if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (stdout);
            return S_EXIT_OK;
        } else if (streq (arg, "--version")) {
            printf ("cabruca-supervisor %s\n", PACKAGE_VERSION);
            return S_EXIT_OK;
        } else {
            fprintf (stderr, "cabruca-supervisor: unknown or incomplete option '%s'\n", arg);
            s_usage (stderr);
            return S_EXIT_USAGE;
        }
    }
    if (!config_path) {
        fprintf (stderr, "cabruca-supervisor: --config FILE is required\n");
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    cab_error_t error;
    cab_error_clear (&error);
    char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    cab_supervisor_config_t *config = cab_supervisor_config_load (config_path, &error);
    if (!config) {
        fprintf (stderr, "cabruca-supervisor: %s: %s [%s]\n", config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        return error.code == CAB_ERR_NOMEM ? S_EXIT_SYSTEM : S_EXIT_USAGE;
    }
    if (check_only) {
        fprintf (stderr, "cabruca-supervisor: %s: configuration OK (%zu programs)\n", config_path,
                 config->program_count);
        cab_supervisor_config_destroy (&config);
        return S_EXIT_OK;
    }
    //  Signals: blocked in every thread (before ZeroMQ starts its own),
    //  taken by the supervisor's signalfd.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGCHLD);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGHUP);
    sigprocmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_set_logident ("cabruca-supervisor");

    cab_supervisor_t *supervisor = cab_supervisor_new (config_path, &config, &error);
    if (!supervisor) {
        fprintf (stderr, "cabruca-supervisor: cannot start: %s [%s]\n",
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_CONFIG ? S_EXIT_USAGE : S_EXIT_SYSTEM;
    }
    fprintf (stderr, "cabruca-supervisor: ready, control on %s\n",
             cab_supervisor_endpoint (supervisor));
    if (notify_fd >= 0) {
        if (write (notify_fd, "\n", 1) != 1)
            fprintf (stderr, "cabruca-supervisor: cannot write to notify fd %d: %s\n", notify_fd,
                     strerror (errno));
        close (notify_fd);
    }
    cab_status_t status = cab_supervisor_run (supervisor);
    cab_supervisor_destroy (&supervisor);
    fprintf (stderr, "cabruca-supervisor: stopped\n");
    return status == CAB_OK ? S_EXIT_OK : S_EXIT_SYSTEM;
}
