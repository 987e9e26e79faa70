/*  =========================================================================
    dash - the dashboard's private classes (cabruca-dashboard)

    dash_store: a READ-ONLY SQLite connection on the event store with the
    dashboard's prepared statements (one handle per thread).
    dash_api:   the JSON API: routes, parameter checks, answers.
    dash_http:  the libmicrohttpd server: limits, token, static files, the
                live stream.
    dash_poll:  a thread asking the broker and the supervisor, and caching
                their answers (the API never waits for them).
    dash_system: the API's budget, mirror, agents and supervisor answers.
    See docs/dashboard.md.
    =========================================================================
*/
#ifndef DASH_H_INCLUDED
#define DASH_H_INCLUDED

#include "cabruca.h"
#include "cab_store_delivery.h"
#include "cab_store_mirror.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _dash_store_t dash_store_t;
typedef struct _dash_http_t dash_http_t;
typedef struct _dash_stats_cache_t dash_stats_cache_t;
typedef struct _dash_poll_t dash_poll_t;

//  Most events one /api/events page may return, and the default.
#define DASH_LIMIT_MAX     1000
#define DASH_LIMIT_DEFAULT 100
//  Most rows a pattern or free-text filtered page examines before it
//  returns what it has with a next_cursor (so that a rare match never
//  scans a million rows in one request).
#define DASH_SCAN_MAX 10000
//  Deepest correlation chain followed each way, and most events in it.
#define DASH_CHAIN_DEPTH 50
#define DASH_CHAIN_MAX   500
//  Most groups (source x agent x hour) the stats aggregate.
#define DASH_STATS_GROUPS_MAX 20000

//  Filters of an event page. Zero it; NULL / 0 do not filter.
typedef struct {
    const char *source;
    const char *detail_type;
    const char *correlation_id;
    const char *text;          //  free text: the event's JSON text contains it
    int64_t from_ms, to_ms;    //  time range, inclusive (0: open)
    int64_t before_seq;        //  cursor: seq < before_seq (0: from the newest)
    size_t limit;              //  1 .. DASH_LIMIT_MAX
    cab_pattern_t *pattern;    //  borrowed, or NULL
} dash_query_t;

//  Open the store at path read-only (SQLITE_OPEN_READONLY, busy_timeout).
//  Returns NULL and fills error (CAB_ERR_STORE_UNAVAILABLE, CAB_ERR_IO).
//  Caller owns the return value and must destroy it.
dash_store_t *
    dash_store_new (const char *path, cab_error_t *error);

//  Close the store and null the pointer; safe on NULL.
void
    dash_store_destroy (dash_store_t **self_p);

//  Append to events (a JSON array, borrowed) at most query->limit events,
//  newest first; set *next_p to the cursor seq of the next page (0: no
//  more). Returns CAB_OK or CAB_ERR_STORE_UNAVAILABLE, CAB_ERR_NOMEM.
cab_status_t
    dash_store_events (dash_store_t *self, const dash_query_t *query, json_t *events,
                       int64_t *next_p, cab_error_t *error);

//  Return one event by id as a new JSON object (with its deliveries), or
//  NULL: *status_p = CAB_ERR_NOT_FOUND or another error.
json_t *
    dash_store_event (dash_store_t *self, const char *id, cab_status_t *status_p);

//  Return the correlation chain of the event id as a new JSON object, or
//  NULL with *status_p as dash_store_event.
json_t *
    dash_store_chain (dash_store_t *self, const char *id, cab_status_t *status_p);

//  Return the stats as a new JSON object (now_ms: the time they are for), or
//  NULL when the store cannot be read.
json_t *
    dash_store_stats (dash_store_t *self, int64_t now_ms);

//  Return the store's SQLite connection (borrowed; for dash_stats.c, which
//  prepares its own statements on it).
struct sqlite3 *
    dash_store_db (dash_store_t *self);

//  Append to rows (a JSON array, borrowed) the events with seq > after,
//  ascending, at most limit; set *last_p to the highest seq appended (left
//  alone when none). Returns CAB_OK or CAB_ERR_STORE_UNAVAILABLE.
cab_status_t
    dash_store_since (dash_store_t *self, int64_t after, size_t limit, json_t *rows,
                      int64_t *last_p);

//  Return the store's stats aggregate slot (borrowed; dash_stats.c fills
//  it, dash_store_destroy frees it).
dash_stats_cache_t **
    dash_store_stats_cache (dash_store_t *self);

//  Free a stats aggregate and null the pointer; safe on NULL.
void
    dash_stats_cache_destroy (dash_stats_cache_t **self_p);

//  Return the highest seq stored, or -1.
int64_t
    dash_store_last_seq (dash_store_t *self);

//  Return a stored event row as a new JSON object {"seq", "received",
//  "event"} (internal to dash_store; shared by the stream).
json_t *
    dash_store_row_json (int64_t seq, int64_t received_ms, const char *text, size_t length);

//  Format ms since the epoch as ISO 8601 UTC ("2026-01-02T03:04:05.678Z")
//  into buffer (at least 32 bytes).
void
    dash_iso8601 (int64_t ms, char *buffer, size_t size);

