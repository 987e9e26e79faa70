/*  =========================================================================
    bench_startup - start-up time of the whole system under the supervisor

    Measures, from the fork of cabruca-supervisor to the moment its control
    socket reports every program RUNNING (each one ready on its notification
    fd), with a fresh run directory (a new store) each run:
      system       core/supervisor/cabruca-system.sh: the broker (the six
                   default rules), the four agents and whatever else the
                   script configures (the dashboard), when the agents are
                   built (cabruca-monitor, -developer, -tester, -product in
                   BINDIR); else the supervisor with the broker only (the
                   summary line says which: mode=, programs=)
      baseline     cabruca-broker alone, started directly, from fork to its
                   readiness line, with the same rules and a new store
    Medians of the runs; the last lines are `BENCH name=... value=...`
    summaries for tests/bench/run.sh.

    usage: bench_startup [-r RUNS] [-B BINDIR] [-S SRCDIR] [--broker-only]
    (defaults: 5 runs, $CAB_BUILDDIR and $CAB_SRCDIR, else BENCH_BUILDDIR
    and BENCH_SRCDIR from the build)
    =========================================================================
*/
#include <cabruca.h>
#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BENCH_SRCDIR
#define BENCH_SRCDIR "."
#endif
#ifndef BENCH_BUILDDIR
#define BENCH_BUILDDIR "."
#endif

#define MAX_RUNS   15
#define DEADLINE_S 60

static const char *s_agents[] = {"monitor", "developer", "tester", "product"};

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
    qsort (values, (size_t)count, sizeof (double), s_compare);
    return values[count / 2];
}

//  The broker's configuration in RUN (as cabruca-system.sh writes it).
static bool
s_write_broker_config (const char *run, const char *srcdir)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/broker.json", run);
    FILE *file = fopen (path, "w");
    if (!file)
        return false;
    fprintf (file,
             "{\"endpoints\": [\"ipc://%s/broker.ipc\"],\n"
             " \"store\": {\"path\": \"events.db\", \"durability\": \"normal\"},\n"
             " \"schemas\": \"%s/schemas\", \"rules\": \"%s/schemas/rules/default.json\",\n"
             " \"data_dir\": \"%s\",\n"
             " \"agents\": {\"monitor-001\": {\"sources\": [\"cabruca.agents.monitor\"]},\n"
             "  \"product-001\": {\"sources\": [\"cabruca.agents.product\"]},\n"
             "  \"developer-001\": {\"sources\": [\"cabruca.agents.developer\"]},\n"
             "  \"tester-001\": {\"sources\": [\"cabruca.agents.tester\"]},\n"
             "  \"supervisor\": {\"sources\": [\"cabruca.supervisor\"]}}}\n",
             run, srcdir, srcdir, run);
    return fclose (file) == 0;
}

//  The supervisor with the broker only.
static bool
s_write_supervisor_config (const char *run, const char *bindir)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/logs", run);
    mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/supervisor.json", run);
    FILE *file = fopen (path, "w");
    if (!file)
        return false;
    fprintf (file,
             "{\"run_dir\": \"%s\", \"log_dir\": \"%s/logs\",\n"
             " \"broker\": {\"endpoint\": \"ipc://%s/broker.ipc\"},\n"
             " \"programs\": [{\"name\": \"broker\", \"command\": [\"%s/cabruca-broker\", "
             "\"--config\", \"%s/broker.json\", \"--notify-fd\", \"3\"], \"notify_fd\": 3, "
             "\"stop_timeout\": 30, \"directory\": \"%s\"}]}\n",
             run, run, run, bindir, run, run);
    return fclose (file) == 0;
}

//  Fork a child in its own process group with stdout and stderr to LOG.
static pid_t
s_spawn (char *const argv[], const char *log, int notify_fd)
{
    pid_t pid = fork ();
    if (pid == 0) {
        setpgid (0, 0);
        FILE *out = fopen (log, "w");
        if (out) {
            dup2 (fileno (out), 1);
            dup2 (fileno (out), 2);
        }
        if (notify_fd >= 0 && notify_fd != 3) {
            dup2 (notify_fd, 3);
            close (notify_fd);
        }
        execv (argv[0], argv);
        _exit (111);
    }
    return pid;
}

