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
#include "cab_rules.h"

//  Hard ceilings of the configurable limits.
#define CAB_BROKER_MAX_ENDPOINTS 8
#define CAB_BROKER_MAX_WINDOW    100000
#define CAB_BROKER_MAX_BATCH     10000
#define CAB_BROKER_MAX_PEERS     65536
#define CAB_BROKER_MAX_VALIDATORS 16
#define CAB_BROKER_MAX_PENDING   1000000
//  Default of the store's "cache_tail_mb" (64 MiB): the newest part of the
//  database file left in the page cache, where every b-tree grows.
#define CAB_BROKER_CACHE_TAIL_BYTES (64LL << 20)
//  Most deliveries a consumer may have unacknowledged (SUBSCRIBE option
//  max_in_flight, default CAB_BROKER_CONSUMER_WINDOW).
#define CAB_BROKER_CONSUMER_MAX  1000
#define CAB_BROKER_CONSUMER_WINDOW 100
//  Longest acknowledgement timeout a subscription may ask for (ms).
#define CAB_BROKER_ACK_TIMEOUT_MAX 86400000

//  A clock: UTC milliseconds since 1970 (tests inject one).
typedef int64_t (cab_broker_clock_fn) (void *arg);

//  A broker configuration (cab_broker_config.c; the file format is in
//  docs/man/cabruca-broker.md). Fields are public and plain: tests build
//  one with cab_broker_config_new and set what they need.
typedef struct {
    char *endpoints [CAB_BROKER_MAX_ENDPOINTS]; //  Owned strings
    size_t endpoint_count;
    char *store_path;                           //  Owned
    cab_store_durability_t durability;
    int64_t cache_tail_bytes;                   //  Drop-behind: the store file's tail kept in
                                                //  the page cache (0: the kernel decides)
    char *schemas_dir;                          //  Owned; NULL: envelope check only
    json_t *agents;                             //  Owned: {"id": {"sources": [...]}}
    size_t max_in_flight;                       //  Per peer
    int heartbeat_ms;
    int timeout_ms;                             //  Silent peers are forgotten after this
    size_t batch_max;                           //  Events per store transaction
    size_t validators;                          //  Validator threads (0: inline)
    size_t max_peers;
    //  Routing and delivery (issue 5)
    char *rules_path;                           //  Owned; NULL: no rule file
    json_t *rules_document;                     //  Owned, or NULL: read from rules_path by
                                                //  cab_broker_new (tests may set it instead)
    char *data_dir;                             //  Owned; NULL: the store's directory
    int64_t archive_ms;                         //  Events kept this long (0: forever)
    int64_t standard_ms, critical_ms;           //  Dead letters kept this long
    int ack_timeout_ms;                         //  An agent's DACK within this, or redelivered
    int backoff_base_ms, backoff_max_ms;        //  Retry backoff (full jitter)
    size_t max_pending_in_memory;               //  Deliveries held in memory, at most
    int sweep_every_ms;                         //  Retention sweep step every this often
    //  Security (issue 11, docs/security.md)
    bool allow_remote;                          //  tcp endpoints may bind non-loopback hosts
    char *curve_secret_key;                     //  Owned; the broker's zcert (secret) file, or
                                                //  NULL: no CURVE
    char *curve_clients_dir;                    //  Owned; the known agents' public certificates
    //  Cloud mirror (issue 7, docs/mirror.md): the "mirror" section
    bool mirror_enabled;                        //  Default true: dry-run without credentials
    bool mirror_dry_run;                        //  Never send, even with credentials
    char *mirror_bus_name;                      //  Owned, or NULL: "cabruca-agents-bus"
    char *mirror_endpoint;                      //  Owned, or NULL: as the AWS SDKs find it
    char *mirror_region;                        //  Owned, or NULL: as the AWS SDKs find it
    size_t mirror_max_in_flight;                //  Concurrent PutEvents requests
    size_t mirror_max_queue;                    //  Outbox rows the worker holds at once
    long mirror_request_timeout_ms;             //  One PutEvents request, whole
    int64_t mirror_failed_retry_ms;             //  A FAILED event is tried again after this
    unsigned mirror_backoff_base_ms;            //  Retry backoff of the sender (full jitter)
    unsigned mirror_backoff_cap_ms;
    unsigned mirror_max_attempts;               //  Requests per event before FAILED (0: no limit)
    char *mirror_cloud_rules;                   //  Owned: the cloud's rule file, or NULL: the
                                                //  broker's own rules
    json_t *budget;                             //  Owned: the "budget" section, or NULL
    cab_broker_clock_fn *mirror_clock;          //  Tests: the mirror's clock (UTC ms), or NULL
    void *mirror_clock_arg;                     //  (not in the file: the wall clock)
    char *config_path;                          //  Owned: the file cab_broker_config_load
                                                //  read (cab_broker_reload reads its
                                                //  "budget" again), or NULL
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

//  Read the configuration's rule file (rules_path) into rules_document
//  unless it is already set, and compile it (log paths relative to
//  data_dir). On CAB_OK *rules_p (may be NULL) is a new rule set (caller
//  unrefs it); a configuration without rules gets an empty set. Errors:
//  CAB_ERR_IO, CAB_ERR_INVALID_JSON (text with file, line and column), and
//  those of cab_rules_parse (error->path points into the rule file).
cab_status_t
    cab_broker_config_load_rules (cab_broker_config_t *self, cab_rules_t **rules_p,
                                  cab_error_t *error);

//  Start a broker with a configuration (stolen: *config_p is nulled, even
//  on failure): open the store, load the schemas, bind every endpoint and
//  start accepting. With curve_secret_key set every endpoint is a CURVE
//  server and an authenticator (czmq zauth) admits only the certificates in
//  curve_clients_dir; without it, an ipc socket file is made owner-only
//  (0600) and tcp endpoints must be loopback unless allow_remote. Returns
//  NULL and fills error on failure: CAB_ERR_INVALID_CONFIG (no endpoint or
//  store, a non-loopback tcp endpoint, an unreadable certificate or clients
//  directory, a second CURVE broker in this process), CAB_ERR_IO (an
//  endpoint cannot be bound or made owner-only, the authenticator does not
//  start), CAB_ERR_STORE_UNAVAILABLE / CAB_ERR_UNSUPPORTED_VERSION
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

//  Replace the rules with a rule document (borrowed; {"rules": [...]} as
//  in docs/rules.md), validated and compiled here first: on an error the
//  old rules stay. New events are routed by the new rules; deliveries
//  already in flight keep the old set alive until they finish; pending
//  deliveries of a rule or target that no longer exists are dead-lettered
//  ("rule removed"); run-time subscriptions are added again to the new
//  set. Returns CAB_OK, the errors of cab_rules_parse (error->path points
//  into the document), CAB_ERR_TIMEOUT (the broker does not answer).
cab_status_t
    cab_broker_set_rules (cab_broker_t *self, json_t *document, cab_error_t *error);

//  Reload (SIGHUP): read the configuration's rule file and call
//  cab_broker_set_rules; then, for a configuration loaded from a file
//  (config_path) with the mirror on, read that file again and hand its
//  "budget" section to the mirror worker, which applies it (counts kept)
//  once the mirror decisions in flight are settled. On an error the old
//  rules and budget stay. Returns CAB_OK, CAB_ERR_INVALID_ARGUMENT (neither
//  a rule file nor a configuration file), CAB_ERR_IO, CAB_ERR_INVALID_JSON,
//  the errors of cab_rules_parse, or those of cab_broker_config_load (a
//  configuration file that is no longer valid: nothing is changed).
cab_status_t
    cab_broker_reload (cab_broker_t *self, cab_error_t *error);

#endif
