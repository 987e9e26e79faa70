/*  =========================================================================
    cab_store - the durable event store (SQLite, WAL)

    One table, events, keyed by seq (the rowid: appends go to the right edge
    of the table b-tree), with the event id in a unique index and secondary
    indexes by time, by (source, detail_type, time) and by correlation id.
    The store assigns seq itself (last_seq + 1, kept in memory by the single
    writer) so that a duplicate does not consume a number and a rolled-back
    batch gives its numbers back. The schema and its upgrades are in
    cab_store_migrate.c; the design is in docs/architecture.md.
    =========================================================================
*/
#include "cab_store.h"
#include "cab_store_delivery.h"
#include "cab_store_migrate.h"
#include "cab_store_private.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

//  Truncate the WAL back to this size when it restarts, bytes: above the
//  size a broker's log reaches (cab_broker_checkpoint.c restarts it at
//  16,000 pages, about 66 MB), so that the file keeps its blocks from one
//  cycle to the next: an append that allocates blocks waits for the file
//  system's journal, which a checkpoint's sync may be flushing.
#define CAB_STORE_WAL_LIMIT (96 * 1024 * 1024)
//  How long a statement waits for a lock held by another connection, ms.
#define CAB_STORE_BUSY_MS 250

static const char *s_columns =
    "seq, id, source, detail_type, agent_id, correlation_id, time_ms, received_ms, text";

int
cab_store_version (void)
{
    return CABI_STORE_VERSION;
}

static int
s_prepare (cab_store_t *self, const char *sql, sqlite3_stmt **stmt_p)
{
    return sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt_p, NULL);
}

//  Run a pragma or statement whose result we do not need.
static int
s_exec (cab_store_t *self, const char *sql)
{
    return sqlite3_exec (self->db, sql, NULL, NULL, NULL);
}

static int
s_query_int (cab_store_t *self, const char *sql, int64_t *value_p)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW) {
            *value_p = sqlite3_column_int64 (stmt, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize (stmt);
    return rc;
}

//  Open the connection and check it is what we asked for.
static cab_status_t
s_open (cab_store_t *self, int flags, cab_error_t *error)
{
    int rc = sqlite3_open_v2 (self->path, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_NOMEM || !self->db)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
    if (rc != SQLITE_OK)
        return cabi_store_error (self->db, rc, self->path, "cannot open", error);
    sqlite3_extended_result_codes (self->db, 1);
    sqlite3_busy_timeout (self->db, CAB_STORE_BUSY_MS);
    //  SQLite falls back to read-only when the file cannot be written.
    if (!self->readonly && sqlite3_db_readonly (self->db, "main") == 1)
        return cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL,
                              "store %s: cannot open for writing (read-only file or file system)",
                              self->path);
    return CAB_OK;
}

