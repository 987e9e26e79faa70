/*  =========================================================================
    cli_publish - `cabruca publish`: send events to a running broker and
    print each one's answer, in input order. See docs/man/cabruca-publish.md.

        ack <seq> <id>                       stored (or already stored: same seq)
        nack <Code> <pointer>: <message>     refused

    Events come one per line from a file or standard input, or one event is
    built from --type and --field flags. Publishing is pipelined (a window of
    events in flight); the answers are printed in input order.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "cabruca publish"
//  Most answers held back waiting for an earlier one, per window slot.
#define S_HELD_PER_SLOT 10

typedef struct {
    const char *type;
    const char *source;
    const char *detail_type;
} s_type_t;

static const s_type_t s_types[] = {
    {"issue", "cabruca.agents.monitor", "Issue Detection"},
    {"feature", "cabruca.agents.product", "Feature Request"},
    {"change", "cabruca.agents.developer", "Code Change"},
    {"test", "cabruca.agents.tester", "Test Results"},
    {NULL, NULL, NULL},
};

typedef struct {
    zhashx_t *held;       //  ordinal -> answer line (owned), waiting for earlier ones
    zhashx_t *ordinals;   //  client's publish number -> input ordinal (owned copy)
    uint64_t published;   //  Events handed to the client so far
    uint64_t next_print;  //  Input ordinal of the next answer to print
    size_t acked, nacked;
} s_output_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca publish [--broker ENDPOINT] [--agent ID] [--timeout MS] [FILE|-]\n"
             "       cabruca publish [--broker ENDPOINT] [--agent ID] --type TYPE\n"
             "                       [--field NAME=VALUE ...] [--resource ARN ...]\n"
             "                       [--correlation-id UUID]\n"
             "       (either form: [--curve-cert FILE --server-cert FILE])\n"
             "\n"
             "Publish events to the broker and print, per event and in input order,\n"
             "`ack <seq> <id>` or `nack <Code> <pointer>: <message>`.\n"
             "\n"
             "FILE|-      events, one JSON object a line (default: standard input)\n"
             "--type      build one event: issue, feature, change or test\n"
             "--field     a detail field; VALUE is JSON if it parses, else a string\n"
             "--broker    endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--agent     agent id of the session (default: $CABRUCA_AGENT, else the\n"
             "            first event's detail.agent_id, else \"cli\")\n"
             "--timeout   give up after MS milliseconds without all answers (default 30000)\n"
             "--curve-cert   CURVE: the agent's secret certificate (default\n"
             "               $CABRUCA_CURVE_CERT; docs/security.md)\n"
             "--server-cert  CURVE: the broker's public certificate (default\n"
             "               $CABRUCA_SERVER_CERT)\n"
             "\n"
             "Exit status: 0 all acknowledged, 1 some refused or unanswered, 2 usage error.\n",
             CAB_CLIENT_DEFAULT_ENDPOINT);
}

//  CURVE certificates (--curve-cert, --server-cert), or NULL.
static const char *s_curve_cert, *s_server_cert;

static void
s_print_ready (s_output_t *output)
{
    char key[24];
    while (true) {
        snprintf (key, sizeof key, "%" PRIu64, output->next_print);
        char *line = (char *)zhashx_lookup (output->held, key);
        if (!line)
            break;
        fputs (line, stdout);
        zhashx_delete (output->held, key);
        output->next_print++;
    }
}

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    s_output_t *output = (s_output_t *)arg;
    char *line = NULL;
    int length;
    if (result->code == CAB_OK) {
        output->acked++;
        length = asprintf (&line, "ack %" PRIu64 " %s\n", result->seq, result->event_id);
    } else {
        output->nacked++;
        length = asprintf (&line, "nack %s %s: %s\n", cab_status_name (result->code), result->path,
                           result->text);
    }
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, result->number);
    char *ordinal = (char *)zhashx_lookup (output->ordinals, key);
    if (ordinal && length >= 0)
        zhashx_insert (output->held, ordinal, line);
    zhashx_delete (output->ordinals, key);
    free (line);
    s_print_ready (output);
}

//  Set detail field name to value: JSON when it parses, else a string.
static bool
s_set_field (json_t *fields, const char *assignment)
{
    const char *equals = strchr (assignment, '=');
    if (!equals || equals == assignment)
        return false;
    char *name = strndup (assignment, (size_t)(equals - assignment));
    json_t *value = json_loads (equals + 1, JSON_DECODE_ANY, NULL);
    if (!value)
        value = json_string (equals + 1);
    bool set = name && value && json_object_set_new (fields, name, value) == 0;
    free (name);
    return set;
}

//  Build the one event of --type. Returns a new event or NULL (message printed).
static cab_event_t *
s_build (const char *type, json_t *fields, json_t *resources, const char *correlation_id)
{
    const s_type_t *known = s_types;
    while (known->type && strcmp (known->type, type) != 0)
        known++;
    if (!known->type) {
        fprintf (stderr, S_NAME ": unknown --type '%s' (issue, feature, change, test)\n", type);
        return NULL;
    }
    cab_error_t error;
    cab_event_t *event = cab_event_new (known->source, known->detail_type, &error);
    if (event && correlation_id && cab_event_set_correlation_id (event, correlation_id) != CAB_OK) {
        fprintf (stderr, S_NAME ": --correlation-id must be a UUID\n");
        cab_event_destroy (&event);
        return NULL;
    }
    size_t index;
    json_t *resource;
    json_array_foreach (resources, index, resource) if (event)
        cab_event_add_resource (event, json_string_value (resource));
    if (event && cab_event_update_detail_new (event, json_incref (fields)) != CAB_OK)
        cab_event_destroy (&event);
    if (!event)
        fprintf (stderr, S_NAME ": cannot build the event\n");
    return event;
}

//  The agent id in a line's detail.agent_id, as a new string, or NULL.
static char *
s_agent_of (const char *line, size_t length)
{
    json_t *document = json_loadb (line, length, 0, NULL);
    const char *agent =
        json_string_value (json_object_get (json_object_get (document, "detail"), "agent_id"));
    char *copy = agent ? strdup (agent) : NULL;
    json_decref (document);
    return copy;
}

//  Publish every line; returns false when the broker stopped answering.
static bool
s_publish_lines (cab_client_t **client_p, cab_lines_t *lines, const char *endpoint,
                 const char *agent, s_output_t *output, int timeout_ms, cab_error_t *error_p)
{
    const char *line;
    size_t length;
    cab_error_t error;
    cab_error_clear (&error);
    uint64_t number = 0;
    cab_status_t status;
    while ((status = cab_lines_next (lines, &line, &length, &error)) != CAB_ERR_NOT_FOUND) {
        if (status == CAB_OK && length == 0)
            continue;
        if (!*client_p) {
            char *first = agent ? NULL : s_agent_of (line, length);
            *client_p = cab_client_new (endpoint, agent ? agent : first ? first : "cli", &error);
            free (first);
            if (*client_p && cli_curve_apply (*client_p, s_curve_cert, s_server_cert, &error))
                cab_client_destroy (client_p);
            if (!*client_p) {
                *error_p = error;
                return false;
            }
            cab_client_set_handler (*client_p, s_on_result, output);
        }
        char ordinal[24];
        snprintf (ordinal, sizeof ordinal, "%" PRIu64, ++number);
        if (status != CAB_OK) {
            //  An answer of our own, in its place in the output.
            char *answer = NULL;
            if (asprintf (&answer, "nack %s : %s\n", cab_status_name (status), error.text) >= 0)
                zhashx_insert (output->held, ordinal, answer);
            free (answer);
            output->nacked++;
            s_print_ready (output);
            continue;
        }
        //  Bound what waits for an earlier answer.
        while (zhashx_size (output->held) > S_HELD_PER_SLOT * CAB_CLIENT_DEFAULT_WINDOW)
            cab_client_poll (*client_p, 100);
        char key[24];
        snprintf (key, sizeof key, "%" PRIu64, output->published + 1);
        zhashx_insert (output->ordinals, key, ordinal);
        if (cab_client_publish_text (*client_p, line, length, timeout_ms, &error) != CAB_OK) {
            *error_p = error;
            return false;
        }
        output->published++;
    }
    return true;
}

int
cli_publish_main (int argc, char **argv)
{
    const char *endpoint = NULL, *agent = getenv ("CABRUCA_AGENT"), *type = NULL;
    const char *correlation_id = NULL, *path = NULL;
    long timeout_ms = 30000;
    json_t *fields = json_object (), *resources = json_array ();
    int exit_code = CLI_EXIT_USAGE;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        bool value = index + 1 < argc;
        if (cli_is_help (arg)) {
            s_usage (stdout);
            exit_code = CLI_EXIT_OK;
            goto done;
        } else if (streq (arg, "--broker") && value)
            endpoint = argv[++index];
        else if (streq (arg, "--agent") && value)
            agent = argv[++index];
        else if (streq (arg, "--curve-cert") && value)
            s_curve_cert = argv[++index];
        else if (streq (arg, "--server-cert") && value)
            s_server_cert = argv[++index];
        else if (streq (arg, "--type") && value)
            type = argv[++index];
        else if (streq (arg, "--correlation-id") && value)
            correlation_id = argv[++index];
        else if (streq (arg, "--resource") && value)
            json_array_append_new (resources, json_string (argv[++index]));
        else if (streq (arg, "--field") && value) {
            if (!s_set_field (fields, argv[++index])) {
                fprintf (stderr, S_NAME ": --field needs NAME=VALUE\n");
                goto done;
            }
        } else if (streq (arg, "--timeout") && value) {
            char *end = NULL;
            timeout_ms = strtol (argv[++index], &end, 10);
            if (!end || *end || timeout_ms < 1 || timeout_ms > 86400000) {
                fprintf (stderr, S_NAME ": --timeout needs milliseconds (1..86400000)\n");
                goto done;
            }
        } else if ((arg[0] != '-' || streq (arg, "-")) && !path)
            path = arg;
        else {
            fprintf (stderr, S_NAME ": unknown or incomplete option '%s'\n", arg);
            s_usage (stderr);
            goto done;
        }
    }
    if (type && path) {
        fprintf (stderr, S_NAME ": give either --type or FILE, not both\n");
        goto done;
    }
    if (!type && (json_object_size (fields) || json_array_size (resources) || correlation_id)) {
        fprintf (stderr, S_NAME ": --field, --resource and --correlation-id need --type\n");
        goto done;
    }
    s_output_t output = {zhashx_new (), zhashx_new (), 0, 1, 0, 0};
    zhashx_set_destructor (output.held, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator (output.held, (zhashx_duplicator_fn *)strdup);
    zhashx_set_destructor (output.ordinals, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator (output.ordinals, (zhashx_duplicator_fn *)strdup);
    cab_client_t *client = NULL;
    cab_error_t error;
    cab_error_clear (&error);
    bool answered = true;
    if (type) {
        cab_event_t *event = s_build (type, fields, resources, correlation_id);
        if (!event) {
            zhashx_destroy (&output.held);
            zhashx_destroy (&output.ordinals);
            goto done;
        }
        client = cab_client_new (endpoint, agent ? agent : "cli", &error);
        if (client && cli_curve_apply (client, s_curve_cert, s_server_cert, &error) != CAB_OK)
            cab_client_destroy (&client);
        if (client) {
            cab_client_set_handler (client, s_on_result, &output);
            zhashx_insert (output.ordinals, "1", "1");
            cab_client_publish (client, &event, (int)timeout_ms, &error);
        }
        cab_event_destroy (&event);
    } else {
        cab_lines_t *lines = cab_lines_new (path, CLI_LINE_MAX, &error);
        if (!lines) {
            fprintf (stderr, S_NAME ": %s\n", error.text);
            zhashx_destroy (&output.held);
            zhashx_destroy (&output.ordinals);
            goto done;
        }
        answered =
            s_publish_lines (&client, lines, endpoint, agent, &output, (int)timeout_ms, &error);
        cab_lines_destroy (&lines);
    }
    if (client && answered)
        answered = cab_client_flush (client, (int)timeout_ms, &error) == CAB_OK;
    if (!client && error.code != CAB_OK)
        answered = false;
    if (!answered)
        fprintf (stderr, S_NAME ": %s [%s]\n", error.text, cab_status_name (error.code));
    exit_code = answered && output.nacked == 0 ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
    if (!client && error.code == CAB_ERR_INVALID_ARGUMENT)
        exit_code = CLI_EXIT_USAGE;
    cab_client_destroy (&client);
    zhashx_destroy (&output.held);
    zhashx_destroy (&output.ordinals);
done:
    json_decref (fields);
    json_decref (resources);
    return exit_code;
}
