/*  =========================================================================
    cab_budget_state - the budget's saved counters, its report and the
    Budget Threshold event's detail

    The state document (version 1; docs/budget.md):

        {"version": 1,
         "windows": {"hour": MS, "day": MS, "month": MS},     (null: never used)
         "month": {"entries": N, "chunks": N, "matches": N, "cost_pusd": N,
                   "mirrored": N, "bypassed": N, "sample_mirrored": N,
                   "deferred": N, "deferrals": N, "sampled": N, "shed": N},
         "alarm_at": MS|null, "limit_at": MS|null,
         "types": {"monitor": {"hour": N, "day": N, "mirrored": N,
                               "deferred": N, "sampled": N, "shed": N,
                               "hour_alerted": B, "day_alerted": B}, ...}}
    =========================================================================
*/
#include "cab_budget_internal.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

//  The month's counts (cost apart): key and place in cabi_month_t.
static const struct {
    const char *key;
    size_t offset;
} s_month_fields[] = {
    {"entries", offsetof (cabi_month_t, entries)},
    {"chunks", offsetof (cabi_month_t, chunks)},
    {"matches", offsetof (cabi_month_t, matches)},
    {"mirrored", offsetof (cabi_month_t, mirrored)},
    {"bypassed", offsetof (cabi_month_t, bypassed)},
    {"sample_mirrored", offsetof (cabi_month_t, sample_mirrored)},
    {"deferred", offsetof (cabi_month_t, deferred)},
    {"deferrals", offsetof (cabi_month_t, deferrals)},
    {"sampled", offsetof (cabi_month_t, sampled)},
    {"shed", offsetof (cabi_month_t, shed)},
};
#define S_MONTH_FIELD_COUNT (sizeof s_month_fields / sizeof *s_month_fields)

static uint64_t *
s_month_field (cabi_month_t *month, size_t index)
{
    return (uint64_t *)((char *)month + s_month_fields[index].offset);
}

static json_t *
s_count (uint64_t count)
{
    return json_integer (count > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)count);
}

static json_t *
s_ms_or_null (int64_t ms)
{
    return ms == CABI_UNSET ? json_null () : json_integer (ms);
}

static json_t *
s_iso_or_null (int64_t ms)
{
    if (ms == CABI_UNSET)
        return json_null ();
    char buffer[32];
    cabi_budget_iso (ms, buffer, sizeof buffer);
    return json_string (buffer);
}

//  json_object_set_new that remembers a failure and never leaks the value
//  (jansson's set_new frees it on error; a NULL value is an error).
static void
s_set (json_t *object, const char *key, json_t *value, bool *ok)
{
    if (!object) {
        json_decref (value);
        *ok = false;
    } else if (json_object_set_new (object, key, value) != 0)
        *ok = false;
}

json_t *
cab_budget_state_json (cab_budget_t *self)
{
    const cabi_counters_t *counters = &self->counters;
    bool ok = true;
    json_t *state = json_object ();
    s_set (state, "version", json_integer (CAB_BUDGET_STATE_VERSION), &ok);
    json_t *windows = json_object ();
    s_set (windows, "hour", s_ms_or_null (counters->hour_start), &ok);
    s_set (windows, "day", s_ms_or_null (counters->day_start), &ok);
    s_set (windows, "month", s_ms_or_null (counters->month_start), &ok);
    s_set (state, "windows", windows, &ok);
    json_t *month = json_object ();
    for (size_t index = 0; index < S_MONTH_FIELD_COUNT; index++)
        s_set (month, s_month_fields[index].key,
               s_count (*s_month_field (&self->counters.month, index)), &ok);
    s_set (month, "cost_pusd", json_integer (counters->month.cost), &ok);
    s_set (state, "month", month, &ok);
    s_set (state, "alarm_at", s_ms_or_null (counters->alarm_at), &ok);
    s_set (state, "limit_at", s_ms_or_null (counters->limit_at), &ok);
    json_t *types = json_object ();
    for (size_t index = 0; index < counters->type_count; index++) {
        const cabi_type_t *type = &counters->types[index];
        json_t *item = json_object ();
        s_set (item, "hour", s_count (type->hour_used), &ok);
        s_set (item, "day", s_count (type->day_used), &ok);
        s_set (item, "mirrored", s_count (type->mirrored), &ok);
        s_set (item, "deferred", s_count (type->deferred), &ok);
        s_set (item, "sampled", s_count (type->sampled), &ok);
        s_set (item, "shed", s_count (type->shed), &ok);
        s_set (item, "hour_alerted", json_boolean (type->hour_alerted), &ok);
        s_set (item, "day_alerted", json_boolean (type->day_alerted), &ok);
        s_set (types, type->name, item, &ok);
    }
    s_set (state, "types", types, &ok);
    if (!ok)
        json_decref (state);
    return ok ? state : NULL;
}

