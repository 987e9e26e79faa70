/*  =========================================================================
    cab_target_log - the "log" backend: JSON lines appended to a file

    Each task appends the payload and "\n" to target->path in one write
    (O_APPEND), creating the parent directories (mode 0750) and the file
    (0640) as needed. Payloads are compact JSON from the broker; a raw line
    break inside one (an input template written over several lines) would
    split the record, so each CR or LF byte is replaced by a space before
    writing: for JSON that is the same document (a raw line break can only
    be whitespace between tokens), for plain text it keeps one line.

    Rotation by size: when the file is not empty and the line would take it
    past target->max_bytes (0: never rotate), path.(keep-1) becomes
    path.keep, ..., path.1 becomes path.2, path becomes path.1 (the oldest
    is dropped by the rename) and a new file starts; keep 0 truncates the
    file instead. The size is read with fstat before each write, so an
    external truncation (logrotate's copytruncate) is seen; a file deleted
    under us is reopened.

    Open files are shared between targets with the same path: one
    descriptor per path, at most S_FILES_MAX kept open (the least recently
    used is closed). A write that fails (ENOSPC, EACCES, EIO...) is undone
    (the file is truncated back to its old size) and reported as
    CAB_ERR_IO, retryable; the file is reopened next time.
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

typedef struct {
    char *path;
    int fd;
    uint64_t used;  //  LRU stamp
} s_file_t;

typedef struct {
    cab_target_env_t env;
    zhashx_t *files;  //  path -> s_file_t
    uint64_t clock;
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

//  Append one line; returns 0 or an errno value (with *what set).
static int
s_append (s_log_t *self, const cab_rule_target_t *target, char *payload, size_t size,
          const char **what)
{
    *what = "open";
    s_file_t *file = s_file (self, target->path);
    if (!file)
        return errno;
    struct stat st;
    *what = "stat";
    if (fstat (file->fd, &st) != 0)
        return errno;
    if (st.st_nlink == 0) {
        //  Deleted under us: start a new file.
        close (file->fd);
        file->fd = s_open_fd (target->path);
        *what = "open";
        if (file->fd < 0 || fstat (file->fd, &st) != 0)
            return errno;
    }
    int64_t old_size = (int64_t)st.st_size;
    if (target->max_bytes > 0 && old_size > 0 && old_size + (int64_t)size + 1 > target->max_bytes) {
        *what = "rotate";
        int rc = s_rotate (file, target->keep);
        if (rc)
            return rc;
        old_size = 0;
    }
    //  One line per event (memchr: a byte loop here was the sender's
    //  largest cost per 1 KB line).
    for (const char *breaks = "\n\r"; *breaks; breaks++)
        for (char *at = (char *)memchr (payload, *breaks, size); at;
             at = (char *)memchr (at + 1, *breaks, size - (size_t)(at + 1 - payload)))
            *at = ' ';
    struct iovec parts[2] = {{payload, size}, {(void *)"\n", 1}};
    size_t total = size + 1, done = 0;
    *what = "write";
    while (done < total) {
        struct iovec *part = parts;
        int count = 2;
        //  After a short write, continue where it stopped.
        if (done >= size) {
            parts[1].iov_base = (char *)"\n" + (done - size);
            parts[1].iov_len = total - done;
            part = parts + 1;
            count = 1;
        } else {
            parts[0].iov_base = payload + done;
            parts[0].iov_len = size - done;
        }
        ssize_t put = writev (file->fd, part, count);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0) {
            int saved = put < 0 ? errno : EIO;
            //  Leave no partial line behind.
            if (ftruncate (file->fd, (off_t)old_size) != 0)
                saved = saved ? saved : errno;
            return saved;
        }
        done += (size_t)put;
    }
    return 0;
}

static void
s_log_start (void *state, cab_target_task_t *task)
{
    s_log_t *self = (s_log_t *)state;
    cab_send_job_t *job = task->job;
    const cab_rule_target_t *target = job->target;
    if (!target->path || target->path[0] != '/')
        cab_target_fail (job, CAB_ERR_INVALID_ARGUMENT, true, "log target without absolute path");
    else {
        const char *what = "";
        int rc =
            s_append (self, target, job->payload ? job->payload : (char *)"", job->size, &what);
        if (rc) {
            cab_target_fail (job, CAB_ERR_IO, false, "%s %s: %s", what, target->path,
                             strerror (rc));
            zhashx_delete (self->files, target->path);  //  reopen next time
        } else {
            job->status = CAB_OK;
            job->permanent = false;
            job->error[0] = '\0';
        }
    }
    self->env.done (task, self->env.arg);
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
    zhashx_destroy (&self->files);
    free (self);
    *state_p = NULL;
}

const cab_target_ops_t cab_target_log_ops = {
    "log", CAB_TARGET_LOG, 0, s_log_create, s_log_destroy, s_log_start,
};
