/*  =========================================================================
    bench_dashboard_queries - the dashboard's store queries on a large store

    Seeds a store with N events (default 1,000,000; ~450-byte events of 8
    agents over the last 30 days, correlation groups of 4 linked by
    causation_id, a delivery for every 10th event and a dead letter for
    every 100th) through cab_store_write, then times each query of the
    dashboard's API (dash_store, the code cabruca-dashboard runs) Q times
    with varied parameters and prints p50 and p95 in ms. The baseline,
    measured in the same run, is the bare SQLite read of one page: SELECT
    of the 100 newest rows by seq, prepared once.

        bench_dashboard_queries [-n events] [-q queries] [-d dir]

    Targets (issue 9): filtered page queries p95 < 100 ms, stats < 250 ms.
    =========================================================================
*/
#include "dash.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
s_random (void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return s_rng;
}

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static const char *const s_sources[] = {"cabruca.agents.monitor", "cabruca.agents.product",
                                        "cabruca.agents.developer", "cabruca.agents.tester"};
static const char *const s_types[] = {"Issue Detection", "Feature Request", "Code Change",
                                      "Test Results"};

typedef struct {
    char id[40], agent[24], correlation[40], text[1024];
    int64_t time_ms;
    int kind;
} s_event_t;

static void
s_make (s_event_t *event, int64_t index, int64_t now_ms, int64_t total)
{
    int kind = (int)(index % 4);
    int64_t group = index / 4;
    event->kind = kind;
    snprintf (event->id, sizeof event->id, "00000000-0000-7000-8000-%012lld",
              (long long)(index % 1000000000000LL));
    snprintf (event->correlation, sizeof event->correlation, "00000000-0000-7000-8000-%012lld",
              (long long)(group * 4 % 1000000000000LL));
    snprintf (event->agent, sizeof event->agent, "%s-%03d", s_sources[kind] + 15,
              (int)((group % 2) + 1));
    //  Spread over the last 30 days, in seq order.
    event->time_ms = now_ms - 30LL * 86400000 + (30LL * 86400000 * index) / (total ? total : 1);
    time_t seconds = (time_t)(event->time_ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    char causation[80] = "";
    if (kind > 0)
        snprintf (causation, sizeof causation,
                  "\"causation_id\":\"00000000-0000-7000-8000-%012lld\",", (long long)(index - 1));
    const char *severity[] = {"LOW", "MEDIUM", "HIGH", "CRITICAL"};
    snprintf (event->text, sizeof event->text,
              "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"%s\",\"source\":\"%s\","
              "\"account\":\"local\",\"time\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\","
              "\"region\":\"sa-east-1\",\"resources\":[],\"detail\":{\"schema_version\":\"1.0\","
              "\"agent_id\":\"%s\",\"correlation_id\":\"%s\",%s\"severity\":\"%s\","
              "\"description\":\"synthetic event %lld for the dashboard benchmark, host web-%d\"}}",
              event->id, s_types[kind], s_sources[kind], tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, event->agent, event->correlation,
              causation, severity[(group / 7) % 4], (long long)index, (int)(s_random () % 50));
}

static int
s_seed (const char *path, int64_t total, int64_t now_ms)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    if (!store) {
        fprintf (stderr, "bench_dashboard_queries: %s: %s\n", path, error.text);
        return -1;
    }
    static s_event_t events[BATCH];
    static cab_store_item_t items[BATCH];
    static cab_store_route_t routes[BATCH];
    static cab_delivery_update_t updates[BATCH];
    double started = s_now ();
    int64_t dead = 0;
    for (int64_t base = 0; base < total; base += BATCH) {
        size_t count = (size_t)(total - base < BATCH ? total - base : BATCH);
        memset (items, 0, sizeof items);
        for (size_t index = 0; index < count; index++) {
            s_event_t *event = &events[index];
            s_make (event, base + (int64_t)index, now_ms, total);
            items[index] = (cab_store_item_t){.id = event->id,
                                              .source = s_sources[event->kind],
                                              .detail_type = s_types[event->kind],
                                              .agent_id = event->agent,
                                              .correlation_id = event->correlation,
                                              .time_ms = event->time_ms,
                                              .text = event->text,
                                              .length = strlen (event->text)};
            if ((base + (int64_t)index) % 10 == 0) {
                routes[index] = (cab_store_route_t){
                    .rule = (base + (int64_t)index) % 20 ? "all" : "critical", .target = "log"};
                items[index].routes = &routes[index];
                items[index].route_count = 1;
            }
        }
        cab_store_batch_t batch = {.items = items, .item_count = count};
        if (cab_store_write (store, &batch, &error) != CAB_OK) {
            fprintf (stderr, "bench_dashboard_queries: append: %s\n", error.text);
            cab_store_destroy (&store);
            return -1;
        }
        //  Every 10th delivery dies (a dead letter per 100 events).
        size_t update_count = 0;
        for (size_t index = 0; index < count; index++)
            if (items[index].route_count && routes[index].id % 10 == 0)
                updates[update_count++] =
                    (cab_delivery_update_t){.id = routes[index].id,
                                            .state = CAB_DELIVERY_DEAD,
                                            .attempts = 3,
                                            .dlq = routes[index].id % 20 ? "standard" : "critical",
                                            .error = "exit 1"};
        cab_store_batch_t dead_batch = {.updates = updates, .update_count = update_count};
        if (update_count && cab_store_write (store, &dead_batch, &error) != CAB_OK) {
            fprintf (stderr, "bench_dashboard_queries: update: %s\n", error.text);
            cab_store_destroy (&store);
            return -1;
        }
        dead += (int64_t)update_count;
    }
    printf ("seeded %lld events (%lld dead letters) in %.1f s\n", (long long)total, (long long)dead,
            s_now () - started);
    cab_store_destroy (&store);
    return 0;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Report the p50 and p95 of count samples (ms).
static void
s_report (const char *name, double *samples, int count, double baseline, const char *target)
{
    qsort (samples, (size_t)count, sizeof *samples, s_compare);
    double p50 = samples[count / 2], p95 = samples[(count * 95 + 99) / 100 - 1];
    printf ("%-22s p50 %8.2f ms  p95 %8.2f ms\n", name, p50, p95);
    printf ("BENCH name=dashq_%s_p95 value=%.2f unit=ms baseline=%.2f baseline_unit=ms%s%s\n", name,
            p95, baseline, target ? " target=" : "", target ? target : "");
}

int
main (int argc, char **argv)
{
    int64_t total = 1000000;
    int queries = 20;
    const char *dir = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    int option;
    while ((option = getopt (argc, argv, "n:q:d:")) != -1) {
        if (option == 'n')
            total = strtoll (optarg, NULL, 10);
        else if (option == 'q')
            queries = (int)strtol (optarg, NULL, 10);
        else if (option == 'd')
            dir = optarg;
        else {
            fprintf (stderr, "usage: bench_dashboard_queries [-n events] [-q queries] [-d dir]\n");
            return 2;
        }
    }
    if (total < 1000 || queries < 1 || queries > 10000) {
        fprintf (stderr, "bench_dashboard_queries: -n at least 1000, -q 1..10000\n");
        return 2;
    }
    char work[1024], path[1100];
    snprintf (work, sizeof work, "%s/bench-dashboard-queries-XXXXXX", dir);
    if (!mkdtemp (work)) {
        perror ("bench_dashboard_queries: mkdtemp");
        return 1;
    }
    snprintf (path, sizeof path, "%s/events.db", work);
    struct timespec wall;
    clock_gettime (CLOCK_REALTIME, &wall);
    int64_t now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    int status = s_seed (path, total, now_ms);
    cab_error_t error;
    dash_store_t *store = status == 0 ? dash_store_new (path, &error) : NULL;
    double *samples = calloc ((size_t)queries, sizeof *samples);
    if (!store || !samples) {
        status = 1;
        goto done;
    }
    //  Baseline: the bare page read.
    sqlite3_stmt *bare = NULL;
    sqlite3_prepare_v2 (dash_store_db (store),
                        "SELECT seq, id, time_ms, received_ms, text FROM events"
                        " ORDER BY seq DESC LIMIT 100",
                        -1, &bare, NULL);
    for (int run = 0; run < queries; run++) {
        double started = s_now ();
        size_t bytes = 0;
        while (sqlite3_step (bare) == SQLITE_ROW)
            bytes +=
                (size_t)sqlite3_column_bytes (bare, 4) + (sqlite3_column_text (bare, 4) != NULL);
        if (bytes == 0)
            status = 1;
        sqlite3_reset (bare);
        samples[run] = (s_now () - started) * 1000;
    }
    sqlite3_finalize (bare);
    qsort (samples, (size_t)queries, sizeof *samples, s_compare);
    double baseline = samples[(queries * 95 + 99) / 100 - 1];
    printf ("%-22s p95 %8.2f ms (baseline)\n", "bare_page", baseline);

    const char *names[] = {"page_newest",
                           "page_cursor",
                           "page_source",
                           "page_source_type",
                           "page_correlation",
                           "page_time",
                           "page_pattern",
                           "page_text",
                           "event",
                           "chain"};
    for (size_t kind = 0; kind < sizeof names / sizeof names[0]; kind++) {
        for (int run = 0; run < queries; run++) {
            dash_query_t query = {.limit = 100};
            int64_t seq = 1 + (int64_t)(s_random () % (uint64_t)total);
            s_event_t event;
            s_make (&event, seq - 1, now_ms, total);
            cab_pattern_t *pattern = NULL;
            switch (kind) {
                case 1:
                    query.before_seq = seq;
                    break;
                case 2:
                    query.source = s_sources[s_random () % 4];
                    query.before_seq = seq;
                    break;
                case 3:
                    query.source = s_sources[event.kind];
                    query.detail_type = s_types[event.kind];
                    break;
                case 4:
                    query.correlation_id = event.correlation;
                    break;
                case 5:
                    query.from_ms = event.time_ms - 1800000;
                    query.to_ms = event.time_ms + 1800000;
                    break;
                case 6: {
                    const char *text = "{\"source\": [\"cabruca.agents.monitor\"],"
                                       " \"detail\": {\"severity\": [\"CRITICAL\"]}}";
                    pattern = cab_pattern_new (text, strlen (text), NULL);
                    query.pattern = pattern;
                    query.before_seq = seq;
                    break;
                }
                case 7:
                    query.text = "host web-7\"";
                    query.before_seq = seq;
                    break;
                default:
                    break;
            }
            json_t *rows = json_array ();
            int64_t next = 0;
            cab_status_t result = CAB_OK;
            double started = s_now ();
            if (kind <= 7)
                result = dash_store_events (store, &query, rows, &next, &error);
            else {
                json_t *answer = kind == 8 ? dash_store_event (store, event.id, &result)
                                           : dash_store_chain (store, event.id, &result);
                json_decref (answer);
            }
            samples[run] = (s_now () - started) * 1000;
            if (result != CAB_OK) {
                fprintf (stderr, "bench_dashboard_queries: %s failed\n", names[kind]);
                status = 1;
            }
            json_decref (rows);
            cab_pattern_destroy (&pattern);
        }
        s_report (names[kind], samples, queries, baseline, kind <= 7 ? "<100" : NULL);
    }
    //  The stats: the first call aggregates the store (cold), the next
    //  ones only add the new seqs (warm, as cabruca-dashboard runs).
    double started = s_now ();
    json_t *stats = dash_store_stats (store, now_ms);
    double cold = (s_now () - started) * 1000;
    if (!stats)
        status = 1;
    json_decref (stats);
    printf ("%-22s %8.2f ms (first call: aggregates the store)\n", "stats_cold", cold);
    printf ("BENCH name=dashq_stats_cold value=%.2f unit=ms baseline=%.2f baseline_unit=ms\n", cold,
            baseline);
    for (int run = 0; run < queries; run++) {
        started = s_now ();
        stats = dash_store_stats (store, now_ms);
        samples[run] = (s_now () - started) * 1000;
        if (!stats)
            status = 1;
        json_decref (stats);
    }
    s_report ("stats", samples, queries, baseline, "<250");
done:
    free (samples);
    dash_store_destroy (&store);
    char file[1200];
    const char *suffixes[] = {"", "-wal", "-shm"};
    //  BENCH_KEEP_STORE=1 keeps the store (its path is printed) to look into.
    if (getenv ("BENCH_KEEP_STORE")) {
        printf ("store kept: %s\n", path);
        return status;
    }
    for (int index = 0; index < 3; index++) {
        snprintf (file, sizeof file, "%s%s", path, suffixes[index]);
        unlink (file);
    }
    rmdir (work);
    return status;
}
