/*  =========================================================================
    cli_supervisor - `cabruca supervisor`: talk to a running
    cabruca-supervisor over its control socket (status, start, stop,
    restart, reload). See docs/man/cabruca-supervisor-cli.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME             "cabruca supervisor"
#define S_DEFAULT_ENDPOINT "ipc:///tmp/cabruca/supervisor.ipc"

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: cabruca supervisor [--socket ENDPOINT] [--json] [--timeout MS] COMMAND [NAME]\n"
        "\n"
        "commands:\n"
        "  status          every program instance: state, pid, uptime, restarts, last exit\n"
        "  start NAME      start a program (all its instances) or one instance\n"
        "  stop NAME       stop it (stop signal, then SIGKILL after its stop timeout)\n"
        "  restart NAME    stop it and start it again\n"
        "  reload          reload the configuration (as SIGHUP does)\n"
        "\n"
        "--socket    control endpoint (default: $CABRUCA_SUPERVISOR, else %s)\n"
        "--json      print the supervisor's JSON reply\n"
        "--timeout   wait at most MS milliseconds for the answer (default 5000)\n"
        "\n"
        "Exit status: 0 done, 1 refused or no answer, 2 usage error.\n",
        S_DEFAULT_ENDPOINT);
}

static void
s_print_status (json_t *programs)
{
    printf ("%-24s %-9s %8s %10s %8s  %s\n", "NAME", "STATE", "PID", "UPTIME", "RESTARTS",
            "LAST EXIT");
    const char *name;
    json_t *program;
    json_object_foreach (programs, name, program)
    {
        char pid[24] = "-", uptime[32] = "-", last[32] = "-";
        json_t *value = json_object_get (program, "pid");
        if (json_is_integer (value))
            snprintf (pid, sizeof pid, "%" JSON_INTEGER_FORMAT, json_integer_value (value));
        value = json_object_get (program, "uptime");
        if (json_is_number (value))
            snprintf (uptime, sizeof uptime, "%.1fs", json_number_value (value));
        value = json_object_get (program, "last_exit");
        if (json_object_get (value, "signal"))
            snprintf (last, sizeof last, "signal %" JSON_INTEGER_FORMAT,
                      json_integer_value (json_object_get (value, "signal")));
        else if (json_object_get (value, "status"))
            snprintf (last, sizeof last, "status %" JSON_INTEGER_FORMAT,
                      json_integer_value (json_object_get (value, "status")));
        printf ("%-24s %-9s %8s %10s %8" JSON_INTEGER_FORMAT "  %s\n", name,
                json_string_value (json_object_get (program, "state")), pid, uptime,
                json_integer_value (json_object_get (program, "restarts")), last);
    }
}

int
cli_supervisor_main (int argc, char **argv)
{
    const char *endpoint = getenv ("CABRUCA_SUPERVISOR");
    if (!endpoint || !*endpoint)
        endpoint = S_DEFAULT_ENDPOINT;
    bool json = false;
    long timeout = 5000;
    const char *command = NULL, *name = NULL;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (cli_is_help (arg)) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        } else if (streq (arg, "--json"))
            json = true;
        else if (streq (arg, "--socket") && index + 1 < argc)
            endpoint = argv[++index];
        else if (streq (arg, "--timeout") && index + 1 < argc) {
            char *end = NULL;
            errno = 0;
            timeout = strtol (argv[++index], &end, 10);
            if (errno || *end || end == argv[index] || timeout < 0 || timeout > 3600000) {
                fprintf (stderr, S_NAME ": --timeout needs milliseconds (0 to 3600000)\n");
                return CLI_EXIT_USAGE;
            }
        } else if (arg[0] == '-') {
            fprintf (stderr, S_NAME ": unknown or incomplete option '%s'\n", arg);
            return CLI_EXIT_USAGE;
        } else if (!command)
            command = arg;
        else if (!name)
            name = arg;
        else {
            fprintf (stderr, S_NAME ": too many arguments\n");
            return CLI_EXIT_USAGE;
        }
    }
    bool named = command && (streq (command, "start") || streq (command, "stop") ||
                             streq (command, "restart"));
    bool plain = command && (streq (command, "status") || streq (command, "reload"));
    if (!command || (!named && !plain) || (named && !name) || (plain && name)) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    zsock_t *socket = zsock_new (ZMQ_REQ);
    if (!socket || zsock_connect (socket, "%s", endpoint) != 0) {
        fprintf (stderr, S_NAME ": cannot connect to %s\n", endpoint);
        zsock_destroy (&socket);
        return CLI_EXIT_FAILURE;
    }
    zsock_set_linger (socket, 0);
    zsock_set_rcvtimeo (socket, (int)timeout);
    zsock_set_sndtimeo (socket, (int)timeout);
    int rc = name ? zstr_sendx (socket, command, name, NULL) : zstr_send (socket, command);
    char *reply = rc == 0 ? zstr_recv (socket) : NULL;
    zsock_destroy (&socket);
    if (!reply) {
        fprintf (stderr, S_NAME ": no answer from the supervisor at %s within %ld ms\n", endpoint,
                 timeout);
        return CLI_EXIT_FAILURE;
    }
    json_t *document = json_loads (reply, 0, NULL);
    bool ok = json_is_true (json_object_get (document, "ok"));
    if (json)
        printf ("%s\n", reply);
    else if (!ok)
        ;
    else if (streq (command, "status"))
        s_print_status (json_object_get (document, "programs"));
    else if (named) {
        size_t index;
        json_t *process;
        json_array_foreach (json_object_get (document, "processes"), index, process)
            printf ("%s: %s\n", json_string_value (process), command);
    } else
        printf ("reloaded\n");
    if (!ok)
        fprintf (stderr, S_NAME ": %s: %s [%s]\n", command,
                 json_string_value (json_object_get (document, "text")),
                 json_string_value (json_object_get (document, "error")));
    json_decref (document);
    zstr_free (&reply);
    return ok ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
