/*  =========================================================================
    test_cab_sender - the sender actor and its command, http and log targets

    Real processes (sh, sleep, true), real HTTP (tests/unit/http_fixture on
    127.0.0.1), real files, each test in its own mkdtemp directory removed
    at the end. Targets are cab_rule_target_t values built by hand. Every
    wait has a deadline.
    =========================================================================
*/
#include "cab_sender.h"
#include "http_fixture.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char s_dir[256];

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove (path);
}

static void
s_setup (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/test_cab_sender.XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
}

//  The same tests again without pidfd_open (as on a kernel before 5.3, or
//  under valgrind): a seccomp filter makes it fail with ENOSYS in this
//  process and the threads it starts, so the sender polls with waitid.
static void
s_setup_no_pidfd (void)
{
    s_setup ();
#ifdef SYS_pidfd_open
    struct sock_filter filter[] = {
        BPF_STMT (BPF_LD | BPF_W | BPF_ABS, offsetof (struct seccomp_data, nr)),
        BPF_JUMP (BPF_JMP | BPF_JEQ | BPF_K, SYS_pidfd_open, 0, 1),
        BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT (BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog program = {(unsigned short)(sizeof filter / sizeof filter[0]), filter};
    ck_assert_int_eq (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    ck_assert_int_eq (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program), 0);
    ck_assert_int_eq (syscall (SYS_pidfd_open, getpid (), 0), -1);
    ck_assert_int_eq (errno, ENOSYS);
#endif
}

static void
s_teardown (void)
{
    nftw (s_dir, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  A path inside the test directory (static buffer rotation: 8 at once).
static const char *
s_path (const char *name)
{
    static char buffers[8][512];
    static int next;
    char *buffer = buffers[next++ % 8];
    snprintf (buffer, 512, "%s/%s", s_dir, name);
    return buffer;
}

static cab_rule_target_t
s_target (cab_target_type_t type)
{
    cab_rule_target_t target;
    memset (&target, 0, sizeof target);
    target.id = (char *)"t";
    target.type = type;
    target.timeout_ms = 10000;
    target.max_bytes = 10 * 1024 * 1024;
    target.keep = 5;
    target.max_attempts = 185;
    target.max_age_s = 86400;
    return target;
}

static cab_send_job_t *
s_job (const cab_rule_target_t *target, int64_t delivery, const char *text)
{
    char *payload = strdup (text);
    cab_send_job_t *job = cab_send_job_new (delivery, target, "rule", &payload, strlen (text));
    ck_assert_ptr_nonnull (job);
    ck_assert_ptr_null (payload);
    return job;
}

//  Wait up to timeout_ms for one finished job.
static cab_send_job_t *
s_recv (zactor_t *sender, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve (sender), 0, ZMQ_POLLIN, 0};
    int64_t deadline = s_now_ms () + timeout_ms;
    while (true) {
        cab_send_job_t *job = cab_sender_try_recv (sender);
        if (job)
            return job;
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return NULL;
        zmq_poll (&item, 1, (long)left);
    }
}

//  Send one job and wait for it.
static cab_send_job_t *
s_run (zactor_t *sender, const cab_rule_target_t *target, const char *payload, int timeout_ms)
{
    ck_assert_int_eq (cab_sender_send (sender, s_job (target, 1, payload)), 0);
    cab_send_job_t *job = s_recv (sender, timeout_ms);
    ck_assert_ptr_nonnull (job);
    return job;
}

static char *
s_slurp (const char *path, size_t *size_p)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    char *buffer = (char *)malloc (1024 * 1024);
    size_t size = fread (buffer, 1, 1024 * 1024 - 1, file);
    buffer[size] = '\0';
    fclose (file);
    if (size_p)
        *size_p = size;
    return buffer;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

//  Whether pid is a zombie whose parent is not this process (dead, waiting
//  for whoever inherited it to reap it: PID 1 may take its time).
static bool
s_zombie_not_ours (pid_t pid)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char state = 0;
    int parent = 0;
    //  "PID (COMM) STATE PPID": the command has no spaces here (sh, sleep).
    bool read = fscanf (file, "%*d %*s %c %d", &state, &parent) == 2;
    fclose (file);
    return read && state == 'Z' && parent != (int)getpid ();
}

//  The process is gone: not running, not a zombie of ours.
static bool
s_gone (pid_t pid, int timeout_ms)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    while (s_now_ms () < deadline) {
        if ((kill (pid, 0) != 0 && errno == ESRCH) || s_zombie_not_ours (pid))
            return true;
        zclock_sleep (10);
    }
    return false;
}

static pid_t
s_read_pid (const char *path)
{
    char *text = s_slurp (path, NULL);
    ck_assert_ptr_nonnull (text);
    pid_t pid = (pid_t)strtol (text, NULL, 10);
    free (text);
    ck_assert_int_gt (pid, 1);
    return pid;
}

//  --------------------------------------------------------------------------
//  command

START_TEST (test_command_success)
{
    zactor_t *sender = cab_sender_new ();
    ck_assert_ptr_nonnull (sender);
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"cat > \"$0\"", (char *)s_path ("out.json"),
                    NULL};
    target.argv = argv;
    target.argc = 4;
    const char *payload = "{\"detail\":{\"severity\":\"HIGH\"}}";
    cab_send_job_t *job = s_run (sender, &target, payload, 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    ck_assert_str_eq (job->error, "");
    ck_assert_int_eq (job->delivery, 1);
    ck_assert_ptr_eq (job->target, &target);
    ck_assert_int_gt (job->elapsed_us, 0);
    char *written = s_slurp (s_path ("out.json"), NULL);
    ck_assert_str_eq (written, payload);
    free (written);
    cab_send_job_destroy (&job);
    ck_assert_ptr_null (job);
    cab_send_job_destroy (&job);

    //  The child sees none of our descriptors: not a file we hold open
    //  (without O_CLOEXEC), not the sender's ZeroMQ eventfds.
    int marker = open (s_path ("out.json"), O_RDONLY);
    ck_assert_int_ge (marker, 3);
    char *argv2[] = {(char *)"sh", (char *)"-c", (char *)"exec > \"$0\"; ls -l /proc/$$/fd/",
                     (char *)s_path ("fds.txt"), NULL};
    target.argv = argv2;
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    char *fds = s_slurp (s_path ("fds.txt"), NULL);
    ck_assert_ptr_nonnull (strstr (fds, "fds.txt"));
    ck_assert_msg (strstr (fds, "out.json") == NULL, "%s", fds);
    ck_assert_msg (strstr (fds, "eventfd") == NULL, "%s", fds);
    ck_assert_msg (strstr (fds, "socket:") == NULL, "%s", fds);
    free (fds);
    close (marker);
    cab_sender_destroy (&sender);
    ck_assert_ptr_null (sender);
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_command_exit_status)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"sh", (char *)"-c",
                    (char *)"cat >/dev/null; printf 'disk\\nfull\\t\\001!' >&2; exit 3", NULL};
    target.argv = argv;
    target.argc = 3;
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TARGET_FAILED);
    ck_assert (!job->permanent);
    //  The stderr excerpt as one readable line.
    ck_assert_str_eq (job->error, "exit 3: disk full ?!");
    cab_send_job_destroy (&job);

    //  Killed by a signal.
    char *argv2[] = {(char *)"sh", (char *)"-c", (char *)"kill -KILL $$", NULL};
    target.argv = argv2;
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TARGET_FAILED);
    ck_assert_msg (strstr (job->error, "killed by signal 9") != NULL, "%s", job->error);
    cab_send_job_destroy (&job);

    //  A long stderr is cut.
    char *argv3[] = {(char *)"sh", (char *)"-c",
                     (char *)"i=0; while [ $i -lt 500 ]; do printf 'abcdefghij' >&2; "
                             "i=$((i+1)); done; exit 1",
                     NULL};
    target.argv = argv3;
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TARGET_FAILED);
    ck_assert_uint_lt (strlen (job->error), sizeof job->error);
    ck_assert_str_eq (job->error + strlen (job->error) - 3, "...");
    cab_send_job_destroy (&job);
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_command_missing)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"/nonexistent/cabruca-no-such-program", NULL};
    target.argv = argv;
    target.argc = 1;
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert (!job->permanent);
    //  Under valgrind posix_spawn cannot report the exec failure (valgrind
    //  emulates vfork with fork): the child exits 127 instead, as a shell
    //  would -- or valgrind's own error exit code, as it follows the child.
    const char *preload = getenv ("LD_PRELOAD");
    bool valgrind = preload && strstr (preload, "vgpreload");
    if (!valgrind || strncmp (job->error, "exit ", 5) != 0) {
        ck_assert_msg (job->status == CAB_ERR_IO, "status %d: %s", job->status, job->error);
        ck_assert_msg (strstr (job->error, "cannot run '/nonexistent/cabruca-no-such-program'"),
                       "%s", job->error);
    }
    cab_send_job_destroy (&job);
    //  Found on PATH, but missing there too.
    char *argv2[] = {(char *)"cabruca-no-such-program-either", NULL};
    target.argv = argv2;
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_msg (job->status == CAB_ERR_IO || (valgrind && strncmp (job->error, "exit ", 5) == 0),
                   "status %d: %s", job->status, job->error);
    cab_send_job_destroy (&job);
    //  No argv at all: the sender cannot run it, ever.
    target.argv = NULL;
    target.argc = 0;
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_INVALID_ARGUMENT);
    ck_assert (job->permanent);
    cab_send_job_destroy (&job);
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_command_timeout)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"echo $$ > \"$0\"; exec sleep 30",
                    (char *)s_path ("pid"), NULL};
    target.argv = argv;
    target.argc = 4;
    target.timeout_ms = 300;
    int64_t start = s_now_ms ();
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TIMEOUT);
    ck_assert (!job->permanent);
    ck_assert_msg (strstr (job->error, "timed out after 300 ms (SIGTERM)"), "%s", job->error);
    ck_assert_int_lt (s_now_ms () - start, 5000);
    cab_send_job_destroy (&job);
    pid_t pid = s_read_pid (s_path ("pid"));
    //  Killed and reaped: no such process, not even a zombie.
    ck_assert (s_gone (pid, 2000));
    ck_assert_int_eq (waitpid (pid, NULL, WNOHANG), -1);

    //  A group that ignores SIGTERM gets SIGKILL a second later.
    char *argv2[] = {(char *)"sh", (char *)"-c",
                     (char *)"trap '' TERM; echo $$ > \"$0\"; sleep 30 & echo $! >> \"$0\"; wait",
                     (char *)s_path ("pid2"), NULL};
    target.argv = argv2;
    start = s_now_ms ();
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TIMEOUT);
    ck_assert_msg (strstr (job->error, "timed out after 300 ms (SIGKILL)"), "%s", job->error);
    int64_t took = s_now_ms () - start;
    ck_assert_int_ge (took, 1250);  //  300 ms, then SIGTERM, then a second
    ck_assert_int_lt (took, 10000);
    cab_send_job_destroy (&job);
    char *pids = s_slurp (s_path ("pid2"), NULL);
    char *end;
    pid_t shell = (pid_t)strtol (pids, &end, 10);
    pid_t sleeper = (pid_t)strtol (end, NULL, 10);
    free (pids);
    ck_assert (s_gone (shell, 2000));
    ck_assert (s_gone (sleeper, 2000));  //  the whole group went
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_command_stdin)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    //  256 KB through stdin (four times a pipe's buffer).
    size_t size = 256 * 1024;
    char *payload = (char *)malloc (size + 1);
    for (size_t index = 0; index < size; index++)
        payload[index] = (char)('a' + index % 26);
    payload[0] = '"';
    payload[size - 1] = '"';
    payload[size] = '\0';
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"cat > \"$0\"", (char *)s_path ("big"),
                    NULL};
    target.argv = argv;
    target.argc = 4;
    cab_send_job_t *job = s_run (sender, &target, payload, 10000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    size_t got = 0;
    char *written = s_slurp (s_path ("big"), &got);
    ck_assert_uint_eq (got, size);
    ck_assert (memcmp (written, payload, size) == 0);
    free (written);

    //  A child that never reads stdin and exits 0 succeeded (EPIPE is not
    //  a failure, and SIGPIPE does not kill us).
    char *argv2[] = {(char *)"true", NULL};
    target.argv = argv2;
    target.argc = 1;
    for (int round = 0; round < 3; round++) {
        job = s_run (sender, &target, payload, 10000);
        ck_assert_int_eq (job->status, CAB_OK);
        cab_send_job_destroy (&job);
    }
    //  One that exits 1 without reading is a failure, for its exit status.
    char *argv3[] = {(char *)"false", NULL};
    target.argv = argv3;
    job = s_run (sender, &target, payload, 10000);
    ck_assert_int_eq (job->status, CAB_ERR_TARGET_FAILED);
    ck_assert_str_eq (job->error, "exit 1");
    cab_send_job_destroy (&job);
    //  An empty payload: stdin at EOF at once.
    char *argv4[] = {(char *)"sh", (char *)"-c", (char *)"test \"$(cat | wc -c)\" -eq 0", NULL};
    target.argv = argv4;
    target.argc = 3;
    job = s_run (sender, &target, "", 10000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    free (payload);
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_command_concurrency)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    //  Each run notes how many runs are alive when it starts.
    char script[2048];
    snprintf (script, sizeof script,
              "touch %s/run.$$; ls %s | grep -c '^run\\.' >> %s/counts; sleep 0.3; rm %s/run.$$",
              s_dir, s_dir, s_dir, s_dir);
    char *argv[] = {(char *)"sh", (char *)"-c", script, NULL};
    target.argv = argv;
    target.argc = 3;
    //  A second target runs beside the first, not behind it.
    cab_rule_target_t other = s_target (CAB_TARGET_COMMAND);
    char *argv2[] = {(char *)"true", NULL};
    other.argv = argv2;
    other.argc = 1;
    int64_t start = s_now_ms ();
    for (int index = 0; index < 10; index++)
        ck_assert_int_eq (cab_sender_send (sender, s_job (&target, index, "{}")), 0);
    ck_assert_int_eq (cab_sender_send (sender, s_job (&other, 100, "{}")), 0);
    bool seen[10] = {false};
    int other_at = -1;
    for (int index = 0; index < 11; index++) {
        cab_send_job_t *job = s_recv (sender, 10000);
        ck_assert_ptr_nonnull (job);
        ck_assert_int_eq (job->status, CAB_OK);
        if (job->delivery == 100)
            other_at = index;
        else {
            ck_assert (job->delivery >= 0 && job->delivery < 10 && !seen[job->delivery]);
            seen[job->delivery] = true;
        }
        cab_send_job_destroy (&job);
    }
    //  The other target did not wait behind the slow ones (it comes first,
    //  but spawning is slow under valgrind: before the second wave, then).
    ck_assert_int_ge (other_at, 0);
    ck_assert_int_le (other_at, 4);
    //  Ten runs of 0.3 s, four at a time: three waves.
    ck_assert_int_ge (s_now_ms () - start, 850);
    char *counts = s_slurp (s_path ("counts"), NULL);
    int most = 0;
    for (char *line = counts; line && *line;) {
        int count = (int)strtol (line, &line, 10);
        most = count > most ? count : most;
        while (*line == '\n')
            line++;
    }
    free (counts);
    ck_assert_int_le (most, 4);
    ck_assert_int_ge (most, 2);
    cab_sender_destroy (&sender);
}
END_TEST

