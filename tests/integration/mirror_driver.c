/*  =========================================================================
    mirror_driver - run cab_mirror over N generated events until every event
    has a result; print the counters as key=value lines. Used by the
    tests/integration/mirror-*.sh scripts (the endpoint, credentials and
    region come from the environment, as in the broker).

    Usage: mirror_driver [-n EVENTS] [-p POISON_EVERY] [-c IN_FLIGHT]
                         [-b BACKOFF_CAP_MS] [-a MAX_ATTEMPTS] [-d] [-t SECONDS]
                         [-s DETAIL_BYTES]
    Exit 0 when every event got exactly one result before the deadline.
    =========================================================================
*/
#include "cab_mirror.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    unsigned *seen;
    size_t count;
    size_t duplicates;
    char first_code[64];
    size_t missing_ids;
} s_state_t;

static void
s_on_result (void *arg, const cab_mirror_result_t *result)
{
    s_state_t *state = arg;
    if (result->key < 0 || (size_t)result->key >= state->count)
        return;
    if (state->seen[result->key]++)
        state->duplicates++;
    if (result->outcome == CAB_MIRROR_ACCEPTED && !*result->event_id)
        state->missing_ids++;
    if (*result->error_code && !*state->first_code)
        snprintf (state->first_code, sizeof state->first_code, "%s", result->error_code);
}

static long
s_number (const char *text)
{
    char *end;
    long value = strtol (text, &end, 10);
    if (*end || value < 0) {
        fprintf (stderr, "mirror_driver: bad number %s\n", text);
        exit (100);
    }
    return value;
}

int
main (int argc, char **argv)
{
    size_t events = 100, poison_every = 0, detail_bytes = 64;
    cab_mirror_config_t config = {0};
    config.backoff_base_ms = 20;
    config.backoff_cap_ms = 500;
    long deadline_s = 15;
    int option;
    while ((option = getopt (argc, argv, "n:p:c:b:a:dt:s:")) != -1) {
        switch (option) {
            case 'n':
                events = (size_t)s_number (optarg);
                break;
            case 'p':
                poison_every = (size_t)s_number (optarg);
                break;
            case 'c':
                config.max_in_flight = (size_t)s_number (optarg);
                break;
            case 'b':
                config.backoff_cap_ms = (unsigned)s_number (optarg);
                break;
            case 'a':
                config.max_attempts = (unsigned)s_number (optarg);
                break;
            case 'd':
                config.dry_run = true;
                break;
            case 't':
                deadline_s = s_number (optarg);
                break;
            case 's':
                detail_bytes = (size_t)s_number (optarg);
                break;
            default:
                return 100;
        }
    }
    config.max_queue = events + 1;
    s_state_t state = {calloc (events, sizeof (unsigned)), events, 0, "", 0};
    cab_error_t error;
    cab_mirror_t *mirror = cab_mirror_new (&config, s_on_result, &state, &error);
    if (!mirror || !state.seen) {
        fprintf (stderr, "mirror_driver: %s\n", error.text);
        return 111;
    }
    char *padding = malloc (detail_bytes + 1);
    memset (padding, 'x', detail_bytes);
    padding[detail_bytes] = 0;
    size_t size = detail_bytes + 512;
    char *text = malloc (size);
    for (size_t i = 0; i < events; i++) {
        bool poison = poison_every && i % poison_every == poison_every - 1;
        int length =
            snprintf (text, size,
                      "{\"version\":\"0\",\"id\":\"00000000-0000-4000-8000-%012zu\","
                      "\"detail-type\":\"Issue Detection\",\"source\":"
                      "\"cabruca.agents.monitor\",\"account\":\"local\",\"time\":"
                      "\"2026-11-22T10:00:00Z\",\"region\":\"us-east-1\","
                      "\"resources\":[\"host/a\"],\"detail\":{\"n\":%zu,%s\"pad\":\"%s\"}}",
                      i, i, poison ? "\"poison\":true," : "", padding);
        if (cab_mirror_submit (mirror, (int64_t)i, text, (size_t)length, &error) != CAB_OK) {
            fprintf (stderr, "mirror_driver: submit: %s\n", error.text);
            return 111;
        }
    }
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    now = start;
    while (cab_mirror_pending (mirror) > 0) {
        cab_mirror_run (mirror, 50);
        clock_gettime (CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= deadline_s)
            break;
    }
    double elapsed = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    cab_mirror_stats_t s;
    cab_mirror_stats (mirror, &s);
    size_t unreported = 0;
    for (size_t i = 0; i < events; i++)
        unreported += state.seen[i] == 0;
    printf ("dry_run=%d\nsubmitted=%llu\naccepted=%llu\ndead_lettered=%llu\nfailed=%llu\n"
            "dry_run_events=%llu\nrequests=%llu\nretries=%llu\nthrottled=%llu\n"
            "server_errors=%llu\nnetwork_errors=%llu\nauth_errors=%llu\nbytes=%llu\n"
            "chunks=%llu\ncost_usd=%.6f\nduplicates=%zu\nunreported=%zu\nmissing_ids=%zu\n"
            "first_code=%s\nlast_error=%s\nelapsed=%.3f\n",
            s.dry_run, (unsigned long long)s.submitted, (unsigned long long)s.accepted,
            (unsigned long long)s.dead_lettered, (unsigned long long)s.failed,
            (unsigned long long)s.dry_run_events, (unsigned long long)s.requests,
            (unsigned long long)s.retries, (unsigned long long)s.throttled,
            (unsigned long long)s.server_errors, (unsigned long long)s.network_errors,
            (unsigned long long)s.auth_errors, (unsigned long long)s.bytes,
            (unsigned long long)s.chunks, s.cost_usd, state.duplicates, unreported,
            state.missing_ids, state.first_code, s.last_error, elapsed);
    cab_mirror_destroy (&mirror);
    free (state.seen);
    free (padding);
    free (text);
    return unreported == 0 && state.duplicates == 0 ? 0 : 1;
}
