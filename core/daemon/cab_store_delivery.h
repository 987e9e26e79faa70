/*  =========================================================================
    cab_store_delivery - deliveries, dead letters and archive retention

    A delivery is one (event, rule, target): the record that an event
    matched a rule and must reach one of the rule's targets. Its rows are
    also the per-event record of rule matches. A delivery is PENDING until
    a target accepts it (DONE) or its retry policy runs out (DEAD: a dead
    letter, in the target's dead-letter queue "standard" or "critical"; the
    cloud mirror's dead letters are DEAD deliveries in queue "mirror",
    written by the store with the mirror's outcomes: cab_store_mirror.h).

    The broker's store writer creates deliveries with their events, in the
    same transaction (cab_store_item_t.routes), so an acknowledged event
    always has its deliveries on disk; later state changes, replays and
    redrives go through cab_store_write too, one transaction per call
    (group commit). Readers (the CLI's `cabruca dlq`, the dashboard) scan
    and count deliveries on their own read-only handles.

    Retention (cab_store_sweep) deletes, in short transactions of a bounded
    number of rows: dead letters older than their queue's retention, and
    archived events older than archive_ms that no longer have a PENDING or
    DEAD delivery, with their DONE deliveries (a DONE delivery lives as
    long as its event).

    Threads: as cab_store.h (one thread per handle). All the functions here
    take the handle of cab_store_new / cab_store_new_readonly. Store schema
    version 5 (docs/architecture.md, "Event store").
    =========================================================================
*/
#ifndef CAB_STORE_DELIVERY_H_INCLUDED
#define CAB_STORE_DELIVERY_H_INCLUDED

#include "cab_store.h"
#include "cab_store_mirror.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The state of a delivery. The numbers are stored in the file: never
//  change them.
typedef enum {
    CAB_DELIVERY_PENDING = 0,   //  waiting for its next attempt (or in flight)
    CAB_DELIVERY_DONE = 1,      //  a target accepted it
    CAB_DELIVERY_DEAD = 2       //  retries exhausted: a dead letter
} cab_delivery_state_t;

//  A state change of one delivery (cab_store_batch_t.updates). Strings are
//  borrowed for the duration of the call. updated_ms is set by the store to
//  the time of the write.
typedef struct {
    int64_t id;                 //  delivery id
    cab_delivery_state_t state; //  new state
    int attempts;               //  new attempt count
    int64_t next_ms;            //  PENDING: next attempt not before this time
    const char *dlq;            //  DEAD: "standard" or "critical" (NULL: "standard")
    const char *error;          //  last error text, or NULL
} cab_delivery_update_t;

//  Everything written in ONE transaction by cab_store_write. Zero it and
//  set what you need; NULL arrays with a count of 0 are fine.
typedef struct {
    cab_store_item_t *items;            //  events to append (+ their routes)
    size_t item_count;
    cab_delivery_update_t *updates;     //  delivery state changes
    size_t update_count;
    cab_store_route_t *routes;          //  deliveries for events already stored
    size_t route_count;                 //  (replay, redrive, subscriptions)
    const cab_mirror_outcome_rec_t *mirror_outcomes;  //  mirror outcomes to record
    size_t mirror_outcome_count;        //  (cab_store_mirror.h)
    const char *budget_state;           //  JSON text saved as meta 'budget_state'
                                        //  when not NULL
} cab_store_batch_t;

//  One delivery as read back (+ its event when asked). All pointers are
//  borrowed and valid only during the callback that receives the record.
typedef struct {
    int64_t id;                 //  delivery id
    int64_t seq;                //  the event's seq
    const char *rule;           //  rule name
    const char *target;         //  target id
    const char *replay;         //  replay name, or NULL
    cab_delivery_state_t state;
    int attempts;               //  attempts made so far
    int64_t created_ms;         //  created (or redriven), ms since the epoch
    int64_t next_ms;            //  PENDING: next attempt not before
    int64_t updated_ms;         //  last state change (for DEAD: dead-lettering time)
    const char *dlq;            //  DEAD: its queue; otherwise NULL
    const char *error;          //  last error text, or NULL
    const char *event_id;       //  the event's id (NULL if the event is gone)
    const char *text;           //  the event's JSON text, only with query.with_text
    size_t length;              //  bytes of text (0 without with_text)
    int64_t event_time_ms;      //  the event's time (0 if the event is gone)
} cab_delivery_record_t;