//  More jobs than the bound: the extra one comes back at once, busy; the
//  rest are abandoned by destroy with their children killed.
START_TEST (test_sender_bound_and_stop)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"echo $$ >> \"$0\"; exec sleep 30",
                    (char *)s_path ("pids"), NULL};
    target.argv = argv;
    target.argc = 4;
    for (int index = 0; index < CAB_SENDER_MAX_JOBS + 1; index++)
        ck_assert_int_eq (cab_sender_send (sender, s_job (&target, index, "{}")), 0);
    cab_send_job_t *job = s_recv (sender, 5000);
    ck_assert_ptr_nonnull (job);
    ck_assert_int_eq (job->status, CAB_ERR_BUSY);
    ck_assert (!job->permanent);
    ck_assert_int_eq (job->delivery, CAB_SENDER_MAX_JOBS);
    cab_send_job_destroy (&job);
    //  Four running (the limit), the rest waiting.
    int64_t deadline = s_now_ms () + 5000;
    int lines = 0;
    while (s_now_ms () < deadline && lines < 4) {
        char *pids = s_slurp (s_path ("pids"), NULL);
        lines = 0;
        for (char *at = pids; at && *at; at++)
            lines += *at == '\n';
        free (pids);
        zclock_sleep (20);
    }
    ck_assert_int_eq (lines, 4);
    ck_assert_ptr_null (cab_sender_try_recv (sender));
    cab_sender_destroy (&sender);
    char *pids = s_slurp (s_path ("pids"), NULL);
    char *at = pids;
    for (int index = 0; index < 4; index++) {
        pid_t pid = (pid_t)strtol (at, &at, 10);
        ck_assert (s_gone (pid, 2000));
    }
    free (pids);
}
END_TEST

