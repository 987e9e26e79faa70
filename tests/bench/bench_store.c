/*  =========================================================================
    bench_store - event store append throughput and memory

    Appends 1 KB events through cab_store_append in batches of 1, 100 and
    1,000 rows per commit, durability NORMAL and FULL, with UUIDv7 (time-
    ordered) and UUIDv4 (random) ids, and the same rows through a baseline
    in the same run: a tuned plain SQLite loop (WAL, same synchronous
    setting, one prepared INSERT into a bare two-column table). Prints the
    median rows/s of the runs and the ratio to the baseline.

        bench_store [-r runs] [-n rows] [--rss [events] | --delivery | --mirror] [-d dir]

    --rss appends 1,000,000 events (batches of 1,000) and prints the
    process RSS after the appends and after a reopen; the broker's goal is
    RSS under 64 MB with 1,000,000 stored events.

    The delivery table (also alone with --delivery) measures the broker's
    routed write path through cab_store_write, NORMAL durability, v7 ids:
    each event stored with 2 routes (2 delivery rows in the same
    transaction), and delivery state changes at 1,000 updates per commit;
    both against cab_store_append of the same events without routes in the
    same run.

    The mirror table (also alone with --mirror) measures the outbox: the
    same appends with item.mirror set (one outbox row per event in the
    same transaction) against item.mirror false, in the same run; then
    mirror outcomes (ACCEPTED, 1,000 per commit) and the read side
    (cab_store_outbox_scan of 1,000 due rows, cab_store_mirror_stats) on
    the store those runs leave.
    =========================================================================
*/
#include "cab_store_delivery.h"
#include "cab_store_mirror.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENT_BYTES 1024
#define MAX_RUNS    9

typedef struct {
    char id[40];
    char text[EVENT_BYTES + 1];
} s_row_t;

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

//  CPU seconds of this process (user + system): on a loaded machine a
//  firmer measure of a write path's cost than the wall clock.
static double
s_cpu (void)
{
    struct timespec now;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

//  Rows per CPU second of the last s_run_store_mirror.
static double s_last_cpu_rate;

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  A UUID text: v7 starts with the millisecond clock (plus a counter, so
//  ids made in the same millisecond still sort), v4 is all random.
static void
s_uuid (char *buffer, int version, int64_t ms, uint64_t counter)
{
    uint64_t hi = s_random (), lo = s_random ();
    if (version == 7)
        hi = ((uint64_t)ms << 16) | (counter & 0x0fff);
    hi = (hi & ~0xf000ULL) | ((uint64_t)version << 12);
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    snprintf (buffer, 37, "%08llx-%04llx-%04llx-%04llx-%012llx", (unsigned long long)(hi >> 32),
              (unsigned long long)((hi >> 16) & 0xffff), (unsigned long long)(hi & 0xffff),
              (unsigned long long)(lo >> 48), (unsigned long long)(lo & 0xffffffffffffULL));
}

static void
s_make_rows (s_row_t *rows, size_t count, int version)
{
    int64_t ms = s_now_ms ();
    for (size_t i = 0; i < count; i++) {
        s_uuid (rows[i].id, version, ms + (int64_t)(i / 4096), i);
        int length = snprintf (rows[i].text, sizeof rows[i].text,
                               "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Bench Event\","
                               "\"source\":\"cabruca.bench\",\"account\":\"local\","
                               "\"time\":\"2026-11-22T10:00:00.000Z\",\"region\":\"us-east-1\","
                               "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\","
                               "\"agent_id\":\"bench-001\",\"correlation_id\":\"%s\",\"pad\":\"",
                               rows[i].id, rows[i].id);
        memset (rows[i].text + length, 'x', EVENT_BYTES - (size_t)length - 3);
        memcpy (rows[i].text + EVENT_BYTES - 3, "\"}}", 4);
    }
}

static char s_dir[256];

static void
s_remove_store (const char *path)
{
    char name[320];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf (name, sizeof name, "%s%s", path, suffixes[i]);
        unlink (name);
    }
}

//  rows/s of cab_store_append over rows, batch rows per call (with an
//  outbox row per event when mirror).
static double
s_run_store_mirror (const s_row_t *rows, size_t count, size_t batch,
                    cab_store_durability_t durability, bool mirror)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store.db", s_dir);
    s_remove_store (path);
    cab_error_t error;
    cab_store_t *store = cab_store_new (path, durability, &error);
    if (!store) {
        fprintf (stderr, "bench_store: %s\n", error.text);
        exit (1);
    }
    cab_store_item_t *items = calloc (batch, sizeof *items);
    int64_t now = s_now_ms ();
    double start = s_now (), cpu_start = s_cpu ();
    for (size_t done = 0; done < count; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < n; i++) {
            const s_row_t *row = &rows[done + i];
            items[i] = (cab_store_item_t){.id = row->id,
                                          .source = "cabruca.bench",
                                          .detail_type = "Bench Event",
                                          .agent_id = "bench-001",
                                          .correlation_id = row->id,
                                          .time_ms = now,
                                          .text = row->text,
                                          .length = EVENT_BYTES,
                                          .mirror = mirror};
        }
        if (cab_store_append (store, items, n, &error) != CAB_OK) {
            fprintf (stderr, "bench_store: %s\n", error.text);
            exit (1);
        }
    }
    double elapsed = s_now () - start;
    s_last_cpu_rate = (double)count / (s_cpu () - cpu_start);
    free (items);
    cab_store_destroy (&store);
    s_remove_store (path);
    return (double)count / elapsed;
}

