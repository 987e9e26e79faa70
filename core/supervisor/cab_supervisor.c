/*  =========================================================================
    cab_supervisor - the supervisor class: the loop, signals, scheduling in
    dependency order, reload, lifecycle events and the orphan guard.

    The orphan guard is a small process forked before anything else. It
    holds the read end of a pipe whose only writer is the supervisor, which
    tells it each process group it creates and reaps. When the supervisor
    dies, whatever the cause (SIGKILL included), the guard reads end of file
    and sends SIGKILL to every group still listed: grandchildren that
    PR_SET_PDEATHSIG does not reach go too.
    =========================================================================
*/
#include "cab_supervisor_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  Process groups the guard can remember.
#define S_GUARD_MAX 4096

void
cab_supervisor_log (const char *format, ...)
{
    char line[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    fprintf (stderr, "cabruca-supervisor: %s\n", line);
}

//  ---------------------------------------------------------------------
//  The orphan guard

typedef struct {
    int32_t add;
    int32_t pgid;
} s_guard_message_t;

static void
s_guard_main (int fd)
{
    signal (SIGINT, SIG_IGN);
    signal (SIGTERM, SIG_IGN);
    signal (SIGHUP, SIG_IGN);
    static pid_t groups[S_GUARD_MAX];
    size_t count = 0;
    s_guard_message_t message;
    while (true) {
        ssize_t size = read (fd, &message, sizeof message);
        if (size < 0 && errno == EINTR)
            continue;
        if (size != (ssize_t)sizeof message)
            break;
        if (message.add && count < S_GUARD_MAX)
            groups[count++] = message.pgid;
        else if (!message.add)
            for (size_t index = 0; index < count; index++)
                if (groups[index] == message.pgid) {
                    groups[index] = groups[--count];
                    break;
                }
    }
    for (size_t index = 0; index < count; index++)
        kill (-groups[index], SIGKILL);
    _exit (0);
}

static cab_status_t
s_guard_start (cab_supervisor_t *self, cab_error_t *error)
{
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) != 0)
        return cab_error_set (error, CAB_ERR_IO, NULL, "pipe: %s", strerror (errno));
    pid_t pid = fork ();
    if (pid < 0) {
        close (fds[0]);
        close (fds[1]);
        return cab_error_set (error, CAB_ERR_IO, NULL, "fork: %s", strerror (errno));
    }
    if (pid == 0) {
        int fd = fds[0];
        if (fd != 3) {
            dup2 (fd, 3);
            fd = 3;
        }
        close_range (4, ~0U, 0);
        s_guard_main (fd);
    }
    close (fds[0]);
    self->guard_fd = fds[1];
    self->guard_pid = pid;
    return CAB_OK;
}

void
cab_supervisor_guard (cab_supervisor_t *self, pid_t pgid, bool add)
{
    if (self->guard_fd < 0)
        return;
    s_guard_message_t message = {add ? 1 : 0, (int32_t)pgid};
    if (write (self->guard_fd, &message, sizeof message) != (ssize_t)sizeof message)
        cab_supervisor_log ("cannot tell the orphan guard: %s", strerror (errno));
}

//  ---------------------------------------------------------------------
//  Lifecycle events

void
cab_supervisor_event (cab_supervisor_t *self, cab_process_t *process, const char *state,
                      json_t *fields)
{
    if (!self->client && !self->events_file) {
        json_decref (fields);
        return;
    }
    cab_event_t *event = cab_event_new ("cabruca.supervisor", "Agent Lifecycle", NULL);
    const char *agent_id =
        self->config->broker_agent_id ? self->config->broker_agent_id : "supervisor";
    json_t *detail = event ? cab_event_detail (event) : NULL;
    if (!detail || cab_event_set_agent_id (event, agent_id) != CAB_OK ||
        json_object_set_new (detail, "state", json_string (state)) ||
        json_object_set_new (detail, "program", json_string (process->name)) ||
        (fields && json_object_update (detail, fields))) {
        cab_supervisor_log ("out of memory for a lifecycle event");
        json_decref (fields);
        cab_event_destroy (&event);
        return;
    }
    json_decref (fields);
    if (self->events_file) {
        const char *text = cab_event_text (event, NULL);
        if (text) {
            fprintf (self->events_file, "%s\n", text);
            fflush (self->events_file);
        }
    }
    if (self->client) {
        cab_error_t error;
        if (cab_client_publish (self->client, &event, 0, &error) != CAB_OK) {
            self->events_dropped++;
            cab_supervisor_log ("lifecycle event dropped (%llu so far): %s",
                                (unsigned long long)self->events_dropped, error.text);
        }
    }
    cab_event_destroy (&event);
}