START_TEST (test_sender_refuses)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_AGENT);
    target.queue = (char *)"q";
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_INVALID_ARGUMENT);
    ck_assert (job->permanent);
    cab_send_job_destroy (&job);
    job = (cab_send_job_t *)calloc (1, sizeof *job);
    ck_assert_int_eq (cab_sender_send (sender, job), 0);
    job = s_recv (sender, 5000);
    ck_assert_int_eq (job->status, CAB_ERR_INVALID_ARGUMENT);
    cab_send_job_destroy (&job);
    ck_assert_int_eq (cab_sender_send (sender, NULL), -1);
    ck_assert_int_eq (cab_sender_send (NULL, NULL), -1);
    ck_assert_ptr_null (cab_sender_try_recv (NULL));
    //  Jobs still in the pipe when the sender stops are freed by destroy.
    cab_rule_target_t log = s_target (CAB_TARGET_LOG);
    log.path = (char *)s_path ("x.log");
    for (int index = 0; index < 100; index++)
        ck_assert_int_eq (cab_sender_send (sender, s_job (&log, index, "{}")), 0);
    cab_sender_destroy (&sender);
}
END_TEST

//  --------------------------------------------------------------------------
//  http

START_TEST (test_http_statuses)
{
    http_fixture_t *server = http_fixture_new ();
    ck_assert_ptr_nonnull (server);
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_HTTP);
    char url[128];
    target.url = http_fixture_url (server, "/hook?x=1", url, sizeof url);
    target.headers = json_pack ("{s:s, s:s}", "X-Token", "abc", "X-Bad", "a\r\nInjected: 1");
    const char *payload = "{\"source\":\"cabruca.test\",\"detail\":{}}";
    cab_send_job_t *job = s_run (sender, &target, payload, 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    http_fixture_request_t request;
    ck_assert (http_fixture_request (server, 0, &request));
    ck_assert_str_eq (request.method, "POST");
    ck_assert_str_eq (request.path, "/hook?x=1");
    ck_assert_str_eq (request.body, payload);
    char value[256];
    ck_assert_str_eq (http_fixture_header (&request, "Content-Type", value, sizeof value),
                      "application/json");
    ck_assert_str_eq (http_fixture_header (&request, "X-Token", value, sizeof value), "abc");
    ck_assert_ptr_null (http_fixture_header (&request, "X-Bad", value, sizeof value));
    ck_assert_ptr_null (http_fixture_header (&request, "Injected", value, sizeof value));
    ck_assert_ptr_null (http_fixture_header (&request, "Expect", value, sizeof value));
    http_fixture_request_clear (&request);

    //  EventBridge API destinations: 401, 407, 409, 429 and 5xx are
    //  retried; 1xx, 3xx and the other 4xx are not.
    struct {
        int status;
        cab_status_t expect;
        bool permanent;
    } cases[] = {
        {204, CAB_OK, false},
        {201, CAB_OK, false},
        {500, CAB_ERR_TARGET_FAILED, false},
        {503, CAB_ERR_TARGET_FAILED, false},
        {429, CAB_ERR_TARGET_FAILED, false},
        {401, CAB_ERR_TARGET_FAILED, false},
        {407, CAB_ERR_TARGET_FAILED, false},
        {409, CAB_ERR_TARGET_FAILED, false},
        {404, CAB_ERR_TARGET_FAILED, true},
        {400, CAB_ERR_TARGET_FAILED, true},
        {403, CAB_ERR_TARGET_FAILED, true},
        {302, CAB_ERR_TARGET_FAILED, true},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        http_fixture_push (server, cases[index].status, 0, "boom\nat the server");
        job = s_run (sender, &target, payload, 5000);
        ck_assert_msg (job->status == cases[index].expect, "HTTP %d: %s", cases[index].status,
                       job->error);
        ck_assert_msg (job->permanent == cases[index].permanent, "HTTP %d", cases[index].status);
        if (cases[index].expect != CAB_OK) {
            char expect[64];
            snprintf (expect, sizeof expect, "HTTP %d: boom at the server", cases[index].status);
            ck_assert_str_eq (job->error, expect);
        }
        cab_send_job_destroy (&job);
    }
    json_decref (target.headers);
    cab_sender_destroy (&sender);
    http_fixture_destroy (&server);
}
END_TEST

