/*  =========================================================================
    bench_ingest - durable, acknowledged ingest through a real cabruca-broker

    Processes, as in production: one cabruca-broker (durability normal, the
    source tree's schemas) and 4 publisher processes using cab_client with
    a window of 1,000, publishing 1 KB Issue Detection events. Measured, each
    against a baseline in the same run:
      1. acked events/s through the broker (validation + group commit),
         against raw ZeroMQ: 4 DEALER processes -> 1 ROUTER process that
         answers each 1 KB message with a small ack (window 1,000);
      2. publish->ACK latency p50/p99/p99.9 at a fixed rate (default 10,000
         events/s over the 4 publishers), against the same raw ZeroMQ pair
         paced at the same rate; the percentiles of all events together;
      3. the realistic mix: cabruca-loadtest (4 agents, the four event types,
         1 KB) as fast as it can, then at the fixed rate (one run each);
      4. how cost grows with load (-G RATE,RATE,...): one paced run per
         rate, publish->ACK percentiles and broker CPU per event;
      5. how it grows with stored history: the last run against the first
         (the store empty, then holding what the runs before stored);
      6. the broker's peak RSS (VmHWM) once the store holds -S events (the
         rest published unpaced at the end if the runs stored fewer).
    Each figure is the median of the runs (-r). The parent process never
    touches ZeroMQ: every socket lives in a forked child. The last lines are
    `BENCH name=... value=... unit=...` summaries for tests/bench/run.sh.

    usage: bench_ingest [-n EVENTS] [-r RUNS] [-R RATE] [-l SECONDS] [-S STORED]
                        [-G RATE,...] [-b BROKER] [-s SCHEMAS] [-L LOADTEST|-]
                        [-v VALIDATORS] [-d normal|full] [-M on|off] [-C MB]
    (-C: the store's cache_tail_mb, drop-behind; the broker's default when
    absent, 0 turns it off)
    =========================================================================
*/
#include <cabruca.h>
#include <czmq.h>
#include <signal.h>
#include <stdbool.h>
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
    long samples;  //  Latencies that follow the result on the pipe
    double cpu_s;  //  CPU time the publisher used (user + system)
} s_result_t;

typedef struct {
    double p50, p99, p999;  //  ms
} s_pct_t;

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

