/*  =========================================================================
    test_cab_store - the durable event store, on real SQLite files

    Every test works in its own mkdtemp directory, removed at the end.
    Failures of the disk are simulated with a VFS shim (s_fault_*), so the
    tests need no root and no special file system; tests/integration/
    test_store_full_disk.c fills a real (tmpfs) disk.
    =========================================================================
*/
#include "cab_store.h"
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_FIXTURE_NAME "cab-store"
#include "store_fixture.h"

//  An event's text and its item; the text lives in the item's buffer.
typedef struct {
    char text[512];
    char id[40];
    cab_store_item_t item;
} s_event_t;

static void
s_event (s_event_t *event, int n, const char *source, const char *type, const char *correlation)
{
    snprintf (event->id, sizeof event->id, "0190a0b0-0000-7000-8000-%012d", n);
    int length =
        snprintf (event->text, sizeof event->text,
                  "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"%s\","
                  "\"source\":\"%s\",\"time\":\"2026-11-22T10:00:%02d.000Z\","
                  "\"detail\":{\"agent_id\":\"a-%d\",\"correlation_id\":\"%s\", \"n\" : %d}}",
                  event->id, type, source, n % 60, n, correlation ? correlation : event->id, n);
    memset (&event->item, 0, sizeof event->item);
    event->item.id = event->id;
    event->item.source = source;
    event->item.detail_type = type;
    event->item.agent_id = "agent";
    event->item.correlation_id = correlation ? correlation : event->id;
    event->item.time_ms = 1800000000000 + n * 1000;
    event->item.text = event->text;
    event->item.length = (size_t)length;
}

//  Append events first..first+count-1 as one batch.
static cab_status_t
s_append_range (cab_store_t *store, int first, size_t count, cab_error_t *error)
{
    s_event_t *events = calloc (count, sizeof *events);
    cab_store_item_t *items = calloc (count, sizeof *items);
    ck_assert_ptr_nonnull (events);
    ck_assert_ptr_nonnull (items);
    for (size_t i = 0; i < count; i++) {
        s_event (&events[i], first + (int)i, "cabruca.test", "Test Event", NULL);
        items[i] = events[i].item;
    }
    cab_status_t status = cab_store_append (store, items, count, error);
    free (items);
    free (events);
    return status;
}