//  Stop a child's process group: SIGTERM, then SIGKILL after 30 s.
static void
s_stop (pid_t pid)
{
    kill (pid, SIGTERM);
    double deadline = s_now () + 30;
    while (waitpid (pid, NULL, WNOHANG) == 0) {
        if (s_now () > deadline) {
            kill (-pid, SIGKILL);
            waitpid (pid, NULL, 0);
            break;
        }
        zclock_sleep (10);
    }
    kill (-pid, SIGKILL);  //  Whatever is left of the group
}

//  Ask the supervisor's control socket until every program it lists (at
//  least `programs`) is RUNNING; sets *count_p to how many it listed.
//  Returns false on the deadline or if pid exits.
static bool
s_wait_running (const char *run, size_t programs, pid_t pid, size_t *count_p)
{
    char endpoint[1024];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/supervisor.ipc", run);
    double deadline = s_now () + DEADLINE_S;
    zsock_t *req = NULL;
    bool ready = false;
    while (!ready && s_now () < deadline && waitpid (pid, NULL, WNOHANG) == 0) {
        if (!req) {
            req = zsock_new (ZMQ_REQ);
            zsock_set_reconnect_ivl (req, 1);
            zsock_set_rcvtimeo (req, 200);
            zsock_set_linger (req, 0);
            zsock_connect (req, "%s", endpoint);
        }
        zstr_send (req, "status");
        char *reply = zstr_recv (req);
        if (!reply) {
            zsock_destroy (&req);  //  A REQ that got no answer cannot send again
            continue;
        }
        json_t *status = json_loads (reply, 0, NULL);
        json_t *list = json_object_get (status, "programs");
        size_t running = 0;
        const char *name;
        json_t *program;
        json_object_foreach (list, name, program)
        {
            const char *state = json_string_value (json_object_get (program, "state"));
            running += state && strcmp (state, "RUNNING") == 0;
        }
        *count_p = json_object_size (list);
        ready = *count_p >= programs && running == *count_p;
        json_decref (status);
        free (reply);
        if (!ready)
            zclock_sleep (2);
    }
    zsock_destroy (&req);
    return ready;
}

