/*  =========================================================================
    cab_mirror - the sending side of the cloud mirror (EventBridge PutEvents)

    The caller (the broker's mirror worker) submits stored events, each with
    its own key (the outbox row id), and calls cab_mirror_run in its loop.
    The mirror packs events into PutEvents requests (cab_putevents: at most
    10 entries, under 256 KB), sends several at once over kept-alive
    connections on one libcurl multi handle, signs them with libcurl's SigV4
    (CURLOPT_AWS_SIGV4 "aws:amz:REGION:events"), and reports the outcome of
    every event exactly once through the result callback:

      ACCEPTED       EventBridge took it; result->event_id is the AWS EventId.
                     Delete it from the outbox and record the EventId.
      DEAD_LETTERED  EventBridge refused it for good (a per-entry error that
                     is not retryable, a ValidationException on it alone);
                     result->error_code says why. Move it to the `mirror`
                     dead-letter queue and delete it from the outbox.
      FAILED         The mirror gave up for now without a verdict: bad
                     credentials or access denied (InvalidSignatureException,
                     UnrecognizedClientException, AccessDeniedException...), or
                     the per-entry attempt limit. Keep it in the outbox; submit
                     it again later (after a config reload, say).
      DRY_RUN        Dry-run mode: what would have been sent (result->batch,
                     result->size). Nothing left the host.

    Retries: per-entry retryable failures (ThrottlingException,
    InternalFailure) are resent individually; throttling, 5xx and network
    errors resend the whole request. Each retry waits a full-jitter backoff
    (uniform in [0, min(cap, base * 2^attempt)]) and takes tokens from a retry
    quota that successes refill; with the quota spent the mirror keeps one
    request in flight and waits the cap between retries, so an outage does not
    spin. Nothing is dropped: an entry is retried until it gets a verdict or
    reaches max_attempts (then FAILED).

    Without credentials (or with dry_run set) the mirror runs in dry-run.

    Threads: a mirror is used by one thread. Callbacks run inside
    cab_mirror_run, on that thread; they must not call back into the mirror
    except cab_mirror_submit.
    =========================================================================
*/
#ifndef CAB_MIRROR_H_INCLUDED
#define CAB_MIRROR_H_INCLUDED

#include "cab_putevents.h"
#include "cabruca.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _cab_mirror_t cab_mirror_t;

//  The outcome of one submitted event (see above).
typedef enum {
    CAB_MIRROR_ACCEPTED = 0,
    CAB_MIRROR_DEAD_LETTERED = 1,
    CAB_MIRROR_FAILED = 2,
    CAB_MIRROR_DRY_RUN = 3
} cab_mirror_outcome_t;

//  A result passed to the callback; every pointer is borrowed, valid only
//  during the callback. Strings are "" when not applicable.
typedef struct {
    int64_t key;                    //  the caller's key from cab_mirror_submit
    cab_mirror_outcome_t outcome;
    const char *event_id;           //  ACCEPTED: the AWS EventId
    const char *error_code;         //  DEAD_LETTERED, FAILED: AWS error name
    const char *error_message;      //  AWS message or a cabruca explanation
    unsigned attempts;              //  requests that carried this event
    size_t size;                    //  entry size (AWS's computation)
    uint64_t batch;                 //  DRY_RUN: 1-based number of its batch
} cab_mirror_result_t;

//  Result callback: called once per submitted event.
typedef void (cab_mirror_result_fn) (void *arg, const cab_mirror_result_t *result);

//  Settings; zero fields take the defaults in brackets.
typedef struct {
    const char *endpoint;       //  URL [cab_aws_endpoint: env, then events.REGION]
    const char *region;         //  signing region [cab_aws_region]
    const char *bus_name;       //  EventBusName ["cabruca-agents-bus"]
    bool dry_run;               //  never send, even with credentials [false]
    size_t max_in_flight;       //  concurrent requests [8]
    size_t max_queue;           //  events queued or in flight [10000]
    unsigned backoff_base_ms;   //  first retry ceiling [100]
    unsigned backoff_cap_ms;    //  largest retry wait [20000]
    unsigned max_attempts;      //  requests per event before FAILED [0 = no limit]
    unsigned retry_quota;       //  retry tokens; 5 per retry, 1 back per success [500]
    long request_timeout_ms;    //  whole request [10000]
    double price_per_million;   //  USD per million 64 KB chunks [1.00]
} cab_mirror_config_t;

