/*  =========================================================================
    test_failmalloc_store - every allocation of the store failed in turn

    The store (core/daemon/cab_store*.c) on SQLite: for each operation
    (cab_store_new creating and opening a store, cab_store_write with
    items, routes, updates, batch routes, mirror outcomes and the budget
    state, the scans and reads, cab_store_sweep, cab_store_redrive and
    cab_store_purge) run it once to count its allocations, then once per
    allocation with that one failing: ours, SQLite's (the system's SQLite
    allocates through malloc, which tests/unit/failmalloc.c interposes),
    jansson's and the C library's. Each run must succeed or give an error
    with its text filled, free everything (no block left), and leave the
    store as it was before a failed write: the same operation then
    succeeds and writes exactly what it should.

    Every run starts from a copy of one seeded store file, so that runs
    see the same data; the allocations are counted (and failed) only
    around the calls under test. Skipped (77) where the interposer cannot
    see the allocations (valgrind, a static ASan runtime).
    =========================================================================
*/
#include "failmalloc.h"
#include "cab_store.h"
#include "cab_store_delivery.h"
#include "cab_store_mirror.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  The seeded store (copied for every run) and the run's store.
static char s_dir[64], s_template[128], s_path[128];

//  A clock far past the seeded events: everything is old enough to sweep.
#define S_LATER_MS (4102444800000LL)  //  2100-01-01

//  Error codes seen, by operation, for the summary line.
static long s_codes[CAB_STATUS_COUNT_];

typedef cab_status_t (s_operation_fn) (long fail_at, cab_error_t *error);

//  Remove the run's store files.
static void
s_remove (const char *path)
{
    char name[160];
    const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t index = 0; index < 4; index++) {
        snprintf (name, sizeof name, "%s%s", path, suffixes[index]);
        unlink (name);
    }
}

static void
s_copy (const char *from, const char *to)
{
    s_remove (to);
    FILE *in = fopen (from, "rb");
    FILE *out = fopen (to, "wb");
    ck_assert (in && out);
    char buffer[65536];
    size_t size;
    while ((size = fread (buffer, 1, sizeof buffer, in)) > 0)
        ck_assert_uint_eq (fwrite (buffer, 1, size, out), size);
    fclose (in);
    ck_assert_int_eq (fclose (out), 0);
}

//  Run op with each allocation failing in turn; returns how many there are.
static long
s_fail_each (const char *what, s_operation_fn *op)
{
    cab_error_t error;
    memset (s_codes, 0, sizeof s_codes);
    //  Once to fill one-time caches (SQLite's initialisation), once to count.
    ck_assert_msg (op (0, &error) == CAB_OK, "%s: %s", what, error.text);
    long live = failmalloc_live ();
    ck_assert_msg (op (0, &error) == CAB_OK, "%s: %s", what, error.text);
    ck_assert_msg (failmalloc_live () == live, "%s leaks %ld blocks", what,
                   failmalloc_live () - live);
    long recovered = 0, fail_at;
    for (fail_at = 1;; fail_at++) {
        cab_error_clear (&error);
        live = failmalloc_live ();
        cab_status_t status = op (fail_at, &error);
        bool failed = failmalloc_failed ();
        ck_assert_msg (failmalloc_live () == live, "%s, allocation %ld failed: %ld blocks leaked",
                       what, fail_at, failmalloc_live () - live);
        if (!failed) {
            ck_assert_msg (status == CAB_OK, "%s: %s", what, error.text);
            break;
        }
        if (status == CAB_OK)
            recovered++;
        else {
            ck_assert_msg (error.code == status && error.text[0],
                           "%s, allocation %ld failed: %s without its error filled", what, fail_at,
                           cab_status_name (status));
            s_codes[status]++;
        }
    }
    char codes[256] = "";
    size_t used = 0;
    for (int code = 1; code < CAB_STATUS_COUNT_; code++)
        if (s_codes[code] && used < sizeof codes)
            used += (size_t)snprintf (codes + used, sizeof codes - used, " %s %ld",
                                      cab_status_name ((cab_status_t)code), s_codes[code]);
    printf ("%s: %ld allocations, each failed in turn (%ld runs still succeeded; errors:%s)\n",
            what, fail_at - 1, recovered, codes);
    return fail_at - 1;
}