static double
s_run_store (const s_row_t *rows, size_t count, size_t batch, cab_store_durability_t durability)
{
    return s_run_store_mirror (rows, count, batch, durability, false);
}

static double s_median (double *values, int count);
static char s_summary[4096];

//  Fill items[0..n) from rows (no routes).
static void
s_items (cab_store_item_t *items, const s_row_t *rows, size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++)
        items[i] = (cab_store_item_t){.id = rows[i].id,
                                      .source = "cabruca.bench",
                                      .detail_type = "Bench Event",
                                      .agent_id = "bench-001",
                                      .correlation_id = rows[i].id,
                                      .time_ms = now,
                                      .text = rows[i].text,
                                      .length = EVENT_BYTES};
}

static cab_store_t *
s_open_fresh (const char *name, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", s_dir, name);
    s_remove_store (path);
    cab_error_t error;
    cab_store_t *store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    if (!store) {
        fprintf (stderr, "bench_store: %s\n", error.text);
        exit (1);
    }
    return store;
}

static void
s_write (cab_store_t *store, cab_store_batch_t *batch)
{
    cab_error_t error;
    if (cab_store_write (store, batch, &error) != CAB_OK) {
        fprintf (stderr, "bench_store: %s\n", error.text);
        exit (1);
    }
}

//  events/s of cab_store_write with `routes` routes per event (0..2).
static double
s_run_routes (const s_row_t *rows, size_t count, size_t batch, size_t routes)
{
    char path[300];
    cab_store_t *store = s_open_fresh ("routes.db", path, sizeof path);
    cab_store_item_t *items = calloc (batch, sizeof *items);
    cab_store_route_t *all = calloc (batch * 2, sizeof *all);
    static const char *targets[] = {"agent-queue", "audit-log"};
    int64_t now = s_now_ms ();
    double start = s_now ();
    for (size_t done = 0; done < count; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        s_items (items, rows + done, n, now);
        for (size_t i = 0; i < n && routes; i++) {
            items[i].routes = all + i * 2;
            items[i].route_count = routes;
            for (size_t r = 0; r < routes; r++)
                all[i * 2 + r] = (cab_store_route_t){.rule = "bench-rule", .target = targets[r]};
        }
        cab_store_batch_t write = {.items = items, .item_count = n};
        s_write (store, &write);
    }
    double elapsed = s_now () - start;
    free (all);
    free (items);
    cab_store_destroy (&store);
    s_remove_store (path);
    return (double)count / elapsed;
}

