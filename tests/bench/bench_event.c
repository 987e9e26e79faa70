/*  =========================================================================
    bench_event - what an event costs before it is stored: the checks of
    cab_event_load and the registry's validation, against jansson's parse

    Measures, in the same run, on the first example Issue Detection event
    padded to about 1 KB:
        json_loadb (baseline)   parse + free, what any broker must pay
        cab_event_load          size, UTF-8 and depth scan + parse + envelope
                                check + copy of the bytes
        cab_registry_validate   envelope schema + type schema (the real
                                schemas/), on an already loaded event
        cab_uuid_v7, cab_time_now
        json_dumps (baseline)   the event's document back to compact text
        cabi_json_dumps         the same text, our writer (cab_event_text)
    Prints medians over runs and ratios against the baseline.

    Usage: bench_event [-r RUNS] [-n ITERATIONS] [-d SCHEMA_DIR]
    =========================================================================
*/
#include "cab_jsonscan.h"
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

//  The first valid Issue Detection example, its description padded so that
//  the event is about 1 KB.
static char *
s_event_text (const char *dir, size_t *length_p)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/examples/issue-detection.valid.json", dir);
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    char line[4096];
    char *got = fgets (line, sizeof line, file);
    fclose (file);
    json_t *event = got ? json_loads (line, 0, NULL) : NULL;
    json_t *detail = json_object_get (event, "detail");
    if (!detail)
        return NULL;
    char *text = json_dumps (event, JSON_COMPACT);
    size_t pad = strlen (text) < 1024 ? 1024 - strlen (text) : 0;
    free (text);
    char *description = malloc (pad + 32);
    snprintf (description, pad + 32, "%s",
              json_string_value (json_object_get (detail, "description")));
    size_t used = strlen (description);
    for (size_t i = used; i < used + pad; i++)
        description[i] = (char)('a' + i % 26);
    description[used + pad] = '\0';
    json_object_set_new (detail, "description", json_string (description));
    free (description);
    text = json_dumps (event, JSON_COMPACT);
    json_decref (event);
    *length_p = strlen (text);
    return text;
}

int
main (int argc, char *argv[])
{
    int runs = 7;
    long iterations = 20000;
    const char *dir = BENCH_SCHEMADIR;
    int option;
    while ((option = getopt (argc, argv, "r:n:d:")) != -1) {
        if (option == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (option == 'n')
            iterations = strtol (optarg, NULL, 10);
        else if (option == 'd')
            dir = optarg;
        else {
            fprintf (stderr, "usage: bench_event [-r RUNS] [-n ITERATIONS] [-d SCHEMA_DIR]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > 101 || iterations < 1) {
        fprintf (stderr, "bench_event: bad -r or -n\n");
        return 100;
    }
    cab_error_t error;
    size_t length = 0;
    char *text = s_event_text (dir, &length);
    cab_registry_t *registry = cab_registry_new ();
    if (!text || cab_registry_load_dir (registry, dir, &error) != CAB_OK) {
        fprintf (stderr, "bench_event: cannot load %s\n", dir);
        return 1;
    }
    cab_event_t *event = cab_event_load (text, length, &error);
    if (!event || cab_registry_validate (registry, event, &error) != CAB_OK) {
        fprintf (stderr, "bench_event: setup failed: %s %s\n", error.path, error.text);
        return 1;
    }
    json_t *document = json_loadb (text, length, 0, NULL);
    double parse[101], load[101], validate[101], uuid[101], now[101], dump[101], write[101];
    for (int run = 0; run < runs; run++) {
        double start = s_now ();
        for (long i = 0; i < iterations; i++)
            json_decref (json_loadb (text, length, JSON_REJECT_DUPLICATES, NULL));
        parse[run] = (s_now () - start) / (double)iterations;

        start = s_now ();
        for (long i = 0; i < iterations; i++) {
            cab_event_t *loaded = cab_event_load (text, length, NULL);
            cab_event_destroy (&loaded);
        }
        load[run] = (s_now () - start) / (double)iterations;

        start = s_now ();
        for (long i = 0; i < iterations; i++)
            if (cab_registry_validate (registry, event, NULL) != CAB_OK)
                return 1;
        validate[run] = (s_now () - start) / (double)iterations;

        char buffer[CAB_UUID_LENGTH + 1];
        start = s_now ();
        for (long i = 0; i < iterations; i++)
            cab_uuid_v7 (buffer);
        uuid[run] = (s_now () - start) / (double)iterations;

        char stamp[CAB_TIME_LENGTH + 1];
        start = s_now ();
        for (long i = 0; i < iterations; i++)
            cab_time_now (stamp);
        now[run] = (s_now () - start) / (double)iterations;

        start = s_now ();
        for (long i = 0; i < iterations; i++)
            free (json_dumps (document, JSON_COMPACT));
        dump[run] = (s_now () - start) / (double)iterations;

        start = s_now ();
        for (long i = 0; i < iterations; i++)
            free (cabi_json_dumps (document, JSON_COMPACT, NULL));
        write[run] = (s_now () - start) / (double)iterations;
    }
    double dump_median = s_median (dump, runs), write_median = s_median (write, runs);
    double parse_median = s_median (parse, runs);
    double load_median = s_median (load, runs);
    double validate_median = s_median (validate, runs);
    printf ("bench_event: %zu-byte event, %d runs x %ld iterations (medians)\n", length, runs,
            iterations);
    printf ("  json_loadb + json_decref (baseline) : %8.2f us/event\n", parse_median * 1e6);
    printf ("  cab_event_load + destroy            : %8.2f us/event  (%.2f x baseline)\n",
            load_median * 1e6, load_median / parse_median);
    printf ("  cab_registry_validate               : %8.2f us/event  (%.2f x baseline)\n",
            validate_median * 1e6, validate_median / parse_median);
    printf ("  cab_uuid_v7                         : %8.3f us/id\n", s_median (uuid, runs) * 1e6);
    printf ("  cab_time_now                        : %8.3f us/call\n", s_median (now, runs) * 1e6);
    printf ("  json_dumps, compact (baseline)      : %8.2f us/event\n", dump_median * 1e6);
    printf ("  cabi_json_dumps (cab_event_text)    : %8.2f us/event  (%.2f x baseline)\n",
            write_median * 1e6, write_median / dump_median);
    //  The jansson parse rate is the suite's per-event parsing baseline.
    printf ("BENCH name=jansson_parse value=%.0f unit=events/s bytes=%zu runs=%d\n",
            1.0 / parse_median, length, runs);
    printf ("BENCH name=event_load value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(json_loadb) runs=%d\n",
            1.0 / load_median, 1.0 / parse_median, runs);
    printf ("BENCH name=registry_validate value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(json_loadb) runs=%d\n",
            1.0 / validate_median, 1.0 / parse_median, runs);
    printf ("BENCH name=event_text value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(json_dumps) runs=%d\n",
            1.0 / write_median, 1.0 / dump_median, runs);
    json_decref (document);
    cab_event_destroy (&event);
    cab_registry_destroy (&registry);
    free (text);
    return 0;
}
