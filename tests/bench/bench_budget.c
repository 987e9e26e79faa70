/*  =========================================================================
    bench_budget - cab_budget decisions per second (decide + charge) for a
    1 KB event with 10 always_mirror patterns, against json_loads of the
    same event (what the mirror pays per event anyway) in the same run.

      within    the event is within every limit: no pattern is evaluated
      over-cap  its agent type is over its hour cap: the 10 always_mirror
                patterns are evaluated (none matches) and the policy defers
      always    over the cap and the 10th pattern matches: mirrored

    usage: bench_budget [-n DECISIONS] [-r RUNS]
    =========================================================================
*/
#include "cab_budget.h"
#include "cab_putevents.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Nine patterns the event does not match (mixed operators), then one it
//  matches only in the "always" case (severity CRITICAL).
static const char *s_config =
    "{\"monthly_budget_usd\": 1000000,"
    " \"caps\": {\"product\": {\"per_hour\": 0}},"
    " \"always_mirror\": ["
    "  {\"source\": [\"cabruca.agents.tester\"], \"detail-type\": [\"Test Results\"],"
    "   \"detail\": {\"status\": [\"FAILED\"]}},"
    "  {\"source\": [{\"prefix\": \"aws.\"}]},"
    "  {\"detail\": {\"cpu\": [{\"numeric\": [\">\", 99]}]}},"
    "  {\"detail-type\": [\"Agent Lifecycle\"], \"detail\": {\"state\": [\"CRASHED\"]}},"
    "  {\"detail\": {\"region\": [{\"anything-but\": [\"local\", \"sa-east-1\"]}]}},"
    "  {\"detail\": {\"host\": [{\"suffix\": \".prod\"}]}},"
    "  {\"detail\": {\"priority\": [{\"equals-ignore-case\": \"urgent\"}]}},"
    "  {\"detail\": {\"tags\": [\"page-oncall\"]}},"
    "  {\"detail\": {\"ip\": [{\"cidr\": \"10.0.0.0/8\"}]}},"
    "  {\"source\": [\"cabruca.agents.product\"], \"detail\": {\"severity\": [\"CRITICAL\"]}}"
    " ]}";

//  A 1 KB product event; severity as given.
static void
s_event_text (char *text, size_t size, const char *severity)
{
    char padding[640];
    memset (padding, 'x', sizeof padding - 1);
    padding[sizeof padding - 1] = 0;
    snprintf (text, size,
              "{\"version\":\"0\",\"id\":\"0190a5b2-1c3d-7e4f-8a5b-6c7d8e9f0a1b\","
              "\"detail-type\":\"Feature Request\",\"source\":\"cabruca.agents.product\","
              "\"account\":\"local\",\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"local\","
              "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"product-1\","
              "\"severity\":\"%s\",\"host\":\"web-1.dev\",\"cpu\":42,\"ip\":\"192.168.1.9\","
              "\"tags\":[\"a\",\"b\"],\"priority\":\"normal\",\"notes\":\"%s\"}}",
              severity, padding);
}

//  Decisions per second: decide and charge `count` times.
static double
s_run_budget (cab_budget_t *budget, const cab_budget_event_t *event, size_t count,
              cab_budget_verdict_t expect)
{
    int64_t now = 1795341600000LL;  //  2026-11-22T10:00:00Z
    double start = s_now ();
    for (size_t index = 0; index < count; index++) {
        cab_budget_decision_t decision;
        cab_error_t error;
        if (cab_budget_decide (budget, event, now, &decision, &error) != CAB_OK ||
            decision.action != expect || cab_budget_charge (budget, &decision, now) != CAB_OK) {
            fprintf (stderr, "bench_budget: unexpected decision\n");
            exit (1);
        }
    }
    return (double)count / (s_now () - start);
}

static double
s_run_loads (const char *text, size_t count)
{
    size_t length = strlen (text);
    double start = s_now ();
    for (size_t index = 0; index < count; index++) {
        json_t *event = json_loadb (text, length, 0, NULL);
        if (!event)
            exit (1);
        json_decref (event);
    }
    return (double)count / (s_now () - start);
}

int
main (int argc, char **argv)
{
    size_t count = 200000, runs = 5;
    int option;
    while ((option = getopt (argc, argv, "n:r:")) != -1) {
        if (option == 'n')
            count = strtoul (optarg, NULL, 10);
        else if (option == 'r')
            runs = strtoul (optarg, NULL, 10);
        else {
            fprintf (stderr, "usage: bench_budget [-n DECISIONS] [-r RUNS]\n");
            return 100;
        }
    }
    if (count == 0 || runs == 0 || runs > 99)
        return 100;
    json_t *config = json_loads (s_config, 0, NULL);
    cab_error_t error;
    cab_budget_t *budget = cab_budget_new (config, &error);
    json_decref (config);
    if (!budget) {
        fprintf (stderr, "bench_budget: %s: %s\n", error.path, error.text);
        return 1;
    }
    char plain[1200], critical[1200];
    s_event_text (plain, sizeof plain, "LOW");
    s_event_text (critical, sizeof critical, "CRITICAL");
    cab_budget_event_t within = {0}, over = {0}, always = {0};
    within.source = "cabruca.agents.example";
    within.text = plain;
    within.length = strlen (plain);
    within.size = strlen (plain);
    within.detail_type = "Feature Request";
    within.cloud_matches = 2;
    over = within;
    over.source = "cabruca.agents.product";
    always = over;
    always.text = critical;
    always.length = strlen (critical);

    double results[4][99];
    for (size_t run = 0; run < runs; run++) {
        results[0][run] = s_run_loads (plain, count);
        results[1][run] = s_run_budget (budget, &within, count, CAB_BUDGET_MIRROR);
        results[2][run] = s_run_budget (budget, &over, count, CAB_BUDGET_DEFER);
        results[3][run] = s_run_budget (budget, &always, count, CAB_BUDGET_MIRROR);
    }
    double median[4];
    for (int kind = 0; kind < 4; kind++) {
        qsort (results[kind], runs, sizeof (double), s_compare);
        median[kind] = results[kind][runs / 2];
    }
    printf ("bench_budget: %zu decisions of a %zu-byte event, 10 always_mirror patterns, "
            "median of %zu runs\n",
            count, strlen (plain), runs);
    printf ("  baseline: json_loads of the event        %12.0f /s  1.00\n", median[0]);
    printf ("  within limits (no pattern evaluated)     %12.0f /s  %.2f\n", median[1],
            median[1] / median[0]);
    printf ("  over the cap, 10 patterns, none match    %12.0f /s  %.2f\n", median[2],
            median[2] / median[0]);
    printf ("  over the cap, always_mirror matches      %12.0f /s  %.2f\n", median[3],
            median[3] / median[0]);
    cab_budget_destroy (&budget);
    return 0;
}