static int
s_on_client (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_supervisor_t *self = (cab_supervisor_t *)arg;
    cab_client_poll (self->client, 0);
    return 0;
}

//  ---------------------------------------------------------------------
//  Processes

static cab_status_t
s_add_program (cab_supervisor_t *self, cab_program_def_t *def)
{
    for (int instance = 1; instance <= def->instances; instance++) {
        if (self->process_count == CAB_SUPERVISOR_MAX_PROCESSES)
            return CAB_ERR_BUSY;
        cab_process_t *process = cab_process_new (self, def, def->instances > 1 ? instance : 0);
        if (!process)
            return CAB_ERR_NOMEM;
        self->processes[self->process_count++] = process;
    }
    return CAB_OK;
}

static bool
s_depends (cab_process_t *process, const char *program)
{
    for (size_t index = 0; index < process->def->depends_count; index++)
        if (strcmp (process->def->depends_on[index], program) == 0)
            return true;
    return false;
}

static bool
s_should_stop (cab_supervisor_t *self, cab_process_t *process)
{
    return self->shutting_down || process->removed || !process->want;
}

//  A process may start when every program it depends on is ready (or has
//  exited successfully and is not to be restarted: a one-shot).
static bool
s_dependencies_ready (cab_supervisor_t *self, cab_process_t *process)
{
    for (size_t edge = 0; edge < process->def->depends_count; edge++) {
        bool found = false;
        for (size_t index = 0; index < self->process_count; index++) {
            cab_process_t *other = self->processes[index];
            if (other->removed || strcmp (other->def->name, process->def->depends_on[edge]) != 0)
                continue;
            found = true;
            if (!(other->state == CAB_PROCESS_RUNNING ||
                  (other->state == CAB_PROCESS_EXITED && other->exit_status == 0)))
                return false;
        }
        if (!found)
            return false;
    }
    return true;
}

static int
s_on_wake (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_supervisor_t *self = (cab_supervisor_t *)arg;
    cab_supervisor_schedule (self);
    return self->done ? -1 : 0;
}

//  One pass; returns true when it changed something.
static bool
s_schedule_pass (cab_supervisor_t *self)
{
    bool changed = false;
    //  Removed processes go once they are idle.
    for (size_t index = 0; index < self->process_count;) {
        cab_process_t *process = self->processes[index];
        if (process->removed && cab_process_idle (process)) {
            cab_process_destroy (&process);
            memmove (self->processes + index, self->processes + index + 1,
                     (self->process_count - index - 1) * sizeof (cab_process_t *));
            self->process_count--;
            changed = true;
        } else
            index++;
    }
    //  Stop, dependents first.
    for (size_t index = 0; index < self->process_count; index++) {
        cab_process_t *process = self->processes[index];
        if (!s_should_stop (self, process))
            continue;
        if (process->state == CAB_PROCESS_BACKOFF) {
            cab_process_stop (process);
            changed = true;
            continue;
        }
        if (process->state != CAB_PROCESS_STARTING && process->state != CAB_PROCESS_RUNNING)
            continue;
        bool wait = false;
        for (size_t other = 0; other < self->process_count && !wait; other++) {
            cab_process_t *dependent = self->processes[other];
            wait = dependent != process && dependent->pid > 0 && s_should_stop (self, dependent) &&
                   s_depends (dependent, process->def->name);
        }
        if (!wait) {
            cab_process_stop (process);
            changed = true;
        }
    }
    //  Start, dependencies first.
    int64_t now = zclock_mono ();
    for (size_t index = 0; index < self->process_count && !self->shutting_down; index++) {
        cab_process_t *process = self->processes[index];
        if (process->removed || !process->want || process->state != CAB_PROCESS_STOPPED ||
            process->pid != 0 || !s_dependencies_ready (self, process))
            continue;
        bool predecessor = false;  //  the old version of a changed program still runs
        for (size_t other = 0; other < self->process_count; other++)
            predecessor |= self->processes[other]->removed &&
                           !cab_process_idle (self->processes[other]) &&
                           strcmp (self->processes[other]->name, process->name) == 0;
        if (predecessor)
            continue;
        if (process->started_at && now - process->started_at < CAB_SUPERVISOR_MIN_RESTART_MS) {
            zloop_timer (self->loop,
                         (size_t)(CAB_SUPERVISOR_MIN_RESTART_MS - (now - process->started_at)) + 1,
                         1, s_on_wake, self);
            continue;
        }
        if (cab_process_spawn (process) != CAB_OK)
            cab_process_exited (process, 127 << 8);
        changed = true;
    }
    return changed;
}

