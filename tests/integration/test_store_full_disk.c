/*  =========================================================================
    test_store_full_disk - the event store on a disk that fills up, and on
    a file system that turns read-only

    Mounts a 2 MiB tmpfs in a mkdtemp directory (needs root: skipped with
    exit status 77 and the reason otherwise), fills it with events until
    the store answers CAB_ERR_STORE_UNAVAILABLE, frees space and checks that
    the next append succeeds and that every event acknowledged before is
    still there, also after a reopen. Then remounts the file system
    read-only: opening for writing gives CAB_ERR_STORE_UNAVAILABLE, readers
    still read; back to read-write, the store opens and appends again.
    =========================================================================
*/
#include "cab_store.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define SKIP        77
#define BATCH       20
#define EVENT_BYTES 1024

static int s_failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            s_failures++;                                                                          \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

//  Append events first..first+BATCH-1 in one batch.
static cab_status_t
s_append_batch (cab_store_t *store, int first, cab_error_t *error)
{
    static char texts[BATCH][EVENT_BYTES + 1];
    static char ids[BATCH][64];
    cab_store_item_t items[BATCH];
    memset (items, 0, sizeof items);
    for (int i = 0; i < BATCH; i++) {
        snprintf (ids[i], sizeof ids[i], "0190a0b0-0000-7000-8000-%012d", first + i);
        int length = snprintf (texts[i], sizeof texts[i], "{\"id\":\"%s\",\"pad\":\"", ids[i]);
        memset (texts[i] + length, 'x', EVENT_BYTES - length - 2);
        memcpy (texts[i] + EVENT_BYTES - 2, "\"}", 3);
        items[i].id = ids[i];
        items[i].source = "cabruca.test";
        items[i].detail_type = "Full Disk";
        items[i].time_ms = 1800000000000 + first + i;
        items[i].text = texts[i];
        items[i].length = EVENT_BYTES;
    }
    return cab_store_append (store, items, BATCH, error);
}

//  Every event 1..acked is stored once, with its own id.
static int
s_all_there (cab_store_t *store, int64_t acked)
{
    for (int64_t seq = 1; seq <= acked; seq++) {
        char *text = NULL;
        size_t length = 0;
        if (cab_store_get_seq (store, seq, &text, &length, NULL) != CAB_OK)
            return 0;
        char id[64];
        snprintf (id, sizeof id, "0190a0b0-0000-7000-8000-%012lld", (long long)seq);
        int ok = length == EVENT_BYTES && strstr (text, id) != NULL;
        free (text);
        if (!ok)
            return 0;
    }
    return 1;
}

int
main (void)
{
    if (geteuid () != 0) {
        printf ("SKIP: mounting a small tmpfs needs root\n");
        return SKIP;
    }
    char dir[] = "/tmp/cab-full-disk-XXXXXX";
    if (!mkdtemp (dir)) {
        printf ("SKIP: mkdtemp: %s\n", strerror (errno));
        return SKIP;
    }
    if (mount ("tmpfs", dir, "tmpfs", 0, "size=2m") != 0) {
        printf ("SKIP: cannot mount a tmpfs on %s: %s\n", dir, strerror (errno));
        rmdir (dir);
        return SKIP;
    }
    char path[128], filler[128];
    snprintf (path, sizeof path, "%s/events.db", dir);
    snprintf (filler, sizeof filler, "%s/filler", dir);
    cab_error_t error;
    cab_store_t *store = NULL, *reader = NULL;
    int64_t acked = 0;

    //  Half the disk is a file we delete later to make room.
    int fd = open (filler, O_WRONLY | O_CREAT, 0600);
    CHECK (fd >= 0);
    static char block[4096];
    for (int i = 0; i < 256; i++)
        CHECK (write (fd, block, sizeof block) == (ssize_t)sizeof block);
    close (fd);

    store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    CHECK (store);
    cab_status_t status = CAB_OK;
    for (int round = 0; round < 500 && status == CAB_OK; round++) {
        status = s_append_batch (store, (int)acked + 1, &error);
        if (status == CAB_OK)
            acked += BATCH;
    }
    printf ("acknowledged %lld events before the disk filled: %s\n", (long long)acked, error.text);
    CHECK (status == CAB_ERR_STORE_UNAVAILABLE);
    CHECK (error.code == CAB_ERR_STORE_UNAVAILABLE);
    CHECK (strstr (error.text, "full") != NULL);
    CHECK (acked > 0);
    //  Still full: still refused, nothing half-written.
    CHECK (s_append_batch (store, (int)acked + 1, &error) == CAB_ERR_STORE_UNAVAILABLE);
    CHECK (cab_store_count (store) == acked);
    CHECK (cab_store_last_seq (store) == acked);
    CHECK (s_all_there (store, acked));

    //  Space returns: the next append succeeds, with the next seq.
    CHECK (unlink (filler) == 0);
    CHECK (s_append_batch (store, (int)acked + 1, &error) == CAB_OK);
    acked += BATCH;
    CHECK (cab_store_count (store) == acked);
    CHECK (s_all_there (store, acked));
    cab_store_destroy (&store);

    store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    CHECK (store);
    CHECK (cab_store_count (store) == acked);
    CHECK (s_all_there (store, acked));
    cab_store_destroy (&store);

    //  A read-only file system: no writer, a clear error; readers read.
    CHECK (mount (NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
    store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    CHECK (store == NULL);
    printf ("read-only: %s\n", error.text);
    CHECK (error.code == CAB_ERR_STORE_UNAVAILABLE);
    CHECK (mount (NULL, dir, NULL, MS_REMOUNT, NULL) == 0);
    store = cab_store_new (path, CAB_STORE_NORMAL, &error);
    CHECK (store);
    CHECK (s_append_batch (store, (int)acked + 1, &error) == CAB_OK);
    acked += BATCH;
    reader = cab_store_new_readonly (path, &error);
    CHECK (reader);
    CHECK (cab_store_count (reader) == acked);

done:
    cab_store_destroy (&reader);
    cab_store_destroy (&store);
    if (umount (dir) != 0) {
        fprintf (stderr, "umount %s: %s\n", dir, strerror (errno));
        s_failures++;
    } else
        rmdir (dir);
    printf ("%s\n", s_failures ? "FAIL" : "PASS");
    return s_failures ? 1 : 0;
}
