/*  =========================================================================
    cab_broker_internal - shared between the broker's files (not installed)

    The data path inside the broker:
        ROUTER -> cab_broker_ingest.c (decode, validate, match the rules,
                  into a batch with the event's routes)
               -> cab_broker_writer.c (store-writer actor: one transaction
                  of events + their deliveries + delivery state changes)
               -> cab_broker_ingest.c (ACK each item, or NACK the batch)
               -> cab_broker_delivery.c (each new delivery: scheduled,
                  retried, dead-lettered; non-agent targets via cab_sender)
               -> cab_broker_queue.c (agent queues: consumers with credit)
    cab_broker_control.c answers CONTROL (dead letters, replay, mirror).
    cab_broker_mirror.c is the broker's side of the cloud mirror: the
    outcome sets of the mirror worker (cab_mirror_worker.c, an actor) go
    into the batches, their commits go back to the worker.
    cab_broker.c holds the actor's loop, the peers and the counters.
    =========================================================================
*/
#ifndef CAB_BROKER_INTERNAL_H_INCLUDED
#define CAB_BROKER_INTERNAL_H_INCLUDED

#include "cab_broker.h"
#include "cab_proto.h"
#include "cab_store_delivery.h"
#include "cab_store_mirror.h"
#include "cab_mirror.h"
#include <czmq.h>
#include <pthread.h>

//  An event's text shared by its deliveries and the sender's jobs
//  (refcounted, broker thread only: a job's reference is released in the
//  sender's thread only while cab_sender_destroy waits for it). data holds
//  length bytes and a NUL, then anything else allocated with it (the store
//  item's fields).
typedef struct {
    int refs;
    size_t length;
    int64_t ingest_ms;                  //  When the broker took it in (wall clock)
    char data [];
} cabi_text_t;

//  A new text of length bytes (copied when data is not NULL) with extra
//  bytes after its NUL, one reference. NULL when out of memory.
cabi_text_t *
    cabi_text_new (const char *data, size_t length, size_t extra);
cabi_text_t *
    cabi_text_ref (cabi_text_t *self);
void
    cabi_text_unref (cabi_text_t **self_p);

//  What the broker keeps of a route (a delivery to create) until its
//  commit: which rule set, rule and target, and the event's text.
typedef struct {
    cab_rules_t *rules;                 //  Owned reference
    uint32_t rule;                      //  Index in rules
    uint32_t target;                    //  Index in the rule's targets
    cabi_text_t *text;                  //  Owned reference
} cabi_route_meta_t;

//  What the broker keeps of each event of a batch until its answer.
typedef struct {
    zframe_t *identity;                 //  Owned: the peer's routing id (NULL: the
                                        //  broker's own event, a dead letter notice)
    char tag [CABI_PROTO_TAG_MAX + 1];
    cabi_text_t *blob;                  //  Owned: text and fields the store item points to
    size_t route_first, route_count;    //  Its routes in the batch's item route pool
    uint32_t cloud_matches;             //  Rules of the rule document it matched, or
                                        //  CABI_MATCHES_UNKNOWN (cab_broker_matchlog.c)
} cabi_batch_meta_t;

//  cloud_matches of an event not matched against the rule document.
#define CABI_MATCHES_UNKNOWN UINT32_MAX

//  A growable array of routes with their metas (bounded by the caller).
typedef struct {
    cab_store_route_t *routes;
    cabi_route_meta_t *meta;
    size_t count, capacity;
} cabi_routes_t;

struct _cabi_mirror_set_t;

//  A group of events committed in one transaction, with the delivery
//  state changes and the new deliveries of stored events (group commit).
typedef struct {
    size_t count, capacity;
    cab_store_item_t *items;
    cabi_batch_meta_t *meta;
    cabi_routes_t item_routes;          //  The items' routes (item->routes point in)
    cabi_routes_t routes;               //  cab_store_batch_t.routes (replay, redrive)
    cab_delivery_update_t *updates;     //  Strings owned (freed by reset)
    size_t update_count, update_capacity;
    struct _cabi_mirror_set_t *mirror_set; //  Borrowed: mirror outcomes to write, or NULL
    cab_status_t status;                //  Set by the writer
    cab_error_t error;
} cabi_batch_t;

//  Add a route (rules referenced, text referenced) to routes. Returns the
//  new route (caller fills seq, replay, next_ms), or NULL when out of memory.
cab_store_route_t *
    cabi_routes_add (cabi_routes_t *routes, cab_rules_t *rules, size_t rule, size_t target,
                     cabi_text_t *text);

//  Add a delivery state change (error and dlq copied). Returns 0, or -1
//  when out of memory.
int
    cabi_batch_add_update (cabi_batch_t *self, int64_t id, cab_delivery_state_t state,
                           int attempts, int64_t next_ms, const char *dlq, const char *error);

//  True when the batch has nothing to write.
bool
    cabi_batch_empty (cabi_batch_t *self);

//  Counters the writer publishes for the broker (written by the writer,
//  read by the broker with __atomic loads).
typedef struct {
    int64_t store_bytes;
    int64_t last_seq;
    int64_t commits;
    int64_t commit_us;                  //  Sum of commit times
    int64_t failures;                   //  Batches refused by the store
} cabi_writer_stats_t;

