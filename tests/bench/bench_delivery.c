/*  =========================================================================
    bench_delivery - publish->delivery latency and ingest with routing on/off,
    through real cabruca-broker processes

    The six default rules (schemas/rules/default.json; log targets in a
    temporary data directory, the `command` of high-severity-alert replaced
    by `true`). Measured:
      1. publish->delivery latency p50/p99/p99.9: one publisher process at a
         fixed rate (default 10,000 events/s) of 1 KB Feature Requests, which
         the rule feature-request-product-queue routes to the agent queue
         product-management, where one consumer process (cab_client_subscribe,
         max_in_flight 1000) receives them. Each event carries its publish
         time (CLOCK_MONOTONIC, system-wide) in its title; the consumer
         subtracts it from the time of the delivery. publish->ACK alongside.
      2. acked events/s from 4 publisher processes (window 1,000, 1 KB Issue
         Detection LOW events, which issue-detection-log routes to its log
         target) against a broker WITHOUT rules (the baseline, part 1) and
         one WITH the default rules, alternating, median of -r runs.
    The parent process never touches ZeroMQ: every socket is in a child.

    usage: bench_delivery [-n EVENTS] [-r RUNS] [-R RATE] [-s SECONDS]
                          [-b BROKER] [-S SRCDIR] [-m all|latency|on|off] [-C MB]
    (defaults: 100,000 events, 3 runs, 10,000 events/s for 10 s; the broker
    and the source tree of the build, or $CAB_BUILDDIR and $CAB_SRCDIR; -C:
    the store's cache_tail_mb, the broker's default when absent)
    =========================================================================
*/
#include <cabruca.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PUBLISHERS  4
#define WINDOW      1000
#define EVENT_BYTES 1024
#define MAX_RUNS    9
#define QUEUE       "product-management"
#define streq(a, b) (strcmp ((a), (b)) == 0)

//  Where the latency run's publisher and consumer leave their per-event
//  times (ACK, delivery) for the parent to pair up.
static char s_times_dir[600];
//  -C: the store's cache_tail_mb (-1: the broker's default).
static long s_cache_tail_mb = -1;

typedef struct {
    long count;
    double p50_ms, p99_ms, p999_ms, max_ms;
} s_latency_t;

typedef struct {
    int64_t start_us, end_us;
    long acked, nacked;
    s_latency_t ack;
} s_result_t;

