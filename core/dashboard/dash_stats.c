/*  =========================================================================
    dash_stats - /api/stats: volumes, matches per rule, dead-letter depth

    Each statement is prepared when asked for and finalised after: the stats
    run seldom (the page asks every few seconds) and each one is a single
    indexed aggregate. What the store does not record (NACKs, connected
    agents, the budget, the mirror's lag) comes from the broker through the
    poller's cache (dash_system.c), or is said to be unavailable.
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_HOUR_MS 3600000LL
#define S_DAY_MS  86400000LL

//  Add count at [key][bucket] in object (a map of key -> {bucket: count}).
static void
s_add (json_t *object, const char *key, const char *bucket, json_int_t count)
{
    json_t *series = json_object_get (object, key);
    if (!series) {
        series = json_object ();
        json_object_set_new (object, key, series);
    }
    json_t *value = json_object_get (series, bucket);
    json_object_set_new (series, bucket, json_integer (json_integer_value (value) + count));
}

//  A bucket label: the ISO time of the bucket start.
static void
s_label (int64_t ms, char *buffer, size_t size)
{
    dash_iso8601 (ms, buffer, size);
}

//  The volumes are aggregated once (one GROUP BY over the store) and then
//  kept up to date from the new seqs only, so that /api/stats does not
//  read every event of the last 30 days on each call. The aggregate is
//  rebuilt when the oldest seq changes (retention deleted events) and
//  every DASH_STATS_REBUILD_MS.
#define DASH_STATS_REBUILD_MS (10 * 60 * 1000)

struct _dash_stats_cache_t {
    json_t *by_source;  //  {source: {hour number: count}}
    json_t *by_agent;   //  {agent: {hour number: count}}
    int64_t last_seq;   //  aggregated up to this seq
    int64_t first_seq;  //  the oldest seq when built
    int64_t built_ms;
    size_t groups;
    bool truncated;  //  DASH_STATS_GROUPS_MAX reached
    int64_t events;  //  events stored (counted once, then the new ones)
};

void
dash_stats_cache_destroy (dash_stats_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_decref ((*self_p)->by_source);
    json_decref ((*self_p)->by_agent);
    free (*self_p);
    *self_p = NULL;
}

//  Add count to map[key][hour].
static void
s_count (dash_stats_cache_t *cache, json_t *map, const char *key, int64_t hour, json_int_t count)
{
    char bucket[24];
    snprintf (bucket, sizeof bucket, "%lld", (long long)hour);
    json_t *series = json_object_get (map, key);
    if (!series) {
        series = json_object ();
        json_object_set_new (map, key, series);
    }
    json_t *value = json_object_get (series, bucket);
    if (!value)
        cache->groups++;
    json_object_set_new (series, bucket, json_integer (json_integer_value (value) + count));
}

static int64_t
s_scalar (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t value = -1;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step (stmt) == SQLITE_ROW)
        value = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return value;
}

//  Bring the aggregate up to date (inside the caller's read transaction).
static int
s_refresh (sqlite3 *db, dash_stats_cache_t **cache_p, int64_t now_ms, int64_t clock_ms)
{
    int64_t first = s_scalar (db, "SELECT coalesce (min (seq), 0) FROM events");
    int64_t last = s_scalar (db, "SELECT coalesce (max (seq), 0) FROM events");
    if (first < 0 || last < 0)
        return -1;
    dash_stats_cache_t *cache = *cache_p;
    bool rebuild = !cache || cache->first_seq != first ||
                   clock_ms - cache->built_ms > DASH_STATS_REBUILD_MS || last < cache->last_seq;
    sqlite3_stmt *stmt = NULL;
    int rc = SQLITE_OK;
    if (rebuild) {
        dash_stats_cache_destroy (cache_p);
        cache = calloc (1, sizeof *cache);
        if (!cache)
            return -1;
        cache->by_source = json_object ();
        cache->by_agent = json_object ();
        cache->first_seq = first;
        cache->built_ms = clock_ms;
        *cache_p = cache;
        cache->events = s_scalar (db, "SELECT count (*) FROM events");
        if (cache->events < 0)
            rc = SQLITE_ERROR;
        //  Per source: the (source, detail_type, time_ms) index holds all
        //  it needs (no table row is read). Per agent: the last 48 h only,
        //  by the time index (agent_id is in the table rows).
        static const char *const sql[] = {
            "SELECT source, time_ms / 3600000, count (*) FROM events"
            " INDEXED BY events_source_type_time WHERE seq <= ?1 AND time_ms >= ?2"
            " GROUP BY 1, 2",
            "SELECT coalesce (agent_id, '(none)'), time_ms / 3600000, count (*) FROM events"
            " WHERE seq <= ?1 AND time_ms >= ?3 GROUP BY 1, 2"};
        for (int pass = 0; pass < 2 && rc == SQLITE_OK; pass++) {
            rc = sqlite3_prepare_v2 (db, sql[pass], -1, &stmt, NULL);
            if (rc != SQLITE_OK)
                break;
            sqlite3_bind_int64 (stmt, 1, last);
            sqlite3_bind_int64 (stmt, 2, (now_ms / S_DAY_MS - 29) * S_DAY_MS);
            sqlite3_bind_int64 (stmt, 3, (now_ms / S_HOUR_MS - 47) * S_HOUR_MS);
            while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
                const char *key = (const char *)sqlite3_column_text (stmt, 0);
                if (cache->groups < DASH_STATS_GROUPS_MAX)
                    s_count (cache, pass ? cache->by_agent : cache->by_source, key ? key : "",
                             sqlite3_column_int64 (stmt, 1), sqlite3_column_int64 (stmt, 2));
                else
                    cache->truncated = true;
            }
            sqlite3_finalize (stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
    } else {
        //  New events since the last call: read by seq (the newest pages).
        rc = sqlite3_prepare_v2 (db,
                                 "SELECT source, coalesce (agent_id, '(none)'), time_ms / 3600000"
                                 " FROM events WHERE seq > ?2 AND seq <= ?1",
                                 -1, &stmt, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64 (stmt, 1, last);
            sqlite3_bind_int64 (stmt, 2, cache->last_seq);
            while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
                if (cache->groups >= DASH_STATS_GROUPS_MAX) {
                    cache->truncated = true;
                    cache->events++;
                    continue;
                }
                const char *source = (const char *)sqlite3_column_text (stmt, 0);
                const char *agent = (const char *)sqlite3_column_text (stmt, 1);
                int64_t hour = sqlite3_column_int64 (stmt, 2);
                cache->events++;
                s_count (cache, cache->by_source, source ? source : "", hour, 1);
                s_count (cache, cache->by_agent, agent ? agent : "", hour, 1);
            }
            sqlite3_finalize (stmt);
            rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
    }
    if (rc != SQLITE_OK) {
        dash_stats_cache_destroy (cache_p);
        return -1;
    }
    cache->last_seq = last;
    return 0;
}

static int
s_volumes (sqlite3 *db, dash_stats_cache_t **cache_p, int64_t now_ms, int64_t clock_ms,
           json_t *answer)
{
    if (s_refresh (db, cache_p, now_ms, clock_ms) != 0)
        return -1;
    dash_stats_cache_t *cache = *cache_p;
    json_object_set_new (answer, "events", json_integer (cache->events));
    json_object_set_new (answer, "last_seq", json_integer (cache->last_seq));
    int64_t hour_from = now_ms / S_HOUR_MS - 47;
    int64_t day_from = (now_ms / S_DAY_MS - 29) * S_DAY_MS;
    json_t *hourly = json_object (), *daily = json_object (), *agents = json_object ();
    json_t *totals = json_object ();
    char label[40];
    const char *key, *bucket;
    json_t *series, *value;
    json_object_foreach (cache->by_source, key, series)
    {
        json_object_foreach (series, bucket, value)
        {
            int64_t hour = strtoll (bucket, NULL, 10);
            json_int_t count = json_integer_value (value);
            if (hour * S_HOUR_MS < day_from)
                continue;
            if (hour >= hour_from) {
                s_label (hour * S_HOUR_MS, label, sizeof label);
                s_add (hourly, key, label, count);
            }
            s_label (hour * S_HOUR_MS / S_DAY_MS * S_DAY_MS, label, sizeof label);
            label[10] = '\0';
            s_add (daily, key, label, count);
            json_object_set_new (
                totals, key,
                json_integer (json_integer_value (json_object_get (totals, key)) + count));
        }
    }
    json_object_foreach (cache->by_agent, key, series)
    {
        json_object_foreach (series, bucket, value)
        {
            int64_t hour = strtoll (bucket, NULL, 10);
            if (hour >= hour_from) {
                s_label (hour * S_HOUR_MS, label, sizeof label);
                s_add (agents, key, label, json_integer_value (value));
            }
        }
    }
    s_label (hour_from * S_HOUR_MS, label, sizeof label);
    json_object_set_new (answer, "hourly",
                         json_pack ("{s:s, s:i, s:o, s:o}", "from", label, "hours", 48, "by_source",
                                    hourly, "by_agent", agents));
    s_label (day_from, label, sizeof label);
    json_object_set_new (answer, "daily",
                         json_pack ("{s:s, s:i, s:o, s:o}", "from", label, "days", 30, "by_source",
                                    daily, "totals", totals));
    json_object_set_new (answer, "groups_truncated", json_boolean (cache->truncated));
    return 0;
}

static int
s_deliveries (sqlite3 *db, json_t *answer)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (db,
                                 "SELECT rule, state, count (*) FROM deliveries"
                                 " WHERE replay IS NULL GROUP BY 1, 2 LIMIT 10000",
                                 -1, &stmt, NULL);
    json_t *rules = json_object ();
    while (rc == SQLITE_OK && stmt && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        const char *rule = (const char *)sqlite3_column_text (stmt, 0);
        json_int_t count = sqlite3_column_int64 (stmt, 2);
        s_add (rules, rule, "matches", count);
        s_add (rules, rule, cab_delivery_state_name (sqlite3_column_int (stmt, 1)), count);
    }
    sqlite3_finalize (stmt);
    json_object_set_new (answer, "rules", rules);
    if (rc != SQLITE_DONE)
        return -1;
    json_t *dlq = json_object ();
    //  The standard, critical and mirror queues are always listed.
    static const char *const queues[] = {"standard", "critical", CAB_MIRROR_DLQ};
    for (size_t index = 0; index < 3; index++)
        json_object_set_new (dlq, queues[index],
                             json_pack ("{s:i, s:n, s:n}", "depth", 0, "oldest", "newest"));
    rc = sqlite3_prepare_v2 (db,
                             "SELECT coalesce (dlq, 'standard'), count (*), min (updated_ms),"
                             " max (updated_ms) FROM deliveries WHERE state = 2 GROUP BY 1"
                             " LIMIT 100",
                             -1, &stmt, NULL);
    char oldest[40], newest[40];
    while (rc == SQLITE_OK && stmt && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        rc = SQLITE_OK;
        dash_iso8601 (sqlite3_column_int64 (stmt, 2), oldest, sizeof oldest);
        dash_iso8601 (sqlite3_column_int64 (stmt, 3), newest, sizeof newest);
        json_object_set_new (dlq, (const char *)sqlite3_column_text (stmt, 0),
                             json_pack ("{s:I, s:s, s:s}", "depth",
                                        (json_int_t)sqlite3_column_int64 (stmt, 1), "oldest",
                                        oldest, "newest", newest));
    }
    sqlite3_finalize (stmt);
    json_object_set_new (answer, "dlq", dlq);
    return rc == SQLITE_DONE ? 0 : -1;
}

json_t *
dash_store_stats (dash_store_t *self, int64_t now_ms)
{
    sqlite3 *db = dash_store_db (self);
    char now[40];
    dash_iso8601 (now_ms, now, sizeof now);
    json_t *answer = json_pack ("{s:s}", "now", now);
    if (!answer)
        return NULL;
    //  Everything from one snapshot.
    sqlite3_exec (db, "BEGIN", NULL, NULL, NULL);
    struct timespec clock;
    clock_gettime (CLOCK_MONOTONIC, &clock);
    int64_t clock_ms = (int64_t)clock.tv_sec * 1000 + clock.tv_nsec / 1000000;
    int failed = s_volumes (db, dash_store_stats_cache (self), now_ms, clock_ms, answer) != 0 ||
                 s_deliveries (db, answer) != 0;
    sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
    if (failed) {
        json_decref (answer);
        return NULL;
    }
    return answer;
}