//  Create a batch of up to capacity events. Returns NULL when out of memory.
cabi_batch_t *
    cabi_batch_new (size_t capacity);

//  Destroy a batch and what its items own; null the pointer; safe on NULL.
void
    cabi_batch_destroy (cabi_batch_t **self_p);

//  Free what the items own and empty the batch for reuse.
void
    cabi_batch_reset (cabi_batch_t *self);

//  A task for the writer other than a batch (between two batches).
typedef enum { CABI_TASK_REDRIVE, CABI_TASK_PURGE } cabi_task_kind_t;

typedef struct {
    cabi_task_kind_t kind;
    cab_delivery_query_t query;         //  Strings point into filter (owned by the task)
    json_t *filter;                     //  Owned
    int64_t ids [CAB_DELIVERY_IDS_MAX];
    zframe_t *identity;                 //  Owned: who asked
    int64_t count;                      //  Out
    cab_status_t status;                //  Out
    cab_error_t error;                  //  Out
} cabi_task_t;

//  Start the store-writer actor: it opens the store at path in its own
//  thread, and between batches runs the retention sweep every
//  sweep_every_ms (a small step each time). Returns NULL and fills error if
//  the store cannot be opened. Its checkpointer leaves the database file's
//  last cache_tail_bytes in the page cache (0: it drops nothing;
//  cab_store_drop_cache). stats is borrowed and must outlive the actor;
//  retention is copied.
zactor_t *
    cabi_writer_new (const char *path, cab_store_durability_t durability,
                     const cab_store_retention_t *retention, int sweep_every_ms,
                     int64_t cache_tail_bytes, cabi_writer_stats_t *stats, cab_error_t *error);

//  Hand a batch to the writer (the writer answers with the same pointer,
//  status set, on its pipe). Returns 0 or -1.
int
    cabi_writer_send (zactor_t *writer, cabi_batch_t *batch);

//  Hand a task to the writer (answered like a batch). Returns 0 or -1.
int
    cabi_writer_send_task (zactor_t *writer, cabi_task_t *task);

//  Receive what the writer finished (blocking): a batch (*task_p NULL) or
//  a task (returns NULL, *task_p set). NULL and NULL on error.
cabi_batch_t *
    cabi_writer_recv (zactor_t *writer, cabi_task_t **task_p);

//  The store's checkpoints, run off the writer's commit path
//  (cab_broker_checkpoint.c). Owned by the writer thread.
typedef struct cabi_ckpt_shared_t cabi_ckpt_shared_t;
typedef struct {
    zactor_t *actor;             //  The checkpointer, NULL: SQLite's automatic ones
    cabi_ckpt_shared_t *shared;  //  What the checkpointer has copied
    int64_t poke_pages;          //  Poke it every this many new log pages
    int64_t restart_pages;       //  Finish in the writer from this many log pages
    int64_t finish_pages;        //  ... when at most this many are left to copy
    int64_t finish_slack;        //  ... or this many pages past restart_pages
    int64_t poked;               //  Log pages at the last poke
    int64_t finishes;            //  Finishing copies the writer made
    int64_t forced;              //  ... of them with more than finish_pages left
    int64_t logged_at;           //  Mono ms of the last failure logged
} cabi_checkpoints_t;

//  Start the checkpointer thread with a checkpointer handle on store's
//  file, and turn off the checkpoints inside store's commits. After each
//  sync the checkpointer drops what lies before the file's last
//  cache_tail_bytes from the page cache (0: nothing; cab_store_drop_cache).
//  Returns CAB_OK, or the error of cab_store_new_checkpointer /
//  CAB_ERR_NOMEM (store keeps its automatic checkpoints then).
cab_status_t
    cabi_checkpoints_start (cabi_checkpoints_t *self, cab_store_t *store,
                            int64_t cache_tail_bytes, cab_error_t *error);

//  After a commit of store (and after the answer went out): poke the
//  checkpointer every few new log pages; once the log is long enough to
//  restart, copy the last pages here as soon as the checkpointer has left
//  only a few (or once the log is CABI_CKPT_FINISH_SLACK pages past).
void
    cabi_checkpoints_after_commit (cabi_checkpoints_t *self, cab_store_t *store);

//  The writer is idle: have every committed page copied.
void
    cabi_checkpoints_idle (cabi_checkpoints_t *self, cab_store_t *store);

//  Stop the checkpointer and give store its automatic checkpoints back;
//  safe when it never started.
void
    cabi_checkpoints_stop (cabi_checkpoints_t *self, cab_store_t *store);

//  Events per chunk handed to a validator.
#define CABI_CHUNK_MAX 64

//  One event on its way through a validator.
typedef struct {
    zframe_t *identity;                 //  Owned: the peer's routing id
    zmq_msg_t body_part;                //  Owned: the PUBLISH's event frame
    const char *body;                   //  Its bytes
    size_t body_size;
    char tag [CABI_PROTO_TAG_MAX + 1];
    char agent_id [CABI_PROTO_AGENT_MAX + 1]; //  The session's
    char *sources;                      //  Owned: the certificate's sources, or NULL
    cab_event_t *event;                 //  Result: owned, or NULL with error set
    int64_t time_ms;
    cab_error_t error;
} cabi_job_t;

