/*  =========================================================================
    cabruca-loadtest - simulated agents publishing to a broker at a rate

    usage: cabruca-loadtest [--agents N] [--events-per-agent M] [--duration S]
                            [--rate R] [--window W] [--payload-bytes B]
                            [--agent-ids ID,ID,...] [--broker ENDPOINT]
                            [--drain S] [--connect-timeout S] [--json]
    See docs/man/cabruca-loadtest.md.
    =========================================================================
*/
#include "loadtest.h"
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME       "cabruca-loadtest"
#define S_MAX_AGENTS 256

//  Exit statuses, as the CLI's (docs/errors.md, docs/man/cabruca-loadtest.md).
#define S_EXIT_OK     0
#define S_EXIT_FAILED 1
#define S_EXIT_USAGE  2

static void
s_usage (FILE *out)
{
    fprintf (
        out,
        "usage: " S_NAME " [--agents N] [--events-per-agent M] [--duration S] [--rate R]\n"
        "                        [--window W] [--payload-bytes B] [--agent-ids ID,...]\n"
        "                        [--broker ENDPOINT] [--drain S] [--connect-timeout S] [--json]\n"
        "\n"
        "Run N simulated agents (monitor, product, developer, tester in turn), each with\n"
        "its own connection, publishing events of its type to a broker, and report the\n"
        "acknowledged throughput, the publish->ACK latency percentiles, the refusals by\n"
        "code and the broker's own counters before and after.\n"
        "\n"
        "--agents N            simulated agents, 1-%d (default 4)\n"
        "--events-per-agent M  events each agent publishes (default 10000 unless --duration)\n"
        "--duration S          stop publishing after S seconds (0.1-86400)\n"
        "--rate R              events/s over all agents (default: as fast as the windows allow)\n"
        "--window W            events in flight per agent, 1-100000 (default 1000)\n"
        "--payload-bytes B     pad each event to about B bytes of JSON (0-250000)\n"
        "--agent-ids LIST      comma-separated agent ids, one per agent; the type of an agent\n"
        "                      is taken from its id's prefix (monitor-, product-, developer-,\n"
        "                      tester-); default monitor-lt-1, product-lt-2, ...\n"
        "--broker ENDPOINT     default: $CABRUCA_BROKER, else %s\n"
        "--drain S             wait S seconds for the last answers (default 30)\n"
        "--connect-timeout S   wait S seconds for every session (default 10)\n"
        "--json                print the report as one JSON object\n"
        "\n"
        "Exit status: 0 every event was acknowledged; 1 some were refused or unanswered,\n"
        "or an agent got no session; 2 usage error.\n",
        S_MAX_AGENTS, CAB_CLIENT_DEFAULT_ENDPOINT);
}

static int
s_bad (const char *message, const char *value)
{
    fprintf (stderr, S_NAME ": %s: '%s' (see --help)\n", message, value);
    return S_EXIT_USAGE;
}

//  Parse a number in [low, high]; false for anything else.
static bool
s_number (const char *text, double low, double high, double *value_p)
{
    char *end = NULL;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (value) || value < low || value > high)
        return false;
    *value_p = value;
    return true;
}

static lt_type_t
s_type_of (const char *agent_id, size_t index)
{
    for (int type = 0; type < LT_TYPES; type++) {
        size_t length = strlen (lt_type_name ((lt_type_t)type));
        if (strncmp (agent_id, lt_type_name ((lt_type_t)type), length) == 0 &&
            agent_id[length] == '-')
            return (lt_type_t)type;
    }
    return (lt_type_t)(index % LT_TYPES);
}

static bool
s_agent_id_valid (const char *id, size_t length)
{
    if (length < 1 || length > 64)
        return false;
    for (size_t index = 0; index < length; index++)
        if (!(isalnum ((unsigned char)id[index]) || strchr ("-_.", id[index])))
            return false;
    return true;
}

static json_t *
s_broker_status (const char *endpoint, int timeout_ms)
{
    cab_client_t *client = cab_client_new (endpoint, NULL, NULL);
    json_t *status = NULL;
    if (client)
        cab_client_status (client, &status, timeout_ms, NULL);
    cab_client_destroy (&client);
    return status;
}

static json_int_t
s_delta (json_t *before, json_t *after, const char *name)
{
    return json_integer_value (json_object_get (after, name)) -
           json_integer_value (json_object_get (before, name));
}

