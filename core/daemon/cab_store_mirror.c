/*  =========================================================================
    cab_store_mirror - the cloud mirror's outbox and results in the store

    Two tables keyed by the event's seq (store schema version 4): outbox,
    the events still to mirror, and mirrored, what happened to each one
    that left the outbox. The write side (cabi_ functions) runs inside
    cab_store_write's transaction (cab_store_delivery.c), the sweep's and
    the redrive's; the read side (scan, next due, stats, get, budget state)
    works on any handle, read-only ones included. Every statement is
    prepared once and cached on the handle (cabi_store_stmt).
    =========================================================================
*/
#include "cab_store_mirror.h"
#include "cab_store_private.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Rows a scan returns when the caller gives no limit.
#define S_SCAN_DEFAULT 1000

const char *
cab_mirrored_outcome_name (int outcome)
{
    switch (outcome) {
        case CAB_MIRRORED_ACCEPTED:
            return "accepted";
        case CAB_MIRRORED_DRY_RUN:
            return "dry-run";
        case CAB_MIRRORED_DEAD:
            return "dead";
        case CAB_MIRRORED_SAMPLED:
            return "sampled";
        case CAB_MIRRORED_SHED:
            return "shed";
        case CAB_MIRRORED_DEFERRED:
            return "deferred";
        case CAB_MIRRORED_FAILED:
            return "failed";
        default:
            return "unknown";
    }
}

//  ---------------------------------------------------------------------
//  The write side: inside the caller's transaction

cab_status_t
cabi_store_check_mirror (const cab_store_batch_t *batch, cab_error_t *error)
{
    if (batch->mirror_outcome_count && !batch->mirror_outcomes)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store write: mirror_outcome_count without mirror_outcomes");
    return CAB_OK;
}

//  A record cab_store_write writes (the others are skipped).
static bool
s_rec_ok (const cab_mirror_outcome_rec_t *rec)
{
    return rec->seq > 0 && (int)rec->outcome >= CAB_MIRRORED_ACCEPTED &&
           (int)rec->outcome <= CAB_MIRRORED_FAILED && rec->attempts >= 0;
}

//  Step a statement that returns no row, then reset it. Returns SQLITE_OK
//  or the SQLite code.
static int
s_run (sqlite3_stmt *stmt)
{
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
cabi_store_outbox_add (cab_store_t *self, const int64_t *seqs, size_t count)
{
    int rc = SQLITE_OK;
    while (count > 0 && rc == SQLITE_OK) {
        size_t rows;
        sqlite3_stmt *stmt = cabi_store_rows_stmt (self, CABI_STMT_OUTBOX_ADD_8,
                                                   "INSERT OR IGNORE INTO outbox (seq,"
                                                   " not_before_ms, deferred, attempts, error)"
                                                   " VALUES ",
                                                   "(?, 0, 0, 0, NULL)", count, &rows, &rc);
        if (rc != SQLITE_OK)
            return rc;
        if (!stmt)
            stmt = cabi_store_stmt (self, CABI_STMT_OUTBOX_ADD,
                                    "INSERT OR IGNORE INTO outbox (seq, not_before_ms,"
                                    " deferred, attempts, error) VALUES (?1, 0, 0, 0, NULL)",
                                    &rc);
        if (!stmt)
            return rc;
        for (size_t row = 0; row < rows; row++)
            sqlite3_bind_int64 (stmt, (int)row + 1, seqs[row]);
        rc = s_run (stmt);
        seqs += rows;
        count -= rows;
    }
    return rc;
}

//  Take rec's event out of the outbox; *gone_p false when it was not there
//  (a stale outcome).
static int
s_outbox_delete (cab_store_t *self, int64_t seq, bool *gone_p)
{
    int rc;
    sqlite3_stmt *stmt =
        cabi_store_stmt (self, CABI_STMT_OUTBOX_DELETE, "DELETE FROM outbox WHERE seq = ?1", &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, seq);
    rc = s_run (stmt);
    *gone_p = rc == SQLITE_OK && sqlite3_changes (self->db) > 0;
    return rc;
}

static int
s_mirrored_set (cab_store_t *self, const cab_mirror_outcome_rec_t *rec, int64_t now_ms)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (
        self, CABI_STMT_MIRRORED_SET,
        "INSERT INTO mirrored (seq, outcome, aws_event_id, attempts, updated_ms, error)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (seq) DO UPDATE SET"
        " outcome = excluded.outcome, aws_event_id = excluded.aws_event_id,"
        " attempts = excluded.attempts, updated_ms = excluded.updated_ms, error = excluded.error",
        &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, rec->seq);
    sqlite3_bind_int (stmt, 2, (int)rec->outcome);
    cabi_store_bind_error (stmt, 3,
                           rec->outcome == CAB_MIRRORED_ACCEPTED ? rec->aws_event_id : NULL);
    sqlite3_bind_int (stmt, 4, rec->attempts);
    sqlite3_bind_int64 (stmt, 5, now_ms);
    cabi_store_bind_error (stmt, 6, rec->error);
    return s_run (stmt);
}

