/*  =========================================================================
    cli_dlq - `cabruca dlq`: the dead-letter queues. See docs/man/cabruca-dlq.md.

    list and show read the event store directly, on a read-only handle (the
    broker may be running: WAL lets them read while it writes). redrive and
    purge change the store, which only the broker writes: they send CONTROL
    requests (docs/protocol.md, "Control") to the running broker.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include "cab_store_delivery.h"
#include <czmq.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_NAME "cabruca dlq"
//  Dead letters `list` prints unless --limit says otherwise.
#define S_LIMIT_DEFAULT 1000
//  Largest broker configuration file read for its store path.
#define S_CONFIG_MAX (1024 * 1024)

//  Options, by the subcommands that take them.
enum {
    S_OPT_STORE = 1 << 0,   //  --store, --config: list, show
    S_OPT_FILTER = 1 << 1,  //  --queue, --rule, --target, --event-id: list, redrive, purge
    S_OPT_TIME = 1 << 2,    //  --since, --until, --limit: list
    S_OPT_BROKER = 1 << 3,  //  --broker, --timeout, --yes, --id: redrive, purge
    S_OPT_JSON = 1 << 4     //  --json: all
};

typedef struct {
    const char *command;  //  list, show, redrive, purge
    unsigned allowed;     //  S_OPT_* bits
    const char *store_path, *config_path, *endpoint;
    const char *queue, *rule, *target, *event_id;
    int64_t since_ms, until_ms;
    size_t limit;
    int64_t ids[CAB_DELIVERY_IDS_MAX];
    size_t id_count;
    int64_t show_id;
    long timeout_ms;
    bool as_json, yes;
} s_options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca dlq list [--store PATH | --config BROKER.json] [--queue QUEUE]\n"
             "                        [--rule R] [--target T] [--event-id ID] [--since TIME]\n"
             "                        [--until TIME] [--limit N] [--json]\n"
             "       cabruca dlq show ID [--store PATH | --config BROKER.json] [--json]\n"
             "       cabruca dlq redrive [--queue QUEUE] [--rule R] [--target T] [--event-id ID]\n"
             "                           [--id N ...] [--yes] [--broker ENDPOINT] [--json]\n"
             "       cabruca dlq purge   [same as redrive]\n"
             "\n"
             "List and show dead letters (read from the store, read-only); redrive them\n"
             "(deliver again) or purge them (delete) through the running broker.\n"
             "\n"
             "--store     the event store (default: $CABRUCA_STORE)\n"
             "--config    the broker's configuration: use its store.path\n"
             "--queue     standard, critical or mirror (the cloud mirror's dead letters)\n"
             "--rule, --target, --event-id   only dead letters of this rule, target, event\n"
             "--since, --until  dead-lettered in this window; TIME is ISO 8601 UTC\n"
             "            (2026-11-22T10:00:00Z), now, or relative: -30s, -15m, -2h, -7d\n"
             "--limit     list at most N (default %d)\n"
             "--id        this dead letter (repeatable, at most %d)\n"
             "--yes       do not ask: purge, or redrive everything without a filter\n"
             "--broker    endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--timeout   wait at most MS milliseconds for the broker (default 10000)\n"
             "--json      JSON: one object a line (list), an object (show), the reply\n"
             "\n"
             "Exit status: 0 done, 1 failure (store or broker unavailable, not found,\n"
             "refused), 2 usage error.\n",
             S_LIMIT_DEFAULT, CAB_DELIVERY_IDS_MAX, CAB_CLIENT_DEFAULT_ENDPOINT);
}

static int
s_usage_error (const s_options_t *options, const char *message, const char *arg)
{
    fprintf (stderr, S_NAME " %s: %s%s%s%s\n", options->command ? options->command : "", message,
             arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    fprintf (stderr, "Run `cabruca dlq --help` for the options.\n");
    return CLI_EXIT_USAGE;
}

//  Parse a positive integer in 1..max; false if it is not one.
static bool
s_integer (const char *text, long long max, long long *value_p)
{
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || !end || end == text || *end || value < 1 || value > max)
        return false;
    *value_p = value;
    return true;
}

//  Parse the options after the subcommand. Returns -1 when all is well,
//  else the exit status.
static int
s_parse (s_options_t *options, int argc, char **argv, int first)
{
    int64_t now = cli_now_ms ();
    for (int index = first; index < argc; index++) {
        const char *arg = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        unsigned needs = 0;
        bool takes_value = true;
        if (cli_is_help (arg)) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        }
        if (streq (arg, "--store") || streq (arg, "--config"))
            needs = S_OPT_STORE;
        else if (streq (arg, "--queue") || streq (arg, "--rule") || streq (arg, "--target") ||
                 streq (arg, "--event-id"))
            needs = S_OPT_FILTER;
        else if (streq (arg, "--since") || streq (arg, "--until") || streq (arg, "--limit"))
            needs = S_OPT_TIME;
        else if (streq (arg, "--broker") || streq (arg, "--timeout") || streq (arg, "--id"))
            needs = S_OPT_BROKER;
        else if (streq (arg, "--yes")) {
            needs = S_OPT_BROKER;
            takes_value = false;
        } else if (streq (arg, "--json")) {
            needs = S_OPT_JSON;
            takes_value = false;
        } else
            return s_usage_error (options, "unknown option", arg);
        if (!(options->allowed & needs))
            return s_usage_error (options, "option not valid here:", arg);
        if (takes_value && !value)
            return s_usage_error (options, "option needs a value:", arg);
        if (takes_value)
            index++;
        long long number = 0;
        if (streq (arg, "--store"))
            options->store_path = value;
        else if (streq (arg, "--config"))
            options->config_path = value;
        else if (streq (arg, "--queue")) {
            if (!streq (value, "standard") && !streq (value, "critical") &&
                !streq (value, "mirror"))
                return s_usage_error (options, "--queue must be standard, critical or mirror, not",
                                      value);
            options->queue = value;
        } else if (streq (arg, "--rule"))
            options->rule = value;
        else if (streq (arg, "--target"))
            options->target = value;
        else if (streq (arg, "--event-id"))
            options->event_id = value;
        else if (streq (arg, "--since") || streq (arg, "--until")) {
            int64_t *ms = streq (arg, "--since") ? &options->since_ms : &options->until_ms;
            if (!cli_parse_time (value, now, ms))
                return s_usage_error (options,
                                      "bad TIME (ISO 8601 UTC like 2026-11-22T10:00:00Z, now, "
                                      "or -30s, -15m, -2h, -7d):",
                                      value);
        } else if (streq (arg, "--limit")) {
            if (!s_integer (value, 1000000000, &number))
                return s_usage_error (options, "--limit needs a number from 1, not", value);
            options->limit = (size_t)number;
        } else if (streq (arg, "--broker"))
            options->endpoint = value;
        else if (streq (arg, "--timeout")) {
            if (!s_integer (value, 86400000, &number))
                return s_usage_error (options, "--timeout needs milliseconds (1..86400000), not",
                                      value);
            options->timeout_ms = (long)number;
        } else if (streq (arg, "--id")) {
            if (!s_integer (value, INT64_MAX, &number))
                return s_usage_error (options, "--id needs a delivery id, not", value);
            if (options->id_count == CAB_DELIVERY_IDS_MAX)
                return s_usage_error (options, "too many --id (at most 1000)", NULL);
            options->ids[options->id_count++] = number;
        } else if (streq (arg, "--yes"))
            options->yes = true;
        else if (streq (arg, "--json"))
            options->as_json = true;
    }
    if (options->store_path && options->config_path)
        return s_usage_error (options, "give --store or --config, not both", NULL);
    if (options->since_ms && options->until_ms && options->since_ms > options->until_ms)
        return s_usage_error (options, "--since is after --until", NULL);
    return -1;
}

//  ---------------------------------------------------------------------
//  Reading the store: list, show

//  The store's path: --store, the broker configuration's store.path
//  (relative to the file's directory), or $CABRUCA_STORE. A new string in
//  *path_p; returns -1 or the exit status.
static int
s_store_path (const s_options_t *options, char **path_p)
{
    const char *path = options->store_path;
    if (!path && !options->config_path)
        path = getenv ("CABRUCA_STORE");
    if (path && *path) {
        *path_p = strdup (path);
        return *path_p ? -1 : CLI_EXIT_FAILURE;
    }
    if (!options->config_path)
        return s_usage_error (options,
                              "no store: give --store PATH or --config BROKER.json "
                              "(or set $CABRUCA_STORE)",
                              NULL);
    cab_error_t error;
    size_t size = 0;
    char *text = cab_file_read (options->config_path, S_CONFIG_MAX, &size, &error);
    bool read = text != NULL;
    json_error_t json_error;
    json_t *config = read ? json_loadb (text, size, 0, &json_error) : NULL;
    free (text);
    if (!config) {
        if (read)
            fprintf (stderr, S_NAME " %s: %s: line %d: %s [InvalidJson]\n", options->command,
                     options->config_path, json_error.line, json_error.text);
        else
            fprintf (stderr, S_NAME " %s: %s [%s]\n", options->command, error.text,
                     cab_status_name (error.code));
        return CLI_EXIT_USAGE;
    }
    const char *store =
        json_string_value (json_object_get (json_object_get (config, "store"), "path"));
    int status = -1;
    if (!store || !*store) {
        fprintf (stderr, S_NAME " %s: %s: /store/path: missing (not a broker configuration?)\n",
                 options->command, options->config_path);
        status = CLI_EXIT_USAGE;
    } else if (store[0] == '/')
        *path_p = strdup (store);
    else {
        char *copy = strdup (options->config_path);
        const char *dir = copy ? dirname (copy) : ".";
        size_t length = strlen (dir) + strlen (store) + 2;
        *path_p = malloc (length);
        if (*path_p)
            snprintf (*path_p, length, "%s/%s", dir, store);
        free (copy);
    }
    json_decref (config);
    if (status == -1 && !*path_p)
        status = CLI_EXIT_FAILURE;
    return status;
}

static cab_store_t *
s_open_store (const s_options_t *options, int *exit_p)
{
    char *path = NULL;
    *exit_p = s_store_path (options, &path);
    if (*exit_p != -1)
        return NULL;
    cab_error_t error;
    cab_store_t *store = cab_store_new_readonly (path, &error);
    if (!store) {
        fprintf (stderr, S_NAME " %s: %s [%s]\n", options->command, error.text,
                 cab_status_name (error.code));
        *exit_p = CLI_EXIT_FAILURE;
    }
    free (path);
    return store;
}

//  A JSON string of text (NULL: null); bytes that are not UTF-8 become '?'.
static json_t *
s_json_text (const char *text)
{
    if (!text)
        return json_null ();
    json_t *value = json_string (text);
    if (value)
        return value;
    char *copy = strdup (text);
    for (size_t i = 0; copy && copy[i]; i++)
        if ((unsigned char)copy[i] >= 0x80)
            copy[i] = '?';
    value = copy ? json_string (copy) : NULL;
    free (copy);
    return value ? value : json_null ();
}

static json_t *
s_record_json (const cab_delivery_record_t *record)
{
    char created[CLI_TIME_SIZE], updated[CLI_TIME_SIZE];
    json_t *object = json_object ();
    json_object_set_new (object, "id", json_integer (record->id));
    json_object_set_new (object, "state", json_string (cab_delivery_state_name (record->state)));
    json_object_set_new (object, "queue", s_json_text (record->dlq));
    json_object_set_new (object, "rule", s_json_text (record->rule));
    json_object_set_new (object, "target", s_json_text (record->target));
    json_object_set_new (object, "attempts", json_integer (record->attempts));
    json_object_set_new (
        object, record->state == CAB_DELIVERY_DEAD ? "dead_lettered" : "updated",
        json_string (cli_format_time (record->updated_ms, updated, sizeof updated)));
    json_object_set_new (
        object, "created",
        json_string (cli_format_time (record->created_ms, created, sizeof created)));
    json_object_set_new (object, "error", s_json_text (record->error));
    json_object_set_new (object, "event_id", s_json_text (record->event_id));
    json_object_set_new (object, "seq", json_integer (record->seq));
    json_object_set_new (object, "replay", s_json_text (record->replay));
    return object;
}

//  Print a JSON value on one line (compact) or indented.
static void
s_print_json (json_t *value, size_t flags)
{
    char *text = json_dumps (value, flags);
    if (text)
        printf ("%s\n", text);
    free (text);
}

//  Print text on one table cell: control characters become spaces.
static void
s_print_cell (const char *text)
{
    for (const char *c = text ? text : "-"; *c; c++)
        putchar ((unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c);
}

typedef struct {
    const s_options_t *options;
    size_t printed;
    bool more;  //  there were more than the limit
} s_list_t;

static int
s_list_one (const cab_delivery_record_t *record, void *arg)
{
    s_list_t *list = arg;
    if (list->printed == list->options->limit) {
        list->more = true;
        return 1;
    }
    list->printed++;
    if (list->options->as_json) {
        json_t *object = s_record_json (record);
        s_print_json (object, JSON_COMPACT);
        json_decref (object);
        return 0;
    }
    char time[CLI_TIME_SIZE];
    printf ("%-8lld %-24s %-8s %-24s %-16s %8d %-36s ", (long long)record->id,
            cli_format_time (record->updated_ms, time, sizeof time),
            record->dlq ? record->dlq : "-", record->rule, record->target, record->attempts,
            record->event_id ? record->event_id : "-");
    s_print_cell (record->error);
    putchar ('\n');
    return 0;
}

static int
s_list (s_options_t *options)
{
    int exit_status;
    cab_store_t *store = s_open_store (options, &exit_status);
    if (!store)
        return exit_status;
    cab_delivery_query_t query = {0};
    query.state = CAB_DELIVERY_DEAD;
    query.dlq = options->queue;
    query.rule = options->rule;
    query.target = options->target;
    query.event_id = options->event_id;
    query.from_ms = options->since_ms;
    query.to_ms = options->until_ms;
    if (!options->limit)
        options->limit = S_LIMIT_DEFAULT;
    query.limit = options->limit + 1;
    s_list_t list = {options, 0, false};
    if (!options->as_json)
        printf ("%-8s %-24s %-8s %-24s %-16s %8s %-36s %s\n", "ID", "DEAD-LETTERED", "QUEUE",
                "RULE", "TARGET", "ATTEMPTS", "EVENT", "ERROR");
    cab_error_t error;
    cab_status_t status = cab_store_scan_deliveries (store, &query, s_list_one, &list, &error);
    cab_store_destroy (&store);
    if (status != CAB_OK) {
        fprintf (stderr, S_NAME " list: %s [%s]\n", error.text, cab_status_name (error.code));
        return CLI_EXIT_FAILURE;
    }
    if (list.more)
        fprintf (stderr, S_NAME " list: more than %zu dead letters match; raise --limit\n",
                 options->limit);
    return CLI_EXIT_OK;
}

typedef struct {
    const s_options_t *options;
    bool found;
} s_show_t;

static int
s_show_one (const cab_delivery_record_t *record, void *arg)
{
    s_show_t *show = arg;
    show->found = true;
    json_t *event = record->text ? json_loadb (record->text, record->length, 0, NULL) : NULL;
    if (show->options->as_json) {
        json_t *object = s_record_json (record);
        json_object_set_new (object, "event", event ? event : json_null ());
        s_print_json (object, JSON_INDENT (2));
        json_decref (object);
        return 1;
    }
    char time[CLI_TIME_SIZE];
    printf ("id             %lld\n", (long long)record->id);
    printf ("state          %s\n", cab_delivery_state_name (record->state));
    printf ("queue          %s\n", record->dlq ? record->dlq : "-");
    printf ("rule           %s\n", record->rule);
    printf ("target         %s\n", record->target);
    printf ("attempts       %d\n", record->attempts);
    printf ("created        %s\n", cli_format_time (record->created_ms, time, sizeof time));
    printf ("%-14s %s\n", record->state == CAB_DELIVERY_DEAD ? "dead-lettered" : "updated",
            cli_format_time (record->updated_ms, time, sizeof time));
    if (record->state == CAB_DELIVERY_PENDING)
        printf ("next attempt   %s\n", cli_format_time (record->next_ms, time, sizeof time));
    if (record->replay)
        printf ("replay         %s\n", record->replay);
    printf ("error          ");
    s_print_cell (record->error);
    printf ("\nevent id       %s\n", record->event_id ? record->event_id : "-");
    printf ("event seq      %lld\n", (long long)record->seq);
    if (record->event_id)
        printf ("event time     %s\n", cli_format_time (record->event_time_ms, time, sizeof time));
    printf ("event\n");
    if (event)
        s_print_json (event, JSON_INDENT (2));
    else if (record->text)
        printf ("%.*s\n", (int)record->length, record->text);
    else
        printf ("(no longer stored)\n");
    json_decref (event);
    return 1;
}

static int
s_show (s_options_t *options)
{
    int exit_status;
    cab_store_t *store = s_open_store (options, &exit_status);
    if (!store)
        return exit_status;
    cab_delivery_query_t query = {0};
    query.state = -1;
    query.ids = &options->show_id;
    query.id_count = 1;
    query.with_text = true;
    s_show_t show = {options, false};
    cab_error_t error;
    cab_status_t status = cab_store_scan_deliveries (store, &query, s_show_one, &show, &error);
    cab_store_destroy (&store);
    if (status != CAB_OK) {
        fprintf (stderr, S_NAME " show: %s [%s]\n", error.text, cab_status_name (error.code));
        return CLI_EXIT_FAILURE;
    }
    if (!show.found) {
        fprintf (stderr, S_NAME " show: no delivery %lld [NotFound]\n",
                 (long long)options->show_id);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

//  ---------------------------------------------------------------------
//  Through the broker: redrive, purge

static json_t *
s_filter (const s_options_t *options)
{
    json_t *filter = json_object ();
    if (options->queue)
        json_object_set_new (filter, "dlq", json_string (options->queue));
    if (options->rule)
        json_object_set_new (filter, "rule", s_json_text (options->rule));
    if (options->target)
        json_object_set_new (filter, "target", s_json_text (options->target));
    if (options->event_id)
        json_object_set_new (filter, "event_id", s_json_text (options->event_id));
    if (options->id_count) {
        json_t *ids = json_array ();
        for (size_t i = 0; i < options->id_count; i++)
            json_array_append_new (ids, json_integer (options->ids[i]));
        json_object_set_new (filter, "ids", ids);
    }
    return filter;
}

//  Ask on the terminal; true when the answer starts with y.
static bool
s_confirm (const char *question)
{
    fprintf (stderr, "%s [y/N] ", question);
    fflush (stderr);
    char answer[16];
    if (!fgets (answer, sizeof answer, stdin))
        return false;
    return answer[0] == 'y' || answer[0] == 'Y';
}

static int
s_change (s_options_t *options)
{
    bool purge = streq (options->command, "purge");
    json_t *filter = s_filter (options);
    bool everything = json_object_size (filter) == 0;
    if ((purge || everything) && !options->yes) {
        char question[160];
        snprintf (question, sizeof question, S_NAME " %s: %s %s?", options->command,
                  purge ? "delete" : "redrive",
                  everything ? "EVERY dead letter" : "the matching dead letters");
        if (!isatty (STDIN_FILENO)) {
            json_decref (filter);
            fprintf (stderr, "%s Not a terminal: add --yes to confirm.\n", question);
            return CLI_EXIT_USAGE;
        }
        if (!s_confirm (question)) {
            json_decref (filter);
            fprintf (stderr, S_NAME " %s: nothing done\n", options->command);
            return CLI_EXIT_FAILURE;
        }
    }
    json_t *request = json_object ();
    json_object_set_new (request, "op", json_string (purge ? "dlq-purge" : "dlq-redrive"));
    json_object_set_new (request, "filter", filter);
    cab_error_t error;
    cab_error_clear (&error);
    cab_client_t *client = cab_client_new (options->endpoint, NULL, &error);
    json_t *reply = NULL;
    if (client)
        cab_client_control (client, request, &reply, (int)options->timeout_ms, &error);
    cab_client_destroy (&client);
    json_decref (request);
    if (!reply) {
        fprintf (stderr, S_NAME " %s: %s [%s]\n", options->command, error.text,
                 cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    int exit_status = CLI_EXIT_OK;
    const char *key = purge ? "purged" : "redriven";
    if (!json_is_true (json_object_get (reply, "ok"))) {
        json_int_t code = json_integer_value (json_object_get (reply, "code"));
        fprintf (stderr, S_NAME " %s: the broker refused: %s [%s]\n", options->command,
                 json_string_value (json_object_get (reply, "message"))
                     ? json_string_value (json_object_get (reply, "message"))
                     : "no reason given",
                 json_string_value (json_object_get (reply, "error"))
                     ? json_string_value (json_object_get (reply, "error"))
                     : cab_status_name ((cab_status_t)code));
        exit_status = code == CAB_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    } else if (options->as_json)
        s_print_json (reply, JSON_COMPACT | JSON_SORT_KEYS);
    else
        printf ("%s %" JSON_INTEGER_FORMAT "\n", key,
                json_integer_value (json_object_get (reply, key)));
    json_decref (reply);
    return exit_status;
}

int
cli_dlq_main (int argc, char **argv)
{
    s_options_t *options = calloc (1, sizeof *options);
    if (!options) {
        fprintf (stderr, S_NAME ": out of memory\n");
        return CLI_EXIT_FAILURE;
    }
    options->timeout_ms = 10000;
    int exit_status = -1, first = 2;
    const char *command = argc > 1 ? argv[1] : NULL;
    if (command && cli_is_help (command)) {
        s_usage (stdout);
        exit_status = CLI_EXIT_OK;
    } else if (!command) {
        s_usage (stderr);
        exit_status = CLI_EXIT_USAGE;
    } else if (streq (command, "list"))
        options->allowed = S_OPT_STORE | S_OPT_FILTER | S_OPT_TIME | S_OPT_JSON;
    else if (streq (command, "show")) {
        options->allowed = S_OPT_STORE | S_OPT_JSON;
        long long id = 0;
        if (argc >= 3 && cli_is_help (argv[2]))
            first = 2;
        else if (argc < 3 || !s_integer (argv[2], INT64_MAX, &id)) {
            fprintf (stderr, S_NAME " show: needs a delivery ID (a number from 1)\n");
            exit_status = CLI_EXIT_USAGE;
        } else
            first = 3;
        options->show_id = id;
    } else if (streq (command, "redrive") || streq (command, "purge"))
        options->allowed = S_OPT_FILTER | S_OPT_BROKER | S_OPT_JSON;
    else {
        fprintf (stderr, S_NAME ": unknown command '%s' (list, show, redrive, purge)\n", command);
        exit_status = CLI_EXIT_USAGE;
    }
    options->command = command;
    if (exit_status == -1)
        exit_status = s_parse (options, argc, argv, first);
    if (exit_status == -1) {
        if (streq (command, "list"))
            exit_status = s_list (options);
        else if (streq (command, "show"))
            exit_status = s_show (options);
        else
            exit_status = s_change (options);
    }
    free (options);
    return exit_status;
}
