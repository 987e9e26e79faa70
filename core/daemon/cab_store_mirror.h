/*  =========================================================================
    cab_store_mirror - the cloud mirror's outbox and results in the store

    Every event the broker stores while the mirror is on gets an outbox row
    in the SAME transaction as the event (cab_store_item_t.mirror), so that
    an acknowledged event is never missing from the outbox. The mirror
    worker reads due rows with their texts from its own read-only handle
    (cab_store_outbox_scan) and hands back what happened to each as
    cab_mirror_outcome_rec_t records; the store writer writes them
    (cab_store_batch_t.mirror_outcomes), together with the budget's state
    document (cab_store_batch_t.budget_state), in one transaction with the
    next batch, so a crash loses both an outcome and its count or neither.

    An event leaves the outbox only when it is accepted (or reported by the
    dry-run mirror), dead-lettered, sampled out or shed. Deferred and failed
    events stay, with the time they may be tried again (not_before_ms).
    A mirror dead letter is a DEAD delivery (rule CAB_MIRROR_RULE, target
    CAB_MIRROR_TARGET, queue "mirror", error "CODE: message"), so that
    `cabruca dlq` lists, shows and purges it like any other; redriving it
    (cab_store_redrive) puts its event back in the outbox. The retention
    sweep never deletes an event that is still in the outbox, and deletes
    an event's mirror result with the event.

    Store schema version 4 adds (docs/architecture.md, "Event store"):
      outbox   (seq INTEGER PRIMARY KEY, not_before_ms INTEGER NOT NULL,
                deferred INTEGER NOT NULL, attempts INTEGER NOT NULL,
                error TEXT)                         partial indexes: (not_before_ms)
                                                    WHERE not_before_ms > 0, (seq) WHERE
                                                    deferred <> 0, (seq) WHERE attempts > 0
      mirrored (seq INTEGER PRIMARY KEY, outcome INTEGER NOT NULL,
                aws_event_id TEXT, attempts INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL, error TEXT)
      mirror_counts (outcome INTEGER PRIMARY KEY, count INTEGER NOT NULL)
                    mirrored rows per outcome, kept by triggers on mirrored
      meta key 'budget_state' (the budget's state document, JSON text)

    Threads: as cab_store.h.
    =========================================================================
*/
#ifndef CAB_STORE_MIRROR_H_INCLUDED
#define CAB_STORE_MIRROR_H_INCLUDED

#include "cab_store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The rule and target names of a mirror dead letter (its queue is "mirror").
#define CAB_MIRROR_RULE   "cabruca-mirror"
#define CAB_MIRROR_TARGET "cabruca-agents-bus"
#define CAB_MIRROR_DLQ    "mirror"

//  What happened to an outbox row. The numbers are stored in the file
//  (mirrored.outcome): never change them.
typedef enum {
    CAB_MIRRORED_ACCEPTED = 1,      //  PutEvents accepted it (aws_event_id set); row deleted
    CAB_MIRRORED_DRY_RUN = 2,       //  the dry-run mirror reported it; row deleted
    CAB_MIRRORED_DEAD = 3,          //  refused for good: a dead letter in "mirror"; row deleted
    CAB_MIRRORED_SAMPLED = 4,       //  skipped by a sample policy; row deleted
    CAB_MIRRORED_SHED = 5,          //  dropped by a shed policy; row deleted
    CAB_MIRRORED_DEFERRED = 6,      //  over a cap or the budget: stays, deferred = 1,
                                    //  not_before_ms set (no mirrored row)
    CAB_MIRRORED_FAILED = 7         //  no verdict (credentials, attempts): stays,
                                    //  attempts + 1, error and not_before_ms set (no mirrored row)
} cab_mirrored_outcome_t;

//  One outcome for cab_store_batch_t.mirror_outcomes. Strings borrowed for
//  the duration of the write; NULL when not applicable. So that the mirror
//  never fails a batch of events, cab_store_write skips (writes nothing
//  for) an outcome whose event has no outbox row (a stale one) and one
//  that is not valid (seq <= 0, an unknown outcome, attempts < 0); only
//  SQLite errors fail the batch. Error texts and AWS event ids longer than
//  1,024 bytes are cut at a UTF-8 character.
typedef struct {
    int64_t seq;                    //  the event (its outbox row)
    cab_mirrored_outcome_t outcome;
    const char *aws_event_id;       //  ACCEPTED: the EventId AWS gave it
    const char *error;              //  DEAD, FAILED: "Code: message"
    int attempts;                   //  requests that carried it (for the record)
    int64_t not_before_ms;          //  DEFERRED, FAILED: ask again at or after this
} cab_mirror_outcome_rec_t;

