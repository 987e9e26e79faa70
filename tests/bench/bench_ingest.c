/*  =========================================================================
    bench_ingest - durable, acknowledged ingest through a real cabruca-broker

    Processes, as in production: one cabruca-broker (durability normal, the
    source tree's schemas) and 4 publisher processes using cab_client with
    a window of 1,000, publishing 1 KB Issue Detection events. Measured:
      1. raw ZeroMQ: 4 DEALER processes -> 1 ROUTER process that answers
         each 1 KB message with a small ack (window 1,000): the baseline;
      2. acked events/s through the broker (validation + group commit);
      3. publish->ACK latency p50/p99 at a fixed 10,000 events/s;
      4. the broker's peak RSS (VmHWM) after all of it.
    Each throughput is the median of the runs (-r). The parent process never
    touches ZeroMQ: every socket lives in a forked child.

    usage: bench_ingest [-n EVENTS] [-r RUNS] [-R RATE] [-b BROKER] [-s SCHEMAS]
                        [-v VALIDATORS] [-d normal|full]
    =========================================================================
*/
#include <cabruca.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define PUBLISHERS  4
#define WINDOW      1000
#define EVENT_BYTES 1024
#define MAX_RUNS    9

typedef struct {
    int64_t start_us, end_us;  //  First send, last answer (CLOCK_MONOTONIC)
    long acked, nacked;
    double p50_ms, p99_ms;
    double cpu_s;  //  CPU time the publisher used (user + system)
} s_result_t;