static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  CPU seconds a process used so far (from /proc/PID/stat).
static double
s_cpu_of (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    unsigned long utime = 0, stime = 0;
    if (file) {
        //  Fields 14 and 15, after "(comm)" which has no spaces here.
        if (fscanf (file, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                    &stime) != 2)
            utime = stime = 0;
        fclose (file);
    }
    return (double)(utime + stime) / (double)sysconf (_SC_CLK_TCK);
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static s_latency_t
s_percentiles (double *values, long count)
{
    s_latency_t out = {count, 0, 0, 0, 0};
    if (count <= 0)
        return out;
    qsort (values, (size_t)count, sizeof (double), s_compare);
    out.p50_ms = values[count / 2];
    out.p99_ms = values[(long)((double)count * 0.99)];
    out.p999_ms = values[(long)((double)count * 0.999)];
    out.max_ms = values[count - 1];
    return out;
}

//  A 1 KB event: a Feature Request whose title carries the publish time, or
//  an Issue Detection (severity LOW).
static size_t
s_event (char *buffer, size_t size, bool feature, int publisher, long number, int64_t sent_us)
{
    char id[CAB_UUID_LENGTH + 1];
    cab_uuid_v7 (id);
    int length;
    if (feature)
        length = snprintf (
            buffer, size,
            "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Feature Request\","
            "\"source\":\"cabruca.agents.product\",\"account\":\"local\","
            "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\",\"resources\":[],"
            "\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"product-001\","
            "\"correlation_id\":\"%s\",\"priority\":\"LOW\",\"feature_type\":\"PERFORMANCE\","
            "\"title\":\"bench t=%lld n=%ld\",\"description\":\"",
            id, id, (long long)sent_us, number);
    else
        length = snprintf (buffer, size,
                           "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Issue Detection\","
                           "\"source\":\"cabruca.agents.monitor\",\"account\":\"local\","
                           "\"time\":\"2026-11-22T10:00:00Z\",\"region\":\"sa-east-1\","
                           "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\","
                           "\"agent_id\":\"bench-%d\",\"correlation_id\":\"%s\",\"severity\":"
                           "\"LOW\",\"issue_type\":\"bench\",\"description\":\"",
                           id, publisher, id);
    while (length < EVENT_BYTES - 3)
        buffer[length++] = 'x';
    memcpy (buffer + length, "\"}}", 4);
    return (size_t)length + 3;
}

//  Save count times to s_times_dir/NAME (raw int64_t), or load them.
static void
s_save_times (const char *name, const int64_t *times, long count)
{
    char path[700];
    snprintf (path, sizeof path, "%s/%s", s_times_dir, name);
    FILE *file = fopen (path, "wb");
    if (file) {
        fwrite (times, sizeof (int64_t), (size_t)count, file);
        fclose (file);
    }
}

static int64_t *
s_load_times (const char *name, long count)
{
    char path[700];
    snprintf (path, sizeof path, "%s/%s", s_times_dir, name);
    int64_t *times = calloc ((size_t)count, sizeof (int64_t));
    FILE *file = fopen (path, "rb");
    if (file && times && fread (times, sizeof (int64_t), (size_t)count, file) != (size_t)count)
        memset (times, 0, (size_t)count * sizeof (int64_t));
    if (file)
        fclose (file);
    return times;
}

//  ---------------------------------------------------------------------
//  Publisher (a child process)

typedef struct {
    int64_t *sent_us;
    int64_t *acked_us;  //  By publish number
    double *latency_ms;
    long answered, acked;
    int64_t last_us;
} s_tally_t;

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    s_tally_t *tally = (s_tally_t *)arg;
    int64_t now = s_now_us ();
    tally->latency_ms[tally->answered++] = (double)(now - tally->sent_us[result->number]) / 1000.0;
    tally->acked += result->code == CAB_OK;
    tally->acked_us[result->number] = now;
    tally->last_us = now;
}

static s_result_t
s_publish (const char *endpoint, bool feature, int publisher, long count, long rate)
{
    s_result_t out = {0};
    char agent[32];
    if (feature)
        snprintf (agent, sizeof agent, "product-001");
    else
        snprintf (agent, sizeof agent, "bench-%d", publisher);
    cab_client_t *client = cab_client_new (endpoint, agent, NULL);
    s_tally_t tally = {calloc ((size_t)count + 2, sizeof (int64_t)),
                       calloc ((size_t)count + 2, sizeof (int64_t)),
                       calloc ((size_t)count + 1, sizeof (double)),
                       0,
                       0,
                       0};
    if (!client || !tally.sent_us || !tally.acked_us || !tally.latency_ms)
        _exit (111);
    cab_client_set_window (client, WINDOW);
    cab_client_set_handler (client, s_on_result, &tally);
    while (!cab_client_connected (client))
        cab_client_poll (client, 10);
    char text[EVENT_BYTES + 256];
    out.start_us = s_now_us ();
    for (long index = 1; index <= count; index++) {
        if (rate > 0) {
            int64_t due = out.start_us + (int64_t)((double)index * 1e6 / (double)rate);
            int64_t now;
            while ((now = s_now_us ()) + 500 < due)
                cab_client_poll (client, (int)((due - now + 999) / 1000));
        }
        int64_t now = s_now_us ();
        size_t size = s_event (text, sizeof text, feature, publisher, index, now);
        tally.sent_us[index] = now;
        if (cab_client_publish_text (client, text, size, 60000, NULL) != CAB_OK)
            break;
    }
    cab_client_flush (client, 60000, NULL);
    out.end_us = tally.last_us;
    out.acked = tally.acked;
    out.nacked = tally.answered - tally.acked;
    out.ack = s_percentiles (tally.latency_ms, tally.answered);
    cab_client_destroy (&client);
    if (feature)
        s_save_times ("acked", tally.acked_us, count + 1);
    free (tally.sent_us);
    free (tally.acked_us);
    free (tally.latency_ms);
    return out;
}

//  ---------------------------------------------------------------------
//  Consumer (a child process): publish->delivery latency from the title.

typedef struct {
    double *latency_ms;
    int64_t *delivered_us;  //  First delivery, by publish number
    long received, capacity;
} s_consumed_t;

