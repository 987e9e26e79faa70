/*  =========================================================================
    cli_replay - `cabruca replay`: deliver archived events again to the
    rules' targets. See docs/man/cabruca-replay.md.

    Asks the running broker to start a replay (a CONTROL request, docs/
    protocol.md "Control"), then follows it with replay-status requests
    until no delivery of it is pending: a progress bar on standard error
    when that is a terminal, a plain line now and then otherwise.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_lines.h"
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_NAME "cabruca replay"
//  How often the progress is asked for, ms.
#define S_POLL_MS 250
//  Plain progress lines (not a terminal): at most one per this many ms.
#define S_LINE_MS 1000
//  Consecutive unanswered replay-status requests before giving up.
#define S_POLL_FAILURES 3
//  Longest replay name (the protocol's queue-name rule).
#define S_NAME_MAX 64

typedef struct {
    const char *endpoint, *rule, *pattern_path, *speed;
    char name[S_NAME_MAX + 1];
    int64_t from_ms, to_ms;
    bool has_from, as_json, wait;
    long timeout_ms;
} s_options_t;

typedef struct {
    int64_t pending, done, dead;
} s_progress_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca replay --from TIME [--to TIME] [--rule NAME] [--pattern FILE]\n"
             "                      [--speed original|max] [--name NAME] [--no-wait]\n"
             "                      [--broker ENDPOINT] [--timeout MS] [--json]\n"
             "\n"
             "Deliver the archived events of a time window again to the targets of the\n"
             "rules they match (only rule NAME with --rule; only events also matching the\n"
             "pattern in FILE with --pattern). Replayed events carry \"replay-name\"; they\n"
             "are not archived again. Follows the replay until it is delivered.\n"
             "\n"
             "--from, --to  the window (event time, inclusive); TIME is ISO 8601 UTC\n"
             "              (2026-11-22T10:00:00Z), now, or relative: -30s, -15m, -2h, -7d;\n"
             "              --to defaults to now\n"
             "--speed       max (default): as fast as the targets take them; original:\n"
             "              spaced as the events were\n"
             "--name        the replay's name (default replay-<time>; 1-64 of A-Z a-z 0-9 . _ -)\n"
             "--no-wait     start the replay and return\n"
             "--broker      endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--timeout     wait at most MS milliseconds for each answer (default 30000)\n"
             "--json        print the result as one JSON object\n"
             "\n"
             "Exit status: 0 replayed (or started, with --no-wait), 1 the broker refused or\n"
             "did not answer, 2 usage error.\n",
             CAB_CLIENT_DEFAULT_ENDPOINT);
}

static int
s_usage_error (const char *message, const char *arg)
{
    fprintf (stderr, S_NAME ": %s%s%s%s\n", message, arg ? " '" : "", arg ? arg : "",
             arg ? "'" : "");
    fprintf (stderr, "Run `cabruca replay --help` for the options.\n");
    return CLI_EXIT_USAGE;
}

static bool
s_name_ok (const char *name)
{
    size_t length = strlen (name);
    if (length < 1 || length > S_NAME_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

static int
s_parse (s_options_t *options, int argc, char **argv)
{
    int64_t now = cli_now_ms ();
    bool has_to = false;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (cli_is_help (arg)) {
            s_usage (stdout);
            return CLI_EXIT_OK;
        }
        if (streq (arg, "--json")) {
            options->as_json = true;
            continue;
        }
        if (streq (arg, "--no-wait")) {
            options->wait = false;
            continue;
        }
        bool known = streq (arg, "--from") || streq (arg, "--to") || streq (arg, "--rule") ||
                     streq (arg, "--pattern") || streq (arg, "--speed") || streq (arg, "--name") ||
                     streq (arg, "--broker") || streq (arg, "--timeout");
        if (!known)
            return s_usage_error ("unknown option", arg);
        if (index + 1 >= argc)
            return s_usage_error ("option needs a value:", arg);
        const char *value = argv[++index];
        if (streq (arg, "--from") || streq (arg, "--to")) {
            bool from = streq (arg, "--from");
            if (!cli_parse_time (value, now, from ? &options->from_ms : &options->to_ms))
                return s_usage_error ("bad TIME (ISO 8601 UTC like 2026-11-22T10:00:00Z, now, "
                                      "or -30s, -15m, -2h, -7d):",
                                      value);
            if (from)
                options->has_from = true;
            else
                has_to = true;
        } else if (streq (arg, "--rule"))
            options->rule = value;
        else if (streq (arg, "--pattern"))
            options->pattern_path = value;
        else if (streq (arg, "--speed")) {
            if (!streq (value, "original") && !streq (value, "max"))
                return s_usage_error ("--speed must be original or max, not", value);
            options->speed = value;
        } else if (streq (arg, "--name")) {
            if (!s_name_ok (value))
                return s_usage_error ("--name must be 1-64 of A-Z a-z 0-9 . _ -, not", value);
            snprintf (options->name, sizeof options->name, "%s", value);
        } else if (streq (arg, "--broker"))
            options->endpoint = value;
        else {
            char *end = NULL;
            errno = 0;
            long timeout = strtol (value, &end, 10);
            if (errno || !end || end == value || *end || timeout < 1 || timeout > 86400000)
                return s_usage_error ("--timeout needs milliseconds (1..86400000), not", value);
            options->timeout_ms = timeout;
        }
    }
    if (!options->has_from)
        return s_usage_error ("--from TIME is required", NULL);
    if (!has_to)
        options->to_ms = now;
    if (options->from_ms > options->to_ms)
        return s_usage_error ("--from is after --to", NULL);
    if (!options->name[0]) {
        time_t seconds = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r (&seconds, &tm);
        snprintf (options->name, sizeof options->name, "replay-%04d%02d%02dT%02d%02d%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  (int)(now % 1000));
    }
    return -1;
}

//  Read and check the pattern file: a new reference, or NULL (reported).
static json_t *
s_load_pattern (const char *path)
{
    cab_error_t error;
    size_t size = 0;
    char *text = cab_file_read (path, CLI_LINE_MAX, &size, &error);
    if (!text) {
        fprintf (stderr, S_NAME ": %s [%s]\n", error.text, cab_status_name (error.code));
        return NULL;
    }
    json_error_t json_error;
    json_t *pattern = json_loadb (text, size, 0, &json_error);
    free (text);
    if (!pattern) {
        fprintf (stderr, S_NAME ": %s: line %d: %s [InvalidJson]\n", path, json_error.line,
                 json_error.text);
        return NULL;
    }
    cab_pattern_t *compiled = cab_pattern_new_from_json (pattern, &error);
    if (!compiled) {
        fprintf (stderr, S_NAME ": %s: %s: %s [%s]\n", path, error.path[0] ? error.path : "/",
                 error.text, cab_status_name (error.code));
        json_decref (pattern);
        return NULL;
    }
    cab_pattern_destroy (&compiled);
    return pattern;
}

//  Send request (borrowed); on {"ok":true} return the reply (new), else
//  report it and return NULL with *exit_p set.
static json_t *
s_control (cab_client_t *client, const json_t *request, long timeout_ms, int *exit_p)
{
    cab_error_t error;
    cab_error_clear (&error);
    json_t *reply = NULL;
    if (cab_client_control (client, request, &reply, (int)timeout_ms, &error) != CAB_OK || !reply) {
        fprintf (stderr, S_NAME ": %s [%s]\n", error.text, cab_status_name (error.code));
        *exit_p = CLI_EXIT_FAILURE;
        return NULL;
    }
    if (json_is_true (json_object_get (reply, "ok")))
        return reply;
    json_int_t code = json_integer_value (json_object_get (reply, "code"));
    const char *message = json_string_value (json_object_get (reply, "message"));
    const char *name = json_string_value (json_object_get (reply, "error"));
    fprintf (stderr, S_NAME ": the broker refused: %s [%s]\n",
             message ? message : "no reason given",
             name ? name : cab_status_name ((cab_status_t)code));
    *exit_p = code == CAB_ERR_INVALID_ARGUMENT || code == CAB_ERR_NOT_FOUND ||
                      code == CAB_ERR_INVALID_PATTERN
                  ? CLI_EXIT_USAGE
                  : CLI_EXIT_FAILURE;
    json_decref (reply);
    return NULL;
}

static int64_t
s_int (json_t *object, const char *key)
{
    return (int64_t)json_integer_value (json_object_get (object, key));
}

//  Show progress on stderr: a bar on a terminal, else a plain line at most
//  every S_LINE_MS (and always the last one).
static void
s_show_progress (const s_options_t *options, bool terminal, const s_progress_t *progress,
                 int64_t total, bool last, int64_t *last_line_ms)
{
    int64_t finished = progress->done + progress->dead;
    if (total < finished + progress->pending)
        total = finished + progress->pending;
    int percent = total ? (int)(finished * 100 / total) : 100;
    if (terminal) {
        char bar[41];
        int filled = percent * 40 / 100;
        for (int i = 0; i < 40; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[40] = 0;
        fprintf (stderr, "\r%s [%s] %3d%% %lld/%lld, %lld dead", options->name, bar, percent,
                 (long long)finished, (long long)total, (long long)progress->dead);
        if (last)
            fputc ('\n', stderr);
        fflush (stderr);
        return;
    }
    int64_t now = cli_now_ms ();
    if (!last && now - *last_line_ms < S_LINE_MS)
        return;
    *last_line_ms = now;
    fprintf (stderr, S_NAME ": %s: %lld/%lld delivered (%d%%), %lld dead, %lld pending\n",
             options->name, (long long)finished, (long long)total, percent,
             (long long)progress->dead, (long long)progress->pending);
}

//  Follow the replay until nothing of it is pending. Returns -1 or the
//  exit status.
static int
s_follow (const s_options_t *options, cab_client_t *client, int64_t total, s_progress_t *progress)
{
    json_t *request = json_pack ("{s:s, s:s}", "op", "replay-status", "name", options->name);
    if (!request)
        return CLI_EXIT_FAILURE;
    bool terminal = isatty (STDERR_FILENO) == 1;
    int64_t last_line = 0;
    int failures = 0, exit_status = -1;
    while (exit_status == -1) {
        int poll_exit = CLI_EXIT_FAILURE;
        json_t *reply = s_control (client, request, options->timeout_ms, &poll_exit);
        if (!reply) {
            if (++failures >= S_POLL_FAILURES)
                exit_status = poll_exit;
        } else {
            failures = 0;
            progress->pending = s_int (reply, "pending");
            progress->done = s_int (reply, "done");
            progress->dead = s_int (reply, "dead");
            json_decref (reply);
            bool finished = progress->pending == 0;
            s_show_progress (options, terminal, progress, total, finished, &last_line);
            if (finished)
                break;
        }
        if (exit_status == -1)
            zclock_sleep (S_POLL_MS);
    }
    json_decref (request);
    return exit_status;
}

int
cli_replay_main (int argc, char **argv)
{
    s_options_t options = {0};
    options.speed = "max";
    options.wait = true;
    options.timeout_ms = 30000;
    int exit_status = s_parse (&options, argc, argv);
    if (exit_status != -1)
        return exit_status;
    json_t *pattern = json_null ();
    if (options.pattern_path) {
        json_decref (pattern);
        pattern = s_load_pattern (options.pattern_path);
        if (!pattern)
            return CLI_EXIT_USAGE;
    }
    json_t *request =
        json_pack ("{s:s, s:s, s:I, s:I, s:o, s:o, s:s}", "op", "replay", "name", options.name,
                   "from_ms", (json_int_t)options.from_ms, "to_ms", (json_int_t)options.to_ms,
                   "rule", options.rule ? json_string (options.rule) : json_null (), "pattern",
                   pattern, "speed", options.speed);
    if (!request) {
        fprintf (stderr, S_NAME ": cannot build the request (is --rule UTF-8?)\n");
        return CLI_EXIT_USAGE;
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_client_t *client = cab_client_new (options.endpoint, NULL, &error);
    if (!client) {
        json_decref (request);
        fprintf (stderr, S_NAME ": %s [%s]\n", error.text, cab_status_name (error.code));
        return error.code == CAB_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
    }
    exit_status = CLI_EXIT_FAILURE;
    json_t *started = s_control (client, request, options.timeout_ms, &exit_status);
    json_decref (request);
    if (!started) {
        cab_client_destroy (&client);
        return exit_status;
    }
    exit_status = CLI_EXIT_OK;
    int64_t events = s_int (started, "events"), deliveries = s_int (started, "deliveries");
    s_progress_t progress = {deliveries, 0, 0};
    if (options.wait && deliveries > 0) {
        int followed = s_follow (&options, client, deliveries, &progress);
        if (followed != -1)
            exit_status = followed;
    }
    cab_client_destroy (&client);
    if (options.as_json) {
        json_t *result =
            json_pack ("{s:s, s:I, s:I, s:I, s:I, s:I, s:b}", "replay", options.name, "events",
                       (json_int_t)events, "deliveries", (json_int_t)deliveries, "pending",
                       (json_int_t)progress.pending, "done", (json_int_t)progress.done, "dead",
                       (json_int_t)progress.dead, "finished", progress.pending == 0);
        char *text = result ? json_dumps (result, JSON_COMPACT) : NULL;
        if (text)
            printf ("%s\n", text);
        free (text);
        json_decref (result);
    } else if (!options.wait || exit_status != CLI_EXIT_OK)
        printf ("replay %s: %lld events, %lld deliveries started\n", options.name,
                (long long)events, (long long)deliveries);
    else
        printf ("replay %s: %lld events, %lld deliveries: %lld done, %lld dead\n", options.name,
                (long long)events, (long long)deliveries, (long long)progress.done,
                (long long)progress.dead);
    json_decref (started);
    return exit_status;
}
