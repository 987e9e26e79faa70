/*  =========================================================================
    cab_target_command - the "command" backend: a program, the event on stdin

    Each task runs target->argv with posix_spawnp (PATH search, no shell) in
    a process group of its own, with default signal dispositions and an
    empty signal mask, every descriptor above 2 closed, stdout on /dev/null,
    stdin a pipe the sender fills without blocking (POLLOUT on the zloop),
    stderr a pipe whose first CAB_TARGET_EXCERPT_MAX bytes are kept for the
    error text. The exit is seen through a pidfd (Linux 5.3+) and reaped at
    once: no zombie is left.

      exit 0                   CAB_OK (even if the child did not read all of
                               stdin: EPIPE just ends the writing)
      exit N                   CAB_ERR_TARGET_FAILED "exit N: <stderr>"
      killed by a signal       CAB_ERR_TARGET_FAILED "killed by signal N (NAME): ..."
      past timeout_ms          SIGTERM to the group, SIGKILL 1 s later;
                               CAB_ERR_TIMEOUT
      cannot start             CAB_ERR_IO "cannot run 'prog': <errno text>"

    None of these is permanent: the program may be fixed and the delivery
    redriven.
    =========================================================================
*/
#include "cab_target.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

typedef struct _s_proc_t s_proc_t;
typedef struct _s_command_t s_command_t;

struct _s_command_t {
    cab_target_env_t env;
    s_proc_t *procs;  //  running children
    int reap_timer;   //  polls children that have no pidfd, 0 when none
};

#define S_REAP_INTERVAL 10  //  ms between waitid polls without a pidfd

struct _s_proc_t {
    s_command_t *owner;
    cab_target_task_t *task;
    pid_t pid;
    int pidfd, in_fd, err_fd;  //  -1 when closed
    size_t written;            //  payload bytes written to stdin
    char excerpt[CAB_TARGET_EXCERPT_MAX];
    size_t excerpt_size;
    int timeout_timer, kill_timer;  //  zloop timer ids, 0 when none
    int timeout_ms;
    bool timed_out;
    bool killed;     //  SIGKILL sent after the grace
    bool abandoned;  //  the sender is stopping
    s_proc_t *prev, *next;
};

static void
s_poller_add (s_command_t *self, int fd, short events, zloop_fn *handler, void *arg)
{
    zmq_pollitem_t item = {NULL, fd, events, 0};
    zloop_poller (self->env.loop, &item, handler, arg);
    zloop_poller_set_tolerant (self->env.loop, &item);
}

static void
s_close_fd (s_command_t *self, int *fd_p)
{
    if (*fd_p < 0)
        return;
    zmq_pollitem_t item = {NULL, *fd_p, 0, 0};
    zloop_poller_end (self->env.loop, &item);
    close (*fd_p);
    *fd_p = -1;
}

//  A write to a pipe whose reader is gone raises SIGPIPE, blocked in this
//  thread: take it off the pending set.
static void
s_consume_sigpipe (void)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait (&set, NULL, &zero) == SIGPIPE)
        ;
}

