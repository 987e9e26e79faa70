/*  =========================================================================
    cab_store_sweep - retention: expired deliveries, dead letters and events

    One call is one short transaction deleting at most max_rows rows, so
    that the broker's store writer can interleave sweeps with ingest
    batches. Expired dead letters are found through their partial index
    (by updated_ms); DONE deliveries go with their event. Expired events
    are found by walking events in seq order from the oldest, which are
    also the earliest received (the single writer stamps received_ms in commit
    order): the walk stops at the first event young enough to keep. Events
    that still have a PENDING or DEAD delivery, or are still in the mirror's
    outbox, are skipped; an event's mirrored row goes with it. The mirror's
    dead letters (queue "mirror") keep the "standard" retention. So that
    many such events (a large dead-letter queue, a long mirror outage)
    cannot make every call slow, one call examines a bounded number of
    events and the next goes on where it stopped (a cursor on the handle);
    a walk that reaches the young events starts the next round from the
    oldest again, re-examining the skipped ones (they may have been
    delivered, purged or mirrored since).
    =========================================================================
*/
#include "cab_store_delivery.h"
#include "cab_store_private.h"
#include <stdlib.h>

//  Most events examined-and-deleted per call, whatever max_rows says.
#define S_EVENTS_MAX 10000
//  max_rows 0 means this.
#define S_ROWS_DEFAULT 1000
//  Most events one call examines, per event it may delete.
#define S_EXAMINE_FACTOR 10

//  Run a prepared DELETE bound with (cutoff, limit) or (text, cutoff,
//  limit); add the rows deleted to *deleted_p. Returns the SQLite code.
static int
s_delete (cab_store_t *self, sqlite3_stmt *stmt, const char *dlq, int64_t cutoff, int64_t limit,
          int64_t *deleted_p)
{
    int index = 1;
    if (dlq)
        sqlite3_bind_text (stmt, index++, dlq, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, index++, cutoff);
    sqlite3_bind_int64 (stmt, index, limit);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return rc;
    *deleted_p += sqlite3_changes (self->db);
    return SQLITE_OK;
}

static int
s_sweep_dead (cab_store_t *self, const char *dlq, int64_t cutoff, int64_t budget,
              int64_t *deleted_p)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (
        self, CABI_STMT_SWEEP_DEAD,
        "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries"
        " WHERE state = 2 AND dlq = ?1 AND updated_ms < ?2 ORDER BY updated_ms LIMIT ?3)",
        &rc);
    return stmt ? s_delete (self, stmt, dlq, cutoff, budget, deleted_p) : rc;
}

