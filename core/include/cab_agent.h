/*  =========================================================================
    cab_agent - the skeleton every cabruca agent runs on

    An agent has an identity (its agent id), a connection to the broker
    (a cab_client: endpoint from the caller, else $CABRUCA_BROKER, else the
    default ipc path), timers, and subscriptions whose handlers acknowledge
    or refuse each delivery by their return value. cab_agent_run drives it
    all until SIGTERM or SIGINT (or cab_agent_stop): it writes the readiness
    line once the broker has welcomed the agent, sends heartbeats, runs the
    timers when due and the handlers as deliveries arrive, and on the way out
    waits (bounded) until every published event is acknowledged.

    Causation: an event published from inside a delivery handler is marked
    as caused by the delivered event (cab_event_set_cause) unless it already
    names a cause, so chains of events can be followed across agents.

    The run loop is a zloop: the agent's timers are zloop timers, the
    client's socket is a zloop reader (followed when the client reconnects
    and makes a new socket), and a 100 ms tick runs the client's own timers
    (heartbeats, reconnection). Logs go to stderr, one line each:
    "2026-11-22T10:00:00.123Z INFO monitor-001: message".

    An agent is used from one thread.
    =========================================================================
*/
#ifndef CAB_AGENT_H_INCLUDED
#define CAB_AGENT_H_INCLUDED

#include "cab_client.h"
#include "cab_event.h"
#include "cab_status.h"
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _cab_agent_t cab_agent_t;

//  Log levels of cab_agent_log, in increasing severity.
typedef enum {
    CAB_LOG_DEBUG = 0,
    CAB_LOG_INFO = 1,
    CAB_LOG_WARNING = 2,
    CAB_LOG_ERROR = 3
} cab_log_level_t;

//  Most timers and subscriptions an agent has.
#define CAB_AGENT_MAX_TIMERS        64
#define CAB_AGENT_MAX_SUBSCRIPTIONS 16

//  Return value of a delivery handler that will acknowledge or refuse the
//  delivery later, with cab_agent_settle (for work that outlasts the call).
#define CAB_AGENT_LATER CAB_CLIENT_LATER

//  Delivery handler. `event` is the delivered event, loaded (borrowed,
//  valid during the call), or NULL when the delivery's text is not an
//  event (the rule's input transformer made something else of it: then
//  use delivery->text). Return 0 to acknowledge, CAB_AGENT_LATER to answer
//  later with cab_agent_settle, anything else to have the broker deliver it
//  again later.
typedef int (cab_agent_handler_fn) (cab_agent_t *agent, cab_event_t *event,
                                    const cab_client_delivery_t *delivery, void *arg);

//  Timer handler. Return 0 to keep the timer, -1 to cancel it.
typedef int (cab_agent_timer_fn) (cab_agent_t *agent, void *arg);

//  Create an agent named agent_id (1-64 of [A-Za-z0-9._-]) connecting to
//  endpoint (NULL: $CABRUCA_BROKER, else CAB_CLIENT_DEFAULT_ENDPOINT), with
//  CURVE when $CABRUCA_CURVE_CERT (the agent's secret certificate) and
//  $CABRUCA_SERVER_CERT (the broker's public one) are set (docs/security.md).
//  Does not wait for the broker. Returns NULL and fills error
//  (CAB_ERR_INVALID_ARGUMENT, CAB_ERR_IO, CAB_ERR_NOMEM). Caller owns the
//  return value and must destroy it.
cab_agent_t *
    cab_agent_new (const char *agent_id, const char *endpoint, cab_error_t *error);

//  Destroy an agent (its connection, timers and subscriptions) and null
//  the pointer; safe on NULL. Call cab_agent_run's drain first (it does
//  that itself when it returns) or unacknowledged events are abandoned.
void
    cab_agent_destroy (cab_agent_t **self_p);

//  Return the agent id. Borrowed, valid while the agent lives.
const char *
    cab_agent_id (cab_agent_t *self);

//  Return the agent's client, for what the agent API does not wrap
//  (status requests, control). Borrowed, valid while the agent lives.
cab_client_t *
    cab_agent_client (cab_agent_t *self);

//  Write the readiness line (a newline, s6 style) to fd once the agent
//  has its first session with the broker; the fd is closed after. -1: no
//  readiness line (the default).
void
    cab_agent_set_notify_fd (cab_agent_t *self, int fd);

//  Log messages at or above level (default CAB_LOG_INFO).
void
    cab_agent_set_log_level (cab_agent_t *self, cab_log_level_t level);

//  Write one log line on stderr: time, level, agent id, the formatted
//  message (control characters replaced by spaces, at most 2,000 bytes).
void
    cab_agent_log (cab_agent_t *self, cab_log_level_t level, const char *format, ...)
        __attribute__ ((format (printf, 3, 4)));

//  Call fn every interval_ms (1 .. 86,400,000) milliseconds, the first time
//  interval_ms after cab_agent_run starts (or after this call, if it is
//  running). Returns a timer id (>= 0) or -1 when the interval is out of
//  range or CAB_AGENT_MAX_TIMERS timers exist.
int
    cab_agent_every (cab_agent_t *self, int64_t interval_ms, cab_agent_timer_fn *fn, void *arg);