void
cab_supervisor_schedule (cab_supervisor_t *self)
{
    //  Called again from inside a pass (a spawn that fails, ...): the
    //  outer call makes one more pass instead.
    if (self->scheduling) {
        self->schedule_again = true;
        return;
    }
    self->scheduling = true;
    for (int round = 0; round < 64; round++) {
        self->schedule_again = false;
        if (!s_schedule_pass (self) && !self->schedule_again)
            break;
    }
    self->scheduling = false;
    if (self->shutting_down) {
        bool idle = true;
        for (size_t index = 0; index < self->process_count; index++)
            idle &= cab_process_idle (self->processes[index]);
        self->done = idle;
    }
}

//  ---------------------------------------------------------------------
//  Reload

cab_status_t
cab_supervisor_reload (cab_supervisor_t *self, cab_error_t *error)
{
    cab_supervisor_config_t *config = cab_supervisor_config_load (self->config_path, error);
    if (!config)
        return error ? error->code : CAB_ERR_INVALID_CONFIG;
    size_t kept = 0, changed = 0, removed = 0, added = 0;
    size_t old_count = self->process_count;
    //  Old processes: keep the unchanged, mark the rest removed.
    for (size_t index = 0; index < old_count; index++) {
        cab_process_t *process = self->processes[index];
        if (process->removed)
            continue;
        cab_program_def_t *def = cab_supervisor_config_find (config, process->def->name);
        if (def && json_equal (def->normalized, process->def->normalized)) {
            cab_program_def_unref (&process->def);
            process->def = cab_program_def_ref (def);
            kept++;
        } else {
            process->removed = true;
            if (def)
                changed++;
            else
                removed++;
        }
    }
    //  New processes for added and changed programs.
    for (size_t index = 0; index < config->program_count; index++) {
        cab_program_def_t *def = config->programs[index];
        bool present = false;
        for (size_t other = 0; other < old_count; other++)
            present |= !self->processes[other]->removed && self->processes[other]->def == def;
        if (present)
            continue;
        if (s_add_program (self, def) != CAB_OK)
            cab_supervisor_log ("reload: cannot add %s: too many processes", def->name);
        added++;
    }
    cab_supervisor_config_t *old = self->config;
    //  Settings other than the programs are read at start only.
    free (config->run_dir);
    config->run_dir = old->run_dir;
    old->run_dir = NULL;
    free (config->log_dir);
    config->log_dir = old->log_dir;
    old->log_dir = NULL;
    self->config = config;
    cab_supervisor_config_destroy (&old);
    cab_supervisor_log ("reloaded %s: %zu unchanged, %zu changed, %zu removed, %zu added processes",
                        self->config_path, kept, changed, removed, added - changed);
    cab_supervisor_schedule (self);
    return CAB_OK;
}

//  ---------------------------------------------------------------------
//  Signals

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    cab_supervisor_t *self = (cab_supervisor_t *)arg;
    struct signalfd_siginfo info;
    while (read (self->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo == SIGCHLD) {
            int status;
            pid_t pid;
            while ((pid = waitpid (-1, &status, WNOHANG)) > 0) {
                if (pid == self->guard_pid) {
                    cab_supervisor_log ("the orphan guard died");
                    self->guard_pid = 0;
                    close (self->guard_fd);
                    self->guard_fd = -1;
                    continue;
                }
                for (size_t index = 0; index < self->process_count; index++)
                    if (self->processes[index]->pid == pid) {
                        cab_process_exited (self->processes[index], status);
                        break;
                    }
            }
        } else if (info.ssi_signo == SIGHUP) {
            cab_error_t error;
            char text[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
            if (cab_supervisor_reload (self, &error) != CAB_OK)
                cab_supervisor_log ("reload refused, nothing changed: %s: %s", self->config_path,
                                    cab_error_format (&error, text, sizeof text));
        } else if (!self->shutting_down) {
            cab_supervisor_log ("%s: stopping every program", strsignal ((int)info.ssi_signo));
            self->shutting_down = true;
        }
    }
    cab_supervisor_schedule (self);
    return self->done ? -1 : 0;
}