static int
s_on_delivery (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    int64_t now = s_now_us ();
    s_consumed_t *consumed = (s_consumed_t *)arg;
    const char *mark = strstr (delivery->text, "\"title\":\"bench t=");
    if (mark && consumed->received < consumed->capacity) {
        char *end = NULL;
        long long sent = strtoll (mark + 17, &end, 10);
        consumed->latency_ms[consumed->received++] = (double)(now - sent) / 1000.0;
        long number = end && strncmp (end, " n=", 3) == 0 ? strtol (end + 3, NULL, 10) : 0;
        if (number > 0 && number <= consumed->capacity && !consumed->delivered_us[number])
            consumed->delivered_us[number] = now;
    }
    return 0;
}

static s_latency_t
s_consume (const char *endpoint, long expected, int ready_fd)
{
    s_consumed_t consumed = {calloc ((size_t)expected + 1, sizeof (double)),
                             calloc ((size_t)expected + 1, sizeof (int64_t)), 0, expected};
    cab_client_t *client = cab_client_new (endpoint, "bench-consumer", NULL);
    json_t *options = json_pack ("{s:i}", "max_in_flight", 1000);
    cab_error_t error;
    if (!consumed.latency_ms || !consumed.delivered_us || !client ||
        cab_client_subscribe (client, QUEUE, options, s_on_delivery, &consumed, 10000, &error) !=
            CAB_OK) {
        fprintf (stderr, "bench_delivery: cannot subscribe: %s\n", client ? error.text : "");
        _exit (111);
    }
    json_decref (options);
    if (write (ready_fd, "r", 1) != 1)
        _exit (111);
    int64_t deadline = s_now_us () + 120 * 1000000LL;
    while (consumed.received < expected && s_now_us () < deadline)
        cab_client_poll (client, 100);
    json_t *report = NULL;
    cab_client_status (client, &report, 5000, NULL);  //  the last DACKs reach the broker
    json_decref (report);
    cab_client_destroy (&client);
    s_latency_t out = s_percentiles (consumed.latency_ms, consumed.received);
    s_save_times ("delivered", consumed.delivered_us, expected + 1);
    free (consumed.latency_ms);
    free (consumed.delivered_us);
    return out;
}

//  ---------------------------------------------------------------------
//  Processes

static s_result_t
s_run_publishers (const char *endpoint, int publishers, bool feature, long per, long rate)
{
    int fds[PUBLISHERS][2];
    pid_t pids[PUBLISHERS];
    for (int index = 0; index < publishers; index++) {
        if (pipe (fds[index]) != 0)
            exit (111);
        pids[index] = fork ();
        if (pids[index] == 0) {
            close (fds[index][0]);
            s_result_t result = s_publish (endpoint, feature, index, per, rate);
            if (write (fds[index][1], &result, sizeof result) != sizeof result)
                _exit (1);
            _exit (0);
        }
        close (fds[index][1]);
    }
    s_result_t total = {INT64_MAX, 0, 0, 0, {0, 0, 0, 0, 0}};
    for (int index = 0; index < publishers; index++) {
        s_result_t result = {0};
        if (read (fds[index][0], &result, sizeof result) != sizeof result)
            fprintf (stderr, "bench_delivery: publisher %d failed\n", index);
        close (fds[index][0]);
        waitpid (pids[index], NULL, 0);
        if (result.start_us && result.start_us < total.start_us)
            total.start_us = result.start_us;
        if (result.end_us > total.end_us)
            total.end_us = result.end_us;
        total.acked += result.acked;
        total.nacked += result.nacked;
        total.ack = result.ack;  //  (latency runs have one publisher)
    }
    return total;
}