START_TEST (test_http_network_errors)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_HTTP);
    //  A port nobody listens on: a fixture's, after it stopped.
    http_fixture_t *server = http_fixture_new ();
    char url[128];
    http_fixture_url (server, "/", url, sizeof url);
    http_fixture_destroy (&server);
    target.url = url;
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_IO);
    ck_assert (!job->permanent);
    ck_assert_msg (strstr (job->error, "refused") || strstr (job->error, "connect"), "%s",
                   job->error);
    cab_send_job_destroy (&job);

    //  Too slow: the timeout ends it, retryable.
    server = http_fixture_new ();
    http_fixture_set (server, 200, 5000, "late");
    target.url = http_fixture_url (server, "/slow", url, sizeof url);
    target.timeout_ms = 300;
    int64_t start = s_now_ms ();
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TIMEOUT);
    ck_assert (!job->permanent);
    ck_assert_int_lt (s_now_ms () - start, 4500);  //  before the answer
    cab_send_job_destroy (&job);

    //  A URL curl will not use: permanent.
    target.url = (char *)"gopher://127.0.0.1/";
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_TARGET_FAILED);
    ck_assert (job->permanent);
    cab_send_job_destroy (&job);
    cab_sender_destroy (&sender);
    http_fixture_destroy (&server);
}
END_TEST

