/*  =========================================================================
    cli_query - `cabruca query` (the history) and `cabruca tail` (live)

    Both read the store read-only (SQLite WAL lets them run beside the
    broker) and filter with the store's indexes (source, detail-type, time,
    correlation id) and an EventBridge pattern (the same language as the
    rules). `tail` prints the last matching events, then follows new ones.
    See docs/man/cabruca-query.md and docs/man/cabruca-tail.md.
    =========================================================================
*/
#include "config.h"
#include "cab_lines.h"
#include "cab_store.h"
#include "cli.h"
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_CONFIG_MAX  (1024 * 1024)
#define S_PATTERN_MAX (256 * 1024)
#define S_LIMIT_MAX   10000000
//  How often tail looks for new events, ms.
#define S_FOLLOW_MS 200

typedef struct {
    const char *name;  //  "query" or "tail"
    const char *store_path, *config_path;
    cab_store_query_t query;
    cab_pattern_t *pattern;
    bool as_json;
    bool silent;       //  Count only (tail's look back)
    long long limit;   //  query: at most; tail: how many old ones first
    long long count;   //  tail: exit after this many (0: never)
    double timeout_s;  //  tail: exit after this long (0: never)
    long long printed;
    char *owned_store;  //  The path read from --config
} s_options_t;

static void
s_usage (FILE *out, const char *name)
{
    if (streq (name, "query"))
        fprintf (
            out,
            "usage: cabruca query [--store PATH | --config BROKER.json] [--pattern P]\n"
            "                     [--source S] [--type DETAIL-TYPE] [--correlation ID]\n"
            "                     [--since TIME] [--until TIME] [--limit N] [--desc] "
            "[--json]\n\n"
            "Print stored events, oldest first (--desc: newest first), as a table or (--json)\n"
            "one event per line exactly as stored.\n\n");
    else
        fprintf (out, "usage: cabruca tail [--store PATH | --config BROKER.json] [--pattern P]\n"
                      "                    [--source S] [--type DETAIL-TYPE] [--correlation ID]\n"
                      "                    [--last N] [--count N] [--timeout S] [--json]\n\n"
                      "Print the last N matching events (default 10), then each new one as it is\n"
                      "stored, until Ctrl-C (or --count events, or --timeout seconds).\n\n");
    fprintf (out,
             "--store PATH      the broker's store (read-only)\n"
             "--config FILE     the broker's configuration: use its store.path\n"
             "--pattern P       an EventBridge event pattern: a file, or the JSON text itself\n"
             "--source S        events of this source only\n"
             "--type T          events of this detail-type only\n"
             "--correlation ID  events of this correlation id only\n"
             "--since, --until  ISO 8601 UTC time, now, or -30s -15m -2h -7d (event time)\n"
             "--limit N         query: at most N events (default 100; 0: all)\n"
             "--json            one event per line, as stored\n\n"
             "Exit status: 0 done (query: also when nothing matched), 1 the store cannot be\n"
             "read, or tail's --timeout passed before --count events, 2 usage error.\n");
}

static int
s_usage_error (const s_options_t *options, const char *message, const char *value)
{
    fprintf (stderr, "cabruca %s: %s%s%s%s (see --help)\n", options->name, message,
             value ? ": '" : "", value ? value : "", value ? "'" : "");
    return CLI_EXIT_USAGE;
}

//  --pattern: a file name, or the pattern's JSON text itself.
static int
s_load_pattern (s_options_t *options, const char *value)
{
    cab_error_t error = {0};
    if (value[0] == '{')
        options->pattern = cab_pattern_new (value, strlen (value), &error);
    else {
        size_t size = 0;
        char *text = cab_file_read (value, S_PATTERN_MAX, &size, &error);
        if (text)
            options->pattern = cab_pattern_new (text, size, &error);
        free (text);
    }
    if (options->pattern)
        return CLI_EXIT_OK;
    fprintf (stderr, "cabruca %s: --pattern %s: %s%s%s\n", options->name, value,
             *error.path ? error.path : "", *error.path ? ": " : "", error.text);
    return CLI_EXIT_USAGE;
}