static cab_status_t
s_corrupt (cab_error_t *error, const char *path, const char *what)
{
    return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, path, "budget state: %s", what);
}

static cab_status_t
s_known_keys (const json_t *object, const char *parent, const char *const *keys, cab_error_t *error)
{
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)object, key, value)
    {
        bool known = false;
        for (const char *const *k = keys; *k && !known; k++)
            known = strcmp (*k, key) == 0;
        if (!known) {
            char path[CAB_ERROR_PATH_MAX];
            snprintf (path, sizeof path, "%s/%s", parent, key);
            return s_corrupt (error, path, "unknown key");
        }
    }
    return CAB_OK;
}

//  A required count (integer >= 0).
static cab_status_t
s_load_count (const json_t *object, const char *key, const char *parent, uint64_t *out,
              cab_error_t *error)
{
    json_t *value = json_object_get (object, key);
    if (!json_is_integer (value) || json_integer_value (value) < 0) {
        char path[CAB_ERROR_PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", parent, key);
        return s_corrupt (error, path, "must be an integer >= 0");
    }
    *out = (uint64_t)json_integer_value (value);
    return CAB_OK;
}

//  A required time in ms, or null.
static cab_status_t
s_load_ms (const json_t *object, const char *key, const char *parent, int64_t *out,
           cab_error_t *error)
{
    json_t *value = json_object_get (object, key);
    char path[CAB_ERROR_PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", parent, key);
    if (json_is_null (value)) {
        *out = CABI_UNSET;
        return CAB_OK;
    }
    int64_t start;
    if (!json_is_integer (value) ||
        cab_budget_month ((int64_t)json_integer_value (value), &start, NULL) != CAB_OK)
        return s_corrupt (error, path, "must be a time in ms from 1970 to 9999, or null");
    *out = (int64_t)json_integer_value (value);
    return CAB_OK;
}

static cab_status_t
s_load_windows (const json_t *windows, cabi_counters_t *counters, cab_error_t *error)
{
    static const char *const keys[] = {"hour", "day", "month", NULL};
    if (!json_is_object (windows))
        return s_corrupt (error, "/windows", "must be an object");
    if (s_known_keys (windows, "/windows", keys, error) != CAB_OK ||
        s_load_ms (windows, "hour", "/windows", &counters->hour_start, error) != CAB_OK ||
        s_load_ms (windows, "day", "/windows", &counters->day_start, error) != CAB_OK ||
        s_load_ms (windows, "month", "/windows", &counters->month_start, error) != CAB_OK)
        return CAB_ERR_INVALID_ARGUMENT;
    bool unset = counters->hour_start == CABI_UNSET;
    if ((counters->day_start == CABI_UNSET) != unset ||
        (counters->month_start == CABI_UNSET) != unset)
        return s_corrupt (error, "/windows", "hour, day and month must all be set or all null");
    if (unset)
        return CAB_OK;
    int64_t month_start;
    cab_budget_month (counters->month_start, &month_start, &counters->month_end);
    if (counters->hour_start % CABI_HOUR_MS != 0)
        return s_corrupt (error, "/windows/hour", "must be the start of a UTC hour");
    if (counters->day_start != counters->hour_start - counters->hour_start % CABI_DAY_MS)
        return s_corrupt (error, "/windows/day", "must be the start of the hour's UTC day");
    if (counters->month_start != month_start || counters->day_start < month_start ||
        counters->day_start >= counters->month_end)
        return s_corrupt (error, "/windows/month", "must be the start of the day's UTC month");
    return CAB_OK;
}

static cab_status_t
s_load_month (const json_t *month, cabi_counters_t *counters, cab_error_t *error)
{
    static const char *const keys[] = {
        "entries",  "chunks",    "matches", "mirrored", "bypassed",  "sample_mirrored",
        "deferred", "deferrals", "sampled", "shed",     "cost_pusd", NULL};
    if (!json_is_object (month))
        return s_corrupt (error, "/month", "must be an object");
    if (s_known_keys (month, "/month", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_ARGUMENT;
    for (size_t index = 0; index < S_MONTH_FIELD_COUNT; index++)
        if (s_load_count (month, s_month_fields[index].key, "/month",
                          s_month_field (&counters->month, index), error) != CAB_OK)
            return CAB_ERR_INVALID_ARGUMENT;
    uint64_t cost;
    if (s_load_count (month, "cost_pusd", "/month", &cost, error) != CAB_OK)
        return CAB_ERR_INVALID_ARGUMENT;
    counters->month.cost = (int64_t)cost;
    return CAB_OK;
}

static cab_status_t
s_load_types (cab_budget_t *self, const json_t *types, cabi_counters_t *counters,
              cab_error_t *error)
{
    static const char *const keys[] = {"hour", "day",          "mirrored",    "deferred", "sampled",
                                       "shed", "hour_alerted", "day_alerted", NULL};
    if (!json_is_object (types) || json_object_size (types) > CAB_BUDGET_TYPES_MAX)
        return s_corrupt (error, "/types", "must be an object of at most 64 agent types");
    const char *name;
    json_t *item;
    json_object_foreach ((json_t *)types, name, item)
    {
        char path[CAB_ERROR_PATH_MAX];
        snprintf (path, sizeof path, "/types/%s", name);
        char checked[CAB_BUDGET_TYPE_NAME_MAX + 1];
        char source[CAB_BUDGET_TYPE_NAME_MAX + 32];
        snprintf (source, sizeof source, "cabruca.agents.%s", name);
        if (strlen (name) > CAB_BUDGET_TYPE_NAME_MAX ||
            strcmp (cab_budget_agent_type (source, checked, sizeof checked), name) != 0)
            return s_corrupt (error, path, "not an agent type name");
        if (!json_is_object (item))
            return s_corrupt (error, path, "must be an object");
        if (s_known_keys (item, path, keys, error) != CAB_OK)
            return CAB_ERR_INVALID_ARGUMENT;
        uint64_t hour, day, mirrored, deferred, sampled, shed;
        if (s_load_count (item, "hour", path, &hour, error) != CAB_OK ||
            s_load_count (item, "day", path, &day, error) != CAB_OK ||
            s_load_count (item, "mirrored", path, &mirrored, error) != CAB_OK ||
            s_load_count (item, "deferred", path, &deferred, error) != CAB_OK ||
            s_load_count (item, "sampled", path, &sampled, error) != CAB_OK ||
            s_load_count (item, "shed", path, &shed, error) != CAB_OK)
            return CAB_ERR_INVALID_ARGUMENT;
        json_t *hour_alerted = json_object_get (item, "hour_alerted");
        json_t *day_alerted = json_object_get (item, "day_alerted");
        if (!json_is_boolean (hour_alerted) || !json_is_boolean (day_alerted)) {
            snprintf (path, sizeof path, "/types/%s/%s", name,
                      json_is_boolean (hour_alerted) ? "day_alerted" : "hour_alerted");
            return s_corrupt (error, path, "must be true or false");
        }
        //  Types past the table fold into "other", so counts add up.
        cabi_type_t *type = &counters->types[cabi_budget_type (self, counters, name)];
        type->hour_used += hour;
        type->day_used += day;
        type->mirrored += mirrored;
        type->deferred += deferred;
        type->sampled += sampled;
        type->shed += shed;
        type->hour_alerted |= json_is_true (hour_alerted);
        type->day_alerted |= json_is_true (day_alerted);
    }
    return CAB_OK;
}

cab_status_t
cab_budget_state_load (cab_budget_t *self, const json_t *state, cab_error_t *error)
{
    static const char *const keys[] = {"version",  "windows", "month", "alarm_at",
                                       "limit_at", "types",   NULL};
    if (!json_is_object (state))
        return s_corrupt (error, "", "must be a JSON object");
    json_t *version = json_object_get (state, "version");
    if (!json_is_integer (version) || json_integer_value (version) != CAB_BUDGET_STATE_VERSION)
        return cab_error_set (error, CAB_ERR_UNSUPPORTED_VERSION, "/version",
                              "budget state version must be %d (this broker cannot read it)",
                              CAB_BUDGET_STATE_VERSION);
    if (s_known_keys (state, "", keys, error) != CAB_OK)
        return CAB_ERR_INVALID_ARGUMENT;
    //  Build the new counters aside: the current types (caps, in-flight
    //  reservations) with their counts zeroed, then the saved counts.
    cabi_counters_t *counters = (cabi_counters_t *)calloc (1, sizeof *counters);
    if (!counters)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    counters->type_count = self->counters.type_count;
    for (size_t index = 0; index < counters->type_count; index++) {
        const cabi_type_t *old = &self->counters.types[index];
        cabi_type_t *type = &counters->types[index];
        snprintf (type->name, sizeof type->name, "%s", old->name);
        type->hour_cap = old->hour_cap;
        type->day_cap = old->day_cap;
        type->reserved = old->reserved;
    }
    cab_status_t status = s_load_windows (json_object_get (state, "windows"), counters, error);
    if (status == CAB_OK)
        status = s_load_month (json_object_get (state, "month"), counters, error);
    if (status == CAB_OK)
        status = s_load_ms (state, "alarm_at", "", &counters->alarm_at, error);
    if (status == CAB_OK)
        status = s_load_ms (state, "limit_at", "", &counters->limit_at, error);
    if (status == CAB_OK)
        status = s_load_types (self, json_object_get (state, "types"), counters, error);
    if (status == CAB_OK && counters->hour_start == CABI_UNSET &&
        (counters->month.entries || counters->month.cost))
        status = s_corrupt (error, "/windows", "counts without windows");
    if (status == CAB_OK)
        self->counters = *counters;
    free (counters);
    return status;
}

//  {"used": N, "cap": N|null}
static json_t *
s_window (uint64_t used, int64_t cap)
{
    return json_pack ("{s:o,s:o}", "used", s_count (used), "cap",
                      cap == CABI_UNCAPPED ? json_null () : json_integer (cap));
}

static const char *
s_policy_name (cab_budget_verdict_t action)
{
    return action == CAB_BUDGET_SAMPLE_SKIP ? "sample"
           : action == CAB_BUDGET_SHED      ? "shed"
                                            : "defer";
}

json_t *
cab_budget_report (cab_budget_t *self, int64_t now_ms)
{
    int64_t start, end;
    if (cab_budget_month (now_ms, &start, &end) != CAB_OK)
        return NULL;
    cabi_budget_roll (self, now_ms);
    const cabi_counters_t *counters = &self->counters;
    const cabi_month_t *month = &counters->month;
    //  Projection: month-to-date cost over the elapsed share of the month,
    //  the elapsed time taken as at least one hour.
    int64_t elapsed = now_ms > counters->month_start ? now_ms - counters->month_start : 0;
    int64_t length = counters->month_end - counters->month_start;
    double fraction = (double)(elapsed > CABI_HOUR_MS ? elapsed : CABI_HOUR_MS) / (double)length;
    if (fraction > 1)
        fraction = 1;
    double cost = cabi_usd (month->cost);
    bool ok = true;
    json_t *report = json_object ();
    s_set (report, "time", s_iso_or_null (now_ms), &ok);
    s_set (report, "month",
           json_pack ("{s:o,s:o,s:f,s:o,s:o,s:o,s:f,s:f,s:f,s:f,s:b}", "start",
                      s_iso_or_null (counters->month_start), "end",
                      s_iso_or_null (counters->month_end), "elapsed_percent",
                      100.0 * (double)elapsed / (double)length, "events", s_count (month->entries),
                      "chunks", s_count (month->chunks), "rule_matches", s_count (month->matches),
                      "cost_usd", cost, "projected_usd", cost / fraction, "budget_usd",
                      self->budget_usd, "used_percent",
                      self->budget ? 100.0 * (double)month->cost / (double)self->budget : 0.0,
                      "over_budget", month->cost >= self->budget && month->cost > 0),
           &ok);
    s_set (report, "threshold",
           json_pack ("{s:f,s:o,s:o}", "alarm_percent", self->alarm_percent, "alarm_at",
                      s_iso_or_null (counters->alarm_at), "limit_at",
                      s_iso_or_null (counters->limit_at)),
           &ok);
    s_set (report, "counts",
           json_pack ("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "mirrored", s_count (month->mirrored),
                      "always_mirror_bypassed", s_count (month->bypassed), "sample_mirrored",
                      s_count (month->sample_mirrored), "deferred", s_count (month->deferred),
                      "deferrals", s_count (month->deferrals), "sampled", s_count (month->sampled),
                      "shed", s_count (month->shed)),
           &ok);
    uint64_t in_flight = 0;
    json_t *types = json_object ();
    for (size_t index = 0; index < counters->type_count; index++) {
        const cabi_type_t *type = &counters->types[index];
        in_flight += type->reserved;
        s_set (types, type->name,
               json_pack ("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "hour",
                          s_window (type->hour_used, type->hour_cap), "day",
                          s_window (type->day_used, type->day_cap), "in_flight",
                          s_count (type->reserved), "mirrored", s_count (type->mirrored),
                          "deferred", s_count (type->deferred), "sampled", s_count (type->sampled),
                          "shed", s_count (type->shed)),
               &ok);
    }
    s_set (report, "windows",
           json_pack ("{s:o,s:o}", "hour_start", s_iso_or_null (counters->hour_start), "day_start",
                      s_iso_or_null (counters->day_start)),
           &ok);
    s_set (report, "agent_types", types, &ok);
    s_set (report, "in_flight",
           json_pack ("{s:o,s:f}", "events", s_count (in_flight), "cost_usd",
                      cabi_usd (self->reserved_cost)),
           &ok);
    s_set (report, "config",
           json_pack ("{s:f,s:f,s:s,s:i,s:i}", "per_million_entries_usd", self->price_entry_usd,
                      "per_million_matches_usd", self->price_match_usd, "default_policy",
                      s_policy_name (self->default_policy.action), "policies",
                      (int)self->policy_count, "always_mirror", (int)self->always_count),
           &ok);
    if (!ok)
        json_decref (report);
    return ok ? report : NULL;
}

json_t *
cab_budget_threshold_detail (cab_budget_t *self, bool limit, const char *agent_id,
                             const char *correlation_id)
{
    char uuid[CAB_UUID_LENGTH + 1];
    if (!agent_id)
        return NULL;
    if (!correlation_id) {
        cab_uuid_v7 (uuid);
        correlation_id = uuid;
    }
    const cabi_counters_t *counters = &self->counters;
    static const char *const actions[] = {"NONE", "DEFER", "SAMPLE", "SHED"};
    json_t *detail =
        json_pack ("{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:s,s:s}", "schema_version", "1.0", "agent_id",
                   agent_id, "correlation_id", correlation_id, "scope", "MONTHLY",
                   "threshold_percent", limit ? 100.0 : self->alarm_percent, "used",
                   cabi_usd (counters->month.cost), "limit", self->budget_usd, "unit", "USD",
                   "action", limit ? actions[self->default_policy.action] : "NONE");
    if (detail && counters->month_start != CABI_UNSET &&
        json_object_set_new (detail, "period_start", s_iso_or_null (counters->month_start)) != 0)
        json_decref (detail), detail = NULL;
    return detail;
}

json_t *
cab_budget_cap_detail (cab_budget_t *self, const cab_budget_decision_t *decision, unsigned cap,
                       const char *agent_id, const char *correlation_id)
{
    if (!decision || !agent_id || !(cap == CAB_BUDGET_LIMIT_HOUR || cap == CAB_BUDGET_LIMIT_DAY) ||
        !(decision->cap_reached & cap))
        return NULL;
    char uuid[CAB_UUID_LENGTH + 1];
    if (!correlation_id) {
        cab_uuid_v7 (uuid);
        correlation_id = uuid;
    }
    const cabi_counters_t *counters = &self->counters;
    size_t index = 0;
    while (index < counters->type_count &&
           strcmp (counters->types[index].name, decision->agent_type) != 0)
        index++;
    if (index == counters->type_count)
        return NULL;
    const cabi_type_t *type = &counters->types[index];
    bool hour = cap == CAB_BUDGET_LIMIT_HOUR;
    int64_t limit = hour ? type->hour_cap : type->day_cap;
    const char *action = decision->action == CAB_BUDGET_DEFER         ? "DEFER"
                         : decision->action == CAB_BUDGET_SHED        ? "SHED"
                         : decision->action == CAB_BUDGET_SAMPLE_SKIP ? "SAMPLE"
                         : decision->sampled                          ? "SAMPLE"
                                                                      : "NONE";
    return json_pack ("{s:s,s:s,s:s,s:s,s:s,s:f,s:o,s:I,s:s,s:o,s:s}", "schema_version", "1.0",
                      "agent_id", agent_id, "correlation_id", correlation_id, "scope",
                      hour ? "HOURLY" : "DAILY", "agent_type", type->name, "threshold_percent",
                      100.0, "used", s_count (hour ? type->hour_used : type->day_used), "limit",
                      (json_int_t)(limit < 0 ? 0 : limit), "unit", "EVENTS", "period_start",
                      s_iso_or_null (hour ? counters->hour_start : counters->day_start), "action",
                      action);
}
