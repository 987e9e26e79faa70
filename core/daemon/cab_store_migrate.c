/*  =========================================================================
    cab_store_migrate - store schema creation, version check and upgrades

    The store schema is versioned in its meta table (format "cabruca-store",
    schema_version N). A store of version N < current is upgraded by running
    the steps N -> N+1 -> ... in order, in the same transaction as the
    version check, so a crash mid-upgrade leaves the old version intact.

    History:
      1  events (seq, id, time_ms, source, detail_type, text); unique id,
         time index. The first prototype layout.
      2  + agent_id, correlation_id (backfilled from the text), received_ms
         (backfilled with time_ms); indexes by (source, detail_type,
         time_ms) and by correlation_id.
      3  + deliveries (one row per event, rule and target: state PENDING /
         DONE / DEAD, attempts, times, dead-letter queue, last error);
         indexes: pending by next_ms, by seq, dead letters by (dlq,
         updated_ms), DONE by updated_ms (retention, until version 5),
         replays by (replay, state) (live deliveries, replay NULL, are not
         in it).
      4  + outbox (the cloud mirror's pending events: seq, not_before_ms,
         deferred, attempts, error; partial indexes: by not_before_ms of
         the rows not due at once, of the deferred and of the failed
         rows: a new event's row, due at once, is in none) and mirrored
         (what the mirror did with an event: outcome, AWS event id,
         attempts, updated_ms, error); mirror_counts (mirrored rows per
         outcome, kept by triggers on mirrored, so that the figures cost
         no scan); meta key 'budget_state' (the budget's state document)
         is written by the mirror's batches.
      5  - the index of DONE deliveries by updated_ms: nothing reads it
         (DONE deliveries go with their event) and it cost every finished
         delivery an index entry.
    =========================================================================
*/
#include "cab_store_migrate.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAB_STORE_FORMAT "cabruca-store"

//  The deliveries table (version 3). The writer assigns ids itself (max + 1,
//  or past meta 'delivery_floor', which purge and sweep keep up to date),
//  so that an id is never reused, even after the newest delivery was purged
//  or swept: ids are shown to operators and acknowledged by agents.
#define S_DELIVERIES_SQL                                                                           \
    "CREATE TABLE deliveries ("                                                                    \
    "  id INTEGER PRIMARY KEY,"                                                                    \
    "  seq INTEGER NOT NULL,"                                                                      \
    "  rule TEXT NOT NULL,"                                                                        \
    "  target TEXT NOT NULL,"                                                                      \
    "  replay TEXT,"                                                                               \
    "  state INTEGER NOT NULL,"                                                                    \
    "  attempts INTEGER NOT NULL,"                                                                 \
    "  created_ms INTEGER NOT NULL,"                                                               \
    "  next_ms INTEGER NOT NULL,"                                                                  \
    "  updated_ms INTEGER NOT NULL,"                                                               \
    "  dlq TEXT,"                                                                                  \
    "  error TEXT);"                                                                               \
    "CREATE INDEX deliveries_pending ON deliveries (state, next_ms) WHERE state = 0;"              \
    "CREATE INDEX deliveries_seq ON deliveries (seq);"                                             \
    "CREATE INDEX deliveries_dead ON deliveries (dlq, updated_ms) WHERE state = 2;"                \
    "CREATE INDEX deliveries_replay ON deliveries (replay, state) WHERE replay IS NOT NULL;"