static json_t *
s_report (lt_agent_t *agents, size_t count, const lt_options_t *options, json_t *before,
          json_t *after)
{
    lt_hist_t *hist = (lt_hist_t *)calloc (1, sizeof *hist);
    uint64_t sent = 0, acked = 0, duplicates = 0, nacked = 0, busy = 0;
    uint64_t by_code[CAB_STATUS_COUNT_] = {0};
    int64_t first = 0, last = 0;
    json_t *failures = json_array ();
    for (size_t index = 0; index < count; index++) {
        lt_agent_t *agent = &agents[index];
        sent += agent->sent;
        acked += agent->acked;
        duplicates += agent->duplicates;
        nacked += agent->nacked;
        busy += agent->busy_waits;
        for (int code = 0; code < CAB_STATUS_COUNT_; code++)
            by_code[code] += agent->nacked_by_code[code];
        if (hist)
            lt_hist_merge (hist, &agent->hist);
        if (agent->first_send_us && (!first || agent->first_send_us < first))
            first = agent->first_send_us;
        if (agent->last_answer_us > last)
            last = agent->last_answer_us;
        if (agent->failure)
            json_array_append_new (failures,
                                   json_pack ("{s:s, s:s, s:s}", "agent_id", agent->agent_id,
                                              "code", cab_status_name (agent->failure), "text",
                                              agent->failure_text));
    }
    double seconds = last > first ? (double)(last - first) / 1e6 : 0;
    json_t *nacks = json_object ();
    for (int code = 0; code < CAB_STATUS_COUNT_; code++)
        if (by_code[code])
            json_object_set_new (nacks, cab_status_name ((cab_status_t)code),
                                 json_integer ((json_int_t)by_code[code]));
    json_t *latency = json_pack ("{s:f, s:f, s:f, s:f, s:f}", "p50_ms",
                                 hist ? lt_hist_percentile (hist, 50) / 1000 : 0, "p90_ms",
                                 hist ? lt_hist_percentile (hist, 90) / 1000 : 0, "p99_ms",
                                 hist ? lt_hist_percentile (hist, 99) / 1000 : 0, "p999_ms",
                                 hist ? lt_hist_percentile (hist, 99.9) / 1000 : 0, "max_ms",
                                 hist ? (double)hist->max_us / 1000 : 0);
    free (hist);
    json_t *broker = json_null ();
    if (before && after)
        broker = json_pack (
            "{s:I, s:I, s:I, s:I, s:I}", "received", s_delta (before, after, "received"), "stored",
            s_delta (before, after, "stored"), "duplicates", s_delta (before, after, "duplicates"),
            "nacked", s_delta (before, after, "nacked_total"), "in_flight",
            json_integer_value (json_object_get (after, "in_flight")));
    return json_pack ("{s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o, s:o, s:o, "
                      "s:o}",
                      "agents", (json_int_t)count, "rate", options->rate, "window",
                      (json_int_t)options->window, "sent", (json_int_t)sent, "acked",
                      (json_int_t)acked, "duplicates", (json_int_t)duplicates, "nacked",
                      (json_int_t)nacked, "unanswered", (json_int_t)(sent - acked - nacked),
                      "busy_waits", (json_int_t)busy, "seconds", seconds, "acked_per_second",
                      seconds > 0 ? (double)acked / seconds : 0, "nacked_by_code", nacks, "latency",
                      latency, "broker", broker, "failures", failures);
}