//  In a child: poll the broker's STATUS until its delivery counter reaches
//  count (or 120 s pass); returns the time it did (0 on timeout).
static int64_t
s_wait_delivered (const char *endpoint, long count)
{
    int fds[2];
    if (pipe (fds) != 0)
        return 0;
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds[0]);
        cab_client_t *client = cab_client_new (endpoint, NULL, NULL);
        int64_t deadline = s_now_us () + 120 * 1000000LL, done = 0;
        while (client && !done && s_now_us () < deadline) {
            json_t *report = NULL;
            if (cab_client_status (client, &report, 5000, NULL) == CAB_OK &&
                json_integer_value (
                    json_object_get (json_object_get (report, "delivery"), "delivered")) >= count)
                done = s_now_us ();
            json_decref (report);
            if (!done)
                cab_client_poll (client, 20);
        }
        cab_client_destroy (&client);
        if (write (fds[1], &done, sizeof done) != sizeof done)
            _exit (1);
        _exit (0);
    }
    close (fds[1]);
    int64_t done = 0;
    if (read (fds[0], &done, sizeof done) != sizeof done)
        done = 0;
    close (fds[0]);
    waitpid (pid, NULL, 0);
    return done;
}

static double
s_rate (s_result_t result)
{
    double seconds = (double)(result.end_us - result.start_us) / 1e6;
    return seconds > 0 ? (double)result.acked / seconds : 0;
}

static pid_t
s_start_broker (const char *broker, const char *config)
{
    int fds[2];
    if (pipe (fds) != 0)
        exit (111);
    pid_t pid = fork ();
    if (pid == 0) {
        close (fds[0]);
        if (fds[1] != 3) {
            dup2 (fds[1], 3);
            close (fds[1]);
        }
        execl (broker, broker, "--config", config, "--notify-fd", "3", (char *)NULL);
        _exit (111);
    }
    close (fds[1]);
    char byte;
    if (read (fds[0], &byte, 1) != 1) {
        fprintf (stderr, "bench_delivery: %s did not get ready (%s)\n", broker, config);
        exit (111);
    }
    close (fds[0]);
    return pid;
}

static void
s_stop_broker (pid_t pid)
{
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
}

//  The default rule file with the alert command replaced by `true`.
static bool
s_write_rules (const char *srcdir, const char *path)
{
    char source[600];
    snprintf (source, sizeof source, "%s/schemas/rules/default.json", srcdir);
    json_t *rules = json_load_file (source, 0, NULL);
    size_t index;
    json_t *rule;
    json_array_foreach (json_object_get (rules, "rules"), index, rule)
    {
        size_t target_index;
        json_t *target;
        json_array_foreach (json_object_get (rule, "targets"), target_index,
                            target) if (json_object_get (target, "command"))
            json_object_set_new (target, "command", json_pack ("[s]", "true"));
    }
    bool written = rules && json_dump_file (rules, path, JSON_INDENT (1)) == 0;
    json_decref (rules);
    return written;
}

static bool
s_write_config (const char *path, const char *dir, const char *endpoint, const char *srcdir,
                const char *rules)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return false;
    fprintf (file,
             "{\"endpoints\": [\"%s\"], \"store\": {\"path\": \"%s/events.db\", "
             "\"durability\": \"normal\"",
             endpoint, dir);
    if (s_cache_tail_mb >= 0)
        fprintf (file, ", \"cache_tail_mb\": %ld", s_cache_tail_mb);
    fprintf (file, "}, \"schemas\": \"%s/schemas\", \"data_dir\": \"%s\", ", srcdir, dir);
    if (rules)
        fprintf (file, "\"rules\": \"%s\", ", rules);
    fprintf (file, "\"agents\": {\"product-001\": {\"sources\": [\"cabruca.agents.product\"]}, "
                   "\"bench-consumer\": {\"sources\": []}");
    for (int index = 0; index < PUBLISHERS; index++)
        fprintf (file, ", \"bench-%d\": {\"sources\": [\"cabruca.agents.monitor\"]}", index);
    fprintf (file, "}, \"limits\": {\"max_in_flight\": %d}}\n", WINDOW);
    return fclose (file) == 0;
}

static double
s_median (double *values, int count)
{
    qsort (values, (size_t)count, sizeof (double), s_compare);
    return values[count / 2];
}

