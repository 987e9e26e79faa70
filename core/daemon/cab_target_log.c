/*  =========================================================================
    cab_target_log - the "log" backend: JSON lines appended to a file

    Each task's payload and "\n" is appended to target->path (O_APPEND),
    creating the parent directories (mode 0750) and the file (0640) as
    needed. Payloads are compact JSON from the broker; a raw line break
    inside one (an input template written over several lines) would split
    the record, so each CR or LF byte is replaced by a space before writing:
    for JSON that is the same document (a raw line break can only be
    whitespace between tokens), for plain text it keeps one line.

    Lines are written in batches: a task waits until the sender's reactor
    comes round again (a zero-delay zloop timer, which runs before the
    reactor reads its pipe again), and then the lines of every waiting task
    for one path go out in one writev (up to S_IOV_LINES lines a call), in
    the order the tasks started. One system call instead of one per line
    was most of routing's cost to a log target. A task waits at most for
    the rest of the burst the sender is reading (S_BATCH_MAX tasks at most).

    Rotation by size: when the file is not empty and a line would take it
    past target->max_bytes (0: never rotate), path.(keep-1) becomes
    path.keep, ..., path.1 becomes path.2, path becomes path.1 (the oldest
    is dropped by the rename) and a new file starts; keep 0 truncates the
    file instead. A batch's writes stop at each such line, so no file goes
    past max_bytes (but a single line longer than it). The size is read
    with fstat before each batch, so an external truncation (logrotate's
    copytruncate) is seen; a file deleted under us is reopened.

    Open files are shared between targets with the same path: one
    descriptor per path, at most S_FILES_MAX kept open (the least recently
    used is closed). A write that fails (ENOSPC, EACCES, EIO...) is undone
    (the file is truncated back to its size before that write) and every
    task of it and after it in the batch is reported as CAB_ERR_IO,
    retryable; the file is reopened next time. Lines written before the
    failure are reported delivered.
    =========================================================================
*/
#include "cab_target.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_FILES_MAX 64
#define S_IOV_LINES 512   //  lines per writev: two iovecs each, IOV_MAX 1024
#define S_BATCH_MAX 1024  //  tasks waiting for a write at most

typedef struct {
    char *path;
    int fd;
    uint64_t used;  //  LRU stamp
} s_file_t;

typedef struct {
    cab_target_env_t env;
    zhashx_t *files;  //  path -> s_file_t
    uint64_t clock;
    cab_target_task_t **pending;  //  tasks waiting for the next write, in order
    cab_target_task_t **group;    //  scratch: one path's tasks of a batch
    size_t pending_count, pending_max;
    int flush_timer;  //  the zero-delay timer, 0 when none
} s_log_t;

static void
s_file_destroy (void **item_p)
{
    s_file_t *file = (s_file_t *)*item_p;
    if (file) {
        if (file->fd >= 0)
            close (file->fd);
        free (file->path);
        free (file);
        *item_p = NULL;
    }
}

//  Create the parent directories of path. Returns 0 or an errno value.
static int
s_mkdirs (const char *path)
{
    char buffer[PATH_MAX];
    size_t length = strlen (path);
    if (length >= sizeof buffer)
        return ENAMETOOLONG;
    memcpy (buffer, path, length + 1);
    for (char *slash = strchr (buffer + 1, '/'); slash; slash = strchr (slash + 1, '/')) {
        *slash = '\0';
        if (mkdir (buffer, 0750) != 0 && errno != EEXIST) {
            int saved = errno;
            struct stat st;
            if (stat (buffer, &st) != 0 || !S_ISDIR (st.st_mode))
                return saved;
        }
        *slash = '/';
    }
    return 0;
}

static int
s_open_fd (const char *path)
{
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT) {
        int rc = s_mkdirs (path);
        if (rc) {
            errno = rc;
            return -1;
        }
        fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    }
    return fd;
}

static void
s_evict (s_log_t *self)
{
    s_file_t *oldest = NULL;
    for (s_file_t *file = (s_file_t *)zhashx_first (self->files); file;
         file = (s_file_t *)zhashx_next (self->files))
        if (!oldest || file->used < oldest->used)
            oldest = file;
    if (oldest)
        zhashx_delete (self->files, oldest->path);
}

//  The open file for path, or NULL with errno set.
static s_file_t *
s_file (s_log_t *self, const char *path)
{
    s_file_t *file = (s_file_t *)zhashx_lookup (self->files, path);
    if (!file) {
        if (zhashx_size (self->files) >= S_FILES_MAX)
            s_evict (self);
        file = (s_file_t *)calloc (1, sizeof *file);
        if (!file || !(file->path = strdup (path))) {
            free (file);
            errno = ENOMEM;
            return NULL;
        }
        file->fd = -1;
        zhashx_insert (self->files, path, file);
    }
    if (file->fd < 0)
        file->fd = s_open_fd (path);
    if (file->fd < 0) {
        int saved = errno;
        zhashx_delete (self->files, path);
        errno = saved;
        return NULL;
    }
    file->used = ++self->clock;
    return file;
}

