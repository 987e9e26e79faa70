/*  =========================================================================
    test_cab_store_checkpoint - WAL checkpoints in the commit or off it

    The store's checkpoint API (automatic checkpoints on and off, the log's
    size, a checkpointer handle) and the broker writer's policy built on it
    (cab_broker_checkpoint.c: a checkpointer thread fed by pokes, the last
    pages copied by the writer so that the log restarts), on real SQLite
    files in a mkdtemp directory. Drop-behind (cab_store_drop_cache, and
    the checkpointer calling it) is checked with mincore on the file.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "cab-ckpt"
#include "store_fixture.h"

//  Events of about 3 KB: each fills most of a log page.
#define S_TEXT 3000

//  Append events first..first+count-1 as one batch.
static cab_status_t
s_append (cab_store_t *store, int first, size_t count, cab_error_t *error)
{
    char (*texts)[S_TEXT + 200] = calloc (count, sizeof *texts);
    char (*ids)[40] = calloc (count, sizeof *ids);
    cab_store_item_t *items = calloc (count, sizeof *items);
    ck_assert_ptr_nonnull (texts);
    ck_assert_ptr_nonnull (ids);
    ck_assert_ptr_nonnull (items);
    for (size_t i = 0; i < count; i++) {
        int n = first + (int)i;
        snprintf (ids[i], sizeof ids[i], "0190a0b0-0000-7000-8000-%012d", n);
        int length =
            snprintf (texts[i], sizeof texts[i],
                      "{\"id\":\"%s\",\"source\":\"cabruca.test\",\"detail\":{\"pad\":\"%0*d\"}}",
                      ids[i], S_TEXT - 100, n);
        items[i].id = ids[i];
        items[i].source = "cabruca.test";
        items[i].detail_type = "Test Event";
        items[i].agent_id = "agent";
        items[i].correlation_id = ids[i];
        items[i].time_ms = 1800000000000 + n;
        items[i].text = texts[i];
        items[i].length = (size_t)length;
    }
    cab_status_t status = cab_store_append (store, items, count, error);
    free (items);
    free (ids);
    free (texts);
    return status;
}

//  Append batches of 50 until the log holds at least pages pages; returns
//  the next event number.
static int
s_fill (cab_store_t *store, int first, int64_t pages)
{
    cab_error_t error;
    while (cab_store_wal_pages (store) < pages) {
        ck_assert_int_eq (s_append (store, first, 50, &error), CAB_OK);
        first += 50;
    }
    return first;
}

START_TEST (test_commits_without_checkpoints)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_ge (cab_store_wal_pages (store), 0);  //  Creating the schema commits
    ck_assert_int_eq (cab_store_wal_pages (NULL), -1);
    ck_assert_int_eq (cab_store_set_auto_checkpoint (store, false), CAB_OK);
    //  Past the automatic threshold, nothing was copied: the log only grew.
    int next = s_fill (store, 1, CAB_STORE_CHECKPOINT_PAGES + 200);
    int64_t before = cab_store_wal_pages (store);
    cab_store_t *checkpointer = cab_store_new_checkpointer (s_path, &error);
    ck_assert_ptr_nonnull (checkpointer);
    int64_t log = 0, done = 0;
    ck_assert_int_eq (cab_store_checkpoint (checkpointer, &log, &done, &error), CAB_OK);
    ck_assert_int_eq (log, before);
    ck_assert_int_eq (done, before);
    //  Everything was copied: the next commit starts the log again.
    ck_assert_int_eq (s_append (store, next, 10, &error), CAB_OK);
    ck_assert_int_lt (cab_store_wal_pages (store), 100);
    //  Every event is there (read through the checkpointer handle).
    ck_assert_int_eq (cab_store_count (checkpointer), next - 1 + 10);
    cab_store_destroy (&checkpointer);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_automatic_checkpoints)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    //  The commit that takes the log past the threshold copies it all.
    int next = s_fill (store, 1, CAB_STORE_CHECKPOINT_PAGES);
    cab_store_t *checkpointer = cab_store_new_checkpointer (s_path, &error);
    ck_assert_ptr_nonnull (checkpointer);
    int64_t log = 0, done = 0;
    ck_assert_int_eq (cab_store_checkpoint (checkpointer, &log, &done, &error), CAB_OK);
    ck_assert_int_ge (log, CAB_STORE_CHECKPOINT_PAGES);
    ck_assert_int_eq (done, log);
    ck_assert_int_eq (s_append (store, next, 10, &error), CAB_OK);
    ck_assert_int_lt (cab_store_wal_pages (store), 100);
    //  Below the threshold, the log keeps what was committed.
    ck_assert_int_eq (s_append (store, next + 10, 10, &error), CAB_OK);
    ck_assert_int_gt (cab_store_wal_pages (store), 10);
    cab_store_destroy (&checkpointer);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_handles_that_cannot)
{
    cab_error_t error;
    //  No file: nothing is created.
    ck_assert_ptr_null (cab_store_new_checkpointer (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
    struct stat info;
    ck_assert_int_ne (stat (s_path, &info), 0);
    ck_assert_ptr_null (cab_store_new_checkpointer (NULL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);

    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (s_append (store, 1, 5, &error), CAB_OK);
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    cab_store_t *checkpointer = cab_store_new_checkpointer (s_path, &error);
    ck_assert_ptr_nonnull (reader);
    ck_assert_ptr_nonnull (checkpointer);
    //  A reader cannot checkpoint; only a writer chooses its checkpoints.
    int64_t log = 7, done = 7;
    ck_assert_int_eq (cab_store_checkpoint (reader, &log, &done, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (log, 0);
    ck_assert_int_eq (done, 0);
    ck_assert_int_eq (cab_store_checkpoint (NULL, NULL, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_set_auto_checkpoint (reader, false), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_set_auto_checkpoint (checkpointer, false),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_set_auto_checkpoint (NULL, false), CAB_ERR_INVALID_ARGUMENT);
    //  A checkpointer writes no rows.
    ck_assert_int_eq (s_append (checkpointer, 100, 1, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_count (checkpointer), 5);
    //  The writer may checkpoint itself; a checkpoint with nothing to copy
    //  is a success.
    ck_assert_int_eq (cab_store_checkpoint (store, &log, &done, &error), CAB_OK);
    ck_assert_int_eq (done, log);
    ck_assert_int_eq (cab_store_checkpoint (checkpointer, &log, &done, &error), CAB_OK);
    ck_assert_int_eq (done, log);
    //  Syncing the database file: a writer or a checkpointer, not a reader.
    ck_assert_int_eq (cab_store_sync_database (checkpointer, &error), CAB_OK);
    ck_assert_int_eq (cab_store_sync_database (store, &error), CAB_OK);
    ck_assert_int_eq (cab_store_sync_database (reader, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_sync_database (NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&checkpointer);
    cab_store_destroy (&reader);
    cab_store_destroy (&store);
}
END_TEST

//  The broker writer's policy: the log stays bounded and restarts while
//  batches keep coming, with the copying done by the checkpointer thread.
START_TEST (test_writer_policy_bounds_the_log)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    cabi_checkpoints_t checkpoints;
    ck_assert_int_eq (cabi_checkpoints_start (&checkpoints, store, 0, &error), CAB_OK);
    ck_assert_ptr_nonnull (checkpoints.actor);
    checkpoints.poke_pages = 40;
    checkpoints.restart_pages = 400;
    int64_t most = 0, previous = 0, written = 0;
    int restarts = 0, next = 1;
    for (int batch = 0; batch < 300; batch++) {
        ck_assert_int_eq (s_append (store, next, 20, &error), CAB_OK);
        next += 20;
        int64_t pages = cab_store_wal_pages (store);
        if (pages < previous) {
            restarts++;
            written += previous;
        }
        previous = pages;
        most = pages > most ? pages : most;
        cabi_checkpoints_after_commit (&checkpoints, store);
        //  Past the bound, batches come at most every 20 ms, as from a
        //  broker that is not saturated: the writer tries its finishing
        //  copy again each millisecond meanwhile (BUSY while the
        //  checkpointer still copies, which on a loaded disk can take
        //  longer than a whole run of unpaced batches).
        for (int tries = 0; tries < 20 && cab_store_wal_pages (store) >= 400; tries++) {
            zclock_sleep (1);
            cabi_checkpoints_after_commit (&checkpoints, store);
        }
    }
    //  The log restarted again and again and never held more than a small
    //  part of what went through it: 400 pages, plus the batches committed
    //  while the checkpointer finished a copy and the writer's own tries
    //  were BUSY (how many depends on the machine's load).
    written += previous;
    ck_assert_int_ge (restarts, 3);
    ck_assert_int_ge (most, 400);
    ck_assert_int_lt (most, written / 3);
    //  Each restart followed a finishing copy of the writer's, which waited
    //  for the checkpointer to leave it at most finish_pages pages (forced:
    //  it did not before the log was finish_slack pages past the bound; not
    //  here, where the checkpointer has 20 ms between batches).
    printf ("writer policy: %d restarts, %" PRId64 " finishing copies, %" PRId64 " forced\n",
            restarts, checkpoints.finishes, checkpoints.forced);
    ck_assert_int_ge (checkpoints.finishes, restarts);
    ck_assert_int_eq (checkpoints.forced, 0);
    cabi_checkpoints_idle (&checkpoints, store);
    cabi_checkpoints_stop (&checkpoints, store);
    ck_assert_ptr_null (checkpoints.actor);
    cabi_checkpoints_stop (&checkpoints, store);  //  Twice is harmless
    ck_assert_int_eq (cab_store_count (store), next - 1);
    cab_store_destroy (&store);
    //  Every event is in the database once the last handle closed.
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    ck_assert_ptr_nonnull (reader);
    ck_assert_int_eq (cab_store_count (reader), next - 1);
    cab_store_destroy (&reader);
}
END_TEST

//  A reader that holds its snapshot keeps every checkpoint from copying
//  past it: the writer does not wait for the checkpointer beyond
//  finish_slack pages past the bound, and once the reader lets go the log
//  restarts.
typedef struct {
    cab_store_t *store;
    cabi_checkpoints_t *checkpoints;
    int next;
    int64_t most;
} s_held_t;

static int
s_while_held (const cab_store_record_t *record, void *arg)
{
    (void)record;
    s_held_t *held = (s_held_t *)arg;
    cab_error_t error;
    for (int batch = 0; batch < 60; batch++) {
        ck_assert_int_eq (s_append (held->store, held->next, 20, &error), CAB_OK);
        held->next += 20;
        int64_t pages = cab_store_wal_pages (held->store);
        held->most = pages > held->most ? pages : held->most;
        cabi_checkpoints_after_commit (held->checkpoints, held->store);
        zclock_sleep (2);
    }
    return 1;  //  One record is enough: the snapshot was held meanwhile
}

START_TEST (test_writer_policy_slack)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (s_append (store, 1, 1, &error), CAB_OK);
    cabi_checkpoints_t checkpoints;
    ck_assert_int_eq (cabi_checkpoints_start (&checkpoints, store, 0, &error), CAB_OK);
    checkpoints.poke_pages = 40;
    checkpoints.restart_pages = 200;
    checkpoints.finish_slack = 100;
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    ck_assert_ptr_nonnull (reader);
    s_held_t held = {store, &checkpoints, 2, 0};
    ck_assert_int_eq (cab_store_scan_seq (reader, 1, 1, 1, s_while_held, &held, &error), CAB_OK);
    //  60 batches of 20 events of 3 KB: far past 300 pages. Nothing could be
    //  copied past the reader's snapshot, so every finishing copy from 300
    //  pages on was forced (and the log could not restart).
    ck_assert_int_gt (held.most, 300);
    ck_assert_int_gt (checkpoints.forced, 0);
    ck_assert_int_eq (checkpoints.forced, checkpoints.finishes);
    //  The reader let go: the next commits restart the log.
    int64_t before = cab_store_wal_pages (store);
    int next = held.next;
    bool restarted = false;
    for (int batch = 0; batch < 50 && !restarted; batch++) {
        ck_assert_int_eq (s_append (store, next, 20, &error), CAB_OK);
        next += 20;
        restarted = cab_store_wal_pages (store) < before;
        cabi_checkpoints_after_commit (&checkpoints, store);
        zclock_sleep (5);
    }
    ck_assert (restarted);
    cab_store_destroy (&reader);
    cabi_checkpoints_stop (&checkpoints, store);
    ck_assert_int_eq (cab_store_count (store), next - 1);
    cab_store_destroy (&store);
}
END_TEST

//  Without a checkpointer handle the writer keeps SQLite's checkpoints.
START_TEST (test_writer_policy_without_checkpointer)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    //  The file is gone (the writer keeps its open file): no second handle.
    ck_assert_int_eq (unlink (s_path), 0);
    cabi_checkpoints_t checkpoints;
    ck_assert_int_eq (cabi_checkpoints_start (&checkpoints, store, 0, &error),
                      CAB_ERR_STORE_UNAVAILABLE);
    ck_assert_ptr_null (checkpoints.actor);
    //  Harmless without a thread; the writer goes on committing.
    ck_assert_int_eq (s_append (store, 1, 5, &error), CAB_OK);
    cabi_checkpoints_after_commit (&checkpoints, store);
    cabi_checkpoints_idle (&checkpoints, store);
    cabi_checkpoints_stop (&checkpoints, store);
    ck_assert_int_eq (cab_store_count (store), 5);
    cab_store_destroy (&store);
}
END_TEST

//  Share of the pages of [from, to) (page-aligned from) of the file at
//  path that are in the page cache, or -1 where drop-behind cannot show
//  (tmpfs: its pages are the file). Call with no store handle open: the
//  descriptor closed here would take SQLite's POSIX locks with it.
static double
s_resident (const char *path, off_t from, off_t to)
{
    struct statfs fs;
    ck_assert_int_eq (statfs (path, &fs), 0);
    if (fs.f_type == TMPFS_MAGIC)
        return -1;
    long page = sysconf (_SC_PAGESIZE);
    ck_assert_int_eq (from % page, 0);
    ck_assert_int_gt (to, from);
    size_t length = (size_t)(to - from);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge (fd, 0);
    void *map = mmap (NULL, length, PROT_READ, MAP_SHARED, fd, from);
    ck_assert_ptr_ne (map, MAP_FAILED);
    size_t pages = (length + (size_t)page - 1) / (size_t)page;
    unsigned char *vector = calloc (pages, 1);
    ck_assert_ptr_nonnull (vector);
    ck_assert_int_eq (mincore (map, length, vector), 0);
    size_t resident = 0;
    for (size_t i = 0; i < pages; i++)
        resident += vector[i] & 1;
    free (vector);
    munmap (map, length);
    close (fd);
    return (double)resident / (double)pages;
}

static off_t
s_file_size (const char *path)
{
    struct stat st;
    ck_assert_int_eq (stat (path, &st), 0);
    return st.st_size;
}

//  cab_store_drop_cache: what lies before the tail leaves the page cache,
//  once; the tail stays.
START_TEST (test_drop_cache)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (cab_store_set_auto_checkpoint (store, false), CAB_OK);
    cab_store_t *checkpointer = cab_store_new_checkpointer (s_path, &error);
    ck_assert_ptr_nonnull (checkpointer);
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    ck_assert_ptr_nonnull (reader);
    //  About 9 MB in the database file, synced.
    s_fill (store, 1, 3000);
    int64_t log = 0, done = 0;
    ck_assert_int_eq (cab_store_checkpoint (checkpointer, &log, &done, &error), CAB_OK);
    ck_assert_int_eq (done, log);
    ck_assert_int_eq (cab_store_sync_database (checkpointer, &error), CAB_OK);
    off_t size = s_file_size (s_path);
    ck_assert_int_gt (size, 8 << 20);
    //  Less than 4 MiB out of the tail: nothing yet.
    int64_t dropped = -1;
    ck_assert_int_eq (cab_store_drop_cache (checkpointer, size - (2 << 20), &dropped, &error),
                      CAB_OK);
    ck_assert_int_eq (dropped, 0);
    //  All but the last MiB; then nothing more to drop.
    ck_assert_int_eq (cab_store_drop_cache (checkpointer, 1 << 20, &dropped, &error), CAB_OK);
    ck_assert_int_eq (dropped, size - (1 << 20));
    ck_assert_int_eq (cab_store_drop_cache (checkpointer, 1 << 20, &dropped, &error), CAB_OK);
    ck_assert_int_eq (dropped, 0);
    ck_assert_int_eq (cab_store_drop_cache (store, 1 << 20, &dropped, &error), CAB_OK);
    ck_assert_int_eq (dropped, size - (1 << 20));
    //  Bad handles and sizes.
    ck_assert_int_eq (cab_store_drop_cache (reader, 0, &dropped, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_drop_cache (NULL, 0, &dropped, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_drop_cache (checkpointer, -1, &dropped, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&reader);
    cab_store_destroy (&checkpointer);
    cab_store_destroy (&store);
    //  Closing the last handle copies nothing more; a page or two of the
    //  front part may be read again (the header).
    double front = s_resident (s_path, 0, size - (1 << 20));
    double tail = s_resident (s_path, size - (1 << 20), size);
    if (front < 0)
        fprintf (stderr, "test_drop_cache: the store is on tmpfs; residency not checked\n");
    else {
        ck_assert_msg (front < 0.02, "front part %.3f cached", front);
        ck_assert_msg (tail > 0.5, "tail %.3f cached", tail);
    }
}
END_TEST

//  The store's file gone from the path: no descriptor to advise.
START_TEST (test_drop_cache_without_file)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    s_fill (store, 1, 100);
    char moved[sizeof s_path + 8];
    snprintf (moved, sizeof moved, "%s.moved", s_path);
    ck_assert_int_eq (rename (s_path, moved), 0);
    int64_t dropped = -1;
    ck_assert_int_eq (cab_store_drop_cache (store, 0, &dropped, &error), CAB_ERR_STORE_UNAVAILABLE);
    //  Another file at the path (not the one SQLite has open), big enough.
    FILE *other = fopen (s_path, "w");
    ck_assert_ptr_nonnull (other);
    ck_assert_int_eq (ftruncate (fileno (other), 8 << 20), 0);
    fclose (other);
    ck_assert_int_eq (cab_store_drop_cache (store, 0, &dropped, &error), CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (dropped, 0);
    ck_assert_ptr_nonnull (strstr (error.text, "/proc/self/fd"));
    cab_store_destroy (&store);
    ck_assert_int_eq (unlink (s_path), 0);
    ck_assert_int_eq (rename (moved, s_path), 0);
}
END_TEST

//  The broker's checkpointer drops what falls out of the tail after its
//  syncs.
START_TEST (test_checkpointer_drops_behind)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    cabi_checkpoints_t checkpoints;
    ck_assert_int_eq (cabi_checkpoints_start (&checkpoints, store, 1 << 20, &error), CAB_OK);
    checkpoints.poke_pages = 40;
    int next = 1;
    while (s_file_size (s_path) < (16 << 20)) {
        ck_assert_int_eq (s_append (store, next, 50, &error), CAB_OK);
        next += 50;
        cabi_checkpoints_after_commit (&checkpoints, store);
    }
    cabi_checkpoints_stop (&checkpoints, store);
    cab_store_destroy (&store);
    off_t size = s_file_size (s_path);
    double front = s_resident (s_path, 0, size / 2);
    if (front < 0)
        fprintf (stderr, "test_checkpointer_drops_behind: the store is on tmpfs; not checked\n");
    else
        ck_assert_msg (front < 0.05, "first half %.3f cached", front);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_store_checkpoint");
    TCase *tc = tcase_create ("checkpoints");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 120);
    tcase_add_test (tc, test_commits_without_checkpoints);
    tcase_add_test (tc, test_automatic_checkpoints);
    tcase_add_test (tc, test_handles_that_cannot);
    tcase_add_test (tc, test_writer_policy_bounds_the_log);
    tcase_add_test (tc, test_writer_policy_slack);
    tcase_add_test (tc, test_writer_policy_without_checkpointer);
    tcase_add_test (tc, test_drop_cache);
    tcase_add_test (tc, test_drop_cache_without_file);
    tcase_add_test (tc, test_checkpointer_drops_behind);
    suite_add_tcase (suite, tc);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