//  updates/s of cab_store_write with `batch` delivery updates per commit
//  (PENDING -> DONE), over count deliveries stored beforehand (untimed).
static double
s_run_updates (const s_row_t *rows, size_t count, size_t batch)
{
    char path[300];
    cab_store_t *store = s_open_fresh ("updates.db", path, sizeof path);
    cab_store_item_t *items = calloc (1000, sizeof *items);
    cab_store_route_t *routes = calloc (1000, sizeof *routes);
    int64_t first_id = 0, now = s_now_ms ();
    for (size_t done = 0; done < count; done += 1000) {
        size_t n = count - done < 1000 ? count - done : 1000;
        s_items (items, rows + done, n, now);
        for (size_t i = 0; i < n; i++) {
            routes[i] = (cab_store_route_t){.rule = "bench-rule", .target = "agent-queue"};
            items[i].routes = &routes[i];
            items[i].route_count = 1;
        }
        cab_store_batch_t write = {.items = items, .item_count = n};
        s_write (store, &write);
        if (!first_id)
            first_id = routes[0].id;
    }
    cab_delivery_update_t *updates = calloc (batch, sizeof *updates);
    double start = s_now ();
    for (size_t done = 0; done < count; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        for (size_t i = 0; i < n; i++)
            updates[i] = (cab_delivery_update_t){
                .id = first_id + (int64_t)(done + i), .state = CAB_DELIVERY_DONE, .attempts = 1};
        cab_store_batch_t write = {.updates = updates, .update_count = n};
        s_write (store, &write);
    }
    double elapsed = s_now () - start;
    free (updates);
    free (routes);
    free (items);
    cab_store_destroy (&store);
    s_remove_store (path);
    return (double)count / elapsed;
}

//  The delivery table: routes and updates against no routes, same run.
static void
s_delivery (const s_row_t *rows, size_t count, int runs)
{
    printf ("\n| write | per commit | rows | rows/s | no routes rows/s | ratio |\n"
            "|---|---|---|---|---|---|\n");
    size_t batches[] = {100, 1000};
    for (int b = 0; b < 2; b++) {
        double plain[MAX_RUNS], routed[MAX_RUNS];
        for (int run = 0; run < runs; run++) {
            plain[run] = s_run_routes (rows, count, batches[b], 0);
            routed[run] = s_run_routes (rows, count, batches[b], 2);
        }
        double p = s_median (plain, runs), r = s_median (routed, runs);
        printf ("| events + 2 routes | %zu | %zu | %.0f | %.0f | %.2f |\n", batches[b], count, r, p,
                r / p);
        fflush (stdout);
    }
    double plain[MAX_RUNS], updated[MAX_RUNS];
    for (int run = 0; run < runs; run++) {
        plain[run] = s_run_routes (rows, count, 1000, 0);
        updated[run] = s_run_updates (rows, count, 1000);
    }
    double p = s_median (plain, runs), u = s_median (updated, runs);
    printf ("| delivery updates | 1000 | %zu | %.0f | %.0f | %.2f |\n", count, u, p, u / p);
    fflush (stdout);
}

static int
s_count_outbox (const cab_outbox_record_t *record, void *arg)
{
    (void)record;
    (*(size_t *)arg)++;
    return 0;
}

//  The read side and the outcomes, on a store of count mirrored events:
//  scan 1,000 due rows, stats with count rows in the outbox, then
//  ACCEPTED outcomes for all of them (1,000 per commit) and stats again.
static void
s_mirror_reads (const s_row_t *rows, size_t count, int runs)
{
    char path[300];
    cab_store_t *store = s_open_fresh ("mirror.db", path, sizeof path);
    cab_store_item_t *items = calloc (1000, sizeof *items);
    cab_mirror_outcome_rec_t *recs = calloc (1000, sizeof *recs);
    int64_t now = s_now_ms ();
    for (size_t done = 0; done < count; done += 1000) {
        size_t n = count - done < 1000 ? count - done : 1000;
        s_items (items, rows + done, n, now);
        for (size_t i = 0; i < n; i++)
            items[i].mirror = true;
        cab_store_batch_t write = {.items = items, .item_count = n};
        s_write (store, &write);
    }
    double scan[MAX_RUNS], stats_full[MAX_RUNS], stats_done[MAX_RUNS];
    cab_mirror_store_stats_t stats;
    for (int run = 0; run < runs; run++) {
        size_t seen = 0;
        double start = s_now ();
        cab_store_outbox_scan (store, 0, s_now_ms (), 1000, s_count_outbox, &seen, NULL);
        scan[run] = (s_now () - start) * 1000;
        start = s_now ();
        cab_store_mirror_stats (store, s_now_ms (), &stats, NULL);
        stats_full[run] = (s_now () - start) * 1000;
    }
    double start = s_now (), cpu_start = s_cpu ();
    for (size_t done = 0; done < count; done += 1000) {
        size_t n = count - done < 1000 ? count - done : 1000;
        for (size_t i = 0; i < n; i++)
            recs[i] = (cab_mirror_outcome_rec_t){.seq = (int64_t)(done + i + 1),
                                                 .outcome = CAB_MIRRORED_ACCEPTED,
                                                 .aws_event_id = rows[done + i].id,
                                                 .attempts = 1};
        cab_store_batch_t write = {.mirror_outcomes = recs, .mirror_outcome_count = n};
        s_write (store, &write);
    }
    double outcomes = (double)count / (s_now () - start);
    double outcomes_cpu = (double)count / (s_cpu () - cpu_start);
    for (int run = 0; run < runs; run++) {
        start = s_now ();
        cab_store_mirror_stats (store, s_now_ms (), &stats, NULL);
        stats_done[run] = (s_now () - start) * 1000;
    }
    if (stats.accepted != (int64_t)count || stats.outbox != 0) {
        fprintf (stderr, "bench_store: mirror outcomes not all recorded\n");
        exit (1);
    }
    printf ("\n| mirror read / outcome | rows | value |\n|---|---|---|\n"
            "| outbox scan, 1,000 due rows with texts | %zu in outbox | %.2f ms |\n"
            "| cab_store_mirror_stats | %zu in outbox | %.2f ms |\n"
            "| ACCEPTED outcomes, 1,000 per commit | %zu | %.0f outcomes/s (%.0f per CPU-s) |\n"
            "| cab_store_mirror_stats | %zu mirrored rows | %.2f ms |\n",
            count, s_median (scan, runs), count, s_median (stats_full, runs), count, outcomes,
            outcomes_cpu, count, s_median (stats_done, runs));
    fflush (stdout);
    free (recs);
    free (items);
    cab_store_destroy (&store);
    s_remove_store (path);
}