//  ---------------------------------------------------------------------
//  The class

cab_supervisor_t *
cab_supervisor_new (const char *config_path, cab_supervisor_config_t **config_p, cab_error_t *error)
{
    cab_supervisor_config_t *config = *config_p;
    *config_p = NULL;
    cab_supervisor_t *self = (cab_supervisor_t *)calloc (1, sizeof *self);
    if (!self || !(self->config_path = strdup (config_path)) ||
        !(self->processes =
              (cab_process_t **)calloc (CAB_SUPERVISOR_MAX_PROCESSES, sizeof (cab_process_t *)))) {
        if (self)
            free (self->config_path);
        free (self);
        cab_supervisor_config_destroy (&config);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->config = config;
    self->signal_fd = -1;
    self->guard_fd = -1;
    self->client_timer = -1;
    if (mkdir (config->run_dir, 0700) != 0 && errno != EEXIST) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot create %s: %s", config->run_dir,
                       strerror (errno));
        cab_supervisor_destroy (&self);
        return NULL;
    }
    if (s_guard_start (self, error) != CAB_OK || !(self->loop = zloop_new ())) {
        if (error && error->code == CAB_OK)
            cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        cab_supervisor_destroy (&self);
        return NULL;
    }
    zloop_set_nonstop (self->loop, true);
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGCHLD);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGHUP);
    self->signal_fd = signalfd (-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (self->signal_fd < 0) {
        cab_error_set (error, CAB_ERR_IO, NULL, "signalfd: %s", strerror (errno));
        cab_supervisor_destroy (&self);
        return NULL;
    }
    zmq_pollitem_t item = {NULL, self->signal_fd, ZMQ_POLLIN, 0};
    zloop_poller (self->loop, &item, s_on_signal, self);
    if (cab_control_start (self, error) != CAB_OK) {
        cab_supervisor_destroy (&self);
        return NULL;
    }
    if (config->events_file && !(self->events_file = fopen (config->events_file, "ae"))) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot open %s: %s", config->events_file,
                       strerror (errno));
        cab_supervisor_destroy (&self);
        return NULL;
    }
    if (config->broker_endpoint) {
        self->client = cab_client_new (config->broker_endpoint, config->broker_agent_id, error);
        if (!self->client) {
            cab_supervisor_destroy (&self);
            return NULL;
        }
        cab_client_set_window (self->client, CAB_SUPERVISOR_EVENT_QUEUE);
        self->client_timer = zloop_timer (self->loop, 200, 0, s_on_client, self);
    }
    for (size_t index = 0; index < config->program_count; index++)
        if (s_add_program (self, config->programs[index]) != CAB_OK) {
            cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/programs",
                           "more than %d processes in all", CAB_SUPERVISOR_MAX_PROCESSES);
            cab_supervisor_destroy (&self);
            return NULL;
        }
    return self;
}

void
cab_supervisor_destroy (cab_supervisor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_supervisor_t *self = *self_p;
    for (size_t index = 0; index < self->process_count; index++) {
        cab_process_t *process = self->processes[index];
        if (process->pid > 0) {
            kill (-process->pid, SIGKILL);
            waitpid (process->pid, NULL, 0);
            cab_supervisor_guard (self, process->pid, false);
            process->pid = 0;
        }
        cab_process_destroy (&process);
    }
    free (self->processes);
    if (self->client) {
        cab_client_flush (self->client, 1000, NULL);
        cab_client_destroy (&self->client);
    }
    if (self->events_file)
        fclose (self->events_file);
    cab_control_stop (self);
    zloop_destroy (&self->loop);
    if (self->signal_fd >= 0)
        close (self->signal_fd);
    if (self->guard_fd >= 0)
        close (self->guard_fd);
    if (self->guard_pid > 0)
        waitpid (self->guard_pid, NULL, 0);
    cab_supervisor_config_destroy (&self->config);
    free (self->config_path);
    free (self);
    *self_p = NULL;
}

cab_status_t
cab_supervisor_run (cab_supervisor_t *self)
{
    cab_supervisor_schedule (self);
    if (self->done)
        return CAB_OK;
    int rc = zloop_start (self->loop);
    return rc == 0 || self->done ? CAB_OK : CAB_ERR_IO;
}

const char *
cab_supervisor_endpoint (cab_supervisor_t *self)
{
    return self->control_endpoint;
}
