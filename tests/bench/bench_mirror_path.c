/*  =========================================================================
    bench_mirror_path - the whole mirror path: publisher -> broker (store +
    outbox in one transaction) -> mirror worker (budget, sender) -> the
    local fake PutEvents endpoint, with the outcomes committed back.

    An in-process broker (no schemas: envelope checks only) takes N events
    from one client (window 1000); the clock runs from the first publish
    until the store shows every event mirrored (outbox empty). Median of -r
    rounds, each on a fresh store, of three modes in the same run:
      off       the mirror off: until every event is acknowledged (baseline)
      dry-run   the mirror in dry-run (no network: the worker's ceiling)
      fake      the mirror sending to tests/fake_aws/eventbridge.py
    Usage: bench_mirror_path [-n EVENTS] [-r ROUNDS]
    Needs CAB_SRCDIR (or BENCH_SRCDIR at build time) and python3.
    =========================================================================
*/
#include "cab_broker.h"
#include "cab_store_mirror.h"
#include <cabruca.h>
#include <curl/curl.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef enum { S_OFF, S_DRY_RUN, S_FAKE } s_mode_t;

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  Mirrored rows (accepted + dry-run) in the store, -1 when unreadable.
static int64_t
s_mirrored (const char *path)
{
    cab_store_t *store = cab_store_new_readonly (path, NULL);
    cab_mirror_store_stats_t stats;
    int64_t count = -1;
    if (store && cab_store_mirror_stats (store, zclock_time (), &stats, NULL) == CAB_OK)
        count = stats.accepted + stats.dry_run;
    cab_store_destroy (&store);
    return count;
}

