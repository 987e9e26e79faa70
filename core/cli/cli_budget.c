/*  =========================================================================
    cli_budget - `cabruca budget`: the cloud mirror's monthly budget and
    per-agent-type caps, as the running broker counts them (CONTROL
    {"op":"budget"} and {"op":"mirror-status"} for the lag; docs/protocol.md,
    docs/budget.md "Report"). See docs/man/cabruca-budget.md.
    =========================================================================
*/
#include "config.h"
#include "cli.h"
#include "cab_budget.h"
#include "cab_store_mirror.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAME "cabruca budget"

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: cabruca budget [--broker ENDPOINT] [--json] [--timeout MS]\n"
             "                      [--curve-cert FILE --server-cert FILE]\n"
             "       cabruca budget --config BROKER.json [--store PATH] [--json]\n"
             "       cabruca budget --store PATH [--json]\n"
             "\n"
             "The cloud mirror's budget this UTC month: events and cost so far, the\n"
             "projection to the month's end, the budget and the share used (the alarm\n"
             "fires at 90%% by default, at 100%% only always_mirror events are mirrored),\n"
             "each agent type's use this hour and day against its caps, the events\n"
             "deferred, sampled out and shed, and the mirror's lag.\n"
             "\n"
             "--broker    endpoint (default: $CABRUCA_BROKER, else %s)\n"
             "--config    read the counters the broker saved in its store (read-only; the\n"
             "            broker may run) and apply this configuration's budget section\n"
             "--store     the store to read (default: the configuration's store.path);\n"
             "            alone, the default budget ($10, the default caps) is applied\n"
             "--json      print the broker's budget document as JSON (docs/budget.md)\n"
             "--timeout   wait at most MS milliseconds for each answer (default 5000)\n"
             "--curve-cert   CURVE: a secret certificate the broker knows (default\n"
             "               $CABRUCA_CURVE_CERT; docs/security.md)\n"
             "--server-cert  CURVE: the broker's public certificate (default\n"
             "               $CABRUCA_SERVER_CERT)\n"
             "\n"
             "Exit status: 0 done, 1 the broker did not answer or refused, or the store\n"
             "cannot be read; 2 usage error or an unusable configuration.\n",
             CAB_CLIENT_DEFAULT_ENDPOINT);
}

static json_int_t
s_int (json_t *object, const char *name)
{
    return json_integer_value (json_object_get (object, name));
}

//  A member's count as text ("1,234"), "-" when it is missing.
static char *
s_count (json_t *object, const char *name, char *buffer, size_t size)
{
    return cli_count (json_object_get (object, name), buffer, size);
}

//  "used/cap (pct)" of a window {"used": N, "cap": N or null}.
static char *
s_window (json_t *window, char *buffer, size_t size)
{
    json_t *used = json_object_get (window, "used");
    json_t *cap = json_object_get (window, "cap");
    char used_text[32], cap_text[32];
    cli_count (used, used_text, sizeof used_text);
    cli_count (cap, cap_text, sizeof cap_text);
    if (!json_is_integer (used))
        snprintf (buffer, size, "-");
    else if (!json_is_integer (cap))
        snprintf (buffer, size, "%s/no cap", used_text);
    else if (json_integer_value (cap) <= 0)
        snprintf (buffer, size, "%s/0", used_text);
    else {
        double percent =
            100.0 * (double)json_integer_value (used) / (double)json_integer_value (cap);
        if (percent > 0 && percent < 1)
            snprintf (buffer, size, "%s/%s (<1%%)", used_text, cap_text);
        else
            snprintf (buffer, size, "%s/%s (%.0f%%)", used_text, cap_text, percent);
    }
    return buffer;
}

//  The month's alarm and limit: ok, ALARM (alarm_percent reached), LIMIT.
static void
s_print_threshold (json_t *month, json_t *threshold)
{
    char percent[32];
    cli_percent (json_object_get (threshold, "alarm_percent"), percent, sizeof percent);
    const char *alarm_at = json_string_value (json_object_get (threshold, "alarm_at"));
    const char *limit_at = json_string_value (json_object_get (threshold, "limit_at"));
    if (limit_at || json_is_true (json_object_get (month, "over_budget")))
        printf ("state        LIMIT: budget spent%s%s; only always_mirror events are mirrored\n",
                limit_at ? " since " : "", limit_at ? limit_at : "");
    else if (alarm_at)
        printf ("state        ALARM: %s of the budget reached at %s (Budget Threshold event "
                "published)\n",
                percent, alarm_at);
    else
        printf ("state        ok (the alarm fires at %s)\n", percent);
}