//  A mirror dead letter: a DEAD delivery in queue "mirror".
static int
s_mirror_dead (cab_store_t *self, const cab_mirror_outcome_rec_t *rec, int64_t now_ms,
               int64_t *next_delivery_p)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (
        self, CABI_STMT_MIRROR_DEAD,
        "INSERT INTO deliveries (id, seq, rule, target, replay, state, attempts, created_ms,"
        " next_ms, updated_ms, dlq, error) VALUES (?1, ?2, '" CAB_MIRROR_RULE
        "', '" CAB_MIRROR_TARGET "', NULL, 2, ?3, ?4, ?4, ?4, '" CAB_MIRROR_DLQ "', ?5)",
        &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, *next_delivery_p);
    sqlite3_bind_int64 (stmt, 2, rec->seq);
    sqlite3_bind_int (stmt, 3, rec->attempts);
    sqlite3_bind_int64 (stmt, 4, now_ms);
    cabi_store_bind_error (stmt, 5, rec->error);
    rc = s_run (stmt);
    if (rc == SQLITE_OK)
        (*next_delivery_p)++;
    return rc;
}

//  DEFERRED and FAILED: the row stays (a missing row is not an error).
static int
s_outbox_keep (cab_store_t *self, const cab_mirror_outcome_rec_t *rec)
{
    int rc;
    sqlite3_stmt *stmt;
    if (rec->outcome == CAB_MIRRORED_DEFERRED)
        stmt = cabi_store_stmt (self, CABI_STMT_OUTBOX_DEFER,
                                "UPDATE outbox SET deferred = 1, not_before_ms = ?2"
                                " WHERE seq = ?1",
                                &rc);
    else
        stmt = cabi_store_stmt (self, CABI_STMT_OUTBOX_FAIL,
                                "UPDATE outbox SET attempts = attempts + 1, error = ?3,"
                                " not_before_ms = ?2 WHERE seq = ?1",
                                &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, rec->seq);
    sqlite3_bind_int64 (stmt, 2, rec->not_before_ms);
    if (rec->outcome == CAB_MIRRORED_FAILED)
        cabi_store_bind_error (stmt, 3, rec->error);
    return s_run (stmt);
}

//  How many records from recs[0] form a run: valid DEFERRED outcomes, next
//  to each other in the batch, of seqs first, first + 1, ..., with the same
//  not_before_ms (a budget cap defers a burst to the same hour).
static size_t
s_defer_run (const cab_mirror_outcome_rec_t *recs, size_t count)
{
    size_t run = 1;
    if (s_rec_ok (&recs[0]) && recs[0].outcome == CAB_MIRRORED_DEFERRED)
        while (run < count && s_rec_ok (&recs[run]) && recs[run].outcome == CAB_MIRRORED_DEFERRED &&
               recs[run].seq == recs[0].seq + (int64_t)run &&
               recs[run].not_before_ms == recs[0].not_before_ms)
            run++;
    return run;
}

