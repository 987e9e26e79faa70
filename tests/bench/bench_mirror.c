/*  =========================================================================
    bench_mirror - cloud mirror throughput to the local fake PutEvents endpoint

    Starts tests/fake_aws/eventbridge.py on 127.0.0.1 and measures, in the
    same run (median of -r rounds):
      baseline  the fake alone: pre-built, signed 10-entry requests sent with
                a bare libcurl multi loop, same concurrency (what the fake can
                absorb; no cab_mirror work)
      mirror    cab_mirror: entry building, batching, signing, response
                parsing, per-event results
      dry-run   cab_mirror in dry-run (no network: the mirror's own ceiling)
    Usage: bench_mirror [-n EVENTS] [-c IN_FLIGHT] [-r ROUNDS]
    Needs CAB_SRCDIR (or BENCH_SRCDIR at build time) and python3.
    =========================================================================
*/
#include "cab_mirror.h"
#include "cab_putevents.h"
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static char *
s_event (size_t i)
{
    static char text[512];
    snprintf (text, sizeof text,
              "{\"version\":\"0\",\"id\":\"00000000-0000-4000-8000-%012zu\",\"detail-type\":"
              "\"Issue Detection\",\"source\":\"cabruca.agents.monitor\",\"account\":\"local\","
              "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"us-east-1\",\"resources\":[],"
              "\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"monitor-001\",\"n\":%zu,"
              "\"severity\":\"HIGH\",\"title\":\"disk almost full\"}}",
              i, i);
    return text;
}

static size_t s_results;
static void
s_on_result (void *arg, const cab_mirror_result_t *result)
{
    (void)arg;
    if (result->outcome == CAB_MIRROR_ACCEPTED || result->outcome == CAB_MIRROR_DRY_RUN)
        s_results++;
}

static double
s_run_mirror (size_t events, size_t in_flight, bool dry_run)
{
    cab_mirror_config_t config = {0};
    config.max_in_flight = in_flight;
    config.max_queue = events + 1;
    config.dry_run = dry_run;
    cab_error_t error;
    cab_mirror_t *mirror = cab_mirror_new (&config, s_on_result, NULL, &error);
    if (!mirror) {
        fprintf (stderr, "bench_mirror: %s\n", error.text);
        exit (1);
    }
    s_results = 0;
    double start = s_now ();
    for (size_t i = 0; i < events; i++) {
        const char *text = s_event (i);
        cab_mirror_submit (mirror, (int64_t)i, text, strlen (text), NULL);
    }
    while (cab_mirror_pending (mirror) > 0 && s_now () - start < 120)
        cab_mirror_run (mirror, 100);
    double elapsed = s_now () - start;
    cab_mirror_destroy (&mirror);
    if (s_results != events)
        fprintf (stderr, "bench_mirror: only %zu of %zu events accepted\n", s_results, events);
    return (double)s_results / elapsed;
}

//  The fake alone: the same 10-entry body, signed by libcurl, `in_flight`
//  requests at a time, until `events` events were accepted.
static double
s_run_baseline (size_t events, size_t in_flight, const char *url)
{
    cab_putevents_entry_t entries[10];
    const cab_putevents_entry_t *pointers[10];
    for (size_t i = 0; i < 10; i++) {
        const char *text = s_event (i);
        cab_putevents_entry_build (text, strlen (text), "cabruca-agents-bus", &entries[i], NULL);
        pointers[i] = &entries[i];
    }
    size_t length;
    char *body = cab_putevents_body_new (pointers, 10, &length);
    struct curl_slist *headers =
        curl_slist_append (NULL, "Content-Type: application/x-amz-json-1.1");
    headers = curl_slist_append (headers, "X-Amz-Target: AWSEvents.PutEvents");
    CURLM *multi = curl_multi_init ();
    size_t requests = events / 10, started = 0, done = 0;
    double start = s_now ();
    while (done < requests) {
        int running;
        while (started < requests && started - done < in_flight) {
            CURL *easy = curl_easy_init ();
            curl_easy_setopt (easy, CURLOPT_URL, url);
            curl_easy_setopt (easy, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long)length);
            curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt (easy, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:events");
            curl_easy_setopt (easy, CURLOPT_USERNAME, getenv ("AWS_ACCESS_KEY_ID"));
            curl_easy_setopt (easy, CURLOPT_PASSWORD, getenv ("AWS_SECRET_ACCESS_KEY"));
            curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, fwrite);
            FILE *sink = fopen ("/dev/null", "w");
            curl_easy_setopt (easy, CURLOPT_WRITEDATA, sink);
            curl_easy_setopt (easy, CURLOPT_PRIVATE, sink);
            curl_multi_add_handle (multi, easy);
            started++;
        }
        curl_multi_perform (multi, &running);
        curl_multi_poll (multi, NULL, 0, 100, NULL);
        curl_multi_perform (multi, &running);
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read (multi, &left))) {
            if (message->msg != CURLMSG_DONE)
                continue;
            FILE *sink = NULL;
            curl_easy_getinfo (message->easy_handle, CURLINFO_PRIVATE, (char **)&sink);
            curl_multi_remove_handle (multi, message->easy_handle);
            curl_easy_cleanup (message->easy_handle);
            fclose (sink);
            done++;
        }
    }
    double elapsed = s_now () - start;
    curl_multi_cleanup (multi);
    curl_slist_free_all (headers);
    free (body);
    for (size_t i = 0; i < 10; i++)
        cab_putevents_entry_clear (&entries[i]);
    return (double)(requests * 10) / elapsed;
}