//  Rotate path; file->fd is the new, empty file afterwards (or -1).
static int
s_rotate (s_file_t *file, int keep)
{
    if (keep <= 0)
        return ftruncate (file->fd, 0) == 0 ? 0 : errno;
    size_t length = strlen (file->path) + 16;
    char *from = (char *)malloc (length), *to = (char *)malloc (length);
    int rc = 0;
    if (!from || !to)
        rc = ENOMEM;
    for (int index = keep - 1; rc == 0 && index >= 1; index--) {
        snprintf (from, length, "%s.%d", file->path, index);
        snprintf (to, length, "%s.%d", file->path, index + 1);
        if (rename (from, to) != 0 && errno != ENOENT)
            rc = errno;
    }
    if (rc == 0) {
        snprintf (to, length, "%s.1", file->path);
        if (rename (file->path, to) != 0)
            rc = errno;
    }
    free (from);
    free (to);
    if (rc == 0) {
        close (file->fd);
        file->fd = s_open_fd (file->path);
        if (file->fd < 0)
            rc = errno;
    }
    return rc;
}

//  Write all of parts[0..count) at the end of fd, whose size was old_size.
//  Returns 0, or an errno value after truncating fd back to old_size (no
//  partial line is left behind).
static int
s_write_all (int fd, struct iovec *parts, int count, int64_t old_size)
{
    while (count > 0) {
        ssize_t put = writev (fd, parts, count);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            int saved = put < 0 ? errno : EIO;
            if (ftruncate (fd, (off_t)old_size) != 0)
                saved = saved ? saved : errno;
            return saved;
        }
        //  After a short write, continue where it stopped.
        size_t left = (size_t)put;
        while (count > 0 && left >= parts->iov_len) {
            left -= parts->iov_len;
            parts++;
            count--;
        }
        if (count > 0) {
            parts->iov_base = (char *)parts->iov_base + left;
            parts->iov_len -= left;
        }
    }
    return 0;
}

//  Does a line of `line` bytes start a new file at `size`?
static bool
s_rotates (const cab_rule_target_t *target, int64_t size, int64_t line)
{
    return target->max_bytes > 0 && size > 0 && size + line > target->max_bytes;
}

//  Append the lines of tasks[0..count), all for `path`, in order; each
//  job's outcome is set (done is not called).
static void
s_write_path (s_log_t *self, const char *path, cab_target_task_t **tasks, size_t count)
{
    const char *what = "open";
    struct stat st;
    s_file_t *file = s_file (self, path);
    int rc = file ? 0 : errno;
    if (rc == 0) {
        what = "stat";
        if (fstat (file->fd, &st) != 0)
            rc = errno;
        else if (st.st_nlink == 0) {
            //  Deleted under us: start a new file.
            close (file->fd);
            file->fd = s_open_fd (path);
            what = "open";
            if (file->fd < 0 || fstat (file->fd, &st) != 0)
                rc = errno;
        }
    }
    int64_t size = rc == 0 ? (int64_t)st.st_size : 0;
    size_t index = 0;
    while (rc == 0 && index < count) {
        const cab_send_job_t *job = tasks[index]->job;
        if (s_rotates (job->target, size, (int64_t)job->size + 1)) {
            what = "rotate";
            if ((rc = s_rotate (file, job->target->keep)) != 0)
                break;
            size = 0;
        }
        //  One writev: lines up to the next that rotates.
        struct iovec parts[2 * S_IOV_LINES];
        size_t first = index, lines = 0;
        int64_t end = size;
        while (index < count && lines < S_IOV_LINES) {
            job = tasks[index]->job;
            int64_t line = (int64_t)job->size + 1;
            if (lines > 0 && s_rotates (job->target, end, line))
                break;
            parts[2 * lines].iov_base = (char *)(job->payload ? job->payload : "");
            parts[2 * lines].iov_len = job->size;
            parts[2 * lines + 1].iov_base = (char *)"\n";
            parts[2 * lines + 1].iov_len = 1;
            end += line;
            lines++;
            index++;
        }
        what = "write";
        if ((rc = s_write_all (file->fd, parts, (int)(2 * lines), size)) != 0) {
            index = first;
            break;
        }
        for (size_t done = first; done < index; done++) {
            cab_send_job_t *written = tasks[done]->job;
            written->status = CAB_OK;
            written->permanent = false;
            written->error[0] = '\0';
        }
        size = end;
    }
    for (; index < count; index++)
        cab_target_fail (tasks[index]->job, CAB_ERR_IO, false, "%s %s: %s", what, path,
                         strerror (rc));
    if (rc)
        zhashx_delete (self->files, path);  //  reopen next time
}