//  The mirror table: appends with an outbox row against without, same run.
static void
s_mirror (const s_row_t *rows, size_t count, int runs)
{
    printf ("\n| append | per commit | rows | mirror on rows/s | mirror off rows/s | ratio |"
            " on rows/CPU-s | off rows/CPU-s | CPU ratio |\n"
            "|---|---|---|---|---|---|---|---|---|\n");
    size_t batches[] = {1, 100, 1000};
    for (int b = 0; b < 3; b++) {
        size_t n = batches[b] == 1 ? count / 4 : count;
        double off[MAX_RUNS], on[MAX_RUNS], off_cpu[MAX_RUNS], on_cpu[MAX_RUNS];
        for (int run = 0; run < runs; run++) {
            off[run] = s_run_store_mirror (rows, n, batches[b], CAB_STORE_NORMAL, false);
            off_cpu[run] = s_last_cpu_rate;
            on[run] = s_run_store_mirror (rows, n, batches[b], CAB_STORE_NORMAL, true);
            on_cpu[run] = s_last_cpu_rate;
        }
        double f = s_median (off, runs), o = s_median (on, runs);
        double fc = s_median (off_cpu, runs), oc = s_median (on_cpu, runs);
        printf ("| NORMAL, v7 ids | %zu | %zu | %.0f | %.0f | %.2f | %.0f | %.0f | %.2f |\n",
                batches[b], n, o, f, o / f, oc, fc, oc / fc);
        size_t used = strlen (s_summary);
        snprintf (s_summary + used, sizeof s_summary - used,
                  "BENCH name=store_mirror_b%zu value=%.0f unit=rows/s baseline=%.0f "
                  "baseline_unit=rows/s(mirror-off) rows=%zu runs=%d\n",
                  batches[b], o, f, n, runs);
        fflush (stdout);
    }
    s_mirror_reads (rows, count, runs);
}