int
main (int argc, char **argv)
{
    int runs = 5;
    bool broker_only = false;
    const char *bindir = getenv ("CAB_BUILDDIR") ? getenv ("CAB_BUILDDIR") : BENCH_BUILDDIR;
    const char *srcdir = getenv ("CAB_SRCDIR") ? getenv ("CAB_SRCDIR") : BENCH_SRCDIR;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "-r") == 0 && i + 1 < argc)
            runs = (int)strtol (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "-B") == 0 && i + 1 < argc)
            bindir = argv[++i];
        else if (strcmp (argv[i], "-S") == 0 && i + 1 < argc)
            srcdir = argv[++i];
        else if (strcmp (argv[i], "--broker-only") == 0)
            broker_only = true;
        else {
            fprintf (stderr,
                     "usage: bench_startup [-r RUNS] [-B BINDIR] [-S SRCDIR] [--broker-only]\n");
            return 100;
        }
    }
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf (stderr, "bench_startup: runs 1..%d\n", MAX_RUNS);
        return 100;
    }
    char path[1024], script[700], supervisor[700], broker[700];
    snprintf (script, sizeof script, "%s/core/supervisor/cabruca-system.sh", srcdir);
    snprintf (supervisor, sizeof supervisor, "%s/cabruca-supervisor", bindir);
    snprintf (broker, sizeof broker, "%s/cabruca-broker", bindir);
    bool system_mode = !broker_only && access (script, R_OK) == 0;
    for (size_t index = 0; system_mode && index < 4; index++) {
        snprintf (path, sizeof path, "%s/cabruca-%s", bindir, s_agents[index]);
        system_mode = access (path, X_OK) == 0;
    }
    size_t programs = system_mode ? 5 : 1;
    signal (SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/bench-startup-XXXXXX";
    if (!mkdtemp (dir))
        return 111;
    //  The developer agent's repository: an empty one, nothing to build.
    char repo[700], command[2200];
    snprintf (repo, sizeof repo, "%s/repo", dir);
    snprintf (command, sizeof command, "git init -q '%s' >/dev/null 2>&1 || mkdir -p '%s'", repo,
              repo);
    if (system (command) != 0)
        return 111;
    printf ("bench_startup: %s, %d runs (medians), a new run directory and store each run\n",
            system_mode ? "cabruca-system.sh: the supervisor, the broker, the agents (and what "
                          "else the script configures)"
                        : "supervisor + broker only (the agents are not built)",
            runs);
    double system_s[MAX_RUNS], broker_s[MAX_RUNS];
    size_t listed = 0;  //  Programs the supervisor runs
    int status = 0;
    for (int run = 0; run < runs && status == 0; run++) {
        //  Baseline: the broker alone.
        char run_dir[600], log[1024];
        snprintf (run_dir, sizeof run_dir, "%s/broker-%d", dir, run);
        mkdir (run_dir, 0700);
        snprintf (path, sizeof path, "%s/broker.json", run_dir);
        snprintf (log, sizeof log, "%s/broker.log", run_dir);
        if (!s_write_broker_config (run_dir, srcdir))
            return 111;
        int fds[2];
        if (pipe (fds) != 0)
            return 111;
        char *broker_argv[] = {broker, "--config", path, "--notify-fd", "3", NULL};
        double start = s_now ();
        pid_t pid = s_spawn (broker_argv, log, fds[1]);
        close (fds[1]);
        char byte;
        bool ok = read (fds[0], &byte, 1) == 1;
        broker_s[run] = s_now () - start;
        close (fds[0]);
        s_stop (pid);
        if (!ok) {
            fprintf (stderr, "bench_startup: the broker did not get ready (%s)\n", log);
            status = 1;
            break;
        }
        //  The system under the supervisor.
        snprintf (run_dir, sizeof run_dir, "%s/system-%d", dir, run);
        mkdir (run_dir, 0700);
        snprintf (log, sizeof log, "%s/supervisor.log", run_dir);
        char *system_argv[] = {"/bin/sh", script, (char *)bindir, (char *)srcdir, run_dir,
                               repo,      NULL};
        snprintf (path, sizeof path, "%s/supervisor.json", run_dir);
        char *supervisor_argv[] = {supervisor, "--config", path, NULL};
        if (!system_mode && (!s_write_broker_config (run_dir, srcdir) ||
                             !s_write_supervisor_config (run_dir, bindir)))
            return 111;
        start = s_now ();
        pid = s_spawn (system_mode ? system_argv : supervisor_argv, log, -1);
        ok = s_wait_running (run_dir, programs, pid, &listed);
        system_s[run] = s_now () - start;
        s_stop (pid);
        if (!ok) {
            fprintf (stderr, "bench_startup: not every program got ready in %d s; %s:\n",
                     DEADLINE_S, log);
            snprintf (command, sizeof command, "tail -n 20 '%s' >&2", log);
            if (system (command) != 0)
                fprintf (stderr, "bench_startup: (no log)\n");
            status = 1;
            break;
        }
        printf ("  run %d: %zu programs ready in %.1f ms; broker alone %.1f ms\n", run + 1, listed,
                system_s[run] * 1e3, broker_s[run] * 1e3);
        fflush (stdout);
    }
    if (status == 0) {
        double s = s_median (system_s, runs) * 1e3, b = s_median (broker_s, runs) * 1e3;
        printf ("start-up: whole system %.1f ms, broker alone %.1f ms (medians), ratio %.2f\n", s,
                b, s / b);
        printf ("BENCH name=startup value=%.1f unit=ms baseline=%.1f baseline_unit=ms(broker) "
                "programs=%zu mode=%s runs=%d\n",
                s, b, listed, system_mode ? "system" : "broker-only", runs);
    }
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    if (system (command) != 0)
        status = 1;
    return status;
}
