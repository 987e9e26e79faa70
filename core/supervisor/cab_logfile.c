/*  =========================================================================
    cab_logfile - a log file with size-based rotation (see cab_logfile.h)
    =========================================================================
*/
#include "cab_logfile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _cab_logfile_t {
    char *path;  //  DIR/NAME.log
    int fd;
    int64_t size;
    int64_t max_bytes;
    int keep;
};

static int
s_open (cab_logfile_t *self)
{
    self->fd = open (self->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (self->fd < 0)
        return -1;
    struct stat info;
    self->size = fstat (self->fd, &info) == 0 ? (int64_t)info.st_size : 0;
    return 0;
}

cab_logfile_t *
cab_logfile_new (const char *dir, const char *name, int64_t max_bytes, int keep, cab_error_t *error)
{
    if (mkdir (dir, 0750) != 0 && errno != EEXIST) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot create %s: %s", dir, strerror (errno));
        return NULL;
    }
    cab_logfile_t *self = (cab_logfile_t *)calloc (1, sizeof *self);
    size_t size = strlen (dir) + strlen (name) + 8;
    if (!self || !(self->path = (char *)malloc (size))) {
        free (self);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    snprintf (self->path, size, "%s/%s.log", dir, name);
    self->max_bytes = max_bytes;
    self->keep = keep;
    if (s_open (self) != 0) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot open %s: %s", self->path, strerror (errno));
        cab_logfile_destroy (&self);
    }
    return self;
}

void
cab_logfile_destroy (cab_logfile_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_logfile_t *self = *self_p;
    if (self->fd >= 0)
        close (self->fd);
    free (self->path);
    free (self);
    *self_p = NULL;
}

static void
s_rotate (cab_logfile_t *self)
{
    if (self->fd >= 0)
        close (self->fd);
    self->fd = -1;
    size_t size = strlen (self->path) + 16;
    char from[size], to[size];
    if (self->keep == 0)
        unlink (self->path);
    for (int index = self->keep; index >= 1; index--) {
        snprintf (to, size, "%s.%d", self->path, index);
        if (index == 1)
            snprintf (from, size, "%s", self->path);
        else
            snprintf (from, size, "%s.%d", self->path, index - 1);
        rename (from, to);  //  missing files are fine
    }
    s_open (self);
}

cab_status_t
cab_logfile_write (cab_logfile_t *self, const void *data, size_t size)
{
    if (self->fd < 0 || (self->size > 0 && self->size + (int64_t)size > self->max_bytes))
        s_rotate (self);
    if (self->fd < 0)
        return CAB_ERR_IO;
    const char *cursor = (const char *)data;
    while (size > 0) {
        ssize_t written = write (self->fd, cursor, size);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return CAB_ERR_IO;
        cursor += written;
        size -= (size_t)written;
        self->size += written;
    }
    return CAB_OK;
}

int64_t
cab_logfile_size (cab_logfile_t *self)
{
    return self->size;
}