//  A run of DEFERRED outcomes: one UPDATE over the seq range, the rows as
//  one UPDATE each would leave them (a missing row is not an error).
static int
s_outbox_defer_run (cab_store_t *self, const cab_mirror_outcome_rec_t *first, size_t run)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_OUTBOX_DEFER_RUN,
                                          "UPDATE outbox SET deferred = 1, not_before_ms = ?3"
                                          " WHERE seq >= ?1 AND seq <= ?2",
                                          &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, first->seq);
    sqlite3_bind_int64 (stmt, 2, first->seq + (int64_t)run - 1);
    sqlite3_bind_int64 (stmt, 3, first->not_before_ms);
    return s_run (stmt);
}

static int
s_budget_state (cab_store_t *self, const char *text)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_BUDGET_STATE,
                                          "INSERT INTO meta (key, value) VALUES"
                                          " ('budget_state', ?1) ON CONFLICT (key)"
                                          " DO UPDATE SET value = excluded.value",
                                          &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_text (stmt, 1, text, -1, SQLITE_STATIC);
    return s_run (stmt);
}

int
cabi_store_write_mirror (cab_store_t *self, const cab_store_batch_t *batch, int64_t now_ms,
                         int64_t *next_delivery_p)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < batch->mirror_outcome_count && rc == SQLITE_OK; i++) {
        const cab_mirror_outcome_rec_t *rec = &batch->mirror_outcomes[i];
        if (!s_rec_ok (rec))
            continue;  //  not valid: skipped, as a stale one
        size_t run = s_defer_run (rec, batch->mirror_outcome_count - i);
        if (run > 1) {
            rc = s_outbox_defer_run (self, rec, run);
            i += run - 1;
            continue;
        }
        if (rec->outcome == CAB_MIRRORED_DEFERRED || rec->outcome == CAB_MIRRORED_FAILED) {
            rc = s_outbox_keep (self, rec);
            continue;
        }
        bool gone = false;
        rc = s_outbox_delete (self, rec->seq, &gone);
        if (rc != SQLITE_OK || !gone)
            continue;  //  stale: the event is not (or no longer) in the outbox
        rc = s_mirrored_set (self, rec, now_ms);
        if (rc == SQLITE_OK && rec->outcome == CAB_MIRRORED_DEAD)
            rc = s_mirror_dead (self, rec, now_ms, next_delivery_p);
    }
    size_t length =
        batch->budget_state ? strnlen (batch->budget_state, CAB_STORE_BUDGET_STATE_MAX + 1) : 0;
    if (rc == SQLITE_OK && length > 0 && length <= CAB_STORE_BUDGET_STATE_MAX)
        rc = s_budget_state (self, batch->budget_state);
    return rc;
}

int
cabi_store_redrive_mirror (cab_store_t *self)
{
    int rc;
    sqlite3_stmt *outbox = cabi_store_stmt (
        self, CABI_STMT_REDRIVE_OUTBOX,
        "INSERT OR IGNORE INTO outbox (seq, not_before_ms, deferred, attempts, error)"
        " SELECT seq, 0, 0, 0, NULL FROM deliveries WHERE state = 2"
        " AND dlq = '" CABI_MIRROR_REDRIVING "'",
        &rc);
    sqlite3_stmt *mirrored =
        outbox ? cabi_store_stmt (self, CABI_STMT_REDRIVE_MIRRORED,
                                  "DELETE FROM mirrored WHERE seq IN (SELECT seq FROM deliveries"
                                  " WHERE state = 2 AND dlq = '" CABI_MIRROR_REDRIVING "')",
                                  &rc)
               : NULL;
    sqlite3_stmt *deliveries = mirrored ? cabi_store_stmt (self, CABI_STMT_REDRIVE_DELETE,
                                                           "DELETE FROM deliveries WHERE state = 2"
                                                           " AND dlq = '" CABI_MIRROR_REDRIVING "'",
                                                           &rc)
                                        : NULL;
    if (!deliveries)
        return rc;
    rc = s_run (outbox);
    if (rc == SQLITE_OK)
        rc = s_run (mirrored);
    if (rc == SQLITE_OK)
        rc = s_run (deliveries);
    return rc;
}