//  Collect up to capacity seqs of events received before cutoff with no
//  PENDING or DEAD delivery and no outbox row, oldest first from after
//  self->sweep_cursor, examining at most capacity * S_EXAMINE_FACTOR events. *cursor_p: where
//  the next call starts (0: from the oldest). Returns the SQLite code.
static int
s_candidates (cab_store_t *self, int64_t cutoff, int64_t *seqs, size_t capacity, size_t *count_p,
              int64_t *cursor_p)
{
    int rc;
    sqlite3_stmt *walk =
        cabi_store_stmt (self, CABI_STMT_SWEEP_EVENTS,
                         "SELECT seq, received_ms FROM events WHERE seq > ?1 ORDER BY seq", &rc);
    sqlite3_stmt *held =
        walk ? cabi_store_stmt (self, CABI_STMT_SWEEP_HELD,
                                "SELECT 1 WHERE EXISTS (SELECT 1 FROM deliveries WHERE seq = ?1"
                                " AND state IN (0, 2)) OR EXISTS (SELECT 1 FROM outbox"
                                " WHERE seq = ?1)",
                                &rc)
             : NULL;
    if (!held)
        return rc;
    size_t count = 0, examined = 0;
    int64_t seq = self->sweep_cursor;
    sqlite3_bind_int64 (walk, 1, self->sweep_cursor);
    while (count < capacity && examined < capacity * S_EXAMINE_FACTOR &&
           (rc = sqlite3_step (walk)) == SQLITE_ROW) {
        if (sqlite3_column_int64 (walk, 1) >= cutoff) {
            rc = SQLITE_DONE;
            break;
        }
        seq = sqlite3_column_int64 (walk, 0);
        examined++;
        sqlite3_bind_int64 (held, 1, seq);
        rc = sqlite3_step (held);
        sqlite3_reset (held);
        if (rc == SQLITE_DONE)
            seqs[count++] = seq;
        else if (rc != SQLITE_ROW)
            break;
        rc = SQLITE_ROW;
    }
    sqlite3_reset (walk);
    *count_p = count;
    //  Reached the young events (or the end): the next round starts over.
    *cursor_p = rc == SQLITE_DONE ? 0 : seq;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

//  Delete expired events (and their DONE deliveries) within budget; adds
//  rows to *deleted_p, events to *events_p, the highest seq to *max_seq_p.
static int
s_sweep_events (cab_store_t *self, int64_t cutoff, int64_t budget, int64_t *deleted_p,
                int64_t *events_p, int64_t *max_seq_p, int64_t *cursor_p)
{
    size_t capacity = budget < S_EVENTS_MAX ? (size_t)budget : S_EVENTS_MAX;
    int64_t *seqs = malloc (capacity * sizeof *seqs);
    if (!seqs)
        return SQLITE_NOMEM;
    size_t count = 0;
    int rc = s_candidates (self, cutoff, seqs, capacity, &count, cursor_p);
    sqlite3_stmt *deliveries = NULL, *event = NULL;
    if (rc == SQLITE_OK)
        deliveries = cabi_store_stmt (self, CABI_STMT_SWEEP_EVENT_DONE,
                                      "DELETE FROM deliveries WHERE id IN (SELECT id FROM"
                                      " deliveries WHERE seq = ?1 LIMIT ?2)",
                                      &rc);
    if (rc == SQLITE_OK)
        event =
            cabi_store_stmt (self, CABI_STMT_SWEEP_EVENT, "DELETE FROM events WHERE seq = ?1", &rc);
    size_t i = 0;
    for (; rc == SQLITE_OK && i < count && budget > 0; i++) {
        //  Its deliveries (all DONE) first, as many as the budget allows.
        sqlite3_bind_int64 (deliveries, 1, seqs[i]);
        sqlite3_bind_int64 (deliveries, 2, budget);
        rc = sqlite3_step (deliveries);
        sqlite3_reset (deliveries);
        if (rc != SQLITE_DONE)
            break;
        rc = SQLITE_OK;
        int64_t gone = sqlite3_changes (self->db);
        *deleted_p += gone;
        budget -= gone;
        if (budget == 0)
            break;  //  maybe more deliveries left: the event waits
        sqlite3_bind_int64 (event, 1, seqs[i]);
        rc = sqlite3_step (event);
        sqlite3_reset (event);
        if (rc != SQLITE_DONE)
            break;
        rc = cabi_store_sweep_mirrored (self, seqs[i]);
        if (rc != SQLITE_OK)
            break;
        *deleted_p += 1;
        *events_p += 1;
        budget -= 1;
        if (seqs[i] > *max_seq_p)
            *max_seq_p = seqs[i];
    }
    //  Candidates left over (the budget ran out) are the next call's first.
    if (rc == SQLITE_OK && i < count)
        *cursor_p = seqs[i] - 1;
    free (seqs);
    return rc;
}

//  Remember the highest deleted seq so that it is never given again.
static int
s_seq_floor (cab_store_t *self, int64_t seq)
{
    int rc;
    sqlite3_stmt *stmt =
        cabi_store_stmt (self, CABI_STMT_SEQ_FLOOR,
                         "INSERT INTO meta (key, value) VALUES ('seq_floor', ?1)"
                         " ON CONFLICT (key) DO UPDATE SET value ="
                         " max (CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))",
                         &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, seq);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

cab_status_t
cab_store_sweep (cab_store_t *self, const cab_store_retention_t *retention, int64_t now_ms,
                 size_t max_rows, int64_t *deleted_p, cab_error_t *error)
{
    if (deleted_p)
        *deleted_p = 0;
    if (!self || !retention)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store sweep: no store or retention");
    if (self->readonly)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store %s: opened read-only, cannot sweep", self->path);
    int64_t limit = max_rows ? (int64_t)max_rows : S_ROWS_DEFAULT;
    if (max_rows > (size_t)INT32_MAX)
        limit = INT32_MAX;
    int64_t deleted = 0, events = 0, max_seq = 0, cursor = self->sweep_cursor;
    const char *what = "cannot begin a transaction";
    int rc = cabi_store_begin (self);
    if (rc == SQLITE_OK) {
        what = "cannot delete";
        if (retention->standard_ms > 0)
            rc = s_sweep_dead (self, "standard", now_ms - retention->standard_ms, limit - deleted,
                               &deleted);
    }
    if (rc == SQLITE_OK && retention->critical_ms > 0 && deleted < limit)
        rc = s_sweep_dead (self, "critical", now_ms - retention->critical_ms, limit - deleted,
                           &deleted);
    if (rc == SQLITE_OK && retention->standard_ms > 0 && deleted < limit)
        rc = s_sweep_dead (self, CAB_MIRROR_DLQ, now_ms - retention->standard_ms, limit - deleted,
                           &deleted);
    if (rc == SQLITE_OK && retention->archive_ms > 0 && deleted < limit)
        rc = s_sweep_events (self, now_ms - retention->archive_ms, limit - deleted, &deleted,
                             &events, &max_seq, &cursor);
    if (rc == SQLITE_OK && events > 0)
        rc = s_seq_floor (self, max_seq);
    if (rc == SQLITE_OK && deleted > events)
        rc = cabi_store_delivery_floor (self);
    if (rc == SQLITE_OK) {
        what = "cannot commit";
        rc = cabi_store_commit (self);
    }
    if (rc != SQLITE_OK) {
        cab_status_t status = cabi_store_unavailable (self, rc, what, error);
        cabi_store_rollback (self);
        return status;
    }
    self->count -= events;
    self->sweep_cursor = cursor;
    if (deleted_p)
        *deleted_p = deleted;
    return CAB_OK;
}
