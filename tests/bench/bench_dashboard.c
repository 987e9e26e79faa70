/*  =========================================================================
    bench_dashboard - cabruca-dashboard's query latency on a large store

    Fills a store with -n events (default 1,000,000; 700-byte events of the
    four agent types, times spread over the last 7 days, 5 events per
    correlation id) through cab_store_append, starts cabruca-dashboard on it
    and measures over HTTP (libcurl, one kept-alive connection), -q times
    each, in turn:
      pages    /api/events filtered pages of 100: the newest, by source, by
               source + detail type + one day, by correlation id, free text
      stats    /api/stats
    Baseline in the same run: the same filtered pages (but free text) read
    straight from the store with plain prepared SQLite SELECTs of the texts
    (by source: a walk down seq). Prints p50/p95 of each;
    the last lines are `BENCH name=... value=...` summaries for
    tests/bench/run.sh.

    usage: bench_dashboard [-n EVENTS] [-q QUERIES] [-D DASHBOARD] [-S SRCDIR]
    =========================================================================
*/
#include "cab_store.h"
#include <arpa/inet.h>
#include <cabruca.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_SRCDIR
#define BENCH_SRCDIR "."
#endif
#ifndef BENCH_BUILDDIR
#define BENCH_BUILDDIR "."
#endif

#define BATCH       1000
#define EVENT_BYTES 700
#define KINDS       5
#define MAX_QUERIES 5000
#define DAY_MS      86400000LL

static const char *s_sources[] = {"cabruca.agents.monitor", "cabruca.agents.product",
                                  "cabruca.agents.developer", "cabruca.agents.tester"};
static const char *s_types[] = {"Issue Detection", "Feature Request", "Code Change", "Test Result"};

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Percentile p (0-100) of count values (sorts them).
static double
s_percentile (double *values, int count, double p)
{
    qsort (values, (size_t)count, sizeof (double), s_compare);
    int index = (int)((double)count * p / 100.0);
    return values[index < count ? index : count - 1];
}

//  ISO 8601 UTC text of a time in ms.
static void
s_iso (int64_t ms, char *buffer, size_t size)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    strftime (buffer, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  The correlation id of event number k (5 events share one).
static void
s_correlation (uint64_t k, char *buffer, size_t size)
{
    snprintf (buffer, size, "00000000-0000-4000-8000-%012llx", (unsigned long long)(k / 5));
}

//  Fill path with count events, times from start_ms over 7 days.
static bool
s_fill (const char *path, long count, int64_t start_ms)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    if (!store) {
        fprintf (stderr, "bench_dashboard: %s\n", error.text);
        return false;
    }
    static char texts[BATCH][EVENT_BYTES + 1];
    static char ids[BATCH][CAB_UUID_LENGTH + 1], correlations[BATCH][48];
    cab_store_item_t items[BATCH];
    double step = 7.0 * (double)DAY_MS / (double)count;
    for (long done = 0; done < count; done += BATCH) {
        size_t batch = count - done < BATCH ? (size_t)(count - done) : BATCH;
        for (size_t i = 0; i < batch; i++) {
            uint64_t k = (uint64_t)done + i;
            int type = (int)(k % 4);
            int64_t time_ms = start_ms + (int64_t)((double)k * step);
            char when[32], agent[32];
            s_iso (time_ms, when, sizeof when);
            cab_uuid_v7 (ids[i]);
            s_correlation (k, correlations[i], sizeof correlations[i]);
            snprintf (agent, sizeof agent, "%s-%03d", s_sources[type] + 15, (int)(k % 3) + 1);
            int length = snprintf (
                texts[i], sizeof texts[i],
                "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"%s\",\"source\":\"%s\","
                "\"account\":\"local\",\"time\":\"%s\",\"region\":\"local\",\"resources\":[],"
                "\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"%s\","
                "\"correlation_id\":\"%s\",\"severity\":\"%s\",\"summary\":\"bench event %llu ",
                ids[i], s_types[type], s_sources[type], when, agent, correlations[i],
                k % 10 ? "LOW" : "HIGH", (unsigned long long)k);
            memset (texts[i] + length, 'x', EVENT_BYTES - (size_t)length - 3);
            memcpy (texts[i] + EVENT_BYTES - 3, "\"}}", 4);
            items[i] = (cab_store_item_t){.id = ids[i],
                                          .source = s_sources[type],
                                          .detail_type = s_types[type],
                                          .agent_id = agent,
                                          .correlation_id = correlations[i],
                                          .time_ms = time_ms,
                                          .text = texts[i],
                                          .length = EVENT_BYTES};
        }
        if (cab_store_append (store, items, batch, &error) != CAB_OK) {
            fprintf (stderr, "bench_dashboard: %s\n", error.text);
            cab_store_destroy (&store);
            return false;
        }
    }
    cab_store_destroy (&store);
    return true;
}

