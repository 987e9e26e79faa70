/*  =========================================================================
    cab_program - one supervised process: spawn, readiness, exit, restart
    with backoff, the start limit, and stop with a timeout then SIGKILL of
    the whole process group.

        STOPPED -spawn-> STARTING -ready-> RUNNING
        STARTING/RUNNING -exit-> BACKOFF -timer-> STARTING    (restart)
                                 EXITED                       (policy says no)
                                 FATAL                        (start limit hit)
        STARTING/RUNNING -stop-> STOPPING -exit-> STOPPED
    =========================================================================
*/
#include "cab_supervisor_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *s_state_names[] = {"STOPPED",  "STARTING", "RUNNING", "BACKOFF",
                                      "STOPPING", "EXITED",   "FATAL"};

const char *
cab_process_state_name (cab_process_state_t state)
{
    return s_state_names[state];
}

cab_process_t *
cab_process_new (cab_supervisor_t *supervisor, cab_program_def_t *def, int instance)
{
    cab_process_t *self = (cab_process_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->failures = (int64_t *)calloc ((size_t)def->start_limit_burst, sizeof (int64_t));
    if (!self->failures) {
        free (self);
        return NULL;
    }
    self->supervisor = supervisor;
    self->def = cab_program_def_ref (def);
    if (instance > 0)
        snprintf (self->name, sizeof self->name, "%s-%d", def->name, instance);
    else
        snprintf (self->name, sizeof self->name, "%s", def->name);
    self->want = def->autostart;
    self->exit_status = -1;
    self->backoff_ms = def->backoff_initial_ms;
    self->timer = -1;
    self->health_timer = -1;
    self->output_fd = -1;
    self->notify_fd = -1;
    return self;
}

static void
s_end_timer (cab_process_t *self, int *timer)
{
    if (*timer >= 0)
        zloop_timer_end (self->supervisor->loop, *timer);
    *timer = -1;
}

static void
s_close_pipe (cab_process_t *self, int *fd)
{
    if (*fd < 0)
        return;
    zmq_pollitem_t item = {NULL, *fd, ZMQ_POLLIN, 0};
    zloop_poller_end (self->supervisor->loop, &item);
    close (*fd);
    *fd = -1;
}

void
cab_process_destroy (cab_process_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_process_t *self = *self_p;
    s_end_timer (self, &self->timer);
    s_end_timer (self, &self->health_timer);
    s_close_pipe (self, &self->output_fd);
    s_close_pipe (self, &self->notify_fd);
    cab_logfile_destroy (&self->log);
    cab_program_def_unref (&self->def);
    free (self->failures);
    free (self);
    *self_p = NULL;
}

bool
cab_process_idle (cab_process_t *self)
{
    return self->pid == 0 &&
           (self->state == CAB_PROCESS_STOPPED || self->state == CAB_PROCESS_EXITED ||
            self->state == CAB_PROCESS_FATAL);
}

//  ---------------------------------------------------------------------
//  Pipes: output to the log file; the notification line to readiness.

static void
s_became_ready (cab_process_t *self)
{
    if (self->state != CAB_PROCESS_STARTING)
        return;
    self->state = CAB_PROCESS_RUNNING;
    cab_supervisor_event (self->supervisor, self, "ready",
                          json_pack ("{s:i}", "pid", (int)self->pid));
    cab_supervisor_schedule (self->supervisor);
}

static int
s_on_output (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    cab_process_t *self = (cab_process_t *)arg;
    char buffer[4096];
    ssize_t size = read (self->output_fd, buffer, sizeof buffer);
    if (size > 0 && self->log)
        cab_logfile_write (self->log, buffer, (size_t)size);
    else if (size == 0 || (size < 0 && errno != EAGAIN && errno != EINTR))
        s_close_pipe (self, &self->output_fd);
    return self->supervisor->done ? -1 : 0;
}

static int
s_on_notify (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    cab_process_t *self = (cab_process_t *)arg;
    char buffer[256];
    ssize_t size = read (self->notify_fd, buffer, sizeof buffer);
    if (size > 0 && memchr (buffer, '\n', (size_t)size)) {
        s_close_pipe (self, &self->notify_fd);
        s_became_ready (self);
    } else if (size == 0 || (size < 0 && errno != EAGAIN && errno != EINTR))
        s_close_pipe (self, &self->notify_fd);  //  closed without a line: not ready
    return self->supervisor->done ? -1 : 0;
}

//  start_secs after the spawn: the run is healthy (the backoff resets)
//  and, without a notification fd, the program counts as ready.
static int
s_on_healthy (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_process_t *self = (cab_process_t *)arg;
    self->health_timer = -1;
    self->healthy = true;
    self->backoff_ms = self->def->backoff_initial_ms;
    if (self->def->notify_fd < 0)
        s_became_ready (self);
    return self->supervisor->done ? -1 : 0;
}

//  ---------------------------------------------------------------------
//  Spawn

//  In the child, between fork and exec: only async-signal-safe calls.
static void
s_child (cab_process_t *self, pid_t parent, int output_w, int notify_w, char **envp)
{
    setsid ();  //  own session and process group: the group is killed as one
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)  //  the supervisor died before prctl took effect
        _exit (111);
    sigset_t all;
    sigemptyset (&all);
    sigprocmask (SIG_SETMASK, &all, NULL);
    for (int number = 1; number < NSIG; number++)
        if (number != SIGKILL && number != SIGSTOP)
            signal (number, SIG_DFL);
    int null_fd = open ("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2 (null_fd, 0) < 0 || dup2 (output_w, 1) < 0 || dup2 (output_w, 2) < 0)
        _exit (111);
    int keep = 2;
    if (notify_w >= 0) {
        keep = self->def->notify_fd;
        if (notify_w != keep && dup2 (notify_w, keep) < 0)
            _exit (111);
        fcntl (keep, F_SETFD, 0);
        if (keep > 3)
            close_range (3, (unsigned)keep - 1, 0);
    }
    close_range ((unsigned)keep + 1, ~0U, 0);
    if (self->def->directory && chdir (self->def->directory) != 0) {
        static const char message[] = "cabruca-supervisor: cannot change directory\n";
        if (write (2, message, sizeof message - 1) < 0)
            _exit (126);
        _exit (126);
    }
    execvpe (self->def->argv[0], self->def->argv, envp);
    static const char message[] = "cabruca-supervisor: cannot execute the command\n";
    if (write (2, message, sizeof message - 1) < 0)
        _exit (127);
    _exit (127);
}

//  The environment: the supervisor's, with the program's on top. New
//  array of borrowed strings; free() it.
static char **
s_environment (cab_program_def_t *def)
{
    size_t count = 0;
    while (environ[count])
        count++;
    char **envp = (char **)calloc (count + def->env_count + 1, sizeof (char *));
    if (!envp)
        return NULL;
    size_t used = 0;
    for (size_t index = 0; index < count; index++) {
        bool overridden = false;
        size_t length = strcspn (environ[index], "=");
        for (size_t own = 0; own < def->env_count && !overridden; own++)
            overridden = strncmp (def->env[own], environ[index], length + 1) == 0;
        if (!overridden)
            envp[used++] = environ[index];
    }
    for (size_t own = 0; own < def->env_count; own++)
        envp[used++] = def->env[own];
    return envp;
}

cab_status_t
cab_process_spawn (cab_process_t *self)
{
    cab_supervisor_t *supervisor = self->supervisor;
    if (!self->log) {
        cab_error_t error;
        self->log = cab_logfile_new (supervisor->config->log_dir, self->name,
                                     supervisor->config->log_max_bytes,
                                     supervisor->config->log_keep, &error);
        if (!self->log)
            cab_supervisor_log ("%s: no log file: %s", self->name, error.text);
    }
    int output[2] = {-1, -1}, notify[2] = {-1, -1};
    char **envp = s_environment (self->def);
    if (!envp || pipe2 (output, O_CLOEXEC) != 0 ||
        (self->def->notify_fd >= 0 && pipe2 (notify, O_CLOEXEC) != 0)) {
        cab_supervisor_log ("%s: cannot spawn: %s", self->name, strerror (errno));
        free (envp);
        for (int index = 0; index < 2; index++) {
            if (output[index] >= 0)
                close (output[index]);
            if (notify[index] >= 0)
                close (notify[index]);
        }
        return CAB_ERR_IO;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child (self, parent, output[1], notify[1], envp);
    free (envp);
    close (output[1]);
    if (notify[1] >= 0)
        close (notify[1]);
    if (pid < 0) {
        cab_supervisor_log ("%s: cannot fork: %s", self->name, strerror (errno));
        close (output[0]);
        if (notify[0] >= 0)
            close (notify[0]);
        return CAB_ERR_IO;
    }
    //  The child may not have called setsid yet: make the group here too,
    //  so a stop right now reaches it (one of the two calls fails; fine).
    setpgid (pid, pid);
    cab_supervisor_guard (supervisor, pid, true);
    self->pid = pid;
    self->started_at = zclock_mono ();
    self->healthy = false;
    self->state = CAB_PROCESS_STARTING;
    s_close_pipe (self, &self->output_fd);  //  a leftover from the last run
    self->output_fd = output[0];
    fcntl (self->output_fd, F_SETFL, O_NONBLOCK);
    zmq_pollitem_t item = {NULL, self->output_fd, ZMQ_POLLIN, 0};
    zloop_poller (supervisor->loop, &item, s_on_output, self);
    s_close_pipe (self, &self->notify_fd);
    if (notify[0] >= 0) {
        self->notify_fd = notify[0];
        fcntl (self->notify_fd, F_SETFL, O_NONBLOCK);
        zmq_pollitem_t notify_item = {NULL, self->notify_fd, ZMQ_POLLIN, 0};
        zloop_poller (supervisor->loop, &notify_item, s_on_notify, self);
    }
    s_end_timer (self, &self->health_timer);
    self->health_timer =
        zloop_timer (supervisor->loop, (size_t)(self->def->start_ms > 0 ? self->def->start_ms : 1),
                     1, s_on_healthy, self);
    cab_supervisor_log ("%s: started, pid %d", self->name, (int)pid);
    cab_supervisor_event (supervisor, self, self->restarting ? "restarted" : "started",
                          json_pack ("{s:i, s:i}", "pid", (int)pid, "restarts", self->restarts));
    return CAB_OK;
}

//  ---------------------------------------------------------------------
//  Restart with backoff

static int
s_on_restart (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_process_t *self = (cab_process_t *)arg;
    self->timer = -1;
    if (self->state == CAB_PROCESS_BACKOFF) {
        self->state = CAB_PROCESS_STOPPED;
        self->restarts++;
        self->restarting = true;
        cab_status_t status = cab_process_spawn (self);
        self->restarting = false;
        if (status != CAB_OK)
            cab_process_exited (self, 127 << 8);
    }
    cab_supervisor_schedule (self->supervisor);
    return self->supervisor->done ? -1 : 0;
}

//  Count a failed start; true when the start limit is reached.
static bool
s_start_limit_hit (cab_process_t *self, int64_t now)
{
    int burst = self->def->start_limit_burst;
    self->failures[self->failure_next] = now;
    self->failure_next = (self->failure_next + 1) % burst;
    if (self->failure_count < burst)
        self->failure_count++;
    int recent = 0;
    for (int index = 0; index < self->failure_count; index++)
        if (now - self->failures[index] <= self->def->start_limit_interval_ms)
            recent++;
    return recent >= burst;
}

void
cab_process_exited (cab_process_t *self, int wait_status)
{
    cab_supervisor_t *supervisor = self->supervisor;
    int64_t now = zclock_mono ();
    pid_t pid = self->pid;
    //  Whatever is left of the group goes with its leader.
    if (pid > 0) {
        kill (-pid, SIGKILL);
        cab_supervisor_guard (supervisor, pid, false);
    }
    self->pid = 0;
    s_end_timer (self, &self->timer);
    s_end_timer (self, &self->health_timer);
    s_close_pipe (self, &self->notify_fd);
    //  Take what output is left now; the pipe closes when the group is gone.
    if (self->output_fd >= 0)
        for (int round = 0; round < 16; round++) {
            char buffer[4096];
            ssize_t size = read (self->output_fd, buffer, sizeof buffer);
            if (size <= 0)
                break;
            if (self->log)
                cab_logfile_write (self->log, buffer, (size_t)size);
        }
    self->exit_status = WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
    self->exit_signal = WIFSIGNALED (wait_status) ? WTERMSIG (wait_status) : 0;
    bool failure = !(WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0);
    json_t *fields = json_pack ("{s:i, s:i}", "pid", (int)pid, "restarts", self->restarts);
    if (self->exit_signal)
        json_object_set_new (fields, "signal", json_integer (self->exit_signal));
    else
        json_object_set_new (fields, "exit_status", json_integer (self->exit_status));
    if (self->exit_signal)
        cab_supervisor_log ("%s: pid %d killed by signal %d", self->name, (int)pid,
                            self->exit_signal);
    else
        cab_supervisor_log ("%s: pid %d exited with status %d", self->name, (int)pid,
                            self->exit_status);

    cab_restart_t policy = self->def->restart;
    bool restart = self->want && !self->removed && !supervisor->shutting_down &&
                   self->state != CAB_PROCESS_STOPPING &&
                   (policy == CAB_RESTART_ALWAYS || (policy == CAB_RESTART_ON_FAILURE && failure));
    if (!restart) {
        bool stopped = self->state == CAB_PROCESS_STOPPING || !self->want || self->removed ||
                       supervisor->shutting_down;
        self->state = stopped ? CAB_PROCESS_STOPPED : CAB_PROCESS_EXITED;
        cab_supervisor_event (supervisor, self, "exited", fields);
        cab_supervisor_schedule (supervisor);
        return;
    }
    bool healthy = self->healthy || now - self->started_at >= self->def->start_ms;
    int64_t delay;
    if (healthy) {
        //  Ran well: restart at once (but never twice within a second).
        self->backoff_ms = self->def->backoff_initial_ms;
        delay = CAB_SUPERVISOR_MIN_RESTART_MS - (now - self->started_at);
        if (delay < 1)
            delay = 1;
    } else {
        if (s_start_limit_hit (self, now)) {
            self->state = CAB_PROCESS_FATAL;
            cab_supervisor_event (supervisor, self, "exited", fields);
            char message[160];
            snprintf (message, sizeof message, "failed to start %d times within %lld s; giving up",
                      self->def->start_limit_burst,
                      (long long)(self->def->start_limit_interval_ms / 1000));
            cab_supervisor_log ("%s: FATAL: %s", self->name, message);
            json_t *fatal =
                json_pack ("{s:i, s:s}", "restarts", self->restarts, "message", message);
            if (!self->exit_signal)
                json_object_set_new (fatal, "exit_status", json_integer (self->exit_status));
            cab_supervisor_event (supervisor, self, "fatal", fatal);
            cab_supervisor_schedule (supervisor);
            return;
        }
        delay = self->backoff_ms;
        self->backoff_ms *= 2;
        if (self->backoff_ms > self->def->backoff_maximum_ms)
            self->backoff_ms = self->def->backoff_maximum_ms;
    }
    json_object_set_new (fields, "backoff_ms", json_integer (delay));
    cab_supervisor_event (supervisor, self, "exited", fields);
    cab_supervisor_log ("%s: restarting in %lld ms", self->name, (long long)delay);
    self->state = CAB_PROCESS_BACKOFF;
    self->timer = zloop_timer (supervisor->loop, (size_t)delay, 1, s_on_restart, self);
    cab_supervisor_schedule (supervisor);
}

//  ---------------------------------------------------------------------
//  Stop

static int
s_on_stop_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_process_t *self = (cab_process_t *)arg;
    self->timer = -1;
    if (self->pid > 0) {
        cab_supervisor_log ("%s: still running after %lld ms: SIGKILL to its process group",
                            self->name, (long long)self->def->stop_timeout_ms);
        kill (-self->pid, SIGKILL);
    }
    return self->supervisor->done ? -1 : 0;
}

void
cab_process_stop (cab_process_t *self)
{
    if (self->state == CAB_PROCESS_BACKOFF) {
        s_end_timer (self, &self->timer);
        self->state = CAB_PROCESS_STOPPED;
        return;
    }
    if (self->pid == 0 || self->state == CAB_PROCESS_STOPPING)
        return;
    cab_supervisor_log ("%s: stopping pid %d with SIG%s", self->name, (int)self->pid,
                        cab_supervisor_signal_name (self->def->stop_signal));
    self->state = CAB_PROCESS_STOPPING;
    s_end_timer (self, &self->health_timer);
    kill (-self->pid, self->def->stop_signal);
    kill (-self->pid, SIGCONT);
    s_end_timer (self, &self->timer);
    self->timer = zloop_timer (self->supervisor->loop, (size_t)self->def->stop_timeout_ms, 1,
                               s_on_stop_timeout, self);
}

void
cab_process_reset (cab_process_t *self)
{
    self->want = true;
    if (self->state == CAB_PROCESS_EXITED || self->state == CAB_PROCESS_FATAL)
        self->state = CAB_PROCESS_STOPPED;
    self->failure_count = 0;
    self->failure_next = 0;
    self->backoff_ms = self->def->backoff_initial_ms;
}

json_t *
cab_process_status (cab_process_t *self)
{
    json_t *status = json_pack ("{s:s, s:s, s:i, s:b}", "program", self->def->name, "state",
                                cab_process_state_name (self->state), "restarts", self->restarts,
                                "autostart", self->want);
    if (self->pid > 0) {
        json_object_set_new (status, "pid", json_integer (self->pid));
        json_object_set_new (status, "uptime",
                             json_real ((double)(zclock_mono () - self->started_at) / 1000.0));
    } else {
        json_object_set_new (status, "pid", json_null ());
        json_object_set_new (status, "uptime", json_null ());
    }
    if (self->exit_signal)
        json_object_set_new (status, "last_exit", json_pack ("{s:i}", "signal", self->exit_signal));
    else if (self->exit_status >= 0)
        json_object_set_new (status, "last_exit", json_pack ("{s:i}", "status", self->exit_status));
    else
        json_object_set_new (status, "last_exit", json_null ());
    return status;
}
