/*  =========================================================================
    cab_broker - the broker class: an actor with one poll loop over its
    command pipe, the agents' ROUTER socket and the store writer; the peers
    table (heartbeats, forgetting silent peers) and the counters.
    =========================================================================
*/
#include "config.h"
#include "cab_broker_internal.h"
#include "cab_lines.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

//  Largest number of agents listed by name in STATUS-REPLY.
#define S_STATUS_AGENTS_MAX 100
//  How long the ROUTER keeps unsent replies when the broker stops, ms.
#define S_LINGER_MS 500
//  The ROUTER's receive high-water mark (per peer pipe). Its send HWM is
//  twice the window plus room for heartbeats: a peer that reads never gets
//  near it, a peer that does not read hits it soon (docs/protocol.md).
#define S_ROUTER_RCVHWM         200000
#define S_ROUTER_SNDHWM(window) ((int)(2 * (window) + 1000))
//  Largest message the ROUTER accepts (bigger ones drop the connection).
#define S_MAX_MSG_SIZE (1024 * 1024)

struct _cab_broker_t {
    zactor_t *actor;
    cabi_broker_t *state;  //  Used by the actor's thread while it runs
    char *endpoints[CAB_BROKER_MAX_ENDPOINTS + 1];
};

static void
s_identity_key (zframe_t *identity, char *key)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *data = zframe_data (identity);
    size_t size = zframe_size (identity);
    if (size > CABI_IDENTITY_MAX)
        size = CABI_IDENTITY_MAX;
    for (size_t index = 0; index < size; index++) {
        key[2 * index] = hex[data[index] >> 4];
        key[2 * index + 1] = hex[data[index] & 15];
    }
    key[2 * size] = 0;
}

cabi_peer_t *
cabi_broker_peer (cabi_broker_t *self, zframe_t *identity)
{
    //  Messages come in runs from one peer (a publisher's window, then its
    //  ACKs): the last peer found is checked first, byte for byte.
    cabi_peer_t *last = self->last_peer;
    size_t size = zframe_size (identity);
    if (last && zframe_size (last->identity) == size &&
        memcmp (zframe_data (last->identity), zframe_data (identity), size) == 0)
        return last;
    char key[2 * CABI_IDENTITY_MAX + 1];
    s_identity_key (identity, key);
    cabi_peer_t *peer = (cabi_peer_t *)zhashx_lookup (self->peers, key);
    if (peer)
        self->last_peer = peer;
    return peer;
}

static void
s_peer_destroy (void **item_p)
{
    cabi_peer_t *peer = (cabi_peer_t *)*item_p;
    if (peer) {
        zframe_destroy (&peer->identity);
        free (peer->cert_sources);
        free (peer->cert_queues);
        free (peer->cert_reads);
        zlistx_destroy (&peer->consumers);  //  The consumers belong to their queues
        free (peer);
        *item_p = NULL;
    }
}

cabi_peer_t *
cabi_broker_peer_add (cabi_broker_t *self, zframe_t *identity)
{
    cabi_peer_t *peer = cabi_broker_peer (self, identity);
    if (peer)
        return peer;
    if (zhashx_size (self->peers) >= self->config->max_peers)
        return NULL;
    peer = (cabi_peer_t *)calloc (1, sizeof *peer);
    if (!peer)
        return NULL;
    s_identity_key (identity, peer->key);
    peer->identity = zframe_dup (identity);
    peer->last_seen = zclock_mono ();
    if (!peer->identity || zhashx_insert (self->peers, peer->key, peer) != 0) {
        void *item = peer;
        s_peer_destroy (&item);
        return NULL;
    }
    return peer;
}

void
cabi_broker_peer_forget (cabi_broker_t *self, cabi_peer_t *peer)
{
    //  Its events at the writer are still answered, by routing id; its
    //  unacknowledged deliveries go to other consumers.
    cabi_queue_peer_gone (self, peer);
    self->peers_forgotten++;
    if (self->last_peer == peer)
        self->last_peer = NULL;
    zhashx_delete (self->peers, peer->key);
}

