/*  =========================================================================
    cab_store_delivery - deliveries, dead letters: the write path and queries

    cab_store_write is the store's only write transaction for events and
    deliveries (cab_store_append is a write with items only): items, their
    routes, updates, then extra routes, all through statements prepared
    once and cached on the handle. The queries (scan, count, redrive, purge)
    build their SQL from fixed pieces chosen by the filters that are set --
    never from caller data, which is always bound -- and cache the prepared
    statement by the shape of the query. Retention is in cab_store_sweep.c;
    the mirror's outbox and outcomes (written here through cabi_ helpers)
    in cab_store_mirror.c.
    =========================================================================
*/
#include "cab_store_delivery.h"
#include "cab_store_migrate.h"
#include "cab_store_private.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Longest rule, target and replay name stored, bytes.
#define S_NAME_MAX 256

sqlite3_stmt *
cabi_store_stmt (cab_store_t *self, cabi_stmt_t id, const char *sql, int *rc_p)
{
    if (!self->stmts[id]) {
        *rc_p = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &self->stmts[id],
                                    NULL);
        if (*rc_p != SQLITE_OK) {
            sqlite3_finalize (self->stmts[id]);
            self->stmts[id] = NULL;
            return NULL;
        }
    }
    *rc_p = SQLITE_OK;
    return self->stmts[id];
}

sqlite3_stmt *
cabi_store_rows_stmt (cab_store_t *self, cabi_stmt_t id, const char *head, const char *tuple,
                      size_t count, size_t *rows_p, int *rc_p)
{
    *rc_p = SQLITE_OK;
    *rows_p = count >= CABI_STORE_ROWS_MAX ? CABI_STORE_ROWS_MAX : count >= 8 ? 8 : 1;
    if (*rows_p == 1)
        return NULL;
    cabi_stmt_t slot = *rows_p == CABI_STORE_ROWS_MAX ? id + 1 : id;
    if (self->stmts[slot])
        return self->stmts[slot];
    size_t head_length = strlen (head), tuple_length = strlen (tuple);
    size_t size = head_length + *rows_p * (tuple_length + 1) + 1;
    char *sql = (char *)malloc (size);
    if (!sql) {
        *rc_p = SQLITE_NOMEM;
        return NULL;
    }
    memcpy (sql, head, head_length);
    char *at = sql + head_length;
    for (size_t row = 0; row < *rows_p; row++) {
        if (row)
            *at++ = ',';
        memcpy (at, tuple, tuple_length);
        at += tuple_length;
    }
    *at = '\0';
    sqlite3_stmt *stmt = cabi_store_stmt (self, slot, sql, rc_p);
    free (sql);
    return stmt;
}

int
cabi_store_delivery_floor (cab_store_t *self)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_DELIVERY_FLOOR,
                                          "INSERT INTO meta (key, value) VALUES"
                                          " ('delivery_floor', ?1) ON CONFLICT (key)"
                                          " DO UPDATE SET value = excluded.value",
                                          &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, self->last_delivery);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void
cabi_store_finalize_stmts (cab_store_t *self)
{
    for (size_t i = 0; i < CABI_STMT_COUNT_; i++) {
        sqlite3_finalize (self->stmts[i]);
        self->stmts[i] = NULL;
    }
    for (size_t i = 0; i < CABI_STORE_QUERIES; i++) {
        sqlite3_finalize (self->queries[i].stmt);
        self->queries[i].stmt = NULL;
        self->queries[i].key = 0;
    }
}

const char *
cab_delivery_state_name (int state)
{
    switch (state) {
        case CAB_DELIVERY_PENDING:
            return "pending";
        case CAB_DELIVERY_DONE:
            return "done";
        case CAB_DELIVERY_DEAD:
            return "dead";
        default:
            return "unknown";
    }
}

//  ---------------------------------------------------------------------
//  The write transaction

static bool
s_name_ok (const char *name, bool required)
{
    if (!name)
        return !required;
    return *name && strlen (name) <= S_NAME_MAX;
}

static bool
s_dlq_ok (const char *dlq)
{
    return !dlq || strcmp (dlq, "standard") == 0 || strcmp (dlq, "critical") == 0;
}