//  A free TCP port on 127.0.0.1 (bound then released: a small race).
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    int port = -1;
    if (fd >= 0 && bind (fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname (fd, (struct sockaddr *)&address, &size) == 0)
        port = ntohs (address.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void)data;
    *(size_t *)arg += size * count;
    return size * count;
}

//  GET url; seconds it took, or -1 when it failed or did not answer 200.
static double
s_get (CURL *easy, const char *url)
{
    size_t bytes = 0;
    long code = 0;
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, &bytes);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT, 60L);
    double start = s_now ();
    CURLcode result = curl_easy_perform (easy);
    double took = s_now () - start;
    curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &code);
    return result == CURLE_OK && code == 200 && bytes > 0 ? took : -1;
}

//  The SQLite baseline of the page queries 0-3 (kind), one run.
static double
s_sqlite_page (sqlite3 *db, int kind, const char *source, const char *type, int64_t from,
               int64_t to, const char *correlation)
{
    static const char *sql[] = {
        "SELECT text FROM events ORDER BY seq DESC LIMIT 100",
        //  A frequent source: walking down seq beats the index + a sort.
        "SELECT text FROM events WHERE +source = ?1 ORDER BY seq DESC LIMIT 100",
        "SELECT text FROM events WHERE source = ?1 AND detail_type = ?2 AND time_ms BETWEEN ?3 "
        "AND ?4 ORDER BY seq DESC LIMIT 100",
        "SELECT text FROM events WHERE correlation_id = ?5 ORDER BY seq DESC LIMIT 100"};
    double start = s_now ();
    sqlite3_stmt *statement = NULL;
    if (sqlite3_prepare_v2 (db, sql[kind], -1, &statement, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text (statement, 1, source, -1, SQLITE_STATIC);
    sqlite3_bind_text (statement, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (statement, 3, from);
    sqlite3_bind_int64 (statement, 4, to);
    sqlite3_bind_text (statement, 5, correlation, -1, SQLITE_STATIC);
    size_t bytes = 0;
    while (sqlite3_step (statement) == SQLITE_ROW)
        bytes += (size_t)sqlite3_column_bytes (statement, 0);
    sqlite3_finalize (statement);
    return bytes > 0 ? s_now () - start : -1;
}

int
main (int argc, char **argv)
{
    long count = 1000000;
    int queries = 100;
    const char *builddir = getenv ("CAB_BUILDDIR") ? getenv ("CAB_BUILDDIR") : BENCH_BUILDDIR;
    const char *srcdir = getenv ("CAB_SRCDIR") ? getenv ("CAB_SRCDIR") : BENCH_SRCDIR;
    char dashboard[700];
    snprintf (dashboard, sizeof dashboard, "%s/cabruca-dashboard", builddir);
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-n") == 0 && i + 1 < argc)
            count = strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-q") == 0 && i + 1 < argc)
            queries = (int)strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-D") == 0 && i + 1 < argc)
            snprintf (dashboard, sizeof dashboard, "%s", argv[++i]);
        else if (strcmp (argv[i], "-S") == 0 && i + 1 < argc)
            srcdir = argv[++i];
        else {
            fprintf (stderr, "usage: bench_dashboard [-n EVENTS] [-q QUERIES] [-D DASHBOARD] "
                             "[-S SRCDIR]\n");
            return 100;
        }
    }
    if (count < 1000 || count > 100000000 || queries < 5 || queries > MAX_QUERIES) {
        fprintf (stderr, "bench_dashboard: events 1,000..100,000,000, queries 5..%d\n",
                 MAX_QUERIES);
        return 100;
    }
    if (access (dashboard, X_OK) != 0) {
        printf ("bench_dashboard: %s is not built\n", dashboard);
        return 0;
    }
    signal (SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench-dashboard-XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    char store[600], config[600], url[700], command[700];
    snprintf (store, sizeof store, "%s/events.db", dir);
    snprintf (config, sizeof config, "%s/dashboard.json", dir);
    int status = 0;
    int64_t start_ms = s_now_ms () - 7 * DAY_MS;
    double fill_start = s_now ();
    if (!s_fill (store, count, start_ms)) {
        status = 1;
        goto done;
    }
    double fill_s = s_now () - fill_start;
    int port = s_free_port ();
    FILE *file = fopen (config, "w");
    if (!file || port < 0) {
        status = 111;
        goto done;
    }
    fprintf (
        file,
        "{\"listen\": \"127.0.0.1:%d\", \"store\": \"%s\", \"www\": \"%s/core/dashboard/www\"}\n",
        port, store, srcdir);
    fclose (file);
    int fds[2];
    if (pipe (fds) != 0)
        return 111;
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds[0]);
        if (fds[1] != 3) {
            dup2 (fds[1], 3);
            close (fds[1]);
        }
        execl (dashboard, dashboard, "--config", config, "--notify-fd", "3", (char *)NULL);
        _exit (111);
    }
    close (fds[1]);
    char byte;
    if (read (fds[0], &byte, 1) != 1) {
        fprintf (stderr, "bench_dashboard: %s did not get ready\n", dashboard);
        close (fds[0]);
        waitpid (pid, NULL, 0);
        status = 1;
        goto done;
    }
    close (fds[0]);
    printf ("bench_dashboard: %ld events (%d-byte) stored in %.1f s; %d queries of each kind\n",
            count, EVENT_BYTES, fill_s, queries);
    fflush (stdout);

    curl_global_init (CURL_GLOBAL_DEFAULT);
    CURL *easy = curl_easy_init ();
    sqlite3 *db = NULL;
    sqlite3_open_v2 (store, &db, SQLITE_OPEN_READONLY, NULL);
    static double page[KINDS * MAX_QUERIES], stats[MAX_QUERIES], base[4 * MAX_QUERIES];
    double kind_p95[KINDS];
    int pages = 0, bases = 0, failures = 0;
    static const char *names[KINDS] = {"newest", "source", "source+type+day", "correlation",
                                       "free text"};
    for (int kind = 0; kind < KINDS; kind++) {
        double times[MAX_QUERIES];
        int done = 0;
        for (int q = 0; q < queries; q++) {
            int type = q % 4;
            int64_t from = start_ms + (int64_t)(q % 6) * DAY_MS, to = from + DAY_MS;
            char when_from[32], when_to[32], correlation[48];
            s_iso (from, when_from, sizeof when_from);
            s_iso (to, when_to, sizeof when_to);
            s_correlation ((uint64_t)((double)count * (q + 0.5) / queries), correlation,
                           sizeof correlation);
            char *source = curl_easy_escape (easy, s_sources[type], 0);
            char *detail_type = curl_easy_escape (easy, s_types[type], 0);
            if (kind == 0)
                snprintf (url, sizeof url, "http://127.0.0.1:%d/api/events?limit=100", port);
            else if (kind == 1)
                snprintf (url, sizeof url, "http://127.0.0.1:%d/api/events?source=%s&limit=100",
                          port, source);
            else if (kind == 2)
                snprintf (url, sizeof url,
                          "http://127.0.0.1:%d/api/events?source=%s&detail_type=%s&from=%s&to=%s"
                          "&limit=100",
                          port, source, detail_type, when_from, when_to);
            else if (kind == 3)
                snprintf (url, sizeof url,
                          "http://127.0.0.1:%d/api/events?correlation_id=%s&limit=100", port,
                          correlation);
            else
                snprintf (url, sizeof url, "http://127.0.0.1:%d/api/events?q=HIGH&limit=100", port);
            curl_free (source);
            curl_free (detail_type);
            double took = s_get (easy, url);
            if (took < 0)
                failures++;
            else
                times[done++] = page[pages++] = took;
            if (kind < 4) {
                took =
                    s_sqlite_page (db, kind, s_sources[type], s_types[type], from, to, correlation);
                if (took >= 0)
                    base[bases++] = took;
            }
        }
        kind_p95[kind] = done ? s_percentile (times, done, 95) : -1;
        printf ("  %-16s p50 %7.2f ms, p95 %7.2f ms (%d answered)\n", names[kind],
                done ? s_percentile (times, done, 50) * 1e3 : -1, kind_p95[kind] * 1e3, done);
        fflush (stdout);
    }
    int stats_done = 0;
    for (int q = 0; q < queries; q++) {
        snprintf (url, sizeof url, "http://127.0.0.1:%d/api/stats", port);
        double took = s_get (easy, url);
        if (took < 0)
            failures++;
        else
            stats[stats_done++] = took;
    }
    curl_easy_cleanup (easy);
    curl_global_cleanup ();
    sqlite3_close (db);
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
    if (failures)
        fprintf (stderr, "bench_dashboard: %d queries failed or did not answer 200\n", failures);
    if (pages && stats_done && bases) {
        double p95 = s_percentile (page, pages, 95) * 1e3,
               b95 = s_percentile (base, bases, 95) * 1e3;
        double s95 = s_percentile (stats, stats_done, 95) * 1e3;
        printf ("filtered pages p95 %.2f ms (SQLite alone %.2f ms); stats p95 %.2f ms\n", p95, b95,
                s95);
        printf ("BENCH name=dashboard_p95 value=%.2f unit=ms baseline=%.2f "
                "baseline_unit=ms(sqlite) target=<100 events=%ld queries=%d\n",
                p95, b95, count, pages);
        printf ("BENCH name=dashboard_stats_p95 value=%.2f unit=ms target=<250 events=%ld "
                "queries=%d\n",
                s95, count, stats_done);
    }
    status = failures ? 1 : 0;
done:
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        status = 1;
    return status;
}