static int
s_parse (int argc, char **argv, s_options_t *options)
{
    int64_t now = cli_now_ms ();
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (cli_is_help (arg)) {
            s_usage (stdout, options->name);
            return -2;
        }
        if (streq (arg, "--json")) {
            options->as_json = true;
            continue;
        }
        if (streq (arg, "--desc") && streq (options->name, "query")) {
            options->query.descending = true;
            continue;
        }
        if (index + 1 >= argc)
            return s_usage_error (options, "option needs a value", arg);
        const char *value = argv[++index];
        char *end = NULL;
        if (streq (arg, "--store"))
            options->store_path = value;
        else if (streq (arg, "--config"))
            options->config_path = value;
        else if (streq (arg, "--source"))
            options->query.source = value;
        else if (streq (arg, "--type"))
            options->query.detail_type = value;
        else if (streq (arg, "--correlation"))
            options->query.correlation_id = value;
        else if (streq (arg, "--pattern")) {
            if (options->pattern)
                return s_usage_error (options, "--pattern given twice", NULL);
            int rc = s_load_pattern (options, value);
            if (rc != CLI_EXIT_OK)
                return rc;
        } else if (streq (arg, "--since") && streq (options->name, "query")) {
            if (!cli_parse_time (value, now, &options->query.from_ms))
                return s_usage_error (options, "--since: not a time", value);
        } else if (streq (arg, "--until") && streq (options->name, "query")) {
            if (!cli_parse_time (value, now, &options->query.to_ms))
                return s_usage_error (options, "--until: not a time", value);
        } else if ((streq (arg, "--limit") && streq (options->name, "query")) ||
                   (streq (arg, "--last") && streq (options->name, "tail"))) {
            errno = 0;
            options->limit = strtoll (value, &end, 10);
            if (errno || !*value || *end || options->limit < 0 || options->limit > S_LIMIT_MAX)
                return s_usage_error (options, "must be 0 to 10000000", value);
        } else if (streq (arg, "--count") && streq (options->name, "tail")) {
            errno = 0;
            options->count = strtoll (value, &end, 10);
            if (errno || !*value || *end || options->count < 1 || options->count > S_LIMIT_MAX)
                return s_usage_error (options, "--count must be 1 to 10000000", value);
        } else if (streq (arg, "--timeout") && streq (options->name, "tail")) {
            errno = 0;
            options->timeout_s = strtod (value, &end);
            if (errno || !*value || *end || !(options->timeout_s > 0) ||
                options->timeout_s > 31536000)
                return s_usage_error (options, "--timeout must be 0 to 31536000 seconds", value);
        } else
            return s_usage_error (options, "unknown option", arg);
    }
    if (options->store_path && options->config_path)
        return s_usage_error (options, "give --store or --config, not both", NULL);
    if (options->query.from_ms && options->query.to_ms &&
        options->query.from_ms > options->query.to_ms)
        return s_usage_error (options, "--since is after --until", NULL);
    return -1;
}

//  The store path: --store, or store.path of --config (relative to it).
static const char *
s_store_path (s_options_t *options)
{
    if (options->store_path)
        return options->store_path;
    if (!options->config_path) {
        fprintf (stderr, "cabruca %s: no store: give --store PATH or --config BROKER.json\n",
                 options->name);
        return NULL;
    }
    cab_error_t error = {0};
    size_t size = 0;
    char *text = cab_file_read (options->config_path, S_CONFIG_MAX, &size, &error);
    json_error_t json_error;
    json_t *config = text ? json_loadb (text, size, 0, &json_error) : NULL;
    free (text);
    const char *store =
        json_string_value (json_object_get (json_object_get (config, "store"), "path"));
    if (!store) {
        fprintf (stderr, "cabruca %s: %s: %s\n", options->name, options->config_path,
                 error.code ? error.text
                 : config   ? "/store/path: missing (not a broker configuration?)"
                            : json_error.text);
        json_decref (config);
        return NULL;
    }
    if (store[0] == '/')
        options->owned_store = strdup (store);
    else {
        const char *slash = strrchr (options->config_path, '/');
        int directory = slash ? (int)(slash - options->config_path) : 1;
        if (asprintf (&options->owned_store, "%.*s/%s", directory,
                      slash ? options->config_path : ".", store) < 0)
            options->owned_store = NULL;
    }
    json_decref (config);
    return options->owned_store;
}