START_TEST (test_http_keep_alive)
{
    http_fixture_t *server = http_fixture_new ();
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_HTTP);
    char url[128];
    target.url = http_fixture_url (server, "/", url, sizeof url);
    for (int index = 0; index < 20; index++) {
        char payload[64];
        snprintf (payload, sizeof payload, "{\"n\":%d}", index);
        cab_send_job_t *job = s_run (sender, &target, payload, 5000);
        ck_assert_int_eq (job->status, CAB_OK);
        cab_send_job_destroy (&job);
    }
    ck_assert_uint_eq (http_fixture_count (server), 20);
    ck_assert_int_eq (http_fixture_connections (server), 1);
    //  In parallel too: all delivered, bodies intact.
    for (int index = 0; index < 50; index++) {
        char payload[64];
        snprintf (payload, sizeof payload, "{\"n\":%d}", 100 + index);
        ck_assert_int_eq (cab_sender_send (sender, s_job (&target, 100 + index, payload)), 0);
    }
    for (int index = 0; index < 50; index++) {
        cab_send_job_t *job = s_recv (sender, 5000);
        ck_assert_ptr_nonnull (job);
        ck_assert_int_eq (job->status, CAB_OK);
        cab_send_job_destroy (&job);
    }
    ck_assert_uint_eq (http_fixture_count (server), 70);
    ck_assert_int_le (http_fixture_connections (server), 1 + 8);
    cab_sender_destroy (&sender);
    http_fixture_destroy (&server);
}
END_TEST

START_TEST (test_http_rate_limit)
{
    http_fixture_t *server = http_fixture_new ();
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_HTTP);
    char url[128];
    target.url = http_fixture_url (server, "/", url, sizeof url);
    target.rate_per_second = 10;
    int64_t start = s_now_ms ();
    for (int index = 0; index < 20; index++)
        ck_assert_int_eq (cab_sender_send (sender, s_job (&target, index, "{}")), 0);
    //  The actor stays responsive while jobs wait: an unlimited target
    //  goes through at once.
    cab_rule_target_t fast = target;
    fast.rate_per_second = 0;
    ck_assert_int_eq (cab_sender_send (sender, s_job (&fast, 99, "{\"fast\":1}")), 0);
    int done = 0;
    bool fast_early = false;
    while (done < 21) {
        cab_send_job_t *job = s_recv (sender, 5000);
        ck_assert_ptr_nonnull (job);
        ck_assert_int_eq (job->status, CAB_OK);
        if (job->delivery == 99)
            fast_early = done < 5;
        cab_send_job_destroy (&job);
        done++;
    }
    ck_assert (fast_early);
    int64_t took = s_now_ms () - start;
    //  20 starts at 10/s, no burst: 19 gaps of 100 ms.
    ck_assert_int_ge (took, 1800);
    ck_assert_int_lt (took, 15000);
    //  Arrivals spaced (generously: this is not a benchmark).
    int64_t previous = -1;
    int spaced = 0;
    for (size_t index = 0; index < 21; index++) {
        http_fixture_request_t request;
        ck_assert (http_fixture_request (server, index, &request));
        bool rated = strcmp (request.body, "{}") == 0;
        if (rated && previous >= 0 && request.at_us - previous >= 70000)
            spaced++;
        if (rated)
            previous = request.at_us;
        http_fixture_request_clear (&request);
    }
    ck_assert_int_ge (spaced, 17);
    cab_sender_destroy (&sender);
    http_fixture_destroy (&server);
}
END_TEST

