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

#ifdef __cplusplus
}
#endif

#endif
