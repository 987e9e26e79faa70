/*  =========================================================================
    cabruca-broker - the broker daemon (a thin main; see docs/man/cabruca-broker.md)

    Foreground, logs to stderr, readiness line on a notification fd (s6),
    SIGTERM drains in-flight events. Exit: 0 ok, 100 usage or configuration
    error, 111 system error.
    =========================================================================
*/
#include "config.h"
#include "cab_broker.h"
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
    fprintf (out, "usage: cabruca-broker --config FILE [-n] [--notify-fd N]\n"
                  "\n"
                  "  -c, --config FILE   the broker's JSON configuration (required)\n"
                  "  -n, --check         check the configuration and the schemas, then exit\n"
                  "  -d, --notify-fd N   write a newline to fd N when ready, then close it\n"
                  "  -h, --help          show this help\n"
                  "      --version       show the version\n"
                  "\n"
                  "Exit status: 0 ok, 100 usage or configuration error, 111 system error.\n");
}

//  Parse a file descriptor number; -1 if it is not one.
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

//  Load the schemas once to report their errors as configuration errors.
static cab_status_t
s_check_schemas (const cab_broker_config_t *config, cab_error_t *error)
{
    if (!config->schemas_dir)
        return CAB_OK;
    cab_registry_t *registry = cab_registry_new ();
    if (!registry)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    cab_status_t status = cab_registry_load_dir (registry, config->schemas_dir, error);
    cab_registry_destroy (&registry);
    return status;
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
                fprintf (stderr, "cabruca-broker: --notify-fd needs a file descriptor\n");
                return S_EXIT_USAGE;
            }
        } else if (streq (arg, "-h") || streq (arg, "--help")) {
            s_usage (stdout);
            return S_EXIT_OK;
        } else if (streq (arg, "--version")) {
            printf ("cabruca-broker %s\n", PACKAGE_VERSION);
            return S_EXIT_OK;
        } else {
            fprintf (stderr, "cabruca-broker: unknown or incomplete option '%s'\n", arg);
            s_usage (stderr);
            return S_EXIT_USAGE;
        }
    }
    if (!config_path) {
        fprintf (stderr, "cabruca-broker: --config FILE is required\n");
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    cab_error_t error;
    cab_error_clear (&error);
    char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    cab_broker_config_t *config = cab_broker_config_load (config_path, &error);
    if (!config || s_check_schemas (config, &error) != CAB_OK) {
        fprintf (stderr, "cabruca-broker: %s: %s [%s]\n", config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        cab_broker_config_destroy (&config);
        return error.code == CAB_ERR_IO || error.code == CAB_ERR_NOMEM ? S_EXIT_SYSTEM
                                                                       : S_EXIT_USAGE;
    }
    if (check_only) {
        fprintf (stderr, "cabruca-broker: %s: configuration OK\n", config_path);
        cab_broker_config_destroy (&config);
        return S_EXIT_OK;
    }
    //  Signals: blocked in every thread, taken here with sigwait.
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);
    zsys_handler_set (NULL);
    zsys_set_logident ("cabruca-broker");
    zsys_set_logstream (stderr);

    cab_broker_t *broker = cab_broker_new (&config, &error);
    if (!broker) {
        fprintf (stderr, "cabruca-broker: cannot start: %s [%s]\n",
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_CONFIG ? S_EXIT_USAGE : S_EXIT_SYSTEM;
    }
    fprintf (stderr, "cabruca-broker: ready on");
    for (size_t index = 0; cab_broker_endpoint (broker, index); index++)
        fprintf (stderr, " %s", cab_broker_endpoint (broker, index));
    fprintf (stderr, "\n");
    if (notify_fd >= 0) {
        if (write (notify_fd, "\n", 1) != 1)
            fprintf (stderr, "cabruca-broker: cannot write to notify fd %d: %s\n", notify_fd,
                     strerror (errno));
        close (notify_fd);
    }
    int signal_number = 0;
    sigwait (&signals, &signal_number);
    fprintf (stderr, "cabruca-broker: %s: draining\n", strsignal (signal_number));
    cab_broker_destroy (&broker);
    fprintf (stderr, "cabruca-broker: stopped\n");
    return S_EXIT_OK;
}