static void
s_print_types (json_t *types)
{
    printf ("\n%-16s %-24s %-24s %9s %11s %9s %9s %9s\n", "AGENT TYPE", "HOUR USED/CAP",
            "DAY USED/CAP", "IN-FLIGHT", "MIRRORED", "DEFERRED", "SAMPLED", "SHED");
    const char *name;
    json_t *type;
    json_object_foreach (types, name, type)
    {
        char hour[80], day[80], a[32], b[32], c[32], d[32], e[32];
        printf ("%-16s %-24s %-24s %9s %11s %9s %9s %9s\n", name,
                s_window (json_object_get (type, "hour"), hour, sizeof hour),
                s_window (json_object_get (type, "day"), day, sizeof day),
                s_count (type, "in_flight", a, sizeof a), s_count (type, "mirrored", b, sizeof b),
                s_count (type, "deferred", c, sizeof c), s_count (type, "sampled", d, sizeof d),
                s_count (type, "shed", e, sizeof e));
    }
}

//  The mirror's lag and outbox from its mirror-status reply (NULL: the
//  broker did not answer that one).
static void
s_print_lag (json_t *mirror)
{
    json_t *store = json_object_get (mirror, "store");
    json_t *lag = json_object_get (store, "lag_ms");
    if (!json_is_integer (lag)) {
        printf ("mirror       - (no mirror-status answer)\n");
        return;
    }
    char duration[32], a[32], b[32], c[32];
    json_t *dry_run = json_object_get (mirror, "dry_run");
    printf ("mirror       %s, lag %s, outbox %s (%s deferred, %s failed)\n",
            json_is_true (dry_run)    ? "dry-run"
            : json_is_false (dry_run) ? "live"
                                      : "read from the store",
            cli_duration (json_integer_value (lag), duration, sizeof duration),
            s_count (store, "outbox", a, sizeof a), s_count (store, "deferred", b, sizeof b),
            s_count (store, "failed", c, sizeof c));
}

static void
s_print (json_t *reply, json_t *mirror)
{
    if (!json_is_true (json_object_get (reply, "enabled"))) {
        printf ("budget       none: the mirror is disabled (mirror.enabled is false in the "
                "broker's configuration)\n");
        return;
    }
    json_t *report = json_object_get (reply, "report");
    json_t *month = json_object_get (report, "month");
    json_t *counts = json_object_get (report, "counts");
    json_t *in_flight = json_object_get (report, "in_flight");
    const char *start = json_string_value (json_object_get (month, "start"));
    const char *end = json_string_value (json_object_get (month, "end"));
    char a[32], b[32], c[32], d[32];
    printf ("month        %.7s (%s to %s), %s elapsed\n", start ? start : "-", start ? start : "-",
            end ? end : "-", cli_percent (json_object_get (month, "elapsed_percent"), a, sizeof a));
    printf ("events       %s mirrored (%s chunks of 64 KB, %s cloud rule matches)\n",
            s_count (month, "events", a, sizeof a), s_count (month, "chunks", b, sizeof b),
            s_count (month, "rule_matches", c, sizeof c));
    printf ("cost         %s month to date, %s projected to the month's end\n",
            cli_money (json_object_get (month, "cost_usd"), a, sizeof a),
            cli_money (json_object_get (month, "projected_usd"), b, sizeof b));
    printf ("budget       %s a month, %s used\n",
            cli_money (json_object_get (month, "budget_usd"), a, sizeof a),
            cli_percent (json_object_get (month, "used_percent"), b, sizeof b));
    s_print_threshold (month, json_object_get (report, "threshold"));
    printf ("held back    %s deferred (%s deferrals), %s sampled out, %s shed\n",
            s_count (counts, "deferred", a, sizeof a), s_count (counts, "deferrals", b, sizeof b),
            s_count (counts, "sampled", c, sizeof c), s_count (counts, "shed", d, sizeof d));
    printf ("past limits  %s always_mirror, %s sampled through\n",
            s_count (counts, "always_mirror_bypassed", a, sizeof a),
            s_count (counts, "sample_mirrored", b, sizeof b));
    printf ("in flight    %s event%s, %s\n", s_count (in_flight, "events", a, sizeof a),
            s_int (in_flight, "events") == 1 ? "" : "s",
            cli_money (json_object_get (in_flight, "cost_usd"), b, sizeof b));
    s_print_lag (mirror);
    s_print_types (json_object_get (report, "agent_types"));
}

