/*  =========================================================================
    agent_util - running programs and keeping state for the shipped agents
    =========================================================================
*/
#include "agent_util.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long
now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

long long
mono_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int
run_start (run_t *self, char *const argv[], const char *directory, const char *log_path,
           size_t max_output, long long timeout_ms)
{
    memset (self, 0, sizeof *self);
    self->output_fd = self->log_fd = -1;
    self->max_output = max_output;
    self->output = (char *)calloc (1, max_output + 1);
    int pipe_fds[2];
    if (!self->output || pipe2 (pipe_fds, O_CLOEXEC) != 0) {
        free (self->output);
        self->output = NULL;
        return -1;
    }
    if (log_path) {
        self->log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (self->log_fd < 0) {
            int saved = errno;
            close (pipe_fds[0]);
            close (pipe_fds[1]);
            free (self->output);
            self->output = NULL;
            errno = saved;
            return -1;
        }
    }
    pid_t pid = fork ();
    if (pid < 0) {
        int saved = errno;
        close (pipe_fds[0]);
        close (pipe_fds[1]);
        run_release (self);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        //  The child: its own process group, so a timeout kills all of it.
        setpgid (0, 0);
        int null_fd = open ("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2 (null_fd, 0);
        dup2 (pipe_fds[1], 1);
        dup2 (pipe_fds[1], 2);
        signal (SIGPIPE, SIG_DFL);
        if (directory && chdir (directory) != 0) {
            fprintf (stderr, "cannot enter %s: %s\n", directory, strerror (errno));
            _exit (126);
        }
        execvp (argv[0], argv);
        fprintf (stderr, "cannot run %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    setpgid (pid, pid);
    close (pipe_fds[1]);
    self->pid = pid;
    self->output_fd = pipe_fds[0];
    fcntl (self->output_fd, F_SETFL, O_NONBLOCK);
    self->started_ms = mono_ms ();
    self->deadline_ms = self->started_ms + timeout_ms;
    return 0;
}

static void
s_drain (run_t *self)
{
    char buffer[8192];
    while (self->output_fd >= 0) {
        ssize_t got = read (self->output_fd, buffer, sizeof buffer);
        if (got > 0) {
            size_t keep = self->max_output - self->output_size;
            if (keep > (size_t)got)
                keep = (size_t)got;
            memcpy (self->output + self->output_size, buffer, keep);
            self->output_size += keep;
            self->output[self->output_size] = '\0';
            if (self->log_fd >= 0 && write (self->log_fd, buffer, (size_t)got) != got) {
                close (self->log_fd);  //  A full disk stops the copy, not the run
                self->log_fd = -1;
            }
        } else if (got == 0) {
            close (self->output_fd);
            self->output_fd = -1;
        } else if (errno != EINTR)
            break;
    }
}

bool
run_poll (run_t *self)
{
    if (self->done)
        return true;
    s_drain (self);
    if (!self->timed_out && mono_ms () >= self->deadline_ms) {
        self->timed_out = true;
        kill (-self->pid, SIGTERM);
        self->deadline_ms = mono_ms () + 2000;  //  Then SIGKILL
    } else if (self->timed_out && mono_ms () >= self->deadline_ms)
        kill (-self->pid, SIGKILL);
    int status;
    pid_t pid = waitpid (self->pid, &status, WNOHANG);
    if (pid == self->pid) {
        //  Whatever the group left in the pipe, then done. Members of the
        //  group still holding the pipe are killed: the run is over.
        kill (-self->pid, SIGKILL);
        s_drain (self);
        if (self->output_fd >= 0) {
            close (self->output_fd);
            self->output_fd = -1;
        }
        self->done = true;
        self->exit_status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
    }
    return self->done;
}

int
run_wait (char *const argv[], const char *directory, char **output_p, size_t max_output,
          long long timeout_ms)
{
    run_t run;
    if (run_start (&run, argv, directory, NULL, max_output, timeout_ms) != 0)
        return -1;
    while (!run_poll (&run)) {
        struct pollfd fd = {.fd = run.output_fd, .events = POLLIN};
        poll (&fd, run.output_fd >= 0 ? 1 : 0, 50);
    }
    int status = run.timed_out ? -1 : run.exit_status;
    if (output_p) {
        *output_p = run.output;
        run.output = NULL;
    }
    run_release (&run);
    return status;
}

void
run_release (run_t *self)
{
    if (self->pid > 0 && !self->done) {
        kill (-self->pid, SIGKILL);
        waitpid (self->pid, NULL, 0);
    }
    if (self->output_fd >= 0)
        close (self->output_fd);
    if (self->log_fd >= 0)
        close (self->log_fd);
    free (self->output);
    memset (self, 0, sizeof *self);
    self->output_fd = self->log_fd = -1;
}

json_t *
state_load (const char *path, const char *agent)
{
    json_error_t error;
    json_t *state = json_load_file (path, JSON_REJECT_DUPLICATES, &error);
    if (!state) {
        if (access (path, F_OK) != 0 && errno == ENOENT)
            return json_object ();
        fprintf (stderr, "cabruca-%s: state %s: %s\n", agent, path, error.text);
        return NULL;
    }
    if (!json_is_object (state)) {
        fprintf (stderr, "cabruca-%s: state %s: not a JSON object\n", agent, path);
        json_decref (state);
        return NULL;
    }
    return state;
}

int
state_save (const char *path, const json_t *state, const char *agent)
{
    char temporary[4200];
    if (snprintf (temporary, sizeof temporary, "%s.tmp", path) >= (int)sizeof temporary)
        return -1;
    int fd = open (temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *text = json_dumps (state, JSON_COMPACT | JSON_SORT_KEYS);
    bool ok = fd >= 0 && text;
    size_t length = text ? strlen (text) : 0;
    if (ok)
        ok = write (fd, text, length) == (ssize_t)length && write (fd, "\n", 1) == 1 &&
             fsync (fd) == 0;
    if (fd >= 0)
        ok = close (fd) == 0 && ok;
    free (text);
    if (ok)
        ok = rename (temporary, path) == 0;
    if (!ok) {
        fprintf (stderr, "cabruca-%s: cannot save state to %s: %s\n", agent, path,
                 strerror (errno));
        unlink (temporary);
        return -1;
    }
    return 0;
}
