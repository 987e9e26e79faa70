/*  =========================================================================
    cab_store_cache - drop-behind: the database file's old pages leave the
    operating system's page cache once they are on the disk

    The events table and its indexes grow at the end of the database file;
    a page far behind the end is full and is seldom read again (a query of
    old history reads it back once). Left to the kernel, every page the
    checkpoints write stays cached until memory runs short, so a broker
    that stores gigabytes keeps taking fresh pages for its cache. On a
    virtual machine whose host backs guest memory only when it is first
    touched and takes free memory back (free page reporting, as Firecracker
    and other microVMs do), each fresh page costs a fault in the host: a
    plain loop of 4 KB writes to a new file on this machine costs 3.5 times
    the CPU once its cache has grown past about 1 GB (docs/performance.md,
    "Drop-behind"). Dropping what lies behind the file's newest keep bytes
    (after the checkpointer's sync: the pages are clean) gives those pages
    back to the kernel, which hands them out again for the next ones.

    posix_fadvise needs a descriptor of the file. Opening one of our own is
    not safe: closing it would release every POSIX lock this process holds
    on the file (SQLite's included). So we use one SQLite already has open,
    found by its device and inode among /proc/self/fd. A descriptor that
    another thread closes (and the number reused) between the check and the
    call makes the advice go to another file: it only drops clean cached
    pages there. Each part of the file is dropped once, when it falls out of
    the tail: pages read back later (old history) stay cached.
    =========================================================================
*/
#include "cab_store.h"
#include "cab_store_private.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Bytes that must have fallen out of the tail before a call drops them:
//  one look through /proc/self/fd per this much growth.
#define S_DROP_STEP (4 << 20)

//  A descriptor of this process open on the regular file (dev, ino), or -1
//  (none, or no /proc).
static int
s_find_fd (dev_t dev, ino_t ino)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    int own = dirfd (dir);
    int found = -1;
    struct dirent *entry;
    while (found < 0 && (entry = readdir (dir))) {
        char *end = NULL;
        long fd = strtol (entry->d_name, &end, 10);
        if (end == entry->d_name || *end || fd < 0 || fd == own)
            continue;
        struct stat st;
        if (fstat ((int)fd, &st) == 0 && S_ISREG (st.st_mode) && st.st_dev == dev &&
            st.st_ino == ino)
            found = (int)fd;
    }
    closedir (dir);
    return found;
}

cab_status_t
cab_store_drop_cache (cab_store_t *self, int64_t keep_bytes, int64_t *dropped_p, cab_error_t *error)
{
    if (dropped_p)
        *dropped_p = 0;
    if (!self || (self->readonly && !self->checkpointer) || keep_bytes < 0)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_store_drop_cache: not a write or checkpointer handle, or a "
                              "negative size");
    struct stat st;
    if (stat (self->path, &st) != 0)
        return cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL, "store %s: %s", self->path,
                              strerror (errno));
    int64_t end = (int64_t)st.st_size - keep_bytes;
    if (end < self->cache_dropped_to)
        self->cache_dropped_to = end > 0 ? end : 0;  //  The file shrank
    if (end - self->cache_dropped_to < S_DROP_STEP)
        return CAB_OK;
    int fd = s_find_fd (st.st_dev, st.st_ino);
    if (fd < 0)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL,
                              "store %s: no descriptor of it found in /proc/self/fd", self->path);
    int rc = posix_fadvise (fd, (off_t)self->cache_dropped_to,
                            (off_t)(end - self->cache_dropped_to), POSIX_FADV_DONTNEED);
    if (rc != 0)
        return cab_error_set (error, CAB_ERR_IO, NULL, "store %s: posix_fadvise: %s", self->path,
                              strerror (rc));
    if (dropped_p)
        *dropped_p = end - self->cache_dropped_to;
    self->cache_dropped_to = end;
    return CAB_OK;
}