//  Jobs handed to a validator together.
typedef struct {
    size_t count;
    size_t taken;                       //  Jobs already moved on to the batch
    bool done;                          //  Back from the validator
    void *handle;                       //  In the broker's FIFO of chunks
    cabi_job_t jobs [CABI_CHUNK_MAX];
} cabi_chunk_t;

//  Run every check on one event published in a session of session_agent:
//  parse and envelope, agent id, allow-list, schema (registry may be NULL),
//  time. The allow-list is cert_sources (the session's CURVE certificate's
//  comma-separated "sources") when not NULL, else the configuration's.
//  Returns the loaded event (caller owns it) and sets *time_ms, or NULL
//  with the refusal in error.
cab_event_t *
    cabi_validate_event (const cab_broker_config_t *config, cab_registry_t *registry,
                         const char *session_agent, const char *cert_sources,
                         const char *text, size_t size, int64_t *time_ms, cab_error_t *error);

//  True when source is in list (comma-separated, "*": any source).
bool
    cabi_sources_allow (const char *list, const char *source);

//  Create an empty chunk; NULL when out of memory.
cabi_chunk_t *
    cabi_chunk_new (void);

//  Destroy a chunk and what its jobs own; null the pointer; safe on NULL.
void
    cabi_chunk_destroy (cabi_chunk_t **self_p);

//  Start a validator actor with its own schema registry (config borrowed,
//  must outlive it). Returns NULL if it cannot load the schemas.
zactor_t *
    cabi_validator_new (const cab_broker_config_t *config, int index);

//  Hand a chunk to a validator; it answers with the same pointer. 0 or -1.
int
    cabi_validator_send (zactor_t *validator, cabi_chunk_t *chunk);

//  Receive a chunk a validator finished (blocking); NULL on error.
cabi_chunk_t *
    cabi_validator_recv (zactor_t *validator);

//  Longest routing id ZeroMQ allows, bytes.
#define CABI_IDENTITY_MAX 255

//  A peer: one DEALER connection seen by the ROUTER.
typedef struct {
    char key [2 * CABI_IDENTITY_MAX + 1];   //  Routing id in hex (the peers table key)
    zframe_t *identity;                     //  Owned
    char agent_id [CABI_PROTO_AGENT_MAX + 1];
    bool session;                           //  HELLO received
    char *cert_sources;                     //  Owned: its CURVE certificate's sources, or NULL
    char *cert_queues;                      //  Owned: its certificate's "queues", or NULL
    char *cert_reads;                       //  Owned: its certificate's "read_sources", or NULL
    int64_t last_seen;                      //  zclock_mono of its last message
    size_t in_flight;                       //  Its events taken in, not yet answered
    uint64_t send_failures;                 //  Consecutive replies we could not send
    zlistx_t *consumers;                    //  Its subscriptions (cabi_consumer_t), or NULL
} cabi_peer_t;

struct _cabi_queue_t;
struct _cabi_consumer_t;

//  Where a delivery held in memory is.
typedef enum {
    CABI_DELIVERY_READY,                    //  In its queue's ready list, or waiting for the sender
    CABI_DELIVERY_FLIGHT,                   //  At a consumer or at the sender
    CABI_DELIVERY_WAIT                      //  In the timer heap until its next attempt
} cabi_delivery_where_t;

//  A PENDING delivery held in memory (at most max_pending_in_memory).
typedef struct {
    int64_t id, seq;
    cab_rules_t *rules;                     //  Owned reference: rule and target live in it
    const cab_rule_t *rule;
    const cab_rule_target_t *target;
    char *replay;                           //  Owned, or NULL
    cabi_text_t *text;                      //  Owned reference: the event
    int attempts;                           //  Made so far
    int64_t created_ms;
    cabi_delivery_where_t where;
    int64_t due_ms;                         //  WAIT: next attempt; FLIGHT to an agent: ack deadline
    size_t heap_index;                      //  In the timer heap, or SIZE_MAX
    struct _cabi_consumer_t *consumer;      //  FLIGHT to an agent
    void *handle;                           //  In a ready list or a consumer's flight list
    bool at_sender;                         //  FLIGHT to the sender
} cabi_delivery_t;

//  An agent queue: ready deliveries and the consumers that share them.
typedef struct _cabi_queue_t {
    char name [CABI_PROTO_QUEUE_MAX + 1];
    zlistx_t *ready;                        //  cabi_delivery_t, FIFO
    zlistx_t *consumers;                    //  cabi_consumer_t, round robin (served go last)
    size_t unacked;
    bool stored;                            //  Deliveries left in the store for lack of consumers
} cabi_queue_t;

//  One subscription of a peer to a queue.
typedef struct _cabi_consumer_t {
    cabi_peer_t *peer;                      //  Borrowed
    cabi_queue_t *queue;                    //  Borrowed
    size_t max_in_flight;
    int64_t ack_timeout_ms;                 //  Its deliveries come back after this
    zlistx_t *flight;                       //  cabi_delivery_t unacknowledged
    json_t *pattern;                        //  Owned: its ephemeral rule's pattern, or NULL
    bool durable;                           //  Subscribed with a durable pattern
    bool stalled;                           //  A DELIVER to it could not be sent
    void *queue_handle, *peer_handle;
} cabi_consumer_t;