//  After a reply to identity's peer (peer, or NULL: looked up): a success
//  (error 0) clears its failures; a failure is counted, and a peer that
//  is gone or does not read is forgotten.
static void
s_after_send (cabi_broker_t *self, zframe_t *identity, cabi_peer_t *peer, int error)
{
    if (error)
        self->send_failures++;
    if (!peer)
        peer = cabi_broker_peer (self, identity);
    if (!peer)
        return;
    if (!error) {
        peer->send_failures = 0;
        return;
    }
    if (error == EHOSTUNREACH) {
        cabi_broker_peer_forget (self, peer);  //  Disconnected
        return;
    }
    //  The peer does not read: its pipe is full. Drop this reply; past a
    //  whole window of failures, forget the peer.
    if (peer->send_failures++ == 0)
        zsys_warning ("cabruca-broker: agent '%s' does not read its replies (%s); dropping them",
                      peer->agent_id[0] ? peer->agent_id : "?", zmq_strerror (error));
    if (peer->send_failures > self->config->max_in_flight) {
        zsys_warning ("cabruca-broker: forgetting agent '%s' after %" PRIu64 " dropped replies",
                      peer->agent_id[0] ? peer->agent_id : "?", peer->send_failures);
        cabi_broker_peer_forget (self, peer);
    }
}

void
cabi_broker_send (cabi_broker_t *self, zframe_t *identity, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    zframe_t *copy = zframe_dup (identity);
    if (!msg || !copy || zmsg_prepend (msg, &copy) != 0) {
        zframe_destroy (&copy);
        zmsg_destroy (&msg);
        self->send_failures++;
        return;
    }
    int error = zmsg_send (&msg, self->router) == 0 ? 0 : errno;
    zmsg_destroy (&msg);
    s_after_send (self, identity, NULL, error);
}

void
cabi_broker_reply (cabi_broker_t *self, cabi_peer_t *peer, zframe_t *identity,
                   const cabi_proto_t *msg)
{
    int rc = cabi_proto_send (zsock_resolve (self->router), zframe_data (identity),
                              zframe_size (identity), msg);
    s_after_send (self, identity, peer, rc == 0 ? 0 : errno);
}

//  Send heartbeats and forget the peers that went silent. (The peers are
//  listed first: a lookup in the table moves the table's cursor.)
static void
s_heartbeat (cabi_broker_t *self, int64_t now)
{
    zlistx_t *peers = zlistx_new ();
    if (!peers)
        return;
    for (cabi_peer_t *peer = (cabi_peer_t *)zhashx_first (self->peers); peer;
         peer = (cabi_peer_t *)zhashx_next (self->peers))
        zlistx_add_end (peers, peer);
    for (cabi_peer_t *peer = (cabi_peer_t *)zlistx_first (peers); peer;
         peer = (cabi_peer_t *)zlistx_next (peers)) {
        //  cabi_broker_send may have forgotten it meanwhile.
        if (zhashx_lookup (self->peers, peer->key) != peer)
            continue;
        if (now - peer->last_seen > self->config->timeout_ms)
            cabi_broker_peer_forget (self, peer);
        else if (peer->session) {
            zmsg_t *msg = cabi_proto_new_simple (CABI_PROTO_HEARTBEAT);
            cabi_broker_send (self, peer->identity, &msg);
        }
    }
    zlistx_destroy (&peers);
}

static json_t *
s_counts (const uint64_t *counts)
{
    json_t *object = json_object ();
    for (int code = 1; code < CAB_STATUS_COUNT_; code++)
        if (counts[code])
            json_object_set_new (object, cab_status_name ((cab_status_t)code),
                                 json_integer ((json_int_t)counts[code]));
    return object;
}