static cab_status_t
s_check_route (const cab_store_route_t *route, const char *where, size_t index, cab_error_t *error)
{
    if (!s_name_ok (route->rule, true) || !s_name_ok (route->target, true) ||
        !s_name_ok (route->replay, false))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store write: %s route %zu: a rule and a target are required, "
                              "names of at most %d bytes",
                              where, index, S_NAME_MAX);
    return CAB_OK;
}

//  Check a batch before anything is written.
static cab_status_t
s_check (cab_store_t *self, const cab_store_batch_t *batch, cab_error_t *error)
{
    if (self->readonly)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store %s: opened read-only, cannot write", self->path);
    if ((batch->item_count && !batch->items) || (batch->update_count && !batch->updates) ||
        (batch->route_count && !batch->routes))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store write: a count without its array");
    cab_status_t mirror_status = cabi_store_check_mirror (batch, error);
    if (mirror_status != CAB_OK)
        return mirror_status;
    for (size_t i = 0; i < batch->item_count; i++) {
        const cab_store_item_t *item = &batch->items[i];
        if (!item->id || !*item->id || !item->source || !item->detail_type || !item->text ||
            item->length == 0)
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                  "store append: item %zu lacks an id, source, detail-type or text",
                                  i);
        if (strlen (item->id) > CAB_STORE_ID_MAX)
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                  "store append: item %zu: id longer than %d bytes", i,
                                  CAB_STORE_ID_MAX);
        if (item->length > CAB_EVENT_MAX_SIZE)
            return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                                  "store append: item %zu: %zu bytes, over the %d-byte limit", i,
                                  item->length, CAB_EVENT_MAX_SIZE);
        if (item->route_count && !item->routes)
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                  "store write: item %zu: route_count without routes", i);
        for (size_t r = 0; r < item->route_count; r++) {
            cab_status_t status = s_check_route (&item->routes[r], "item", r, error);
            if (status != CAB_OK)
                return status;
        }
    }
    for (size_t i = 0; i < batch->update_count; i++) {
        const cab_delivery_update_t *update = &batch->updates[i];
        if (update->state < CAB_DELIVERY_PENDING || update->state > CAB_DELIVERY_DEAD ||
            update->attempts < 0 || !s_dlq_ok (update->dlq))
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                  "store write: update %zu: bad state, attempts or dlq", i);
    }
    for (size_t i = 0; i < batch->route_count; i++) {
        cab_status_t status = s_check_route (&batch->routes[i], "batch", i, error);
        if (status != CAB_OK)
            return status;
    }
    return CAB_OK;
}

//  Reset every output of a batch.
static void
s_clear (cab_store_batch_t *batch)
{
    for (size_t i = 0; batch->items && i < batch->item_count; i++) {
        cab_store_item_t *item = &batch->items[i];
        item->seq = 0;
        item->duplicate = false;
        for (size_t r = 0; item->routes && r < item->route_count; r++) {
            item->routes[r].seq = 0;
            item->routes[r].id = 0;
        }
    }
    for (size_t i = 0; batch->routes && i < batch->route_count; i++)
        batch->routes[i].id = 0;
}