//  CPU seconds this process used so far.
static double
s_cpu_self (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
           (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

//  CPU seconds another process used so far (from /proc/PID/stat).
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

static int64_t
s_now_us (void)
{
    return zclock_usecs ();
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

//  A 1 KB event text with a fresh UUIDv7, agent_id bench-N.
static size_t
s_event (char *buffer, size_t size, int publisher)
{
    char id[CAB_UUID_LENGTH + 1];
    cab_uuid_v7 (id);
    int length = snprintf (buffer, size,
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

//  ---------------------------------------------------------------------
//  Publisher through cab_client: count events at `rate` per second (0:
//  as fast as the window allows); latency of each.

typedef struct {
    int64_t *sent_us;  //  By publish number
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
    tally->last_us = now;
}

static s_result_t
s_publish (const char *endpoint, int publisher, long count, long rate)
{
    s_result_t out = {0};
    char agent[32];
    snprintf (agent, sizeof agent, "bench-%d", publisher);
    cab_client_t *client = cab_client_new (endpoint, agent, NULL);
    s_tally_t tally = {calloc ((size_t)count + 2, sizeof (int64_t)),
                       calloc ((size_t)count + 1, sizeof (double)), 0, 0, 0};
    cab_client_set_handler (client, s_on_result, &tally);
    //  Wait for the session, so that connecting is not measured.
    while (!cab_client_connected (client))
        cab_client_poll (client, 10);
    char text[EVENT_BYTES + 256];
    out.start_us = s_now_us ();
    for (long index = 1; index <= count; index++) {
        if (rate > 0) {
            int64_t due = out.start_us + (int64_t)((double)index * 1e6 / (double)rate);
            //  Sleep in the client's poll (never spin: the broker needs the CPU);
            //  events due within the same millisecond go out together.
            int64_t now;
            while ((now = s_now_us ()) + 500 < due)
                cab_client_poll (client, (int)((due - now + 999) / 1000));
        }
        size_t size = s_event (text, sizeof text, publisher);
        tally.sent_us[index] = s_now_us ();
        if (cab_client_publish_text (client, text, size, 60000, NULL) != CAB_OK)
            break;
    }
    cab_client_flush (client, 60000, NULL);
    out.end_us = tally.last_us;
    out.acked = tally.acked;
    out.nacked = tally.answered - tally.acked;
    qsort (tally.latency_ms, (size_t)tally.answered, sizeof (double), s_compare);
    if (tally.answered) {
        out.p50_ms = tally.latency_ms[tally.answered / 2];
        out.p99_ms = tally.latency_ms[(long)((double)tally.answered * 0.99)];
    }
    cab_client_destroy (&client);
    free (tally.sent_us);
    free (tally.latency_ms);
    return out;
}

//  ---------------------------------------------------------------------
//  Raw ZeroMQ baseline: DEALER publishers, a ROUTER that acks each message.

static void
s_raw_router (const char *endpoint, long total)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_sndhwm (router, 100000);
    zsock_set_rcvhwm (router, 100000);
    zsock_bind (router, "%s", endpoint);
    for (long index = 0; index < total; index++) {
        zmsg_t *msg = zmsg_recv (router);
        if (!msg)
            break;
        zframe_t *payload = zmsg_last (msg);
        zmsg_remove (msg, payload);
        zframe_destroy (&payload);
        zmsg_addstr (msg, "ack");
        zmsg_send (&msg, router);
    }
    zclock_sleep (200);
    zsock_destroy (&router);
}

static s_result_t
s_raw_publish (const char *endpoint, long count)
{
    s_result_t out = {0};
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 100000);
    zsock_set_rcvhwm (dealer, 100000);
    zsock_connect (dealer, "%s", endpoint);
    char text[EVENT_BYTES + 256];
    size_t size = s_event (text, sizeof text, 0);
    long sent = 0, acked = 0;
    out.start_us = s_now_us ();
    while (acked < count) {
        while (sent < count && sent - acked < WINDOW) {
            zmsg_t *msg = zmsg_new ();
            zmsg_addstrf (msg, "%ld", sent++);
            zmsg_addmem (msg, text, size);
            zmsg_send (&msg, dealer);
        }
        zmsg_t *reply = zmsg_recv (dealer);
        if (!reply)
            break;
        zmsg_destroy (&reply);
        acked++;
    }
    out.end_us = s_now_us ();
    out.acked = acked;
    zsock_destroy (&dealer);
    return out;
}

//  ---------------------------------------------------------------------
//  Process plumbing

//  Run `count` publishers in child processes; aggregate their results.
static s_result_t
s_run_publishers (const char *endpoint, long per_publisher, long rate, bool raw)
{
    int fds[PUBLISHERS][2];
    pid_t pids[PUBLISHERS];
    for (int index = 0; index < PUBLISHERS; index++) {
        if (pipe (fds[index]) != 0)
            exit (111);
        pids[index] = fork ();
        if (pids[index] == 0) {
            close (fds[index][0]);
            s_result_t result = raw ? s_raw_publish (endpoint, per_publisher)
                                    : s_publish (endpoint, index, per_publisher, rate);
            result.cpu_s = s_cpu_self ();
            if (write (fds[index][1], &result, sizeof result) != sizeof result)
                _exit (1);
            _exit (0);
        }
        close (fds[index][1]);
    }
    s_result_t total = {INT64_MAX, 0, 0, 0, 0, 0, 0};
    for (int index = 0; index < PUBLISHERS; index++) {
        s_result_t result = {0};
        if (read (fds[index][0], &result, sizeof result) != sizeof result)
            fprintf (stderr, "bench_ingest: publisher %d failed\n", index);
        close (fds[index][0]);
        waitpid (pids[index], NULL, 0);
        if (result.start_us && result.start_us < total.start_us)
            total.start_us = result.start_us;
        if (result.end_us > total.end_us)
            total.end_us = result.end_us;
        total.acked += result.acked;
        total.nacked += result.nacked;
        total.cpu_s += result.cpu_s;
        //  Latency: the worst publisher's percentiles (conservative).
        if (result.p50_ms > total.p50_ms)
            total.p50_ms = result.p50_ms;
        if (result.p99_ms > total.p99_ms)
            total.p99_ms = result.p99_ms;
    }
    return total;
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
        fprintf (stderr, "bench_ingest: %s did not get ready\n", broker);
        exit (111);
    }
    close (fds[0]);
    return pid;
}

static long
s_peak_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *file = fopen (path, "r");
    long kb = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmHWM:", 6) == 0)
            kb = strtol (line + 6, NULL, 10);
    if (file)
        fclose (file);
    return kb;
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
    long total = 200000, rate = 10000, validators = -1;
    int runs = 3;
    const char *broker = NULL, *schemas = NULL, *durability = "normal";
    int option;
    while ((option = getopt (argc, argv, "n:r:R:b:s:v:d:")) != -1) {
        if (option == 'n')
            total = strtol (optarg, NULL, 10);
        else if (option == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (option == 'R')
            rate = strtol (optarg, NULL, 10);
        else if (option == 'b')
            broker = optarg;
        else if (option == 's')
            schemas = optarg;
        else if (option == 'd')
            durability = optarg;
        else if (option == 'v')
            validators = strtol (optarg, NULL, 10);
        else {
            fprintf (stderr, "usage: bench_ingest [-n EVENTS] [-r RUNS] [-R RATE] [-b BROKER] "
                             "[-s SCHEMAS] [-v VALIDATORS] [-d normal|full]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || total < PUBLISHERS || rate < PUBLISHERS)
        return 100;
    char path[512], srcdir_schemas[512];
    const char *builddir = getenv ("CAB_BUILDDIR"), *srcdir = getenv ("CAB_SRCDIR");
    if (!broker) {
        snprintf (path, sizeof path, "%s/cabruca-broker", builddir ? builddir : ".");
        broker = path;
    }
    if (!schemas) {
        snprintf (srcdir_schemas, sizeof srcdir_schemas, "%s/schemas", srcdir ? srcdir : ".");
        schemas = srcdir_schemas;
    }
    char dir[] = "/tmp/bench-ingest-XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    char config[600], endpoint[600], raw_endpoint[600];
    snprintf (config, sizeof config, "%s/broker.json", dir);
    snprintf (endpoint, sizeof endpoint, "ipc://%s/broker.ipc", dir);
    snprintf (raw_endpoint, sizeof raw_endpoint, "ipc://%s/raw.ipc", dir);
    FILE *file = fopen (config, "w");
    if (!file)
        return 111;
    fprintf (file,
             "{\"endpoints\": [\"%s\"], \"store\": {\"path\": \"events.db\", "
             "\"durability\": \"%s\"}, \"schemas\": \"%s\", \"agents\": {",
             endpoint, durability, schemas);
    for (int index = 0; index < PUBLISHERS; index++)
        fprintf (file, "%s\"bench-%d\": {\"sources\": [\"cabruca.agents.monitor\"]}",
                 index ? ", " : "", index);
    fprintf (file, "}, \"limits\": {\"max_in_flight\": %d", WINDOW);
    if (validators >= 0)
        fprintf (file, ", \"validators\": %ld", validators);
    fprintf (file, "}}\n");
    fclose (file);

    long per = total / PUBLISHERS;
    double raw_rates[MAX_RUNS], rates[MAX_RUNS];
    printf ("bench_ingest: %d publishers, %ld events of %d bytes per run, window %d, "
            "durability %s, validators %ld (-1: the broker's default), %d runs\n",
            PUBLISHERS, per * PUBLISHERS, EVENT_BYTES, WINDOW, durability, validators, runs);
    pid_t broker_pid = s_start_broker (broker, config);
    for (int run = 0; run < runs; run++) {
        pid_t router = fork ();
        if (router == 0) {
            s_raw_router (raw_endpoint, per * PUBLISHERS);
            _exit (0);
        }
        s_result_t raw = s_run_publishers (raw_endpoint, per, 0, true);
        waitpid (router, NULL, 0);
        raw_rates[run] = s_rate (raw);
        double broker_cpu = s_cpu_of (broker_pid);
        s_result_t cab = s_run_publishers (endpoint, per, 0, false);
        broker_cpu = s_cpu_of (broker_pid) - broker_cpu;
        rates[run] = s_rate (cab);
        printf ("  run %d: raw zmq %.0f acks/s; broker %.0f acked events/s (%ld acked, %ld "
                "nacked); CPU per event: broker %.1f us, publishers %.1f us\n",
                run + 1, raw_rates[run], rates[run], cab.acked, cab.nacked,
                broker_cpu * 1e6 / (double)(cab.acked ? cab.acked : 1),
                cab.cpu_s * 1e6 / (double)(cab.acked ? cab.acked : 1));
        fflush (stdout);
    }
    double raw_median = s_median (raw_rates, runs), median = s_median (rates, runs);
    printf ("throughput: median %.0f acked events/s; raw ZeroMQ DEALER/ROUTER ack baseline "
            "%.0f/s; ratio %.3f\n",
            median, raw_median, raw_median > 0 ? median / raw_median : 0);
    long latency_events = rate * 5;
    s_result_t paced =
        s_run_publishers (endpoint, latency_events / PUBLISHERS, rate / PUBLISHERS, false);
    printf ("latency at %ld events/s (%ld events): publish->ACK p50 %.2f ms, p99 %.2f ms (worst "
            "publisher)\n",
            rate, paced.acked, paced.p50_ms, paced.p99_ms);
    printf ("broker peak RSS %ld KB after %ld stored events\n", s_peak_rss_kb (broker_pid),
            per * PUBLISHERS * runs + paced.acked);
    kill (broker_pid, SIGTERM);
    waitpid (broker_pid, NULL, 0);
    char command[700];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    return system (command) == 0 ? 0 : 1;
}