//  A replay in progress (one at a time).
typedef struct {
    char name [CAB_RULE_NAME_MAX + 1];
    zframe_t *identity;                     //  Owned: who asked
    int64_t from_ms, to_ms;
    char *rule;                             //  Owned, or NULL
    cab_pattern_t *pattern;                 //  Owned, or NULL
    bool original;                          //  speed original (else max)
    int64_t start_ms;                       //  Wall clock at the start
    int64_t cursor_ms, cursor_seq;          //  Scanned up to (time, seq)
    bool scanned;                           //  The scan is over
    size_t outstanding;                     //  Routes handed to the writer, not committed
    int64_t events, deliveries;
    cab_status_t status;
    cab_error_t error;
} cabi_replay_t;

//  The broker actor's state. Owned by the actor's thread while it runs.
typedef struct {
    cab_broker_config_t *config;            //  Owned
    zsock_t *router;
    zactor_t *auth;                         //  CURVE: the authenticator (zauth), else NULL
    zcertstore_t *certs;                    //  CURVE: the known agents' certificates
    zactor_t *writer;
    cabi_writer_stats_t writer_stats;
    cab_registry_t *registry;               //  NULL: envelope checks only
    zhashx_t *peers;                        //  key -> cabi_peer_t (owned)
    cabi_peer_t *last_peer;                 //  The last one cabi_broker_peer found (in peers)
    cabi_batch_t *accum;                    //  Being filled
    cabi_batch_t *spare;                    //  Idle (the other one is at the writer)
    cabi_batch_t *at_writer;                //  Borrowed: the one at the writer, or NULL
    bool writer_busy;
    int64_t dispatched_us;                  //  When the writer last took a batch (monotonic)
    int cut_timer;                          //  timerfd ending a held batch's gap, or -1
    int64_t cut_armed_for;                  //  The dispatched_us it was armed for
    const void *last_publisher;             //  The peer of the last PUBLISH (compared only)
    int64_t siblings_us;                    //  When two peers last published one after the other
    bool accum_held;                        //  The commit gap held the filling batch back
    uint64_t gap_holds;                     //  Batches the commit gap held back
    bool router_more;                       //  The ROUTER had more to read when the broker
                                            //  last stopped reading (the batch cut)
    zactor_t *validators [CAB_BROKER_MAX_VALIDATORS];
    size_t validator_count;                 //  0: validate in the broker thread
    size_t next_validator;                  //  Round robin
    cabi_chunk_t *chunk;                    //  Being filled, or NULL
    zlistx_t *chunks;                       //  At validators or waiting, in order
    size_t validating;                      //  Events in those chunks
    size_t in_flight;                       //  Events taken in, not yet answered
    int64_t started;
    bool store_failing;                     //  The last commit failed
    int64_t store_logged_at;                //  When we last logged a failure
    uint64_t store_failures_unlogged;       //  Events refused since then
    //  Counters (docs/protocol.md, STATUS-REPLY)
    uint64_t received, stored, duplicates, batches, send_failures, peers_forgotten;
    uint64_t nacked [CAB_STATUS_COUNT_];
    uint64_t errors [CAB_STATUS_COUNT_];
    //  Routing (cab_broker_ingest.c) and delivery (cab_broker_delivery.c)
    json_t *rules_document;                 //  Owned: the rule file, or NULL
    cab_rules_t *rules;                     //  Owned reference: routes new events
    size_t *matches;                        //  Match buffer
    size_t match_capacity;
    cab_store_t *reader;                    //  Read-only handle (reload, replay, status)
    zactor_t *sender;                       //  Command, http and log targets
    size_t at_sender;                       //  Jobs at the sender
    zlistx_t *sender_wait;                  //  cabi_delivery_t READY for the sender
    zhashx_t *deliveries;                   //  id -> cabi_delivery_t (owned)
    cabi_delivery_t **heap;                 //  Timer heap by due_ms
    size_t heap_count, heap_capacity;
    zhashx_t *queues;                       //  name -> cabi_queue_t (owned)
    int64_t reload_at;                      //  Wall ms of the next store pass, 0: none
    int64_t reload_cursor;                  //  Next id of the current pass (0: none)
    bool reload_dirty;                      //  Something was left in the store meanwhile
    int64_t reload_min_next;                //  Earliest next_ms skipped in this pass
    int64_t wake_at;                        //  Earliest next attempt of a parked delivery
    bool terminating;                       //  Draining: no retry of failed state changes
    int reload_after_commits;               //  Another pass after this many commits
    zlistx_t *notices;                      //  cab_event_t: dead letter events to store
    json_t *durable;                        //  Durable subscriptions: {queue: [pattern...]}
    char *durable_path;                     //  Where they are kept (data_dir/subscriptions.json)
    zhashx_t *orphans;                      //  queue -> cab_rules_t: rule sets for the
                                            //  deliveries of subscriptions gone
    uint64_t rng;                           //  Backoff jitter
    cabi_replay_t *replay;                  //  Or NULL
    uint64_t delivered, retried, dead_lettered, dead_notices_lost, routed;
    uint64_t route_errors, reload_passes;
    //  Cloud mirror (cab_broker_mirror.c)
    zactor_t *mirror;                       //  The mirror worker, or NULL: mirror off
    uint32_t rules_gen;                     //  Generation of rules_document (+1 a reload)
    struct _cabi_mirror_shared_t *mirror_shared; //  Its published figures
    struct _cabi_mirror_set_t *mirror_pending;   //  A set waiting for a batch, or NULL
    uint64_t mirror_notices_lost;           //  Budget Threshold events not published
    bool mirror_draining;                   //  Stopping: the worker's last set is awaited
    int64_t mirror_drain_until;             //  Mono ms: not longer than this
    uint64_t sub_refused [CAB_STATUS_COUNT_]; //  SUBSCRIBE refusals by code
} cabi_broker_t;