//  The baseline: a tuned plain SQLite insert loop of the same rows.
static double
s_run_baseline (const s_row_t *rows, size_t count, size_t batch, cab_store_durability_t durability)
{
    char path[300];
    snprintf (path, sizeof path, "%s/baseline.db", s_dir);
    s_remove_store (path);
    sqlite3 *db = NULL;
    sqlite3_open (path, &db);
    sqlite3_exec (db,
                  durability == CAB_STORE_FULL ? "PRAGMA synchronous = FULL"
                                               : "PRAGMA synchronous = NORMAL",
                  NULL, NULL, NULL);
    sqlite3_exec (db,
                  "PRAGMA journal_mode = WAL; PRAGMA cache_size = -16384;"
                  "CREATE TABLE t (id TEXT, text TEXT)",
                  NULL, NULL, NULL);
    sqlite3_stmt *insert = NULL, *begin = NULL, *commit = NULL;
    sqlite3_prepare_v2 (db, "INSERT INTO t VALUES (?1, ?2)", -1, &insert, NULL);
    sqlite3_prepare_v2 (db, "BEGIN", -1, &begin, NULL);
    sqlite3_prepare_v2 (db, "COMMIT", -1, &commit, NULL);
    double start = s_now ();
    for (size_t done = 0; done < count; done += batch) {
        size_t n = count - done < batch ? count - done : batch;
        sqlite3_step (begin);
        sqlite3_reset (begin);
        for (size_t i = 0; i < n; i++) {
            sqlite3_bind_text (insert, 1, rows[done + i].id, -1, SQLITE_STATIC);
            sqlite3_bind_text (insert, 2, rows[done + i].text, EVENT_BYTES, SQLITE_STATIC);
            if (sqlite3_step (insert) != SQLITE_DONE) {
                fprintf (stderr, "bench_store: baseline: %s\n", sqlite3_errmsg (db));
                exit (1);
            }
            sqlite3_reset (insert);
        }
        sqlite3_step (commit);
        sqlite3_reset (commit);
    }
    double elapsed = s_now () - start;
    sqlite3_finalize (insert);
    sqlite3_finalize (begin);
    sqlite3_finalize (commit);
    sqlite3_close (db);
    s_remove_store (path);
    return (double)count / elapsed;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t)count, sizeof *values, s_compare);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

static void
s_case (const s_row_t *rows, size_t count, size_t batch, cab_store_durability_t durability,
        int version, int runs)
{
    double store[MAX_RUNS], baseline[MAX_RUNS];
    //  Interleaved, so that drift of a shared machine hits both alike.
    for (int run = 0; run < runs; run++) {
        baseline[run] = s_run_baseline (rows, count, batch, durability);
        store[run] = s_run_store (rows, count, batch, durability);
    }
    double s = s_median (store, runs), b = s_median (baseline, runs);
    printf ("| %-6s | %5zu | v%d | %7zu | %9.0f | %9.0f | %5.2f |\n",
            durability == CAB_STORE_FULL ? "FULL" : "NORMAL", batch, version, count, s, b, s / b);
    //  The summary lines for tests/bench/run.sh, printed after the tables.
    size_t used = strlen (s_summary);
    snprintf (s_summary + used, sizeof s_summary - used,
              "BENCH name=store_%s_b%zu_v%d value=%.0f unit=rows/s baseline=%.0f "
              "baseline_unit=rows/s(sqlite) rows=%zu runs=%d\n",
              durability == CAB_STORE_FULL ? "full" : "normal", batch, version, s, b, count, runs);
    fflush (stdout);
}

static long
s_rss_kib (const char *field)
{
    FILE *file = fopen ("/proc/self/status", "r");
    char line[256];
    long value = -1;
    size_t length = strlen (field);
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0)
            value = strtol (line + length + 1, NULL, 10);
    if (file)
        fclose (file);
    return value;
}

static void
s_rss (size_t total, int version)
{
    char path[300];
    snprintf (path, sizeof path, "%s/rss.db", s_dir);
    s_remove_store (path);
    cab_error_t error;
    cab_store_t *store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    if (!store) {
        fprintf (stderr, "bench_store: %s\n", error.text);
        exit (1);
    }
    size_t batch = 1000;
    s_row_t *rows = calloc (batch, sizeof *rows);
    cab_store_item_t *items = calloc (batch, sizeof *items);
    long base = s_rss_kib ("VmRSS:");
    double start = s_now ();
    for (size_t done = 0; done < total; done += batch) {
        s_make_rows (rows, batch, version);
        for (size_t i = 0; i < batch; i++)
            items[i] = (cab_store_item_t){.id = rows[i].id,
                                          .source = "cabruca.bench",
                                          .detail_type = "Bench Event",
                                          .agent_id = "bench-001",
                                          .correlation_id = rows[i].id,
                                          .time_ms = s_now_ms (),
                                          .text = rows[i].text,
                                          .length = EVENT_BYTES};
        if (cab_store_append (store, items, batch, &error) != CAB_OK) {
            fprintf (stderr, "bench_store: %s\n", error.text);
            exit (1);
        }
    }
    double elapsed = s_now () - start;
    long after = s_rss_kib ("VmRSS:");
    int64_t size = cab_store_size_bytes (store);
    cab_store_destroy (&store);
    store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    s_make_rows (rows, batch, version);
    for (size_t i = 0; i < batch; i++)
        items[i] = (cab_store_item_t){.id = rows[i].id,
                                      .source = "cabruca.bench",
                                      .detail_type = "Bench Event",
                                      .text = rows[i].text,
                                      .length = EVENT_BYTES};
    cab_store_append (store, items, batch, &error);
    long reopened = s_rss_kib ("VmRSS:");
    printf ("| v%d | %zu | %.0f | %ld | %ld | %ld | %ld | %.0f |\n", version, total,
            (double)total / elapsed, base / 1024, after / 1024, reopened / 1024,
            s_rss_kib ("VmHWM:") / 1024, (double)size / 1048576.0);
    fflush (stdout);
    cab_store_destroy (&store);
    s_remove_store (path);
    free (rows);
    free (items);
}