//  Which deliveries a scan, count, redrive or purge applies to. Zero it
//  (`= {0}`), then SET state (0 is PENDING; -1 means any state) and only
//  the filters you need: zero / NULL fields do not filter. Ranges are
//  inclusive.
typedef struct {
    int state;                  //  -1 any, else a cab_delivery_state_t
    int64_t from_id;            //  id >= from_id (0: from the first)
    int64_t seq;                //  the event's seq equals (0: any)
    const char *rule;           //  rule equals, or NULL
    const char *target;         //  target equals, or NULL
    const char *dlq;            //  dlq equals, or NULL
    const char *event_id;       //  the event's id equals, or NULL
    int64_t from_ms;            //  updated_ms >= from_ms (0: no lower bound)
    int64_t to_ms;              //  updated_ms <= to_ms (0: no upper bound)
    size_t limit;               //  at most this many (0: no limit)
    bool with_text;             //  scan: also read the event's text
    const char *replay;         //  replay name equals, or NULL (added)
    const int64_t *ids;         //  id is one of ids[0 .. id_count-1] (added;
    size_t id_count;            //  at most CAB_DELIVERY_IDS_MAX; 0: any id)
} cab_delivery_query_t;

//  Most ids a query may list.
#define CAB_DELIVERY_IDS_MAX 1000

//  Called once per delivery by cab_store_scan_deliveries, ascending id.
//  Return 0 to go on, anything else to stop the scan (which returns CAB_OK).
typedef int (cab_delivery_fn) (const cab_delivery_record_t *record, void *arg);

//  Retention of cab_store_sweep. A zero duration keeps rows forever.
typedef struct {
    int64_t archive_ms;         //  events received longer ago are deleted (default 7 d)
    int64_t standard_ms;        //  "standard" and "mirror" dead letters older
                                //  (updated_ms): 14 d
    int64_t critical_ms;        //  "critical" dead letters older (updated_ms): 4 d
} cab_store_retention_t;

//  Default retentions, ms.
#define CAB_STORE_ARCHIVE_MS  (7 * 86400000LL)
#define CAB_STORE_STANDARD_MS (14 * 86400000LL)
#define CAB_STORE_CRITICAL_MS (4 * 86400000LL)

//  Write a batch in ONE transaction (group commit): the items as
//  cab_store_append does (same outputs), then for every item that is not a
//  duplicate its routes (route.seq = the item's seq, route.id = the new
//  delivery id; a duplicate's routes -- also a duplicate of an item
//  earlier in the same batch -- get id 0 and seq the stored one), then the
//  updates, then batch->routes (deliveries for stored events), then the
//  mirror outcomes and the budget state (cab_store_mirror.h: ACCEPTED,
//  DRY_RUN, SAMPLED, SHED and DEAD take the event out of the outbox and
//  record a mirrored row, DEAD also a DEAD delivery in queue "mirror";
//  DEFERRED and FAILED update the outbox row). An item with mirror set
//  gets an outbox row unless it is a duplicate. New
//  deliveries are PENDING with attempts 0, created_ms and updated_ms = now,
//  next_ms as given (0: now). So that one stale entry never fails a whole
//  batch of events, an update whose delivery no longer exists (purged,
//  swept) is skipped, a batch route whose seq names no stored event is
//  not created (its id stays 0), and a mirror outcome whose event has no
//  outbox row, or that is not valid, is skipped (cab_store_mirror.h: the
//  mirror never fails a batch). All-or-nothing: on any error nothing is
//  written and every output is 0 / false. Errors: CAB_ERR_INVALID_ARGUMENT
//  (a read-only handle, a bad item as in cab_store_append, a route without
//  rule or target, an update with an unknown state, a count without its
//  array; checked before anything is written; error->text names the
//  entry), CAB_ERR_TOO_LARGE (an item over CAB_EVENT_MAX_SIZE),
//  CAB_ERR_STORE_UNAVAILABLE when SQLite
//  cannot commit (then the handle stays usable, as with cab_store_append).
//  An empty batch (no items, updates, routes, outcomes nor budget state)
//  is a no-op returning CAB_OK.
cab_status_t
    cab_store_write (cab_store_t *self, cab_store_batch_t *batch, cab_error_t *error);