//  Counters since the mirror was created.
typedef struct {
    bool dry_run;
    uint64_t submitted;         //  events accepted by cab_mirror_submit
    uint64_t requests;          //  PutEvents requests completed (or dry-run batches)
    uint64_t accepted, dead_lettered, failed, dry_run_events;
    uint64_t retries;           //  entries requeued for another attempt
    uint64_t throttled;         //  throttled requests and entries
    uint64_t server_errors;     //  HTTP 5xx
    uint64_t network_errors;    //  no HTTP answer
    uint64_t auth_errors;       //  signature, credential, access errors
    uint64_t bytes;             //  request body bytes sent (or that would be)
    uint64_t chunks;            //  64 KB chunks accepted (or that would be)
    double cost_usd;            //  chunks * price_per_million / 1e6
    size_t queued, in_flight;   //  events now waiting, requests now open
    unsigned retry_tokens;      //  retry quota left
    char last_error[128];       //  last request-level error code, "" if none
} cab_mirror_stats_t;

//  Create a mirror. Resolves region, endpoint and credentials (see
//  cab_aws_creds.h); when no credentials are found, or config->dry_run is
//  set, the mirror runs in dry-run. `config` may be NULL for all defaults;
//  its strings are copied. `fn` (required) gets every result, with `arg`.
//  Returns NULL and fills error: CAB_ERR_INVALID_CONFIG (credentials but no
//  region, a bad endpoint), CAB_ERR_NOMEM. Caller owns and destroys it.
cab_mirror_t *
    cab_mirror_new (const cab_mirror_config_t *config, cab_mirror_result_fn *fn, void *arg,
                    cab_error_t *error);

//  Destroy a mirror and null the pointer; safe on NULL. Events still queued
//  or in flight get no result (they are still in the caller's outbox).
void
    cab_mirror_destroy (cab_mirror_t **self_p);

//  Queue one stored event (the EventBridge envelope as JSON text of
//  `length` bytes; copied) under the caller's `key`. Its result comes
//  later through the callback. Errors (no result will come): CAB_ERR_BUSY
//  when max_queue events are pending; CAB_ERR_INVALID_JSON,
//  CAB_ERR_INVALID_ENVELOPE, CAB_ERR_TOO_LARGE when the event cannot be a
//  PutEvents entry (the caller dead-letters it); CAB_ERR_NOMEM.
cab_status_t
    cab_mirror_submit (cab_mirror_t *self, int64_t key, const char *event_text, size_t length,
                       cab_error_t *error);

//  Queue an entry the caller built with cab_putevents_entry_build (for
//  this mirror's bus_name) under `key`: the same as cab_mirror_submit
//  without parsing the event again. On CAB_OK the mirror owns the entry's
//  text and *entry is zeroed; on error (CAB_ERR_BUSY, CAB_ERR_NOMEM, no
//  result will come) the caller keeps it and clears it.
cab_status_t
    cab_mirror_submit_entry (cab_mirror_t *self, int64_t key, cab_putevents_entry_t *entry,
                             cab_error_t *error);

//  The EventBusName this mirror puts in its entries (borrowed).
const char *
    cab_mirror_bus_name (cab_mirror_t *self);

//  Do one round of work: start requests for ready events, wait up to
//  `timeout_ms` for network activity (0: do not wait), handle completed
//  requests and call the callback for every event that got an outcome.
//  Returns CAB_OK, or CAB_ERR_INTERNAL when libcurl's multi interface
//  fails (the mirror stays usable).
cab_status_t
    cab_mirror_run (cab_mirror_t *self, int timeout_ms);

//  Events submitted whose result has not been reported yet.
size_t
    cab_mirror_pending (cab_mirror_t *self);

//  True when the mirror is in dry-run mode.
bool
    cab_mirror_dry_run (cab_mirror_t *self);

//  Copy the counters into *stats.
void
    cab_mirror_stats (cab_mirror_t *self, cab_mirror_stats_t *stats);

//  Name of an outcome: "accepted", "dead-lettered", "failed", "dry-run".
const char *
    cab_mirror_outcome_name (cab_mirror_outcome_t outcome);

#endif