//  Cancel a timer by id. Returns CAB_OK or CAB_ERR_NOT_FOUND.
cab_status_t
    cab_agent_cancel (cab_agent_t *self, int timer_id);

//  Subscribe to queue with options (borrowed, may be NULL; see
//  cab_client_subscribe: max_in_flight, pattern, durable). Deliveries go to
//  fn. Does not wait for the broker's answer: a refusal is logged, and the
//  subscription is sent again after every reconnection. Returns CAB_OK,
//  CAB_ERR_INVALID_ARGUMENT (bad queue or options, NULL fn, too many
//  subscriptions), CAB_ERR_NOMEM.
cab_status_t
    cab_agent_subscribe (cab_agent_t *self, const char *queue, const json_t *options,
                         cab_agent_handler_fn *fn, void *arg, cab_error_t *error);

//  Publish an event (stolen: *event_p is nulled, even on failure). The
//  agent id is set when the event has none; inside a delivery handler, the
//  delivered event becomes its cause unless it names one. Waits up to
//  timeout_ms (-1: no limit) for room in the window. Returns CAB_OK when
//  the event is in flight (a NACK for it is logged and counted),
//  CAB_ERR_BUSY when the window stayed full, or the event's own errors
//  (cab_event_check: an envelope the broker would refuse) with the pointer
//  in error.
cab_status_t
    cab_agent_publish (cab_agent_t *self, cab_event_t **event_p, int timeout_ms,
                       cab_error_t *error);

//  Publish count events in order (each stolen and nulled, even on failure),
//  in one go through the window. Stops at the first that cannot be
//  published and destroys the rest; sets *published_p (may be NULL) to how
//  many went. Returns as cab_agent_publish.
cab_status_t
    cab_agent_publish_batch (cab_agent_t *self, cab_event_t **events, size_t count,
                             int timeout_ms, size_t *published_p, cab_error_t *error);

//  Acknowledge (ack true) or refuse a delivery whose handler returned
//  CAB_AGENT_LATER. Returns CAB_OK, or CAB_ERR_NOT_FOUND when no such
//  delivery waits for an answer (already settled, or the session it came in
//  has ended: the broker then delivers it again).
cab_status_t
    cab_agent_settle (cab_agent_t *self, uint64_t delivery, bool ack, cab_error_t *error);

//  Run the agent until SIGTERM or SIGINT, or until cab_agent_stop is
//  called from a handler; then wait up to drain_ms for the acknowledgement
//  of everything published. Returns CAB_OK, or CAB_ERR_TIMEOUT when events
//  were still unacknowledged after drain_ms (they are logged).
cab_status_t
    cab_agent_run (cab_agent_t *self, int drain_ms);

//  Make cab_agent_run return after the current handler.
void
    cab_agent_stop (cab_agent_t *self);

//  What an agent program's command line gives (cab_agent_parse_args).
typedef struct {
    const char *agent_id;       //  --agent-id, else the config's "agent_id", else "TYPE-001"
    const char *endpoint;       //  --broker, else the config file's "broker", else NULL
    const char *config_path;    //  --config FILE, or NULL
    int notify_fd;              //  --notify-fd N, or -1
    cab_log_level_t log_level;  //  --log-level debug|info|warning|error
    json_t *file;               //  The whole config file (owned; NULL without --config)
    json_t *config;             //  The agent's section: file["TYPE"] (borrowed from file),
                                //  or an empty object (owned by the args) without one
} cab_agent_args_t;

//  Parse an agent program's standard options: --config FILE (JSON; the
//  agent's settings are the member named `type`, e.g. "monitor"; the
//  optional top-level "broker" names the endpoint), --agent-id ID,
//  --broker ENDPOINT, --notify-fd N, --log-level LEVEL, --help. `usage` is
//  printed for --help after the standard options. Returns -1 when the
//  program should go on (then release args with cab_agent_args_release),
//  or the exit status main should return: 0 after --help, 2 after a usage
//  or configuration error (a message on stderr).
int
    cab_agent_parse_args (int argc, char **argv, const char *type, const char *usage,
                          cab_agent_args_t *args);

//  Release what cab_agent_parse_args allocated; safe to call twice.
void
    cab_agent_args_release (cab_agent_args_t *args);

//  Create an agent from parsed options: cab_agent_new with the id and
//  endpoint, then the notify fd and log level. Returns as cab_agent_new.
cab_agent_t *
    cab_agent_new_from_args (const cab_agent_args_t *args, cab_error_t *error);

//  Counters: events published, acknowledged, refused (NACKs), deliveries
//  acknowledged and refused by handlers, and timer runs.
typedef struct {
    uint64_t published, acked, nacked;
    uint64_t delivered, refused;
    uint64_t timer_runs;
} cab_agent_stats_t;

//  Return the agent's counters.
cab_agent_stats_t
    cab_agent_stats (cab_agent_t *self);

#ifdef __cplusplus
}
#endif

#endif