int
main (int argc, char **argv)
{
    int runs = 3;
    size_t count = 20000, rss_events = 0;
    bool delivery_only = false, mirror_only = false;
    const char *parent = getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-r") == 0 && i + 1 < argc)
            runs = (int)strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-n") == 0 && i + 1 < argc)
            count = (size_t)strtoul (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-d") == 0 && i + 1 < argc)
            parent = argv[++i];
        else if (strcmp (argv[i], "--delivery") == 0)
            delivery_only = true;
        else if (strcmp (argv[i], "--mirror") == 0)
            mirror_only = true;
        else if (strcmp (argv[i], "--rss") == 0) {
            rss_events = 1000000;
            if (i + 1 < argc && argv[i + 1][0] != '-')
                rss_events = (size_t)strtoul (argv[++i], NULL, 10);
        } else {
            fprintf (
                stderr,
                "usage: bench_store [-r runs] [-n rows] [--rss [events] | --delivery | --mirror]"
                " [-d dir]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || count < 1000) {
        fprintf (stderr, "bench_store: runs 1..%d, rows at least 1000\n", MAX_RUNS);
        return 100;
    }
    snprintf (s_dir, sizeof s_dir, "%s/bench-store-XXXXXX", parent);
    if (!mkdtemp (s_dir)) {
        perror ("bench_store: mkdtemp");
        return 111;
    }
    printf ("# bench_store: 1 KB events, SQLite %s, median of %d runs, rows/s\n",
            sqlite3_libversion (), runs);
    if (rss_events) {
        printf ("| ids | events | rows/s | RSS start MB | RSS after MB | RSS reopened MB |"
                " peak MB | store MB |\n|---|---|---|---|---|---|---|---|\n");
        s_rss (rss_events, 7);
        s_rss (rss_events, 4);
    } else if (delivery_only || mirror_only) {
        s_row_t *rows7 = calloc (count, sizeof *rows7);
        s_make_rows (rows7, count, 7);
        if (delivery_only)
            s_delivery (rows7, count, runs);
        else
            s_mirror (rows7, count, runs);
        free (rows7);
    } else {
        s_row_t *rows7 = calloc (count, sizeof *rows7);
        s_row_t *rows4 = calloc (count, sizeof *rows4);
        s_make_rows (rows7, count, 7);
        s_make_rows (rows4, count, 4);
        printf ("| durability | batch | ids | rows | cab_store | plain SQLite | ratio |\n"
                "|---|---|---|---|---|---|---|\n");
        size_t batches[] = {1, 100, 1000};
        for (int d = 0; d < 2; d++) {
            cab_store_durability_t durability = d ? CAB_STORE_FULL : CAB_STORE_NORMAL;
            for (int b = 0; b < 3; b++) {
                //  One fsync per row is slow: fewer rows for batch 1.
                size_t n = batches[b] == 1 ? count / (d ? 20 : 4) : count;
                s_case (rows7, n, batches[b], durability, 7, runs);
            }
        }
        s_case (rows4, count, 100, CAB_STORE_NORMAL, 4, runs);
        s_case (rows4, count, 1000, CAB_STORE_NORMAL, 4, runs);
        s_delivery (rows7, count, runs);
        s_mirror (rows7, count, runs);
        free (rows7);
        free (rows4);
    }
    rmdir (s_dir);
    printf ("%s", s_summary);
    return 0;
}