//  One due outbox row as the mirror worker reads it. Pointers are borrowed
//  and valid only during the callback.
typedef struct {
    int64_t seq;
    int64_t not_before_ms;
    bool deferred;                  //  DEFERRED before (the budget must not count it again)
    int attempts;                   //  FAILED outcomes so far
    int64_t received_ms;            //  when the store appended the event
    const char *source;             //  the event's source (the store's column)
    const char *detail_type;        //  the event's detail-type (the store's column)
    const char *text;               //  the event's JSON text
    size_t length;
} cab_outbox_record_t;

//  Return 0 to go on, anything else to stop the scan.
typedef int (cab_outbox_fn) (const cab_outbox_record_t *record, void *arg);

//  Call fn for outbox rows with seq > after_seq and not_before_ms <= now_ms,
//  ascending seq, at most limit (0: 1,000). Works on read-only handles.
//  Returns CAB_OK (also when fn stopped), CAB_ERR_INVALID_ARGUMENT (NULL fn),
//  CAB_ERR_STORE_UNAVAILABLE when the read fails.
cab_status_t
    cab_store_outbox_scan (cab_store_t *self, int64_t after_seq, int64_t now_ms, size_t limit,
                           cab_outbox_fn *fn, void *arg, cab_error_t *error);

//  The smallest not_before_ms of the outbox rows above now_ms (when the next
//  deferred or failed row becomes due), into *next_ms_p; INT64_MAX when none.
//  Errors as cab_store_outbox_scan.
cab_status_t
    cab_store_outbox_next_due (cab_store_t *self, int64_t now_ms, int64_t *next_ms_p,
                               cab_error_t *error);

//  Mirror figures from the store (what `cabruca mirror status` and the
//  dashboard show when the broker is not asked).
typedef struct {
    int64_t outbox;                 //  rows in the outbox
    int64_t deferred;               //  of which deferred
    int64_t failed;                 //  of which with attempts > 0
    int64_t due;                    //  of which due at now_ms
    int64_t oldest_received_ms;     //  received_ms of the oldest outbox event (0: empty)
    int64_t lag_ms;                 //  now_ms - oldest_received_ms (0: empty)
    int64_t accepted, dry_run, dead, sampled, shed;  //  mirrored rows by outcome
    int64_t dlq_depth;              //  DEAD deliveries in queue "mirror"
} cab_mirror_store_stats_t;

//  Fill *stats as of now_ms. Works on read-only handles. Errors:
//  CAB_ERR_STORE_UNAVAILABLE.
cab_status_t
    cab_store_mirror_stats (cab_store_t *self, int64_t now_ms, cab_mirror_store_stats_t *stats,
                            cab_error_t *error);

//  One event's mirror status, for the dashboard's event detail: *state_p is
//  one of "pending", "deferred", "failed" (in the outbox), "accepted",
//  "dry-run", "dead", "sampled", "shed" (mirrored), or "none" (never in the
//  outbox: the mirror was off); *json_p (may be NULL) a new JSON object
//  {"state":..., "aws_event_id":..., "attempts":N, "updated_ms":N,
//  "not_before_ms":N, "error":...} with the fields that apply. Errors:
//  CAB_ERR_STORE_UNAVAILABLE, CAB_ERR_NOMEM.
cab_status_t
    cab_store_mirror_get (cab_store_t *self, int64_t seq, const char **state_p, json_t **json_p,
                          cab_error_t *error);

//  Read the budget's state document saved with the last outcomes (meta
//  'budget_state'): *state_p a new reference, or NULL when none was saved.
//  Works on read-only handles. Errors: CAB_ERR_STORE_UNAVAILABLE,
//  CAB_ERR_INVALID_JSON (a corrupt document), CAB_ERR_NOMEM.
cab_status_t
    cab_store_budget_state (cab_store_t *self, json_t **state_p, cab_error_t *error);

//  Longest budget state document (cab_store_batch_t.budget_state) a batch
//  saves, bytes: a longer or empty one is not saved (the batch is still
//  written), so check the length before handing it over and log it.
#define CAB_STORE_BUDGET_STATE_MAX (1024 * 1024)

//  Name of an outcome: "accepted", "dry-run", "dead", "sampled", "shed",
//  "deferred", "failed", or "unknown". Static, never NULL.
const char *
    cab_mirrored_outcome_name (int outcome);

#endif