//  ---------------------------------------------------------------------
//  The seeded store: six events (two routes each, four in the outbox),
//  delivery 1 DEAD in "standard", delivery 3 DEAD in "critical", delivery
//  2 and event 6's two DONE, event 2 a dead letter of the mirror, event 3
//  deferred, a budget state.

typedef struct {
    char id[48], text[400];
} s_text_t;

static void
s_text (s_text_t *event, const char *prefix, int n)
{
    snprintf (event->id, sizeof event->id, "0190a0b0-0000-7000-8000-%.1s%011d", prefix, n);
    snprintf (event->text, sizeof event->text,
              "{\"version\":\"0\",\"id\":\"%.47s\",\"detail-type\":\"Issue Detection\","
              "\"source\":\"cabruca.agents.monitor\",\"time\":\"2026-11-22T10:00:%02d.000Z\","
              "\"detail\":{\"agent_id\":\"monitor-001\",\"correlation_id\":\"c-%d\"}}",
              event->id, n % 60, n);
}

static void
s_item (cab_store_item_t *item, const s_text_t *event, cab_store_route_t *routes, bool mirror)
{
    memset (item, 0, sizeof *item);
    item->id = event->id;
    item->source = "cabruca.agents.monitor";
    item->detail_type = "Issue Detection";
    item->agent_id = "monitor-001";
    item->correlation_id = "c";
    item->time_ms = 1795341600000LL;
    item->text = event->text;
    item->length = strlen (event->text);
    item->routes = routes;
    item->route_count = routes ? 2 : 0;
    item->mirror = mirror;
    if (routes) {
        memset (routes, 0, 2 * sizeof *routes);
        routes[0].rule = "critical-issues";
        routes[0].target = "pager";
        routes[1].rule = "archive";
        routes[1].target = "log";
    }
}

static void
s_seed (void)
{
    //  On tmpfs when there is one: thousands of stores are created, and
    //  their fsyncs on a disk would take minutes.
    snprintf (s_dir, sizeof s_dir, "%s/cab-fmstore-XXXXXX",
              access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_template, sizeof s_template, "%s/template.db", s_dir);
    snprintf (s_path, sizeof s_path, "%s/run.db", s_dir);
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_template, CAB_STORE_NORMAL, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    s_text_t events[6];
    cab_store_item_t items[6];
    cab_store_route_t routes[6][2];
    for (int n = 0; n < 6; n++) {
        s_text (&events[n], "a", n + 1);
        s_item (&items[n], &events[n], routes[n], n < 4);
    }
    cab_store_batch_t batch = {0};
    batch.items = items;
    batch.item_count = 6;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    cab_delivery_update_t updates[5] = {{1, CAB_DELIVERY_DEAD, 3, 0, "standard", "HTTP 500"},
                                        {2, CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
                                        {3, CAB_DELIVERY_DEAD, 2, 0, "critical", "timeout"},
                                        {11, CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
                                        {12, CAB_DELIVERY_DONE, 1, 0, NULL, NULL}};
    cab_mirror_outcome_rec_t outcomes[2] = {
        {2, CAB_MIRRORED_DEAD, NULL, "ValidationException: bad", 1, 0},
        {3, CAB_MIRRORED_DEFERRED, NULL, NULL, 0, 1795345200000LL}};
    memset (&batch, 0, sizeof batch);
    batch.updates = updates;
    batch.update_count = 5;
    batch.mirror_outcomes = outcomes;
    batch.mirror_outcome_count = 2;
    batch.budget_state = "{\"version\":1}";
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    cab_store_destroy (&store);
}

static void
s_setup (void)
{
    if (!failmalloc_active ()) {
        printf ("test_failmalloc_store: allocations do not go through the interposer "
                "(valgrind or a static sanitizer runtime): skipped\n");
        exit (77);
    }
    s_seed ();
}

static void
s_teardown (void)
{
    s_remove (s_template);
    s_remove (s_path);
    rmdir (s_dir);
}

//  A fresh copy of the seeded store, opened (not counted).
static cab_store_t *
s_open (void)
{
    s_copy (s_template, s_path);
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    return store;
}

//  What a store holds, in numbers: events, deliveries by state, outbox
//  rows, the mirror's dead letters.
typedef struct {
    int64_t events, pending, done, dead, outbox, mirror_dlq;
} s_snapshot_t;

static int64_t s_deliveries (cab_store_t *store, int state);

static s_snapshot_t
s_snapshot (cab_store_t *store)
{
    s_snapshot_t snapshot;
    snapshot.events = cab_store_count (store);
    snapshot.pending = s_deliveries (store, CAB_DELIVERY_PENDING);
    snapshot.done = s_deliveries (store, CAB_DELIVERY_DONE);
    snapshot.dead = s_deliveries (store, CAB_DELIVERY_DEAD);
    cab_mirror_store_stats_t stats;
    cab_error_t error;
    ck_assert_int_eq (cab_store_mirror_stats (store, S_LATER_MS, &stats, &error), CAB_OK);
    snapshot.outbox = stats.outbox;
    snapshot.mirror_dlq = stats.dlq_depth;
    return snapshot;
}

//  The snapshot must be the reference (set by the first call, a run
//  without failures).
static void
s_same (s_snapshot_t *reference, bool *have, s_snapshot_t snapshot, long fail_at)
{
    if (!*have) {
        *reference = snapshot;
        *have = true;
    }
    ck_assert_msg (memcmp (reference, &snapshot, sizeof snapshot) == 0,
                   "after allocation %ld failed: events %lld pending %lld done %lld dead %lld "
                   "outbox %lld, not %lld %lld %lld %lld %lld",
                   fail_at, (long long)snapshot.events, (long long)snapshot.pending,
                   (long long)snapshot.done, (long long)snapshot.dead, (long long)snapshot.outbox,
                   (long long)reference->events, (long long)reference->pending,
                   (long long)reference->done, (long long)reference->dead,
                   (long long)reference->outbox);
}

static int64_t
s_deliveries (cab_store_t *store, int state)
{
    cab_delivery_query_t query = {0};
    query.state = state;
    int64_t count = -1;
    cab_error_t error;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, &error), CAB_OK);
    return count;
}