//  Store one item inside the open transaction; returns the SQLite code.
static int
s_append_one (cab_store_t *self, cab_store_item_t *item, int64_t received_ms, int64_t *next_p)
{
    sqlite3_stmt *insert = self->insert;
    sqlite3_bind_int64 (insert, 1, *next_p);
    sqlite3_bind_text (insert, 2, item->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (insert, 3, item->time_ms);
    sqlite3_bind_text (insert, 4, item->source, -1, SQLITE_STATIC);
    sqlite3_bind_text (insert, 5, item->detail_type, -1, SQLITE_STATIC);
    cabi_store_bind_text (insert, 6, item->agent_id);
    cabi_store_bind_text (insert, 7, item->correlation_id);
    sqlite3_bind_int64 (insert, 8, received_ms);
    sqlite3_bind_text64 (insert, 9, item->text, item->length, SQLITE_STATIC, SQLITE_UTF8);
    int rc = sqlite3_step (insert);
    sqlite3_reset (insert);
    if (rc != SQLITE_DONE)
        return rc;
    if (sqlite3_changes (self->db) == 1) {
        item->seq = (*next_p)++;
        return SQLITE_OK;
    }
    //  ON CONFLICT DO NOTHING: the id is stored (maybe earlier in this
    //  batch); report its seq.
    sqlite3_bind_text (self->lookup, 1, item->id, -1, SQLITE_STATIC);
    rc = sqlite3_step (self->lookup);
    if (rc == SQLITE_ROW) {
        item->seq = sqlite3_column_int64 (self->lookup, 0);
        item->duplicate = true;
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_INTERNAL;
    sqlite3_reset (self->lookup);
    return rc;
}

//  The numbers a write transaction gives out (committed to the handle
//  only when the transaction commits).
typedef struct {
    int64_t now_ms;         //  created_ms, updated_ms, received_ms
    int64_t next_seq;       //  the next event's seq
    int64_t next_delivery;  //  the next delivery's id
} s_write_t;

//  Create one PENDING delivery of the event seq; returns the SQLite code.
static int
s_insert_route (cab_store_t *self, cab_store_route_t *route, int64_t seq, s_write_t *write)
{
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (
        self, CABI_STMT_ROUTE_INSERT,
        "INSERT INTO deliveries (id, seq, rule, target, replay, state, attempts, created_ms,"
        " next_ms, updated_ms) VALUES (?7, ?1, ?2, ?3, ?4, 0, 0, ?5, ?6, ?5)",
        &rc);
    if (!stmt)
        return rc;
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_text (stmt, 2, route->rule, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, route->target, -1, SQLITE_STATIC);
    cabi_store_bind_text (stmt, 4, route->replay);
    sqlite3_bind_int64 (stmt, 5, write->now_ms);
    sqlite3_bind_int64 (stmt, 6, route->next_ms ? route->next_ms : write->now_ms);
    sqlite3_bind_int64 (stmt, 7, write->next_delivery);
    rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return rc;
    route->id = write->next_delivery++;
    return SQLITE_OK;
}

//  Create the PENDING deliveries routes[0..count) (their seq set), several
//  rows a statement, ids given in order. Returns the SQLite code.
static int
s_insert_routes (cab_store_t *self, cab_store_route_t **routes, size_t count, s_write_t *write)
{
    int rc = SQLITE_OK;
    while (count > 0 && rc == SQLITE_OK) {
        size_t rows;
        sqlite3_stmt *stmt = cabi_store_rows_stmt (
            self, CABI_STMT_ROUTE_INSERT_8,
            "INSERT INTO deliveries (id, seq, rule, target, replay, state, attempts, created_ms,"
            " next_ms, updated_ms) VALUES ",
            "(?, ?, ?, ?, ?, 0, 0, ?, ?, ?)", count, &rows, &rc);
        if (rc != SQLITE_OK)
            return rc;
        if (!stmt)
            rc = s_insert_route (self, routes[0], routes[0]->seq, write);
        else {
            for (size_t row = 0; row < rows; row++) {
                const cab_store_route_t *route = routes[row];
                int at = (int)row * 8;
                sqlite3_bind_int64 (stmt, at + 1, write->next_delivery + (int64_t)row);
                sqlite3_bind_int64 (stmt, at + 2, route->seq);
                sqlite3_bind_text (stmt, at + 3, route->rule, -1, SQLITE_STATIC);
                sqlite3_bind_text (stmt, at + 4, route->target, -1, SQLITE_STATIC);
                cabi_store_bind_text (stmt, at + 5, route->replay);
                sqlite3_bind_int64 (stmt, at + 6, write->now_ms);
                sqlite3_bind_int64 (stmt, at + 7, route->next_ms ? route->next_ms : write->now_ms);
                sqlite3_bind_int64 (stmt, at + 8, write->now_ms);
            }
            rc = sqlite3_step (stmt);
            sqlite3_reset (stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            for (size_t row = 0; rc == SQLITE_OK && row < rows; row++)
                routes[row]->id = write->next_delivery++;
        }
        routes += rows;
        count -= rows;
    }
    return rc;
}

//  The batch's events, then the outbox rows and the deliveries of the new
//  ones (not the duplicates), CABI_STORE_ROWS_MAX at a time.
static int
s_write_items (cab_store_t *self, cab_store_batch_t *batch, s_write_t *write)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < batch->item_count && rc == SQLITE_OK; i++)
        rc = s_append_one (self, &batch->items[i], write->now_ms, &write->next_seq);
    int64_t seqs[CABI_STORE_ROWS_MAX];
    size_t count = 0;
    for (size_t i = 0; i < batch->item_count && rc == SQLITE_OK; i++) {
        if (batch->items[i].mirror && !batch->items[i].duplicate)
            seqs[count++] = batch->items[i].seq;
        if (count == CABI_STORE_ROWS_MAX || (count > 0 && i + 1 == batch->item_count)) {
            rc = cabi_store_outbox_add (self, seqs, count);
            count = 0;
        }
    }
    cab_store_route_t *routes[CABI_STORE_ROWS_MAX];
    count = 0;
    for (size_t i = 0; i < batch->item_count && rc == SQLITE_OK; i++) {
        cab_store_item_t *item = &batch->items[i];
        for (size_t r = 0; r < item->route_count && rc == SQLITE_OK; r++) {
            item->routes[r].seq = item->seq;
            if (!item->duplicate)
                routes[count++] = &item->routes[r];
            if (count == CABI_STORE_ROWS_MAX) {
                rc = s_insert_routes (self, routes, count, write);
                count = 0;
            }
        }
    }
    if (rc == SQLITE_OK && count > 0)
        rc = s_insert_routes (self, routes, count, write);
    return rc;
}

void
cabi_store_bind_error (sqlite3_stmt *stmt, int index, const char *text)
{
    if (!text) {
        sqlite3_bind_null (stmt, index);
        return;
    }
    size_t length = strlen (text);
    if (length > CABI_STORE_ERROR_MAX) {
        length = CABI_STORE_ERROR_MAX;
        while (length > 0 && ((unsigned char)text[length] & 0xC0) == 0x80)
            length--;
    }
    sqlite3_bind_text64 (stmt, index, text, length, SQLITE_STATIC, SQLITE_UTF8);
}

//  A DONE with nothing but its attempts: such updates of consecutive ids
//  can go in one statement.
static bool
s_plain_done (const cab_delivery_update_t *update)
{
    return update->state == CAB_DELIVERY_DONE && update->next_ms == 0 && !update->error;
}

//  How many updates from updates[0] form a run: plain DONEs, next to each
//  other in the batch, of ids first, first + 1, ..., with the same attempts.
static size_t
s_done_run (const cab_delivery_update_t *updates, size_t count)
{
    size_t run = 1;
    if (s_plain_done (&updates[0]))
        while (run < count && s_plain_done (&updates[run]) &&
               updates[run].id == updates[0].id + (int64_t)run &&
               updates[run].attempts == updates[0].attempts)
            run++;
    return run;
}

//  The state changes, in order. A run of consecutive plain DONEs (the
//  deliveries of a burst, finished in the order they went out: the common
//  case) is one UPDATE over the id range, which SQLite walks once, instead
//  of one statement per delivery; the rows come out the same.
static int
s_write_updates (cab_store_t *self, cab_store_batch_t *batch, int64_t now_ms)
{
    if (batch->update_count == 0)
        return SQLITE_OK;
    int rc;
    sqlite3_stmt *stmt = cabi_store_stmt (self, CABI_STMT_UPDATE,
                                          "UPDATE deliveries SET state = ?2, attempts = ?3,"
                                          " next_ms = ?4, updated_ms = ?5, dlq = ?6, error = ?7"
                                          " WHERE id = ?1",
                                          &rc);
    sqlite3_stmt *range =
        stmt ? cabi_store_stmt (self, CABI_STMT_UPDATE_DONE_RUN,
                                "UPDATE deliveries SET state = 1, attempts = ?3, next_ms = 0,"
                                " updated_ms = ?4, dlq = NULL, error = NULL"
                                " WHERE id >= ?1 AND id <= ?2",
                                &rc)
             : NULL;
    for (size_t i = 0; range && i < batch->update_count && rc == SQLITE_OK;) {
        const cab_delivery_update_t *update = &batch->updates[i];
        size_t run = s_done_run (update, batch->update_count - i);
        i += run;
        if (run > 1) {
            sqlite3_bind_int64 (range, 1, update->id);
            sqlite3_bind_int64 (range, 2, update->id + (int64_t)run - 1);
            sqlite3_bind_int (range, 3, update->attempts);
            sqlite3_bind_int64 (range, 4, now_ms);
            rc = sqlite3_step (range);
            sqlite3_reset (range);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
            continue;
        }
        bool dead = update->state == CAB_DELIVERY_DEAD;
        sqlite3_bind_int64 (stmt, 1, update->id);
        sqlite3_bind_int (stmt, 2, (int)update->state);
        sqlite3_bind_int (stmt, 3, update->attempts);
        sqlite3_bind_int64 (stmt, 4, update->next_ms);
        sqlite3_bind_int64 (stmt, 5, now_ms);
        cabi_store_bind_text (stmt, 6, dead ? (update->dlq ? update->dlq : "standard") : NULL);
        cabi_store_bind_error (stmt, 7, update->error);
        rc = sqlite3_step (stmt);
        sqlite3_reset (stmt);
        //  A delivery that no longer exists (purged, swept) is skipped.
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    return rc;
}

static int
s_write_routes (cab_store_t *self, cab_store_batch_t *batch, s_write_t *write)
{
    if (batch->route_count == 0)
        return SQLITE_OK;
    int rc;
    sqlite3_stmt *exists =
        cabi_store_stmt (self, CABI_STMT_SEQ_EXISTS, "SELECT 1 FROM events WHERE seq = ?1", &rc);
    for (size_t i = 0; exists && i < batch->route_count && rc == SQLITE_OK; i++) {
        cab_store_route_t *route = &batch->routes[i];
        sqlite3_bind_int64 (exists, 1, route->seq);
        rc = sqlite3_step (exists);
        sqlite3_reset (exists);
        if (rc == SQLITE_ROW)
            rc = s_insert_route (self, route, route->seq, write);
        else if (rc == SQLITE_DONE)
            rc = SQLITE_OK;  //  no such event (swept): not created, id 0
    }
    return rc;
}

//  Nothing to write: no items, updates, routes, mirror outcomes nor budget
//  state (a batch with only outcomes or only the budget state is written).
static bool
s_empty (const cab_store_batch_t *batch)
{
    size_t rows =
        batch->item_count + batch->update_count + batch->route_count + batch->mirror_outcome_count;
    return rows == 0 && !batch->budget_state;
}

cab_status_t
cab_store_write (cab_store_t *self, cab_store_batch_t *batch, cab_error_t *error)
{
    if (!self || !batch)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store write: no store");
    s_clear (batch);
    cab_status_t status = s_check (self, batch, error);
    if (status != CAB_OK || s_empty (batch))
        return status;

    s_write_t write = {cabi_store_now_ms (), self->last_seq + 1, self->last_delivery + 1};
    const char *what = "cannot begin a transaction";
    int rc = cabi_store_begin (self);
    if (rc == SQLITE_OK) {
        what = "cannot write";
        rc = s_write_items (self, batch, &write);
    }
    if (rc == SQLITE_OK)
        rc = s_write_updates (self, batch, write.now_ms);
    if (rc == SQLITE_OK)
        rc = s_write_routes (self, batch, &write);
    if (rc == SQLITE_OK)
        rc = cabi_store_write_mirror (self, batch, write.now_ms, &write.next_delivery);
    if (rc == SQLITE_OK) {
        what = "cannot commit";
        rc = cabi_store_commit (self);
        if (rc == SQLITE_OK) {
            self->count += write.next_seq - (self->last_seq + 1);
            self->last_seq = write.next_seq - 1;
            self->last_delivery = write.next_delivery - 1;
            return CAB_OK;
        }
    }
    status = cabi_store_unavailable (self, rc, what, error);
    cabi_store_rollback (self);
    s_clear (batch);
    return status;
}

//  ---------------------------------------------------------------------
//  Queries: scan, count, redrive, purge

typedef enum { S_SCAN, S_COUNT, S_REDRIVE, S_PURGE } s_kind_t;

//  Parameters of every query shape (unused ones are simply not in the SQL).
enum {
    S_P_FROM_ID = 1,
    S_P_SEQ,
    S_P_RULE,
    S_P_TARGET,
    S_P_DLQ,
    S_P_EVENT_ID,
    S_P_FROM_MS,
    S_P_TO_MS,
    S_P_REPLAY,
    S_P_IDS,
    S_P_LIMIT,
    S_P_NOW
};

static cab_status_t
s_check_query (const cab_delivery_query_t *query, cab_error_t *error)
{
    if (query->state < -1 || query->state > CAB_DELIVERY_DEAD)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store: delivery query: unknown state %d", query->state);
    if (query->id_count > CAB_DELIVERY_IDS_MAX || (query->id_count && !query->ids))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store: delivery query: at most %d ids", CAB_DELIVERY_IDS_MAX);
    return CAB_OK;
}

//  The shape of a query: which SQL it needs. Never 0.
static uint64_t
s_shape (s_kind_t kind, const cab_delivery_query_t *query, int state)
{
    uint64_t key = 1;
    key |= (uint64_t)kind << 1;
    key |= (uint64_t)(state + 1) << 3;
    int bit = 5;
    bool filters[] = {query->from_id != 0,   query->seq != 0,    query->rule != NULL,
                      query->target != NULL, query->dlq != NULL, query->event_id != NULL,
                      query->from_ms != 0,   query->to_ms != 0,  query->replay != NULL,
                      query->id_count != 0,  query->with_text};
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++, bit++)
        if (filters[i])
            key |= (uint64_t)1 << bit;
    return key;
}

//  Build the SQL of a query shape into sql.
static void
s_build (s_kind_t kind, const cab_delivery_query_t *query, int state, char *sql, size_t size)
{
    char where[800], state_sql[32] = "";
    if (state >= 0)
        snprintf (state_sql, sizeof state_sql, " AND d.state = %d", state);
    snprintf (where, sizeof where, "WHERE 1%s%s%s%s%s%s%s%s%s%s%s", state_sql,
              query->from_id ? " AND d.id >= ?1" : "", query->seq ? " AND d.seq = ?2" : "",
              query->rule ? " AND d.rule = ?3" : "", query->target ? " AND d.target = ?4" : "",
              query->dlq ? " AND d.dlq = ?5" : "",
              query->event_id ? " AND d.seq = (SELECT seq FROM events WHERE id = ?6)" : "",
              query->from_ms ? " AND d.updated_ms >= ?7" : "",
              query->to_ms ? " AND d.updated_ms <= ?8" : "",
              query->replay ? " AND d.replay = ?9" : "",
              query->id_count ? " AND d.id IN (SELECT value FROM json_each (?10))" : "");
    //  Without statistics the planner prefers walking the whole table in id
    //  order to a partial index plus a sort: name the small index (the
    //  dead letters, or one replay's deliveries) when the query allows it.
    const char *from = "deliveries d";
    if (query->replay)
        from = "deliveries d INDEXED BY deliveries_replay";
    else if (state == CAB_DELIVERY_DEAD && !query->id_count)
        from = "deliveries d INDEXED BY deliveries_dead";
    char subquery[1024];
    snprintf (subquery, sizeof subquery, "SELECT d.id FROM %s %s ORDER BY d.id LIMIT ?11", from,
              where);
    switch (kind) {
        case S_SCAN:
            snprintf (sql, size,
                      "SELECT d.id, d.seq, d.rule, d.target, d.replay, d.state, d.attempts,"
                      " d.created_ms, d.next_ms, d.updated_ms, d.dlq, d.error, e.id, e.time_ms,"
                      " %s FROM %s LEFT JOIN events e ON e.seq = d.seq %s"
                      " ORDER BY d.id LIMIT ?11",
                      query->with_text ? "e.text" : "NULL", from, where);
            break;
        case S_COUNT:
            snprintf (sql, size, "SELECT count (*) FROM %s %s", from, where);
            break;
        case S_REDRIVE:
            //  The mirror's dead letters stay DEAD, marked, for
            //  cabi_store_redrive_mirror to move back to the outbox.
            snprintf (sql, size,
                      "UPDATE deliveries SET"
                      " state = CASE WHEN dlq = '" CAB_MIRROR_DLQ "' THEN 2 ELSE 0 END,"
                      " attempts = 0, created_ms = ?12, next_ms = ?12, updated_ms = ?12,"
                      " dlq = CASE WHEN dlq = '" CAB_MIRROR_DLQ "' THEN '" CABI_MIRROR_REDRIVING
                      "' END WHERE id IN (%s)",
                      subquery);
            break;
        case S_PURGE:
            snprintf (sql, size, "DELETE FROM deliveries WHERE id IN (%s)", subquery);
            break;
    }
}

//  Return the cached statement of this query shape, preparing it when
//  needed; NULL and *rc_p on failure.
static sqlite3_stmt *
s_query_stmt (cab_store_t *self, s_kind_t kind, const cab_delivery_query_t *query, int state,
              int *rc_p)
{
    uint64_t key = s_shape (kind, query, state);
    for (size_t i = 0; i < CABI_STORE_QUERIES; i++)
        if (self->queries[i].key == key) {
            *rc_p = SQLITE_OK;
            return self->queries[i].stmt;
        }
    char sql[2048];
    s_build (kind, query, state, sql, sizeof sql);
    sqlite3_stmt *stmt = NULL;
    *rc_p = sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (*rc_p != SQLITE_OK) {
        sqlite3_finalize (stmt);
        return NULL;
    }
    size_t slot = self->query_next;
    self->query_next = (slot + 1) % CABI_STORE_QUERIES;
    sqlite3_finalize (self->queries[slot].stmt);
    self->queries[slot].key = key;
    self->queries[slot].stmt = stmt;
    return stmt;
}

//  Bind the query's values. *ids_p: a new JSON array of the ids (or NULL),
//  freed by the caller after the statement is reset. Returns false on
//  out-of-memory.
static bool
s_bind_query (sqlite3_stmt *stmt, const cab_delivery_query_t *query, int64_t now_ms, char **ids_p)
{
    *ids_p = NULL;
    sqlite3_bind_int64 (stmt, S_P_FROM_ID, query->from_id);
    sqlite3_bind_int64 (stmt, S_P_SEQ, query->seq);
    cabi_store_bind_text (stmt, S_P_RULE, query->rule);
    cabi_store_bind_text (stmt, S_P_TARGET, query->target);
    cabi_store_bind_text (stmt, S_P_DLQ, query->dlq);
    cabi_store_bind_text (stmt, S_P_EVENT_ID, query->event_id);
    sqlite3_bind_int64 (stmt, S_P_FROM_MS, query->from_ms);
    sqlite3_bind_int64 (stmt, S_P_TO_MS, query->to_ms);
    cabi_store_bind_text (stmt, S_P_REPLAY, query->replay);
    if (query->id_count) {
        size_t size = query->id_count * 22 + 3, used = 1;
        char *ids = malloc (size);
        if (!ids)
            return false;
        ids[0] = '[';
        for (size_t i = 0; i < query->id_count; i++)
            used += (size_t)snprintf (ids + used, size - used, "%s%lld", i ? "," : "",
                                      (long long)query->ids[i]);
        snprintf (ids + used, size - used, "]");
        sqlite3_bind_text (stmt, S_P_IDS, ids, -1, SQLITE_STATIC);
        *ids_p = ids;
    }
    sqlite3_bind_int64 (stmt, S_P_LIMIT, query->limit ? (int64_t)query->limit : -1);
    sqlite3_bind_int64 (stmt, S_P_NOW, now_ms);
    return true;
}

static void
s_done (sqlite3_stmt *stmt, char **ids_p)
{
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    free (*ids_p);
    *ids_p = NULL;
}

static cab_status_t
s_nomem (cab_store_t *self, cab_error_t *error)
{
    return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
}

static void
s_record (sqlite3_stmt *stmt, cab_delivery_record_t *record)
{
    record->id = sqlite3_column_int64 (stmt, 0);
    record->seq = sqlite3_column_int64 (stmt, 1);
    record->rule = (const char *)sqlite3_column_text (stmt, 2);
    record->target = (const char *)sqlite3_column_text (stmt, 3);
    record->replay = (const char *)sqlite3_column_text (stmt, 4);
    record->state = (cab_delivery_state_t)sqlite3_column_int (stmt, 5);
    record->attempts = sqlite3_column_int (stmt, 6);
    record->created_ms = sqlite3_column_int64 (stmt, 7);
    record->next_ms = sqlite3_column_int64 (stmt, 8);
    record->updated_ms = sqlite3_column_int64 (stmt, 9);
    record->dlq = (const char *)sqlite3_column_text (stmt, 10);
    record->error = (const char *)sqlite3_column_text (stmt, 11);
    record->event_id = (const char *)sqlite3_column_text (stmt, 12);
    record->event_time_ms = sqlite3_column_int64 (stmt, 13);
    record->text = (const char *)sqlite3_column_text (stmt, 14);
    record->length = record->text ? (size_t)sqlite3_column_bytes (stmt, 14) : 0;
}

cab_status_t
cab_store_scan_deliveries (cab_store_t *self, const cab_delivery_query_t *query,
                           cab_delivery_fn *fn, void *arg, cab_error_t *error)
{
    if (!self || !query || !fn)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store scan: no store, query or callback");
    cab_status_t status = s_check_query (query, error);
    if (status != CAB_OK)
        return status;
    int rc;
    sqlite3_stmt *stmt = s_query_stmt (self, S_SCAN, query, query->state, &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot query deliveries", error);
    char *ids = NULL;
    if (!s_bind_query (stmt, query, 0, &ids)) {
        s_done (stmt, &ids);
        return s_nomem (self, error);
    }
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        cab_delivery_record_t record;
        s_record (stmt, &record);
        if (!record.rule || !record.target ||
            (query->with_text && record.event_id && !record.text)) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (fn (&record, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE)
        status = cabi_store_unavailable (self, rc, "cannot read deliveries", error);
    s_done (stmt, &ids);
    return status;
}

cab_status_t
cab_store_count_deliveries (cab_store_t *self, const cab_delivery_query_t *query, int64_t *count_p,
                            cab_error_t *error)
{
    if (!self || !query || !count_p)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store count: no store, query or count");
    cab_status_t status = s_check_query (query, error);
    if (status != CAB_OK)
        return status;
    int rc;
    sqlite3_stmt *stmt = s_query_stmt (self, S_COUNT, query, query->state, &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot count deliveries", error);
    char *ids = NULL;
    if (!s_bind_query (stmt, query, 0, &ids)) {
        s_done (stmt, &ids);
        return s_nomem (self, error);
    }
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        *count_p = sqlite3_column_int64 (stmt, 0);
    else
        status = cabi_store_unavailable (self, rc, "cannot count deliveries", error);
    s_done (stmt, &ids);
    return status;
}

//  Redrive or purge the dead letters matching query, in one transaction.
static cab_status_t
s_change_dead (cab_store_t *self, s_kind_t kind, const cab_delivery_query_t *query, int64_t now_ms,
               int64_t *count_p, cab_error_t *error)
{
    const char *verb = kind == S_REDRIVE ? "redrive" : "purge";
    if (count_p)
        *count_p = 0;
    if (!self || !query)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store %s: no store or query",
                              verb);
    if (self->readonly)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store %s: opened read-only, cannot %s", self->path, verb);
    cab_delivery_query_t dead = *query;
    dead.state = CAB_DELIVERY_DEAD;
    dead.with_text = false;
    query = &dead;
    cab_status_t status = s_check_query (query, error);
    if (status != CAB_OK)
        return status;
    int rc;
    sqlite3_stmt *stmt = s_query_stmt (self, kind, query, CAB_DELIVERY_DEAD, &rc);
    if (!stmt)
        return cabi_store_unavailable (self, rc, "cannot prepare", error);
    char *ids = NULL;
    if (!s_bind_query (stmt, query, now_ms, &ids)) {
        s_done (stmt, &ids);
        return s_nomem (self, error);
    }
    const char *what = "cannot begin a transaction";
    int64_t changed = 0;
    rc = cabi_store_begin (self);
    if (rc == SQLITE_OK) {
        what = kind == S_REDRIVE ? "cannot redrive" : "cannot purge";
        rc = sqlite3_step (stmt);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        changed = sqlite3_changes (self->db);
    }
    s_done (stmt, &ids);
    if (rc == SQLITE_OK && kind == S_REDRIVE && changed > 0)
        rc = cabi_store_redrive_mirror (self);
    if (rc == SQLITE_OK && changed > 0)
        rc = cabi_store_delivery_floor (self);
    if (rc == SQLITE_OK) {
        what = "cannot commit";
        rc = cabi_store_commit (self);
    }
    if (rc == SQLITE_OK) {
        if (count_p)
            *count_p = changed;
        return CAB_OK;
    }
    status = cabi_store_unavailable (self, rc, what, error);
    cabi_store_rollback (self);
    return status;
}

cab_status_t
cab_store_redrive (cab_store_t *self, const cab_delivery_query_t *query, int64_t now_ms,
                   int64_t *count_p, cab_error_t *error)
{
    return s_change_dead (self, S_REDRIVE, query, now_ms, count_p, error);
}

cab_status_t
cab_store_purge (cab_store_t *self, const cab_delivery_query_t *query, int64_t *count_p,
                 cab_error_t *error)
{
    return s_change_dead (self, S_PURGE, query, 0, count_p, error);
}
