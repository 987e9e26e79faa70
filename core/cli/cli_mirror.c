/*  =========================================================================
    cli_mirror - `cabruca mirror status`: the cloud mirror as the running
    broker sees it (CONTROL {"op":"mirror-status"}, docs/protocol.md), and
    what `cabruca budget` shares with it: the options, the question to the
    broker, money and durations for the tables. See docs/man/cabruca-mirror.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include "cab_store_mirror.h"
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "cabruca mirror"
//  Largest broker configuration file read.
#define S_CONFIG_MAX (1024 * 1024)

//  ---------------------------------------------------------------------
//  Shared with cli_budget.c

int
cli_mirror_parse (cli_mirror_options_t *options, const char *name, int argc, char **argv, int first,
                  void (*usage) (FILE *out))
{
    options->timeout_ms = 5000;
    for (int index = first; index < argc; index++) {
        const char *arg = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (cli_is_help (arg)) {
            usage (stdout);
            return CLI_EXIT_OK;
        }
        if (streq (arg, "--json")) {
            options->as_json = true;
            continue;
        }
        const char **slot = streq (arg, "--broker")        ? &options->endpoint
                            : streq (arg, "--curve-cert")  ? &options->curve_cert
                            : streq (arg, "--server-cert") ? &options->server_cert
                            : streq (arg, "--store")       ? &options->store_path
                            : streq (arg, "--config")      ? &options->config_path
                            : streq (arg, "--timeout")     ? &value
                                                           : NULL;
        if (!slot) {
            if (arg[0] == '-')
                fprintf (stderr, "%s: unknown option '%s'\n", name, arg);
            else
                fprintf (stderr, "%s: unexpected argument '%s'\n", name, arg);
            fprintf (stderr, "Run `%s --help` for the options.\n", name);
            return CLI_EXIT_USAGE;
        }
        if (!value) {
            fprintf (stderr, "%s: option needs a value: '%s'\n", name, arg);
            return CLI_EXIT_USAGE;
        }
        index++;
        if (streq (arg, "--timeout")) {
            char *end = NULL;
            errno = 0;
            long timeout = strtol (value, &end, 10);
            if (errno || end == value || *end || timeout < 1 || timeout > 86400000) {
                fprintf (stderr, "%s: --timeout needs milliseconds (1..86400000), not '%s'\n", name,
                         value);
                return CLI_EXIT_USAGE;
            }
            options->timeout_ms = timeout;
        } else
            *slot = value;
    }
    if (options->endpoint && (options->store_path || options->config_path)) {
        fprintf (stderr,
                 "%s: give --broker (ask the broker) or --store/--config (read the "
                 "store), not both\n",
                 name);
        return CLI_EXIT_USAGE;
    }
    return -1;
}

json_t *
cli_mirror_ask (const cli_mirror_options_t *options, const char *name, const char *op, int *exit_p)
{
    cab_error_t error;
    cab_error_clear (&error);
    json_t *request = json_pack ("{s:s}", "op", op);
    cab_client_t *client = request ? cab_client_new (options->endpoint, NULL, &error) : NULL;
    if (!request)
        cab_error_set (&error, CAB_ERR_NOMEM, NULL, "out of memory");
    if (client &&
        cli_curve_apply (client, options->curve_cert, options->server_cert, &error) != CAB_OK)
        cab_client_destroy (&client);
    json_t *reply = NULL;
    if (client)
        cab_client_control (client, request, &reply, (int)options->timeout_ms, &error);
    cab_client_destroy (&client);
    json_decref (request);
    if (!reply) {
        if (error.code == CAB_ERR_TIMEOUT)
            fprintf (stderr, "%s: no answer from the broker at %s within %ld ms [%s]\n", name,
                     options->endpoint           ? options->endpoint
                     : getenv ("CABRUCA_BROKER") ? getenv ("CABRUCA_BROKER")
                                                 : CAB_CLIENT_DEFAULT_ENDPOINT,
                     options->timeout_ms, cab_status_name (error.code));
        else
            fprintf (stderr, "%s: %s [%s]\n", name, error.text, cab_status_name (error.code));
        *exit_p = error.code == CAB_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        return NULL;
    }
    if (!json_is_object (reply) || json_is_false (json_object_get (reply, "ok"))) {
        const char *code = json_string_value (json_object_get (reply, "error"));
        json_t *number = json_object_get (reply, "code");
        if (!code)  //  the name is informative, the number authoritative
            code = cab_status_name (json_is_integer (number)
                                        ? (cab_status_t)json_integer_value (number)
                                        : CAB_ERR_PROTOCOL);
        const char *message = json_string_value (json_object_get (reply, "message"));
        const char *path = json_string_value (json_object_get (reply, "path"));
        if (streq (code, "InvalidArgument") && path && streq (path, "/op"))
            fprintf (stderr,
                     "%s: the broker does not know {\"op\":\"%s\"} (one older than the "
                     "mirror?): %s [%s]\n",
                     name, op, message ? message : "unknown op", code);
        else
            fprintf (stderr, "%s: the broker refused: %s [%s]\n", name,
                     message ? message : "no reason given", code);
        json_decref (reply);
        *exit_p = CLI_EXIT_FAILURE;
        return NULL;
    }
    *exit_p = CLI_EXIT_OK;
    return reply;
}

//  Read the broker's configuration file: a new object, or NULL after
//  printing the error.
static json_t *
s_config_load (const char *path, const char *name)
{
    cab_error_t error;
    size_t size = 0;
    char *text = cab_file_read (path, S_CONFIG_MAX, &size, &error);
    if (!text) {
        fprintf (stderr, "%s: %s [%s]\n", name, error.text, cab_status_name (error.code));
        return NULL;
    }
    json_error_t json_error;
    json_t *config = json_loadb (text, size, 0, &json_error);
    free (text);
    if (!config)
        fprintf (stderr, "%s: %s: line %d: %s [InvalidJson]\n", name, path, json_error.line,
                 json_error.text);
    else if (!json_is_object (config)) {
        fprintf (stderr, "%s: %s: not a JSON object (a broker configuration?) [InvalidConfig]\n",
                 name, path);
        json_decref (config);
        config = NULL;
    }
    return config;
}

cab_store_t *
cli_mirror_open (const cli_mirror_options_t *options, const char *name, json_t **config_p,
                 int *exit_p)
{
    *config_p = NULL;
    *exit_p = CLI_EXIT_USAGE;
    json_t *config =
        options->config_path ? s_config_load (options->config_path, name) : json_object ();
    if (!config)
        return NULL;
    char *path = NULL;
    const char *store =
        json_string_value (json_object_get (json_object_get (config, "store"), "path"));
    if (options->store_path)
        path = strdup (options->store_path);
    else if (!store || !*store) {
        fprintf (stderr, "%s: %s: /store/path: missing (not a broker configuration?)\n", name,
                 options->config_path);
        json_decref (config);
        return NULL;
    } else if (store[0] == '/')
        path = strdup (store);
    else {
        //  Relative to the configuration file's directory.
        const char *slash = strrchr (options->config_path, '/');
        int directory = slash ? (int)(slash - options->config_path) : 1;
        size_t length = (size_t)directory + strlen (store) + 2;
        path = malloc (length);
        if (path)
            snprintf (path, length, "%.*s/%s", directory, slash ? options->config_path : ".",
                      store);
    }
    *exit_p = CLI_EXIT_FAILURE;
    if (!path) {
        fprintf (stderr, "%s: out of memory\n", name);
        json_decref (config);
        return NULL;
    }
    cab_error_t error;
    cab_store_t *handle = cab_store_new_readonly (path, &error);
    if (!handle) {
        fprintf (stderr, "%s: %s [%s]\n", name, error.text, cab_status_name (error.code));
        json_decref (config);
    } else
        *config_p = config;
    free (path);
    return handle;
}

json_t *
cli_mirror_store_status (cab_store_t *store, json_t *config, const char *name, int *exit_p)
{
    cab_error_t error;
    cab_mirror_store_stats_t stats;
    if (cab_store_mirror_stats (store, cli_now_ms (), &stats, &error) != CAB_OK) {
        fprintf (stderr, "%s: %s [%s]\n", name, error.text, cab_status_name (error.code));
        *exit_p = CLI_EXIT_FAILURE;
        return NULL;
    }
    //  What the configuration says; the rest (credentials found, hence
    //  live or dry-run) only the running broker knows.
    json_t *mirror = json_object_get (config, "mirror");
    json_t *enabled = json_object_get (mirror, "enabled");
    const char *bus = json_string_value (json_object_get (mirror, "bus_name"));
    json_t *document = json_pack (
        "{s:b,s:s,s:b,s:O,s:s,s:O,s:O,s:n,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
        "ok", 1, "source", "store", "enabled", !json_is_false (enabled), "dry_run",
        json_is_true (json_object_get (mirror, "dry_run")) ? json_true () : json_null (), "bus",
        bus ? bus : "cabruca-agents-bus", "endpoint",
        json_is_string (json_object_get (mirror, "endpoint")) ? json_object_get (mirror, "endpoint")
                                                              : json_null (),
        "region",
        json_is_string (json_object_get (mirror, "region")) ? json_object_get (mirror, "region")
                                                            : json_null (),
        "sender", "store", "outbox", (json_int_t)stats.outbox, "deferred",
        (json_int_t)stats.deferred, "failed", (json_int_t)stats.failed, "due",
        (json_int_t)stats.due, "oldest_received_ms", (json_int_t)stats.oldest_received_ms, "lag_ms",
        (json_int_t)stats.lag_ms, "accepted", (json_int_t)stats.accepted, "dry_run",
        (json_int_t)stats.dry_run, "dead", (json_int_t)stats.dead, "sampled",
        (json_int_t)stats.sampled, "shed", (json_int_t)stats.shed, "dlq_depth",
        (json_int_t)stats.dlq_depth);
    if (!document) {
        fprintf (stderr, "%s: out of memory\n", name);
        *exit_p = CLI_EXIT_FAILURE;
    }
    return document;
}

void
cli_mirror_print_json (json_t *document)
{
    char *text = json_dumps (document, JSON_INDENT (2) | JSON_SORT_KEYS);
    if (text)
        printf ("%s\n", text);
    free (text);
}

char *
cli_money (json_t *usd, char *buffer, size_t size)
{
    if (!json_is_number (usd)) {
        snprintf (buffer, size, "-");
        return buffer;
    }
    double value = json_number_value (usd);
    //  Dollars and cents from $1 and for whole cents; four decimals below,
    //  where the month's first events cost fractions of a cent; never
    //  "$0.0000" for a cost.
    double cents = value * 100.0;  //  |value| < 1 below: no overflow
    double off = cents - (double)(long long)(cents + (cents >= 0 ? 0.5 : -0.5));
    if (value >= 1.0 || value <= -1.0 || (off < 1e-6 && off > -1e-6))
        snprintf (buffer, size, "$%.2f", value);
    else if (value == 0.0)
        snprintf (buffer, size, "$0.00");
    else if (value > 0 && value < 0.00005)
        snprintf (buffer, size, "<$0.0001");
    else
        snprintf (buffer, size, "$%.4f", value);
    return buffer;
}

char *
cli_count (json_t *value, char *buffer, size_t size)
{
    if (!json_is_integer (value) && !json_is_real (value)) {
        snprintf (buffer, size, "-");
        return buffer;
    }
    if (json_is_real (value) && !(json_real_value (value) >= 0 && json_real_value (value) < 1e18)) {
        snprintf (buffer, size, "%.0f", json_real_value (value));
        return buffer;
    }
    long long number = json_is_integer (value) ? (long long)json_integer_value (value)
                                               : (long long)json_real_value (value);
    if (number < 0) {  //  never a count; shown as it is
        snprintf (buffer, size, "%lld", number);
        return buffer;
    }
    //  Digits, then a comma before each group of three from the right.
    char digits[32];
    int length = snprintf (digits, sizeof digits, "%lld", number);
    size_t out = 0;
    for (int i = 0; i < length && out + 2 < size; i++) {
        if (i > 0 && (length - i) % 3 == 0)
            buffer[out++] = ',';
        buffer[out++] = digits[i];
    }
    buffer[out] = '\0';
    return buffer;
}

char *
cli_percent (json_t *percent, char *buffer, size_t size)
{
    if (!json_is_number (percent)) {
        snprintf (buffer, size, "-");
        return buffer;
    }
    double value = json_number_value (percent);
    if (value > 0 && value < 0.05)
        snprintf (buffer, size, "<0.1%%");
    else
        snprintf (buffer, size, "%.1f%%", value);
    return buffer;
}

char *
cli_duration (int64_t ms, char *buffer, size_t size)
{
    if (ms < 0)
        snprintf (buffer, size, "-");
    else if (ms < 1000)
        snprintf (buffer, size, "%" PRId64 " ms", ms);
    else if (ms < 60000)
        snprintf (buffer, size, "%" PRId64 ".%" PRId64 " s", ms / 1000, ms % 1000 / 100);
    else if (ms < 3600000)
        snprintf (buffer, size, "%" PRId64 "m %02" PRId64 "s", ms / 60000, ms / 1000 % 60);
    else if (ms < 86400000)
        snprintf (buffer, size, "%" PRId64 "h %02" PRId64 "m", ms / 3600000, ms / 60000 % 60);
    else
        snprintf (buffer, size, "%" PRId64 "d %02" PRId64 "h", ms / 86400000, ms / 3600000 % 24);
    return buffer;
}

//  ---------------------------------------------------------------------
//  cabruca mirror status

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca mirror status [--broker ENDPOINT] [--json] [--timeout MS]\n"
             "                             [--curve-cert FILE --server-cert FILE]\n"
             "       cabruca mirror status --store PATH | --config BROKER.json [--json]\n"
             "\n"
             "The cloud mirror to the EventBridge bus, as the running broker sees it:\n"
             "dry-run or live, bus, endpoint, region; the outbox (events waiting, deferred,\n"
             "failed, lag); what became of mirrored events (accepted, dry-run, dead,\n"
             "sampled, shed); the sender's requests, retries, throttling and errors; the\n"
             "mirror dead-letter queue (`cabruca dlq list --queue mirror`). The budget is\n"
             "`cabruca budget`.\n"
             "\n"
             "commands:\n"
             "  status      print the mirror's state\n"
             "\n"
             "--broker    endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--store     read the event store instead (read-only; the broker may run):\n"
             "            the outbox and results, not the sender's counters\n"
             "--config    the broker's configuration: its store.path and mirror section\n"
             "--json      print the broker's mirror-status document as JSON\n"
             "--timeout   wait at most MS milliseconds for the answer (default 5000)\n"
             "--curve-cert   CURVE: a secret certificate the broker knows (default\n"
             "               $CABRUCA_CURVE_CERT; docs/security.md)\n"
             "--server-cert  CURVE: the broker's public certificate (default\n"
             "               $CABRUCA_SERVER_CERT)\n"
             "\n"
             "Exit status: 0 done, 1 the broker did not answer or refused, or the store\n"
             "cannot be read; 2 usage error or an unusable configuration.\n",
             CAB_CLIENT_DEFAULT_ENDPOINT);
}

//  A member's count as text ("1,234"), "-" when it is missing.
static char *
s_count (json_t *object, const char *name, char *buffer, size_t size)
{
    return cli_count (json_object_get (object, name), buffer, size);
}

//  A member's string, "-" when missing, null or empty.
static const char *
s_text (json_t *object, const char *name)
{
    const char *text = json_string_value (json_object_get (object, name));
    return text && *text ? text : "-";
}

static void
s_print_status (json_t *reply)
{
    if (!json_is_true (json_object_get (reply, "enabled"))) {
        printf ("mirror       disabled (mirror.enabled is false in the broker's configuration)\n");
        return;
    }
    json_t *sender = json_object_get (reply, "sender");
    json_t *store = json_object_get (reply, "store");
    json_t *dry_run = json_object_get (reply, "dry_run");
    char a[32], b[32], c[32], d[32], e[32];
    printf ("mode         %s\n",
            json_is_true (dry_run)    ? "dry-run (nothing leaves the host: no AWS credentials, "
                                        "or mirror.dry_run)"
            : json_is_false (dry_run) ? "live"
                                      : "- (live, or dry-run without AWS credentials: the "
                                        "running broker knows)");
    printf ("bus          %s\n", s_text (reply, "bus"));
    printf ("endpoint     %s\n", s_text (reply, "endpoint"));
    printf ("region       %s\n", s_text (reply, "region"));
    json_t *lag = json_object_get (store, "lag_ms");
    printf ("outbox       %s events (%s deferred, %s failed, %s due), lag %s\n",
            s_count (store, "outbox", a, sizeof a), s_count (store, "deferred", b, sizeof b),
            s_count (store, "failed", c, sizeof c), s_count (store, "due", d, sizeof d),
            json_is_integer (lag) ? cli_duration (json_integer_value (lag), e, sizeof e) : "-");
    json_t *oldest = json_object_get (store, "oldest_received_ms");
    if (json_integer_value (oldest) > 0) {
        char time[CLI_TIME_SIZE];
        printf ("oldest       %s\n",
                cli_format_time (json_integer_value (oldest), time, sizeof time));
    }
    printf ("mirrored     %s accepted, %s dry-run, %s dead, %s sampled, %s shed\n",
            s_count (store, "accepted", a, sizeof a), s_count (store, "dry_run", b, sizeof b),
            s_count (store, "dead", c, sizeof c), s_count (store, "sampled", d, sizeof d),
            s_count (store, "shed", e, sizeof e));
    printf ("dead letters %s in queue mirror (cabruca dlq list --queue mirror)\n",
            s_count (store, "dlq_depth", a, sizeof a));
    const char *sender_error = json_string_value (json_object_get (reply, "sender_error"));
    if (sender_error)
        printf ("SENDER DOWN  %s\n", sender_error);
    if (!json_is_object (sender)) {
        printf ("sender       - (read from the store: the sender's counters are in the running "
                "broker)\n");
        return;
    }
    printf ("sender       %s submitted, %s requests, %s accepted, %s dry-run, %s failed\n",
            s_count (sender, "submitted", a, sizeof a), s_count (sender, "requests", b, sizeof b),
            s_count (sender, "accepted", c, sizeof c),
            s_count (sender, "dry_run_events", d, sizeof d),
            s_count (sender, "failed", e, sizeof e));
    printf ("retries      %s retries, %s throttled, %s retry tokens left\n",
            s_count (sender, "retries", a, sizeof a), s_count (sender, "throttled", b, sizeof b),
            s_count (sender, "retry_tokens", c, sizeof c));
    printf ("errors       %s server (5xx), %s network, %s auth, %s dead-lettered\n",
            s_count (sender, "server_errors", a, sizeof a),
            s_count (sender, "network_errors", b, sizeof b),
            s_count (sender, "auth_errors", c, sizeof c),
            s_count (sender, "dead_lettered", d, sizeof d));
    printf ("last error   %s\n", s_text (sender, "last_error"));
    json_t *bytes = json_object_get (sender, "bytes");
    printf ("sent         %.1f kB in requests, %s chunks of 64 KB, %s\n",
            json_is_number (bytes) ? json_number_value (bytes) / 1000.0 : 0.0,
            s_count (sender, "chunks", a, sizeof a),
            cli_money (json_object_get (sender, "cost_usd"), b, sizeof b));
    printf ("now          %s queued, %s requests in flight\n",
            s_count (sender, "queued", a, sizeof a), s_count (sender, "in_flight", b, sizeof b));
}

static int
s_status (int argc, char **argv)
{
    cli_mirror_options_t options = {0};
    int exit_status = cli_mirror_parse (&options, S_NAME " status", argc, argv, 2, s_usage);
    if (exit_status != -1)
        return exit_status;
    json_t *reply = NULL;
    if (options.store_path || options.config_path) {
        json_t *config = NULL;
        cab_store_t *store = cli_mirror_open (&options, S_NAME " status", &config, &exit_status);
        if (store)
            reply = cli_mirror_store_status (store, config, S_NAME " status", &exit_status);
        cab_store_destroy (&store);
        json_decref (config);
    } else
        reply = cli_mirror_ask (&options, S_NAME " status", "mirror-status", &exit_status);
    if (!reply)
        return exit_status;
    if (options.as_json)
        cli_mirror_print_json (reply);
    else
        s_print_status (reply);
    json_decref (reply);
    return CLI_EXIT_OK;
}

int
cli_mirror_main (int argc, char **argv)
{
    const char *command = argc > 1 ? argv[1] : NULL;
    if (command && cli_is_help (command)) {
        s_usage (stdout);
        return CLI_EXIT_OK;
    }
    if (!command) {
        s_usage (stderr);
        return CLI_EXIT_USAGE;
    }
    if (streq (command, "status"))
        return s_status (argc, argv);
    if (command[0] == '-')
        fprintf (stderr, S_NAME ": the command comes first: cabruca mirror status %s\n", command);
    else
        fprintf (stderr, S_NAME ": unknown command '%s' (status; see cabruca mirror --help)\n",
                 command);
    return CLI_EXIT_USAGE;
}