//  ---------------------------------------------------------------------
//  Opening

static cab_status_t
s_create (long fail_at, cab_error_t *error)
{
    s_remove (s_path);
    failmalloc_arm (fail_at);
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_FULL, error);
    failmalloc_disarm ();
    cab_status_t status = store ? CAB_OK : error->code;
    if (store) {
        //  Whatever failed on the way, it is a working store.
        ck_assert_int_eq (cab_store_count (store), 0);
        ck_assert_int_eq (cab_store_version (), cab_store_version ());
    }
    cab_store_destroy (&store);
    if (status != CAB_OK) {
        //  A store whose creation failed opens (or is created) next time.
        cab_error_t again;
        store = cab_store_new (s_path, CAB_STORE_NORMAL, &again);
        ck_assert_msg (store != NULL, "after allocation %ld failed: %s", fail_at, again.text);
        ck_assert_int_eq (cab_store_count (store), 0);
        cab_store_destroy (&store);
    }
    return status;
}

static cab_status_t
s_reopen (long fail_at, cab_error_t *error)
{
    s_copy (s_template, s_path);
    failmalloc_arm (fail_at);
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, error);
    cab_store_t *reader = store ? cab_store_new_readonly (s_path, error) : NULL;
    failmalloc_disarm ();
    cab_status_t status = store && reader ? CAB_OK : error->code;
    if (reader)
        ck_assert_int_eq (cab_store_count (reader), 6);
    cab_store_destroy (&reader);
    cab_store_destroy (&store);
    return status;
}

START_TEST (test_open)
{
    ck_assert (s_fail_each ("cab_store_new (create)", s_create) > 0);
    ck_assert (s_fail_each ("cab_store_new + cab_store_new_readonly (existing)", s_reopen) > 0);
}
END_TEST

//  ---------------------------------------------------------------------
//  Writing: everything a batch carries, in one transaction. fail_at as
//  for failmalloc_arm; -1: do not arm (a retry).