//  --------------------------------------------------------------------------
//  log

START_TEST (test_log_append)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_LOG);
    target.path = (char *)s_path ("logs/deep/issues.jsonl");  //  directories made
    cab_rule_target_t twin = target;                          //  same file, shared
    cab_send_job_t *job = s_run (sender, &target, "{\"n\":1}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    job = s_run (sender, &twin, "{\"n\":2}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    //  A raw line break would split the record: each becomes a space
    //  (first and last bytes, CR LF, runs).
    job = s_run (sender, &target, "\r{\"n\":\n3,\r\n\"m\":\n\n4}\n", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    char *text = s_slurp (target.path, NULL);
    ck_assert_str_eq (text, "{\"n\":1}\n{\"n\":2}\n {\"n\": 3,  \"m\":  4} \n");
    free (text);
    //  Deleted under the sender: a new file starts.
    ck_assert_int_eq (unlink (target.path), 0);
    job = s_run (sender, &target, "{\"n\":4}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    text = s_slurp (target.path, NULL);
    ck_assert_str_eq (text, "{\"n\":4}\n");
    free (text);
    cab_sender_destroy (&sender);
}
END_TEST

//  A borrowed payload's release, counted.
static void
s_count_release (void *arg)
{
    (*(int *)arg)++;
}

START_TEST (test_log_borrowed)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_LOG);
    target.path = (char *)s_path ("borrowed.jsonl");
    //  Line breaks in a borrowed payload: the line has spaces, the lender's
    //  bytes stay as they were.
    static const char lent[] = "{\"n\":\r\n1}";
    int released = 0;
    cab_send_job_t *job =
        cab_send_job_borrow (1, &target, "rule", lent, sizeof lent - 1, s_count_release, &released);
    ck_assert_ptr_nonnull (job);
    ck_assert_int_eq (cab_sender_send (sender, job), 0);
    job = s_recv (sender, 5000);
    ck_assert_ptr_nonnull (job);
    ck_assert_int_eq (job->status, CAB_OK);
    ck_assert_str_eq (lent, "{\"n\":\r\n1}");
    ck_assert_int_eq (released, 0);
    cab_send_job_destroy (&job);
    ck_assert_int_eq (released, 1);
    //  Without line breaks: written from the lender's bytes.
    static const char plain[] = "{\"n\":2}";
    job = cab_send_job_borrow (2, &target, "rule", plain, sizeof plain - 1, s_count_release,
                               &released);
    ck_assert_int_eq (cab_sender_send (sender, job), 0);
    job = s_recv (sender, 5000);
    ck_assert_ptr_nonnull (job);
    ck_assert_int_eq (job->status, CAB_OK);
    ck_assert_ptr_null (job->owned);
    cab_send_job_destroy (&job);
    ck_assert_int_eq (released, 2);
    char *text = s_slurp (target.path, NULL);
    ck_assert_str_eq (text, "{\"n\":  1}\n{\"n\":2}\n");
    free (text);
    //  A job still running when the sender stops is released with it.
    cab_rule_target_t slow = s_target (CAB_TARGET_COMMAND);
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)"exec sleep 30", NULL};
    slow.argv = argv;
    slow.argc = 3;
    job =
        cab_send_job_borrow (3, &slow, "rule", plain, sizeof plain - 1, s_count_release, &released);
    ck_assert_int_eq (cab_sender_send (sender, job), 0);
    zclock_sleep (100);
    ck_assert_int_eq (released, 2);
    cab_sender_destroy (&sender);
    ck_assert_int_eq (released, 3);
}
END_TEST

START_TEST (test_log_rotation)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_LOG);
    target.path = (char *)s_path ("r.jsonl");
    target.max_bytes = 100;
    target.keep = 2;
    //  30-byte lines: three fit in 100 bytes.
    for (int index = 0; index < 20; index++) {
        char payload[64];
        snprintf (payload, sizeof payload, "{\"n\":%02d,\"pad\":\"xxxxxxxxxxxx\"}", index);
        ck_assert_uint_eq (strlen (payload), 29);
        cab_send_job_t *job = s_run (sender, &target, payload, 5000);
        ck_assert_int_eq (job->status, CAB_OK);
        cab_send_job_destroy (&job);
    }
    size_t size;
    char *text = s_slurp (s_path ("r.jsonl"), &size);
    ck_assert_uint_le (size, 100);
    ck_assert_ptr_nonnull (strstr (text, "\"n\":19"));
    ck_assert_ptr_nonnull (strstr (text, "\"n\":18"));
    free (text);
    text = s_slurp (s_path ("r.jsonl.1"), &size);
    ck_assert_uint_eq (size, 90);
    ck_assert_ptr_nonnull (strstr (text, "\"n\":17"));
    free (text);
    text = s_slurp (s_path ("r.jsonl.2"), &size);
    ck_assert_uint_eq (size, 90);
    ck_assert_ptr_nonnull (strstr (text, "\"n\":14"));
    free (text);
    ck_assert (!s_exists (s_path ("r.jsonl.3")));  //  older ones dropped

    //  keep 0: truncate in place.
    target.path = (char *)s_path ("t.jsonl");
    target.keep = 0;
    const char *line = "{\"pad\":\"xxxxxxxxxxxxxxxxxxxx\"}";  //  31 bytes a line
    for (int index = 0; index < 5; index++) {
        cab_send_job_t *job = s_run (sender, &target, line, 5000);
        ck_assert_int_eq (job->status, CAB_OK);
        cab_send_job_destroy (&job);
    }
    //  Three lines, truncated, two more.
    text = s_slurp (s_path ("t.jsonl"), &size);
    ck_assert_uint_eq (size, 2 * (strlen (line) + 1));
    free (text);
    ck_assert (!s_exists (s_path ("t.jsonl.1")));
    cab_sender_destroy (&sender);
}
END_TEST