json_t *
cabi_broker_status (cabi_broker_t *self)
{
    int64_t now = zclock_mono ();
    uint64_t nacked = 0, connected = 0;
    for (int code = 1; code < CAB_STATUS_COUNT_; code++)
        nacked += self->nacked[code];
    json_t *agents = json_array ();
    for (cabi_peer_t *peer = (cabi_peer_t *)zhashx_first (self->peers); peer;
         peer = (cabi_peer_t *)zhashx_next (self->peers)) {
        if (!peer->session)
            continue;
        if (connected++ < S_STATUS_AGENTS_MAX)
            json_array_append_new (agents,
                                   json_pack ("{s:s,s:I,s:I}", "agent_id", peer->agent_id,
                                              "in_flight", (json_int_t)peer->in_flight, "idle_ms",
                                              (json_int_t)(now - peer->last_seen)));
    }
    cabi_writer_stats_t *ws = &self->writer_stats;
    int64_t commits = __atomic_load_n (&ws->commits, __ATOMIC_RELAXED);
    int64_t commit_us = __atomic_load_n (&ws->commit_us, __ATOMIC_RELAXED);
    json_t *status = json_pack (
        "{s:s,s:i,s:I,s:I,s:I,s:I,s:o,s:I,s:o,s:I,s:I,s:I,s:I,s:o,"
        "s:{s:s,s:s,s:I,s:I,s:I,s:I,s:f,s:I},"
        "s:o}",
        "broker", "cabruca " PACKAGE_VERSION, "protocol", CABI_PROTO_VERSION, "uptime_ms",
        (json_int_t)(now - self->started), "received", (json_int_t)self->received, "stored",
        (json_int_t)self->stored, "duplicates", (json_int_t)self->duplicates, "nacked",
        s_counts (self->nacked), "nacked_total", (json_int_t)nacked, "errors",
        s_counts (self->errors), "send_failures", (json_int_t)self->send_failures,
        "peers_forgotten", (json_int_t)self->peers_forgotten, "in_flight",
        (json_int_t)self->in_flight, "connected_agents", (json_int_t)connected, "agents", agents,
        "store", "path", self->config->store_path, "durability",
        self->config->durability == CAB_STORE_FULL ? "full" : "normal", "bytes",
        (json_int_t)__atomic_load_n (&ws->store_bytes, __ATOMIC_RELAXED), "last_seq",
        (json_int_t)__atomic_load_n (&ws->last_seq, __ATOMIC_RELAXED), "commits",
        (json_int_t)commits, "failures",
        (json_int_t)__atomic_load_n (&ws->failures, __ATOMIC_RELAXED), "mean_commit_ms",
        commits ? commit_us / 1000.0 / commits : 0.0, "gap_holds", (json_int_t)self->gap_holds,
        "delivery", cabi_delivery_status (self));
    if (status)
        json_object_set_new (status, "mirror", cabi_mirror_status (self));
    return status;
}

//  Open the registry, the writer and the ROUTER; bind. Returns CAB_OK or
//  an error; on success `endpoints` gets the resolved endpoints.
static cab_status_t
s_setup (cabi_broker_t *self, zlistx_t *endpoints, cab_error_t *error)
{
    cab_broker_config_t *config = self->config;
    if (config->endpoint_count == 0 || !config->store_path)
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                              "a broker needs at least one endpoint and a store");
    if (config->schemas_dir) {
        self->registry = cab_registry_new ();
        if (!self->registry)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        cab_status_t status = cab_registry_load_dir (self->registry, config->schemas_dir, error);
        if (status != CAB_OK)
            return status;
    }
    for (size_t index = 0; index < config->validators; index++) {
        self->validators[index] = cabi_validator_new (config, (int)index);
        if (!self->validators[index])
            return cab_error_set (error, CAB_ERR_INTERNAL, NULL, "cannot start validator %zu",
                                  index);
        self->validator_count++;
    }
    //  Without it the batch cut waits in whole milliseconds (poll's unit).
    self->cut_timer = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    self->chunks = zlistx_new ();
    self->peers = zhashx_new ();
    self->accum = cabi_batch_new (config->batch_max);
    self->spare = cabi_batch_new (config->batch_max);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->chunks || !self->peers || !self->accum || !self->spare || !self->router)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    zhashx_set_destructor (self->peers, s_peer_destroy);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndhwm (self->router, S_ROUTER_SNDHWM (config->max_in_flight));
    zsock_set_rcvhwm (self->router, S_ROUTER_RCVHWM);
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_rcvtimeo (self->router, 0);
    zsock_set_maxmsgsize (self->router, S_MAX_MSG_SIZE);
    zsock_set_linger (self->router, S_LINGER_MS);
    cab_store_retention_t retention = {config->archive_ms, config->standard_ms,
                                       config->critical_ms};
    self->writer =
        cabi_writer_new (config->store_path, config->durability, &retention, config->sweep_every_ms,
                         config->cache_tail_bytes, &self->writer_stats, error);
    if (!self->writer)
        return error ? error->code : CAB_ERR_STORE_UNAVAILABLE;
    cab_status_t status = cabi_delivery_setup (self, error);
    if (status == CAB_OK)
        status = cabi_mirror_setup (self, error);
    if (status == CAB_OK)
        status = cabi_security_setup (self, error);
    if (status != CAB_OK)
        return status;
    for (size_t index = 0; index < config->endpoint_count; index++) {
        if (zsock_bind (self->router, "%s", config->endpoints[index]) < 0)
            return cab_error_set (error, CAB_ERR_IO, NULL, "cannot bind %s: %s",
                                  config->endpoints[index], zmq_strerror (zmq_errno ()));
        char *resolved = zsock_last_endpoint (self->router);
        status = cabi_security_bound (self, resolved ? resolved : config->endpoints[index], error);
        zlistx_add_end (endpoints, resolved ? resolved : config->endpoints[index]);
        zstr_free (&resolved);
        if (status != CAB_OK)
            return status;
    }
    return CAB_OK;
}

