/*  =========================================================================
    dash_api - the dashboard's JSON API: routes, parameters, answers

    GET /api/events, /api/events/ID, /api/events/ID/chain, /api/stats,
    /api/budget, /api/mirror, /api/agents, /api/supervisor (dash_system.c;
    the live stream /api/stream is served by dash_http; its arguments are
    parsed here). Every parameter is checked before the store is touched: an
    unknown or malformed one is a 400 {"error": "InvalidArgument",
    "message", "parameter"}. See docs/dashboard.md.
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *
dash_api_error (const char *error, const char *message, const char *parameter)
{
    json_t *body = json_pack ("{s:s, s:s}", "error", error, "message", message);
    if (body && parameter)
        json_object_set_new (body, "parameter", json_string (parameter));
    return body;
}

static json_t *
s_invalid (unsigned *status_code, const char *parameter, const char *message)
{
    *status_code = 400;
    return dash_api_error ("InvalidArgument", message, parameter);
}

//  Read exactly count digits at *text into *value.
static int
s_digits (const char **text, int count, int *value)
{
    *value = 0;
    for (int index = 0; index < count; index++) {
        char c = (*text)[index];
        if (c < '0' || c > '9')
            return -1;
        *value = *value * 10 + (c - '0');
    }
    *text += count;
    return 0;
}

int
dash_parse_iso8601 (const char *text, int64_t *ms_p)
{
    int year, month, day, hour = 0, minute = 0, second = 0, millis = 0;
    const char *p = text;
    if (s_digits (&p, 4, &year) || *p++ != '-' || s_digits (&p, 2, &month) || *p++ != '-' ||
        s_digits (&p, 2, &day))
        return -1;
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12 || day < 1 || day > month_days[month - 1])
        return -1;
    int64_t offset_min = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (s_digits (&p, 2, &hour) || *p++ != ':' || s_digits (&p, 2, &minute))
            return -1;
        if (*p == ':') {
            p++;
            if (s_digits (&p, 2, &second))
                return -1;
            if (*p == '.') {
                p++;
                int digits = 0;
                while (*p >= '0' && *p <= '9') {
                    if (digits < 3)
                        millis = millis * 10 + (*p - '0');
                    digits++;
                    p++;
                }
                if (digits == 0 || digits > 9)
                    return -1;
                for (; digits < 3; digits++)
                    millis *= 10;
            }
        }
        if (hour > 23 || minute > 59 || second > 60)
            return -1;
        if (*p == 'Z' || *p == 'z')
            p++;
        else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om;
            if (s_digits (&p, 2, &oh) || *p++ != ':' || s_digits (&p, 2, &om) || oh > 23 || om > 59)
                return -1;
            offset_min = sign * (oh * 60 + om);
        } else
            return -1;
    }
    if (*p != '\0')
        return -1;
    *ms_p = ((cab_time_days_from_civil (year, month, day) * 86400 + hour * 3600 + minute * 60 +
              second - offset_min * 60) *
             1000) +
            millis;
    return 0;
}

//  Check that args holds only names from allowed (NULL-terminated); on an
//  unknown one return its 400 body.
static json_t *
s_check_names (json_t *args, const char *const *allowed, unsigned *status_code)
{
    const char *name;
    json_t *value;
    json_object_foreach (args, name, value)
    {
        size_t index = 0;
        while (allowed[index] && strcmp (allowed[index], name) != 0)
            index++;
        if (!allowed[index])
            return s_invalid (status_code, name, "unknown parameter");
    }
    return NULL;
}

//  Parse a decimal integer in [min, max]; -1 when it is not one.
static int
s_integer (const char *text, int64_t min, int64_t max, int64_t *value_p)
{
    if (!text || !*text || strlen (text) > 20)
        return -1;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    errno = 0;
    char *end = NULL;
    long long value = strtoll (text, &end, 10);
    if (errno || *end || value < min || value > max)
        return -1;
    *value_p = value;
    return 0;
}

//  Compile the pattern parameter (new, or NULL with a 400 body in *bad_p).
static cab_pattern_t *
s_pattern (const char *text, json_t **bad_p, unsigned *status_code)
{
    cab_error_t error;
    cab_error_clear (&error);
    cab_pattern_t *pattern = cab_pattern_new (text, strlen (text), &error);
    if (!pattern) {
        char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 64];
        char formatted[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
        snprintf (message, sizeof message, "not an event pattern: %s [%s]",
                  cab_error_format (&error, formatted, sizeof formatted),
                  cab_status_name (error.code));
        *bad_p = s_invalid (status_code, "pattern", message);
    }
    return pattern;
}

//  Cursor: "s" followed by a seq (opaque to clients).
static int
s_cursor (const char *text, int64_t *seq_p)
{
    return text[0] == 's' && s_integer (text + 1, 1, INT64_MAX / 2, seq_p) == 0 ? 0 : -1;
}

static const char *
s_arg (json_t *args, const char *name)
{
    return json_string_value (json_object_get (args, name));
}

static json_t *
s_events (dash_store_t *store, json_t *args, unsigned *status_code)
{
    static const char *const allowed[] = {
        "pattern",        "source", "detail_type", "from",   "to",
        "correlation_id", "q",      "limit",       "cursor", NULL};
    json_t *bad = s_check_names (args, allowed, status_code);
    if (bad)
        return bad;
    dash_query_t query = {.limit = DASH_LIMIT_DEFAULT};
    const char *text;
    int64_t number;
    if ((text = s_arg (args, "limit"))) {
        if (s_integer (text, 1, DASH_LIMIT_MAX, &number) != 0)
            return s_invalid (status_code, "limit", "limit must be an integer from 1 to 1000");
        query.limit = (size_t)number;
    }
    if ((text = s_arg (args, "cursor")) && s_cursor (text, &query.before_seq) != 0)
        return s_invalid (status_code, "cursor", "not a cursor returned by this API");
    if ((text = s_arg (args, "from")) && dash_parse_iso8601 (text, &query.from_ms) != 0)
        return s_invalid (status_code, "from", "from must be an ISO 8601 date-time");
    if ((text = s_arg (args, "to")) && dash_parse_iso8601 (text, &query.to_ms) != 0)
        return s_invalid (status_code, "to", "to must be an ISO 8601 date-time");
    if (query.from_ms && query.to_ms && query.from_ms > query.to_ms)
        return s_invalid (status_code, "to", "to is before from");
    //  A time exactly at the epoch would read as "no bound": nudge it.
    if (s_arg (args, "from") && query.from_ms == 0)
        query.from_ms = 1;
    static const char *const strings[] = {"source", "detail_type", "correlation_id", "q"};
    const char **fields[] = {&query.source, &query.detail_type, &query.correlation_id, &query.text};
    for (size_t index = 0; index < 4; index++)
        if ((text = s_arg (args, strings[index]))) {
            if (!*text || strlen (text) > 1024)
                return s_invalid (status_code, strings[index], "must be 1 to 1024 bytes of UTF-8");
            *fields[index] = text;
        }
    if ((text = s_arg (args, "pattern"))) {
        query.pattern = s_pattern (text, &bad, status_code);
        if (!query.pattern)
            return bad;
    }
    json_t *events = json_array ();
    int64_t next = 0;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status =
        events ? dash_store_events (store, &query, events, &next, &error) : CAB_ERR_NOMEM;
    cab_pattern_destroy (&query.pattern);
    if (status != CAB_OK) {
        json_decref (events);
        *status_code = 503;
        return dash_api_error (cab_status_name (status), error.text, NULL);
    }
    char cursor[32];
    snprintf (cursor, sizeof cursor, "s%lld", (long long)next);
    *status_code = 200;
    return json_pack ("{s:o, s:s?}", "events", events, "next_cursor", next ? cursor : NULL);
}

json_t *
dash_api_stream_args (json_t *args, cab_pattern_t **pattern_p, int64_t *after_p)
{
    static const char *const allowed[] = {"pattern", "after", NULL};
    unsigned status_code;
    json_t *bad = s_check_names (args, allowed, &status_code);
    *pattern_p = NULL;
    *after_p = -1;
    const char *text;
    if (!bad && (text = s_arg (args, "after")) && s_integer (text, 0, INT64_MAX / 2, after_p) != 0)
        bad = s_invalid (&status_code, "after", "after must be a seq (a non-negative integer)");
    if (!bad && (text = s_arg (args, "pattern")))
        *pattern_p = s_pattern (text, &bad, &status_code);
    return bad;
}

//  /api/events/ID and /api/events/ID/chain.
static json_t *
s_event (dash_ctx_t *ctx, const char *rest, json_t *args, unsigned *status_code)
{
    static const char *const allowed[] = {NULL};
    json_t *bad = s_check_names (args, allowed, status_code);
    if (bad)
        return bad;
    char id[CAB_STORE_ID_MAX + 1];
    const char *slash = strchr (rest, '/');
    size_t length = slash ? (size_t)(slash - rest) : strlen (rest);
    bool chain = slash && strcmp (slash, "/chain") == 0;
    if (slash && !chain) {
        *status_code = 404;
        return dash_api_error ("NotFound", "no such API path", NULL);
    }
    if (length == 0 || length > CAB_STORE_ID_MAX)
        return s_invalid (status_code, "id", "an event id is 1 to 256 bytes");
    memcpy (id, rest, length);
    id[length] = '\0';
    cab_status_t status = CAB_OK;
    json_t *body = chain ? dash_store_chain (ctx->store, id, &status)
                         : dash_store_event (ctx->store, id, &status);
    if (body) {
        if (!chain)
            json_object_set_new (
                body, "mirror",
                dash_system_event_mirror (ctx, json_integer_value (json_object_get (body, "seq"))));
        *status_code = 200;
        return body;
    }
    *status_code = status == CAB_ERR_NOT_FOUND ? 404 : 503;
    return dash_api_error (
        status == CAB_ERR_NOT_FOUND ? "NotFound" : cab_status_name (status),
        status == CAB_ERR_NOT_FOUND ? "no event has this id" : "the store cannot be read", NULL);
}

json_t *
dash_api_answer (dash_ctx_t *ctx, const char *path, json_t *args, unsigned *status_code)
{
    if (strcmp (path, "/api/events") == 0)
        return s_events (ctx->store, args, status_code);
    if (strncmp (path, "/api/events/", 12) == 0)
        return s_event (ctx, path + 12, args, status_code);
    static const char *const none[] = {NULL};
    if (strcmp (path, "/api/stats") == 0) {
        json_t *bad = s_check_names (args, none, status_code);
        if (bad)
            return bad;
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        json_t *stats =
            dash_store_stats (ctx->store, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        *status_code = stats ? 200 : 503;
        if (stats)
            dash_system_stats (ctx, stats);
        return stats ? stats
                     : dash_api_error ("StoreUnavailable", "the store cannot be read", NULL);
    }
    //  The broker's and the supervisor's answers, from the poller's cache:
    //  200 even when they did not answer ("available": false says so).
    static const char *const system[] = {"/api/budget", "/api/mirror", "/api/agents",
                                         "/api/supervisor"};
    for (size_t index = 0; index < sizeof system / sizeof system[0]; index++)
        if (strcmp (path, system[index]) == 0) {
            json_t *bad = s_check_names (args, none, status_code);
            if (bad)
                return bad;
            json_t *body = dash_system_answer (ctx, path + 5);
            *status_code = body ? 200 : 500;
            return body ? body : dash_api_error ("OutOfMemory", "out of memory", NULL);
        }
    *status_code = 404;
    return dash_api_error ("NotFound", "no such API path", NULL);
}
