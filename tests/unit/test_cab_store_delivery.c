/*  =========================================================================
    test_cab_store_delivery - deliveries, dead letters and retention, on real
    SQLite files

    Every test works in its own mkdtemp directory, removed at the end. A
    full disk is simulated with a VFS shim (s_fault_*) that fails writes
    with SQLITE_FULL, as tests/unit/test_cab_store.c does; a real full
    tmpfs is in tests/integration/test_store_full_disk.c.
    =========================================================================
*/
#include "cab_store_delivery.h"
#include "cab_store_mirror.h"
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_MS 86400000LL

#define STORE_FIXTURE_NAME "cab-delivery"
#include "store_fixture.h"

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Wait (with a deadline) until the wall clock has passed ms.
static void
s_wait_past (int64_t ms)
{
    int64_t deadline = s_now_ms () + 2000;
    while (s_now_ms () <= ms)
        ck_assert_int_lt (s_now_ms (), deadline);
}

static cab_store_t *
s_open (void)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    return store;
}

//  An event's text and its item (the item points into the struct).
typedef struct {
    char id[48];
    char text[256];
    cab_store_item_t item;
} s_event_t;

static void
s_event (s_event_t *event, int n)
{
    snprintf (event->id, sizeof event->id, "0190a0b0-0000-7000-8000-%012d", n);
    int length = snprintf (event->text, sizeof event->text,
                           "{\"id\":\"%s\",\"source\":\"cabruca.test\","
                           "\"detail-type\":\"Test Event\",\"detail\":{\"n\":%d}}",
                           event->id, n);
    memset (&event->item, 0, sizeof event->item);
    event->item.id = event->id;
    event->item.source = "cabruca.test";
    event->item.detail_type = "Test Event";
    event->item.time_ms = 1800000000000 + n * 1000;
    event->item.text = event->text;
    event->item.length = (size_t)length;
}

//  Store events first..first+count-1 in one batch, each routed to the
//  targets "t0".."t<routes-1>" of rule; the new delivery ids (count *
//  routes, event by event) go to ids when not NULL.
static void
s_store_events (cab_store_t *store, int first, size_t count, const char *rule, size_t routes,
                int64_t *ids)
{
    s_event_t *events = calloc (count, sizeof *events);
    cab_store_item_t *items = calloc (count, sizeof *items);
    cab_store_route_t *all = calloc (count * routes + 1, sizeof *all);
    char (*names)[8] = calloc (routes + 1, sizeof *names);
    ck_assert (events && items && all && names);
    for (size_t r = 0; r < routes; r++)
        snprintf (names[r], sizeof names[r], "t%zu", r);
    for (size_t i = 0; i < count; i++) {
        s_event (&events[i], first + (int)i);
        items[i] = events[i].item;
        items[i].routes = all + i * routes;
        items[i].route_count = routes;
        for (size_t r = 0; r < routes; r++) {
            all[i * routes + r].rule = rule;
            all[i * routes + r].target = names[r];
        }
    }
    cab_store_batch_t batch = {.items = items, .item_count = count};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    for (size_t i = 0; ids && i < count * routes; i++) {
        ck_assert_int_gt (all[i].id, 0);
        ids[i] = all[i].id;
    }
    free (names);
    free (all);
    free (items);
    free (events);
}

//  Apply one state change.
static void
s_update (cab_store_t *store, int64_t id, cab_delivery_state_t state, int attempts, const char *dlq,
          const char *text)
{
    cab_delivery_update_t update = {
        .id = id, .state = state, .attempts = attempts, .dlq = dlq, .error = text};
    cab_store_batch_t batch = {.updates = &update, .update_count = 1};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
}

static cab_delivery_query_t
s_any (void)
{
    cab_delivery_query_t query = {0};
    query.state = -1;
    return query;
}

//  Deliveries as a scan sees them: ids in order (at most 64), and copies of
//  the first record's strings.
typedef struct {
    size_t count;
    int64_t ids[64];
    size_t stop_after;  //  stop the scan after this many (0: never)
    cab_delivery_record_t first;
    char rule[32], target[32], dlq[16], error[2048], event_id[64], text[256], replay[32];
} s_seen_t;

static void
s_copy (char *to, size_t size, const char *from)
{
    snprintf (to, size, "%s", from ? from : "(null)");
}

static int
s_collect (const cab_delivery_record_t *record, void *arg)
{
    s_seen_t *seen = arg;
    if (seen->count == 0) {
        seen->first = *record;
        s_copy (seen->rule, sizeof seen->rule, record->rule);
        s_copy (seen->target, sizeof seen->target, record->target);
        s_copy (seen->dlq, sizeof seen->dlq, record->dlq);
        s_copy (seen->error, sizeof seen->error, record->error);
        s_copy (seen->event_id, sizeof seen->event_id, record->event_id);
        s_copy (seen->replay, sizeof seen->replay, record->replay);
        if (record->text) {
            ck_assert_uint_lt (record->length, sizeof seen->text);
            memcpy (seen->text, record->text, record->length);
            seen->text[record->length] = 0;
        } else
            s_copy (seen->text, sizeof seen->text, NULL);
    }
    if (seen->count < 64)
        seen->ids[seen->count] = record->id;
    seen->count++;
    return seen->stop_after && seen->count >= seen->stop_after;
}

//  Scan with query; check that count agrees (without limit); return what
//  was seen.
static s_seen_t
s_scan (cab_store_t *store, cab_delivery_query_t query)
{
    s_seen_t seen;
    memset (&seen, 0, sizeof seen);
    cab_error_t error;
    ck_assert_msg (cab_store_scan_deliveries (store, &query, s_collect, &seen, &error) == CAB_OK,
                   "%s", error.text);
    if (query.limit == 0) {
        int64_t count = -1;
        ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, &error), CAB_OK);
        ck_assert_int_eq (count, (int64_t)seen.count);
    }
    for (size_t i = 1; i < seen.count && i < 64; i++)
        ck_assert_int_gt (seen.ids[i], seen.ids[i - 1]);
    return seen;
}

static int64_t
s_count (cab_store_t *store, int state)
{
    cab_delivery_query_t query = s_any ();
    query.state = state;
    int64_t count = -1;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, NULL), CAB_OK);
    return count;
}

//  --------------------------------------------------------------------------