//  Call fn for every delivery matching query, ascending id, at most
//  query->limit. Each record carries its event's id and time (and text
//  with query->with_text). Returns CAB_OK (also when fn stopped the scan),
//  CAB_ERR_INVALID_ARGUMENT (NULL query or fn, a bad state, too many ids),
//  CAB_ERR_STORE_UNAVAILABLE when the read fails. Works on read-only
//  handles.
cab_status_t
    cab_store_scan_deliveries (cab_store_t *self, const cab_delivery_query_t *query,
                               cab_delivery_fn *fn, void *arg, cab_error_t *error);

//  Set *count_p to the number of deliveries matching query (limit
//  ignored). Errors as cab_store_scan_deliveries. Works on read-only
//  handles.
cab_status_t
    cab_store_count_deliveries (cab_store_t *self, const cab_delivery_query_t *query,
                                int64_t *count_p, cab_error_t *error);

//  Put the dead letters matching query (its state is ignored: only DEAD
//  rows) back to PENDING: attempts 0, created_ms = next_ms = updated_ms =
//  now_ms, dlq cleared (error kept: the last failure); at most
//  query->limit rows, lowest ids first (0: all). A dead letter of the
//  mirror (queue "mirror") goes back to the mirror's outbox instead (not
//  before 0): its delivery row and its event's mirrored row are deleted.
//  One transaction. *count_p (may be NULL) = rows redriven. Errors:
//  CAB_ERR_INVALID_ARGUMENT (read-only handle, bad query),
//  CAB_ERR_STORE_UNAVAILABLE (nothing changed; handle usable).
cab_status_t
    cab_store_redrive (cab_store_t *self, const cab_delivery_query_t *query, int64_t now_ms,
                       int64_t *count_p, cab_error_t *error);

//  Delete the dead letters matching query (its state is ignored: only DEAD
//  rows), at most query->limit (0: all). One transaction. *count_p (may be
//  NULL) = rows deleted. Errors as cab_store_redrive.
cab_status_t
    cab_store_purge (cab_store_t *self, const cab_delivery_query_t *query, int64_t *count_p,
                     cab_error_t *error);

//  Delete at most max_rows expired rows in one short transaction, in this
//  order: dead letters older than
//  their queue's retention (queue "mirror": standard_ms); events received
//  before now_ms - archive_ms that have no PENDING or DEAD delivery and are
//  not in the mirror's outbox, with their DONE deliveries and their
//  mirrored row (an event with a PENDING or DEAD delivery, or in the
//  outbox, is never deleted). The highest
//  deleted seq is recorded so that seqs are never reused. Call it again
//  while *deleted_p > 0 (between calls the writer may commit other
//  batches, so ingest never stalls), and again from time to time: one call
//  examines at most 10 * max_rows events, and a call that met only events
//  it must keep returns 0 and leaves a cursor on the handle where the next
//  call goes on. *deleted_p (may be NULL) = rows deleted (events +
//  deliveries), 0 when nothing is left to do (or see above). max_rows 0
//  means 1,000. Errors: CAB_ERR_INVALID_ARGUMENT (read-only handle, NULL
//  retention), CAB_ERR_STORE_UNAVAILABLE (nothing deleted; handle usable).
cab_status_t
    cab_store_sweep (cab_store_t *self, const cab_store_retention_t *retention, int64_t now_ms,
                     size_t max_rows, int64_t *deleted_p, cab_error_t *error);

//  Return the lowercase name of a state ("pending", "done", "dead"), or
//  "unknown"; static, never NULL.
const char *
    cab_delivery_state_name (int state);

#endif