//  The budget document from the store: the counters the broker saved with
//  its last mirror outcomes, under the configuration's budget section (the
//  defaults without --config); the mirror's figures into *mirror_p. In
//  flight is always 0 (reservations are not saved). NULL after printing the
//  error (*exit_p).
static json_t *
s_from_store (const cli_mirror_options_t *options, json_t **mirror_p, int *exit_p)
{
    json_t *config = NULL, *state = NULL, *document = NULL;
    cab_budget_t *budget = NULL;
    cab_store_t *store = cli_mirror_open (options, S_NAME, &config, exit_p);
    if (!store)
        return NULL;
    cab_error_t error;
    cab_error_clear (&error);
    json_t *mirror = json_object_get (config, "mirror");
    if (json_is_false (json_object_get (mirror, "enabled"))) {
        document = json_pack ("{s:b,s:s,s:b}", "ok", 1, "source", "store", "enabled", 0);
        goto done;
    }
    budget = cab_budget_new (json_object_get (config, "budget"), &error);
    if (!budget) {
        fprintf (stderr, S_NAME ": %s: %s%s%s [%s]\n",
                 options->config_path ? options->config_path : "default budget", error.path,
                 *error.path ? ": " : "", error.text, cab_status_name (error.code));
        *exit_p = error.code == CAB_ERR_INVALID_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
        goto done;
    }
    *exit_p = CLI_EXIT_FAILURE;
    if (cab_store_budget_state (store, &state, &error) != CAB_OK) {
        fprintf (stderr, S_NAME ": the saved budget state: %s [%s]\n", error.text,
                 cab_status_name (error.code));
        goto done;
    }
    if (state && cab_budget_state_load (budget, state, &error) != CAB_OK) {
        fprintf (stderr, S_NAME ": the saved budget state: %s%s%s [%s]\n", error.path,
                 *error.path ? ": " : "", error.text, cab_status_name (error.code));
        goto done;
    }
    json_t *report = cab_budget_report (budget, cli_now_ms ());
    document = report ? json_pack ("{s:b,s:s,s:b,s:o}", "ok", 1, "source", "store", "enabled", 1,
                                   "report", report)
                      : NULL;
    if (!document)
        fprintf (stderr, S_NAME ": out of memory\n");
    else if (mirror_p)
        *mirror_p = cli_mirror_store_status (store, config, S_NAME, exit_p);
done:
    if (document)
        *exit_p = CLI_EXIT_OK;
    json_decref (state);
    cab_budget_destroy (&budget);
    cab_store_destroy (&store);
    json_decref (config);
    return document;
}

int
cli_budget_main (int argc, char **argv)
{
    cli_mirror_options_t options = {0};
    int exit_status = cli_mirror_parse (&options, S_NAME, argc, argv, 1, s_usage);
    if (exit_status != -1)
        return exit_status;
    bool offline = options.store_path || options.config_path;
    json_t *reply = NULL, *mirror = NULL;
    if (offline)
        reply = s_from_store (&options, options.as_json ? NULL : &mirror, &exit_status);
    else
        reply = cli_mirror_ask (&options, S_NAME, "budget", &exit_status);
    if (!reply)
        return exit_status;
    if (options.as_json)
        cli_mirror_print_json (reply);
    else {
        //  The lag is the mirror's: ask for it too, but a budget without it
        //  is still worth printing.
        if (!offline && json_is_true (json_object_get (reply, "enabled")))
            mirror = cli_mirror_ask (&options, S_NAME, "mirror-status", &exit_status);
        s_print (reply, mirror);
    }
    json_decref (mirror);
    json_decref (reply);
    return CLI_EXIT_OK;
}