START_TEST (test_routes_with_events)
{
    cab_store_t *store = s_open ();
    //  Event 1 is stored first; the batch then has a new event 2, a
    //  duplicate of 1, a new event 3 and a second copy of 3: routes are
    //  created for 2 and the first 3 only, in the events' transaction.
    s_store_events (store, 1, 1, "r", 1, NULL);
    s_event_t events[4];
    s_event (&events[0], 2);
    s_event (&events[1], 1);
    s_event (&events[2], 3);
    s_event (&events[3], 3);
    cab_store_route_t routes[4][2];
    cab_store_item_t items[4];
    for (int i = 0; i < 4; i++) {
        items[i] = events[i].item;
        routes[i][0] = (cab_store_route_t){.rule = "r", .target = "a", .seq = 99, .id = 99};
        routes[i][1] = (cab_store_route_t){.rule = "r", .target = "b", .next_ms = 1234};
        items[i].routes = routes[i];
        items[i].route_count = 2;
    }
    cab_store_batch_t batch = {.items = items, .item_count = 4};
    cab_error_t error;
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_OK);
    int64_t seqs[] = {2, 1, 3, 3};
    bool duplicate[] = {false, true, false, true};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq (items[i].seq, seqs[i]);
        ck_assert (items[i].duplicate == duplicate[i]);
        for (int r = 0; r < 2; r++) {
            ck_assert_int_eq (routes[i][r].seq, seqs[i]);
            if (duplicate[i])
                ck_assert_int_eq (routes[i][r].id, 0);
            else
                ck_assert_int_gt (routes[i][r].id, 1);
        }
    }
    ck_assert_int_eq (cab_store_count (store), 3);
    ck_assert_int_eq (s_count (store, -1), 1 + 4);
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_PENDING), 5);

    //  Read back: a new delivery is PENDING, attempt 0, now; next_ms as given.
    cab_delivery_query_t query = s_any ();
    query.seq = 3;
    query.with_text = true;
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.first.id, routes[2][0].id);
    ck_assert_str_eq (seen.rule, "r");
    ck_assert_str_eq (seen.target, "a");
    ck_assert_str_eq (seen.replay, "(null)");
    ck_assert_int_eq (seen.first.state, CAB_DELIVERY_PENDING);
    ck_assert_int_eq (seen.first.attempts, 0);
    ck_assert_int_le (llabs (seen.first.created_ms - s_now_ms ()), 60000);
    ck_assert_int_eq (seen.first.next_ms, seen.first.created_ms);
    ck_assert_int_eq (seen.first.updated_ms, seen.first.created_ms);
    ck_assert_str_eq (seen.event_id, events[2].id);
    ck_assert_str_eq (seen.text, events[2].text);
    ck_assert_int_eq (seen.first.event_time_ms, events[2].item.time_ms);
    query.target = "b";
    seen = s_scan (store, query);
    ck_assert_int_eq (seen.first.next_ms, 1234);

    //  cab_store_append with zeroed route fields: events only.
    s_event_t plain;
    s_event (&plain, 10);
    ck_assert_int_eq (cab_store_append (store, &plain.item, 1, &error), CAB_OK);
    ck_assert_int_eq (plain.item.seq, 4);
    ck_assert_int_eq (s_count (store, -1), 5);

    //  Bad routes are refused before anything is written.
    s_event (&plain, 11);
    cab_store_route_t bad = {.rule = "r"};
    plain.item.routes = &bad;
    plain.item.route_count = 1;
    batch = (cab_store_batch_t){.items = &plain.item, .item_count = 1};
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull (strstr (error.text, "route 0"));
    plain.item.routes = NULL;
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_count (store), 4);
    batch = (cab_store_batch_t){0};
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_OK);
    ck_assert_int_eq (cab_store_write (store, NULL, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_write (NULL, &batch, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&store);
}
END_TEST

//  One delivery as a scan sees it.
static s_seen_t
s_get (cab_store_t *store, int64_t id)
{
    cab_delivery_query_t query = s_any ();
    query.ids = &id;
    query.id_count = 1;
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 1);
    return seen;
}

//  Consecutive plain DONEs are written as runs (one statement each): the
//  rows come out as one update at a time would leave them, in batch order.
START_TEST (test_update_runs)
{
    cab_store_t *store = s_open ();
    int64_t ids[12];
    s_store_events (store, 1, 12, "r", 1, ids);
    for (int i = 1; i < 12; i++)
        ck_assert_int_eq (ids[i], ids[0] + i);
    s_update (store, ids[4], CAB_DELIVERY_PENDING, 1, NULL, "boom");
    cab_delivery_update_t updates[] = {
        {ids[0], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},  //  a run of three
        {ids[1], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
        {ids[2], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
        {ids[3], CAB_DELIVERY_DONE, 2, 0, NULL, NULL},  //  other attempts: a new run
        {ids[4], CAB_DELIVERY_DONE, 2, 0, NULL, NULL},  //  its old error goes
        {ids[5], CAB_DELIVERY_PENDING, 1, 5000, NULL, "e5"},
        {ids[5], CAB_DELIVERY_DONE, 2, 0, NULL, NULL},  //  after its PENDING: DONE
        {ids[7], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},  //  descending: no run
        {ids[6], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
        {ids[8], CAB_DELIVERY_DEAD, 3, 0, "critical", "x"},
        {ids[9], CAB_DELIVERY_DONE, 1, 0, NULL, "kept"},  //  not plain: its own
        {ids[10], CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
        {ids[11] + 100, CAB_DELIVERY_DONE, 1, 0, NULL, NULL},  //  no such rows
        {ids[11] + 101, CAB_DELIVERY_DONE, 1, 0, NULL, NULL},
    };
    cab_store_batch_t batch = {.updates = updates,
                               .update_count = sizeof updates / sizeof updates[0]};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    struct {
        int state, attempts;
        const char *error, *dlq;
    } expected[12] = {
        {CAB_DELIVERY_DONE, 1, "(null)", "(null)"}, {CAB_DELIVERY_DONE, 1, "(null)", "(null)"},
        {CAB_DELIVERY_DONE, 1, "(null)", "(null)"}, {CAB_DELIVERY_DONE, 2, "(null)", "(null)"},
        {CAB_DELIVERY_DONE, 2, "(null)", "(null)"}, {CAB_DELIVERY_DONE, 2, "(null)", "(null)"},
        {CAB_DELIVERY_DONE, 1, "(null)", "(null)"}, {CAB_DELIVERY_DONE, 1, "(null)", "(null)"},
        {CAB_DELIVERY_DEAD, 3, "x", "critical"},    {CAB_DELIVERY_DONE, 1, "kept", "(null)"},
        {CAB_DELIVERY_DONE, 1, "(null)", "(null)"}, {CAB_DELIVERY_PENDING, 0, "(null)", "(null)"},
    };
    for (int i = 0; i < 12; i++) {
        s_seen_t seen = s_get (store, ids[i]);
        ck_assert_msg ((int)seen.first.state == expected[i].state, "delivery %d: state %d", i,
                       (int)seen.first.state);
        ck_assert_msg (seen.first.attempts == expected[i].attempts, "delivery %d: attempts %d", i,
                       seen.first.attempts);
        ck_assert_str_eq (seen.error, expected[i].error);
        ck_assert_str_eq (seen.dlq, expected[i].dlq);
        if (expected[i].state == CAB_DELIVERY_DONE)
            ck_assert_int_eq (seen.first.next_ms, 0);
    }
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_DONE), 10);
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_PENDING), 1);
    //  The pending index agrees: only the untouched one is due.
    cab_delivery_query_t due = s_any ();
    due.state = CAB_DELIVERY_PENDING;
    ck_assert_int_eq (s_scan (store, due).ids[0], ids[11]);
    cab_store_destroy (&store);
}
END_TEST