//  Parse an ISO 8601 date-time (YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm),
//  or a date YYYY-MM-DD) into ms since the epoch. Returns 0 or -1.
int
    dash_parse_iso8601 (const char *text, int64_t *ms_p);

//  What the poller asks, one cached answer each.
typedef enum {
    DASH_POLL_STATUS = 0,      //  the broker's STATUS-REPLY
    DASH_POLL_BUDGET,          //  CONTROL {"op":"budget"}
    DASH_POLL_MIRROR,          //  CONTROL {"op":"mirror-status"}
    DASH_POLL_SUPERVISOR,      //  the supervisor's "status"
    DASH_POLL_MIRROR_STORE,    //  cab_store_mirror_stats (while the broker does not answer)
    DASH_POLL_COUNT_
} dash_poll_member_t;

//  Default and bounds of the poll interval (configuration "poll_ms").
#define DASH_POLL_DEFAULT_MS 1500
#define DASH_POLL_MIN_MS     200
#define DASH_POLL_MAX_MS     60000

//  The poller's configuration (strings copied).
typedef struct {
    const char *broker;        //  endpoint, or NULL: not asked
    const char *curve_cert;    //  CURVE: the client's secret certificate, or NULL
    const char *server_cert;   //  CURVE: the broker's public certificate
    const char *supervisor;    //  control endpoint, or NULL: not asked
    const char *store_path;    //  the store (the mirror's figures when the broker is silent)
    int interval_ms;           //  0: DASH_POLL_DEFAULT_MS
    int timeout_ms;            //  each question; 0: 1000
} dash_poll_config_t;

//  Start the poller thread. Returns NULL and fills error.
dash_poll_t *
    dash_poll_new (const dash_poll_config_t *config, cab_error_t *error);

//  Stop the thread (within one question's timeout) and null the pointer;
//  safe on NULL.
void
    dash_poll_destroy (dash_poll_t **self_p);

//  A new JSON object: the member's last answer with "available": true,
//  "age_ms" and "updated"; or {"available": false, "error", "last_answer"?}
//  when the last question failed or none was answered yet. NULL when out
//  of memory. Thread-safe.
json_t *
    dash_poll_get (dash_poll_t *self, dash_poll_member_t member);

//  What an API request may use (borrowed; requests are served one at a time).
typedef struct {
    dash_store_t *store;
    dash_poll_t *poll;          //  or NULL
    cab_store_t *mirror_store;  //  read-only, opened on first use (cab_store_mirror_get)
    int64_t mirror_store_tried_ms;
    const char *store_path;
} dash_ctx_t;

//  The API. Answer a GET of path with the query arguments args (a JSON
//  object name -> string, borrowed; already checked: valid UTF-8, no NUL,
//  no name twice): sets *status_code and returns the new JSON body.
json_t *
    dash_api_answer (dash_ctx_t *ctx, const char *path, json_t *args, unsigned *status_code);

//  /api/budget, /api/mirror, /api/agents, /api/supervisor from the poller's
//  cache: a new JSON body (never NULL unless out of memory). name is the
//  path after "/api/"; returns NULL for another name.
json_t *
    dash_system_answer (dash_ctx_t *ctx, const char *name);

//  Add to a /api/stats answer (borrowed) the members "nacks", "mirror",
//  "budget", "agents" from the poller's cache.
void
    dash_system_stats (dash_ctx_t *ctx, json_t *stats);

//  The mirror status of the stored event seq (a new JSON object):
//  cab_store_mirror_get's, or {"state": "unknown", "error"}.
json_t *
    dash_system_event_mirror (dash_ctx_t *ctx, int64_t seq);

//  Parse the stream's arguments (pattern, source, detail_type, after):
//  on success returns NULL and sets *pattern_p (new or NULL), *after_p (a
//  seq, or -1: from the newest); otherwise returns the new 400 body.
json_t *
    dash_api_stream_args (json_t *args, cab_pattern_t **pattern_p, int64_t *after_p);

//  A new JSON error body {"error", "message", "parameter"?}.
json_t *
    dash_api_error (const char *error, const char *message, const char *parameter);

//  The server's configuration (all strings borrowed while the server runs).
typedef struct {
    const char *host;          //  numeric IPv4 or IPv6 address to bind
    int port;                  //  0: any free port
    const char *store_path;
    const char *token;         //  bearer token, or NULL
    const char *www_dir;       //  static files
    int max_streams;           //  live streams at once
    dash_poll_config_t poll;   //  the broker and the supervisor (store_path set by dash_http)
} dash_http_config_t;

//  Start the server: bind, listen, serve. Returns NULL and fills error.
dash_http_t *
    dash_http_new (const dash_http_config_t *config, cab_error_t *error);

//  Return the port bound.
int
    dash_http_port (dash_http_t *self);

//  Stop the server (ends streams) and null the pointer; safe on NULL.
void
    dash_http_destroy (dash_http_t **self_p);

#endif