//  One round: events/s through the whole path, or 0 on failure.
static double
s_round (s_mode_t mode, char **texts, size_t count, const char *fake_url)
{
    char dir[] = "/tmp/cab-bench-XXXXXX";
    if (!mkdtemp (dir))
        return 0;
    char store[300];
    snprintf (store, sizeof store, "%s/events.db", dir);
    cab_broker_config_t *config = cab_broker_config_new ();
    cab_broker_config_add_endpoint (config, "tcp://127.0.0.1:*");
    config->store_path = strdup (store);
    cab_broker_config_allow (config, "monitor-001", "cabruca.agents.monitor");
    config->mirror_enabled = mode != S_OFF;
    config->mirror_dry_run = mode == S_DRY_RUN;
    //  No hourly cap (monitor's default is 2,100 events an hour).
    config->budget = json_pack ("{s:{s:{s:n,s:n}}}", "caps", "monitor", "per_hour", "per_day");
    if (mode == S_FAKE) {
        config->mirror_endpoint = strdup (fake_url);
        config->mirror_region = strdup ("us-east-1");
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_broker_t *broker = cab_broker_new (&config, &error);
    double rate = 0;
    if (!broker) {
        fprintf (stderr, "bench_mirror_path: broker: %s\n", error.text);
        goto done;
    }
    cab_client_t *client = cab_client_new (cab_broker_endpoint (broker, 0), "monitor-001", NULL);
    cab_client_set_window (client, 1000);
    int64_t start = zclock_usecs ();
    for (size_t index = 0; index < count; index++)
        if (cab_client_publish_text (client, texts[index], strlen (texts[index]), 30000, NULL) !=
            CAB_OK)
            break;
    bool acked = cab_client_flush (client, 60000, NULL) == CAB_OK;
    int64_t end = zclock_usecs ();
    if (acked && mode != S_OFF) {
        //  Until the outbox is empty (every event mirrored), 120 s at most.
        while (s_mirrored (store) < (int64_t)count && zclock_usecs () - start < 120000000)
            zclock_sleep (5);
        end = zclock_usecs ();
        acked = s_mirrored (store) >= (int64_t)count;
    }
    if (acked)
        rate = count / ((end - start) / 1e6);
    cab_client_destroy (&client);
    cab_broker_destroy (&broker);
done:;
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        fprintf (stderr, "bench_mirror_path: cannot remove %s\n", dir);
    return rate;
}

int
main (int argc, char **argv)
{
    size_t count = 20000, rounds = 3;
    for (int index = 1; index + 1 < argc; index += 2) {
        char *end = NULL;
        long value = strtol (argv[index + 1], &end, 10);
        if (!end || *end || value <= 0 || value > 10000000) {
            fprintf (stderr, "bench_mirror_path: bad number %s\n", argv[index + 1]);
            return 100;
        }
        if (strcmp (argv[index], "-n") == 0)
            count = (size_t)value;
        else if (strcmp (argv[index], "-r") == 0)
            rounds = (size_t)(value > 16 ? 16 : value);
    }
    const char *srcdir = getenv ("CAB_SRCDIR");
#ifdef BENCH_SRCDIR
    if (!srcdir)
        srcdir = BENCH_SRCDIR;
#endif
    if (!srcdir) {
        fprintf (stderr, "bench_mirror_path: set CAB_SRCDIR\n");
        return 1;
    }
    char script[512], port_file[] = "/tmp/cab-bench-port-XXXXXX";
    snprintf (script, sizeof script, "%s/tests/fake_aws/eventbridge.py", srcdir);
    int fd = mkstemp (port_file);
    if (fd < 0)
        return 1;
    close (fd);
    pid_t pid = fork ();
    if (pid == 0) {
        if (!freopen ("/dev/null", "w", stdout))
            _exit (127);
        execl ("/usr/bin/python3", "python3", script, "--port-file", port_file, (char *)NULL);
        _exit (127);
    }
    int port = 0;
    for (int tries = 0; tries < 100 && port == 0; tries++) {
        FILE *file = fopen (port_file, "r");
        if (file && fscanf (file, "%d", &port) != 1)
            port = 0;
        if (file)
            fclose (file);
        if (port == 0)
            zclock_sleep (50);
    }
    unlink (port_file);
    if (port == 0) {
        fprintf (stderr, "bench_mirror_path: the fake endpoint did not start\n");
        kill (pid, SIGTERM);
        waitpid (pid, NULL, 0);
        return 1;
    }
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d", port);
    setenv ("AWS_ACCESS_KEY_ID", "AKIDCABRUCATEST", 1);
    setenv ("AWS_SECRET_ACCESS_KEY", "cabruca/secret/key", 1);
    setenv ("AWS_EC2_METADATA_DISABLED", "true", 1);
    curl_global_init (CURL_GLOBAL_DEFAULT);
    if (!getenv ("BENCH_VERBOSE"))
        zsys_set_logstream (NULL);

    char **texts = (char **)calloc (count, sizeof *texts);
    for (size_t index = 0; texts && index < count; index++) {
        char id[CAB_UUID_LENGTH + 1];
        cab_uuid_v7 (id);
        if (asprintf (&texts[index],
                      "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Issue Detection\","
                      "\"source\":\"cabruca.agents.monitor\",\"account\":\"local\","
                      "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
                      "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\","
                      "\"agent_id\":\"monitor-001\",\"correlation_id\":\"%s\","
                      "\"severity\":\"LOW\",\"issue_type\":\"bench\",\"description\":"
                      "\"a %zu-th event on its way to the cloud bus\"}}",
                      id, id, index) < 0)
            texts[index] = NULL;
    }
    const char *names[] = {"off", "dry_run", "fake"};
    double results[3][16];
    double medians[3];
    //  Rounds interleaved, so that the machine's load hits every mode alike.
    for (size_t round = 0; round < rounds; round++)
        for (int mode = 0; mode < 3; mode++)
            results[mode][round] = s_round ((s_mode_t)mode, texts, count, url);
    for (int mode = 0; mode < 3; mode++) {
        qsort (results[mode], rounds, sizeof (double), s_compare);
        medians[mode] = results[mode][rounds / 2];
        printf ("mirror_path_%s=%.0f\n", names[mode], medians[mode]);
    }
    printf ("mirror_path_events=%zu\nmirror_path_rounds=%zu\n", count, rounds);
    printf ("BENCH name=mirror_path value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=events/s(mirror-off) runs=%zu\n",
            medians[2], medians[0], rounds);
    printf ("BENCH name=mirror_path_dry value=%.0f unit=events/s runs=%zu\n", medians[1], rounds);
    printf ("mirror_path_dry_run_ratio=%.2f\nmirror_path_fake_ratio=%.2f\n",
            medians[0] > 0 ? medians[1] / medians[0] : 0,
            medians[0] > 0 ? medians[2] / medians[0] : 0);
    for (size_t index = 0; texts && index < count; index++)
        free (texts[index]);
    free (texts);
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
    curl_global_cleanup ();
    return medians[1] > 0 && medians[2] > 0 ? 0 : 1;
}