//  The mirror tables (version 4, cab_store_mirror.h). Both are keyed by the
//  event's seq; the sweep deletes an event's mirrored row with the event
//  and never deletes an event that still has an outbox row. The triggers
//  keep mirror_counts equal to the mirrored rows per outcome whatever
//  writes or deletes them (outcomes, redrive, sweep); the writer changes
//  an existing mirrored row with an UPDATE (upsert), never with REPLACE,
//  whose implicit delete would not fire the delete trigger.
#define S_MIRROR_SQL                                                                               \
    "CREATE TABLE outbox ("                                                                        \
    "  seq INTEGER PRIMARY KEY,"                                                                   \
    "  not_before_ms INTEGER NOT NULL,"                                                            \
    "  deferred INTEGER NOT NULL,"                                                                 \
    "  attempts INTEGER NOT NULL,"                                                                 \
    "  error TEXT);"                                                                               \
    "CREATE INDEX outbox_due ON outbox (not_before_ms) WHERE not_before_ms > 0;"                   \
    "CREATE INDEX outbox_deferred ON outbox (seq) WHERE deferred <> 0;"                            \
    "CREATE INDEX outbox_failed ON outbox (seq) WHERE attempts > 0;"                               \
    "CREATE TABLE mirrored ("                                                                      \
    "  seq INTEGER PRIMARY KEY,"                                                                   \
    "  outcome INTEGER NOT NULL,"                                                                  \
    "  aws_event_id TEXT,"                                                                         \
    "  attempts INTEGER NOT NULL,"                                                                 \
    "  updated_ms INTEGER NOT NULL,"                                                               \
    "  error TEXT);"                                                                               \
    "CREATE TABLE mirror_counts ("                                                                 \
    "  outcome INTEGER PRIMARY KEY,"                                                               \
    "  count INTEGER NOT NULL);"                                                                   \
    "INSERT INTO mirror_counts VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0);"     \
    "CREATE TRIGGER mirrored_insert AFTER INSERT ON mirrored BEGIN"                                \
    "  UPDATE mirror_counts SET count = count + 1 WHERE outcome = NEW.outcome; END;"               \
    "CREATE TRIGGER mirrored_delete AFTER DELETE ON mirrored BEGIN"                                \
    "  UPDATE mirror_counts SET count = count - 1 WHERE outcome = OLD.outcome; END;"               \
    "CREATE TRIGGER mirrored_update AFTER UPDATE OF outcome ON mirrored BEGIN"                     \
    "  UPDATE mirror_counts SET count = count - 1 WHERE outcome = OLD.outcome;"                    \
    "  UPDATE mirror_counts SET count = count + 1 WHERE outcome = NEW.outcome; END;"

//  The current schema, created in one go in an empty file.
static const char *s_create_sql =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  detail_type TEXT NOT NULL,"
    "  agent_id TEXT,"
    "  correlation_id TEXT,"
    "  received_ms INTEGER NOT NULL,"
    "  text TEXT NOT NULL);"
    "CREATE UNIQUE INDEX events_id ON events (id);"
    "CREATE INDEX events_time ON events (time_ms);"
    "CREATE INDEX events_source_type_time ON events (source, detail_type, time_ms);"
    "CREATE INDEX events_correlation ON events (correlation_id);" S_DELIVERIES_SQL S_MIRROR_SQL
    "INSERT INTO meta (key, value) VALUES ('format', '" CAB_STORE_FORMAT "');";

//  Upgrade steps: steps[i] takes version i+1 to version i+2.
static const char *s_upgrade_sql[] = {
    //  1 -> 2
    "ALTER TABLE events ADD COLUMN agent_id TEXT;"
    "ALTER TABLE events ADD COLUMN correlation_id TEXT;"
    "ALTER TABLE events ADD COLUMN received_ms INTEGER NOT NULL DEFAULT 0;"
    "UPDATE events SET"
    "  agent_id = CASE WHEN json_valid (text)"
    "    AND json_type (text, '$.detail.agent_id') = 'text'"
    "    THEN json_extract (text, '$.detail.agent_id') END,"
    "  correlation_id = CASE WHEN json_valid (text)"
    "    AND json_type (text, '$.detail.correlation_id') = 'text'"
    "    THEN json_extract (text, '$.detail.correlation_id') END,"
    "  received_ms = time_ms;"
    "CREATE INDEX events_source_type_time ON events (source, detail_type, time_ms);"
    "CREATE INDEX events_correlation ON events (correlation_id);",
    //  2 -> 3
    S_DELIVERIES_SQL,
    //  3 -> 4
    S_MIRROR_SQL,
    //  4 -> 5
    "DROP INDEX IF EXISTS deliveries_done;",
};
_Static_assert(sizeof s_upgrade_sql / sizeof s_upgrade_sql[0] == CABI_STORE_VERSION - 1,
               "one upgrade step per older version");

cab_status_t
cabi_store_error (sqlite3 *db, int rc, const char *path, const char *what, cab_error_t *error)
{
    int primary = rc & 0xff;
    cab_status_t code = CAB_ERR_STORE_UNAVAILABLE;
    if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT)
        code = CAB_ERR_IO;
    const char *message = db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);
    if (strcmp (message, sqlite3_errstr (rc)) == 0)
        return cab_error_set (error, code, NULL, "store %s: %s: %s (SQLite code %d)", path, what,
                              message, rc);
    return cab_error_set (error, code, NULL, "store %s: %s: %s (%s)", path, what, message,
                          sqlite3_errstr (rc));
}

//  Run one statement returning one integer column; *value_p unchanged when
//  no row. Returns the SQLite code.
static int
s_query_int (sqlite3 *db, const char *sql, const char *key, int64_t *value_p)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (key)
        sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        *value_p = sqlite3_column_int64 (stmt, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize (stmt);
    return rc;
}

