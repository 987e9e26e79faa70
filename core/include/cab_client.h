/*  =========================================================================
    cab_client - an agent's connection to the broker (protocol CAB/1)

    A client owns one ZeroMQ DEALER socket connected to the broker's ROUTER
    (docs/protocol.md). Publishing is pipelined: up to `window` events are
    in flight, and each ends in exactly one result, an ACK (stored, with its
    sequence number) or a NACK (refused, with a stable cab_status_t code, a
    JSON Pointer and a text), delivered to the result handler from inside
    cab_client_poll, cab_client_flush or a cab_client_publish that waits.

    The client keeps every unacknowledged event. When the session is lost
    (the broker restarted, forgot a silent client, or went quiet past its
    timeout) it reconnects with backoff, says HELLO again and re-sends every
    unacknowledged event with the same id: the broker stores an id once and
    acknowledges a repeat with the original sequence number, so a broker
    restart loses nothing the client handed over.

    A client also consumes: it subscribes to a queue with a delivery
    handler, and the broker's deliveries are handed to that handler while
    the client polls (or waits in any other call), each acknowledged or
    refused by the handler's return value, at least once (a redelivery
    keeps the event id). Subscriptions are sent again after a reconnection.
    Control requests (dead letters, replay) go through the client too. See docs/protocol.md, "Consuming" and "Control".

    A client is not thread-safe: use it from one thread. There is no
    background thread: heartbeats and reconnection happen while the caller
    is inside a cab_client call, and a client that makes no call for longer
    than the broker's timeout simply gets a fresh session next time.
    =========================================================================
*/
#ifndef CAB_CLIENT_H_INCLUDED
#define CAB_CLIENT_H_INCLUDED

#include "cab_status.h"
#include "cab_event.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Broker endpoint used when none is given and $CABRUCA_BROKER is unset.
#define CAB_CLIENT_DEFAULT_ENDPOINT "ipc:///tmp/cabruca-broker.ipc"
//  Default and largest number of events in flight (the broker may lower it
//  in WELCOME).
#define CAB_CLIENT_DEFAULT_WINDOW 1000
#define CAB_CLIENT_MAX_WINDOW     100000

typedef struct _cab_client_t cab_client_t;

//  The outcome of one published event, passed to the result handler. All
//  strings are borrowed, valid only during the call.
typedef struct {
    uint64_t number;        //  The publish number: 1 for the client's first accepted
                            //  cab_client_publish* call, 2 for the next, ...
    const char *event_id;   //  The event's id ("" for a NACKed text whose id is unknown)
    uint64_t seq;           //  ACK: the stored sequence number; NACK: 0
    bool duplicate;         //  ACK: the id was already stored (seq is the original's)
    cab_status_t code;      //  CAB_OK for an ACK, else the NACK's code
    const char *path;       //  NACK: JSON Pointer into the event, "" if none
    const char *text;       //  NACK: readable reason; ACK: ""
} cab_client_result_t;

//  Result handler: called once per published event. It may call
//  cab_client_publish with timeout 0 but no other waiting function.
typedef void (cab_client_result_fn) (const cab_client_result_t *result, void *arg);

//  Create a client and start connecting to `endpoint` (NULL: $CABRUCA_BROKER,
//  else CAB_CLIENT_DEFAULT_ENDPOINT; "ipc://PATH" or "tcp://HOST:PORT") as
//  agent `agent_id` (1-64 of [A-Za-z0-9._-]; NULL for a client that only
//  asks for status). Does not wait for the broker. Returns NULL and fills
//  error (CAB_ERR_INVALID_ARGUMENT, CAB_ERR_IO, CAB_ERR_NOMEM) on failure.
//  Caller owns the return value and must destroy it.
cab_client_t *
    cab_client_new (const char *endpoint, const char *agent_id, cab_error_t *error);

//  Destroy a client and null the pointer; safe on NULL. Events still in
//  flight are abandoned without results: call cab_client_flush first.
void
    cab_client_destroy (cab_client_t **self_p);

//  Connect with CURVE (docs/security.md): client_cert_file is the agent's
//  certificate with its secret key (NAME_secret from `cabruca keys new`;
//  the name NAME finds NAME_secret too), server_cert_file the broker's
//  public certificate. The connection is opened again at once (HELLO sent
//  anew, unacknowledged events re-sent), and every reconnection uses the
//  same keys. The broker admits only certificates it knows, and the agent
//  id must be the one the certificate names. Returns CAB_OK, CAB_ERR_IO (a
//  file cannot be read), CAB_ERR_INVALID_ARGUMENT (not a certificate, no
//  secret key, no CURVE in this ZeroMQ).
cab_status_t
    cab_client_set_curve (cab_client_t *self, const char *client_cert_file,
                          const char *server_cert_file, cab_error_t *error);