int
cabi_store_sweep_mirrored (cab_store_t *self, int64_t seq)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_SWEEP_MIRRORED,
                                          "DELETE FROM mirrored WHERE seq = ?1", &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, seq);
    return s_run (stmt);
}

//  ---------------------------------------------------------------------
//  The read side: any handle

cab_status_t
cab_store_outbox_scan (cab_store_t *self, int64_t after_seq, int64_t now_ms, size_t limit,
                       cab_outbox_fn *fn, void *arg, cab_error_t *error)
{
    if (!self || !fn)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store outbox scan: no store or callback");
    //  Walk the outbox by seq (NOT INDEXED keeps the planner off the
    //  not_before_ms index, CROSS JOIN off walking events), then look each
    //  event up by its seq.
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (
        self, CABI_STMT_OUTBOX_SCAN,
        "SELECT o.seq, o.not_before_ms, o.deferred, o.attempts, e.received_ms, e.text,"
        " e.source, e.detail_type"
        " FROM outbox o NOT INDEXED CROSS JOIN events e ON e.seq = o.seq"
        " WHERE o.seq > ?1 AND o.not_before_ms <= ?2 ORDER BY o.seq LIMIT ?3",
        &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot read the outbox", error);
    if (limit == 0 || limit > (size_t)INT32_MAX)
        limit = limit ? (size_t)INT32_MAX : S_SCAN_DEFAULT;
    sqlite3_bind_int64 (stmt, 1, after_seq);
    sqlite3_bind_int64 (stmt, 2, now_ms);
    sqlite3_bind_int64 (stmt, 3, (int64_t)limit);
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        cab_outbox_record_t record;
        record.seq = sqlite3_column_int64 (stmt, 0);
        record.not_before_ms = sqlite3_column_int64 (stmt, 1);
        record.deferred = sqlite3_column_int (stmt, 2) != 0;
        record.attempts = sqlite3_column_int (stmt, 3);
        record.received_ms = sqlite3_column_int64 (stmt, 4);
        record.text = (const char *)sqlite3_column_text (stmt, 5);
        record.length = (size_t)sqlite3_column_bytes (stmt, 5);
        record.source = (const char *)sqlite3_column_text (stmt, 6);
        record.detail_type = (const char *)sqlite3_column_text (stmt, 7);
        if (!record.text || !record.source || !record.detail_type) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (fn (&record, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return cabi_store_unavailable (self, rc, "cannot read the outbox", error);
    return CAB_OK;
}

cab_status_t
cab_store_outbox_next_due (cab_store_t *self, int64_t now_ms, int64_t *next_ms_p,
                           cab_error_t *error)
{
    if (!self || !next_ms_p)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store outbox: no store or result");
    int rc;
    //  "not_before_ms > 0" lets the planner use the partial index.
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_OUTBOX_NEXT,
                                          "SELECT min (not_before_ms) FROM outbox"
                                          " WHERE not_before_ms > 0 AND not_before_ms > ?1",
                                          &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot read the outbox", error);
    sqlite3_bind_int64 (stmt, 1, now_ms);
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        *next_ms_p = sqlite3_column_type (stmt, 0) == SQLITE_NULL ? INT64_MAX
                                                                  : sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW)
        return cabi_store_unavailable (self, rc, "cannot read the outbox", error);
    return CAB_OK;
}

cab_status_t
cab_store_mirror_stats (cab_store_t *self, int64_t now_ms, cab_mirror_store_stats_t *stats,
                        cab_error_t *error)
{
    if (!self || !stats)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store mirror stats: no store or stats");
    memset (stats, 0, sizeof *stats);
    int rc;
    //  Each count from an index (the partial ones for deferred and failed
    //  rows), never a scan of the outbox rows themselves.
    sqlite3_stmt *outbox = cabi_store_stmt (
        self, CABI_STMT_MIRROR_OUTBOX,
        "SELECT (SELECT count (*) FROM outbox),"
        " (SELECT count (*) FROM outbox WHERE deferred <> 0),"
        " (SELECT count (*) FROM outbox WHERE attempts > 0),"
        " (SELECT count (*) FROM outbox WHERE not_before_ms > 0 AND not_before_ms > ?1),"
        " (SELECT received_ms FROM events WHERE seq = (SELECT min (seq) FROM outbox))",
        &rc);
    //  mirror_counts: kept by triggers, no scan of mirrored (one row per
    //  mirrored event of the archive).
    sqlite3_stmt *done =
        outbox ? cabi_store_stmt (self, CABI_STMT_MIRROR_DONE,
                                  "SELECT sum (count * (outcome = 1)), sum (count * (outcome = 2)),"
                                  " sum (count * (outcome = 3)), sum (count * (outcome = 4)),"
                                  " sum (count * (outcome = 5)), (SELECT count (*) FROM deliveries"
                                  " WHERE state = 2 AND dlq = '" CAB_MIRROR_DLQ "')"
                                  " FROM mirror_counts",
                                  &rc)
               : NULL;
    if (!done)
        return cabi_store_unavailable (self, rc, "cannot read the mirror figures", error);
    sqlite3_bind_int64 (outbox, 1, now_ms);
    rc = sqlite3_step (outbox);
    if (rc == SQLITE_ROW) {
        stats->outbox = sqlite3_column_int64 (outbox, 0);
        stats->deferred = sqlite3_column_int64 (outbox, 1);
        stats->failed = sqlite3_column_int64 (outbox, 2);
        stats->due = stats->outbox - sqlite3_column_int64 (outbox, 3);  //  minus not yet due
        stats->oldest_received_ms = sqlite3_column_int64 (outbox, 4);
        if (stats->outbox > 0 && stats->oldest_received_ms > 0 &&
            now_ms > stats->oldest_received_ms)
            stats->lag_ms = now_ms - stats->oldest_received_ms;
        rc = sqlite3_step (done);
    }
    if (rc == SQLITE_ROW) {
        stats->accepted = sqlite3_column_int64 (done, 0);
        stats->dry_run = sqlite3_column_int64 (done, 1);
        stats->dead = sqlite3_column_int64 (done, 2);
        stats->sampled = sqlite3_column_int64 (done, 3);
        stats->shed = sqlite3_column_int64 (done, 4);
        stats->dlq_depth = sqlite3_column_int64 (done, 5);
    }
    sqlite3_reset (outbox);
    sqlite3_reset (done);
    if (rc != SQLITE_ROW) {
        memset (stats, 0, sizeof *stats);
        return cabi_store_unavailable (self, rc, "cannot read the mirror figures", error);
    }
    return CAB_OK;
}

//  Set key to a new integer or text (NULL text: not set). Returns false
//  when out of memory.
static bool
s_set_int (json_t *object, const char *key, int64_t value)
{
    return json_object_set_new (object, key, json_integer ((json_int_t)value)) == 0;
}

static bool
s_set_text (json_t *object, const char *key, const char *text)
{
    if (!text)
        return true;
    json_t *value = json_string (text);
    if (!value)  //  not UTF-8 (or out of memory): say so rather than fail
        value = json_string ("(not UTF-8)");
    return json_object_set_new (object, key, value) == 0;
}

//  Read one event's outbox row (table 0) or mirrored row (table 1) into
//  *state_p and json (when not NULL). *found_p false when there is none.
static int
s_get_row (cab_store_t *self, int table, int64_t seq, const char **state_p, json_t *json,
           bool *found_p, bool *nomem_p)
{
    int rc;
    sqlite3_stmt *stmt =
        table == 0 ? cabi_store_stmt (self, CABI_STMT_MIRROR_GET_OUTBOX,
                                      "SELECT not_before_ms, deferred, attempts, error FROM outbox"
                                      " WHERE seq = ?1",
                                      &rc)
                   : cabi_store_stmt (self, CABI_STMT_MIRROR_GET_DONE,
                                      "SELECT outcome, aws_event_id, attempts, updated_ms, error"
                                      " FROM mirrored WHERE seq = ?1",
                                      &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, seq);
    rc = sqlite3_step (stmt);
    *found_p = rc == SQLITE_ROW;
    bool ok = true;
    if (rc == SQLITE_ROW && table == 0) {
        int attempts = sqlite3_column_int (stmt, 2);
        *state_p = attempts > 0 ? "failed" : sqlite3_column_int (stmt, 1) ? "deferred" : "pending";
        if (json)
            ok = s_set_int (json, "attempts", attempts) &&
                 s_set_int (json, "not_before_ms", sqlite3_column_int64 (stmt, 0)) &&
                 s_set_text (json, "error", (const char *)sqlite3_column_text (stmt, 3));
    } else if (rc == SQLITE_ROW) {
        *state_p = cab_mirrored_outcome_name (sqlite3_column_int (stmt, 0));
        if (json)
            ok = s_set_text (json, "aws_event_id", (const char *)sqlite3_column_text (stmt, 1)) &&
                 s_set_int (json, "attempts", sqlite3_column_int (stmt, 2)) &&
                 s_set_int (json, "updated_ms", sqlite3_column_int64 (stmt, 3)) &&
                 s_set_text (json, "error", (const char *)sqlite3_column_text (stmt, 4));
    }
    sqlite3_reset (stmt);
    *nomem_p = !ok;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

cab_status_t
cab_store_mirror_get (cab_store_t *self, int64_t seq, const char **state_p, json_t **json_p,
                      cab_error_t *error)
{
    if (json_p)
        *json_p = NULL;
    if (!self || !state_p)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store mirror get: no store or state");
    *state_p = "none";
    json_t *json = NULL;
    if (json_p && !(json = json_object ()))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
    bool found = false, nomem = false;
    int rc = s_get_row (self, 0, seq, state_p, json, &found, &nomem);
    if (rc == SQLITE_OK && !found && !nomem)
        rc = s_get_row (self, 1, seq, state_p, json, &found, &nomem);
    if (rc == SQLITE_OK && !nomem && json)
        nomem = json_object_set_new (json, "state", json_string (*state_p)) != 0;
    if (rc != SQLITE_OK || nomem) {
        json_decref (json);
        *state_p = "none";
        if (rc != SQLITE_OK)
            return cabi_store_unavailable (self, rc, "cannot read the mirror state", error);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
    }
    if (json_p)
        *json_p = json;
    return CAB_OK;
}

cab_status_t
cab_store_budget_state (cab_store_t *self, json_t **state_p, cab_error_t *error)
{
    if (state_p)
        *state_p = NULL;
    if (!self || !state_p)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store budget state: no store or result");
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_BUDGET_READ,
                                          "SELECT value FROM meta WHERE key = 'budget_state'", &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot read the budget state", error);
    rc = sqlite3_step (stmt);
    cab_status_t status = CAB_OK;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text (stmt, 0);
        size_t length = (size_t)sqlite3_column_bytes (stmt, 0);
        json_error_t json_error;
        *state_p = text ? json_loadb (text, length, JSON_REJECT_DUPLICATES, &json_error) : NULL;
        //  jansson reports some of its allocation failures as syntax errors
        //  (docs/robustness.md, "Findings"): a document that was written
        //  by cab_store_write is read once more before it is called corrupt.
        if (text && !*state_p && json_error_code (&json_error) != json_error_out_of_memory)
            *state_p = json_loadb (text, length, JSON_REJECT_DUPLICATES, &json_error);
        if (!text || (!*state_p && json_error_code (&json_error) == json_error_out_of_memory))
            status =
                cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
        else if (!*state_p)
            status = cab_error_set (error, CAB_ERR_INVALID_JSON, NULL,
                                    "store %s: the saved budget state is not JSON: %s (at %d)",
                                    self->path, json_error.text, json_error.position);
    } else if (rc != SQLITE_DONE)
        status = cabi_store_unavailable (self, rc, "cannot read the budget state", error);
    sqlite3_reset (stmt);
    if (status != CAB_OK && status != CAB_ERR_STORE_UNAVAILABLE) {
        json_decref (*state_p);
        *state_p = NULL;
    }
    return status;
}
