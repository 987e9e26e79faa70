/*  =========================================================================
    cli_status - `cabruca status`: the running broker's counters (the
    protocol's STATUS request). See docs/man/cabruca-status.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "cabruca status"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca status [--broker ENDPOINT] [--json] [--timeout MS]\n"
             "                      [--curve-cert FILE --server-cert FILE]\n"
             "\n"
             "Print the broker's counters: events received, stored, duplicates, refused\n"
             "(by code), in flight; the connected agents; the store's size.\n"
             "\n"
             "--broker    endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--json      print the broker's STATUS-REPLY document as JSON\n"
             "--timeout   wait at most MS milliseconds for the answer (default 5000)\n"
             "--curve-cert   CURVE: a secret certificate the broker knows (default\n"
             "               $CABRUCA_CURVE_CERT; docs/security.md)\n"
             "--server-cert  CURVE: the broker's public certificate (default\n"
             "               $CABRUCA_SERVER_CERT)\n"
             "\n"
             "Exit status: 0 the broker answered, 1 it did not, 2 usage error.\n",
             CAB_CLIENT_DEFAULT_ENDPOINT);
}

static json_int_t
s_int (json_t *object, const char *name)
{
    return json_integer_value (json_object_get (object, name));
}

static void
s_print (json_t *status)
{
    printf ("broker      %s (protocol %d), up %.1f s\n",
            json_string_value (json_object_get (status, "broker")), (int)s_int (status, "protocol"),
            (double)s_int (status, "uptime_ms") / 1000.0);
    printf ("received    %" JSON_INTEGER_FORMAT "\n", s_int (status, "received"));
    printf ("stored      %" JSON_INTEGER_FORMAT "\n", s_int (status, "stored"));
    printf ("duplicates  %" JSON_INTEGER_FORMAT "\n", s_int (status, "duplicates"));
    printf ("nacked      %" JSON_INTEGER_FORMAT, s_int (status, "nacked_total"));
    const char *code;
    json_t *count;
    const char *separator = " (";
    json_object_foreach (json_object_get (status, "nacked"), code, count)
    {
        printf ("%s%s %" JSON_INTEGER_FORMAT, separator, code, json_integer_value (count));
        separator = ", ";
    }
    printf ("%s\n", streq (separator, ", ") ? ")" : "");
    printf ("in flight   %" JSON_INTEGER_FORMAT "\n", s_int (status, "in_flight"));
    printf ("agents      %" JSON_INTEGER_FORMAT " connected", s_int (status, "connected_agents"));
    size_t index;
    json_t *agent;
    json_array_foreach (json_object_get (status, "agents"), index, agent) printf (
        "%s%s", index ? ", " : ": ", json_string_value (json_object_get (agent, "agent_id")));
    printf ("\n");
    json_t *store = json_object_get (status, "store");
    printf ("store       %s (%s), %.1f MB, last seq %" JSON_INTEGER_FORMAT "\n",
            json_string_value (json_object_get (store, "path")),
            json_string_value (json_object_get (store, "durability")),
            (double)s_int (store, "bytes") / 1e6, s_int (store, "last_seq"));
    printf ("errors      %" JSON_INTEGER_FORMAT " send failures, %" JSON_INTEGER_FORMAT
            " peers forgotten\n",
            s_int (status, "send_failures"), s_int (status, "peers_forgotten"));
    //  The cloud mirror's summary (cabruca mirror status, cabruca budget).
    json_t *mirror = json_object_get (status, "mirror");
    if (json_is_object (mirror) && !json_is_true (json_object_get (mirror, "enabled")))
        printf ("mirror      disabled\n");
    else if (json_is_object (mirror)) {
        char outbox[32], lag[32], accepted[32], dry_run[32], dead[32], cost[32];
        printf ("mirror      %s, outbox %s, lag %s; %s accepted, %s dry-run, %s dead; %s this "
                "month\n",
                json_is_true (json_object_get (mirror, "dry_run")) ? "dry-run" : "live",
                cli_count (json_object_get (mirror, "outbox"), outbox, sizeof outbox),
                cli_duration (s_int (mirror, "lag_ms"), lag, sizeof lag),
                cli_count (json_object_get (mirror, "accepted"), accepted, sizeof accepted),
                cli_count (json_object_get (mirror, "dry_run_events"), dry_run, sizeof dry_run),
                cli_count (json_object_get (mirror, "dead"), dead, sizeof dead),
                cli_money (json_object_get (mirror, "cost_usd_month"), cost, sizeof cost));
    }
}

int
cli_status_main (int argc, char **argv)
{
    const char *endpoint = NULL, *curve_cert = NULL, *server_cert = NULL;
    bool as_json = false;
    long timeout_ms = 5000;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (cli_is_help (arg)) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        } else if (streq (arg, "--json"))
            as_json = true;
        else if (streq (arg, "--broker") && index + 1 < argc)
            endpoint = argv[++index];
        else if (streq (arg, "--curve-cert") && index + 1 < argc)
            curve_cert = argv[++index];
        else if (streq (arg, "--server-cert") && index + 1 < argc)
            server_cert = argv[++index];
        else if (streq (arg, "--timeout") && index + 1 < argc) {
            char *end = NULL;
            timeout_ms = strtol (argv[++index], &end, 10);
            if (!end || *end || timeout_ms < 1 || timeout_ms > 86400000) {
                fprintf (stderr, S_NAME ": --timeout needs milliseconds (1..86400000)\n");
                return CLI_EXIT_USAGE;
            }
        } else {
            fprintf (stderr, S_NAME ": unknown or incomplete option '%s'\n", arg);
            s_usage (stderr);
            return CLI_EXIT_USAGE;
        }
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_client_t *client = cab_client_new (endpoint, NULL, &error);
    if (client && cli_curve_apply (client, curve_cert, server_cert, &error) != CAB_OK)
        cab_client_destroy (&client);
    json_t *status = NULL;
    if (client)
        cab_client_status (client, &status, (int)timeout_ms, &error);
    cab_client_destroy (&client);
    if (!status) {
        fprintf (stderr, S_NAME ": %s [%s]\n", error.text, cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    if (as_json) {
        char *text = json_dumps (status, JSON_INDENT (2) | JSON_SORT_KEYS);
        if (text)
            printf ("%s\n", text);
        free (text);
    } else
        s_print (status);
    json_decref (status);
    return CLI_EXIT_OK;
}