//  Longest wait of the broker loop, ms (timers are checked at least this often).
#define CABI_LOOP_MAX_MS 1000

//  ---- Routing (cab_broker_ingest.c) ----------------------------------------

//  Match a text against the current rules and add its routes to the batch's
//  item route pool. Returns false when out of memory.
bool
    cabi_route_item (cabi_broker_t *self, cabi_batch_t *batch, cabi_batch_meta_t *meta);

//  Put one of the broker's own events (stolen, destroyed on success) into
//  the filling batch with its routes. Returns false when the batch is full
//  or out of memory (the caller keeps the event).
bool
    cabi_broker_append_notice (cabi_broker_t *self, cab_event_t **event_p);

//  ---- Delivery (cab_broker_delivery.c) -------------------------------------

//  Set up the delivery state (tables, reader, sender). CAB_OK or an error.
cab_status_t
    cabi_delivery_setup (cabi_broker_t *self, cab_error_t *error);

//  Release what the delivery state holds (at the end of the actor).
void
    cabi_delivery_teardown (cabi_broker_t *self);

//  A batch committed (or failed): create the deliveries of its routes;
//  the updates of a failed one go again with the next batch.
void
    cabi_delivery_committed (cabi_broker_t *self, cabi_batch_t *batch);

//  Run the timers due at now (wall ms): redeliveries, ack timeouts, store
//  passes; move dead letter notices into the filling batch.
void
    cabi_delivery_timers (cabi_broker_t *self, int64_t now);

//  The wall ms of the next timer (INT64_MAX: none).
int64_t
    cabi_delivery_next_timer (cabi_broker_t *self);

//  A job came back from the sender.
void
    cabi_delivery_sent (cabi_broker_t *self);

//  An attempt of d succeeded (DACK, sender OK).
void
    cabi_delivery_succeeded (cabi_broker_t *self, cabi_delivery_t *d);

//  An attempt of d failed; permanent: retrying cannot help; at_once:
//  back in its queue without backoff (its consumer went away).
void
    cabi_delivery_failed (cabi_broker_t *self, cabi_delivery_t *d, const char *error,
                          bool permanent, bool at_once);

//  Rows looked at, and deliveries read with their events, per pass step.
#define CABI_PASS_ROWS 1024
//  Deliveries due within this many ms are read back by a pass.
#define CABI_PASS_AHEAD_MS 1000
//  A pass is retried this long after a failed read, ms.
#define CABI_PASS_RETRY_MS 1000

//  True when the window of deliveries in memory is full.
bool
    cabi_delivery_window_full (cabi_broker_t *self);

//  The ids of the delivery state changes not committed yet (in the filling
//  batch and in the one at the writer), ascending, in *ids_p (NULL when
//  there are none; the caller frees it) and their number in *count_p.
//  A pass skips their rows: what the store holds of them is stale. False
//  when out of memory.
bool
    cabi_delivery_unsettled (cabi_broker_t *self, int64_t **ids_p, size_t *count_p);

//  Record a state change of delivery id in the filling batch (strings
//  copied); out of memory, it is logged and the store keeps the old row.
void
    cabi_delivery_record (cabi_broker_t *self, int64_t id, cab_delivery_state_t state,
                          int attempts, int64_t next_ms, const char *dlq, const char *error);

//  Hold a PENDING delivery in memory (rules referenced, text referenced,
//  replay copied). Returns it, or NULL when out of memory.
cabi_delivery_t *
    cabi_delivery_hold (cabi_broker_t *self, int64_t id, int64_t seq, cab_rules_t *rules,
                        const cab_rule_t *rule, const cab_rule_target_t *target,
                        cabi_text_t *text, const char *replay, int attempts, int64_t created_ms);

//  Forget a delivery held in memory (already out of every list).
void
    cabi_delivery_release (cabi_broker_t *self, cabi_delivery_t *d);

//  d goes out now, waits in the heap until next_ms, or is parked.
void
    cabi_delivery_schedule (cabi_broker_t *self, cabi_delivery_t *d, int64_t next_ms);

//  d is a dead letter: DEAD in the store, a notice published, released.
void
    cabi_delivery_dead (cabi_broker_t *self, cabi_delivery_t *d, const char *reason,
                        const char *error, int attempts);

//  Publish a Delivery Dead-Lettered notice about the event text.
void
    cabi_delivery_notice (cabi_broker_t *self, const char *text, size_t length, const char *rule,
                          const char *target, const char *dlq, const char *reason, int attempts,
                          const char *error);

//  (rule, target) in the current rules, or for a subscription gone in its
//  orphan set: the target, *rules_p (borrowed) its rule set; or NULL.
const cab_rule_target_t *
    cabi_delivery_lookup (cabi_broker_t *self, const char *rule, const char *target,
                          cab_rules_t **rules_p);