START_TEST (test_log_unwritable)
{
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_LOG);
    //  A directory that cannot be made (a file is in the way): even root
    //  cannot write there.
    FILE *file = fopen (s_path ("plain"), "w");
    fclose (file);
    target.path = (char *)s_path ("plain/logs/x.jsonl");
    cab_send_job_t *job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_IO);
    ck_assert (!job->permanent);
    ck_assert_msg (strstr (job->error, "Not a directory"), "%s", job->error);
    cab_send_job_destroy (&job);
    //  Fixed (the file moved away): the retry works.
    ck_assert_int_eq (unlink (s_path ("plain")), 0);
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    //  A relative path is a configuration error.
    target.path = (char *)"relative.jsonl";
    job = s_run (sender, &target, "{}", 5000);
    ck_assert_int_eq (job->status, CAB_ERR_INVALID_ARGUMENT);
    ck_assert (job->permanent);
    cab_send_job_destroy (&job);
    cab_sender_destroy (&sender);
}
END_TEST

//  Send jobs[0..count) at once, then take every one back.
static void
s_burst (zactor_t *sender, cab_send_job_t **jobs, size_t count)
{
    for (size_t index = 0; index < count; index++)
        ck_assert_int_eq (cab_sender_send (sender, jobs[index]), 0);
    for (size_t index = 0; index < count; index++) {
        jobs[index] = s_recv (sender, 10000);
        ck_assert_ptr_nonnull (jobs[index]);
    }
}

//  Lines sent in one burst are written together: every line once, in the
//  order sent, per file; rotation stops at the right line inside a batch.
START_TEST (test_log_batch)
{
    enum { LINES = 1500 };
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t plain = s_target (CAB_TARGET_LOG), small = s_target (CAB_TARGET_LOG);
    plain.path = (char *)s_path ("plain.jsonl");
    small.path = (char *)s_path ("small.jsonl");
    small.max_bytes = 1000;
    small.keep = 100;
    //  Alternating targets, so a batch holds both paths; 27-byte lines.
    cab_send_job_t **jobs = (cab_send_job_t **)calloc (2 * LINES, sizeof *jobs);
    for (int index = 0; index < 2 * LINES; index++) {
        char payload[64];
        snprintf (payload, sizeof payload, "{\"n\":%05d,\"pad\":\"xxxxxxx\"}", index / 2);
        ck_assert_uint_eq (strlen (payload), 27);
        jobs[index] = s_job (index % 2 ? &small : &plain, index, payload);
    }
    s_burst (sender, jobs, 2 * LINES);
    for (int index = 0; index < 2 * LINES; index++) {
        ck_assert_msg (jobs[index]->status == CAB_OK, "%s", jobs[index]->error);
        cab_send_job_destroy (&jobs[index]);
    }
    free (jobs);
    //  plain: all lines in order.
    size_t size;
    char *text = s_slurp (plain.path, &size);
    ck_assert_uint_eq (size, LINES * 28);
    for (int index = 0; index < LINES; index++) {
        char expected[64];
        snprintf (expected, sizeof expected, "{\"n\":%05d,\"pad\":\"xxxxxxx\"}\n", index);
        ck_assert_msg (memcmp (text + index * 28, expected, 28) == 0, "line %d", index);
    }
    free (text);
    //  small: 35 lines (980 bytes) a file; the oldest file first.
    int next = 0, files = 0;
    for (int generation = 100; generation >= 0; generation--) {
        char name[64];
        snprintf (name, sizeof name, generation ? "small.jsonl.%d" : "small.jsonl", generation);
        if (!s_exists (s_path (name)))
            continue;
        text = s_slurp (s_path (name), &size);
        files++;
        ck_assert_uint_le (size, 1000);
        ck_assert_uint_eq (size % 28, 0);
        if (generation)
            ck_assert_uint_eq (size, 35 * 28);
        for (size_t at = 0; at < size; at += 28, next++) {
            char expected[64];
            snprintf (expected, sizeof expected, "{\"n\":%05d,\"pad\":\"xxxxxxx\"}\n", next);
            ck_assert_msg (memcmp (text + at, expected, 28) == 0, "%s: line %d", name, next);
        }
        free (text);
    }
    ck_assert_int_eq (next, LINES);
    ck_assert_int_eq (files, (LINES + 34) / 35);
    cab_sender_destroy (&sender);
}
END_TEST

