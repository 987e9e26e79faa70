/*  =========================================================================
    bench_typed_events - what the typed event layer's checks cost

    Builds the same Issue Detection event (4 required fields, 2 affected
    resources, 2 metrics, 1 suggested action) and serialises it, three ways,
    in the same run:
        untyped (baseline)  cab_event_new + cab_event_update_detail_new with
                            json_pack: no checks of the detail at all
        typed               cab_issue_detection_new and the setters: each
                            value checked against its field's schema
        untyped + registry  the baseline, then cab_registry_validate: the
                            whole event checked once, as the broker does
    Prints medians over runs (events/s) and ratios against the baseline.

    Usage: bench_typed_events [-r RUNS] [-n ITERATIONS] [-d SCHEMA_DIR]
    =========================================================================
*/
#include <cabruca.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_SCHEMADIR
#define BENCH_SCHEMADIR "schemas"
#endif

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t)count, sizeof (double), s_compare);
    return values[count / 2];
}

static cab_event_t *
s_untyped (void)
{
    cab_event_t *event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", NULL);
    if (!event || cab_event_set_agent_id (event, "monitor-001") ||
        cab_event_update_detail_new (
            event, json_pack ("{s:s, s:s, s:s, s:[s, s], s:{s:f, s:f}, s:[s]}", "severity", "HIGH",
                              "issue_type", "disk_full", "description", "/var is 97% full",
                              "affected_resources", "host:web-1", "/var", "metrics",
                              "disk_used_percent", 97.2, "free_bytes", 1073741824.0,
                              "suggested_actions", "rotate the logs in /var/log"))) {
        fprintf (stderr, "bench_typed_events: cannot build the untyped event\n");
        exit (1);
    }
    return event;
}

static cab_event_t *
s_typed (void)
{
    cab_error_t error;
    cab_event_t *event = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_HIGH, "disk_full",
                                                  "/var is 97% full", &error);
    if (!event || cab_issue_detection_add_affected_resource (event, "host:web-1", &error) ||
        cab_issue_detection_add_affected_resource (event, "/var", &error) ||
        cab_issue_detection_set_metric (event, "disk_used_percent", 97.2, &error) ||
        cab_issue_detection_set_metric (event, "free_bytes", 1073741824.0, &error) ||
        cab_issue_detection_add_suggested_action (event, "rotate the logs in /var/log", &error)) {
        fprintf (stderr, "bench_typed_events: %s at %s\n", error.text, error.path);
        exit (1);
    }
    return event;
}

//  Events per second for one way, over n events.
static double
s_rate (int way, int n, cab_registry_t *registry)
{
    double start = s_now ();
    for (int i = 0; i < n; i++) {
        cab_event_t *event = way == 1 ? s_typed () : s_untyped ();
        if (way == 2 && cab_registry_validate (registry, event, NULL) != CAB_OK) {
            fprintf (stderr, "bench_typed_events: the untyped event does not validate\n");
            exit (1);
        }
        if (!cab_event_text (event, NULL))
            exit (1);
        cab_event_destroy (&event);
    }
    return n / (s_now () - start);
}

int
main (int argc, char **argv)
{
    int runs = 5, n = 20000, opt;
    const char *dir = BENCH_SCHEMADIR;
    while ((opt = getopt (argc, argv, "r:n:d:")) != -1) {
        if (opt == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (opt == 'n')
            n = (int)strtol (optarg, NULL, 10);
        else if (opt == 'd')
            dir = optarg;
        else {
            fprintf (stderr, "usage: bench_typed_events [-r RUNS] [-n N] [-d SCHEMA_DIR]\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 99 || n < 1) {
        fprintf (stderr, "bench_typed_events: -r 1..99, -n 1 or more\n");
        return 2;
    }
    cab_registry_t *registry = cab_registry_new ();
    cab_error_t error;
    if (!registry || cab_registry_load_dir (registry, dir, &error)) {
        fprintf (stderr, "bench_typed_events: %s: %s\n", dir, registry ? error.text : "no memory");
        return 1;
    }
    //  Warm up: the typed layer compiles each field's schema on first use.
    s_rate (1, 100, registry);
    s_rate (2, 100, registry);
    static const char *const names[] = {"untyped (baseline)", "typed", "untyped + registry"};
    double rates[3][99];
    for (int run = 0; run < runs; run++)
        for (int way = 0; way < 3; way++)
            rates[way][run] = s_rate (way, n, registry);
    double base = s_median (rates[0], runs);
    printf ("Issue Detection, 9 detail fields, %d events x %d runs (medians)\n", n, runs);
    for (int way = 0; way < 3; way++) {
        double rate = s_median (rates[way], runs);
        printf ("  %-20s %9.0f events/s  %6.2f us/event  ratio %.2f\n", names[way], rate,
                1e6 / rate, rate / base);
    }
    cab_registry_destroy (&registry);
    return 0;
}
