/*  =========================================================================
    dash_store - the dashboard's read-only view of the event store

    Its own SQLite connection, opened with SQLITE_OPEN_READONLY (the broker
    owns the only write connection; WAL lets both run at once), a busy
    timeout, and prepared statements only: every value from a request is
    bound, never pasted into SQL. The /api/events statement is composed from
    constant fragments (one per filter present) and cached per combination.
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

//  Filters of the events statement, one bit each.
enum {
    S_F_SOURCE = 1,
    S_F_TYPE = 2,
    S_F_CORRELATION = 4,
    S_F_TEXT = 8,
    S_F_FROM = 16,
    S_F_TO = 32,
    S_F_BEFORE = 64,
    S_F_COUNT = 128
};

struct _dash_store_t {
    sqlite3 *db;
    sqlite3_stmt *events[S_F_COUNT];  //  by filter mask, prepared on first use
    sqlite3_stmt *by_id;
    sqlite3_stmt *deliveries;
    sqlite3_stmt *children_corr;
    sqlite3_stmt *children_near;
    sqlite3_stmt *last_seq;
    sqlite3_stmt *since;
    dash_stats_cache_t *stats;  //  dash_stats.c's aggregate
};

#define S_ROW_COLUMNS "seq, id, time_ms, received_ms, text"

dash_store_t *
dash_store_new (const char *path, cab_error_t *error)
{
    dash_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    int rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout (self->db, 2000);
    //  Reading sqlite_master proves it is a database with our tables.
    sqlite3_stmt *probe = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2 (self->db, "SELECT value FROM meta WHERE key = 'format'", -1,
                                 &probe, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step (probe);
        const unsigned char *format = rc == SQLITE_ROW ? sqlite3_column_text (probe, 0) : NULL;
        rc = format && strcmp ((const char *)format, "cabruca-store") == 0 ? SQLITE_OK
                                                                           : SQLITE_NOTADB;
    }
    sqlite3_finalize (probe);
    const char *sql[][2] = {
        {"SELECT " S_ROW_COLUMNS " FROM events WHERE id = ?1", NULL},
        {"SELECT id, rule, target, replay, state, attempts, created_ms, next_ms, updated_ms, dlq,"
         " error FROM deliveries WHERE seq = ?1 ORDER BY id LIMIT 1000",
         NULL},
        {"SELECT " S_ROW_COLUMNS " FROM events WHERE correlation_id = ?1 AND seq > ?3 AND"
         " CASE WHEN json_valid (text) THEN json_extract (text, '$.detail.causation_id') END = ?2"
         " ORDER BY seq LIMIT ?4",
         NULL},
        {"SELECT " S_ROW_COLUMNS " FROM events WHERE seq > ?3 AND seq <= ?3 + 20000 AND"
         " CASE WHEN json_valid (text) THEN json_extract (text, '$.detail.causation_id') END = ?2"
         " ORDER BY seq LIMIT ?4",
         NULL},
        {"SELECT coalesce (max (seq), 0) FROM events", NULL},
        {"SELECT " S_ROW_COLUMNS " FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2", NULL},
    };
    sqlite3_stmt **targets[] = {&self->by_id,         &self->deliveries, &self->children_corr,
                                &self->children_near, &self->last_seq,   &self->since};
    for (size_t index = 0; rc == SQLITE_OK && index < sizeof targets / sizeof targets[0]; index++)
        rc = sqlite3_prepare_v2 (self->db, sql[index][0], -1, targets[index], NULL);
    if (rc != SQLITE_OK) {
        cab_error_set (error,
                       rc == SQLITE_NOTADB || rc == SQLITE_ERROR ? CAB_ERR_IO
                                                                 : CAB_ERR_STORE_UNAVAILABLE,
                       NULL, "%s: %s", path,
                       rc == SQLITE_NOTADB ? "not a cabruca store" : sqlite3_errmsg (self->db));
        dash_store_destroy (&self);
        return NULL;
    }
    return self;
}

void
dash_store_destroy (dash_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dash_store_t *self = *self_p;
    for (int index = 0; index < S_F_COUNT; index++)
        sqlite3_finalize (self->events[index]);
    sqlite3_finalize (self->by_id);
    sqlite3_finalize (self->deliveries);
    sqlite3_finalize (self->children_corr);
    sqlite3_finalize (self->children_near);
    sqlite3_finalize (self->last_seq);
    sqlite3_finalize (self->since);
    dash_stats_cache_destroy (&self->stats);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

void
dash_iso8601 (int64_t ms, char *buffer, size_t size)
{
    time_t seconds = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r (&seconds, &tm)) {
        snprintf (buffer, size, "%s", "");
        return;
    }
    snprintf (buffer, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)seconds * 1000));
}

json_t *
dash_store_row_json (int64_t seq, int64_t received_ms, const char *text, size_t length)
{
    char received[40];
    dash_iso8601 (received_ms, received, sizeof received);
    json_t *event = json_loadb (text ? text : "", length, JSON_DECODE_ANY, NULL);
    json_t *row = json_pack ("{s:I, s:s}", "seq", (json_int_t)seq, "received", received);
    if (row)
        json_object_set_new (row, event ? "event" : "text",
                             event ? event : json_stringn_nocheck (text ? text : "", length));
    else
        json_decref (event);
    return row;
}

//  The row of an S_ROW_COLUMNS statement as JSON (new).
static json_t *
s_row (sqlite3_stmt *stmt)
{
    const char *text = (const char *)sqlite3_column_text (stmt, 4);
    size_t length = (size_t)sqlite3_column_bytes (stmt, 4);
    return dash_store_row_json (sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 3),
                                text, length);
}

//  The page statement for a filter mask. Two plans, both by seq, newest
//  first:
//  - with a correlation id or a time range, an index finds the seqs (in a
//    subquery that reads the index only, so that only seqs are sorted),
//    then the page's rows are read by seq;
//  - otherwise the table is walked down from the cursor by seq, source and
//    detail-type compared on the way (the unary + keeps SQLite from the
//    source index, which would sort every row of a common source), within
//    a window of DASH_SCAN_MAX seqs (?9): a rare source gives a short page
//    with a next_cursor instead of a scan of the whole store.
static sqlite3_stmt *
s_events_stmt (dash_store_t *self, int mask)
{
    if (self->events[mask])
        return self->events[mask];
    bool indexed = mask & (S_F_CORRELATION | S_F_FROM | S_F_TO);
    static const char *const indexed_clauses[] = {" AND source = ?1",
                                                  " AND detail_type = ?2",
                                                  " AND correlation_id = ?3",
                                                  "",
                                                  " AND time_ms >= ?5",
                                                  " AND time_ms <= ?6",
                                                  " AND seq < ?7"};
    static const char *const walk_clauses[] = {
        " AND +source = ?1", " AND +detail_type = ?2", "", "", "", "", " AND seq < ?7"};
    char sql[1024];
    int used = snprintf (sql, sizeof sql, "%s",
                         indexed ? "SELECT " S_ROW_COLUMNS " FROM events WHERE seq IN"
                                   " (SELECT seq FROM events WHERE 1"
                                 : "SELECT " S_ROW_COLUMNS " FROM events WHERE seq >= ?9");
    for (int bit = 0; bit < 7; bit++)
        if (mask & (1 << bit))
            used += snprintf (sql + used, sizeof sql - (size_t)used, "%s",
                              indexed ? indexed_clauses[bit] : walk_clauses[bit]);
    snprintf (sql + used, sizeof sql - (size_t)used, "%s",
              indexed ? " ORDER BY seq DESC LIMIT ?8) ORDER BY seq DESC"
                      : " ORDER BY seq DESC LIMIT ?8");
    if (sqlite3_prepare_v2 (self->db, sql, -1, &self->events[mask], NULL) != SQLITE_OK)
        self->events[mask] = NULL;
    return self->events[mask];
}

cab_status_t
dash_store_events (dash_store_t *self, const dash_query_t *query, json_t *events, int64_t *next_p,
                   cab_error_t *error)
{
    int mask = (query->source ? S_F_SOURCE : 0) | (query->detail_type ? S_F_TYPE : 0) |
               (query->correlation_id ? S_F_CORRELATION : 0) | (query->from_ms ? S_F_FROM : 0) |
               (query->to_ms ? S_F_TO : 0) | (query->before_seq ? S_F_BEFORE : 0);
    sqlite3_stmt *stmt = s_events_stmt (self, mask);
    if (!stmt)
        return cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL, "%s",
                              sqlite3_errmsg (self->db));
    sqlite3_bind_text (stmt, 1, query->source, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 2, query->detail_type, -1, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 3, query->correlation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, query->from_ms);
    sqlite3_bind_int64 (stmt, 6, query->to_ms);
    sqlite3_bind_int64 (stmt, 7, query->before_seq);
    //  The walk's window: only with a source or detail-type to compare.
    int64_t window = 0;
    if ((mask & (S_F_SOURCE | S_F_TYPE)) && !(mask & (S_F_CORRELATION | S_F_FROM | S_F_TO))) {
        int64_t top = query->before_seq ? query->before_seq : dash_store_last_seq (self) + 1;
        window = top - DASH_SCAN_MAX > 1 ? top - DASH_SCAN_MAX : 0;
    }
    sqlite3_bind_int64 (stmt, 9, window);
    //  One more row than asked tells whether there is a next page; with a
    //  pattern or free text, at most DASH_SCAN_MAX rows are examined.
    bool filtered = query->pattern != NULL || query->text != NULL;
    size_t text_length = query->text ? strlen (query->text) : 0;
    sqlite3_bind_int64 (stmt, 8, filtered ? DASH_SCAN_MAX : (int64_t)query->limit + 1);
    size_t found = 0, scanned = 0;
    int64_t last_seq = 0;
    *next_p = 0;
    cab_status_t status = CAB_OK;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64 (stmt, 0);
        scanned++;
        last_seq = seq;
        if (found == query->limit) {
            *next_p = filtered ? seq + 1 : last_seq + 1;
            break;
        }
        const char *text = (const char *)sqlite3_column_text (stmt, 4);
        size_t length = (size_t)sqlite3_column_bytes (stmt, 4);
        if (query->text && (!text || !memmem (text, length, query->text, text_length)))
            continue;
        if (query->pattern) {
            bool matched = false;
            cab_error_t ignored;
            if (!text ||
                cab_pattern_match (query->pattern, text, length, &matched, &ignored) != CAB_OK ||
                !matched)
                continue;
        }
        json_t *row = s_row (stmt);
        if (!row || json_array_append_new (events, row) != 0) {
            status = cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        found++;
    }
    if (status == CAB_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        status =
            cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL, "%s", sqlite3_errmsg (self->db));
    //  The scan budget ran out before the page filled: go on from there.
    if (status == CAB_OK && filtered && rc == SQLITE_DONE && scanned == DASH_SCAN_MAX &&
        found < query->limit)
        *next_p = last_seq;
    //  The window ended before the page filled: the next page is below it.
    if (status == CAB_OK && rc == SQLITE_DONE && window > 0 && *next_p == 0)
        *next_p = window;
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return status;
}

dash_stats_cache_t **
dash_store_stats_cache (dash_store_t *self)
{
    return &self->stats;
}

struct sqlite3 *
dash_store_db (dash_store_t *self)
{
    return self->db;
}

cab_status_t
dash_store_since (dash_store_t *self, int64_t after, size_t limit, json_t *rows, int64_t *last_p)
{
    sqlite3_bind_int64 (self->since, 1, after);
    sqlite3_bind_int64 (self->since, 2, (int64_t)limit);
    int rc;
    while ((rc = sqlite3_step (self->since)) == SQLITE_ROW) {
        json_t *row = s_row (self->since);
        if (!row || json_array_append_new (rows, row) != 0)
            break;
        *last_p = sqlite3_column_int64 (self->since, 0);
    }
    sqlite3_reset (self->since);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? CAB_OK : CAB_ERR_STORE_UNAVAILABLE;
}

int64_t
dash_store_last_seq (dash_store_t *self)
{
    int64_t seq = -1;
    if (sqlite3_step (self->last_seq) == SQLITE_ROW)
        seq = sqlite3_column_int64 (self->last_seq, 0);
    sqlite3_reset (self->last_seq);
    return seq;
}

//  The event row with this id (new), or NULL (*status_p set).
static json_t *
s_get (dash_store_t *self, const char *id, cab_status_t *status_p)
{
    sqlite3_bind_text (self->by_id, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (self->by_id);
    json_t *row = rc == SQLITE_ROW ? s_row (self->by_id) : NULL;
    *status_p = rc == SQLITE_ROW    ? (row ? CAB_OK : CAB_ERR_NOMEM)
                : rc == SQLITE_DONE ? CAB_ERR_NOT_FOUND
                                    : CAB_ERR_STORE_UNAVAILABLE;
    sqlite3_reset (self->by_id);
    return row;
}

static void
s_set_time (json_t *object, const char *key, int64_t ms)
{
    char text[40];
    dash_iso8601 (ms, text, sizeof text);
    json_object_set_new (object, key, ms ? json_string (text) : json_null ());
}

json_t *
dash_store_event (dash_store_t *self, const char *id, cab_status_t *status_p)
{
    json_t *row = s_get (self, id, status_p);
    if (!row)
        return NULL;
    json_t *deliveries = json_array ();
    sqlite3_stmt *stmt = self->deliveries;
    sqlite3_bind_int64 (stmt, 1, json_integer_value (json_object_get (row, "seq")));
    int rc;
    while (deliveries && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        json_t *item = json_pack (
            "{s:I, s:s, s:s, s:s?, s:s, s:i, s:s?, s:s?}", "id",
            (json_int_t)sqlite3_column_int64 (stmt, 0), "rule", sqlite3_column_text (stmt, 1),
            "target", sqlite3_column_text (stmt, 2), "replay", sqlite3_column_text (stmt, 3),
            "state", cab_delivery_state_name (sqlite3_column_int (stmt, 4)), "attempts",
            sqlite3_column_int (stmt, 5), "dlq", sqlite3_column_text (stmt, 9), "error",
            sqlite3_column_text (stmt, 10));
        if (!item)
            continue;
        s_set_time (item, "created", sqlite3_column_int64 (stmt, 6));
        if (sqlite3_column_int (stmt, 4) == CAB_DELIVERY_PENDING)
            s_set_time (item, "next_attempt", sqlite3_column_int64 (stmt, 7));
        s_set_time (item, "updated", sqlite3_column_int64 (stmt, 8));
        json_array_append_new (deliveries, item);
    }
    sqlite3_reset (stmt);
    json_object_set_new (row, "deliveries", deliveries ? deliveries : json_array ());
    json_object_set_new (row, "matched_rules", json_null ());
    //  Rules matched = the distinct rules of its deliveries.
    json_t *rules = json_array ();
    size_t index;
    json_t *item;
    json_array_foreach (deliveries, index, item)
    {
        json_t *rule = json_object_get (item, "rule");
        bool seen = false;
        for (size_t other = 0; other < json_array_size (rules) && !seen; other++)
            seen = json_equal (json_array_get (rules, other), rule);
        if (!seen)
            json_array_append (rules, rule);
    }
    json_object_set_new (row, "matched_rules", rules);
    //  "mirror" is added by the API (dash_system_event_mirror).
    return row;
}

//  The causation_id of a row's event (borrowed), or NULL.
static const char *
s_causation (json_t *row)
{
    return json_string_value (json_object_get (
        json_object_get (json_object_get (row, "event"), "detail"), "causation_id"));
}

//  A short form of a row for the chain (new).
static json_t *
s_summary (json_t *row, int depth)
{
    json_t *event = json_object_get (row, "event");
    json_t *detail = json_object_get (event, "detail");
    return json_pack (
        "{s:O, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:i}", "seq", json_object_get (row, "seq"), "id",
        json_object_get (event, "id"), "source", json_object_get (event, "source"), "detail_type",
        json_object_get (event, "detail-type"), "time", json_object_get (event, "time"),
        "causation_id", json_object_get (detail, "causation_id"), "correlation_id",
        json_object_get (detail, "correlation_id"), "depth", depth);
}

json_t *
dash_store_chain (dash_store_t *self, const char *id, cab_status_t *status_p)
{
    json_t *root = s_get (self, id, status_p);
    if (!root)
        return NULL;
    json_t *seen = json_object ();  //  ids already in the chain (cycles)
    json_t *causes = json_array ();
    json_t *caused = json_array ();
    json_t *answer = json_pack ("{s:o, s:o, s:o}", "event", s_summary (root, 0), "causes", causes,
                                "caused", caused);
    bool truncated = false;
    json_object_set_new (seen, id, json_true ());
    //  Up: follow causation_id.
    json_t *row = json_incref (root);
    for (int depth = 1; row; depth++) {
        const char *parent = s_causation (row);
        if (!parent || json_object_get (seen, parent)) {
            json_decref (row);
            break;
        }
        if (depth > DASH_CHAIN_DEPTH) {
            truncated = true;
            json_decref (row);
            break;
        }
        json_object_set_new (seen, parent, json_true ());
        cab_status_t status;
        json_t *next = s_get (self, parent, &status);
        if (!next)
            json_array_append_new (
                causes, json_pack ("{s:s, s:b, s:i}", "id", parent, "missing", 1, "depth", -depth));
        else
            json_array_append_new (causes, s_summary (next, -depth));
        json_decref (row);
        row = next;
    }
    //  Down: breadth first, events whose causation_id is a node's id.
    json_t *frontier = json_array ();
    json_array_append (frontier, root);
    for (int depth = 1; json_array_size (frontier) && !truncated; depth++) {
        json_t *next_frontier = json_array ();
        size_t index;
        json_t *node;
        json_array_foreach (frontier, index, node)
        {
            json_t *event = json_object_get (node, "event");
            const char *node_id = json_string_value (json_object_get (event, "id"));
            const char *correlation = json_string_value (
                json_object_get (json_object_get (event, "detail"), "correlation_id"));
            sqlite3_stmt *stmt = correlation ? self->children_corr : self->children_near;
            sqlite3_bind_text (stmt, 1, correlation, -1, SQLITE_STATIC);
            sqlite3_bind_text (stmt, 2, node_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64 (stmt, 3, json_integer_value (json_object_get (node, "seq")));
            sqlite3_bind_int64 (stmt, 4, DASH_CHAIN_MAX);
            while (sqlite3_step (stmt) == SQLITE_ROW) {
                json_t *child = s_row (stmt);
                const char *child_id =
                    json_string_value (json_object_get (json_object_get (child, "event"), "id"));
                if (child_id && !json_object_get (seen, child_id)) {
                    if (depth > DASH_CHAIN_DEPTH || json_array_size (caused) >= DASH_CHAIN_MAX)
                        truncated = true;
                    else {
                        json_object_set_new (seen, child_id, json_true ());
                        json_t *summary = s_summary (child, depth);
                        json_object_set_new (summary, "parent", json_string (node_id));
                        json_array_append_new (caused, summary);
                        json_array_append (next_frontier, child);
                    }
                }
                json_decref (child);
            }
            sqlite3_reset (stmt);
        }
        json_decref (frontier);
        frontier = next_frontier;
    }
    json_decref (frontier);
    json_decref (root);
    json_decref (seen);
    json_object_set_new (answer, "truncated", json_boolean (truncated));
    json_object_set_new (answer, "max_depth", json_integer (DASH_CHAIN_DEPTH));
    *status_p = CAB_OK;
    return answer;
}
