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
#include "cab_daemon.h"
#include "cab_supervisor.h"
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
    cab_daemon_options_t options;
    int exit_code = cab_daemon_parse (argc, argv, "cabruca-supervisor",
                                      "the supervisor's JSON configuration (required)",
                                      "check the configuration, then exit", &options);
    if (exit_code != CAB_DAEMON_RUN)
        return exit_code;
    const char *config_path = options.config_path;
    cab_error_t error;
    cab_error_clear (&error);
    char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    cab_supervisor_config_t *config = cab_supervisor_config_load (config_path, &error);
    if (!config) {
        fprintf (stderr, "cabruca-supervisor: %s: %s [%s]\n", config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        return error.code == CAB_ERR_NOMEM ? CAB_DAEMON_EXIT_SYSTEM : CAB_DAEMON_EXIT_USAGE;
    }
    if (options.check_only) {
        fprintf (stderr, "cabruca-supervisor: %s: configuration OK (%zu programs)\n", config_path,
                 config->program_count);
        cab_supervisor_config_destroy (&config);
        return CAB_DAEMON_EXIT_OK;
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
        return error.code == CAB_ERR_INVALID_CONFIG ? CAB_DAEMON_EXIT_USAGE
                                                    : CAB_DAEMON_EXIT_SYSTEM;
    }
    fprintf (stderr, "cabruca-supervisor: ready, control on %s\n",
             cab_supervisor_endpoint (supervisor));
    cab_daemon_notify_ready ("cabruca-supervisor", options.notify_fd);
    cab_status_t status = cab_supervisor_run (supervisor);
    cab_supervisor_destroy (&supervisor);
    fprintf (stderr, "cabruca-supervisor: stopped\n");
    return status == CAB_OK ? CAB_DAEMON_EXIT_OK : CAB_DAEMON_EXIT_SYSTEM;
}