//  Read the format and version of a store. *version_p is 0 for a file with
//  no tables at all (a new store). Returns a cabruca code.
static cab_status_t
s_read_version (sqlite3 *db, const char *path, int64_t *version_p, cab_error_t *error)
{
    int64_t tables = 0, has_meta = 0, formats = 0, version = -1;
    int rc = s_query_int (db, "SELECT count(*) FROM sqlite_master", NULL, &tables);
    if (rc != SQLITE_OK)
        return cabi_store_error (db, rc, path, "cannot read the schema", error);
    if (tables == 0) {
        *version_p = 0;
        return CAB_OK;
    }
    rc = s_query_int (db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                      "meta", &has_meta);
    if (rc == SQLITE_OK && has_meta)
        rc = s_query_int (db, "SELECT count(*) FROM meta WHERE key = 'format' AND value = ?",
                          CAB_STORE_FORMAT, &formats);
    if (rc == SQLITE_OK && formats)
        rc = s_query_int (db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?",
                          "schema_version", &version);
    if (rc != SQLITE_OK)
        return cabi_store_error (db, rc, path, "cannot read the store version", error);
    if (!has_meta || !formats || version < 1)
        return cab_error_set (error, CAB_ERR_IO, NULL,
                              "store %s: an SQLite database, but not a cabruca event store", path);
    *version_p = version;
    return CAB_OK;
}

static cab_status_t
s_newer (const char *path, int64_t version, cab_error_t *error)
{
    return cab_error_set (error, CAB_ERR_UNSUPPORTED_VERSION, NULL,
                          "store %s: schema version %lld is newer than this cabruca's (%d); "
                          "use a newer cabruca",
                          path, (long long)version, CABI_STORE_VERSION);
}

static int
s_exec (sqlite3 *db, const char *sql)
{
    return sqlite3_exec (db, sql, NULL, NULL, NULL);
}

cab_status_t
cabi_store_migrate (sqlite3 *db, const char *path, cab_error_t *error)
{
    int rc = s_exec (db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return cabi_store_error (db, rc, path, "cannot begin the schema transaction", error);
    int64_t version = 0;
    cab_status_t status = s_read_version (db, path, &version, error);
    if (status == CAB_OK && version > CABI_STORE_VERSION)
        status = s_newer (path, version, error);
    bool changed = status == CAB_OK && version != CABI_STORE_VERSION;
    if (status == CAB_OK && version == 0) {
        rc = s_exec (db, s_create_sql);
        if (rc != SQLITE_OK)
            status = cabi_store_error (db, rc, path, "cannot create the store", error);
        version = CABI_STORE_VERSION;
    }
    while (status == CAB_OK && version < CABI_STORE_VERSION) {
        rc = s_exec (db, s_upgrade_sql[version - 1]);
        if (rc != SQLITE_OK) {
            char what[96];
            snprintf (what, sizeof what, "cannot upgrade from version %lld", (long long)version);
            status = cabi_store_error (db, rc, path, what, error);
        }
        version++;
    }
    if (status == CAB_OK && changed) {
        char sql[128];
        snprintf (sql, sizeof sql,
                  "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '%d')",
                  CABI_STORE_VERSION);
        rc = s_exec (db, sql);
        if (rc != SQLITE_OK)
            status = cabi_store_error (db, rc, path, "cannot record the store version", error);
    }
    if (status == CAB_OK) {
        rc = s_exec (db, "COMMIT");
        if (rc != SQLITE_OK)
            status = cabi_store_error (db, rc, path, "cannot commit the schema", error);
    }
    if (status != CAB_OK && !sqlite3_get_autocommit (db))
        s_exec (db, "ROLLBACK");
    return status;
}

cab_status_t
cabi_store_check_version (sqlite3 *db, const char *path, cab_error_t *error)
{
    int64_t version = 0;
    cab_status_t status = s_read_version (db, path, &version, error);
    if (status != CAB_OK)
        return status;
    if (version == 0)
        return cab_error_set (error, CAB_ERR_IO, NULL, "store %s: empty, not a cabruca event store",
                              path);
    if (version > CABI_STORE_VERSION)
        return s_newer (path, version, error);
    if (version < CABI_STORE_VERSION)
        return cab_error_set (error, CAB_ERR_UNSUPPORTED_VERSION, NULL,
                              "store %s: schema version %lld is older than this cabruca's (%d); "
                              "the broker upgrades it when it next opens the store",
                              path, (long long)version, CABI_STORE_VERSION);
    return CAB_OK;
}