static int
s_print (const cab_store_record_t *record, void *arg)
{
    s_options_t *options = (s_options_t *)arg;
    if (options->pattern) {
        bool matched = false;
        if (cab_pattern_match (options->pattern, record->text, record->length, &matched, NULL) !=
                CAB_OK ||
            !matched)
            return 0;
    }
    if (options->silent)
        ;
    else if (options->as_json)
        printf ("%.*s\n", (int)record->length, record->text);
    else {
        char time[CLI_TIME_SIZE];
        printf ("%8lld  %s  %-26s %-16s %-14s %s\n", (long long)record->seq,
                cli_format_time (record->time_ms, time, sizeof time), record->source,
                record->detail_type, record->agent_id ? record->agent_id : "-", record->id);
    }
    options->printed++;
    options->query.from_seq = record->seq + 1;  //  tail resumes after it
    bool query_full =
        streq (options->name, "query") && options->limit && options->printed >= options->limit;
    bool tail_done = options->count && options->printed >= options->count;
    return query_full || tail_done ? 1 : 0;
}

static void
s_header (const s_options_t *options)
{
    if (!options->as_json)
        printf ("%8s  %-24s  %-26s %-16s %-14s %s\n", "SEQ", "TIME", "SOURCE", "DETAIL-TYPE",
                "AGENT", "ID");
}

//  tail: where to start so that the last `limit` matching events print.
static int64_t
s_tail_start (cab_store_t *store, s_options_t *options)
{
    int64_t last = cab_store_last_seq (store);
    if (last <= 0 || options->limit == 0)
        return last + 1;
    //  Walk back in steps until enough match (the filters may skip many).
    int64_t from = last + 1;
    long long found = 0;
    for (int64_t step = options->limit; from > 1 && found < options->limit; step *= 4) {
        from = from - step > 1 ? from - step : 1;
        s_options_t probe = *options;
        probe.silent = true;
        probe.count = 0;
        probe.printed = 0;
        probe.query.from_seq = from;
        probe.query.to_seq = last;
        cab_store_scan (store, &probe.query, s_print, &probe, NULL);
        found = probe.printed;
    }
    if (found <= options->limit)
        return from;
    //  Too many: skip the oldest of them.
    s_options_t probe = *options;
    probe.silent = true;
    probe.count = found - options->limit;
    probe.printed = 0;
    probe.query.from_seq = from;
    probe.query.to_seq = last;
    cab_store_scan (store, &probe.query, s_print, &probe, NULL);
    return probe.query.from_seq;
}

static int
s_run (int argc, char **argv, const char *name)
{
    s_options_t options = {.name = name, .limit = streq (name, "query") ? 100 : 10};
    int rc = s_parse (argc, argv, &options);
    if (rc != -1) {
        cab_pattern_destroy (&options.pattern);
        return rc == -2 ? CLI_EXIT_OK : rc;
    }
    const char *path = s_store_path (&options);
    cab_error_t error = {0};
    cab_store_t *store = path ? cab_store_new_readonly (path, &error) : NULL;
    if (!store) {
        if (path)
            fprintf (stderr, "cabruca %s: %s\n", name, error.text);
        cab_pattern_destroy (&options.pattern);
        free (options.owned_store);
        return path ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
    }
    s_header (&options);
    cab_status_t status = CAB_OK;
    if (streq (name, "query"))
        status = cab_store_scan (store, &options.query, s_print, &options, &error);
    else {
        options.query.from_seq = s_tail_start (store, &options);
        int64_t deadline =
            options.timeout_s > 0 ? zclock_mono () + (int64_t)(options.timeout_s * 1000) : 0;
        while (status == CAB_OK && !zsys_interrupted) {
            status = cab_store_scan (store, &options.query, s_print, &options, &error);
            fflush (stdout);
            if (options.count && options.printed >= options.count)
                break;
            if (deadline && zclock_mono () >= deadline)
                break;
            zclock_sleep (S_FOLLOW_MS);
        }
    }
    if (status != CAB_OK)
        fprintf (stderr, "cabruca %s: %s\n", name, error.text);
    cab_store_destroy (&store);
    cab_pattern_destroy (&options.pattern);
    free (options.owned_store);
    if (status != CAB_OK)
        return CLI_EXIT_FAILURE;
    if (streq (name, "tail") && options.count && options.printed < options.count)
        return CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}

int
cli_query_main (int argc, char **argv)
{
    return s_run (argc, argv, "query");
}

int
cli_tail_main (int argc, char **argv)
{
    //  Ctrl-C ends the follow loop cleanly (zsys_interrupted).
    zsys_catch_interrupts ();
    return s_run (argc, argv, "tail");
}