//  Percentiles of sorted values.
static s_pct_t
s_percentiles (const double *sorted, long count)
{
    s_pct_t out = {0, 0, 0};
    if (count > 0) {
        out.p50 = sorted[count / 2];
        out.p99 = sorted[(long)((double)count * 0.99)];
        out.p999 = sorted[(long)((double)count * 0.999)];
    }
    return out;
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

//  When the index-th event (from 1) of a paced publisher is due.
static int64_t
s_due (int64_t start_us, long index, long rate)
{
    return start_us + (int64_t)((double)index * 1e6 / (double)rate);
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

//  Returns the result; *latency_p the latencies (new), result.samples long.
static s_result_t
s_publish (const char *endpoint, int publisher, long count, long rate, double **latency_p)
{
    s_result_t out = {0};
    char agent[32];
    snprintf (agent, sizeof agent, "bench-%d", publisher);
    cab_client_t *client = cab_client_new (endpoint, agent, NULL);
    s_tally_t tally = {calloc ((size_t)count + 2, sizeof (int64_t)),
                       calloc ((size_t)count + 1, sizeof (double)), 0, 0, 0};
    if (!client || !tally.sent_us || !tally.latency_ms)
        _exit (111);
    cab_client_set_handler (client, s_on_result, &tally);
    //  Wait for the session, so that connecting is not measured.
    while (!cab_client_connected (client))
        cab_client_poll (client, 10);
    char text[EVENT_BYTES + 256];
    out.start_us = s_now_us ();
    for (long index = 1; index <= count; index++) {
        if (rate > 0) {
            int64_t due = s_due (out.start_us, index, rate);
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
    out.samples = tally.answered;
    cab_client_destroy (&client);
    free (tally.sent_us);
    *latency_p = tally.latency_ms;
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

//  One DEALER: count messages [number, 1 KB] with at most WINDOW unanswered,
//  at `rate` per second (0: as fast as the window allows).
static s_result_t
s_raw_publish (const char *endpoint, long count, long rate, double **latency_p)
{
    s_result_t out = {0};
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    int64_t *sent_us = calloc ((size_t)count + 1, sizeof (int64_t));
    double *latency = calloc ((size_t)count + 1, sizeof (double));
    if (!dealer || !sent_us || !latency)
        _exit (111);
    zsock_set_sndhwm (dealer, 100000);
    zsock_set_rcvhwm (dealer, 100000);
    zsock_connect (dealer, "%s", endpoint);
    char text[EVENT_BYTES + 256];
    size_t size = s_event (text, sizeof text, 0);
    long sent = 0, acked = 0;
    out.start_us = s_now_us ();
    while (acked < count) {
        int64_t now = s_now_us ();
        while (sent < count && sent - acked < WINDOW &&
               (rate == 0 || s_due (out.start_us, sent + 1, rate) <= now + 500)) {
            zmsg_t *msg = zmsg_new ();
            zmsg_addstrf (msg, "%ld", sent);
            zmsg_addmem (msg, text, size);
            sent_us[sent++] = s_now_us ();
            zmsg_send (&msg, dealer);
        }
        //  Sleep until the next event is due, rounded up to the millisecond
        //  as the cab_client publishers do: rounding down would make every
        //  paced publisher spin (zmq_poll with 0 ms) and starve the router of
        //  the shared CPU, which is a tail of the benchmark, not of ZeroMQ.
        long timeout = 1000;
        if (rate > 0 && sent < count && sent - acked < WINDOW) {
            timeout = (long)((s_due (out.start_us, sent + 1, rate) - now + 999) / 1000);
            timeout = timeout < 0 ? 0 : timeout;
        }
        zmq_pollitem_t item = {zsock_resolve (dealer), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, timeout) < 0)
            break;
        while (acked < count && (zsock_events (dealer) & ZMQ_POLLIN)) {
            zmsg_t *reply = zmsg_recv (dealer);
            if (!reply)
                break;
            char *number = zmsg_popstr (reply);
            long index = number ? strtol (number, NULL, 10) : -1;
            now = s_now_us ();
            if (index >= 0 && index < sent)
                latency[acked] = (double)(now - sent_us[index]) / 1000.0;
            free (number);
            zmsg_destroy (&reply);
            acked++;
        }
    }
    out.end_us = s_now_us ();
    out.acked = acked;
    out.samples = acked;
    zsock_destroy (&dealer);
    free (sent_us);
    *latency_p = latency;
    return out;
}

//  ---------------------------------------------------------------------
//  Process plumbing

static bool
s_read_full (int fd, void *buffer, size_t size)
{
    char *at = (char *)buffer;
    while (size > 0) {
        ssize_t got = read (fd, at, size);
        if (got <= 0)
            return false;
        at += got;
        size -= (size_t)got;
    }
    return true;
}

static bool
s_write_full (int fd, const void *buffer, size_t size)
{
    const char *at = (const char *)buffer;
    while (size > 0) {
        ssize_t done = write (fd, at, size);
        if (done <= 0)
            return false;
        at += done;
        size -= (size_t)done;
    }
    return true;
}

//  Run PUBLISHERS publishers in child processes at rate/PUBLISHERS each;
//  aggregate their results. With pct_p, the percentiles of every event's
//  latency together.
static s_result_t
s_run_publishers (const char *endpoint, long per_publisher, long rate, bool raw, s_pct_t *pct_p)
{
    int fds[PUBLISHERS][2];
    pid_t pids[PUBLISHERS];
    for (int index = 0; index < PUBLISHERS; index++) {
        if (pipe (fds[index]) != 0)
            exit (111);
        pids[index] = fork ();
        if (pids[index] == 0) {
            close (fds[index][0]);
            double *latency = NULL;
            long each = rate / PUBLISHERS;
            s_result_t result = raw ? s_raw_publish (endpoint, per_publisher, each, &latency)
                                    : s_publish (endpoint, index, per_publisher, each, &latency);
            result.cpu_s = s_cpu_self ();
            if (!s_write_full (fds[index][1], &result, sizeof result) ||
                !s_write_full (fds[index][1], latency, (size_t)result.samples * sizeof (double)))
                _exit (1);
            _exit (0);
        }
        close (fds[index][1]);
    }
    s_result_t total = {INT64_MAX, 0, 0, 0, 0, 0};
    double *all = calloc ((size_t)per_publisher * PUBLISHERS + 1, sizeof (double));
    for (int index = 0; index < PUBLISHERS; index++) {
        s_result_t result = {0};
        if (!s_read_full (fds[index][0], &result, sizeof result) || result.samples < 0 ||
            result.samples > per_publisher ||
            !s_read_full (fds[index][0], all + total.samples,
                          (size_t)result.samples * sizeof (double))) {
            fprintf (stderr, "bench_ingest: publisher %d failed\n", index);
            result = (s_result_t){0};
        }
        close (fds[index][0]);
        waitpid (pids[index], NULL, 0);
        if (result.start_us && result.start_us < total.start_us)
            total.start_us = result.start_us;
        if (result.end_us > total.end_us)
            total.end_us = result.end_us;
        total.acked += result.acked;
        total.nacked += result.nacked;
        total.samples += result.samples;
        total.cpu_s += result.cpu_s;
    }
    if (pct_p) {
        qsort (all, (size_t)total.samples, sizeof (double), s_compare);
        *pct_p = s_percentiles (all, total.samples);
    }
    free (all);
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

//  ---------------------------------------------------------------------
//  cabruca-loadtest: the realistic mix of the four event types.

typedef struct {
    bool ok;
    long acked;
    double rate;  //  Acked events/s
    s_pct_t pct;
} s_mix_t;

static s_mix_t
s_loadtest (const char *loadtest, const char *endpoint, const char *what)
{
    s_mix_t out = {false, 0, 0, {0, 0, 0}};
    char command[2048];
    snprintf (command, sizeof command,
              "'%s' --broker '%s' --agents %d --window %d --payload-bytes %d "
              "--agent-ids monitor-lt-1,product-lt-2,developer-lt-3,tester-lt-4 --json %s",
              loadtest, endpoint, PUBLISHERS, WINDOW, EVENT_BYTES, what);
    FILE *pipe = popen (command, "r");
    if (!pipe)
        return out;
    json_error_t error;
    json_t *report = json_loadf (pipe, 0, &error);
    int status = pclose (pipe);
    if (report) {
        json_t *latency = json_object_get (report, "latency");
        out.acked = (long)json_integer_value (json_object_get (report, "acked"));
        out.rate = json_number_value (json_object_get (report, "acked_per_second"));
        out.pct.p50 = json_number_value (json_object_get (latency, "p50_ms"));
        out.pct.p99 = json_number_value (json_object_get (latency, "p99_ms"));
        out.pct.p999 = json_number_value (json_object_get (latency, "p999_ms"));
        out.ok = status == 0;
        json_decref (report);
    }
    if (!out.ok)
        fprintf (stderr, "bench_ingest: cabruca-loadtest failed (exit %d): %s\n",
                 WIFEXITED (status) ? WEXITSTATUS (status) : -1, command);
    return out;
}

//  ---------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr,
             "usage: bench_ingest [-n EVENTS] [-r RUNS] [-R RATE] [-l SECONDS] "
             "[-S STORED] [-G RATE,...] [-b BROKER] [-s SCHEMAS] [-L LOADTEST|-] [-v VALIDATORS] "
             "[-d normal|full] [-M on|off] [-C MB]\n");
}

int
main (int argc, char **argv)
{
    long total = 200000, rate = 10000, validators = -1, seconds = 5, stored_goal = 0;
    long cache_tail_mb = -1;
    int runs = 3;
    const char *broker = NULL, *schemas = NULL, *durability = "normal", *loadtest = NULL;
    const char *growth = NULL;
    bool mirror = true;
    int option;
    while ((option = getopt (argc, argv, "n:r:R:l:S:G:b:s:L:v:d:M:C:")) != -1) {
        if (option == 'n')
            total = strtol (optarg, NULL, 10);
        else if (option == 'r')
            runs = (int)strtol (optarg, NULL, 10);
        else if (option == 'R')
            rate = strtol (optarg, NULL, 10);
        else if (option == 'l')
            seconds = strtol (optarg, NULL, 10);
        else if (option == 'S')
            stored_goal = strtol (optarg, NULL, 10);
        else if (option == 'G')
            growth = optarg;
        else if (option == 'b')
            broker = optarg;
        else if (option == 's')
            schemas = optarg;
        else if (option == 'L')
            loadtest = optarg;
        else if (option == 'd')
            durability = optarg;
        else if (option == 'M' && (streq (optarg, "on") || streq (optarg, "off")))
            mirror = streq (optarg, "on");
        else if (option == 'v')
            validators = strtol (optarg, NULL, 10);
        else if (option == 'C')
            cache_tail_mb = strtol (optarg, NULL, 10);
        else {
            s_usage ();
            return 100;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || total < PUBLISHERS || rate < PUBLISHERS || seconds < 1 ||
        seconds > 600 || stored_goal < 0 || stored_goal > 100000000 || cache_tail_mb < -1 ||
        cache_tail_mb > 1048576) {
        s_usage ();
        return 100;
    }
    char path[512], srcdir_schemas[512], loadtest_path[512];
    const char *builddir = getenv ("CAB_BUILDDIR"), *srcdir = getenv ("CAB_SRCDIR");
    if (!broker) {
        snprintf (path, sizeof path, "%s/cabruca-broker", builddir ? builddir : ".");
        broker = path;
    }
    if (!schemas) {
        snprintf (srcdir_schemas, sizeof srcdir_schemas, "%s/schemas", srcdir ? srcdir : ".");
        schemas = srcdir_schemas;
    }
    if (!loadtest) {
        snprintf (loadtest_path, sizeof loadtest_path, "%s/cabruca-loadtest",
                  builddir ? builddir : ".");
        loadtest = loadtest_path;
    }
    if (strcmp (loadtest, "-") == 0 || access (loadtest, X_OK) != 0)
        loadtest = NULL;
    signal (SIGPIPE, SIG_IGN);
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
             "\"durability\": \"%s\"",
             endpoint, durability);
    if (cache_tail_mb >= 0)
        fprintf (file, ", \"cache_tail_mb\": %ld", cache_tail_mb);
    fprintf (file, "}, \"schemas\": \"%s\", \"agents\": {", schemas);
    for (int index = 0; index < PUBLISHERS; index++)
        fprintf (file, "\"bench-%d\": {\"sources\": [\"cabruca.agents.monitor\"]}, ", index);
    //  The load test's default agent ids, one of each type.
    fprintf (file, "\"monitor-lt-1\": {\"sources\": [\"cabruca.agents.monitor\"]}, "
                   "\"product-lt-2\": {\"sources\": [\"cabruca.agents.product\"]}, "
                   "\"developer-lt-3\": {\"sources\": [\"cabruca.agents.developer\"]}, "
                   "\"tester-lt-4\": {\"sources\": [\"cabruca.agents.tester\"]}");
    //  The cloud mirror as a default install runs it: on, in dry-run (never
    //  to a real bus from a benchmark); -M off measures the broker without it.
    fprintf (file, "}, \"mirror\": {\"enabled\": %s, \"dry_run\": true}",
             mirror ? "true" : "false");
    fprintf (file, ", \"limits\": {\"max_in_flight\": %d", WINDOW);
    if (validators >= 0)
        fprintf (file, ", \"validators\": %ld", validators);
    fprintf (file, "}}\n");
    fclose (file);

    long per = total / PUBLISHERS, paced_per = rate * seconds / PUBLISHERS;
    double raw_rates[MAX_RUNS], rates[MAX_RUNS], cpu_broker[MAX_RUNS], cpu_client[MAX_RUNS];
    double lat[2][3][MAX_RUNS];  //  [raw, broker][p50, p99, p99.9][run]
    long stored = 0, stored_before[MAX_RUNS];
    printf ("bench_ingest: %d publishers, %ld events of %d bytes per run, window %d, "
            "durability %s, validators %ld (-1: the broker's default), %d runs; latency at %ld "
            "events/s for %ld s per run\n",
            PUBLISHERS, per * PUBLISHERS, EVENT_BYTES, WINDOW, durability, validators, runs, rate,
            seconds);
    fflush (stdout);
    pid_t broker_pid = s_start_broker (broker, config);
    for (int run = 0; run < runs; run++) {
        //  Throughput: raw ZeroMQ then the broker, unpaced.
        pid_t router = fork ();
        if (router == 0) {
            s_raw_router (raw_endpoint, per * PUBLISHERS);
            _exit (0);
        }
        s_result_t raw = s_run_publishers (raw_endpoint, per, 0, true, NULL);
        waitpid (router, NULL, 0);
        raw_rates[run] = s_rate (raw);
        stored_before[run] = stored;
        double broker_cpu = s_cpu_of (broker_pid);
        s_result_t cab = s_run_publishers (endpoint, per, 0, false, NULL);
        broker_cpu = s_cpu_of (broker_pid) - broker_cpu;
        stored += cab.acked;
        rates[run] = s_rate (cab);
        cpu_broker[run] = broker_cpu * 1e6 / (double)(cab.acked ? cab.acked : 1);
        cpu_client[run] = cab.cpu_s * 1e6 / (double)(cab.acked ? cab.acked : 1);
        printf ("  run %d: raw zmq %.0f acks/s; broker %.0f acked events/s (%ld acked, %ld "
                "nacked); CPU per event: broker %.1f us, publishers %.1f us\n",
                run + 1, raw_rates[run], rates[run], cab.acked, cab.nacked, cpu_broker[run],
                cpu_client[run]);
        //  Latency at the fixed rate: raw ZeroMQ then the broker.
        s_pct_t raw_pct, cab_pct;
        router = fork ();
        if (router == 0) {
            s_raw_router (raw_endpoint, paced_per * PUBLISHERS);
            _exit (0);
        }
        s_run_publishers (raw_endpoint, paced_per, rate, true, &raw_pct);
        waitpid (router, NULL, 0);
        s_result_t paced = s_run_publishers (endpoint, paced_per, rate, false, &cab_pct);
        stored += paced.acked;
        double values[2][3] = {{raw_pct.p50, raw_pct.p99, raw_pct.p999},
                               {cab_pct.p50, cab_pct.p99, cab_pct.p999}};
        for (int who = 0; who < 2; who++)
            for (int p = 0; p < 3; p++)
                lat[who][p][run] = values[who][p];
        printf ("  run %d: at %ld events/s, publish->ACK p50/p99/p99.9 %.2f / %.2f / %.2f ms "
                "(%ld acked); raw zmq %.3f / %.3f / %.3f ms\n",
                run + 1, rate, cab_pct.p50, cab_pct.p99, cab_pct.p999, paced.acked, raw_pct.p50,
                raw_pct.p99, raw_pct.p999);
        fflush (stdout);
    }
    double first_rate = rates[0], last_rate = rates[runs - 1];  //  Before the sorts
    double raw_median = s_median (raw_rates, runs), median = s_median (rates, runs);
    double m[2][3];
    for (int who = 0; who < 2; who++)
        for (int p = 0; p < 3; p++)
            m[who][p] = s_median (lat[who][p], runs);
    printf ("throughput: median %.0f acked events/s; raw ZeroMQ DEALER/ROUTER ack baseline "
            "%.0f/s; ratio %.3f; CPU per event: broker %.1f us, publishers %.1f us\n",
            median, raw_median, raw_median > 0 ? median / raw_median : 0,
            s_median (cpu_broker, runs), s_median (cpu_client, runs));
    printf ("latency at %ld events/s (medians): publish->ACK p50 %.2f ms, p99 %.2f ms, p99.9 "
            "%.2f ms; raw zmq p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms\n",
            rate, m[1][0], m[1][1], m[1][2], m[0][0], m[0][1], m[0][2]);
    fflush (stdout);

    //  Cost against load: one paced run per rate.
    char summary[4096] = "";
    for (const char *at = growth; at && *at;) {
        char *end = NULL;
        long each = strtol (at, &end, 10);
        if (end == at || each < PUBLISHERS || each > 1000000)
            break;
        at = *end == ',' ? end + 1 : end;
        s_pct_t pct;
        double broker_cpu = s_cpu_of (broker_pid);
        s_result_t paced =
            s_run_publishers (endpoint, each * seconds / PUBLISHERS, each, false, &pct);
        broker_cpu =
            (s_cpu_of (broker_pid) - broker_cpu) * 1e6 / (double)(paced.acked ? paced.acked : 1);
        stored += paced.acked;
        printf ("load %ld events/s: %.0f acked events/s, publish->ACK p50/p99/p99.9 %.2f / %.2f / "
                "%.2f ms, broker CPU %.1f us/event\n",
                each, s_rate (paced), pct.p50, pct.p99, pct.p999, broker_cpu);
        fflush (stdout);
        size_t used = strlen (summary);
        snprintf (summary + used, sizeof summary - used,
                  "BENCH name=load_%ld value=%.3f unit=ms p50=%.3f p999=%.3f acked_rate=%.0f "
                  "cpu_us=%.1f\n",
                  each, pct.p99, pct.p50, pct.p999, s_rate (paced), broker_cpu);
    }

    //  The realistic mix, one run each.
    s_mix_t mix = {false, 0, 0, {0, 0, 0}}, mix_paced = mix;
    if (loadtest) {
        char what[128];
        snprintf (what, sizeof what, "--events-per-agent %ld", per);
        mix = s_loadtest (loadtest, endpoint, what);
        snprintf (what, sizeof what, "--rate %ld --duration %ld", rate, seconds);
        mix_paced = s_loadtest (loadtest, endpoint, what);
        stored += mix.acked + mix_paced.acked;
        printf ("cabruca-loadtest, 4 agents (the four types), 1 KB: %.0f acked events/s; at %ld "
                "events/s publish->ACK p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n",
                mix.rate, rate, mix_paced.pct.p50, mix_paced.pct.p99, mix_paced.pct.p999);
    } else
        printf ("cabruca-loadtest: not found, the realistic mix is not measured\n");

    //  Fill the store up to the goal, then the broker's peak RSS.
    if (stored < stored_goal) {
        long rest = (stored_goal - stored + PUBLISHERS - 1) / PUBLISHERS;
        s_result_t fill = s_run_publishers (endpoint, rest, 0, false, NULL);
        stored += fill.acked;
        printf ("filled the store: %ld more events at %.0f events/s\n", fill.acked, s_rate (fill));
    }
    long rss_kb = s_peak_rss_kb (broker_pid);
    printf ("broker peak RSS %ld KB after %ld stored events\n", rss_kb, stored);

    //  Summaries for tests/bench/run.sh.
    printf ("BENCH name=ingest_throughput value=%.0f unit=events/s baseline=%.0f "
            "baseline_unit=acks/s target=>=50000 runs=%d\n",
            median, raw_median, runs);
    printf ("BENCH name=ingest_cpu value=%.1f unit=us/event baseline=%.1f "
            "baseline_unit=us/event(publisher)\n",
            s_median (cpu_broker, runs), s_median (cpu_client, runs));
    const char *names[3] = {"ack_p50", "ack_p99", "ack_p999"};
    for (int p = 0; p < 3; p++)
        printf ("BENCH name=%s value=%.3f unit=ms baseline=%.3f baseline_unit=ms%s rate=%ld "
                "runs=%d\n",
                names[p], m[1][p], m[0][p], p == 1 ? " target=<5" : "", rate, runs);
    if (loadtest && mix.ok && mix_paced.ok) {
        printf ("BENCH name=mix_throughput value=%.0f unit=events/s baseline=%.0f "
                "baseline_unit=acks/s runs=1\n",
                mix.rate, raw_median);
        double mixed[3] = {mix_paced.pct.p50, mix_paced.pct.p99, mix_paced.pct.p999};
        const char *mix_names[3] = {"mix_ack_p50", "mix_ack_p99", "mix_ack_p999"};
        for (int p = 0; p < 3; p++)
            printf ("BENCH name=%s value=%.3f unit=ms baseline=%.3f baseline_unit=ms%s rate=%ld "
                    "runs=1\n",
                    mix_names[p], mixed[p], m[0][p], p == 1 ? " target=<5" : "", rate);
    }
    printf ("%s", summary);
    if (runs > 1)
        printf ("BENCH name=ingest_history value=%.0f unit=events/s baseline=%.0f "
                "baseline_unit=events/s(first_run) events=%ld baseline_events=%ld\n",
                last_rate, first_rate, stored_before[runs - 1], stored_before[0]);
    printf ("BENCH name=broker_rss value=%.1f unit=MB target=<64 events=%ld\n",
            (double)rss_kb / 1024.0, stored);
    kill (broker_pid, SIGTERM);
    waitpid (broker_pid, NULL, 0);
    char command[700];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    return system (command) == 0 ? 0 : 1;
}