static void
s_read_stderr (s_proc_t *proc)
{
    char chunk[4096];
    while (proc->err_fd >= 0) {
        ssize_t got = read (proc->err_fd, chunk, sizeof chunk);
        if (got > 0) {
            size_t room = sizeof proc->excerpt - proc->excerpt_size;
            size_t keep = (size_t)got < room ? (size_t)got : room;
            memcpy (proc->excerpt + proc->excerpt_size, chunk, keep);
            proc->excerpt_size += keep;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        s_close_fd (proc->owner, &proc->err_fd);  //  EOF or error
    }
}

static void
s_signal_name (int signo, char *buffer, size_t size)
{
    const char *name = NULL;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    name = sigabbrev_np (signo);
#endif
    if (name)
        snprintf (buffer, size, " (SIG%s)", name);
    else
        buffer[0] = '\0';
}

static void
s_finish (s_proc_t *proc, int wstatus, bool reaped)
{
    s_command_t *self = proc->owner;
    cab_send_job_t *job = proc->task->job;
    char excerpt[200] = "";
    cab_target_excerpt (excerpt, sizeof excerpt, proc->excerpt, proc->excerpt_size);
    const char *sep = excerpt[0] ? ": " : "";
    if (proc->abandoned)
        cab_target_fail (job, CAB_ERR_DISCONNECTED, false, "abandoned: the sender stopped");
    else if (proc->timed_out)
        cab_target_fail (job, CAB_ERR_TIMEOUT, false, "timed out after %d ms (%s)%s%s",
                         proc->timeout_ms, proc->killed ? "SIGKILL" : "SIGTERM", sep, excerpt);
    else if (!reaped)
        cab_target_fail (job, CAB_ERR_TARGET_FAILED, false, "exit status lost (SIGCHLD ignored?)");
    else if (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 0) {
        job->status = CAB_OK;
        job->permanent = false;
        job->error[0] = '\0';
    } else if (WIFEXITED (wstatus))
        cab_target_fail (job, CAB_ERR_TARGET_FAILED, false, "exit %d%s%s", WEXITSTATUS (wstatus),
                         sep, excerpt);
    else {
        int signo = WIFSIGNALED (wstatus) ? WTERMSIG (wstatus) : 0;
        char name[32];
        s_signal_name (signo, name, sizeof name);
        cab_target_fail (job, CAB_ERR_TARGET_FAILED, false, "killed by signal %d%s%s%s", signo,
                         name, sep, excerpt);
    }
    //  Free everything before done: done may start the next task.
    s_close_fd (self, &proc->in_fd);
    s_close_fd (self, &proc->err_fd);
    s_close_fd (self, &proc->pidfd);
    if (proc->timeout_timer)
        zloop_timer_end (self->env.loop, proc->timeout_timer);
    if (proc->kill_timer)
        zloop_timer_end (self->env.loop, proc->kill_timer);
    if (proc->prev)
        proc->prev->next = proc->next;
    else
        self->procs = proc->next;
    if (proc->next)
        proc->next->prev = proc->prev;
    cab_target_task_t *task = proc->task;
    task->backend = NULL;
    free (proc);
    self->env.done (task, self->env.arg);
}

//  Reap the child (it has exited, or is about to after SIGKILL).
static void
s_reap (s_proc_t *proc, bool wait)
{
    s_read_stderr (proc);
    //  A timed-out child may have left others in its group: the zombie
    //  still holds the group id, so this cannot hit a stranger.
    if (proc->timed_out)
        kill (-proc->pid, SIGKILL);
    int wstatus = 0;
    pid_t got;
    do
        got = waitpid (proc->pid, &wstatus, wait ? 0 : WNOHANG);
    while (got < 0 && errno == EINTR);
    if (got == 0)
        got = waitpid (proc->pid, &wstatus, 0);  //  pidfd said exited: will not block long
    s_finish (proc, wstatus, got == proc->pid);
}

//  Pollers carry the backend and find the process by descriptor: a
//  process freed earlier in the same loop pass is then simply not found.
static s_proc_t *
s_by_fd (s_command_t *self, int fd)
{
    for (s_proc_t *proc = self->procs; proc; proc = proc->next)
        if (proc->pidfd == fd || proc->in_fd == fd || proc->err_fd == fd)
            return proc;
    return NULL;
}

static int
s_on_exit (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_proc_t *proc = s_by_fd ((s_command_t *)arg, item->fd);
    if (proc && proc->pidfd == item->fd)
        s_reap (proc, false);
    return 0;
}

static int
s_on_reap_timer (zloop_t *loop, int timer_id, void *arg)
{
    s_command_t *self = (s_command_t *)arg;
    bool waiting = false;
    s_proc_t *next;
    for (s_proc_t *proc = self->procs; proc; proc = next) {
        next = proc->next;  //  proc may be freed; new ones go to the head
        if (proc->pidfd >= 0)
            continue;
        siginfo_t info;
        memset (&info, 0, sizeof info);
        //  WNOWAIT: the zombie keeps holding the group id until s_reap.
        if (waitid (P_PID, (id_t)proc->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == 0) {
            waiting = true;
            continue;
        }
        s_reap (proc, true);
    }
    for (s_proc_t *proc = self->procs; proc && !waiting; proc = proc->next)
        waiting = proc->pidfd < 0;
    if (!waiting && self->reap_timer == timer_id) {
        zloop_timer_end (loop, timer_id);
        self->reap_timer = 0;
    }
    return 0;
}

static int
s_on_stderr (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_proc_t *proc = s_by_fd ((s_command_t *)arg, item->fd);
    if (proc && proc->err_fd == item->fd)
        s_read_stderr (proc);
    return 0;
}

static int
s_on_stdin (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_proc_t *proc = s_by_fd ((s_command_t *)arg, item->fd);
    if (!proc || proc->in_fd != item->fd)
        return 0;
    cab_send_job_t *job = proc->task->job;
    while (proc->in_fd >= 0 && proc->written < job->size) {
        size_t left = job->size - proc->written;
        ssize_t put = write (proc->in_fd, job->payload + proc->written, left);
        if (put > 0) {
            proc->written += (size_t)put;
            continue;
        }
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        //  EPIPE (the child closed stdin or exited) or another error: stop
        //  writing; the exit status decides.
        if (put < 0 && errno == EPIPE)
            s_consume_sigpipe ();
        break;
    }
    s_close_fd (proc->owner, &proc->in_fd);  //  all written: EOF for the child
    return 0;
}

//  Timers carry the backend, not the process: a process may end (and be
//  freed) in the same loop pass in which its timer is due.
static s_proc_t *
s_by_timer (s_command_t *self, int timer_id, bool kill_timer)
{
    for (s_proc_t *proc = self->procs; proc; proc = proc->next)
        if ((kill_timer ? proc->kill_timer : proc->timeout_timer) == timer_id)
            return proc;
    return NULL;
}

static int
s_on_kill (zloop_t *loop, int timer_id, void *arg)
{
    s_proc_t *proc = s_by_timer ((s_command_t *)arg, timer_id, true);
    if (!proc)
        return 0;
    proc->kill_timer = 0;
    proc->killed = true;
    kill (-proc->pid, SIGKILL);
    return 0;
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    s_proc_t *proc = s_by_timer ((s_command_t *)arg, timer_id, false);
    if (!proc)
        return 0;
    proc->timeout_timer = 0;
    proc->timed_out = true;
    kill (-proc->pid, SIGTERM);
    int id = zloop_timer (loop, CAB_TARGET_KILL_GRACE_MS, 1, s_on_kill, proc->owner);
    proc->kill_timer = id > 0 ? id : 0;
    if (!proc->kill_timer) {
        proc->killed = true;
        kill (-proc->pid, SIGKILL);
    }
    return 0;
}

static int
s_pipe (int fds[2], int nonblocking_end)
{
    if (pipe2 (fds, O_CLOEXEC) != 0)
        return -1;
    int flags = fcntl (fds[nonblocking_end], F_GETFL);
    if (flags < 0 || fcntl (fds[nonblocking_end], F_SETFL, flags | O_NONBLOCK) < 0) {
        close (fds[0]);
        close (fds[1]);
        return -1;
    }
    return 0;
}

//  Spawn the child; returns 0 or an errno value.
static int
s_spawn (s_proc_t *proc, char **argv, int in_read, int err_write)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init (&actions);
    if (rc)
        return rc;
    rc = posix_spawnattr_init (&attr);
    if (rc) {
        posix_spawn_file_actions_destroy (&actions);
        return rc;
    }
    sigset_t empty, defaults;
    sigemptyset (&empty);
    sigemptyset (&defaults);
    int signals[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                     SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM, SIGTSTP};
    for (size_t index = 0; index < sizeof signals / sizeof signals[0]; index++)
        sigaddset (&defaults, signals[index]);
    rc = posix_spawn_file_actions_adddup2 (&actions, in_read, STDIN_FILENO);
    if (!rc)
        rc = posix_spawn_file_actions_addopen (&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (!rc)
        rc = posix_spawn_file_actions_adddup2 (&actions, err_write, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np (&actions, 3);
#endif
    if (!rc)
        rc = posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnattr_setpgroup (&attr, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask (&attr, &empty);
    if (!rc)
        rc = posix_spawnattr_setsigdefault (&attr, &defaults);
    if (!rc)
        rc = posix_spawnp (&proc->pid, argv[0], &actions, &attr, argv, environ);
    posix_spawnattr_destroy (&attr);
    posix_spawn_file_actions_destroy (&actions);
    return rc;
}

static void
s_command_start (void *state, cab_target_task_t *task)
{
    s_command_t *self = (s_command_t *)state;
    cab_send_job_t *job = task->job;
    const cab_rule_target_t *target = job->target;
    if (!target->argv || target->argc == 0 || !target->argv[0]) {
        cab_target_fail (job, CAB_ERR_INVALID_ARGUMENT, true, "command target without argv");
        self->env.done (task, self->env.arg);
        return;
    }
    s_proc_t *proc = (s_proc_t *)calloc (1, sizeof *proc);
    int in[2] = {-1, -1}, err[2] = {-1, -1};
    int rc = 0;
    if (!proc)
        rc = ENOMEM;
    else if (s_pipe (in, 1) != 0 || s_pipe (err, 0) != 0)
        rc = errno;
    else
        rc = s_spawn (proc, target->argv, in[0], err[1]);
    if (in[0] >= 0)
        close (in[0]);
    if (err[1] >= 0)
        close (err[1]);
    if (rc) {
        if (in[1] >= 0)
            close (in[1]);
        if (err[0] >= 0)
            close (err[0]);
        free (proc);
        cab_target_fail (job, CAB_ERR_IO, false, "cannot run '%s': %s", target->argv[0],
                         strerror (rc));
        self->env.done (task, self->env.arg);
        return;
    }
    proc->owner = self;
    proc->task = task;
    proc->in_fd = in[1];
    proc->err_fd = err[0];
    proc->timeout_ms = target->timeout_ms > 0 ? target->timeout_ms : CAB_TARGET_DEFAULT_TIMEOUT_MS;
    task->backend = proc;
    proc->next = self->procs;
    if (self->procs)
        self->procs->prev = proc;
    self->procs = proc;
#ifdef SYS_pidfd_open
    proc->pidfd = (int)syscall (SYS_pidfd_open, proc->pid, 0);
#else
    proc->pidfd = -1;
#endif
    if (proc->pidfd >= 0)
        s_poller_add (self, proc->pidfd, ZMQ_POLLIN, s_on_exit, self);
    else if (!self->reap_timer) {
        //  No pidfd (a kernel before 5.3, valgrind): poll with waitid.
        int id = zloop_timer (self->env.loop, S_REAP_INTERVAL, 0, s_on_reap_timer, self);
        self->reap_timer = id > 0 ? id : 0;
    }
    s_poller_add (self, proc->err_fd, ZMQ_POLLIN, s_on_stderr, self);
    if (job->size > 0)
        s_poller_add (self, proc->in_fd, ZMQ_POLLOUT, s_on_stdin, self);
    else
        s_close_fd (self, &proc->in_fd);
    int id = zloop_timer (self->env.loop, (size_t)proc->timeout_ms, 1, s_on_timeout, self);
    proc->timeout_timer = id > 0 ? id : 0;
}

static void *
s_command_create (const cab_target_env_t *env)
{
    s_command_t *self = (s_command_t *)calloc (1, sizeof *self);
    if (self)
        self->env = *env;
    return self;
}

static void
s_command_destroy (void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_command_t *self = (s_command_t *)*state_p;
    while (self->procs) {
        s_proc_t *proc = self->procs;
        proc->abandoned = true;
        proc->timed_out = true;  //  s_reap kills the whole group
        s_reap (proc, true);
    }
    if (self->reap_timer)
        zloop_timer_end (self->env.loop, self->reap_timer);
    free (self);
    *state_p = NULL;
}

const cab_target_ops_t cab_target_command_ops = {
    "command",        CAB_TARGET_COMMAND, CAB_TARGET_COMMAND_MAX_ACTIVE,
    s_command_create, s_command_destroy,  s_command_start,
};
