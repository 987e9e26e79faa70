/*  =========================================================================
    bench_rules - routing and transforming cost per event, on one core

    1. cab_rules_match with the six default rules (schemas/rules/default.json)
       over the examples of schemas/examples, against cab_ruleset_match of
       the same six patterns (the bare pattern engine): the ratio is what
       the rule layer adds (index mapping, ordering).
    2. cab_transform_apply of the default alert transformer on the Issue
       Detection example, against json_loads + json_dumps of the same event
       (jansson's parse and print, the least any transformer must do).

    Each figure is the median of RUNS runs of N operations.
    usage: bench_rules [-n N] [-r RUNS]
    =========================================================================
*/
#include "cab_rules.h"
#include "cab_transform.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_EVENTS_MAX 64
#define S_RUNS_MAX   31

static char *s_events[S_EVENTS_MAX];
static size_t s_lengths[S_EVENTS_MAX];
static int s_count;

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values, int runs)
{
    qsort (values, (size_t)runs, sizeof *values, s_compare);
    return values[runs / 2];
}

static void
s_load_examples (void)
{
    static const char *types[] = {
        "agent-lifecycle", "budget-threshold", "code-change", "delivery-dead-lettered",
        "feature-request", "issue-detection",  "test-results"};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        char path[1024];
        snprintf (path, sizeof path, "%s/schemas/examples/%s.valid.json", BENCH_SRCDIR, types[t]);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        char line[65536];
        while (fgets (line, sizeof line, file) && s_count < S_EVENTS_MAX) {
            size_t length = strcspn (line, "\r\n");
            if (!length)
                continue;
            line[length] = 0;
            s_events[s_count] = strdup (line);
            s_lengths[s_count++] = length;
        }
        fclose (file);
    }
}

int
main (int argc, char **argv)
{
    long n = 200000;
    int runs = 5, opt;
    while ((opt = getopt (argc, argv, "n:r:")) != -1) {
        if (opt == 'n')
            n = strtol (optarg, NULL, 10);
        else if (opt == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else {
            fprintf (stderr, "usage: bench_rules [-n N] [-r RUNS]\n");
            return 2;
        }
    }
    if (n < 1 || runs < 1 || runs > S_RUNS_MAX) {
        fprintf (stderr, "bench_rules: bad -n or -r\n");
        return 2;
    }
    s_load_examples ();
    char path[1024];
    snprintf (path, sizeof path, "%s/schemas/rules/default.json", BENCH_SRCDIR);
    cab_error_t error;
    cab_rules_t *rules = cab_rules_load (path, NULL, &error);
    if (!rules || s_count == 0) {
        fprintf (stderr, "bench_rules: %s\n", rules ? "no examples" : error.text);
        return 1;
    }
    cab_ruleset_t *set = cab_ruleset_new ();
    for (size_t i = 0; i < cab_rules_count (rules); i++) {
        const cab_rule_t *rule = cab_rules_get (rules, i);
        cab_ruleset_add_json (set, rule->name, rule->pattern, NULL);
    }

    double with_rules[S_RUNS_MAX], bare[S_RUNS_MAX], transform[S_RUNS_MAX], jansson[S_RUNS_MAX];
    size_t matches[8], count, total = 0;
    //  Untimed warm-up of both (caches, the rule set's index, CPU clock).
    for (long i = 0; i < n; i++) {
        int e = (int)(i % s_count);
        cab_rules_match (rules, s_events[e], s_lengths[e], matches, 8, &count, NULL);
        cab_ruleset_match (set, s_events[e], s_lengths[e], matches, 8, &count, NULL);
    }
    for (int r = 0; r < runs; r++) {
        double start = s_now ();
        for (long i = 0; i < n; i++) {
            int e = (int)(i % s_count);
            cab_rules_match (rules, s_events[e], s_lengths[e], matches, 8, &count, NULL);
            total += count;
        }
        with_rules[r] = (s_now () - start) / n * 1e9;
        start = s_now ();
        for (long i = 0; i < n; i++) {
            int e = (int)(i % s_count);
            cab_ruleset_match (set, s_events[e], s_lengths[e], matches, 8, &count, NULL);
            total += count;
        }
        bare[r] = (s_now () - start) / n * 1e9;
    }

    const cab_rule_target_t *alert = cab_rules_target (rules, "high-severity-alert", "alert");
    const char *event = NULL;
    size_t length = 0;
    for (int e = 0; e < s_count && !event; e++)
        if (strstr (s_events[e], "\"Issue Detection\"")) {
            event = s_events[e];
            length = s_lengths[e];
        }
    if (!alert || !event) {
        fprintf (stderr, "bench_rules: no alert target or Issue Detection example\n");
        return 1;
    }
    size_t bytes = 0;
    for (long i = 0; i < n / 10; i++) {  //  untimed warm-up
        char *out = NULL;
        cab_transform_apply (alert->transform, event, length, "high-severity-alert", 0, &out, NULL,
                             NULL);
        free (out);
    }
    for (int r = 0; r < runs; r++) {
        double start = s_now ();
        for (long i = 0; i < n; i++) {
            char *out = NULL;
            size_t size = 0;
            cab_transform_apply (alert->transform, event, length, "high-severity-alert", 0, &out,
                                 &size, NULL);
            bytes += size;
            free (out);
        }
        transform[r] = (s_now () - start) / n * 1e9;
        start = s_now ();
        for (long i = 0; i < n; i++) {
            json_t *parsed = json_loadb (event, length, 0, NULL);
            char *out = json_dumps (parsed, JSON_COMPACT);
            bytes += out ? strlen (out) : 0;
            free (out);
            json_decref (parsed);
        }
        jansson[r] = (s_now () - start) / n * 1e9;
    }
    double m_rules = s_median (with_rules, runs), m_bare = s_median (bare, runs);
    double m_transform = s_median (transform, runs), m_jansson = s_median (jansson, runs);
    printf ("bench_rules: %d example events, %zu rules, %ld ops x %d runs (medians)\n", s_count,
            cab_rules_count (rules), n, runs);
    printf ("  cab_rules_match        %8.0f ns/event  (%.2fx cab_ruleset_match %.0f ns)\n", m_rules,
            m_rules / m_bare, m_bare);
    printf ("  cab_transform_apply    %8.0f ns/event  (%.2fx json_loads+json_dumps %.0f ns)\n",
            m_transform, m_transform / m_jansson, m_jansson);
    if (total == 0 || bytes == 0)
        printf ("  (no matches or no output: check the examples)\n");
    cab_ruleset_destroy (&set);
    cab_rules_unref (&rules);
    for (int e = 0; e < s_count; e++)
        free (s_events[e]);
    return 0;
}