//  After each commit of the write connection: the log's size, and the
//  automatic checkpoint when it is on.
static int
s_wal_hook (void *arg, sqlite3 *db, const char *name, int pages)
{
    cab_store_t *self = (cab_store_t *)arg;
    self->wal_pages = pages;
    if (self->auto_checkpoint && pages >= CAB_STORE_CHECKPOINT_PAGES)
        sqlite3_wal_checkpoint_v2 (db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

//  Journal, durability and cache settings of the write connection.
static cab_status_t
s_tune (cab_store_t *self, cab_store_durability_t durability, cab_error_t *error)
{
    //  journal_mode reads the file header: a non-database fails here.
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step (stmt);
    bool wal = rc == SQLITE_ROW && strcmp ((const char *)sqlite3_column_text (stmt, 0), "wal") == 0;
    sqlite3_finalize (stmt);
    if (rc != SQLITE_ROW)
        return cabi_store_error (self->db, rc, self->path, "cannot set WAL mode", error);
    if (!wal)
        return cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL,
                              "store %s: the file system does not support WAL mode", self->path);
    char sql[512];
    snprintf (sql, sizeof sql,
              "PRAGMA synchronous = %s;"
              "PRAGMA journal_size_limit = %d;"
              "PRAGMA temp_store = MEMORY;"
              "PRAGMA cache_size = -%d;",
              durability == CAB_STORE_FULL ? "FULL" : "NORMAL", CAB_STORE_WAL_LIMIT,
              CAB_STORE_CACHE_KIB);
    rc = s_exec (self, sql);
    if (rc != SQLITE_OK)
        return cabi_store_error (self->db, rc, self->path, "cannot configure", error);
    //  Our WAL hook replaces SQLite's automatic checkpoint (which is one):
    //  it counts the log's pages and checkpoints as SQLite's would.
    self->auto_checkpoint = true;
    sqlite3_wal_hook (self->db, s_wal_hook, self);
    return CAB_OK;
}

static cab_status_t
s_prepare_all (cab_store_t *self, cab_error_t *error)
{
    int rc = s_prepare (self, "SELECT seq, text FROM events WHERE id = ?1", &self->get_id);
    if (rc == SQLITE_OK)
        rc = s_prepare (self, "SELECT text FROM events WHERE seq = ?1", &self->get_seq);
    if (rc == SQLITE_OK && !self->readonly) {
        rc = s_prepare (self, "BEGIN IMMEDIATE", &self->begin);
        if (rc == SQLITE_OK)
            rc = s_prepare (self, "COMMIT", &self->commit);
        if (rc == SQLITE_OK)
            rc = s_prepare (self, "ROLLBACK", &self->rollback);
        if (rc == SQLITE_OK)
            rc = s_prepare (self,
                            "INSERT INTO events (seq, id, time_ms, source, detail_type, agent_id,"
                            " correlation_id, received_ms, text)"
                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                            " ON CONFLICT (id) DO NOTHING",
                            &self->insert);
        if (rc == SQLITE_OK)
            rc = s_prepare (self, "SELECT seq FROM events WHERE id = ?1", &self->lookup);
    }
    if (rc != SQLITE_OK)
        return cabi_store_error (self->db, rc, self->path, "cannot prepare statements", error);
    return CAB_OK;
}

//  The writer's counters: highest seq, event count, highest delivery id.
//  Whoever deletes events or deliveries (retention, purge) records the
//  highest seq / delivery id in meta ('seq_floor', 'delivery_floor'), so
//  that neither is ever given again, even once the newest rows are gone.
static cab_status_t
s_read_counters (cab_store_t *self, cab_error_t *error)
{
    int64_t seq_floor = 0, delivery_floor = 0;
    int rc = s_query_int (self, "SELECT coalesce (max (seq), 0) FROM events", &self->last_seq);
    if (rc == SQLITE_OK)
        rc = s_query_int (self, "SELECT count (*) FROM events", &self->count);
    if (rc == SQLITE_OK)
        rc = s_query_int (self, "SELECT coalesce (max (id), 0) FROM deliveries",
                          &self->last_delivery);
    if (rc == SQLITE_OK)
        rc = s_query_int (self, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq_floor'",
                          &seq_floor);
    if (rc == SQLITE_OK || rc == SQLITE_DONE)
        rc = s_query_int (self,
                          "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'delivery_floor'",
                          &delivery_floor);
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
        return cabi_store_error (self->db, rc, self->path, "cannot read the last seq", error);
    if (seq_floor > self->last_seq)
        self->last_seq = seq_floor;
    if (delivery_floor > self->last_delivery)
        self->last_delivery = delivery_floor;
    return CAB_OK;
}

typedef enum { S_WRITER, S_READER, S_CHECKPOINTER } s_mode_t;

static cab_store_t *
s_new (const char *path, s_mode_t mode, cab_store_durability_t durability, cab_error_t *error)
{
    bool readonly = mode != S_WRITER;
    if (!path || !*path) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store: no path given");
        return NULL;
    }
    if (durability != CAB_STORE_NORMAL && durability != CAB_STORE_FULL) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store %s: unknown durability %d",
                       path, (int)durability);
        return NULL;
    }
    cab_store_t *self = calloc (1, sizeof *self);
    if (self)
        self->path = strdup (path);
    if (!self || !self->path) {
        free (self);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", path);
        return NULL;
    }
    cab_status_t status;
    if (readonly) {
        //  A checkpointer opens read-write (a checkpoint writes the
        //  database file) and is read-only for everything else.
        self->checkpointer = mode == S_CHECKPOINTER;
        self->readonly = !self->checkpointer;  //  s_open checks a checkpointer can write
        status =
            s_open (self, self->checkpointer ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, error);
        self->readonly = true;
        if (status == CAB_OK)
            status = cabi_store_check_version (self->db, self->path, error);
    } else {
        status = s_open (self, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error);
        if (status == CAB_OK)
            status = s_tune (self, durability, error);
        if (status == CAB_OK)
            status = cabi_store_migrate (self->db, self->path, error);
    }
    if (status == CAB_OK)
        status = s_prepare_all (self, error);
    if (status == CAB_OK && !readonly)
        status = s_read_counters (self, error);
    if (status != CAB_OK)
        cab_store_destroy (&self);
    return self;
}