//  Set the result handler (NULL: results are dropped) and its argument.
void
    cab_client_set_handler (cab_client_t *self, cab_client_result_fn *handler, void *arg);

//  Set the largest number of events in flight, 1..CAB_CLIENT_MAX_WINDOW
//  (default CAB_CLIENT_DEFAULT_WINDOW). Returns CAB_OK or
//  CAB_ERR_INVALID_ARGUMENT.
cab_status_t
    cab_client_set_window (cab_client_t *self, size_t window);

//  Publish an event (stolen: *event_p is nulled, even on failure). Sets
//  detail.agent_id to the client's agent id when the event has none. When
//  the window is full, handles results for up to timeout_ms (-1: no limit,
//  0: do not wait) until a slot frees. Returns CAB_OK when the event is in
//  flight (its result comes to the handler), CAB_ERR_BUSY when the window
//  stayed full, CAB_ERR_INVALID_ARGUMENT (no agent id), CAB_ERR_NOMEM.
cab_status_t
    cab_client_publish (cab_client_t *self, cab_event_t **event_p, int timeout_ms,
                        cab_error_t *error);

//  Publish raw JSON text of `size` bytes (borrowed; copied), as given, with
//  no check on this side: the broker validates it. Returns as
//  cab_client_publish does.
cab_status_t
    cab_client_publish_text (cab_client_t *self, const char *text, size_t size, int timeout_ms,
                             cab_error_t *error);

//  Publish an event (stolen, nulled) and wait up to timeout_ms (-1: no
//  limit) for its result; the handler is not called for it. Returns CAB_OK
//  and sets *seq_p (may be NULL) on an ACK; on a NACK returns its code with
//  path and text in error; CAB_ERR_TIMEOUT when no result came in time (the
//  event stays in flight and its late result goes to the handler).
cab_status_t
    cab_client_publish_wait (cab_client_t *self, cab_event_t **event_p, int timeout_ms,
                             uint64_t *seq_p, cab_error_t *error);

//  Handle what the broker sent and run the timers (heartbeats,
//  reconnection), waiting up to timeout_ms (-1: no limit) for the first
//  message. Results go to the handler. Returns CAB_OK.
cab_status_t
    cab_client_poll (cab_client_t *self, int timeout_ms);

//  Wait up to timeout_ms (-1: no limit) until no event is in flight.
//  Returns CAB_OK, or CAB_ERR_TIMEOUT with the count left in error.
cab_status_t
    cab_client_flush (cab_client_t *self, int timeout_ms, cab_error_t *error);

//  Ask the broker for its counters (the STATUS message) and wait up to
//  timeout_ms for the answer. Returns CAB_OK and sets *report_p to a new
//  reference the caller must json_decref; or CAB_ERR_TIMEOUT,
//  CAB_ERR_PROTOCOL (an unreadable reply). Results that arrive meanwhile go
//  to the handler.
cab_status_t
    cab_client_status (cab_client_t *self, json_t **report_p, int timeout_ms,
                       cab_error_t *error);

//  ---------------------------------------------------------------------
//  Consuming (docs/protocol.md, "Consuming"): an agent subscribes to a
//  named queue and the broker delivers the events routed to it, at least
//  once. Each delivery is acknowledged (DACK) or refused (DNACK: delivered
//  again later, with backoff) by the handler's return value. Deliveries are
//  handled inside cab_client_poll (and inside any other call that waits:
//  publish with a full window, flush, status, control), one at a time.

//  One delivery, passed to the delivery handler. All pointers are
//  borrowed, valid only during the call.
typedef struct {
    uint64_t delivery;      //  The broker's delivery id (unique; a redelivery keeps it)
    const char *queue;      //  The queue it came from
    int attempt;            //  1 for the first attempt, 2 for the first redelivery, ...
    const char *text;       //  The event's JSON text (or the transformed payload when the
                            //  rule's target has an input transformer), NUL-terminated
    size_t size;            //  Bytes of text
    const char *event_id;   //  The event's top-level "id", "" when the text has none;
                            //  redeliveries and replays carry the same id: consumers
                            //  should be idempotent by event id
} cab_client_delivery_t;

//  Return value of a delivery handler that answers later, with
//  cab_client_settle (for work that outlasts the call).
#define CAB_CLIENT_LATER 0x1a7e
//  Most deliveries a client keeps unanswered after CAB_CLIENT_LATER; past
//  it a LATER is refused at once (DNACK).
#define CAB_CLIENT_LATER_MAX 10000

