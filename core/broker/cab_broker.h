/*  =========================================================================
    cab_broker - the broker: accepts events from agents, validates them,
    stores them with group commit and acknowledges each after its commit.

    The broker is a class running in its own thread (a zactor), so that
    tests start it in-process on tcp://127.0.0.1:* or an ipc path in a
    temporary directory, and cabruca-broker's main only parses options,
    loads the configuration and waits for a signal (docs/man/cabruca-broker.md).

    Threads: the broker actor owns the ROUTER socket and the peers;
    validator actors (limits.validators, each with its own schema registry)
    parse and validate events, their results taken back in arrival order; a
    store-writer actor owns the SQLite connection and commits one batch
    while the next is validated. The protocol is docs/protocol.md.
    =========================================================================
*/
#ifndef CAB_BROKER_H_INCLUDED
#define CAB_BROKER_H_INCLUDED

#include "cabruca.h"
#include "cab_store.h"

//  Hard ceilings of the configurable limits.
#define CAB_BROKER_MAX_ENDPOINTS 8
#define CAB_BROKER_MAX_WINDOW    100000
#define CAB_BROKER_MAX_BATCH     10000
#define CAB_BROKER_MAX_PEERS     65536
#define CAB_BROKER_MAX_VALIDATORS 16

//  A broker configuration (cab_broker_config.c; the file format is in
//  docs/man/cabruca-broker.md). Fields are public and plain: tests build
//  one with cab_broker_config_new and set what they need.
typedef struct {
    char *endpoints [CAB_BROKER_MAX_ENDPOINTS]; //  Owned strings
    size_t endpoint_count;
    char *store_path;                           //  Owned
    cab_store_durability_t durability;
    char *schemas_dir;                          //  Owned; NULL: envelope check only
    json_t *agents;                             //  Owned: {"id": {"sources": [...]}}
    size_t max_in_flight;                       //  Per peer
    int heartbeat_ms;
    int timeout_ms;                             //  Silent peers are forgotten after this
    size_t batch_max;                           //  Events per store transaction
    size_t validators;                          //  Validator threads (0: inline)
    size_t max_peers;
} cab_broker_config_t;

typedef struct _cab_broker_t cab_broker_t;

//  Create a configuration with the defaults and no endpoint, store or
//  agent. Returns NULL when out of memory. Caller owns it and must destroy it.
cab_broker_config_t *
    cab_broker_config_new (void);

//  Destroy a configuration and null the pointer; safe on NULL.
void
    cab_broker_config_destroy (cab_broker_config_t **self_p);

//  Read and validate a JSON configuration file; relative paths in it are
//  taken from the file's directory. Returns a new configuration, or NULL
//  with CAB_ERR_IO (unreadable), CAB_ERR_INVALID_JSON or
//  CAB_ERR_INVALID_CONFIG (error->path is the JSON Pointer of the bad
//  value) in error. Caller owns the return value and must destroy it.
cab_broker_config_t *
    cab_broker_config_load (const char *path, cab_error_t *error);

//  Validate a configuration document (borrowed) as cab_broker_config_load
//  does; base_dir (may be NULL) resolves relative paths.
cab_broker_config_t *
    cab_broker_config_parse (json_t *document, const char *base_dir, cab_error_t *error);

//  Add an endpoint (copied). Returns CAB_OK, CAB_ERR_INVALID_CONFIG when
//  there are too many, CAB_ERR_NOMEM.
cab_status_t
    cab_broker_config_add_endpoint (cab_broker_config_t *self, const char *endpoint);

//  Allow agent_id to publish source ("*": any source). Returns CAB_OK or
//  CAB_ERR_NOMEM.
cab_status_t
    cab_broker_config_allow (cab_broker_config_t *self, const char *agent_id, const char *source);

//  True when the configuration lets agent_id publish events of source.
bool
    cab_broker_config_allows (const cab_broker_config_t *self, const char *agent_id,
                              const char *source);

//  Start a broker with a configuration (stolen: *config_p is nulled, even
//  on failure): open the store, load the schemas, bind every endpoint and
//  start accepting. Returns NULL and fills error on failure:
//  CAB_ERR_INVALID_CONFIG (no endpoint or store), CAB_ERR_IO (an endpoint
//  cannot be bound), CAB_ERR_STORE_UNAVAILABLE / CAB_ERR_UNSUPPORTED_VERSION
//  / CAB_ERR_IO (the store), schema errors from cab_registry_load_dir.
//  Caller owns the return value and must destroy it.
cab_broker_t *
    cab_broker_new (cab_broker_config_t **config_p, cab_error_t *error);

//  Stop accepting, commit and acknowledge every event already taken in,
//  close the store and null the pointer; safe on NULL.
void
    cab_broker_destroy (cab_broker_t **self_p);

//  Return the index-th bound endpoint as resolved ("tcp://127.0.0.1:41234"
//  for "tcp://127.0.0.1:*"), or NULL past the last. Borrowed, valid while
//  the broker lives.
const char *
    cab_broker_endpoint (cab_broker_t *self, size_t index);

//  Return the broker's counters, the STATUS-REPLY document of
//  docs/protocol.md. New reference; NULL if the broker does not answer.
json_t *
    cab_broker_status (cab_broker_t *self);

#endif