//  One step of the current pass over the store (or the start of one).
void
    cabi_pass_step (cabi_broker_t *self, int64_t now);

//  Set d's timer (its ack deadline) to due_ms.
void
    cabi_delivery_due (cabi_broker_t *self, cabi_delivery_t *d, int64_t due_ms);

//  Find a delivery held in memory, or NULL.
cabi_delivery_t *
    cabi_delivery_find (cabi_broker_t *self, int64_t id);

//  Schedule a pass over the store's PENDING deliveries (from the first).
void
    cabi_delivery_reload (cabi_broker_t *self);

//  A consumer came for a queue whose deliveries wait in the store: a pass
//  now, and another once the state changes under way are committed.
void
    cabi_delivery_reload_queue (cabi_broker_t *self);

//  Most patterns of durable subscriptions, all queues together.
#define CABI_DURABLE_MAX 256

//  Write the durable subscriptions to their file (atomically: a temporary
//  file renamed). CAB_OK or CAB_ERR_IO.
cab_status_t
    cabi_durable_save (cabi_broker_t *self, cab_error_t *error);

//  Replace the rules (document owned by the caller is stolen; rules stolen).
void
    cabi_delivery_set_rules (cabi_broker_t *self, json_t **document_p, cab_rules_t **rules_p);

//  Recompile the rules with the current subscriptions' patterns. CAB_OK
//  or an error (the old rules stay).
cab_status_t
    cabi_delivery_rebuild_rules (cabi_broker_t *self, cab_error_t *error);

//  The payload of an attempt of d (replay mark, input transformer):
//  *data_p and *size_p; *owned_p is the new buffer to free when one was
//  made (else NULL: data_p points into the event's text). CAB_OK or an error.
cab_status_t
    cabi_delivery_payload (cabi_broker_t *self, cabi_delivery_t *d, char **owned_p,
                           const char **data_p, size_t *size_p, cab_error_t *error);

//  A key of the id tables.
#define CABI_ID_KEY(id) ((void *)(uintptr_t)(id))

//  A new table keyed by ids (CABI_ID_KEY: the key is the id itself, not
//  copied, not freed). NULL when out of memory.
zhashx_t *
    cabi_id_table (void);

//  qsort/bsearch order of two int64_t ids.
int
    cabi_id_order (const void *a, const void *b);

//  The "delivery" object of STATUS-REPLY. New reference.
json_t *
    cabi_delivery_status (cabi_broker_t *self);

//  ---- Agent queues (cab_broker_queue.c) ------------------------------------

//  True when the deliveries of queue should wait in the store rather than
//  in memory: nobody consumes it, or its ready list holds its share of the
//  window already (so that one slow queue cannot starve the others).
bool
    cabi_queue_full (cabi_broker_t *self, cabi_queue_t *queue);

//  Put a READY delivery at the end (or at the head) of its queue and serve
//  the queue's consumers.
void
    cabi_queue_push (cabi_broker_t *self, cabi_delivery_t *d, bool head);

//  Find or create the queue called name. NULL when out of memory.
cabi_queue_t *
    cabi_queue_get (cabi_broker_t *self, const char *name, bool create);

//  Take d out of its ready list or its consumer's flight list.
void
    cabi_queue_detach (cabi_broker_t *self, cabi_delivery_t *d);

//  Destroy a queue table entry (zhashx destructor).
void
    cabi_queue_destroy (void **item_p);

//  SUBSCRIBE, UNSUBSCRIBE, DACK, DNACK from a peer with a session.
void
    cabi_queue_command (cabi_broker_t *self, cabi_peer_t *peer, cabi_proto_t *msg);

//  A peer goes away: end its subscriptions; its unacknowledged deliveries
//  go back to their queues at once.
void
    cabi_queue_peer_gone (cabi_broker_t *self, cabi_peer_t *peer);

//  A peer showed it reads again: serve its stalled subscriptions.
void
    cabi_queue_peer_alive (cabi_broker_t *self, cabi_peer_t *peer);

//  ---- Cloud mirror (cab_broker_mirror.c, cab_mirror_worker.c) -------------

//  Most outcomes in one set, and most Budget Threshold events with it.
#define CABI_MIRROR_SET_MAX     1000
#define CABI_MIRROR_NOTICES_MAX 16

//  Mirror outcomes (and the budget state that counts them) handed by the
//  worker to the broker thread, written with the next batch in one
//  transaction, then handed back with the commit's status. Owned by the
//  worker except between "SET" and "DONE", when the broker thread owns it.
typedef struct _cabi_mirror_set_t {
    uint64_t id;
    cab_mirror_outcome_rec_t *recs;     //  Strings owned (freed with the set)
    size_t count, capacity;
    char *budget_state;                 //  Owned JSON text, or NULL
    char *notices [CABI_MIRROR_NOTICES_MAX]; //  Owned: Budget Threshold details (JSON text)
    size_t notice_count;
    cab_status_t status;                //  The commit's, set by the broker thread
} cabi_mirror_set_t;

//  A new empty set of up to capacity outcomes; NULL when out of memory.
cabi_mirror_set_t *
    cabi_mirror_set_new (size_t capacity);

