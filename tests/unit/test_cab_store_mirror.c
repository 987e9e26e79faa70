/*  =========================================================================
    test_cab_store_mirror - the mirror's outbox, outcomes and budget state,
    on real SQLite files

    Every test works in its own mkdtemp directory, removed at the end. It
    reads as the mirror uses the store: the broker's writer appends events
    with item.mirror set, the worker scans due rows on its own read-only
    handle, and hands back outcomes that the writer commits with a batch.
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

#define STORE_FIXTURE_NAME "cab-mirror"
#include "store_fixture.h"

static int64_t
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static cab_store_t *
s_open (void)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new (s_path, CAB_STORE_NORMAL, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    return store;
}

static cab_store_t *
s_open_readonly (void)
{
    cab_error_t error;
    cab_store_t *store = cab_store_new_readonly (s_path, &error);
    ck_assert_msg (store != NULL, "%s", error.text);
    return store;
}

//  Run SQL on the file directly (an older cabruca, or a corrupt row).
static void
s_sql (const char *sql)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq (sqlite3_open (s_path, &db), SQLITE_OK);
    char *message = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &message);
    if (rc != SQLITE_OK)
        ck_abort_msg ("SQL failed: %s", message);
    sqlite3_close (db);
}

//  Events n .. n+count-1 in one batch, mirrored or not; seqs to seqs.
static void
s_store (cab_store_t *store, int first, size_t count, bool mirror, int64_t *seqs)
{
    char ids[16][48], texts[16][160];
    cab_store_item_t items[16];
    ck_assert_uint_le (count, 16);
    memset (items, 0, sizeof items);
    for (size_t i = 0; i < count; i++) {
        int n = first + (int)i;
        snprintf (ids[i], sizeof ids[i], "0190a0b0-0000-7000-8000-%012d", n);
        int length = snprintf (texts[i], sizeof texts[i],
                               "{\"id\":\"%s\",\"source\":\"cabruca.test\",\"detail\":{\"n\":%d}}",
                               ids[i], n);
        items[i].id = ids[i];
        items[i].source = "cabruca.test";
        items[i].detail_type = "Test Event";
        items[i].time_ms = 1800000000000 + n;
        items[i].text = texts[i];
        items[i].length = (size_t)length;
        items[i].mirror = mirror;
    }
    cab_error_t error;
    ck_assert_msg (cab_store_append (store, items, count, &error) == CAB_OK, "%s", error.text);
    for (size_t i = 0; seqs && i < count; i++)
        seqs[i] = items[i].seq;
}

//  Write outcomes (and a budget state) in one batch.
static cab_status_t
s_outcomes (cab_store_t *store, const cab_mirror_outcome_rec_t *recs, size_t count,
            const char *budget_state)
{
    cab_store_batch_t batch = {
        .mirror_outcomes = recs, .mirror_outcome_count = count, .budget_state = budget_state};
    cab_error_t error;
    cab_status_t status = cab_store_write (store, &batch, &error);
    ck_assert_msg (status == CAB_OK || status == CAB_ERR_INVALID_ARGUMENT ||
                       status == CAB_ERR_TOO_LARGE,
                   "%s", error.text);
    return status;
}

//  What an outbox scan saw.
typedef struct {
    size_t count;
    int64_t seqs[64];
    bool deferred[64];
    int attempts[64];
    int64_t not_before[64];
    bool texts_ok;
    size_t stop_after;  //  stop the scan after this many (0: never)
} s_seen_t;

static int
s_collect (const cab_outbox_record_t *record, void *arg)
{
    s_seen_t *seen = arg;
    if (seen->count < 64) {
        seen->seqs[seen->count] = record->seq;
        seen->deferred[seen->count] = record->deferred;
        seen->attempts[seen->count] = record->attempts;
        seen->not_before[seen->count] = record->not_before_ms;
    }
    seen->count++;
    if (!record->text || record->length != strlen (record->text) ||
        strstr (record->text, "\"source\":\"cabruca.test\"") == NULL || record->received_ms <= 0)
        seen->texts_ok = false;
    return seen->stop_after && seen->count >= seen->stop_after;
}

static s_seen_t
s_scan (cab_store_t *store, int64_t after, int64_t now_ms, size_t limit)
{
    s_seen_t seen = {.texts_ok = true};
    cab_error_t error;
    ck_assert_msg (cab_store_outbox_scan (store, after, now_ms, limit, s_collect, &seen, &error) ==
                       CAB_OK,
                   "%s", error.text);
    return seen;
}

static cab_mirror_store_stats_t
s_stats (cab_store_t *store, int64_t now_ms)
{
    cab_mirror_store_stats_t stats;
    cab_error_t error;
    ck_assert_msg (cab_store_mirror_stats (store, now_ms, &stats, &error) == CAB_OK, "%s",
                   error.text);
    return stats;
}

//  The state of seq, and its detail as compact JSON in json (when not NULL).
static const char *
s_state (cab_store_t *store, int64_t seq, char *json, size_t size)
{
    const char *state = NULL;
    json_t *detail = NULL;
    cab_error_t error;
    ck_assert_msg (cab_store_mirror_get (store, seq, &state, &detail, &error) == CAB_OK, "%s",
                   error.text);
    ck_assert_ptr_nonnull (detail);
    ck_assert_str_eq (json_string_value (json_object_get (detail, "state")), state);
    if (json) {
        char *text = json_dumps (detail, JSON_COMPACT | JSON_SORT_KEYS);
        ck_assert_ptr_nonnull (text);
        snprintf (json, size, "%s", text);
        free (text);
    }
    json_decref (detail);
    return state;
}

//  ---------------------------------------------------------------------

START_TEST (test_outbox_with_events)
{
    cab_store_t *store = s_open ();
    int64_t seqs[4];
    s_store (store, 1, 3, true, seqs);
    s_store (store, 10, 2, false, NULL);
    //  A duplicate with mirror set adds nothing (its event is not new).
    s_store (store, 10, 1, true, NULL);
    s_store (store, 20, 1, true, seqs + 3);
    ck_assert_int_eq (cab_store_count (store), 6);

    //  The worker's read-only handle sees the mirrored events, in seq order.
    cab_store_t *reader = s_open_readonly ();
    int64_t now = s_now_ms ();
    s_seen_t seen = s_scan (reader, 0, now, 0);
    ck_assert_uint_eq (seen.count, 4);
    ck_assert (seen.texts_ok);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq (seen.seqs[i], seqs[i]);
        ck_assert (!seen.deferred[i]);
        ck_assert_int_eq (seen.attempts[i], 0);
    }
    //  After a cursor, with a limit, stopped by the callback.
    seen = s_scan (reader, seqs[0], now, 0);
    ck_assert_uint_eq (seen.count, 3);
    ck_assert_int_eq (seen.seqs[0], seqs[1]);
    seen = s_scan (reader, 0, now, 2);
    ck_assert_uint_eq (seen.count, 2);
    seen = (s_seen_t){.texts_ok = true, .stop_after = 1};
    ck_assert_int_eq (cab_store_outbox_scan (reader, 0, now, 0, s_collect, &seen, NULL), CAB_OK);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (cab_store_outbox_scan (reader, 0, now, 0, NULL, NULL, NULL),
                      CAB_ERR_INVALID_ARGUMENT);

    cab_mirror_store_stats_t stats = s_stats (reader, now + 5000);
    ck_assert_int_eq (stats.outbox, 4);
    ck_assert_int_eq (stats.due, 4);
    ck_assert_int_eq (stats.deferred + stats.failed + stats.accepted + stats.dead, 0);
    ck_assert_int_gt (stats.oldest_received_ms, 0);
    ck_assert_int_ge (stats.lag_ms, 5000);
    ck_assert_str_eq (s_state (reader, seqs[0], NULL, 0), "pending");
    //  The events stored without the mirror were never in the outbox.
    ck_assert_str_eq (s_state (reader, seqs[2] + 1, NULL, 0), "none");
    ck_assert_str_eq (s_state (reader, 999, NULL, 0), "none");
    const char *state = NULL;
    ck_assert_int_eq (cab_store_mirror_get (reader, seqs[0], &state, NULL, NULL), CAB_OK);
    ck_assert_str_eq (state, "pending");
    int64_t next = 0;
    ck_assert_int_eq (cab_store_outbox_next_due (reader, now, &next, NULL), CAB_OK);
    ck_assert_int_eq (next, INT64_MAX);
    cab_store_destroy (&reader);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_every_outcome)
{
    cab_store_t *store = s_open ();
    int64_t seqs[7];
    s_store (store, 1, 7, true, seqs);
    int64_t now = s_now_ms ();
    cab_mirror_outcome_rec_t recs[] = {
        {.seq = seqs[0], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-1", .attempts = 1},
        {.seq = seqs[1], .outcome = CAB_MIRRORED_DRY_RUN, .attempts = 1},
        {.seq = seqs[2],
         .outcome = CAB_MIRRORED_DEAD,
         .error = "ValidationException: Detail is malformed",
         .attempts = 2},
        {.seq = seqs[3], .outcome = CAB_MIRRORED_SAMPLED},
        {.seq = seqs[4], .outcome = CAB_MIRRORED_SHED},
        {.seq = seqs[5], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = now + 60000},
        {.seq = seqs[6],
         .outcome = CAB_MIRRORED_FAILED,
         .error = "NoCredentials: none found",
         .attempts = 3,
         .not_before_ms = now + 30000},
    };
    ck_assert_int_eq (s_outcomes (store, recs, 7, NULL), CAB_OK);

    cab_store_t *reader = s_open_readonly ();
    char json[512];
    ck_assert_str_eq (s_state (reader, seqs[0], json, sizeof json), "accepted");
    ck_assert_ptr_nonnull (strstr (json, "\"aws_event_id\":\"aws-1\""));
    ck_assert_ptr_nonnull (strstr (json, "\"attempts\":1"));
    ck_assert_ptr_nonnull (strstr (json, "\"updated_ms\":"));
    ck_assert_str_eq (s_state (reader, seqs[1], json, sizeof json), "dry-run");
    ck_assert_ptr_null (strstr (json, "aws_event_id"));
    ck_assert_str_eq (s_state (reader, seqs[2], json, sizeof json), "dead");
    ck_assert_ptr_nonnull (strstr (json, "\"error\":\"ValidationException: Detail is malformed\""));
    ck_assert_str_eq (s_state (reader, seqs[3], NULL, 0), "sampled");
    ck_assert_str_eq (s_state (reader, seqs[4], NULL, 0), "shed");
    ck_assert_str_eq (s_state (reader, seqs[5], json, sizeof json), "deferred");
    char expect[128];
    snprintf (expect, sizeof expect, "\"not_before_ms\":%lld", (long long)(now + 60000));
    ck_assert_ptr_nonnull (strstr (json, expect));
    ck_assert_str_eq (s_state (reader, seqs[6], json, sizeof json), "failed");
    ck_assert_ptr_nonnull (strstr (json, "\"attempts\":1"));  //  FAILED outcomes so far
    ck_assert_ptr_nonnull (strstr (json, "\"error\":\"NoCredentials: none found\""));

    //  Only the deferred and the failed one stay, neither due now.
    s_seen_t seen = s_scan (reader, 0, now, 0);
    ck_assert_uint_eq (seen.count, 0);
    seen = s_scan (reader, 0, now + 60000, 0);
    ck_assert_uint_eq (seen.count, 2);
    ck_assert_int_eq (seen.seqs[0], seqs[5]);
    ck_assert (seen.deferred[0]);
    ck_assert_int_eq (seen.attempts[0], 0);
    ck_assert (!seen.deferred[1]);
    ck_assert_int_eq (seen.attempts[1], 1);
    int64_t next = 0;
    ck_assert_int_eq (cab_store_outbox_next_due (reader, now, &next, NULL), CAB_OK);
    ck_assert_int_eq (next, now + 30000);
    ck_assert_int_eq (cab_store_outbox_next_due (reader, now + 30000, &next, NULL), CAB_OK);
    ck_assert_int_eq (next, now + 60000);

    cab_mirror_store_stats_t stats = s_stats (reader, now + 30000);
    ck_assert_int_eq (stats.outbox, 2);
    ck_assert_int_eq (stats.deferred, 1);
    ck_assert_int_eq (stats.failed, 1);
    ck_assert_int_eq (stats.due, 1);
    ck_assert_int_eq (stats.accepted, 1);
    ck_assert_int_eq (stats.dry_run, 1);
    ck_assert_int_eq (stats.dead, 1);
    ck_assert_int_eq (stats.sampled, 1);
    ck_assert_int_eq (stats.shed, 1);
    ck_assert_int_eq (stats.dlq_depth, 1);

    //  The dead letter is a DEAD delivery in queue "mirror", as `cabruca
    //  dlq` lists it.
    cab_delivery_query_t query = {.state = CAB_DELIVERY_DEAD, .dlq = CAB_MIRROR_DLQ};
    int64_t count = 0;
    ck_assert_int_eq (cab_store_count_deliveries (reader, &query, &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 1);
    cab_store_destroy (&reader);

    //  A second failure counts; a later acceptance takes the row out.
    cab_mirror_outcome_rec_t again[] = {
        {.seq = seqs[6], .outcome = CAB_MIRRORED_FAILED, .error = "x", .not_before_ms = 5},
        {.seq = seqs[5], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-6"},
    };
    ck_assert_int_eq (s_outcomes (store, again, 2, NULL), CAB_OK);
    seen = s_scan (store, 0, now, 0);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.attempts[0], 2);
    ck_assert_str_eq (s_state (store, seqs[5], NULL, 0), "accepted");
    stats = s_stats (store, now);
    ck_assert_int_eq (stats.accepted, 2);

    //  An event back in the outbox while it has a mirrored row (as after
    //  a crash between two versions of a row): the new outcome replaces
    //  the old one, and the counts follow.
    char sql[128];
    snprintf (sql, sizeof sql, "INSERT INTO outbox VALUES (%lld, 0, 0, 0, NULL)",
              (long long)seqs[0]);
    cab_store_destroy (&store);
    s_sql (sql);
    store = s_open ();
    cab_mirror_outcome_rec_t shed = {.seq = seqs[0], .outcome = CAB_MIRRORED_SHED};
    ck_assert_int_eq (s_outcomes (store, &shed, 1, NULL), CAB_OK);
    ck_assert_str_eq (s_state (store, seqs[0], json, sizeof json), "shed");
    ck_assert_ptr_null (strstr (json, "aws-1"));
    stats = s_stats (store, now);
    ck_assert_int_eq (stats.accepted, 1);
    ck_assert_int_eq (stats.shed, 2);
    cab_store_destroy (&store);
}
END_TEST

//  Fill the fields of a dead letter as `cabruca dlq show` reads them.
static int
s_first_delivery (const cab_delivery_record_t *record, void *arg)
{
    cab_delivery_record_t *first = arg;
    if (first->id == 0) {
        *first = *record;
        first->rule = strdup (record->rule);
        first->target = strdup (record->target);
        first->dlq = record->dlq ? strdup (record->dlq) : NULL;
        first->error = record->error ? strdup (record->error) : NULL;
    }
    return 0;
}

START_TEST (test_dead_letter_delivery_ids)
{
    cab_store_t *store = s_open ();
    int64_t seqs[2];
    s_store (store, 1, 2, true, seqs);
    //  A routed event and a mirror dead letter in one batch: distinct ids.
    char id[48] = "0190a0b0-0000-7000-8000-000000000099";
    const char *text = "{\"id\":\"0190a0b0-0000-7000-8000-000000000099\"}";
    cab_store_route_t route = {.rule = "r", .target = "t"};
    cab_store_item_t item = {.id = id,
                             .source = "cabruca.test",
                             .detail_type = "T",
                             .text = text,
                             .length = strlen (text),
                             .routes = &route,
                             .route_count = 1,
                             .mirror = true};
    cab_mirror_outcome_rec_t rec = {
        .seq = seqs[0], .outcome = CAB_MIRRORED_DEAD, .error = "E: m", .attempts = 4};
    cab_store_batch_t batch = {
        .items = &item, .item_count = 1, .mirror_outcomes = &rec, .mirror_outcome_count = 1};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    ck_assert_int_gt (route.id, 0);

    cab_delivery_query_t query = {.state = CAB_DELIVERY_DEAD};
    cab_delivery_record_t dead = {0};
    ck_assert_int_eq (cab_store_scan_deliveries (store, &query, s_first_delivery, &dead, NULL),
                      CAB_OK);
    ck_assert_int_eq (dead.id, route.id + 1);
    ck_assert_int_eq (dead.seq, seqs[0]);
    ck_assert_str_eq (dead.rule, CAB_MIRROR_RULE);
    ck_assert_str_eq (dead.target, CAB_MIRROR_TARGET);
    ck_assert_str_eq (dead.dlq, CAB_MIRROR_DLQ);
    ck_assert_str_eq (dead.error, "E: m");
    ck_assert_int_eq (dead.attempts, 4);
    ck_assert_int_eq (dead.created_ms, dead.updated_ms);
    free ((char *)dead.rule);
    free ((char *)dead.target);
    free ((char *)dead.dlq);
    free ((char *)dead.error);
    //  The new event went into the outbox with its route.
    ck_assert_uint_eq (s_scan (store, 0, s_now_ms (), 0).count, 2);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_stale_outcomes)
{
    cab_store_t *store = s_open ();
    int64_t seqs[2], plain[1];
    s_store (store, 1, 2, true, seqs);
    s_store (store, 5, 1, false, plain);
    cab_mirror_outcome_rec_t first = {
        .seq = seqs[0], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-1"};
    ck_assert_int_eq (s_outcomes (store, &first, 1, NULL), CAB_OK);

    //  Outcomes for events no longer (or never) in the outbox, and for
    //  no event at all, are ignored; the events of the batch are stored.
    cab_mirror_outcome_rec_t stale[] = {
        {.seq = seqs[0], .outcome = CAB_MIRRORED_DEAD, .error = "late"},
        {.seq = seqs[0], .outcome = CAB_MIRRORED_FAILED, .not_before_ms = 1},
        {.seq = plain[0], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-x"},
        {.seq = 12345, .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = 1},
        {.seq = 12346, .outcome = CAB_MIRRORED_SHED},
    };
    char id[48] = "0190a0b0-0000-7000-8000-000000000077";
    const char *text = "{\"id\":\"0190a0b0-0000-7000-8000-000000000077\"}";
    cab_store_item_t item = {
        .id = id, .source = "s", .detail_type = "T", .text = text, .length = strlen (text)};
    cab_store_batch_t batch = {
        .items = &item, .item_count = 1, .mirror_outcomes = stale, .mirror_outcome_count = 5};
    cab_error_t error;
    ck_assert_msg (cab_store_write (store, &batch, &error) == CAB_OK, "%s", error.text);
    ck_assert_int_gt (item.seq, 0);

    char json[512];
    ck_assert_str_eq (s_state (store, seqs[0], json, sizeof json), "accepted");
    ck_assert_ptr_nonnull (strstr (json, "aws-1"));
    ck_assert_str_eq (s_state (store, plain[0], NULL, 0), "none");
    ck_assert_str_eq (s_state (store, 12345, NULL, 0), "none");
    cab_mirror_store_stats_t stats = s_stats (store, s_now_ms ());
    ck_assert_int_eq (stats.outbox, 1);
    ck_assert_int_eq (stats.accepted, 1);
    ck_assert_int_eq (stats.dead + stats.shed + stats.dlq_depth, 0);
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_bad_batches)
{
    cab_store_t *store = s_open ();
    int64_t seqs[1], other[1];
    s_store (store, 1, 1, true, seqs);
    s_store (store, 2, 1, true, other);
    //  Records that are not valid are skipped, never failing the batch
    //  (nor its events); the valid ones are written.
    cab_mirror_outcome_rec_t bad[] = {
        {.seq = seqs[0], .outcome = (cab_mirrored_outcome_t)8},
        {.seq = seqs[0], .outcome = (cab_mirrored_outcome_t)0},
        {.seq = seqs[0], .outcome = CAB_MIRRORED_FAILED, .attempts = -1},
        {.seq = 0, .outcome = CAB_MIRRORED_SHED},
        {.seq = -1, .outcome = CAB_MIRRORED_SHED},
        {.seq = other[0], .outcome = CAB_MIRRORED_SAMPLED},
    };
    ck_assert_int_eq (s_outcomes (store, bad, 6, NULL), CAB_OK);
    ck_assert_str_eq (s_state (store, seqs[0], NULL, 0), "pending");
    ck_assert_str_eq (s_state (store, other[0], NULL, 0), "sampled");
    //  A count without its array is a programming error.
    cab_store_batch_t batch = {.mirror_outcome_count = 1};
    ck_assert_int_eq (cab_store_write (store, &batch, NULL), CAB_ERR_INVALID_ARGUMENT);

    //  An empty or oversized budget state is not saved; the batch is.
    ck_assert_int_eq (s_outcomes (store, NULL, 0, "{\"n\":1}"), CAB_OK);
    ck_assert_int_eq (s_outcomes (store, NULL, 0, ""), CAB_OK);
    size_t size = CAB_STORE_BUDGET_STATE_MAX + 2;
    char *big = malloc (size);
    ck_assert_ptr_nonnull (big);
    memset (big, ' ', size - 1);
    big[0] = '[';
    big[size - 2] = ']';
    big[size - 1] = 0;
    cab_mirror_outcome_rec_t shed = {.seq = seqs[0], .outcome = CAB_MIRRORED_SHED};
    ck_assert_int_eq (s_outcomes (store, &shed, 1, big), CAB_OK);
    free (big);
    ck_assert_str_eq (s_state (store, seqs[0], NULL, 0), "shed");
    json_t *state = NULL;
    ck_assert_int_eq (cab_store_budget_state (store, &state, NULL), CAB_OK);
    ck_assert_int_eq (json_integer_value (json_object_get (state, "n")), 1);
    json_decref (state);
    cab_store_destroy (&store);

    //  A read-only handle cannot write outcomes.
    cab_store_t *reader = s_open_readonly ();
    ck_assert_int_eq (s_outcomes (reader, bad, 1, NULL), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&reader);
}
END_TEST

START_TEST (test_budget_state)
{
    cab_store_t *store = s_open ();
    json_t *state = NULL;
    ck_assert_int_eq (cab_store_budget_state (store, &state, NULL), CAB_OK);
    ck_assert_ptr_null (state);
    //  A batch with only the budget state is not empty: it is written.
    ck_assert_int_eq (s_outcomes (store, NULL, 0, "{\"version\":1,\"month\":\"2026-11\"}"), CAB_OK);
    int64_t seqs[1];
    s_store (store, 1, 1, true, seqs);
    cab_mirror_outcome_rec_t rec = {.seq = seqs[0], .outcome = CAB_MIRRORED_DRY_RUN};
    ck_assert_int_eq (s_outcomes (store, &rec, 1, "{\"version\":1,\"events\":1}"), CAB_OK);
    cab_store_destroy (&store);

    //  Saved with the last outcomes; survives a restart; read read-only.
    cab_store_t *reader = s_open_readonly ();
    ck_assert_int_eq (cab_store_budget_state (reader, &state, NULL), CAB_OK);
    ck_assert_ptr_nonnull (state);
    ck_assert_int_eq (json_integer_value (json_object_get (state, "events")), 1);
    json_decref (state);
    ck_assert_str_eq (s_state (reader, seqs[0], NULL, 0), "dry-run");
    cab_store_destroy (&reader);

    //  A corrupt document is InvalidJson, and no reference is returned.
    s_sql ("UPDATE meta SET value = '{\"version\":' WHERE key = 'budget_state'");
    reader = s_open_readonly ();
    cab_error_t error;
    state = json_true ();
    ck_assert_int_eq (cab_store_budget_state (reader, &state, &error), CAB_ERR_INVALID_JSON);
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
    ck_assert_ptr_null (state);
    ck_assert_int_eq (cab_store_budget_state (reader, NULL, NULL), CAB_ERR_INVALID_ARGUMENT);
    cab_store_destroy (&reader);
}
END_TEST

START_TEST (test_redrive_mirror_dead_letters)
{
    cab_store_t *store = s_open ();
    int64_t seqs[3];
    s_store (store, 1, 3, true, seqs);
    //  One standard dead letter too (event 4, routed, dead-lettered).
    char id[48] = "0190a0b0-0000-7000-8000-000000000004";
    const char *text = "{\"id\":\"0190a0b0-0000-7000-8000-000000000004\"}";
    cab_store_route_t route = {.rule = "r", .target = "t"};
    cab_store_item_t item = {.id = id,
                             .source = "s",
                             .detail_type = "T",
                             .text = text,
                             .length = strlen (text),
                             .routes = &route,
                             .route_count = 1};
    cab_store_batch_t batch = {.items = &item, .item_count = 1};
    ck_assert_int_eq (cab_store_write (store, &batch, NULL), CAB_OK);
    cab_delivery_update_t update = {
        .id = route.id, .state = CAB_DELIVERY_DEAD, .attempts = 3, .dlq = "standard"};
    batch = (cab_store_batch_t){.updates = &update, .update_count = 1};
    ck_assert_int_eq (cab_store_write (store, &batch, NULL), CAB_OK);
    cab_mirror_outcome_rec_t recs[] = {
        {.seq = seqs[0], .outcome = CAB_MIRRORED_DEAD, .error = "E: 1", .attempts = 1},
        {.seq = seqs[1], .outcome = CAB_MIRRORED_DEAD, .error = "E: 2", .attempts = 1},
        {.seq = seqs[2], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-3"},
    };
    ck_assert_int_eq (s_outcomes (store, recs, 3, NULL), CAB_OK);
    ck_assert_int_eq (s_stats (store, 0).dlq_depth, 2);
    ck_assert_uint_eq (s_scan (store, 0, s_now_ms (), 0).count, 0);

    //  Redrive at most 2, lowest ids first: the standard letter (id 1) and
    //  the first mirror letter (id 2).
    cab_delivery_query_t query = {.limit = 2};
    int64_t count = 0;
    cab_error_t error;
    ck_assert_msg (cab_store_redrive (store, &query, s_now_ms (), &count, &error) == CAB_OK, "%s",
                   error.text);
    ck_assert_int_eq (count, 2);
    //  The standard letter is PENDING again; the mirror one is back in the
    //  outbox, its delivery and its mirrored row gone.
    cab_delivery_query_t pending = {.state = CAB_DELIVERY_PENDING};
    ck_assert_int_eq (cab_store_count_deliveries (store, &pending, &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 1);
    s_seen_t seen = s_scan (store, 0, s_now_ms (), 0);
    ck_assert_uint_eq (seen.count, 1);
    ck_assert_int_eq (seen.seqs[0], seqs[0]);
    ck_assert_int_eq (seen.attempts[0], 0);
    ck_assert_str_eq (s_state (store, seqs[0], NULL, 0), "pending");
    ck_assert_str_eq (s_state (store, seqs[1], NULL, 0), "dead");
    cab_mirror_store_stats_t stats = s_stats (store, s_now_ms ());
    ck_assert_int_eq (stats.dlq_depth, 1);
    ck_assert_int_eq (stats.dead, 1);
    ck_assert_int_eq (stats.outbox, 1);

    //  By queue: only "mirror"; then it can be mirrored again.
    query = (cab_delivery_query_t){.dlq = CAB_MIRROR_DLQ};
    ck_assert_int_eq (cab_store_redrive (store, &query, s_now_ms (), &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 1);
    ck_assert_int_eq (s_stats (store, 0).dlq_depth, 0);
    ck_assert_uint_eq (s_scan (store, 0, s_now_ms (), 0).count, 2);
    cab_mirror_outcome_rec_t ok = {
        .seq = seqs[1], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-2"};
    ck_assert_int_eq (s_outcomes (store, &ok, 1, NULL), CAB_OK);
    ck_assert_str_eq (s_state (store, seqs[1], NULL, 0), "accepted");

    //  Purge deletes a mirror dead letter like any other; the event stays
    //  out of the outbox.
    cab_mirror_outcome_rec_t dead = {.seq = seqs[0], .outcome = CAB_MIRRORED_DEAD, .error = "E"};
    ck_assert_int_eq (s_outcomes (store, &dead, 1, NULL), CAB_OK);
    query = (cab_delivery_query_t){.dlq = CAB_MIRROR_DLQ};
    ck_assert_int_eq (cab_store_purge (store, &query, &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 1);
    ck_assert_int_eq (s_stats (store, 0).dlq_depth, 0);
    ck_assert_uint_eq (s_scan (store, 0, s_now_ms (), 0).count, 0);
    ck_assert_str_eq (s_state (store, seqs[0], NULL, 0), "dead");
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_sweep_keeps_outbox_events)
{
    cab_store_t *store = s_open ();
    int64_t seqs[4];
    s_store (store, 1, 4, true, seqs);
    cab_mirror_outcome_rec_t recs[] = {
        {.seq = seqs[0], .outcome = CAB_MIRRORED_ACCEPTED, .aws_event_id = "aws-1"},
        {.seq = seqs[1], .outcome = CAB_MIRRORED_DEAD, .error = "E"},
        {.seq = seqs[2], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = 1},
    };
    ck_assert_int_eq (s_outcomes (store, recs, 3, NULL), CAB_OK);

    //  Eight days later: the accepted event goes (with its mirrored row);
    //  the dead-lettered one stays (its DEAD delivery), the deferred and
    //  the pending ones stay (outbox).
    cab_store_retention_t retention = {.archive_ms = 7 * DAY_MS,
                                       .standard_ms = CAB_STORE_STANDARD_MS,
                                       .critical_ms = CAB_STORE_CRITICAL_MS};
    int64_t deleted = 0;
    cab_error_t error;
    int64_t later = s_now_ms () + 8 * DAY_MS;
    ck_assert_msg (cab_store_sweep (store, &retention, later, 0, &deleted, &error) == CAB_OK, "%s",
                   error.text);
    ck_assert_int_eq (deleted, 1);
    ck_assert_int_eq (cab_store_count (store), 3);
    ck_assert_str_eq (s_state (store, seqs[0], NULL, 0), "none");
    cab_mirror_store_stats_t stats = s_stats (store, later);
    ck_assert_int_eq (stats.accepted, 0);
    ck_assert_int_eq (stats.outbox, 2);
    ck_assert_int_eq (stats.dlq_depth, 1);

    //  Fifteen days later the mirror dead letter has expired (the standard
    //  retention) and its event goes in the next call; outbox events stay.
    later = s_now_ms () + 15 * DAY_MS;
    ck_assert_int_eq (cab_store_sweep (store, &retention, later, 0, &deleted, NULL), CAB_OK);
    ck_assert_int_eq (deleted, 2);  //  the dead letter, then its event
    ck_assert_int_eq (cab_store_count (store), 2);
    stats = s_stats (store, later);
    ck_assert_int_eq (stats.dlq_depth + stats.dead, 0);
    ck_assert_int_eq (stats.outbox, 2);
    ck_assert_uint_eq (s_scan (store, 0, later, 0).count, 2);
    cab_store_destroy (&store);
}
END_TEST

//  A store as cabruca wrote it before the mirror (schema version 3), by
//  hand: two events, a dead letter.
static const char *s_v3_sql =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta VALUES ('format', 'cabruca-store'), ('schema_version', '3');"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL, detail_type TEXT NOT NULL, agent_id TEXT, correlation_id TEXT,"
    "  received_ms INTEGER NOT NULL, text TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_id ON events (id);"
    "CREATE INDEX events_time ON events (time_ms);"
    "CREATE INDEX events_source_type_time ON events (source, detail_type, time_ms);"
    "CREATE INDEX events_correlation ON events (correlation_id);"
    "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, rule TEXT NOT NULL,"
    "  target TEXT NOT NULL, replay TEXT, state INTEGER NOT NULL, attempts INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  dlq TEXT, error TEXT);"
    "CREATE INDEX deliveries_pending ON deliveries (state, next_ms) WHERE state = 0;"
    "CREATE INDEX deliveries_seq ON deliveries (seq);"
    "CREATE INDEX deliveries_dead ON deliveries (dlq, updated_ms) WHERE state = 2;"
    "CREATE INDEX deliveries_done ON deliveries (updated_ms) WHERE state = 1;"
    "CREATE INDEX deliveries_replay ON deliveries (replay, state) WHERE replay IS NOT NULL;"
    "INSERT INTO events VALUES (1, 'e-1', 1000, 'src', 'T', NULL, NULL, 1000, '{\"id\":\"e-1\"}');"
    "INSERT INTO events VALUES (2, 'e-2', 2000, 'src', 'T', 'a', 'c', 2000, '{\"id\":\"e-2\"}');"
    "INSERT INTO deliveries VALUES (1, 2, 'r', 't', NULL, 2, 3, 2000, 2000, 2000, 'standard',"
    "  'HTTP 500');";

START_TEST (test_migrate_from_v3)
{
    s_sql (s_v3_sql);
    cab_error_t error;
    ck_assert_ptr_null (cab_store_new_readonly (s_path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_UNSUPPORTED_VERSION);

    //  The writer upgrades it in one transaction; the mirror works on it.
    //  The events stored before are not put in the outbox (an outcome for
    //  one is stale: ignored).
    cab_store_t *store = s_open ();
    ck_assert_int_eq (cab_store_count (store), 2);
    ck_assert_uint_eq (s_scan (store, 0, s_now_ms (), 0).count, 0);
    ck_assert_int_eq (s_stats (store, 0).dlq_depth, 0);
    cab_mirror_outcome_rec_t dead = {.seq = 2, .outcome = CAB_MIRRORED_DEAD};
    ck_assert_int_eq (s_outcomes (store, &dead, 1, NULL), CAB_OK);  //  stale: ignored
    ck_assert_int_eq (s_stats (store, 0).dlq_depth, 0);
    int64_t seqs[1];
    s_store (store, 3, 1, true, seqs);
    ck_assert_int_eq (seqs[0], 3);
    cab_mirror_outcome_rec_t rec = {.seq = seqs[0], .outcome = CAB_MIRRORED_SHED};
    ck_assert_int_eq (s_outcomes (store, &rec, 1, "{}"), CAB_OK);
    cab_store_destroy (&store);

    cab_store_t *reader = s_open_readonly ();
    ck_assert_str_eq (s_state (reader, 3, NULL, 0), "shed");
    ck_assert_str_eq (s_state (reader, 1, NULL, 0), "none");
    cab_store_destroy (&reader);
    sqlite3 *db = NULL;
    ck_assert_int_eq (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt = NULL;
    ck_assert_int_eq (sqlite3_prepare_v2 (db, "SELECT value FROM meta WHERE key = 'schema_version'",
                                          -1, &stmt, NULL),
                      SQLITE_OK);
    ck_assert_int_eq (sqlite3_step (stmt), SQLITE_ROW);
    ck_assert_str_eq ((const char *)sqlite3_column_text (stmt, 0), "5");
    sqlite3_finalize (stmt);
    //  Version 5 dropped the index of DONE deliveries; the others stay.
    ck_assert_int_eq (sqlite3_prepare_v2 (db,
                                          "SELECT group_concat (name, ',') FROM (SELECT name FROM"
                                          " sqlite_master WHERE type = 'index' AND tbl_name ="
                                          " 'deliveries' ORDER BY name)",
                                          -1, &stmt, NULL),
                      SQLITE_OK);
    ck_assert_int_eq (sqlite3_step (stmt), SQLITE_ROW);
    ck_assert_str_eq ((const char *)sqlite3_column_text (stmt, 0),
                      "deliveries_dead,deliveries_pending,deliveries_replay,deliveries_seq");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    ck_assert_int_eq (cab_store_version (), 5);
}
END_TEST

//  DEFERRED outcomes of consecutive seqs with the same time are one UPDATE
//  over the range: the rows come out as one UPDATE each would leave them.
START_TEST (test_defer_runs)
{
    cab_store_t *store = s_open ();
    int64_t seqs[12];
    s_store (store, 1, 12, true, seqs);
    for (int i = 1; i < 12; i++)
        ck_assert_int_eq (seqs[i], seqs[0] + i);
    const int64_t hour = 1900000000000LL, later = hour + 3600000;
    cab_mirror_outcome_rec_t recs[] = {
        {.seq = seqs[0], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},  //  a run
        {.seq = seqs[1], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},
        {.seq = seqs[2], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},
        {.seq = seqs[3], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = later},  //  new run
        {.seq = seqs[4], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = later},
        {.seq = seqs[6], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},  //  descending
        {.seq = seqs[5], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},
        {.seq = seqs[7], .outcome = CAB_MIRRORED_DRY_RUN},  //  leaves the outbox
        {.seq = seqs[8], .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},
        {.seq = seqs[9], .outcome = CAB_MIRRORED_FAILED, .not_before_ms = hour, .attempts = 1},
        {.seq = seqs[11] + 1, .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},  //  none
        {.seq = seqs[11] + 2, .outcome = CAB_MIRRORED_DEFERRED, .not_before_ms = hour},
    };
    ck_assert_int_eq (s_outcomes (store, recs, sizeof recs / sizeof recs[0], NULL), CAB_OK);
    s_seen_t seen = s_scan (store, 0, later, 0);
    ck_assert_uint_eq (seen.count, 11);  //  all but seqs[7]
    struct {
        int64_t not_before;
        bool deferred;
    } expected[12] = {{hour, true},  {hour, true},  {hour, true}, {later, true},
                      {later, true}, {hour, true},  {hour, true}, {0, false},
                      {hour, true},  {hour, false}, {0, false},   {0, false}};
    for (size_t i = 0, row = 0; i < 12; i++) {
        if (i == 7)
            continue;
        ck_assert_int_eq (seen.seqs[row], seqs[i]);
        ck_assert_msg (seen.not_before[row] == expected[i].not_before, "seq %zu: not before %lld",
                       i, (long long)seen.not_before[row]);
        ck_assert_msg (seen.deferred[row] == expected[i].deferred, "seq %zu: deferred", i);
        row++;
    }
    ck_assert_str_eq (s_state (store, seqs[7], NULL, 0), "dry-run");
    cab_store_destroy (&store);
}
END_TEST

START_TEST (test_outcome_names)
{
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_ACCEPTED), "accepted");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_DRY_RUN), "dry-run");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_DEAD), "dead");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_SAMPLED), "sampled");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_SHED), "shed");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_DEFERRED), "deferred");
    ck_assert_str_eq (cab_mirrored_outcome_name (CAB_MIRRORED_FAILED), "failed");
    ck_assert_str_eq (cab_mirrored_outcome_name (0), "unknown");
    ck_assert_str_eq (cab_mirrored_outcome_name (99), "unknown");
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_store_mirror");
    TCase *tcase = tcase_create ("core");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_outbox_with_events);
    tcase_add_test (tcase, test_every_outcome);
    tcase_add_test (tcase, test_dead_letter_delivery_ids);
    tcase_add_test (tcase, test_stale_outcomes);
    tcase_add_test (tcase, test_bad_batches);
    tcase_add_test (tcase, test_budget_state);
    tcase_add_test (tcase, test_redrive_mirror_dead_letters);
    tcase_add_test (tcase, test_sweep_keeps_outbox_events);
    tcase_add_test (tcase, test_migrate_from_v3);
    tcase_add_test (tcase, test_defer_runs);
    tcase_add_test (tcase, test_outcome_names);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