//  A batch that cannot be written fails whole and leaves no partial line;
//  the retry, once there is room, writes every line.
START_TEST (test_log_batch_fails)
{
    enum { LINES = 200 };
    zactor_t *sender = cab_sender_new ();
    cab_rule_target_t target = s_target (CAB_TARGET_LOG);
    target.path = (char *)s_path ("f.jsonl");
    cab_send_job_t *job = s_run (sender, &target, "{\"first\":true}", 5000);
    ck_assert_int_eq (job->status, CAB_OK);
    cab_send_job_destroy (&job);
    //  Room for half the batch: the file size limit of the process.
    struct rlimit old_limit, limit;
    ck_assert_int_eq (getrlimit (RLIMIT_FSIZE, &old_limit), 0);
    void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
    limit = old_limit;
    limit.rlim_cur = 15 + LINES / 2 * 28;
    cab_send_job_t *jobs[LINES];
    for (int index = 0; index < LINES; index++) {
        char payload[64];
        snprintf (payload, sizeof payload, "{\"n\":%05d,\"pad\":\"xxxxxxx\"}", index);
        jobs[index] = s_job (&target, index, payload);
    }
    //  No assertion while the limit holds: check writes its own file.
    int limited = setrlimit (RLIMIT_FSIZE, &limit), sends = 0, received = 0;
    for (int index = 0; index < LINES; index++)
        sends += cab_sender_send (sender, jobs[index]) == 0;
    for (int index = 0; index < LINES; index++)
        received += (jobs[index] = s_recv (sender, 10000)) != NULL;
    int restored = setrlimit (RLIMIT_FSIZE, &old_limit);
    signal (SIGXFSZ, old_handler);
    ck_assert_int_eq (limited, 0);
    ck_assert_int_eq (restored, 0);
    ck_assert_int_eq (sends, LINES);
    ck_assert_int_eq (received, LINES);
    int failed = 0;
    for (int index = 0; index < LINES; index++)
        if (jobs[index]->status != CAB_OK) {
            ck_assert_int_eq (jobs[index]->status, CAB_ERR_IO);
            ck_assert (!jobs[index]->permanent);
            ck_assert_msg (strstr (jobs[index]->error, "write "), "%s", jobs[index]->error);
            failed++;
        }
    ck_assert_int_gt (failed, 0);
    //  What was reported written is in the file, whole lines only.
    size_t size;
    char *text = s_slurp (target.path, &size);
    ck_assert_uint_eq (size, 15 + (size_t)(LINES - failed) * 28);
    free (text);
    //  Retried (in order) with room: all there once.
    int sent = 0;
    for (int index = 0; index < LINES; index++)
        if (jobs[index]->status != CAB_OK)
            jobs[sent++] = jobs[index];
        else
            cab_send_job_destroy (&jobs[index]);
    s_burst (sender, jobs, (size_t)sent);
    for (int index = 0; index < sent; index++) {
        ck_assert_msg (jobs[index]->status == CAB_OK, "%s", jobs[index]->error);
        cab_send_job_destroy (&jobs[index]);
    }
    text = s_slurp (target.path, &size);
    ck_assert_uint_eq (size, 15 + LINES * 28);
    for (int index = 0; index < LINES; index++) {
        char expected[64];
        snprintf (expected, sizeof expected, "\"n\":%05d,", index);
        char *at = strstr (text, expected);
        ck_assert_msg (at && !strstr (at + 1, expected), "line %d", index);
    }
    free (text);
    cab_sender_destroy (&sender);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_sender");
    TCase *tcase = tcase_create ("command");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_command_success);
    tcase_add_test (tcase, test_command_exit_status);
    tcase_add_test (tcase, test_command_missing);
    tcase_add_test (tcase, test_command_timeout);
    tcase_add_test (tcase, test_command_stdin);
    tcase_add_test (tcase, test_command_concurrency);
    tcase_add_test (tcase, test_sender_bound_and_stop);
    tcase_add_test (tcase, test_sender_refuses);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("command-waitid");
    tcase_add_checked_fixture (tcase, s_setup_no_pidfd, s_teardown);
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_command_success);
    tcase_add_test (tcase, test_command_exit_status);
    tcase_add_test (tcase, test_command_timeout);
    tcase_add_test (tcase, test_command_stdin);
    tcase_add_test (tcase, test_command_concurrency);
    tcase_add_test (tcase, test_sender_bound_and_stop);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("http");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_http_statuses);
    tcase_add_test (tcase, test_http_network_errors);
    tcase_add_test (tcase, test_http_keep_alive);
    tcase_add_test (tcase, test_http_rate_limit);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("log");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_log_append);
    tcase_add_test (tcase, test_log_borrowed);
    tcase_add_test (tcase, test_log_rotation);
    tcase_add_test (tcase, test_log_unwritable);
    tcase_add_test (tcase, test_log_batch);
    tcase_add_test (tcase, test_log_batch_fails);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