int
main (int argc, char **argv)
{
    size_t events = 20000, in_flight = 8, rounds = 3;
    int option;
    while ((option = getopt (argc, argv, "n:c:r:")) != -1) {
        long value = strtol (optarg, NULL, 10);
        if (value <= 0)
            return 100;
        if (option == 'n')
            events = (size_t)value;
        else if (option == 'c')
            in_flight = (size_t)value;
        else if (option == 'r')
            rounds = (size_t)value;
        else
            return 100;
    }
    const char *srcdir = getenv ("CAB_SRCDIR");
#ifdef BENCH_SRCDIR
    if (!srcdir)
        srcdir = BENCH_SRCDIR;
#endif
    if (!srcdir) {
        fprintf (stderr, "bench_mirror: set CAB_SRCDIR\n");
        return 100;
    }
    char dir[] = "/tmp/cab-bench-mirror-XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    char script[512], port_file[128], command[256];
    snprintf (script, sizeof script, "%s/tests/fake_aws/eventbridge.py", srcdir);
    snprintf (port_file, sizeof port_file, "%s/port", dir);
    pid_t pid = fork ();
    if (pid == 0) {
        freopen ("/dev/null", "w", stdout);
        execl ("/usr/bin/python3", "python3", script, "--port-file", port_file, (char *)NULL);
        _exit (127);
    }
    int port = 0;
    for (int tries = 0; tries < 200 && port == 0; tries++) {
        FILE *file = fopen (port_file, "r");
        if (file) {
            if (fscanf (file, "%d", &port) != 1)
                port = 0;
            fclose (file);
        }
        if (!port)
            usleep (25000);
    }
    if (!port) {
        fprintf (stderr, "bench_mirror: the fake did not start\n");
        kill (pid, SIGTERM);
        return 111;
    }
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", port);
    setenv ("AWS_ENDPOINT_URL_EVENTBRIDGE", url, 1);
    setenv ("AWS_ACCESS_KEY_ID", "AKIDCABRUCATEST", 1);
    setenv ("AWS_SECRET_ACCESS_KEY", "cabruca/secret/key", 1);
    setenv ("AWS_REGION", "us-east-1", 1);
    setenv ("AWS_EC2_METADATA_DISABLED", "true", 1);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    double baseline[16], mirror[16], dry[16];
    if (rounds > 16)
        rounds = 16;
    for (size_t r = 0; r < rounds; r++) {
        baseline[r] = s_run_baseline (events, in_flight, url);
        mirror[r] = s_run_mirror (events, in_flight, false);
        dry[r] = s_run_mirror (events * 5, in_flight, true);
    }
    qsort (baseline, rounds, sizeof (double), s_compare);
    qsort (mirror, rounds, sizeof (double), s_compare);
    qsort (dry, rounds, sizeof (double), s_compare);
    double b = baseline[rounds / 2], m = mirror[rounds / 2], d = dry[rounds / 2];
    printf ("bench_mirror: %zu events, batches of 10, %zu in flight, median of %zu rounds\n",
            events, in_flight, rounds);
    printf ("  baseline (fake alone, bare libcurl)  %10.0f events/s\n", b);
    printf ("  cab_mirror -> fake                   %10.0f events/s  (%.2fx baseline)\n", m, m / b);
    printf ("  cab_mirror dry-run (no network)      %10.0f events/s\n", d);
    printf ("BENCH name=mirror value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(fake+libcurl) target=>=10000 runs=%zu\n",
            m, b, rounds);
    printf ("BENCH name=mirror_dry value=%.0f unit=events/s runs=%zu\n", d, rounds);
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        return 111;
    curl_global_cleanup ();
    return 0;
}