//  Delivery handler: return 0 to acknowledge (DACK), CAB_CLIENT_LATER to
//  answer later with cab_client_settle, anything else to refuse (DNACK:
//  the broker delivers it again later). It may publish with timeout 0 but
//  call no other waiting function of this client.
typedef int (cab_client_deliver_fn) (cab_client_t *client, const cab_client_delivery_t *delivery,
                                     void *arg);

//  Subscribe to queue (1-64 of [A-Za-z0-9._-]) with options (borrowed, may
//  be NULL): {"max_in_flight": 1..1000 (default 100), "ack_timeout_ms":
//  100..86400000 (how long a delivery may stay unanswered before the
//  broker delivers it again; default the broker's), "pattern": {...}
//  (also route the events matching this EventBridge pattern to the queue,
//  for as long as the session lasts), "durable": false (true: the pattern
//  stays with the broker, across sessions and restarts, until
//  cab_client_unsubscribe)}. A second call for
//  the same queue replaces its handler and options. The subscription is
//  kept by the client and sent again after every reconnection. Waits up to
//  timeout_ms (-1: no limit, 0: do not wait) for the broker's SUBSCRIBED.
//  Returns CAB_OK (subscribed, or the answer is still to come with timeout
//  0), CAB_ERR_INVALID_ARGUMENT (bad queue or options, no agent id, no
//  handler), CAB_ERR_TIMEOUT (no answer yet: the client keeps the
//  subscription and the broker's answer still applies), or the broker's
//  refusal (CAB_ERR_INVALID_PATTERN with the pointer in error,
//  CAB_ERR_INVALID_ARGUMENT, CAB_ERR_BUSY...; then the subscription is
//  dropped), CAB_ERR_NOMEM.
cab_status_t
    cab_client_subscribe (cab_client_t *self, const char *queue, const json_t *options,
                          cab_client_deliver_fn *fn, void *arg, int timeout_ms,
                          cab_error_t *error);

//  Acknowledge (ack true: DACK) or refuse (DNACK) a delivery whose handler
//  returned CAB_CLIENT_LATER. Returns CAB_OK, or CAB_ERR_NOT_FOUND when no
//  such delivery waits for an answer (already settled, or the session it
//  came in has ended: the broker then delivers it again).
cab_status_t
    cab_client_settle (cab_client_t *self, uint64_t delivery, bool ack, cab_error_t *error);

//  End the subscription to queue: the broker stops delivering and puts the
//  deliveries this client has not acknowledged back in the queue; a
//  durable subscription's pattern is dropped. Returns
//  CAB_OK, or CAB_ERR_NOT_FOUND when the client has no such subscription.
cab_status_t
    cab_client_unsubscribe (cab_client_t *self, const char *queue, cab_error_t *error);

//  Send a control request (borrowed JSON object; docs/protocol.md,
//  "Control": dlq-redrive, dlq-purge, replay, replay-status) and wait up to
//  timeout_ms (-1: no limit) for the broker's answer. Needs no agent id and
//  no session. The request is sent once (control operations are not all
//  idempotent). Returns CAB_OK and sets *reply_p to a new reference the
//  caller must json_decref: {"ok": true, ...} or {"ok": false, "code": N,
//  "error": "Name", "message": "..."} (the call itself succeeded). Errors:
//  CAB_ERR_INVALID_ARGUMENT (not an object, over 64 KiB), CAB_ERR_TIMEOUT,
//  CAB_ERR_PROTOCOL (an unreadable reply), CAB_ERR_NOMEM.
cab_status_t
    cab_client_control (cab_client_t *self, const json_t *request, json_t **reply_p,
                        int timeout_ms, cab_error_t *error);

//  Return the number of events published and not yet answered.
size_t
    cab_client_in_flight (cab_client_t *self);

//  Return true while the client has a session (the broker's WELCOME).
bool
    cab_client_connected (cab_client_t *self);

//  Return the number of sessions opened so far (1 after the first WELCOME;
//  each reconnection adds one).
uint64_t
    cab_client_sessions (cab_client_t *self);

//  Return the client's ZeroMQ socket (a czmq zsock_t *), for an event loop
//  (zloop_reader) to watch for input; on input, call cab_client_poll with
//  timeout 0. Borrowed. It changes when the client reconnects (a new
//  socket), so look again after every call into the client; NULL while the
//  client has no socket. cab_agent's run loop does exactly this.
void *
    cab_client_socket (cab_client_t *self);

#ifdef __cplusplus
}
#endif

#endif