START_TEST (test_create_and_reopen)
{
    cab_error_t error;
    ck_assert_int_eq (cab_store_version (), 5);
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_str_eq (cab_store_path (store), s_path);
    ck_assert_int_eq (cab_store_count (store), 0);
    ck_assert_int_eq (cab_store_last_seq (store), 0);
    ck_assert_int_eq (s_append_range (store, 1, 3, &error), CAB_OK);
    ck_assert_int_gt (cab_store_size_bytes (store), 0);
    cab_store_destroy (&store);
    ck_assert_ptr_null (store);
    cab_store_destroy (&store);
    cab_store_destroy (NULL);

    store = cab_store_new (s_path, CAB_STORE_FULL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (cab_store_count (store), 3);
    ck_assert_int_eq (cab_store_last_seq (store), 3);
    //  seq goes on where it stopped.
    s_event_t event;
    s_event (&event, 4, "cabruca.test", "Test Event", NULL);
    ck_assert_int_eq (cab_store_append (store, &event.item, 1, &error), CAB_OK);
    ck_assert_int_eq (event.item.seq, 4);
    cab_store_destroy (&store);

    ck_assert_ptr_null (cab_store_new (NULL, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_store_new (s_path, (cab_store_durability_t)7, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST (test_batch_seqs)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    s_event_t *events = calloc (100, sizeof *events);
    cab_store_item_t items[100];
    for (int i = 0; i < 100; i++) {
        s_event (&events[i], i, "cabruca.test", "Test Event", NULL);
        items[i] = events[i].item;
        items[i].seq = -5;  //  overwritten by the store
        items[i].duplicate = true;
    }
    ck_assert_int_eq (cab_store_append (store, items, 100, &error), CAB_OK);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq (items[i].seq, i + 1);
        ck_assert (!items[i].duplicate);
    }
    ck_assert_int_eq (cab_store_append (store, items, 0, &error), CAB_OK);
    ck_assert_int_eq (s_append_range (store, 1000, 10, &error), CAB_OK);
    ck_assert_int_eq (cab_store_count (store), 110);
    ck_assert_int_eq (cab_store_last_seq (store), 110);
    free (events);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_duplicates)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (s_append_range (store, 1, 5, &error), CAB_OK);

    //  A batch: new, duplicate of an earlier batch, new, duplicate of an
    //  item earlier in this batch.
    s_event_t events[4];
    s_event (&events[0], 10, "cabruca.test", "Test Event", NULL);
    s_event (&events[1], 3, "cabruca.test", "Test Event", NULL);
    s_event (&events[2], 11, "cabruca.test", "Test Event", NULL);
    s_event (&events[3], 10, "cabruca.test", "Test Event", NULL);
    cab_store_item_t items[4];
    for (int i = 0; i < 4; i++)
        items[i] = events[i].item;
    ck_assert_int_eq (cab_store_append (store, items, 4, &error), CAB_OK);
    ck_assert_int_eq (items[0].seq, 6);
    ck_assert (!items[0].duplicate);
    ck_assert_int_eq (items[1].seq, 3);
    ck_assert (items[1].duplicate);
    ck_assert_int_eq (items[2].seq, 7);  //  a duplicate does not use a seq
    ck_assert (!items[2].duplicate);
    ck_assert_int_eq (items[3].seq, 6);
    ck_assert (items[3].duplicate);
    ck_assert_int_eq (cab_store_count (store), 7);

    //  Retried whole, after a reopen: all duplicates, same seqs.
    cab_store_destroy (&store);
    store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_int_eq (cab_store_append (store, items, 4, &error), CAB_OK);
    ck_assert_int_eq (items[0].seq, 6);
    ck_assert_int_eq (items[1].seq, 3);
    ck_assert_int_eq (items[2].seq, 7);
    ck_assert_int_eq (items[3].seq, 6);
    for (int i = 0; i < 4; i++)
        ck_assert (items[i].duplicate);
    ck_assert_int_eq (cab_store_count (store), 7);
    ck_assert_int_eq (cab_store_last_seq (store), 7);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_get)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    //  The exact bytes are kept: odd spacing, UTF-8, escapes.
    const char *text =
        "{ \"id\" : \"x-1\",\n\t\"detail\":{\"s\":\"a\\u00e9 \xc3\xa9 \xe2\x82\xac\"} }";
    cab_store_item_t item = {.id = "x-1",
                             .source = "s",
                             .detail_type = "t",
                             .time_ms = 5,
                             .text = text,
                             .length = strlen (text)};
    ck_assert_int_eq (cab_store_append (store, &item, 1, &error), CAB_OK);
    char *copy = NULL;
    size_t length = 0;
    int64_t seq = 0;
    ck_assert_int_eq (cab_store_get (store, "x-1", &copy, &length, &seq, &error), CAB_OK);
    ck_assert_str_eq (copy, text);
    ck_assert_uint_eq (length, strlen (text));
    ck_assert_int_eq (seq, 1);
    free (copy);
    ck_assert_int_eq (cab_store_get_seq (store, 1, &copy, NULL, &error), CAB_OK);
    ck_assert_str_eq (copy, text);
    free (copy);
    ck_assert_int_eq (cab_store_get (store, "x-1", NULL, NULL, NULL, &error), CAB_OK);
    ck_assert_int_eq (cab_store_get (store, "nope", &copy, NULL, NULL, &error), CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (error.code, CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (cab_store_get_seq (store, 2, &copy, NULL, &error), CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (cab_store_get (store, NULL, &copy, NULL, NULL, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_invalid_items)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    s_event_t events[2];
    s_event (&events[0], 1, "cabruca.test", "Test Event", NULL);
    s_event (&events[1], 2, "cabruca.test", "Test Event", NULL);
    cab_store_item_t items[2] = {events[0].item, events[1].item};
    items[1].source = NULL;
    ck_assert_int_eq (cab_store_append (store, items, 2, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull (strstr (error.text, "item 1"));
    ck_assert_int_eq (items[0].seq, 0);
    items[1] = events[1].item;
    items[1].length = CAB_EVENT_MAX_SIZE + 1;
    ck_assert_int_eq (cab_store_append (store, items, 2, &error), CAB_ERR_TOO_LARGE);
    char long_id[CAB_STORE_ID_MAX + 2];
    memset (long_id, 'i', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    items[1] = events[1].item;
    items[1].id = long_id;
    ck_assert_int_eq (cab_store_append (store, items, 2, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_append (NULL, items, 2, &error), CAB_ERR_INVALID_ARGUMENT);
    //  Nothing of a refused batch was written.
    ck_assert_int_eq (cab_store_count (store), 0);
    ck_assert_int_eq (cab_store_last_seq (store), 0);
    cab_store_destroy (&store);
}
END_TEST

typedef struct {
    int64_t seqs[64];
    size_t count;
    size_t stop_after;
} s_seen_t;

static int
s_collect (const cab_store_record_t *record, void *arg)
{
    s_seen_t *seen = arg;
    ck_assert_ptr_nonnull (record->id);
    ck_assert_uint_eq (record->length, strlen (record->text));
    ck_assert_int_gt (record->received_ms, 0);
    if (seen->count < 64)
        seen->seqs[seen->count] = record->seq;
    seen->count++;
    return seen->stop_after && seen->count >= seen->stop_after;
}

START_TEST (test_scan)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_int_eq (s_append_range (store, 1, 20, &error), CAB_OK);
    s_event_t events[3];
    s_event (&events[0], 100, "cabruca.agents.monitor", "Issue Detection", "corr-1");
    s_event (&events[1], 101, "cabruca.agents.monitor", "Heartbeat", "corr-1");
    s_event (&events[2], 102, "cabruca.agents.product", "Issue Detection", "corr-2");
    cab_store_item_t items[3] = {events[0].item, events[1].item, events[2].item};
    ck_assert_int_eq (cab_store_append (store, items, 3, &error), CAB_OK);

    s_seen_t seen = {0};
    ck_assert_int_eq (cab_store_scan_seq (store, 5, 9, 0, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 5);
    ck_assert_int_eq (seen.seqs[0], 5);
    ck_assert_int_eq (seen.seqs[4], 9);
    memset (&seen, 0, sizeof seen);
    ck_assert_int_eq (cab_store_scan_seq (store, 0, 0, 4, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 4);
    memset (&seen, 0, sizeof seen);
    seen.stop_after = 2;
    ck_assert_int_eq (cab_store_scan_seq (store, 10, 0, 0, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.seqs[1], 11);

    cab_store_query_t query = {0};
    query.source = "cabruca.agents.monitor";
    memset (&seen, 0, sizeof seen);
    ck_assert_int_eq (cab_store_scan (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 2);
    query.detail_type = "Heartbeat";
    memset (&seen, 0, sizeof seen);
    ck_assert_int_eq (cab_store_scan (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.seqs[0], 22);

    memset (&query, 0, sizeof query);
    query.correlation_id = "corr-1";
    query.descending = true;
    memset (&seen, 0, sizeof seen);
    ck_assert_int_eq (cab_store_scan (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.seqs[0], 22);
    ck_assert_int_eq (seen.seqs[1], 21);

    //  Time range: events 3..5 have times 1800000003000..1800000005000.
    memset (&query, 0, sizeof query);
    query.from_ms = 1800000003000;
    query.to_ms = 1800000005000;
    memset (&seen, 0, sizeof seen);
    ck_assert_int_eq (cab_store_scan (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 3);
    ck_assert_int_eq (seen.seqs[0], 3);

    ck_assert_int_eq (cab_store_scan (store, &query, NULL, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_readonly_handle)
{
    cab_error_t error;
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);

    cab_store_t *writer = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_int_eq (s_append_range (writer, 1, 10, &error), CAB_OK);
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    ck_assert_ptr_nonnull (reader);
    ck_assert_int_eq (cab_store_count (reader), 10);
    //  The reader sees what the writer commits later.
    ck_assert_int_eq (s_append_range (writer, 11, 5, &error), CAB_OK);
    ck_assert_int_eq (cab_store_count (reader), 15);
    ck_assert_int_eq (cab_store_last_seq (reader), 15);
    ck_assert_int_gt (cab_store_size_bytes (reader), 0);
    s_seen_t seen = {0};
    ck_assert_int_eq (cab_store_scan_seq (reader, 14, 0, 0, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (s_append_range (reader, 100, 1, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&reader);
    cab_store_destroy (&writer);
}
END_TEST

//  Run SQL on a file directly, as an older cabruca (or a stranger) would.
static void
s_sql (const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq (sqlite3_open (path, &db), SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        ck_abort_msg ("SQL failed: %s", message);
    sqlite3_close (db);
}

static const char *s_v1_sql =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('format', 'cabruca-store'), ('schema_version', '1');"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL, detail_type TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_id ON events (id);"
    "CREATE INDEX events_time ON events (time_ms);"
    "INSERT INTO events VALUES (1, 'e-1', 1000, 'src', 'T',"
    "  '{\"id\":\"e-1\",\"detail\":{\"agent_id\":\"m-1\",\"correlation_id\":\"c-9\"}}');"
    "INSERT INTO events VALUES (2, 'e-2', 2000, 'src', 'T', '{\"id\":\"e-2\",\"detail\":{}}');"
    "INSERT INTO events VALUES (3, 'e-3', 3000, 'src', 'T', 'not json');";

static int
s_check_migrated (const cab_store_record_t *record, void *arg)
{
    (void)arg;
    ck_assert_int_eq (record->received_ms, record->time_ms);
    if (record->seq == 1) {
        ck_assert_str_eq (record->agent_id, "m-1");
        ck_assert_str_eq (record->correlation_id, "c-9");
    } else {
        ck_assert_ptr_null (record->agent_id);
        ck_assert_ptr_null (record->correlation_id);
    }
    return 0;
}

START_TEST (test_migrate_from_v1)
{
    s_sql (s_path, s_v1_sql);
    cab_error_t error;
    //  A reader cannot upgrade; it says so.
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNSUPPORTED_VERSION);

    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    ck_assert_int_eq (cab_store_count (store), 3);
    ck_assert_int_eq (cab_store_last_seq (store), 3);
    ck_assert_int_eq (cab_store_scan_seq (store, 0, 0, 0, s_check_migrated, NULL, &error), CAB_OK);
    cab_store_query_t query = {.correlation_id = "c-9"};
    s_seen_t seen = {0};
    ck_assert_int_eq (cab_store_scan (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 1);
    int64_t seq = 0;
    ck_assert_int_eq (cab_store_get (store, "e-2", NULL, NULL, &seq, &error), CAB_OK);
    ck_assert_int_eq (seq, 2);
    ck_assert_int_eq (s_append_range (store, 1, 2, &error), CAB_OK);
    ck_assert_int_eq (cab_store_last_seq (store), 5);
    cab_store_destroy (&store);

    //  Now current: readers open it, and the version is recorded.
    store = cab_store_new_readonly (s_path, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (cab_store_count (store), 5);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_newer_version_refused)
{
    s_sql (s_path, s_v1_sql);
    s_sql (s_path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    cab_error_t error;
    ck_assert_ptr_null (cab_store_new (s_path, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNSUPPORTED_VERSION);
    ck_assert_ptr_nonnull (strstr (error.text, "99"));
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNSUPPORTED_VERSION);
}
END_TEST

START_TEST (test_not_a_store)
{
    cab_error_t error;
    //  Not an SQLite file at all.
    FILE *file = fopen (s_path, "w");
    ck_assert_ptr_nonnull (file);
    for (int i = 0; i < 200; i++)
        fputs ("this is not a database, just some text\n", file);
    fclose (file);
    ck_assert_ptr_null (cab_store_new (s_path, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    ck_assert_ptr_nonnull (strstr (error.text, s_path));
    ck_assert_ptr_nonnull (strstr (error.text, "not a database"));
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    unlink (s_path);

    //  An SQLite database of something else: refused, not written to.
    s_sql (s_path, "CREATE TABLE customers (name TEXT)");
    ck_assert_ptr_null (cab_store_new (s_path, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    ck_assert_ptr_nonnull (strstr (error.text, "not a cabruca event store"));
    unlink (s_path);

    //  A store whose pages are garbage after the header.
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_int_eq (s_append_range (store, 1, 50, &error), CAB_OK);
    cab_store_destroy (&store);
    file = fopen (s_path, "r+");
    ck_assert_ptr_nonnull (file);
    fseek (file, 100, SEEK_SET);
    for (int i = 0; i < 8192; i++)
        fputc (0xA5, file);
    fclose (file);
    store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    if (store) {
        //  Corruption SQLite only finds when it reads: reads fail cleanly.
        ck_assert_int_ne (s_append_range (store, 100, 1, &error), CAB_OK);
        cab_store_destroy (&store);
    } else
        ck_assert (error.code == CAB_ERR_IO || error.code == CAB_ERR_STORE_UNAVAILABLE);

    //  A directory that does not exist.
    ck_assert_ptr_null (cab_store_new ("/nonexistent-dir/x/events.db", CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
}
END_TEST

START_TEST (test_readonly_file)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_int_eq (s_append_range (store, 1, 5, &error), CAB_OK);
    cab_store_destroy (&store);
    ck_assert_int_eq (chmod (s_path, 0444), 0);
    if (geteuid () == 0) {
        //  root writes through file modes; test_store_full_disk mounts a
        //  read-only file system instead.
        fprintf (stderr, "test_readonly_file: running as root, chmod check skipped\n");
        return;
    }
    ck_assert_ptr_null (cab_store_new (s_path, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
    ck_assert_ptr_nonnull (strstr (error.text, "read-only"));
}
END_TEST

//  --------------------------------------------------------------------------
//  A VFS shim that fails writes on demand: after s_fault_after more writes
//  (-1: never), every write fails with s_fault_code until cleared, as a disk
//  that fills up or goes bad does.

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
} s_file_t;

static sqlite3_vfs *s_real_vfs;
static sqlite3_vfs s_fault_vfs;
static sqlite3_io_methods s_fault_methods;
static int s_fault_code = SQLITE_IOERR_WRITE;
static int s_fault_after = -1;

#define REAL(file) (((s_file_t *)(file))->real)

static int
s_f_close (sqlite3_file *file)
{
    return REAL (file)->pMethods->xClose (REAL (file));
}
static int
s_f_read (sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset)
{
    return REAL (file)->pMethods->xRead (REAL (file), buffer, amount, offset);
}
static int
s_f_write (sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset)
{
    if (s_fault_after == 0)
        return s_fault_code;
    if (s_fault_after > 0)
        s_fault_after--;
    return REAL (file)->pMethods->xWrite (REAL (file), buffer, amount, offset);
}
static int
s_f_truncate (sqlite3_file *file, sqlite3_int64 size)
{
    return REAL (file)->pMethods->xTruncate (REAL (file), size);
}
static int
s_f_sync (sqlite3_file *file, int flags)
{
    return REAL (file)->pMethods->xSync (REAL (file), flags);
}
static int
s_f_file_size (sqlite3_file *file, sqlite3_int64 *size)
{
    return REAL (file)->pMethods->xFileSize (REAL (file), size);
}
static int
s_f_lock (sqlite3_file *file, int lock)
{
    return REAL (file)->pMethods->xLock (REAL (file), lock);
}
static int
s_f_unlock (sqlite3_file *file, int lock)
{
    return REAL (file)->pMethods->xUnlock (REAL (file), lock);
}
static int
s_f_check_reserved (sqlite3_file *file, int *result)
{
    return REAL (file)->pMethods->xCheckReservedLock (REAL (file), result);
}
static int
s_f_file_control (sqlite3_file *file, int op, void *arg)
{
    return REAL (file)->pMethods->xFileControl (REAL (file), op, arg);
}
static int
s_f_sector_size (sqlite3_file *file)
{
    return REAL (file)->pMethods->xSectorSize (REAL (file));
}
static int
s_f_device (sqlite3_file *file)
{
    return REAL (file)->pMethods->xDeviceCharacteristics (REAL (file));
}
static int
s_f_shm_map (sqlite3_file *file, int page, int size, int extend, void volatile **memory)
{
    return REAL (file)->pMethods->xShmMap (REAL (file), page, size, extend, memory);
}
static int
s_f_shm_lock (sqlite3_file *file, int offset, int n, int flags)
{
    return REAL (file)->pMethods->xShmLock (REAL (file), offset, n, flags);
}
static void
s_f_shm_barrier (sqlite3_file *file)
{
    REAL (file)->pMethods->xShmBarrier (REAL (file));
}
static int
s_f_shm_unmap (sqlite3_file *file, int delete_flag)
{
    return REAL (file)->pMethods->xShmUnmap (REAL (file), delete_flag);
}

static int
s_fault_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
    (void)vfs;
    s_file_t *self = (s_file_t *)file;
    self->real = (sqlite3_file *)(self + 1);
    int rc = s_real_vfs->xOpen (s_real_vfs, name, self->real, flags, out);
    self->base.pMethods = self->real->pMethods ? &s_fault_methods : NULL;
    return rc;
}

//  Make the shim the default VFS (this test process only: Check forks).
static void
s_fault_install (void)
{
    s_fault_after = -1;
    if (s_real_vfs)
        return;  //  installed already (CK_FORK=no runs every test in one process)
    s_real_vfs = sqlite3_vfs_find (NULL);
    ck_assert_ptr_nonnull (s_real_vfs);
    s_fault_vfs = *s_real_vfs;
    s_fault_vfs.zName = "cab-fault";
    s_fault_vfs.szOsFile = (int)sizeof (s_file_t) + s_real_vfs->szOsFile;
    s_fault_vfs.xOpen = s_fault_open;
    s_fault_methods = (sqlite3_io_methods){.iVersion = 2,
                                           .xClose = s_f_close,
                                           .xRead = s_f_read,
                                           .xWrite = s_f_write,
                                           .xTruncate = s_f_truncate,
                                           .xSync = s_f_sync,
                                           .xFileSize = s_f_file_size,
                                           .xLock = s_f_lock,
                                           .xUnlock = s_f_unlock,
                                           .xCheckReservedLock = s_f_check_reserved,
                                           .xFileControl = s_f_file_control,
                                           .xSectorSize = s_f_sector_size,
                                           .xDeviceCharacteristics = s_f_device,
                                           .xShmMap = s_f_shm_map,
                                           .xShmLock = s_f_shm_lock,
                                           .xShmBarrier = s_f_shm_barrier,
                                           .xShmUnmap = s_f_shm_unmap};
    ck_assert_int_eq (sqlite3_vfs_register (&s_fault_vfs, 1), SQLITE_OK);
}

//  Events 1..acked are there, each once.
static void
s_check_all_there (cab_store_t *store, int64_t acked)
{
    ck_assert_int_eq (cab_store_count (store), acked);
    ck_assert_int_eq (cab_store_last_seq (store), acked);
    for (int64_t seq = 1; seq <= acked; seq++) {
        char *text = NULL;
        ck_assert_int_eq (cab_store_get_seq (store, seq, &text, NULL, NULL), CAB_OK);
        char id[64];
        snprintf (id, sizeof id, "0190a0b0-0000-7000-8000-%012lld", (long long)seq);
        ck_assert_ptr_nonnull (strstr (text, id));
        free (text);
    }
}

START_TEST (test_write_errors_recover)
{
    s_fault_install ();
    int codes[] = {SQLITE_IOERR_WRITE, SQLITE_FULL, SQLITE_READONLY};
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (s_append_range (store, 1, 10, &error), CAB_OK);
    int64_t acked = 10;
    for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) {
        s_fault_code = codes[c];
        s_fault_after = 0;
        ck_assert_int_eq (s_append_range (store, (int)acked + 1, 5, &error),
                          CAB_ERR_STORE_UNAVAILABLE);
        ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
        ck_assert_int_eq (s_append_range (store, (int)acked + 1, 5, &error),
                          CAB_ERR_STORE_UNAVAILABLE);
        s_fault_after = -1;
        ck_assert_int_eq (s_append_range (store, (int)acked + 1, 5, &error), CAB_OK);
        acked += 5;
        s_check_all_there (store, acked);
    }
    cab_store_destroy (&store);
    store = cab_store_new (s_path, CAB_STORE_FULL, &error);
    ck_assert_ptr_nonnull (store);
    s_check_all_there (store, acked);
    cab_store_destroy (&store);

    //  A disk that fails while a store is created: an error, no crash.
    unlink (s_path);
    s_fault_code = SQLITE_FULL;
    s_fault_after = 0;
    ck_assert_ptr_null (cab_store_new (s_path, CAB_STORE_NORMAL, &error));
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
    s_fault_after = -1;
}
END_TEST

START_TEST (test_write_error_at_every_point)
{
    //  Fail the k-th write of a large batch, for every k until the batch
    //  gets through: each time the batch is all-or-nothing, and the store
    //  holds exactly what was acknowledged, also after a reopen.
    s_fault_install ();
    s_fault_code = SQLITE_IOERR_WRITE;
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    ck_assert_int_eq (cab_store_set_cache_size (store, 256), CAB_OK);
    ck_assert_int_eq (cab_store_set_cache_size (store, 1), CAB_ERR_INVALID_ARGUMENT);
    int64_t acked = 0;
    int k = 0;
    for (; k < 2000; k++) {
        s_fault_after = k;
        cab_status_t status = s_append_range (store, (int)acked + 1, 300, &error);
        s_fault_after = -1;
        if (status == CAB_OK) {
            acked += 300;
            break;
        }
        ck_assert_int_eq (status, CAB_ERR_STORE_UNAVAILABLE);
        ck_assert_int_eq (cab_store_count (store), acked);
        if (k % 7 == 0) {
            //  Sometimes a good batch in between.
            ck_assert_int_eq (s_append_range (store, (int)acked + 1, 3, &error), CAB_OK);
            acked += 3;
        }
    }
    fprintf (stderr, "test_write_error_at_every_point: batch got through after %d failures\n", k);
    ck_assert_int_lt (k, 2000);
    ck_assert_int_gt (k, 1);
    s_check_all_there (store, acked);
    cab_store_destroy (&store);
    store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_ptr_nonnull (store);
    s_check_all_there (store, acked);
    cab_store_destroy (&store);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_store");
    TCase *tcase = tcase_create ("core");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_create_and_reopen);
    tcase_add_test (tcase, test_batch_seqs);
    tcase_add_test (tcase, test_duplicates);
    tcase_add_test (tcase, test_get);
    tcase_add_test (tcase, test_invalid_items);
    tcase_add_test (tcase, test_scan);
    tcase_add_test (tcase, test_readonly_handle);
    tcase_add_test (tcase, test_migrate_from_v1);
    tcase_add_test (tcase, test_newer_version_refused);
    tcase_add_test (tcase, test_not_a_store);
    tcase_add_test (tcase, test_readonly_file);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("faults");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_write_errors_recover);
    tcase_add_test (tcase, test_write_error_at_every_point);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
