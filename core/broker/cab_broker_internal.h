/*  =========================================================================
    cab_broker_internal - shared between the broker's files (not installed)

    The data path inside the broker:
        ROUTER -> cab_broker_ingest.c (decode, validate, into a batch)
               -> cab_broker_writer.c (store-writer actor: one transaction)
               -> cab_broker_ingest.c (ACK each item, or NACK the batch)
    cab_broker.c holds the actor's loop, the peers and the counters.
    =========================================================================
*/
#ifndef CAB_BROKER_INTERNAL_H_INCLUDED
#define CAB_BROKER_INTERNAL_H_INCLUDED

#include "cab_broker.h"
#include "cab_proto.h"
#include <czmq.h>

//  What the broker keeps of each event of a batch until its answer.
typedef struct {
    zframe_t *identity;                 //  Owned: the peer's routing id
    char tag [CABI_PROTO_TAG_MAX + 1];
    char *blob;                         //  Owned: text and fields the store item points to
} cabi_batch_meta_t;

//  A group of events committed in one transaction.
typedef struct {
    size_t count, capacity;
    cab_store_item_t *items;
    cabi_batch_meta_t *meta;
    cab_status_t status;                //  Set by the writer
    cab_error_t error;
} cabi_batch_t;

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

//  Start the store-writer actor: it opens the store at path in its own
//  thread. Returns NULL and fills error if the store cannot be opened.
//  stats is borrowed and must outlive the actor.
zactor_t *
    cabi_writer_new (const char *path, cab_store_durability_t durability,
                     cabi_writer_stats_t *stats, cab_error_t *error);

//  Hand a batch to the writer (the writer answers with the same pointer,
//  status set, on its pipe). Returns 0 or -1.
int
    cabi_writer_send (zactor_t *writer, cabi_batch_t *batch);

//  Receive the batch the writer finished (blocking). Returns NULL if the
//  writer sent something else.
cabi_batch_t *
    cabi_writer_recv (zactor_t *writer);

//  Events per chunk handed to a validator.
#define CABI_CHUNK_MAX 64

//  One event on its way through a validator.
typedef struct {
    zframe_t *identity;                 //  Owned: the peer's routing id
    zmsg_t *msg;                        //  Owned: the PUBLISH; body points into it
    const char *body;
    size_t body_size;
    char tag [CABI_PROTO_TAG_MAX + 1];
    char agent_id [CABI_PROTO_AGENT_MAX + 1]; //  The session's
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
//  time. Returns the loaded event (caller owns it) and sets *time_ms, or
//  NULL with the refusal in error.
cab_event_t *
    cabi_validate_event (const cab_broker_config_t *config, cab_registry_t *registry,
                         const char *session_agent, const char *text, size_t size,
                         int64_t *time_ms, cab_error_t *error);

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
    int64_t last_seen;                      //  zclock_mono of its last message
    size_t in_flight;                       //  Its events taken in, not yet answered
    uint64_t send_failures;                 //  Consecutive replies we could not send
} cabi_peer_t;

//  The broker actor's state. Owned by the actor's thread while it runs.
typedef struct {
    cab_broker_config_t *config;            //  Owned
    zsock_t *router;
    zactor_t *writer;
    cabi_writer_stats_t writer_stats;
    cab_registry_t *registry;               //  NULL: envelope checks only
    zhashx_t *peers;                        //  key -> cabi_peer_t (owned)
    cabi_batch_t *accum;                    //  Being filled
    cabi_batch_t *spare;                    //  Idle (the other one is at the writer)
    bool writer_busy;
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
} cabi_broker_t;

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

//  True while the broker may read more messages (its queues have room).
bool
    cabi_broker_can_read (cabi_broker_t *self);

//  A validator finished a chunk.
void
    cabi_broker_validated (cabi_broker_t *self, cabi_chunk_t *chunk);

//  The STATUS-REPLY document. New reference, or NULL when out of memory.
json_t *
    cabi_broker_status (cabi_broker_t *self);

#endif