static void
s_print (json_t *report)
{
    json_t *latency = json_object_get (report, "latency");
    printf ("agents      %" JSON_INTEGER_FORMAT ", window %" JSON_INTEGER_FORMAT ", rate %s\n",
            json_integer_value (json_object_get (report, "agents")),
            json_integer_value (json_object_get (report, "window")),
            json_real_value (json_object_get (report, "rate")) > 0 ? "fixed" : "unlimited");
    printf ("sent        %" JSON_INTEGER_FORMAT "\n",
            json_integer_value (json_object_get (report, "sent")));
    printf ("acked       %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " duplicates)\n",
            json_integer_value (json_object_get (report, "acked")),
            json_integer_value (json_object_get (report, "duplicates")));
    printf ("nacked      %" JSON_INTEGER_FORMAT,
            json_integer_value (json_object_get (report, "nacked")));
    const char *code;
    json_t *count;
    const char *separator = " (";
    json_object_foreach (json_object_get (report, "nacked_by_code"), code, count)
    {
        printf ("%s%s %" JSON_INTEGER_FORMAT, separator, code, json_integer_value (count));
        separator = ", ";
    }
    printf ("%s\n", streq (separator, ", ") ? ")" : "");
    printf ("unanswered  %" JSON_INTEGER_FORMAT "\n",
            json_integer_value (json_object_get (report, "unanswered")));
    printf ("throughput  %.0f events/s acknowledged over %.2f s\n",
            json_real_value (json_object_get (report, "acked_per_second")),
            json_real_value (json_object_get (report, "seconds")));
    printf ("latency     publish->ACK ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
            json_real_value (json_object_get (latency, "p50_ms")),
            json_real_value (json_object_get (latency, "p90_ms")),
            json_real_value (json_object_get (latency, "p99_ms")),
            json_real_value (json_object_get (latency, "p999_ms")),
            json_real_value (json_object_get (latency, "max_ms")));
    json_t *broker = json_object_get (report, "broker");
    if (json_is_object (broker))
        printf ("broker      +%" JSON_INTEGER_FORMAT " received, +%" JSON_INTEGER_FORMAT
                " stored, +%" JSON_INTEGER_FORMAT " duplicates, +%" JSON_INTEGER_FORMAT
                " nacked, %" JSON_INTEGER_FORMAT " in flight\n",
                json_integer_value (json_object_get (broker, "received")),
                json_integer_value (json_object_get (broker, "stored")),
                json_integer_value (json_object_get (broker, "duplicates")),
                json_integer_value (json_object_get (broker, "nacked")),
                json_integer_value (json_object_get (broker, "in_flight")));
    else
        printf ("broker      (no STATUS answer)\n");
    size_t index;
    json_t *failure;
    json_array_foreach (json_object_get (report, "failures"), index, failure) printf (
        "failed      %s: %s: %s\n", json_string_value (json_object_get (failure, "agent_id")),
        json_string_value (json_object_get (failure, "code")),
        json_string_value (json_object_get (failure, "text")));
}