//  Collect outbox seqs (at most 64).
typedef struct {
    size_t count;
    int64_t seqs[64];
} s_outbox_t;

static int
s_outbox_seq (const cab_outbox_record_t *record, void *arg)
{
    s_outbox_t *outbox = arg;
    if (outbox->count < 64)
        outbox->seqs[outbox->count] = record->seq;
    outbox->count++;
    return 0;
}

//  A batch of many routed events: the deliveries and the outbox rows go in
//  by 32, 8 and 1 rows a statement; ids follow event and route order
//  without gaps, each with its event's seq; a duplicate event gets no
//  deliveries, no outbox row, and uses no id.
START_TEST (test_many_routes)
{
    enum { EVENTS = 50, ROUTES = 3 };
    cab_store_t *store = s_open ();
    s_store_events (store, 1, 1, "r", 1, NULL);  //  event 1: a duplicate below
    s_event_t *events = calloc (EVENTS, sizeof *events);
    cab_store_item_t *items = calloc (EVENTS, sizeof *items);
    cab_store_route_t *routes = calloc (EVENTS * ROUTES, sizeof *routes);
    const char *names[ROUTES] = {"a", "b", "c"};
    for (int i = 0; i < EVENTS; i++) {
        s_event (&events[i], i == 20 ? 1 : 100 + i);  //  the 21st is event 1 again
        items[i] = events[i].item;
        items[i].routes = routes + i * ROUTES;
        items[i].route_count = ROUTES;
        items[i].mirror = i % 5 != 4;
        for (int r = 0; r < ROUTES; r++) {
            routes[i * ROUTES + r].rule = "many";
            routes[i * ROUTES + r].target = names[r];
        }
    }
    cab_store_batch_t batch = {.items = items, .item_count = EVENTS};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    int64_t next = 2;  //  delivery 1 is event 1's
    for (int i = 0; i < EVENTS; i++) {
        ck_assert_int_eq (items[i].duplicate, i == 20);
        ck_assert_int_eq (items[i].seq, i == 20 ? 1 : i < 20 ? i + 2 : i + 1);
        for (int r = 0; r < ROUTES; r++) {
            const cab_store_route_t *route = &routes[i * ROUTES + r];
            ck_assert_int_eq (route->seq, items[i].seq);
            if (i == 20) {
                ck_assert_int_eq (route->id, 0);
                continue;
            }
            ck_assert_int_eq (route->id, next++);
            s_seen_t seen = s_get (store, route->id);
            ck_assert_int_eq (seen.first.seq, items[i].seq);
            ck_assert_str_eq (seen.target, names[r]);
            ck_assert_int_eq ((int)seen.first.state, CAB_DELIVERY_PENDING);
        }
    }
    ck_assert_int_eq (s_count (store, -1), 1 + (EVENTS - 1) * ROUTES);
    //  The outbox: the mirrored new events, in order.
    s_outbox_t outbox = {0};
    ck_assert_int_eq (
        cab_store_outbox_scan (store, 0, s_now_ms (), 0, s_outbox_seq, &outbox, &error), CAB_OK);
    size_t expected = 0;
    for (int i = 0; i < EVENTS; i++)
        if (items[i].mirror && i != 20) {
            ck_assert_uint_lt (expected, outbox.count);
            ck_assert_int_eq (outbox.seqs[expected], items[i].seq);
            expected++;
        }
    ck_assert_uint_eq (outbox.count, expected);
    ck_assert_uint_eq (expected, 39);
    free (routes);
    free (items);
    free (events);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_updates_and_batch_routes)
{
    cab_store_t *store = s_open ();
    int64_t ids[6];
    s_store_events (store, 1, 3, "r", 2, ids);

    //  One transaction: an event with a route, updates, routes for stored
    //  events (a replay), one of them for an event that does not exist.
    s_event_t event;
    s_event (&event, 4);
    cab_store_route_t route = {.rule = "r2", .target = "x"};
    event.item.routes = &route;
    event.item.route_count = 1;
    char long_error[1500];
    memset (long_error, 'e', sizeof long_error);
    memcpy (long_error + 1021, "\xc3\xa9\xc3\xa9", 4);  //  an é across the cut
    long_error[sizeof long_error - 1] = 0;
    cab_delivery_update_t updates[] = {
        {.id = ids[0], .state = CAB_DELIVERY_DONE, .attempts = 1},
        {.id = ids[1],
         .state = CAB_DELIVERY_DEAD,
         .attempts = 4,
         .dlq = "critical",
         .error = "exit status 1"},
        {.id = ids[2],
         .state = CAB_DELIVERY_PENDING,
         .attempts = 2,
         .next_ms = 777,
         .error = long_error},
        {.id = ids[3], .state = CAB_DELIVERY_DEAD, .attempts = 9},  //  default dlq
        {.id = 424242, .state = CAB_DELIVERY_DONE, .attempts = 1},  //  gone: skipped
    };
    cab_store_route_t replays[] = {
        {.rule = "r", .target = "t0", .replay = "rp1", .seq = 2},
        {.rule = "r", .target = "t1", .replay = "rp1", .seq = 3, .next_ms = 5000},
        {.rule = "r", .target = "t0", .replay = "rp1", .seq = 999},  //  no such event
    };
    cab_store_batch_t batch = {.items = &event.item,
                               .item_count = 1,
                               .updates = updates,
                               .update_count = 5,
                               .routes = replays,
                               .route_count = 3};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    ck_assert_int_gt (route.id, ids[5]);
    ck_assert_int_gt (replays[0].id, route.id);
    ck_assert_int_gt (replays[1].id, replays[0].id);
    ck_assert_int_eq (replays[2].id, 0);

    cab_delivery_query_t query = s_any ();
    query.ids = &ids[0];
    query.id_count = 1;
    s_seen_t seen = s_scan (store, query);
    ck_assert_int_eq (seen.first.state, CAB_DELIVERY_DONE);
    ck_assert_int_eq (seen.first.attempts, 1);
    ck_assert_str_eq (seen.dlq, "(null)");
    ck_assert_int_ge (seen.first.updated_ms, seen.first.created_ms);

    query.ids = &ids[1];
    seen = s_scan (store, query);
    ck_assert_int_eq (seen.first.state, CAB_DELIVERY_DEAD);
    ck_assert_int_eq (seen.first.attempts, 4);
    ck_assert_str_eq (seen.dlq, "critical");
    ck_assert_str_eq (seen.error, "exit status 1");
    ck_assert_str_eq (seen.text, "(null)");  //  no with_text

    query.ids = &ids[2];
    seen = s_scan (store, query);
    ck_assert_int_eq (seen.first.state, CAB_DELIVERY_PENDING);
    ck_assert_int_eq (seen.first.next_ms, 777);
    ck_assert_uint_eq (strlen (seen.error), 1023);  //  cut before the split é

    query.ids = &ids[3];
    seen = s_scan (store, query);
    ck_assert_str_eq (seen.dlq, "standard");

    query.ids = NULL;
    query.id_count = 0;
    query.replay = "rp1";
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.first.seq, 2);
    ck_assert_str_eq (seen.replay, "rp1");

    //  Bad updates are refused before anything is written.
    cab_delivery_update_t bad[] = {{.id = ids[4], .state = (cab_delivery_state_t)7},
                                   {.id = ids[4], .state = CAB_DELIVERY_DEAD, .dlq = "other"},
                                   {.id = ids[4], .state = CAB_DELIVERY_DONE, .attempts = -1}};
    for (size_t i = 0; i < 3; i++) {
        batch = (cab_store_batch_t){.updates = &bad[i], .update_count = 1};
        ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_ERR_INVALID_ARGUMENT);
    }
    //  6 created with the events, 3 changed, 1 with event 4, 2 replays.
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_PENDING), 6 - 3 + 1 + 2);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_query_filters)
{
    cab_store_t *store = s_open ();
    //  Events 1..4, rule "a" (targets t0, t1); events 5..6, rule "b" (t0).
    int64_t a[8], b[2];
    s_store_events (store, 1, 4, "a", 2, a);
    int64_t mark = s_now_ms ();
    s_wait_past (mark);
    s_store_events (store, 5, 2, "b", 1, b);
    //  a[0] done, a[1] dead standard, a[2] dead critical, b[1] dead critical.
    s_update (store, a[0], CAB_DELIVERY_DONE, 1, NULL, NULL);
    s_update (store, a[1], CAB_DELIVERY_DEAD, 3, "standard", "boom");
    s_update (store, a[2], CAB_DELIVERY_DEAD, 3, "critical", "boom");
    s_wait_past (s_now_ms ());
    int64_t late = s_now_ms ();
    s_wait_past (late);
    s_update (store, b[1], CAB_DELIVERY_DEAD, 5, "critical", "later");

    cab_delivery_query_t query = s_any ();
    ck_assert_uint_eq (s_scan (store, query).count, 10);
    query.state = CAB_DELIVERY_PENDING;
    ck_assert_uint_eq (s_scan (store, query).count, 6);
    query.state = CAB_DELIVERY_DONE;
    ck_assert_uint_eq (s_scan (store, query).count, 1);
    query.state = CAB_DELIVERY_DEAD;
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 3);
    ck_assert_int_eq (seen.ids[0], a[1]);
    ck_assert_int_eq (seen.ids[2], b[1]);

    query = s_any ();
    query.from_id = a[6];
    ck_assert_uint_eq (s_scan (store, query).count, 4);
    query = s_any ();
    query.seq = 2;
    ck_assert_uint_eq (s_scan (store, query).count, 2);
    query = s_any ();
    query.rule = "b";
    ck_assert_uint_eq (s_scan (store, query).count, 2);
    query.rule = "nope";
    ck_assert_uint_eq (s_scan (store, query).count, 0);
    query = s_any ();
    query.target = "t1";
    ck_assert_uint_eq (s_scan (store, query).count, 4);
    query = s_any ();
    query.dlq = "critical";
    ck_assert_uint_eq (s_scan (store, query).count, 2);
    query.state = CAB_DELIVERY_DEAD;
    query.rule = "a";
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.first.id, a[2]);
    query = s_any ();
    query.event_id = "0190a0b0-0000-7000-8000-000000000003";
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.first.seq, 3);
    query.event_id = "no-such-event";
    ck_assert_uint_eq (s_scan (store, query).count, 0);

    //  Time filters are on updated_ms (the dead-lettering time for DEAD).
    query = s_any ();
    query.from_ms = late;
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.first.id, b[1]);
    query = s_any ();
    query.to_ms = mark;
    ck_assert_uint_eq (s_scan (store, query).count, 5);  //  a[3..7] never updated
    query.from_ms = mark - 60000;
    ck_assert_uint_eq (s_scan (store, query).count, 5);
    query.state = CAB_DELIVERY_DEAD;
    query.to_ms = late - 1;
    query.from_ms = 0;
    ck_assert_uint_eq (s_scan (store, query).count, 2);

    //  ids, limit, with_text, stopping early.
    query = s_any ();
    int64_t some[] = {b[0], a[3], 987654};
    query.ids = some;
    query.id_count = 3;
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.ids[0], a[3]);
    ck_assert_int_eq (seen.ids[1], b[0]);
    query = s_any ();
    query.limit = 3;
    query.with_text = true;
    seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 3);
    ck_assert_ptr_nonnull (strstr (seen.text, "\"n\":1"));
    query.limit = 0;
    seen.count = 0;
    memset (&seen, 0, sizeof seen);
    seen.stop_after = 4;
    cab_error_t error;
    ck_assert_int_eq (cab_store_scan_deliveries (store, &query, s_collect, &seen, &error), CAB_OK);
    ck_assert_uint_eq (seen.count, 4);

    //  The same query shapes again (cached statements), many shapes (the
    //  cache wraps around), and bad queries.
    for (int round = 0; round < 3; round++)
        for (int state = -1; state <= 2; state++) {
            query = s_any ();
            query.state = state;
            query.rule = round ? "a" : NULL;
            query.from_id = round == 2 ? 1 : 0;
            int64_t count = -1;
            ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, &error), CAB_OK);
            int64_t want[3][4] = {{10, 6, 1, 3}, {8, 5, 1, 2}, {8, 5, 1, 2}};
            ck_assert_int_eq (count, want[round][state + 1]);
        }
    query = s_any ();
    query.state = 3;
    ck_assert_int_eq (cab_store_scan_deliveries (store, &query, s_collect, &seen, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    query.state = -2;
    int64_t count;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    query = s_any ();
    query.id_count = CAB_DELIVERY_IDS_MAX + 1;
    query.ids = some;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_scan_deliveries (store, NULL, s_collect, &seen, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_scan_deliveries (store, &query, NULL, &seen, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (cab_delivery_state_name (CAB_DELIVERY_DEAD), "dead");
    ck_assert_str_eq (cab_delivery_state_name (CAB_DELIVERY_PENDING), "pending");
    ck_assert_str_eq (cab_delivery_state_name (CAB_DELIVERY_DONE), "done");
    ck_assert_str_eq (cab_delivery_state_name (9), "unknown");
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_redrive_and_purge)
{
    cab_store_t *store = s_open ();
    int64_t ids[10];
    s_store_events (store, 1, 5, "r", 2, ids);
    for (int i = 0; i < 8; i++)
        s_update (store, ids[i], CAB_DELIVERY_DEAD, 3, i % 2 ? "critical" : "standard", "bad");
    s_update (store, ids[8], CAB_DELIVERY_DONE, 1, NULL, NULL);

    //  Redrive only touches dead letters matching the filter.
    cab_delivery_query_t query = s_any ();
    query.dlq = "critical";
    query.limit = 3;
    int64_t count = -1;
    cab_error_t error;
    int64_t now = s_now_ms () + 5000;
    ck_assert_int_eq (cab_store_redrive (store, &query, now, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 3);
    query = s_any ();
    query.ids = ids;
    query.id_count = 2;
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 2);
    query.ids = &ids[1];
    query.id_count = 1;
    seen = s_scan (store, query);
    ck_assert_int_eq (seen.first.state, CAB_DELIVERY_PENDING);
    ck_assert_int_eq (seen.first.attempts, 0);
    ck_assert_int_eq (seen.first.created_ms, now);
    ck_assert_int_eq (seen.first.next_ms, now);
    ck_assert_str_eq (seen.dlq, "(null)");
    ck_assert_str_eq (seen.error, "bad");
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_DEAD), 5);

    //  By id: a DONE and a PENDING one are not redriven.
    int64_t some[] = {ids[0], ids[8], ids[9], ids[7]};
    query = s_any ();
    query.ids = some;
    query.id_count = 4;
    ck_assert_int_eq (cab_store_redrive (store, &query, now, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 2);
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_DEAD), 3);

    //  Purge: only dead letters.
    query = s_any ();
    query.dlq = "standard";
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 3);
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_DEAD), 0);
    query = s_any ();
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 0);
    ck_assert_int_eq (s_count (store, -1), 7);
    ck_assert_int_eq (cab_store_redrive (store, &query, now, NULL, &error), CAB_OK);
    ck_assert_int_eq (cab_store_redrive (store, NULL, now, &count, &error),
                      CAB_ERR_INVALID_ARGUMENT);

    //  A purged newest delivery's id is not given again.
    int64_t next[1];
    s_store_events (store, 6, 1, "r", 1, next);
    s_update (store, next[0], CAB_DELIVERY_DEAD, 1, NULL, NULL);
    query = s_any ();
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 1);
    int64_t after[1];
    s_store_events (store, 7, 1, "r", 1, after);
    ck_assert_int_gt (after[0], next[0]);
    //  Nor after a reopen.
    s_update (store, after[0], CAB_DELIVERY_DEAD, 1, NULL, NULL);
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 1);
    cab_store_destroy (&store);
    store = s_open ();
    s_store_events (store, 8, 1, "r", 1, next);
    ck_assert_int_gt (next[0], after[0]);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_sweep_keeps_pending_and_dead)
{
    cab_store_t *store = s_open ();
    int64_t ids[4];
    //  Events 1..4 with one delivery each, 5..6 with none.
    s_store_events (store, 1, 4, "r", 1, ids);
    s_store_events (store, 5, 2, "r", 0, NULL);
    s_update (store, ids[1], CAB_DELIVERY_DONE, 1, NULL, NULL);
    s_update (store, ids[2], CAB_DELIVERY_DEAD, 2, "standard", "x");
    s_update (store, ids[3], CAB_DELIVERY_DONE, 1, NULL, NULL);
    //  Ten days later, archive 7 days, dead letters kept 14 days, DONE
    //  deliveries kept with their events.
    cab_store_retention_t retention = {
        .archive_ms = 7 * DAY_MS, .standard_ms = 14 * DAY_MS, .critical_ms = 4 * DAY_MS};
    int64_t now = s_now_ms () + 10 * DAY_MS, deleted = -1;
    cab_error_t error;
    ck_assert_int_eq (cab_store_sweep (store, &retention, now, 100, &deleted, &error), CAB_OK);
    //  Events 2, 4, 5, 6 and the deliveries of 2 and 4.
    ck_assert_int_eq (deleted, 6);
    ck_assert_int_eq (cab_store_count (store), 2);
    ck_assert_int_eq (cab_store_get_seq (store, 1, NULL, NULL, &error), CAB_OK);
    ck_assert_int_eq (cab_store_get_seq (store, 3, NULL, NULL, &error), CAB_OK);
    ck_assert_int_eq (cab_store_get_seq (store, 2, NULL, NULL, &error), CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (s_count (store, -1), 2);
    ck_assert_int_eq (cab_store_sweep (store, &retention, now, 100, &deleted, &error), CAB_OK);
    ck_assert_int_eq (deleted, 0);

    //  The pending one is delivered, the dead letter expires: all goes.
    s_update (store, ids[0], CAB_DELIVERY_DONE, 1, NULL, NULL);
    now += 10 * DAY_MS;
    ck_assert_int_eq (cab_store_sweep (store, &retention, now, 100, &deleted, &error), CAB_OK);
    ck_assert_int_eq (deleted, 4);
    ck_assert_int_eq (cab_store_count (store), 0);
    ck_assert_int_eq (s_count (store, -1), 0);
    cab_store_destroy (&store);

    //  Seqs are not given again after the newest events were swept.
    store = s_open ();
    ck_assert_int_eq (cab_store_last_seq (store), 6);
    s_event_t event;
    s_event (&event, 50);
    ck_assert_int_eq (cab_store_append (store, &event.item, 1, &error), CAB_OK);
    ck_assert_int_eq (event.item.seq, 7);

    //  No retention: nothing to do. Bad arguments.
    cab_store_retention_t forever = {0};
    ck_assert_int_eq (cab_store_sweep (store, &forever, now, 0, &deleted, &error), CAB_OK);
    ck_assert_int_eq (deleted, 0);
    ck_assert_int_eq (cab_store_sweep (store, NULL, now, 0, &deleted, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_sweep_in_steps)
{
    cab_store_t *store = s_open ();
    for (int first = 1; first <= 10000; first += 1000)
        s_store_events (store, first, 1000, "r", 0, NULL);
    //  Plus one young event, stored later, that must stay.
    cab_store_retention_t retention = {.archive_ms = 7 * DAY_MS};
    int64_t now = s_now_ms () + 8 * DAY_MS;
    int calls = 0;
    int64_t deleted = 0, total = 0;
    cab_error_t error;
    do {
        ck_assert_int_eq (cab_store_sweep (store, &retention, now, 500, &deleted, &error), CAB_OK);
        ck_assert_int_le (deleted, 500);
        total += deleted;
        calls++;
        ck_assert_int_lt (calls, 100);
    } while (deleted > 0);
    ck_assert_int_eq (calls, 21);  //  20 calls of 500, then one finding nothing
    ck_assert_int_eq (total, 10000);
    ck_assert_int_eq (cab_store_count (store), 0);

    //  An event with many DONE deliveries: the budget counts them too.
    int64_t ids[30];
    s_store_events (store, 20001, 1, "r", 30, ids);
    for (int i = 0; i < 30; i++)
        s_update (store, ids[i], CAB_DELIVERY_DONE, 1, NULL, NULL);
    ck_assert_int_eq (cab_store_sweep (store, &retention, now, 20, &deleted, &error), CAB_OK);
    ck_assert_int_eq (deleted, 20);
    ck_assert_int_eq (cab_store_count (store), 1);
    ck_assert_int_eq (cab_store_sweep (store, &retention, now, 20, &deleted, &error), CAB_OK);
    ck_assert_int_eq (deleted, 11);
    ck_assert_int_eq (cab_store_count (store), 0);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_sweep_bounded_walk)
{
    //  2,500 old events still held by a pending delivery, then 100 free
    //  ones: a call examines at most 10 * max_rows events, so the first
    //  calls find nothing, and the walk goes on where it stopped.
    cab_store_t *store = s_open ();
    int64_t *ids = calloc (2500, sizeof *ids);
    ck_assert_ptr_nonnull (ids);
    s_store_events (store, 1, 2500, "r", 1, ids);
    s_store_events (store, 2501, 100, "r", 0, NULL);
    cab_store_retention_t retention = {.archive_ms = DAY_MS};
    int64_t now = s_now_ms () + 2 * DAY_MS, deleted = -1;
    cab_error_t error;
    int64_t want[] = {0, 0, 100, 0};
    for (int call = 0; call < 4; call++) {
        ck_assert_int_eq (cab_store_sweep (store, &retention, now, 100, &deleted, &error), CAB_OK);
        ck_assert_int_eq (deleted, want[call]);
    }
    ck_assert_int_eq (cab_store_count (store), 2500);

    //  Delivered: the next round takes them (2 rows each), 100 a call.
    cab_delivery_update_t *updates = calloc (2500, sizeof *updates);
    ck_assert_ptr_nonnull (updates);
    for (int i = 0; i < 2500; i++)
        updates[i] = (cab_delivery_update_t){.id = ids[i], .state = CAB_DELIVERY_DONE};
    cab_store_batch_t batch = {.updates = updates, .update_count = 2500};
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_OK);
    int calls = 0;
    int64_t total = 0;
    do {
        ck_assert_int_eq (cab_store_sweep (store, &retention, now, 100, &deleted, &error), CAB_OK);
        total += deleted;
        calls++;
    } while (deleted > 0 && calls < 200);
    ck_assert_int_eq (total, 5000);
    ck_assert_int_eq (calls, 51);
    ck_assert_int_eq (cab_store_count (store), 0);
    ck_assert_int_eq (s_count (store, -1), 0);
    free (updates);
    free (ids);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_retention_per_dlq)
{
    cab_store_t *store = s_open ();
    int64_t ids[4];
    s_store_events (store, 1, 2, "r", 2, ids);
    s_update (store, ids[0], CAB_DELIVERY_DEAD, 1, "standard", NULL);
    s_update (store, ids[1], CAB_DELIVERY_DEAD, 1, "critical", NULL);
    s_update (store, ids[2], CAB_DELIVERY_DONE, 1, NULL, NULL);
    cab_store_retention_t retention = {.archive_ms = 30 * DAY_MS,
                                       .standard_ms = CAB_STORE_STANDARD_MS,
                                       .critical_ms = CAB_STORE_CRITICAL_MS};
    int64_t start = s_now_ms (), deleted = -1;
    cab_error_t error;
    //  After 1 day: nothing.
    ck_assert_int_eq (cab_store_sweep (store, &retention, start + DAY_MS, 0, &deleted, &error),
                      CAB_OK);
    ck_assert_int_eq (deleted, 0);
    //  After 3 days: nothing either (a DONE delivery goes with its event).
    ck_assert_int_eq (cab_store_sweep (store, &retention, start + 3 * DAY_MS, 0, &deleted, &error),
                      CAB_OK);
    ck_assert_int_eq (deleted, 0);
    //  After 5 days: the critical dead letter (4 days).
    ck_assert_int_eq (cab_store_sweep (store, &retention, start + 5 * DAY_MS, 0, &deleted, &error),
                      CAB_OK);
    ck_assert_int_eq (deleted, 1);
    cab_delivery_query_t query = s_any ();
    query.state = CAB_DELIVERY_DEAD;
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_str_eq (seen.dlq, "standard");
    //  After 15 days: the standard one (14 days); the events stay (30).
    ck_assert_int_eq (cab_store_sweep (store, &retention, start + 15 * DAY_MS, 0, &deleted, &error),
                      CAB_OK);
    ck_assert_int_eq (deleted, 1);
    //  ids[3], pending, keeps its event, and ids[2], DONE, with it.
    ck_assert_int_eq (s_count (store, -1), 2);
    ck_assert_int_eq (cab_store_count (store), 2);
    cab_store_destroy (&store);
}
END_TEST

//  Run SQL on a file directly, as an older cabruca would.
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

//  A store as cabruca 0.1 (schema version 2) wrote it.
static const char *s_v2_sql =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('format', 'cabruca-store'), ('schema_version', '2');"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL, detail_type TEXT NOT NULL, agent_id TEXT, correlation_id TEXT,"
    "  received_ms INTEGER NOT NULL, text TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_id ON events (id);"
    "CREATE INDEX events_time ON events (time_ms);"
    "CREATE INDEX events_source_type_time ON events (source, detail_type, time_ms);"
    "CREATE INDEX events_correlation ON events (correlation_id);"
    "INSERT INTO events VALUES (1, 'e-1', 1000, 'src', 'T', NULL, NULL, 1000, '{\"id\":\"e-1\"}');"
    "INSERT INTO events VALUES (2, 'e-2', 2000, 'src', 'T', 'a', 'c', 2000, '{\"id\":\"e-2\"}');";

START_TEST (test_migrate_from_v2)
{
    s_sql (s_path, s_v2_sql);
    cab_error_t error;
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNSUPPORTED_VERSION);

    cab_store_t *store = s_open ();
    ck_assert_int_eq (cab_store_count (store), 2);
    ck_assert_int_eq (s_count (store, -1), 0);
    //  Deliveries for the old events and new ones.
    cab_store_route_t route = {.rule = "r", .target = "t", .seq = 1};
    cab_store_batch_t batch = {.routes = &route, .route_count = 1};
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_OK);
    ck_assert_int_gt (route.id, 0);
    int64_t ids[1];
    s_store_events (store, 3, 1, "r", 1, ids);
    ck_assert_int_eq (cab_store_last_seq (store), 3);
    cab_store_destroy (&store);

    store = cab_store_new_readonly (s_path, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    ck_assert_int_eq (s_count (store, CAB_DELIVERY_PENDING), 2);
    cab_delivery_query_t query = s_any ();
    query.event_id = "e-1";
    s_seen_t seen = s_scan (store, query);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.first.event_time_ms, 1000);
    cab_store_destroy (&store);

    //  The schema version is recorded: the current file opens as it is.
    sqlite3 *db = NULL;
    ck_assert_int_eq (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    ck_assert_int_eq (sqlite3_prepare_v2 (db, "SELECT value FROM meta WHERE key = 'schema_version'",
                                          -1, &stmt, NULL),
                      SQLITE_OK);
    ck_assert_int_eq (sqlite3_step (stmt), SQLITE_ROW);
    ck_assert_str_eq ((const char *)sqlite3_column_text (stmt, 0), "5");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}
END_TEST

START_TEST (test_readonly_handle)
{
    cab_store_t *store = s_open ();
    int64_t ids[2];
    s_store_events (store, 1, 2, "r", 1, ids);
    s_update (store, ids[0], CAB_DELIVERY_DEAD, 3, "standard", "nope");
    cab_error_t error;
    cab_store_t *reader = cab_store_new_readonly (s_path, &error);
    ck_assert_msg (reader != NULL, "%s", error.text);
    //  The writer keeps writing; the reader sees committed rows.
    s_store_events (store, 3, 1, "r", 1, NULL);
    cab_delivery_query_t query = s_any ();
    query.with_text = true;
    ck_assert_uint_eq (s_scan (reader, query).count, 3);
    query.state = CAB_DELIVERY_DEAD;
    s_seen_t seen = s_scan (reader, query);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_str_eq (seen.error, "nope");

    //  It cannot write.
    int64_t count = -1, deleted = -1;
    cab_store_batch_t batch = {.updates = &(cab_delivery_update_t){.id = ids[1]},
                               .update_count = 1};
    ck_assert_int_eq (cab_store_write (reader, &batch, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull (strstr (error.text, "read-only"));
    ck_assert_int_eq (cab_store_redrive (reader, &query, 1, &count, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_store_purge (reader, &query, &count, &error), CAB_ERR_INVALID_ARGUMENT);
    cab_store_retention_t retention = {.archive_ms = 1};
    ck_assert_int_eq (
        cab_store_sweep (reader, &retention, s_now_ms () + DAY_MS, 10, &deleted, &error),
        CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (s_count (store, -1), 3);
    cab_store_destroy (&reader);
    cab_store_destroy (&store);
}
END_TEST

//  --------------------------------------------------------------------------
//  A VFS shim that fails writes on demand: after s_fault_after more writes
//  (-1: never), every write fails with s_fault_code, as a full disk does.

typedef struct {
    sqlite3_file base;
    sqlite3_file *real;
} s_file_t;

static sqlite3_vfs *s_real_vfs;
static sqlite3_vfs s_fault_vfs;
static sqlite3_io_methods s_fault_methods;
static int s_fault_code = SQLITE_FULL;
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
        return;
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

//  Counts that a failed call must leave as they were.
typedef struct {
    int64_t events, pending, done, dead;
} s_totals_t;

static s_totals_t
s_totals (cab_store_t *store)
{
    s_totals_t totals = {cab_store_count (store), s_count (store, CAB_DELIVERY_PENDING),
                         s_count (store, CAB_DELIVERY_DONE), s_count (store, CAB_DELIVERY_DEAD)};
    return totals;
}

static void
s_same (s_totals_t a, s_totals_t b)
{
    ck_assert_int_eq (a.events, b.events);
    ck_assert_int_eq (a.pending, b.pending);
    ck_assert_int_eq (a.done, b.done);
    ck_assert_int_eq (a.dead, b.dead);
}

START_TEST (test_full_disk)
{
    s_fault_install ();
    cab_store_t *store = s_open ();
    int64_t ids[40];
    s_store_events (store, 1, 20, "r", 2, ids);
    for (int i = 0; i < 10; i++)
        s_update (store, ids[i], CAB_DELIVERY_DEAD, 1, "standard", "x");

    //  A batch with events (+ routes), updates and replay routes: fail the
    //  k-th write for every k until it gets through; each failure leaves
    //  nothing behind and clears every output.
    s_event_t events[50];
    cab_store_item_t items[50];
    cab_store_route_t routes[50][2];
    cab_delivery_update_t updates[10];
    cab_store_route_t replays[5];
    cab_error_t error;
    s_totals_t before = s_totals (store);
    int k = 0;
    for (; k < 500; k++) {
        for (int i = 0; i < 50; i++) {
            s_event (&events[i], 100 + i);
            items[i] = events[i].item;
            routes[i][0] = (cab_store_route_t){.rule = "r", .target = "a"};
            routes[i][1] = (cab_store_route_t){.rule = "r", .target = "b"};
            items[i].routes = routes[i];
            items[i].route_count = 2;
        }
        for (int i = 0; i < 10; i++)
            updates[i] = (cab_delivery_update_t){
                .id = ids[20 + i], .state = CAB_DELIVERY_DONE, .attempts = 1};
        for (int i = 0; i < 5; i++)
            replays[i] =
                (cab_store_route_t){.rule = "r", .target = "a", .replay = "rp", .seq = i + 1};
        cab_store_batch_t batch = {.items = items,
                                   .item_count = 50,
                                   .updates = updates,
                                   .update_count = 10,
                                   .routes = replays,
                                   .route_count = 5};
        s_fault_after = k;
        cab_status_t status = cab_store_write (store, &batch, &error);
        s_fault_after = -1;
        if (status == CAB_OK)
            break;
        ck_assert_int_eq (status, CAB_ERR_STORE_UNAVAILABLE);
        ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
        s_same (before, s_totals (store));
        for (int i = 0; i < 50; i++) {
            ck_assert_int_eq (items[i].seq, 0);
            ck_assert_int_eq (routes[i][0].id, 0);
            ck_assert_int_eq (routes[i][1].seq, 0);
        }
        ck_assert_int_eq (replays[0].id, 0);
    }
    ck_assert_int_lt (k, 500);
    ck_assert_int_gt (k, 0);
    s_totals_t after = s_totals (store);
    ck_assert_int_eq (after.events, before.events + 50);
    ck_assert_int_eq (after.pending, before.pending + 100 + 5 - 10);
    ck_assert_int_eq (after.done, before.done + 10);

    //  Redrive, purge and sweep on a full disk: unavailable, nothing
    //  changed, then they work once space returns.
    cab_delivery_query_t query = s_any ();
    int64_t count = -1;
    cab_store_retention_t retention = {.archive_ms = DAY_MS};
    int64_t later = s_now_ms () + 2 * DAY_MS;
    s_fault_after = 0;
    ck_assert_int_eq (cab_store_redrive (store, &query, 1, &count, &error),
                      CAB_ERR_STORE_UNAVAILABLE);
    ck_assert_int_eq (count, 0);
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_ERR_STORE_UNAVAILABLE);
    ck_assert_int_eq (cab_store_sweep (store, &retention, later, 100, &count, &error),
                      CAB_ERR_STORE_UNAVAILABLE);
    ck_assert_int_eq (count, 0);
    s_fault_after = -1;
    s_same (after, s_totals (store));
    query.limit = 4;
    ck_assert_int_eq (cab_store_redrive (store, &query, 1, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 4);
    ck_assert_int_eq (cab_store_purge (store, &query, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 4);
    ck_assert_int_eq (cab_store_sweep (store, &retention, later, 100, &count, &error), CAB_OK);
    //  The 10 DONE deliveries, then the events left without deliveries:
    //  11..15 (their deliveries were those; 3 and 4, whose dead letters
    //  were purged, still have a pending replay delivery).
    ck_assert_int_eq (count, 10 + 5);
    cab_store_destroy (&store);

    //  What was acknowledged is there after a reopen.
    store = s_open ();
    s_totals_t reopened = s_totals (store);
    ck_assert_int_eq (reopened.events, after.events - 5);
    ck_assert_int_eq (reopened.done, 0);
    ck_assert_int_eq (reopened.dead, after.dead - 8);
    ck_assert_int_eq (reopened.pending, after.pending + 4);
    cab_store_destroy (&store);
}
END_TEST

//  The mirror's figures and budget state, which a failed call must leave
//  as they were.
typedef struct {
    cab_mirror_store_stats_t stats;
    char budget[64];
} s_mirror_t;

static s_mirror_t
s_mirror_now (cab_store_t *store)
{
    s_mirror_t mirror = {0};
    ck_assert_int_eq (cab_store_mirror_stats (store, 0, &mirror.stats, NULL), CAB_OK);
    json_t *state = NULL;
    ck_assert_int_eq (cab_store_budget_state (store, &state, NULL), CAB_OK);
    snprintf (mirror.budget, sizeof mirror.budget, "%lld",
              state ? (long long)json_integer_value (json_object_get (state, "n")) : -1LL);
    json_decref (state);
    return mirror;
}

static void
s_mirror_same (s_mirror_t a, s_mirror_t b)
{
    ck_assert_int_eq (a.stats.outbox, b.stats.outbox);
    ck_assert_int_eq (a.stats.deferred, b.stats.deferred);
    ck_assert_int_eq (a.stats.failed, b.stats.failed);
    ck_assert_int_eq (a.stats.accepted, b.stats.accepted);
    ck_assert_int_eq (a.stats.dead, b.stats.dead);
    ck_assert_int_eq (a.stats.dlq_depth, b.stats.dlq_depth);
    ck_assert_str_eq (a.budget, b.budget);
}

START_TEST (test_full_disk_mirror)
{
    s_fault_install ();
    cab_store_t *store = s_open ();
    //  Events 1..8 in the outbox, budget state n = 1.
    s_event_t first[8];
    cab_store_item_t first_items[8];
    for (int i = 0; i < 8; i++) {
        s_event (&first[i], 1 + i);
        first_items[i] = first[i].item;
        first_items[i].mirror = true;
    }
    cab_store_batch_t batch = {.items = first_items, .item_count = 8, .budget_state = "{\"n\":1}"};
    cab_error_t error;
    ck_assert_int_eq (cab_store_write (store, &batch, &error), CAB_OK);

    //  New mirrored events with outcomes of the old ones and a new budget
    //  state: fail the k-th write for every k until it gets through.
    s_event_t events[20];
    cab_store_item_t items[20];
    cab_mirror_outcome_rec_t recs[] = {
        {.seq = 1, .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-1"},
        {.seq = 2, .outcome = CAB_MIRRORED_DEAD, .error = "E: dead"},
        {.seq = 3, .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = 1},
        {.seq = 4, .outcome = CAB_MIRRORED_FAILED, .error = "E: failed", .not_before_ms = 1},
        {.seq = 5, .outcome = CAB_MIRRORED_DEAD, .error = "E: dead"},
    };
    s_mirror_t before = s_mirror_now (store);
    int64_t count_before = cab_store_count (store);
    int k = 0;
    for (; k < 500; k++) {
        for (int i = 0; i < 20; i++) {
            s_event (&events[i], 100 + i);
            items[i] = events[i].item;
            items[i].mirror = true;
        }
        batch = (cab_store_batch_t){.items = items,
                                    .item_count = 20,
                                    .mirror_outcomes = recs,
                                    .mirror_outcome_count = 5,
                                    .budget_state = "{\"n\":2}"};
        s_fault_after = k;
        cab_status_t status = cab_store_write (store, &batch, &error);
        s_fault_after = -1;
        if (status == CAB_OK)
            break;
        ck_assert_int_eq (status, CAB_ERR_STORE_UNAVAILABLE);
        s_mirror_same (before, s_mirror_now (store));
        ck_assert_int_eq (cab_store_count (store), count_before);
        ck_assert_int_eq (items[0].seq, 0);
    }
    ck_assert_int_lt (k, 500);
    ck_assert_int_gt (k, 0);
    s_mirror_t after = s_mirror_now (store);
    ck_assert_int_eq (after.stats.outbox, 8 - 3 + 20);
    ck_assert_int_eq (after.stats.accepted, 1);
    ck_assert_int_eq (after.stats.dead, 2);
    ck_assert_int_eq (after.stats.dlq_depth, 2);
    ck_assert_int_eq (after.stats.deferred, 1);
    ck_assert_int_eq (after.stats.failed, 1);
    ck_assert_str_eq (after.budget, "2");

    //  Redriving the mirror's dead letters on a full disk changes nothing;
    //  once space returns they are back in the outbox.
    cab_delivery_query_t query = {.dlq = CAB_MIRROR_DLQ};
    int64_t count = -1;
    s_fault_after = 0;
    ck_assert_int_eq (cab_store_redrive (store, &query, 1, &count, &error),
                      CAB_ERR_STORE_UNAVAILABLE);
    s_fault_after = -1;
    s_mirror_same (after, s_mirror_now (store));
    ck_assert_int_eq (cab_store_redrive (store, &query, 1, &count, &error), CAB_OK);
    ck_assert_int_eq (count, 2);
    cab_store_destroy (&store);
    store = s_open ();
    s_mirror_t reopened = s_mirror_now (store);
    ck_assert_int_eq (reopened.stats.outbox, after.stats.outbox + 2);
    ck_assert_int_eq (reopened.stats.dead + reopened.stats.dlq_depth, 0);
    ck_assert_int_eq (reopened.stats.accepted, 1);
    cab_store_destroy (&store);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_store_delivery");
    TCase *tcase = tcase_create ("core");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_routes_with_events);
    tcase_add_test (tcase, test_updates_and_batch_routes);
    tcase_add_test (tcase, test_update_runs);
    tcase_add_test (tcase, test_many_routes);
    tcase_add_test (tcase, test_query_filters);
    tcase_add_test (tcase, test_redrive_and_purge);
    tcase_add_test (tcase, test_sweep_keeps_pending_and_dead);
    tcase_add_test (tcase, test_sweep_in_steps);
    tcase_add_test (tcase, test_sweep_bounded_walk);
    tcase_add_test (tcase, test_retention_per_dlq);
    tcase_add_test (tcase, test_migrate_from_v2);
    tcase_add_test (tcase, test_readonly_handle);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("faults");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_full_disk);
    tcase_add_test (tcase, test_full_disk_mirror);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