//  Destroy a set and its strings; null the pointer; safe on NULL.
void
    cabi_mirror_set_destroy (cabi_mirror_set_t **self_p);

//  What the worker publishes for STATUS and CONTROL (under lock).
typedef struct _cabi_mirror_shared_t {
    pthread_mutex_t lock;
    bool sender_up;                     //  The sender exists (else see error)
    bool dry_run;
    char endpoint [1024];               //  "" when unknown
    char region [128];                  //  "" when unknown
    char bus [256];
    char error [256];                   //  Why the sender is not up, or ""
    cab_mirror_stats_t sender;
    char *report;                       //  Owned: cab_budget_report as JSON text
    double cost_usd_month;
    struct _cabi_matchlog_t *matchlog;  //  Owned: stored events' cloud matches (its own lock)
    uint64_t matches_from_broker;       //  Events whose cloud matches the broker counted
    uint64_t matches_by_worker;         //  ... that the worker matched itself
} cabi_mirror_shared_t;

//  ---- Matches handed to the mirror worker (cab_broker_matchlog.c) ----------

//  Events remembered (the latest of each seq modulo this).
#define CABI_MATCHLOG_SLOTS 16384

typedef struct _cabi_matchlog_t cabi_matchlog_t;

//  A new, empty log; NULL when out of memory.
cabi_matchlog_t *
    cabi_matchlog_new (void);

//  Destroy a log and null the pointer; safe on NULL.
void
    cabi_matchlog_destroy (cabi_matchlog_t **self_p);

//  Broker thread, after batch committed: remember the cloud_matches of each
//  event it stored (not duplicates, not unknown counts) under the rule
//  document's generation gen. Nothing when self is NULL or the commit failed.
void
    cabi_matchlog_put (cabi_matchlog_t *self, const cabi_batch_t *batch, uint32_t gen);

//  Mirror worker: when event seq was remembered under generation gen, set
//  *count_p to its count and return true; else false.
bool
    cabi_matchlog_get (cabi_matchlog_t *self, int64_t seq, uint32_t gen, size_t *count_p);

//  Start the mirror worker (config and shared borrowed, must outlive it;
//  rules_document borrowed, copied: the broker's rules, used for cloud
//  matches when the configuration names no cloud rule file). It opens the
//  store read-only, creates the budget (state from the store) and the cloud
//  rule set before it answers; the sender is created after (credentials
//  may take time). Returns NULL and fills error when it cannot start.
zactor_t *
    cabi_mirror_worker_new (const cab_broker_config_t *config, json_t *rules_document,
                            cabi_mirror_shared_t *shared, cab_error_t *error);

//  Start the mirror when the configuration enables it. CAB_OK or an error.
cab_status_t
    cabi_mirror_setup (cabi_broker_t *self, cab_error_t *error);

//  Stop the worker and free what the broker holds of the mirror.
void
    cabi_mirror_teardown (cabi_broker_t *self);

//  A message from the worker (its pipe is readable).
void
    cabi_mirror_recv (cabi_broker_t *self);

//  The broker stops (SIGTERM): the worker stops sending and hands over the
//  outcomes it has, which are committed before the broker ends (at most
//  CABI_MIRROR_DRAIN_MS).
#define CABI_MIRROR_DRAIN_MS 2000
void
    cabi_mirror_drain (cabi_broker_t *self);

//  True while the worker's last outcomes are awaited.
bool
    cabi_mirror_draining (cabi_broker_t *self);

//  Attach a waiting outcome set (and its Budget Threshold events) to the
//  filling batch when it has none and room (not when stopping, unless
//  draining the worker).
void
    cabi_mirror_attach (cabi_broker_t *self);

//  A batch came back from the writer (before its answer): hand its set
//  back to the worker; wake the worker when it stored events.
void
    cabi_mirror_committed (cabi_broker_t *self, cabi_batch_t *batch);

//  The rules changed (document borrowed, of generation self->rules_gen):
//  the worker's cloud rules follow when they are the broker's own.
void
    cabi_mirror_rules (cabi_broker_t *self, json_t *document);

//  A new "budget" section (stolen; json null: the defaults) for the worker
//  (SIGHUP). Without a mirror it is dropped.
void
    cabi_mirror_budget (cabi_broker_t *self, json_t *section);

//  The STATUS-REPLY "mirror" member. New reference.
json_t *
    cabi_mirror_status (cabi_broker_t *self);

//  CONTROL {"op":"budget"} and {"op":"mirror-status"}: the replies. New
//  references.
json_t *
    cabi_mirror_control_budget (cabi_broker_t *self);
json_t *
    cabi_mirror_control_status (cabi_broker_t *self);

//  ---- Control (cab_broker_control.c) -----------------------------------------

//  A CONTROL message from identity (borrowed).
void
    cabi_control (cabi_broker_t *self, zframe_t *identity, cabi_proto_t *msg);

//  A writer task finished: answer who asked.
void
    cabi_control_task_done (cabi_broker_t *self, cabi_task_t *task);

//  Advance the replay in progress by one chunk (called from the loop).
void
    cabi_control_replay_step (cabi_broker_t *self);

//  Replay routes committed (count of them, status of their batch).
void
    cabi_control_replay_committed (cabi_broker_t *self, size_t count, cab_status_t status);