int
main (int argc, char **argv)
{
    lt_options_t options = {.agents = 4, .window = 1000, .drain_s = 30, .connect_s = 10};
    const char *ids = NULL;
    bool as_json = false, events_given = false;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (streq (arg, "--help") || streq (arg, "-h")) {
            s_usage (stdout);
            return S_EXIT_OK;
        }
        if (streq (arg, "--json")) {
            as_json = true;
            continue;
        }
        if (arg[0] != '-' || arg[1] != '-')
            return s_bad ("unexpected argument", arg);
        if (index + 1 >= argc)
            return s_bad ("option needs a value", arg);
        const char *value = argv[++index];
        double number = 0;
        if (streq (arg, "--agents")) {
            if (!s_number (value, 1, S_MAX_AGENTS, &number) || number != floor (number))
                return s_bad ("--agents must be a whole number from 1 to 256", value);
            options.agents = (size_t)number;
        } else if (streq (arg, "--events-per-agent")) {
            if (!s_number (value, 1, 1e12, &number) || number != floor (number))
                return s_bad ("--events-per-agent must be a whole number from 1", value);
            options.events_per_agent = (uint64_t)number;
            events_given = true;
        } else if (streq (arg, "--duration")) {
            if (!s_number (value, 0.1, 86400, &number))
                return s_bad ("--duration must be 0.1 to 86400 seconds", value);
            options.duration_s = number;
        } else if (streq (arg, "--rate")) {
            if (!s_number (value, 1, 10e6, &number))
                return s_bad ("--rate must be 1 to 10,000,000 events/s", value);
            options.rate = number;
        } else if (streq (arg, "--window")) {
            if (!s_number (value, 1, CAB_CLIENT_MAX_WINDOW, &number) || number != floor (number))
                return s_bad ("--window must be a whole number from 1 to 100000", value);
            options.window = (size_t)number;
        } else if (streq (arg, "--payload-bytes")) {
            if (!s_number (value, 0, 250000, &number) || number != floor (number))
                return s_bad ("--payload-bytes must be 0 to 250000", value);
            options.pad_bytes = (size_t)number;
        } else if (streq (arg, "--drain")) {
            if (!s_number (value, 0, 3600, &number))
                return s_bad ("--drain must be 0 to 3600 seconds", value);
            options.drain_s = number;
        } else if (streq (arg, "--connect-timeout")) {
            if (!s_number (value, 0.1, 3600, &number))
                return s_bad ("--connect-timeout must be 0.1 to 3600 seconds", value);
            options.connect_s = number;
        } else if (streq (arg, "--broker"))
            options.endpoint = value;
        else if (streq (arg, "--agent-ids"))
            ids = value;
        else
            return s_bad ("unknown option", arg);
    }
    if (!events_given && options.duration_s == 0)
        options.events_per_agent = 10000;

    lt_agent_t *agents = (lt_agent_t *)calloc (options.agents, sizeof *agents);
    if (!agents) {
        fprintf (stderr, S_NAME ": out of memory\n");
        return S_EXIT_FAILED;
    }
    const char *cursor = ids;
    for (size_t index = 0; index < options.agents; index++) {
        lt_agent_t *agent = &agents[index];
        agent->options = &options;
        if (ids) {
            const char *comma = cursor ? strchr (cursor, ',') : NULL;
            size_t length = cursor ? (comma ? (size_t)(comma - cursor) : strlen (cursor)) : 0;
            if (!cursor || !s_agent_id_valid (cursor, length)) {
                free (agents);
                return s_bad ("--agent-ids needs one valid id (1-64 of A-Za-z0-9._-) per agent",
                              ids);
            }
            memcpy (agent->agent_id, cursor, length);
            agent->agent_id[length] = '\0';
            cursor = comma ? comma + 1 : NULL;
            agent->type = s_type_of (agent->agent_id, index);
        } else {
            agent->type = (lt_type_t)(index % LT_TYPES);
            snprintf (agent->agent_id, sizeof agent->agent_id, "%s-lt-%zu",
                      lt_type_name (agent->type), index + 1);
        }
    }
    if (ids && cursor) {
        free (agents);
        return s_bad ("--agent-ids has more ids than --agents", ids);
    }
    for (size_t index = 0; index < options.agents; index++) {
        agents[index].ring = options.window + 1;
        agents[index].sent_at = (int64_t *)calloc (agents[index].ring, sizeof (int64_t));
        if (!agents[index].sent_at) {
            fprintf (stderr, S_NAME ": out of memory\n");
            for (size_t other = 0; other < index; other++)
                free (agents[other].sent_at);
            free (agents);
            return S_EXIT_FAILED;
        }
    }

    zsys_init ();
    int status_ms = options.connect_s < 3 ? (int)(options.connect_s * 1000) : 3000;
    json_t *before = s_broker_status (options.endpoint, status_ms);
    lt_start_t start = {.mutex = PTHREAD_MUTEX_INITIALIZER,
                        .cond = PTHREAD_COND_INITIALIZER,
                        .total = options.agents};
    int rc = lt_agents_run (agents, options.agents, &start);
    json_t *after = s_broker_status (options.endpoint, status_ms);
    json_t *report = s_report (agents, options.agents, &options, before, after);
    int status = S_EXIT_OK;
    if (rc != 0 || start.abort)
        status = S_EXIT_FAILED;
    else if (json_integer_value (json_object_get (report, "nacked")) ||
             json_integer_value (json_object_get (report, "unanswered")) ||
             json_array_size (json_object_get (report, "failures")))
        status = S_EXIT_FAILED;
    if (!report) {
        fprintf (stderr, S_NAME ": out of memory\n");
        status = S_EXIT_FAILED;
    } else if (as_json) {
        char *text = json_dumps (report, JSON_COMPACT);
        if (text)
            printf ("%s\n", text);
        free (text);
    } else
        s_print (report);
    if (status == S_EXIT_FAILED && report) {
        size_t index;
        json_t *failure;
        json_array_foreach (json_object_get (report, "failures"), index, failure)
        {
            fprintf (stderr, S_NAME ": %s: %s\n",
                     json_string_value (json_object_get (failure, "agent_id")),
                     json_string_value (json_object_get (failure, "text")));
            break;
        }
    }
    json_decref (report);
    json_decref (before);
    json_decref (after);
    for (size_t index = 0; index < options.agents; index++)
        free (agents[index].sent_at);
    free (agents);
    return status;
}