//  True while something taken in is not answered yet.
static bool
s_busy (cabi_broker_t *self)
{
    return self->writer_busy || !cabi_batch_empty (self->accum) || zlistx_size (self->chunks) > 0 ||
           (self->chunk && self->chunk->count > 0) || cabi_mirror_draining (self);
}

//  A rule change handed to the actor (cab_broker_set_rules).
typedef struct {
    json_t *document;
    cab_rules_t *rules;
} s_rules_change_t;

//  A command on the actor's pipe. Returns false on $TERM.
static bool
s_command (cabi_broker_t *self, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv (pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    bool go_on = command && !streq (command, "$TERM");
    if (go_on && streq (command, "STATUS")) {
        json_t *status = cabi_broker_status (self);
        char *text = status ? json_dumps (status, JSON_COMPACT) : NULL;
        zstr_send (pipe, text ? text : "{}");
        free (text);
        json_decref (status);
    } else if (go_on && streq (command, "RULES")) {
        zframe_t *frame = zmsg_pop (msg);
        s_rules_change_t *change = NULL;
        if (frame && zframe_size (frame) == sizeof change)
            memcpy (&change, zframe_data (frame), sizeof change);
        zframe_destroy (&frame);
        if (change) {
            cabi_delivery_set_rules (self, &change->document, &change->rules);
            self->rules_gen++;
            cabi_mirror_rules (self, self->rules_document);
            zsys_info ("cabruca-broker: rules replaced (%zu rules)", cab_rules_count (self->rules));
        }
        zstr_send (pipe, "OK");
    } else if (go_on && streq (command, "BUDGET")) {
        //  A json_t (stolen): the mirror worker takes it.
        zframe_t *frame = zmsg_pop (msg);
        json_t *budget = NULL;
        if (frame && zframe_size (frame) == sizeof budget)
            memcpy (&budget, zframe_data (frame), sizeof budget);
        zframe_destroy (&frame);
        cabi_mirror_budget (self, budget);
        zstr_send (pipe, "OK");
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
    return go_on;
}

//  The poll's wait (ms) with the batch cut's: a batch held back by the
//  commit gap is due in microseconds, which the timer (armed once per
//  gap) measures; without a timer, the wait is rounded up to 1 ms.
static long
s_cut_timer (cabi_broker_t *self, long wait)
{
    int64_t held = cabi_broker_cut_wait (self);
    if (held < 0)
        return wait;
    if (held == 0)
        return 0;
    if (self->cut_timer < 0)
        return wait < 1 ? wait : 1;
    if (self->cut_armed_for != self->dispatched_us) {
        struct itimerspec spec = {{0, 0},
                                  {(time_t)(held / 1000000), (long)(held % 1000000) * 1000}};
        if (timerfd_settime (self->cut_timer, 0, &spec, NULL) != 0)
            return wait < 1 ? wait : 1;
        self->cut_armed_for = self->dispatched_us;
    }
    return wait;
}

//  The actor's loop: until $TERM, then drain.
static void
s_run (cabi_broker_t *self, zsock_t *pipe)
{
    bool terminating = false;
    int64_t next_heartbeat = zclock_mono () + self->config->heartbeat_ms;
    //  The pipe, the writer, the sender, the validators, the mirror worker,
    //  the batch cut's timer, and last the ROUTER.
    zmq_pollitem_t items[6 + CAB_BROKER_MAX_VALIDATORS];
    size_t count = 0;
    items[count++] = (zmq_pollitem_t){zsock_resolve (pipe), 0, ZMQ_POLLIN, 0};
    items[count++] = (zmq_pollitem_t){zsock_resolve (self->writer), 0, ZMQ_POLLIN, 0};
    items[count++] = (zmq_pollitem_t){zsock_resolve (self->sender), 0, ZMQ_POLLIN, 0};
    for (size_t index = 0; index < self->validator_count; index++)
        items[count++] =
            (zmq_pollitem_t){zsock_resolve (self->validators[index]), 0, ZMQ_POLLIN, 0};
    size_t mirror_item = count;
    if (self->mirror)
        items[count++] = (zmq_pollitem_t){zsock_resolve (self->mirror), 0, ZMQ_POLLIN, 0};
    size_t timer_item = count;
    if (self->cut_timer >= 0)
        items[count++] = (zmq_pollitem_t){NULL, self->cut_timer, ZMQ_POLLIN, 0};
    items[count] = (zmq_pollitem_t){zsock_resolve (self->router), 0, ZMQ_POLLIN, 0};
    while (!terminating || s_busy (self)) {
        //  Back-pressure: while the queues are full, leave the ROUTER alone;
        //  when draining, read nothing more from it.
        bool read_router = !terminating && cabi_broker_can_read (self);
        int64_t now = zclock_mono ();
        long wait = next_heartbeat > now ? (long)(next_heartbeat - now) : 0;
        if (!terminating) {
            //  The delivery timers are on the wall clock.
            int64_t timer = cabi_delivery_next_timer (self);
            int64_t wall = zclock_time ();
            if (timer != INT64_MAX && timer - wall < wait)
                wait = timer > wall ? (long)(timer - wall) : 0;
        }
        wait = s_cut_timer (self, wait);
        if (zmq_poll (items, (int)(read_router ? count + 1 : count), wait) < 0)
            break;  //  Interrupted: the context is going down
        if (self->cut_timer >= 0 && (items[timer_item].revents & ZMQ_POLLIN)) {
            //  Clear the expiry; its only effect is this turn of the loop.
            uint64_t expirations;
            ssize_t got = read (self->cut_timer, &expirations, sizeof expirations);
            (void)got;
        }
        if ((items[0].revents & ZMQ_POLLIN) && !s_command (self, pipe)) {
            terminating = self->terminating = true;
            cabi_mirror_drain (self);  //  Its last outcomes are committed too
        }
        if (items[1].revents & ZMQ_POLLIN) {
            cabi_task_t *task = NULL;
            cabi_batch_t *batch = cabi_writer_recv (self->writer, &task);
            if (batch) {
                cabi_mirror_committed (self, batch);
                cabi_broker_answer (self, batch);
            } else if (task)
                cabi_control_task_done (self, task);
        }
        if ((items[2].revents & ZMQ_POLLIN) && !terminating)
            cabi_delivery_sent (self);
        for (size_t index = 0; index < self->validator_count; index++)
            if (items[3 + index].revents & ZMQ_POLLIN) {
                cabi_chunk_t *chunk = cabi_validator_recv (self->validators[index]);
                if (chunk)
                    cabi_broker_validated (self, chunk);
            }
        if (self->mirror && (items[mirror_item].revents & ZMQ_POLLIN))
            cabi_mirror_recv (self);
        if (read_router && (items[count].revents & ZMQ_POLLIN))
            cabi_broker_ingest (self);
        if (!terminating)
            cabi_delivery_timers (self, zclock_time ());
        cabi_mirror_attach (self);
        cabi_broker_dispatch (self);
        now = zclock_mono ();
        if (now >= next_heartbeat) {
            s_heartbeat (self, now);
            next_heartbeat = now + self->config->heartbeat_ms;
        }
    }
    //  Drained: tell the agents the session ends (they will say HELLO again).
    for (cabi_peer_t *peer = (cabi_peer_t *)zhashx_first (self->peers); peer;
         peer = (cabi_peer_t *)zhashx_next (self->peers))
        if (peer->session) {
            zmsg_t *msg = cabi_proto_new_simple (CABI_PROTO_BYE);
            zframe_t *copy = zframe_dup (peer->identity);
            zmsg_prepend (msg, &copy);
            zmsg_send (&msg, self->router);
            zmsg_destroy (&msg);
        }
}

static void
s_broker_actor (zsock_t *pipe, void *arg)
{
    cabi_broker_t *self = (cabi_broker_t *)arg;
    pthread_setname_np (pthread_self (), "cab-broker");
    zsock_signal (pipe, 0);
    self->started = zclock_mono ();
    cab_error_t error;
    cab_error_clear (&error);
    zlistx_t *endpoints = zlistx_new ();
    zlistx_set_duplicator (endpoints, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor (endpoints, (zlistx_destructor_fn *)zstr_free);
    cab_status_t status = endpoints ? s_setup (self, endpoints, &error) : CAB_ERR_NOMEM;
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, status == CAB_OK ? "READY" : "ERROR");
    zmsg_addstrf (reply, "%d", (int)status);
    zmsg_addstr (reply, error.path);
    zmsg_addstr (reply, error.text);
    for (char *endpoint = (char *)zlistx_first (endpoints); endpoint;
         endpoint = (char *)zlistx_next (endpoints))
        zmsg_addstr (reply, endpoint);
    zlistx_destroy (&endpoints);
    zmsg_send (&reply, pipe);
    if (status == CAB_OK)
        s_run (self, pipe);
    else {
        char *command = NULL;
        while ((command = zstr_recv (pipe)) && !streq (command, "$TERM"))
            zstr_free (&command);
        zstr_free (&command);
    }
    cabi_mirror_teardown (self);
    for (size_t index = 0; index < self->validator_count; index++)
        zactor_destroy (&self->validators[index]);
    cabi_chunk_t *chunk;
    while (self->chunks && (chunk = (cabi_chunk_t *)zlistx_detach (self->chunks, NULL)))
        cabi_chunk_destroy (&chunk);  //  Only after an interrupted loop
    zlistx_destroy (&self->chunks);
    cabi_chunk_destroy (&self->chunk);
    zactor_destroy (&self->writer);  //  After the drain: every batch is answered
    zsock_destroy (&self->router);
    if (self->cut_timer >= 0)
        close (self->cut_timer);
    cabi_security_teardown (self);
    cabi_batch_destroy (&self->accum);
    cabi_batch_destroy (&self->spare);
    self->last_peer = NULL;
    zhashx_destroy (&self->peers);  //  Before the queues: peers list their consumers
    cabi_delivery_teardown (self);
    cab_registry_destroy (&self->registry);
}

cab_broker_t *
cab_broker_new (cab_broker_config_t **config_p, cab_error_t *error)
{
    assert (config_p);
    cab_broker_config_t *config = *config_p;
    *config_p = NULL;
    cab_broker_t *self = (cab_broker_t *)calloc (1, sizeof *self);
    if (self)
        self->state = (cabi_broker_t *)calloc (1, sizeof *self->state);
    if (!config || !self || !self->state) {
        cab_error_set (error, config ? CAB_ERR_NOMEM : CAB_ERR_INVALID_ARGUMENT, NULL,
                       config ? "out of memory" : "no configuration");
        cab_broker_config_destroy (&config);
        if (self)
            free (self->state);
        free (self);
        return NULL;
    }
    self->state->config = config;
    self->state->cut_timer = -1;
    self->actor = zactor_new (s_broker_actor, self->state);
    zmsg_t *reply = self->actor ? zmsg_recv (self->actor) : NULL;
    char *word = reply ? zmsg_popstr (reply) : NULL;
    char *code = reply ? zmsg_popstr (reply) : NULL;
    char *path = reply ? zmsg_popstr (reply) : NULL;
    char *text = reply ? zmsg_popstr (reply) : NULL;
    bool ready = word && streq (word, "READY");
    if (!ready)
        cab_error_set (error, code ? (cab_status_t)strtol (code, NULL, 10) : CAB_ERR_INTERNAL,
                       path && *path ? path : NULL, "%s", text ? text : "the broker did not start");
    for (size_t index = 0; ready && index < CAB_BROKER_MAX_ENDPOINTS; index++)
        self->endpoints[index] = zmsg_popstr (reply);
    zstr_free (&word);
    zstr_free (&code);
    zstr_free (&path);
    zstr_free (&text);
    zmsg_destroy (&reply);
    if (!ready)
        cab_broker_destroy (&self);
    return self;
}

void
cab_broker_destroy (cab_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_broker_t *self = *self_p;
    zactor_destroy (&self->actor);
    if (self->state)
        cab_broker_config_destroy (&self->state->config);
    free (self->state);
    for (size_t index = 0; index < CAB_BROKER_MAX_ENDPOINTS; index++)
        zstr_free (&self->endpoints[index]);
    free (self);
    *self_p = NULL;
}

const char *
cab_broker_endpoint (cab_broker_t *self, size_t index)
{
    assert (self);
    return index < CAB_BROKER_MAX_ENDPOINTS ? self->endpoints[index] : NULL;
}

json_t *
cab_broker_status (cab_broker_t *self)
{
    assert (self);
    if (zstr_send (self->actor, "STATUS") != 0)
        return NULL;
    char *text = zstr_recv (self->actor);
    json_t *status = text ? json_loads (text, 0, NULL) : NULL;
    zstr_free (&text);
    return status;
}

cab_status_t
cab_broker_set_rules (cab_broker_t *self, json_t *document, cab_error_t *error)
{
    assert (self);
    s_rules_change_t change = {NULL, NULL};
    change.rules = cab_rules_parse (document, self->state->config->data_dir, error);
    if (!change.rules)
        return error && error->code ? error->code : CAB_ERR_INVALID_CONFIG;
    change.document = json_deep_copy (document);
    if (!change.document) {
        cab_rules_unref (&change.rules);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    s_rules_change_t *pointer = &change;
    char *answer = NULL;
    if (zsock_send (self->actor, "sb", "RULES", &pointer, sizeof pointer) == 0)
        answer = zstr_recv (self->actor);
    bool done = answer && streq (answer, "OK");
    zstr_free (&answer);
    //  Whatever the actor did not take is ours to free.
    json_decref (change.document);
    cab_rules_unref (&change.rules);
    return done ? CAB_OK
                : cab_error_set (error, CAB_ERR_TIMEOUT, NULL, "the broker did not answer");
}

static cab_status_t s_reload_rules (cab_broker_t *self, const char *path, cab_error_t *error);

cab_status_t
cab_broker_reload (cab_broker_t *self, cab_error_t *error)
{
    assert (self);
    const cab_broker_config_t *config = self->state->config;
    const char *path = config->rules_path;
    if (!path && !config->config_path)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "the configuration names no rule file");
    //  The configuration file first: when it is no longer valid, nothing
    //  changes.
    cab_broker_config_t *fresh = NULL;
    if (config->config_path && config->mirror_enabled &&
        !(fresh = cab_broker_config_load (config->config_path, error)))
        return error && error->code ? error->code : CAB_ERR_INVALID_CONFIG;
    cab_status_t status = path ? s_reload_rules (self, path, error) : CAB_OK;
    if (status == CAB_OK && fresh) {
        //  The new budget section (null: the defaults) to the mirror worker.
        json_t *budget = fresh->budget ? json_deep_copy (fresh->budget) : json_null ();
        char *answer = NULL;
        if (budget && zsock_send (self->actor, "sp", "BUDGET", budget) == 0)
            answer = zstr_recv (self->actor);
        else
            json_decref (budget);
        if (!answer || !streq (answer, "OK"))
            status = cab_error_set (error, CAB_ERR_TIMEOUT, NULL, "the broker did not answer");
        zstr_free (&answer);
    }
    cab_broker_config_destroy (&fresh);
    return status;
}

//  Read a rule file and hand it to the broker.
static cab_status_t
s_reload_rules (cab_broker_t *self, const char *path, cab_error_t *error)
{
    char *text = cab_file_read (path, CAB_RULES_FILE_MAX, NULL, error);
    if (!text)
        return error ? error->code : CAB_ERR_IO;
    json_error_t json_error;
    json_t *document = json_loads (text, JSON_REJECT_DUPLICATES, &json_error);
    free (text);
    if (!document)
        return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "%s:%d:%d: %s", path,
                              json_error.line, json_error.column, json_error.text);
    cab_status_t status = cab_broker_set_rules (self, document, error);
    json_decref (document);
    return status;
}