static cab_status_t
s_write_batch (cab_store_t *store, long fail_at, cab_error_t *error, cab_store_item_t *items)
{
    static s_text_t events[3];
    static cab_store_route_t routes[3][2];
    s_text (&events[0], "b", 1);
    s_text (&events[1], "a", 1);  //  already stored: a duplicate
    s_text (&events[2], "b", 2);
    for (int n = 0; n < 3; n++)
        s_item (&items[n], &events[n], routes[n], true);
    cab_delivery_update_t updates[3] = {
        {4, CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
        {5, CAB_DELIVERY_DEAD, 5, 0, "critical", "gave up"},
        {9999, CAB_DELIVERY_DONE, 1, 0, NULL, NULL}};  //  gone: skipped
    cab_store_route_t batch_routes[2] = {{"replay-rule", "log", "replay-1", 1, 0, 0},
                                         {"replay-rule", "log", "replay-1", 5000, 0, 0}};
    cab_mirror_outcome_rec_t outcomes[3] = {
        {1, CAB_MIRRORED_ACCEPTED, "11710aed-b79e-4468-a20b-bb3c0c3b4860", NULL, 1, 0},
        {4, CAB_MIRRORED_FAILED, NULL, "ThrottlingException: slow down", 2, 1795345200000LL},
        {6, CAB_MIRRORED_SAMPLED, NULL, NULL, 0, 0}};
    cab_store_batch_t batch = {0};
    batch.items = items;
    batch.item_count = 3;
    batch.updates = updates;
    batch.update_count = 3;
    batch.routes = batch_routes;
    batch.route_count = 2;
    batch.mirror_outcomes = outcomes;
    batch.mirror_outcome_count = 3;
    batch.budget_state = "{\"version\":1,\"month\":{}}";
    if (fail_at < 0)  //  A retry: not counted
        return cab_store_write (store, &batch, error);
    failmalloc_arm (fail_at);
    cab_status_t status = cab_store_write (store, &batch, error);
    failmalloc_disarm ();
    return status;
}

//  The store after the batch: 8 events, the new deliveries, the outcomes.
static void
s_check_written (cab_store_t *store, cab_store_item_t *items)
{
    ck_assert_int_eq (cab_store_count (store), 8);
    ck_assert (!items[0].duplicate && items[1].duplicate && !items[2].duplicate);
    ck_assert_int_eq (items[0].seq, 7);
    ck_assert_int_eq (items[1].seq, 1);
    ck_assert (items[0].routes[0].id > 0 && items[1].routes[0].id == 0);
    //  6 x 2 seeded + 2 x 2 new + 1 replay route (seq 5000 names no event)
    cab_delivery_query_t any = {0};
    any.state = -1;
    int64_t count = 0;
    cab_error_t error;
    ck_assert_int_eq (cab_store_count_deliveries (store, &any, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 12 + 4 + 1 + 1);  //  + the mirror's dead letter of event 2
    ck_assert_int_eq (s_deliveries (store, CAB_DELIVERY_DEAD), 4);
    const char *state = NULL;
    ck_assert_int_eq (cab_store_mirror_get (store, 1, &state, NULL, &error), CAB_OK);
    ck_assert_str_eq (state, "accepted");
    json_t *budget = NULL;
    ck_assert_int_eq (cab_store_budget_state (store, &budget, &error), CAB_OK);
    ck_assert (json_is_object (json_object_get (budget, "month")));
    json_decref (budget);
}

static cab_status_t
s_write (long fail_at, cab_error_t *error)
{
    cab_store_t *store = s_open ();
    cab_store_item_t items[3];
    cab_status_t status = s_write_batch (store, fail_at, error, items);
    if (status != CAB_OK) {
        //  Nothing of it was written, every output is zero, and the
        //  handle still works: the same batch goes in now.
        ck_assert_int_eq (cab_store_count (store), 6);
        for (int n = 0; n < 3; n++)
            ck_assert (items[n].seq == 0 && !items[n].duplicate);
        cab_error_t again;
        ck_assert_msg (s_write_batch (store, -1, &again, items) == CAB_OK,
                       "after allocation %ld failed: %s", fail_at, again.text);
    }
    s_check_written (store, items);
    cab_store_destroy (&store);
    return status;
}

START_TEST (test_write)
{
    ck_assert (s_fail_each ("cab_store_write (items, routes, updates, mirror outcomes, budget)",
                            s_write) > 0);
}
END_TEST

//  ---------------------------------------------------------------------
//  Reading

//  The callbacks count (no ck_assert while armed: Check allocates in it);
//  a record without its text counts as 1000.
static int
s_count_record (const cab_store_record_t *record, void *arg)
{
    *(int *)arg += record->text && record->length > 0 ? 1 : 1000;
    return 0;
}

static int
s_count_delivery (const cab_delivery_record_t *record, void *arg)
{
    *(int *)arg += record->text && record->event_id ? 1 : 1000;
    return 0;
}

static int
s_count_outbox (const cab_outbox_record_t *record, void *arg)
{
    *(int *)arg += record->text && record->length > 0 ? 1 : 1000;
    return 0;
}

static cab_status_t
s_read (long fail_at, cab_error_t *error)
{
    cab_store_t *store = s_open ();
    int records = 0, deliveries = 0, outbox = 0;
    cab_store_query_t query = {0};
    query.source = "cabruca.agents.monitor";
    query.from_ms = 1;
    query.descending = true;
    cab_delivery_query_t dead = {0};
    dead.state = CAB_DELIVERY_DEAD;
    dead.with_text = true;
    char *text = NULL;
    int64_t seq = 0, count = 0, next = 0;
    cab_mirror_store_stats_t stats;
    const char *state = NULL;
    json_t *detail = NULL, *budget = NULL;
    failmalloc_arm (fail_at);
    cab_status_t status = cab_store_scan (store, &query, s_count_record, &records, error);
    if (status == CAB_OK)
        status = cab_store_scan_seq (store, 2, 0, 3, s_count_record, &records, error);
    if (status == CAB_OK)
        status =
            cab_store_get (store, "0190a0b0-0000-7000-8000-a00000000003", &text, NULL, &seq, error);
    free (text);
    text = NULL;
    if (status == CAB_OK)
        status = cab_store_get_seq (store, 4, &text, NULL, error);
    free (text);
    if (status == CAB_OK)
        status = cab_store_scan_deliveries (store, &dead, s_count_delivery, &deliveries, error);
    if (status == CAB_OK)
        status = cab_store_count_deliveries (store, &dead, &count, error);
    if (status == CAB_OK)
        status = cab_store_outbox_scan (store, 0, S_LATER_MS, 0, s_count_outbox, &outbox, error);
    if (status == CAB_OK)
        status = cab_store_outbox_next_due (store, 0, &next, error);
    if (status == CAB_OK)
        status = cab_store_mirror_stats (store, S_LATER_MS, &stats, error);
    if (status == CAB_OK)
        status = cab_store_mirror_get (store, 3, &state, &detail, error);
    if (status == CAB_OK)
        status = cab_store_budget_state (store, &budget, error);
    failmalloc_disarm ();
    if (status == CAB_OK) {
        ck_assert_int_eq (records, 6 + 3);
        ck_assert_int_eq (seq, 3);
        ck_assert_int_eq (deliveries, 3);
        ck_assert_int_eq (count, 3);
        ck_assert_int_eq (outbox, 3);
        ck_assert_int_eq (stats.dlq_depth, 1);
        ck_assert_str_eq (state, "deferred");
        ck_assert (json_is_object (detail) && json_is_object (budget));
    }
    json_decref (detail);
    json_decref (budget);
    cab_store_destroy (&store);
    return status;
}

START_TEST (test_read)
{
    ck_assert (
        s_fail_each ("scans and reads (events, deliveries, outbox, mirror, budget)", s_read) > 0);
}
END_TEST

//  ---------------------------------------------------------------------
//  Sweep, redrive, purge: all-or-nothing, and the handle still works.

static cab_status_t
s_sweep (long fail_at, cab_error_t *error)
{
    cab_store_t *store = s_open ();
    cab_store_retention_t retention = {1000, 1000, 1000};
    int64_t deleted = 0, total = 0;
    cab_status_t status = CAB_OK;
    failmalloc_arm (fail_at);
    do {
        status = cab_store_sweep (store, &retention, S_LATER_MS, 4, &deleted, error);
        total += status == CAB_OK ? deleted : 0;
    } while (status == CAB_OK && deleted > 0);
    failmalloc_disarm ();
    cab_error_t again;
    //  Finish (or redo) the sweep: it ends with what it must keep.
    do {
        ck_assert_msg (cab_store_sweep (store, &retention, S_LATER_MS, 4, &deleted, &again) ==
                           CAB_OK,
                       "after allocation %ld failed: %s", fail_at, again.text);
    } while (deleted > 0);
    //  The same store as after a sweep that nothing disturbed.
    static s_snapshot_t reference;
    static bool have;
    s_same (&reference, &have, s_snapshot (store), fail_at);
    ck_assert_int_eq (reference.dead, 0);
    //  Delivery 2 is DONE with its event 1, which the outbox keeps.
    ck_assert_int_eq (reference.done, 1);
    ck_assert (reference.events < 6);
    cab_store_destroy (&store);
    return status;
}

static cab_status_t
s_redrive (long fail_at, cab_error_t *error)
{
    cab_store_t *store = s_open ();
    cab_delivery_query_t query = {0};
    query.state = CAB_DELIVERY_DEAD;
    int64_t redriven = 0, purged = 0, more = 0;
    cab_delivery_query_t critical = query;
    critical.dlq = "critical";
    failmalloc_arm (fail_at);
    cab_status_t purge = cab_store_purge (store, &critical, &purged, error);
    cab_status_t redrive =
        purge == CAB_OK ? cab_store_redrive (store, &query, 1795341600000LL, &redriven, error)
                        : purge;
    failmalloc_disarm ();
    //  What failed (and only that) is done again: a failed call changed nothing.
    cab_error_t again;
    if (purge != CAB_OK) {
        ck_assert_int_eq (purged, 0);
        ck_assert_msg (cab_store_purge (store, &critical, &more, &again) == CAB_OK,
                       "after allocation %ld failed: %s", fail_at, again.text);
        purged += more;
    }
    if (redrive != CAB_OK) {
        ck_assert_int_eq (redriven, 0);
        ck_assert_msg (cab_store_redrive (store, &query, 1795341600000LL, &more, &again) == CAB_OK,
                       "after allocation %ld failed: %s", fail_at, again.text);
        redriven += more;
    }
    cab_status_t status = redrive;
    //  Whether the first try did it or the second: one purged, the
    //  standard and the mirror's dead letters redriven (the mirror's back
    //  to the outbox), none left.
    ck_assert_int_eq (purged, 1);
    ck_assert_int_eq (redriven, 2);
    static s_snapshot_t reference;
    static bool have;
    s_same (&reference, &have, s_snapshot (store), fail_at);
    ck_assert_int_eq (reference.dead, 0);
    ck_assert_int_eq (reference.outbox, 4);
    ck_assert_int_eq (reference.mirror_dlq, 0);
    cab_store_destroy (&store);
    return status;
}

START_TEST (test_maintenance)
{
    ck_assert (s_fail_each ("cab_store_sweep (to the end)", s_sweep) > 0);
    ck_assert (s_fail_each ("cab_store_purge + cab_store_redrive", s_redrive) > 0);
}
END_TEST

static Suite *
s_suite (void)
{
    //  One case each (CK_RUN_CASE=write runs one).
    Suite *suite = suite_create ("failmalloc_store");
    const char *names[] = {"open", "write", "read", "maintenance"};
    const TTest *tests[] = {test_open, test_write, test_read, test_maintenance};
    for (size_t index = 0; index < 4; index++) {
        TCase *tcase = tcase_create (names[index]);
        tcase_add_unchecked_fixture (tcase, s_setup, s_teardown);
        tcase_set_timeout (tcase, 600);
        tcase_add_test (tcase, tests[index]);
        suite_add_tcase (suite, tcase);
    }
    return suite;
}

int
main (void)
{
    SRunner *runner = srunner_create (s_suite ());
    //  One process: failmalloc counts this process's blocks.
    srunner_set_fork_status (runner, CK_NOFORK);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