cab_store_t *
cab_store_new (const char *path, cab_store_durability_t durability, cab_error_t *error)
{
    return s_new (path, S_WRITER, durability, error);
}

cab_store_t *
cab_store_new_readonly (const char *path, cab_error_t *error)
{
    return s_new (path, S_READER, CAB_STORE_NORMAL, error);
}

cab_store_t *
cab_store_new_checkpointer (const char *path, cab_error_t *error)
{
    return s_new (path, S_CHECKPOINTER, CAB_STORE_NORMAL, error);
}

void
cab_store_destroy (cab_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_store_t *self = *self_p;
    sqlite3_finalize (self->begin);
    sqlite3_finalize (self->commit);
    sqlite3_finalize (self->rollback);
    sqlite3_finalize (self->insert);
    sqlite3_finalize (self->lookup);
    sqlite3_finalize (self->get_id);
    sqlite3_finalize (self->get_seq);
    cabi_store_finalize_stmts (self);
    sqlite3_close (self->db);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int64_t
cabi_store_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void
cabi_store_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (stmt, index);
}

int
cabi_store_begin (cab_store_t *self)
{
    int rc = sqlite3_step (self->begin);
    sqlite3_reset (self->begin);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int
cabi_store_commit (cab_store_t *self)
{
    int rc = sqlite3_step (self->commit);
    sqlite3_reset (self->commit);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

void
cabi_store_rollback (cab_store_t *self)
{
    if (!sqlite3_get_autocommit (self->db)) {
        sqlite3_step (self->rollback);
        sqlite3_reset (self->rollback);
    }
}

cab_status_t
cabi_store_unavailable (cab_store_t *self, int rc, const char *what, cab_error_t *error)
{
    cabi_store_error (self->db, rc, self->path, what, error);
    if (error)
        error->code = CAB_ERR_STORE_UNAVAILABLE;
    return CAB_ERR_STORE_UNAVAILABLE;
}

cab_status_t
cab_store_append (cab_store_t *self, cab_store_item_t *items, size_t count, cab_error_t *error)
{
    cab_store_batch_t batch = {0};
    batch.items = items;
    batch.item_count = count;
    return cab_store_write (self, &batch, error);
}

//  Copy a text column into a new NUL-terminated buffer.
static cab_status_t
s_copy_text (cab_store_t *self, sqlite3_stmt *stmt, int column, char **text_p, size_t *length_p,
             cab_error_t *error)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    size_t length = (size_t)sqlite3_column_bytes (stmt, column);
    if (!text)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory", self->path);
    if (text_p) {
        *text_p = malloc (length + 1);
        if (!*text_p)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "store %s: out of memory",
                                  self->path);
        memcpy (*text_p, text, length);
        (*text_p)[length] = 0;
    }
    if (length_p)
        *length_p = length;
    return CAB_OK;
}

cab_status_t
cab_store_get (cab_store_t *self, const char *id, char **text_p, size_t *length_p, int64_t *seq_p,
               cab_error_t *error)
{
    if (!self || !id)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store get: no store or id");
    sqlite3_stmt *stmt = self->get_id;
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    cab_status_t status;
    if (rc == SQLITE_ROW) {
        status = s_copy_text (self, stmt, 1, text_p, length_p, error);
        if (status == CAB_OK && seq_p)
            *seq_p = sqlite3_column_int64 (stmt, 0);
    } else if (rc == SQLITE_DONE)
        status =
            cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "store: no event with id %.64s", id);
    else
        status = cabi_store_error (self->db, rc, self->path, "cannot read", error);
    sqlite3_reset (stmt);
    if (status == CAB_ERR_IO && error)
        error->code = CAB_ERR_STORE_UNAVAILABLE;
    return status == CAB_ERR_IO ? CAB_ERR_STORE_UNAVAILABLE : status;
}