//  Write every waiting task's line, then report them all.
static void
s_flush (s_log_t *self)
{
    cab_target_task_t **batch = self->pending, **tasks = self->group;
    size_t count = self->pending_count, max = self->pending_max, taken = 0;
    //  Group by path, in order (into tasks); the writes all happen before
    //  the first done, which may start new tasks.
    for (size_t first = 0; first < count; first++) {
        if (!batch[first])
            continue;  //  taken with an earlier path
        const char *path = batch[first]->job->target->path;
        size_t group = taken;
        for (size_t index = first; index < count; index++) {
            const char *other = batch[index] ? batch[index]->job->target->path : NULL;
            if (other && (other == path || streq (other, path))) {
                tasks[taken++] = batch[index];
                batch[index] = NULL;
            }
        }
        s_write_path (self, path, tasks + group, taken - group);
    }
    self->pending = self->group = NULL;
    self->pending_count = self->pending_max = 0;
    for (size_t index = 0; index < count; index++)
        self->env.done (tasks[index], self->env.arg);
    if (!self->pending && !self->group) {  //  no new task while reporting: keep the arrays
        self->pending = batch;
        self->group = tasks;
        self->pending_max = max;
    } else {
        free (batch);
        free (tasks);
    }
}

static int
s_on_flush (zloop_t *loop, int timer_id, void *arg)
{
    s_log_t *self = (s_log_t *)arg;
    self->flush_timer = 0;
    s_flush (self);
    return 0;
}

//  Each byte of text[0..size) equal to byte becomes a space.
static void
s_blank (char *text, size_t size, char byte)
{
    for (char *at = (char *)memchr (text, byte, size); at;
         at = (char *)memchr (at + 1, byte, size - (size_t)(at + 1 - text)))
        *at = ' ';
}

//  Queue a task for the next write; false when out of memory.
static bool
s_push (s_log_t *self, cab_target_task_t *task)
{
    if (self->pending_count == self->pending_max) {
        size_t max = self->pending_max ? self->pending_max * 2 : 64;
        cab_target_task_t **pending =
            (cab_target_task_t **)realloc (self->pending, max * sizeof *pending);
        if (!pending)
            return false;
        self->pending = pending;
        cab_target_task_t **group =
            (cab_target_task_t **)realloc (self->group, max * sizeof *group);
        if (!group)
            return false;
        self->group = group;
        self->pending_max = max;
    }
    self->pending[self->pending_count++] = task;
    return true;
}

static void
s_log_start (void *state, cab_target_task_t *task)
{
    s_log_t *self = (s_log_t *)state;
    cab_send_job_t *job = task->job;
    const cab_rule_target_t *target = job->target;
    if (!target->path || target->path[0] != '/') {
        cab_target_fail (job, CAB_ERR_INVALID_ARGUMENT, true, "log target without absolute path");
        self->env.done (task, self->env.arg);
        return;
    }
    //  One line per event (memchr: a byte loop here was the sender's
    //  largest cost per 1 KB line). A borrowed payload is not ours to
    //  change: one with line breaks is copied first.
    size_t size = job->payload ? job->size : 0;
    bool breaks =
        size > 0 && (memchr (job->payload, '\n', size) || memchr (job->payload, '\r', size));
    if (breaks && job->payload != job->owned) {
        char *copy = (char *)malloc (size + 1);
        if (!copy) {
            cab_target_fail (job, CAB_ERR_NOMEM, false, "out of memory in the log target");
            self->env.done (task, self->env.arg);
            return;
        }
        memcpy (copy, job->payload, size);
        copy[size] = 0;
        job->owned = copy;
        job->payload = copy;
    }
    if (breaks) {
        s_blank (job->owned, size, '\n');
        s_blank (job->owned, size, '\r');
    }
    if (!s_push (self, task)) {
        cab_target_fail (job, CAB_ERR_NOMEM, false, "out of memory in the log target");
        self->env.done (task, self->env.arg);
        return;
    }
    if (self->pending_count >= S_BATCH_MAX)
        s_flush (self);
    else if (!self->flush_timer) {
        int id = zloop_timer (self->env.loop, 0, 1, s_on_flush, self);
        if (id > 0)
            self->flush_timer = id;
        else
            s_flush (self);
    }
}

static void *
s_log_create (const cab_target_env_t *env)
{
    s_log_t *self = (s_log_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    self->files = zhashx_new ();
    if (!self->files) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->files, s_file_destroy);
    return self;
}

static void
s_log_destroy (void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_log_t *self = (s_log_t *)*state_p;
    if (self->flush_timer)
        zloop_timer_end (self->env.loop, self->flush_timer);
    //  Tasks waiting for their write are abandoned.
    for (size_t index = 0; index < self->pending_count; index++) {
        cab_target_task_t *task = self->pending[index];
        cab_target_fail (task->job, CAB_ERR_DISCONNECTED, false, "log target stopped");
        self->env.done (task, self->env.arg);
    }
    free (self->pending);
    free (self->group);
    zhashx_destroy (&self->files);
    free (self);
    *state_p = NULL;
}

const cab_target_ops_t cab_target_log_ops = {
    "log", CAB_TARGET_LOG, 0, s_log_create, s_log_destroy, s_log_start,
};