int
main (int argc, char **argv)
{
    long total = 100000, rate = 10000, seconds = 10;
    int runs = 3;
    const char *broker = NULL, *srcdir = getenv ("CAB_SRCDIR");
    int option;
    const char *mode = "all";
    while ((option = getopt (argc, argv, "n:r:R:s:b:S:m:C:")) != -1) {
        if (option == 'n')
            total = strtol (optarg, NULL, 10);
        else if (option == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (option == 'R')
            rate = strtol (optarg, NULL, 10);
        else if (option == 's')
            seconds = strtol (optarg, NULL, 10);
        else if (option == 'b')
            broker = optarg;
        else if (option == 'm')
            mode = optarg;
        else if (option == 'S')
            srcdir = optarg;
        else if (option == 'C')
            s_cache_tail_mb = strtol (optarg, NULL, 10);
        else {
            fprintf (stderr, "usage: bench_delivery [-n EVENTS] [-r RUNS] [-R RATE] "
                             "[-s SECONDS] [-b BROKER] [-S SRCDIR] [-m all|latency|on|off] "
                             "[-C MB]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || total < PUBLISHERS || rate < 1 || seconds < 1 ||
        s_cache_tail_mb < -1 || s_cache_tail_mb > 1048576)
        return 100;
    char broker_path[512];
    const char *builddir = getenv ("CAB_BUILDDIR");
    if (!builddir)
        builddir = BENCH_BUILDDIR;
    if (!broker) {
        snprintf (broker_path, sizeof broker_path, "%s/cabruca-broker", builddir);
        broker = broker_path;
    }
    if (!srcdir)
        srcdir = BENCH_SRCDIR;
    signal (SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench-delivery-XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    char rules[600], config_on[600], config_off[600], endpoint[600], dir_on[600], dir_off[600];
    char latency_dir[600];
    snprintf (rules, sizeof rules, "%s/rules.json", dir);
    snprintf (dir_on, sizeof dir_on, "%s/on", dir);
    snprintf (dir_off, sizeof dir_off, "%s/off", dir);
    snprintf (latency_dir, sizeof latency_dir, "%s/latency", dir);
    snprintf (s_times_dir, sizeof s_times_dir, "%s", dir);
    snprintf (config_on, sizeof config_on, "%s/on.json", dir);
    snprintf (config_off, sizeof config_off, "%s/off.json", dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s/broker.ipc", dir);
    int status = 0;
    if (!s_write_rules (srcdir, rules)) {
        fprintf (stderr, "bench_delivery: cannot read %s/schemas/rules/default.json\n", srcdir);
        status = 111;
        goto done;
    }
    printf ("bench_delivery: the 6 default rules; ingest runs of %ld events of %d bytes from %d "
            "publishers, window %d, %d runs; latency at %ld events/s for %ld s\n",
            total / PUBLISHERS * PUBLISHERS, EVENT_BYTES, PUBLISHERS, WINDOW, runs, rate, seconds);
    fflush (stdout);

    //  1. Latency: publisher -> broker (default rules) -> subscribed consumer.
    if (streq (mode, "all") || streq (mode, "latency")) {
        mkdir (latency_dir, 0700);
        if (!s_write_config (config_on, latency_dir, endpoint, srcdir, rules)) {
            status = 111;
            goto done;
        }
        pid_t broker_pid = s_start_broker (broker, config_on);
        long expected = rate * seconds;
        int fds[2];
        if (pipe (fds) != 0)
            return 111;
        int ready[2];
        if (pipe (ready) != 0)
            return 111;
        pid_t consumer = fork ();
        if (consumer == 0) {
            close (fds[0]);
            close (ready[0]);
            s_latency_t latency = s_consume (endpoint, expected, ready[1]);
            if (write (fds[1], &latency, sizeof latency) != sizeof latency)
                _exit (1);
            _exit (0);
        }
        close (fds[1]);
        close (ready[1]);
        char byte;
        if (read (ready[0], &byte, 1) != 1) {
            fprintf (stderr, "bench_delivery: the consumer did not subscribe\n");
            status = 1;
        }
        close (ready[0]);
        s_result_t paced = s_run_publishers (endpoint, 1, true, expected, rate);
        s_latency_t delivery = {0, 0, 0, 0, 0};
        if (read (fds[0], &delivery, sizeof delivery) != sizeof delivery)
            fprintf (stderr, "bench_delivery: the consumer failed\n");
        close (fds[0]);
        waitpid (consumer, NULL, 0);
        s_stop_broker (broker_pid);
        //  The same event's delivery against its ACK: what routing adds after the commit.
        int64_t *acked = s_load_times ("acked", expected + 1);
        int64_t *delivered = s_load_times ("delivered", expected + 1);
        double *gap = calloc ((size_t)expected + 1, sizeof (double));
        long pairs = 0;
        for (long number = 1; acked && delivered && gap && number <= expected; number++)
            if (acked[number] && delivered[number])
                gap[pairs++] = (double)(delivered[number] - acked[number]) / 1000.0;
        s_latency_t after_ack = s_percentiles (gap, pairs);
        free (acked);
        free (delivered);
        free (gap);
        printf ("latency at %ld events/s (%ld published, %ld acked, %ld delivered):\n"
                "  publish->delivery p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n"
                "  publish->ACK      p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n"
                "  ACK->delivery     p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms "
                "(same event; negative: delivered before its ACK arrived)\n",
                rate, expected, paced.acked, delivery.count, delivery.p50_ms, delivery.p99_ms,
                delivery.p999_ms, delivery.max_ms, paced.ack.p50_ms, paced.ack.p99_ms,
                paced.ack.p999_ms, paced.ack.max_ms, after_ack.p50_ms, after_ack.p99_ms,
                after_ack.p999_ms, after_ack.max_ms);
        fflush (stdout);
        if (delivery.count != expected)
            status = 1;
    }

    //  2. Ingest throughput, routing off (no rule file) and on, alternating.
    double off[MAX_RUNS], on[MAX_RUNS], routed[MAX_RUNS], cpu_off[MAX_RUNS], cpu_on[MAX_RUNS];
    long per = total / PUBLISHERS;
    for (int run = 0; run < runs; run++) {
        for (int routing = 0; routing <= 1; routing++) {
            if (streq (mode, "latency") || (streq (mode, "on") && !routing) ||
                (streq (mode, "off") && routing)) {
                off[run] = on[run] = routed[run] = cpu_off[run] = cpu_on[run] = 0;
                continue;
            }
            char run_dir[640], command[1400];
            snprintf (run_dir, sizeof run_dir, "%s", routing ? dir_on : dir_off);
            snprintf (command, sizeof command, "rm -rf '%s' && mkdir -p '%s'", run_dir, run_dir);
            if (system (command) != 0 ||
                !s_write_config (routing ? config_on : config_off, run_dir, endpoint, srcdir,
                                 routing ? rules : NULL)) {
                status = 111;
                goto done;
            }
            pid_t broker_pid = s_start_broker (broker, routing ? config_on : config_off);
            double cpu = s_cpu_of (broker_pid);
            s_result_t result = s_run_publishers (endpoint, PUBLISHERS, false, per, 0);
            //  Routing on: also until every event reached its log target.
            int64_t delivered_us = routing ? s_wait_delivered (endpoint, result.acked) : 0;
            cpu = (s_cpu_of (broker_pid) - cpu) * 1e6 / (double)(result.acked ? result.acked : 1);
            (routing ? cpu_on : cpu_off)[run] = cpu;
            s_stop_broker (broker_pid);
            (routing ? on : off)[run] = s_rate (result);
            if (routing)
                routed[run] =
                    delivered_us > result.start_us
                        ? (double)result.acked / ((double)(delivered_us - result.start_us) / 1e6)
                        : 0;
            printf ("  run %d, routing %s: %.0f acked events/s (%ld acked, %ld nacked), broker CPU "
                    "%.1f us/event",
                    run + 1, routing ? "on " : "off", s_rate (result), result.acked, result.nacked,
                    cpu);
            if (routing)
                printf ("; all delivered to the log target %.2f s after the last ACK: %.0f "
                        "delivered events/s",
                        delivered_us ? (double)(delivered_us - result.end_us) / 1e6 : -1.0,
                        routed[run]);
            printf ("\n");
            fflush (stdout);
        }
    }
    double median_off = s_median (off, runs), median_on = s_median (on, runs);
    double median_routed = s_median (routed, runs);
    printf ("ingest: routing off %.0f acked events/s, routing on %.0f (medians); ratio %.3f; "
            "routing on, first publish to last delivery: %.0f events/s (ratio %.3f)\n"
            "broker CPU per event (medians): routing off %.1f us, on %.1f us\n",
            median_off, median_on, median_off > 0 ? median_on / median_off : 0, median_routed,
            median_off > 0 ? median_routed / median_off : 0, s_median (cpu_off, runs),
            s_median (cpu_on, runs));
done:;
    char command[700];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        status = 1;
    return status;
}