cab_status_t
cab_store_get_seq (cab_store_t *self, int64_t seq, char **text_p, size_t *length_p,
                   cab_error_t *error)
{
    if (!self)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "store get: no store");
    sqlite3_stmt *stmt = self->get_seq;
    sqlite3_bind_int64 (stmt, 1, seq);
    int rc = sqlite3_step (stmt);
    cab_status_t status;
    if (rc == SQLITE_ROW)
        status = s_copy_text (self, stmt, 0, text_p, length_p, error);
    else if (rc == SQLITE_DONE)
        status = cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "store: no event with seq %lld",
                                (long long)seq);
    else
        status = cabi_store_error (self->db, rc, self->path, "cannot read", error);
    sqlite3_reset (stmt);
    if (status == CAB_ERR_IO && error)
        error->code = CAB_ERR_STORE_UNAVAILABLE;
    return status == CAB_ERR_IO ? CAB_ERR_STORE_UNAVAILABLE : status;
}

cab_status_t
cab_store_scan_seq (cab_store_t *self, int64_t from_seq, int64_t to_seq, size_t limit,
                    cab_store_fn *fn, void *arg, cab_error_t *error)
{
    cab_store_query_t query = {0};
    query.from_seq = from_seq;
    query.to_seq = to_seq;
    query.limit = limit;
    return cab_store_scan (self, &query, fn, arg, error);
}

