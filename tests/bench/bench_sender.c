/*  =========================================================================
    bench_sender - delivery throughput of the sender's log and http targets

    log:  jobs of a 300-byte payload through cab_sender to one log target
          (no rotation), up to 1,000 in flight; baseline in the same run:
          the same lines appended with write(2) in a plain loop (O_APPEND,
          one write per line).
    http: POSTs of the same payload through cab_sender to the test HTTP
          server (tests/unit/http_fixture.c, threads on 127.0.0.1), one at
          a time and up to 64 in flight; baseline in the same run: one
          libcurl easy handle doing the POSTs one after the other over one
          kept-alive connection.

    Prints the median deliveries/s of the runs and the ratio to the
    baseline.

        bench_sender [-r runs] [-n log-jobs] [-h http-jobs]
    =========================================================================
*/
#include "cab_sender.h"
#include "../unit/http_fixture.h"
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 9

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t)count, sizeof *values, s_compare);
    return values[count / 2];
}

static char s_payload[301];

//  Deliveries/s of `count` jobs to target through a sender, `window` in flight.
static double
s_run_sender (zactor_t *sender, const cab_rule_target_t *target, int count, int window)
{
    double start = s_now ();
    int sent = 0, done = 0, failed = 0;
    while (done < count) {
        while (sent < count && sent - done < window) {
            char *payload = strdup (s_payload);
            cab_send_job_t *job =
                cab_send_job_new (sent, target, "bench", &payload, sizeof s_payload - 1);
            if (!job || cab_sender_send (sender, job) != 0) {
                fprintf (stderr, "bench_sender: cannot send\n");
                exit (1);
            }
            sent++;
        }
        cab_send_job_t *job = cab_sender_recv (sender);
        if (!job)
            break;
        failed += job->status != CAB_OK;
        cab_send_job_destroy (&job);
        done++;
    }
    double took = s_now () - start;
    if (failed)
        fprintf (stderr, "bench_sender: %d deliveries failed\n", failed);
    return count / took;
}

static double
s_run_write (const char *path, int count)
{
    unlink (path);
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    char line[sizeof s_payload + 1];
    memcpy (line, s_payload, sizeof s_payload - 1);
    line[sizeof s_payload - 1] = '\n';
    double start = s_now ();
    for (int index = 0; index < count; index++)
        if (write (fd, line, sizeof s_payload) != (ssize_t)sizeof s_payload)
            exit (1);
    double took = s_now () - start;
    close (fd);
    return count / took;
}

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    return size * count;
}

static double
s_run_curl (const char *url, int count)
{
    CURL *easy = curl_easy_init ();
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    headers = curl_slist_append (headers, "Expect:");
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, s_payload);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(sizeof s_payload - 1));
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    double start = s_now ();
    for (int index = 0; index < count; index++)
        if (curl_easy_perform (easy) != CURLE_OK)
            exit (1);
    double took = s_now () - start;
    curl_slist_free_all (headers);
    curl_easy_cleanup (easy);
    return count / took;
}

int
main (int argc, char **argv)
{
    int runs = 5, log_jobs = 50000, http_jobs = 3000;
    for (int index = 1; index + 1 < argc; index += 2) {
        if (strcmp (argv[index], "-r") == 0)
            runs = (int)strtol (argv[index + 1], NULL, 10);
        else if (strcmp (argv[index], "-n") == 0)
            log_jobs = (int)strtol (argv[index + 1], NULL, 10);
        else if (strcmp (argv[index], "-h") == 0)
            http_jobs = (int)strtol (argv[index + 1], NULL, 10);
    }
    if (runs < 1 || runs > MAX_RUNS || log_jobs < 1 || http_jobs < 1) {
        fprintf (stderr, "usage: bench_sender [-r runs 1..9] [-n log-jobs] [-h http-jobs]\n");
        return 100;
    }
    memset (s_payload, 'x', sizeof s_payload - 1);
    memcpy (s_payload, "{\"detail\":\"", 11);
    memcpy (s_payload + sizeof s_payload - 3, "\"}", 2);
    char dir[] = "/tmp/bench_sender.XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    char path[128], base[128];
    snprintf (path, sizeof path, "%s/events.jsonl", dir);
    snprintf (base, sizeof base, "%s/baseline.jsonl", dir);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    zactor_t *sender = cab_sender_new ();
    http_fixture_t *server = http_fixture_new ();
    if (!sender || !server)
        return 111;

    cab_rule_target_t log_target;
    memset (&log_target, 0, sizeof log_target);
    log_target.id = (char *)"log";
    log_target.type = CAB_TARGET_LOG;
    log_target.path = path;
    log_target.max_bytes = 0;
    double log_rate[MAX_RUNS], write_rate[MAX_RUNS];
    for (int run = 0; run < runs; run++) {
        unlink (path);
        log_rate[run] = s_run_sender (sender, &log_target, log_jobs, 1000);
        write_rate[run] = s_run_write (base, log_jobs);
    }
    double log_median = s_median (log_rate, runs), write_median = s_median (write_rate, runs);
    printf ("log    %d x 300 B, %d runs: sender %.0f/s, write(2) loop %.0f/s, ratio %.2f\n",
            log_jobs, runs, log_median, write_median, log_median / write_median);

    char url[128];
    cab_rule_target_t http_target;
    memset (&http_target, 0, sizeof http_target);
    http_target.id = (char *)"http";
    http_target.type = CAB_TARGET_HTTP;
    http_target.url = http_fixture_url (server, "/hook", url, sizeof url);
    http_target.timeout_ms = 10000;
    double one_rate[MAX_RUNS], many_rate[MAX_RUNS], curl_rate[MAX_RUNS];
    for (int run = 0; run < runs; run++) {
        one_rate[run] = s_run_sender (sender, &http_target, http_jobs, 1);
        many_rate[run] = s_run_sender (sender, &http_target, http_jobs, 64);
        curl_rate[run] = s_run_curl (url, http_jobs);
    }
    double one = s_median (one_rate, runs), many = s_median (many_rate, runs),
           curl = s_median (curl_rate, runs);
    printf ("http   %d x 300 B, %d runs: sender 1 in flight %.0f/s (ratio %.2f), "
            "64 in flight %.0f/s (ratio %.2f), curl easy loop %.0f/s\n",
            http_jobs, runs, one, one / curl, many, many / curl, curl);
    printf ("http   connections opened by the sender and the baseline: %d\n",
            http_fixture_connections (server));

    cab_sender_destroy (&sender);
    http_fixture_destroy (&server);
    unlink (path);
    unlink (base);
    rmdir (dir);
    curl_global_cleanup ();
    return 0;
}