//  Send a CONTROL-REPLY (reply stolen) to identity (borrowed).
void
    cabi_control_reply (cabi_broker_t *self, zframe_t *identity, json_t *reply);

//  A CONTROL-REPLY error document. New reference.
json_t *
    cabi_control_error (cab_status_t code, const char *path, const char *format, ...);

//  Find the peer of a routing id (borrowed), or NULL.
cabi_peer_t *
    cabi_broker_peer (cabi_broker_t *self, zframe_t *identity);

//  Find or add the peer of a routing id (borrowed). Returns NULL when the
//  peers table is full (config max_peers) or out of memory.
cabi_peer_t *
    cabi_broker_peer_add (cabi_broker_t *self, zframe_t *identity);

//  Forget a peer (it said BYE, went silent or stopped reading).
void
    cabi_broker_peer_forget (cabi_broker_t *self, cabi_peer_t *peer);

//  Send msg (stolen, nulled) to the peer with this routing id (borrowed).
//  A full or vanished peer is counted and logged; never blocks.
void
    cabi_broker_send (cabi_broker_t *self, zframe_t *identity, zmsg_t **msg_p);

//  Send msg to the peer with this routing id (borrowed) as
//  cabi_broker_send does, without building a zmsg_t (cabi_proto_send: no
//  allocation; the ACK path). peer is identity's peer when the caller has
//  it, or NULL (looked up when needed).
void
    cabi_broker_reply (cabi_broker_t *self, cabi_peer_t *peer, zframe_t *identity,
                       const cabi_proto_t *msg);

//  Read and handle up to one batch worth of messages from the ROUTER.
void
    cabi_broker_ingest (cabi_broker_t *self);

//  Answer every event of a batch the writer finished, then recycle it.
void
    cabi_broker_answer (cabi_broker_t *self, cabi_batch_t *batch);

//  Hand the filling chunk to a validator, move validated events into the
//  filling batch (in the order received), and hand that batch to the
//  writer if it is idle and not empty.
void
    cabi_broker_dispatch (cabi_broker_t *self);

//  Microseconds until the filling batch, held back by the commit gap, is
//  due; -1 when no batch is held (the writer is busy, the batch is empty or
//  due at once).
int64_t
    cabi_broker_cut_wait (cabi_broker_t *self);

//  True while the broker may read more messages (its queues have room).
bool
    cabi_broker_can_read (cabi_broker_t *self);

//  A validator finished a chunk.
void
    cabi_broker_validated (cabi_broker_t *self, cabi_chunk_t *chunk);

//  The STATUS-REPLY document. New reference, or NULL when out of memory.
json_t *
    cabi_broker_status (cabi_broker_t *self);

//  Security (cab_broker_security.c). Before binding: check the endpoints
//  (tcp loopback unless allow_remote) and, with CURVE configured, load the
//  broker's certificate, check the clients directory, start the
//  authenticator and make the ROUTER a CURVE server. CAB_OK or an error.
cab_status_t
    cabi_security_setup (cabi_broker_t *self, cab_error_t *error);

//  After binding endpoint (resolved): without CURVE, make an ipc socket
//  file owner-only. CAB_OK or CAB_ERR_IO.
cab_status_t
    cabi_security_bound (cabi_broker_t *self, const char *endpoint, cab_error_t *error);

//  CURVE: the connection's User-Id (the client's public key, set by the
//  authenticator) of a message received on the ROUTER (borrowed, valid
//  while the parts are; NULL when there is none).
const char *
    cabi_security_user_id (cabi_proto_parts_t *parts);

//  CURVE: the agent name and sources (borrowed, valid until the next
//  call; NULL when absent) of the certificate of user_id (from
//  cabi_security_user_id; NULL gives none). The broker looks the key up
//  in its own copy of the clients directory, so a client cannot add
//  properties its certificate does not have.
void
    cabi_security_identity (cabi_broker_t *self, const char *user_id, const char **name_p,
                            const char **sources_p);

//  CURVE: copy the "queues" and "read_sources" of user_id's certificate
//  into the peer (NULL when absent). CAB_OK or CAB_ERR_NOMEM.
cab_status_t
    cabi_security_grants (cabi_broker_t *self, cabi_peer_t *peer, const char *user_id);

//  May peer subscribe to queue with pattern (borrowed, may be NULL)? The
//  queues come from its certificate's "queues" when it has them, else from
//  the configuration's agents.ID.subscribe, else any; the sources a
//  pattern may reach likewise from "read_sources". With a restricted
//  read_sources a pattern must constrain "source" at its top level to an
//  array of allowed strings (docs/security.md, "Subscriptions"). Returns
//  CAB_OK, or CAB_ERR_ACCESS_DENIED with error->path "/queue" (the queue
//  frame) or a pointer into the options ("/pattern", "/pattern/source/N").
cab_status_t
    cabi_security_may_subscribe (cabi_broker_t *self, cabi_peer_t *peer, const char *queue,
                                 json_t *pattern, cab_error_t *error);

//  Subscription refusals by status code, {"AccessDenied": n, ...}. New
//  reference.
json_t *
    cabi_queue_refusals (cabi_broker_t *self);

//  Stop the authenticator (after the ROUTER is closed).
void
    cabi_security_teardown (cabi_broker_t *self);

#endif