cab_status_t
cab_store_scan (cab_store_t *self, const cab_store_query_t *query, cab_store_fn *fn, void *arg,
                cab_error_t *error)
{
    if (!self || !query || !fn)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "store scan: no store, query or callback");
    //  Every filter is a fixed piece of SQL with a numbered parameter: the
    //  query text never contains caller data.
    bool by_time = query->from_ms || query->to_ms;
    const char *order = query->descending ? "DESC" : "ASC";
    char sql[640], order_by[64];
    if (by_time)
        snprintf (order_by, sizeof order_by, "time_ms %s, seq %s", order, order);
    else
        snprintf (order_by, sizeof order_by, "seq %s", order);
    snprintf (sql, sizeof sql, "SELECT %s FROM events WHERE 1%s%s%s%s%s%s%s ORDER BY %s LIMIT ?8",
              s_columns, query->from_seq ? " AND seq >= ?1" : "",
              query->to_seq ? " AND seq <= ?2" : "", query->from_ms ? " AND time_ms >= ?3" : "",
              query->to_ms ? " AND time_ms <= ?4" : "", query->source ? " AND source = ?5" : "",
              query->detail_type ? " AND detail_type = ?6" : "",
              query->correlation_id ? " AND correlation_id = ?7" : "", order_by);
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        cabi_store_error (self->db, rc, self->path, "cannot query", error);
        if (error)
            error->code = CAB_ERR_STORE_UNAVAILABLE;
        return CAB_ERR_STORE_UNAVAILABLE;
    }
    sqlite3_bind_int64 (stmt, 1, query->from_seq);
    sqlite3_bind_int64 (stmt, 2, query->to_seq);
    sqlite3_bind_int64 (stmt, 3, query->from_ms);
    sqlite3_bind_int64 (stmt, 4, query->to_ms);
    cabi_store_bind_text (stmt, 5, query->source);
    cabi_store_bind_text (stmt, 6, query->detail_type);
    cabi_store_bind_text (stmt, 7, query->correlation_id);
    sqlite3_bind_int64 (stmt, 8, query->limit ? (int64_t)query->limit : -1);
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        cab_store_record_t record;
        record.seq = sqlite3_column_int64 (stmt, 0);
        record.id = (const char *)sqlite3_column_text (stmt, 1);
        record.source = (const char *)sqlite3_column_text (stmt, 2);
        record.detail_type = (const char *)sqlite3_column_text (stmt, 3);
        record.agent_id = (const char *)sqlite3_column_text (stmt, 4);
        record.correlation_id = (const char *)sqlite3_column_text (stmt, 5);
        record.time_ms = sqlite3_column_int64 (stmt, 6);
        record.received_ms = sqlite3_column_int64 (stmt, 7);
        record.text = (const char *)sqlite3_column_text (stmt, 8);
        record.length = (size_t)sqlite3_column_bytes (stmt, 8);
        if (!record.id || !record.source || !record.detail_type || !record.text) {
            rc = SQLITE_NOMEM;
            break;
        }
        if (fn (&record, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    cab_status_t status = CAB_OK;
    if (rc != SQLITE_DONE) {
        cabi_store_error (self->db, rc, self->path, "cannot read", error);
        if (error)
            error->code = CAB_ERR_STORE_UNAVAILABLE;
        status = CAB_ERR_STORE_UNAVAILABLE;
    }
    sqlite3_finalize (stmt);
    return status;
}

int64_t
cab_store_count (cab_store_t *self)
{
    if (!self)
        return -1;
    if (!self->readonly)
        return self->count;
    int64_t count = -1;
    if (s_query_int (self, "SELECT count (*) FROM events", &count) != SQLITE_OK)
        return -1;
    return count;
}

int64_t
cab_store_last_seq (cab_store_t *self)
{
    if (!self)
        return -1;
    if (!self->readonly)
        return self->last_seq;
    int64_t seq = -1;
    if (s_query_int (self, "SELECT coalesce (max (seq), 0) FROM events", &seq) != SQLITE_OK)
        return -1;
    return seq;
}

int64_t
cab_store_size_bytes (cab_store_t *self)
{
    if (!self)
        return -1;
    int64_t pages = 0, page_size = 0;
    if (s_query_int (self, "PRAGMA page_count", &pages) != SQLITE_OK ||
        s_query_int (self, "PRAGMA page_size", &page_size) != SQLITE_OK)
        return -1;
    int64_t size = pages * page_size;
    char wal[4096];
    struct stat info;
    if (snprintf (wal, sizeof wal, "%s-wal", self->path) < (int)sizeof wal &&
        stat (wal, &info) == 0)
        size += (int64_t)info.st_size;
    return size;
}

const char *
cab_store_path (cab_store_t *self)
{
    return self ? self->path : NULL;
}

cab_status_t
cab_store_set_cache_size (cab_store_t *self, int64_t kib)
{
    if (!self || kib < 256)
        return CAB_ERR_INVALID_ARGUMENT;
    char sql[64];
    snprintf (sql, sizeof sql, "PRAGMA cache_size = -%lld", (long long)kib);
    return s_exec (self, sql) == SQLITE_OK ? CAB_OK : CAB_ERR_STORE_UNAVAILABLE;
}

cab_status_t
cab_store_set_auto_checkpoint (cab_store_t *self, bool automatic)
{
    if (!self || self->readonly)
        return CAB_ERR_INVALID_ARGUMENT;
    self->auto_checkpoint = automatic;
    return CAB_OK;
}

cab_status_t
cab_store_sync_database (cab_store_t *self, cab_error_t *error)
{
    if (!self || (self->readonly && !self->checkpointer))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_store_sync_database: not a write or checkpointer handle");
    sqlite3_file *file = NULL;
    int rc = sqlite3_file_control (self->db, "main", SQLITE_FCNTL_FILE_POINTER, &file);
    if (rc == SQLITE_OK && file && file->pMethods)
        rc = file->pMethods->xSync (file, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK)
        return cab_error_set (error, CAB_ERR_STORE_UNAVAILABLE, NULL,
                              "store %s: cannot sync the database file (%s)", self->path,
                              sqlite3_errstr (rc));
    return CAB_OK;
}

int64_t
cab_store_wal_pages (cab_store_t *self)
{
    return self ? self->wal_pages : -1;
}

cab_status_t
cab_store_checkpoint (cab_store_t *self, int64_t *log_p, int64_t *done_p, cab_error_t *error)
{
    if (log_p)
        *log_p = 0;
    if (done_p)
        *done_p = 0;
    if (!self || (self->readonly && !self->checkpointer))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "cab_store_checkpoint: not a write or checkpointer handle");
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2 (self->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_BUSY)
        return cab_error_set (error, CAB_ERR_BUSY, NULL, "store %s: another checkpoint is running",
                              self->path);
    if (rc != SQLITE_OK) {
        cabi_store_error (self->db, rc, self->path, "cannot checkpoint", error);
        if (error)
            error->code = CAB_ERR_STORE_UNAVAILABLE;
        return CAB_ERR_STORE_UNAVAILABLE;
    }
    if (log_p)
        *log_p = log;
    if (done_p)
        *done_p = done;
    return CAB_OK;
}
