/*  =========================================================================
    cab_broker_queue - agent queues and their consumers

    An `agent` target names a queue. Agents consume a queue by subscribing
    to it (SUBSCRIBE, docs/protocol.md "Consuming"); the consumers of one
    queue share its deliveries round robin, each up to its own max_in_flight
    unacknowledged (its credit). A DELIVER is acknowledged by DACK (done) or
    refused by DNACK (retried with backoff); without an answer within
    ack_timeout_ms it is retried too. When a consumer goes away (UNSUBSCRIBE,
    BYE, silence, a new HELLO) its unacknowledged deliveries go back to the
    queue at once, for another consumer.

    A subscription may carry an event pattern: the broker then adds a rule
    "sub:<queue>" with that pattern for as long as the subscription lasts
    (ephemeral), or, with "durable": true, until a durable subscriber of the
    queue says UNSUBSCRIBE: durable patterns are kept in
    data_dir/subscriptions.json and route events across sessions and
    restarts (the deliveries wait in the store while nobody consumes).

    Who may subscribe to what (agents.ID.subscribe and read_sources, or a
    CURVE certificate's "queues" and "read_sources") is checked by
    cab_broker_security.c; every refusal is counted by code (STATUS-REPLY
    delivery.subscriptions_refused).
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <stdlib.h>
#include <string.h>

//  Most subscriptions of one peer.
#define S_PEER_SUBSCRIPTIONS_MAX 64
//  A queue's ready list holds at most 1/S_QUEUE_SHARE of the window; its
//  deliveries beyond wait in the store until it is down to half of that.
#define S_QUEUE_SHARE 4

bool
cabi_queue_full (cabi_broker_t *self, cabi_queue_t *queue)
{
    return zlistx_size (queue->consumers) == 0 ||
           zlistx_size (queue->ready) >= self->config->max_pending_in_memory / S_QUEUE_SHARE;
}

static void
s_consumer_free (cabi_consumer_t *consumer)
{
    zlistx_destroy (&consumer->flight);
    json_decref (consumer->pattern);
    free (consumer);
}

void
cabi_queue_destroy (void **item_p)
{
    cabi_queue_t *queue = (cabi_queue_t *)*item_p;
    if (!queue)
        return;
    //  Only at the end of the broker, after the peers (which list their
    //  consumers but do not own them).
    cabi_consumer_t *consumer;
    while (queue->consumers &&
           (consumer = (cabi_consumer_t *)zlistx_detach (queue->consumers, NULL)))
        s_consumer_free (consumer);
    zlistx_destroy (&queue->consumers);
    zlistx_destroy (&queue->ready);
    free (queue);
    *item_p = NULL;
}

cabi_queue_t *
cabi_queue_get (cabi_broker_t *self, const char *name, bool create)
{
    cabi_queue_t *queue = (cabi_queue_t *)zhashx_lookup (self->queues, name);
    if (queue || !create)
        return queue;
    queue = (cabi_queue_t *)calloc (1, sizeof *queue);
    if (!queue)
        return NULL;
    snprintf (queue->name, sizeof queue->name, "%s", name);
    queue->ready = zlistx_new ();
    queue->consumers = zlistx_new ();
    if (!queue->ready || !queue->consumers || zhashx_insert (self->queues, name, queue) != 0) {
        void *item = queue;
        cabi_queue_destroy (&item);
        return NULL;
    }
    return queue;
}

//  Send a DELIVER straight on the ROUTER. A peer that is gone or does not
//  read is not forgotten here (that would change the lists being served):
//  the caller marks its consumer stalled.
static bool
s_send (cabi_broker_t *self, cabi_peer_t *peer, const cabi_proto_t *msg)
{
    //  As parts (cabi_proto_send): no zmsg_t, no zframe_t per frame.
    if (cabi_proto_send (zsock_resolve (self->router), zframe_data (peer->identity),
                         zframe_size (peer->identity), msg) != 0) {
        if (errno == EHOSTUNREACH)
            peer->last_seen = 0;  //  Gone: forgotten at the next heartbeat
        self->send_failures++;
        return false;
    }
    return true;
}

//  A consumer of queue with credit, round robin, or NULL.
static cabi_consumer_t *
s_next_consumer (cabi_queue_t *queue)
{
    for (cabi_consumer_t *consumer = (cabi_consumer_t *)zlistx_first (queue->consumers); consumer;
         consumer = (cabi_consumer_t *)zlistx_next (queue->consumers))
        if (!consumer->stalled && zlistx_size (consumer->flight) < consumer->max_in_flight)
            return consumer;
    return NULL;
}

//  Give the queue's ready deliveries to its consumers while they have credit.
static void
s_serve (cabi_broker_t *self, cabi_queue_t *queue)
{
    cabi_consumer_t *consumer;
    cabi_delivery_t *d;
    while ((d = (cabi_delivery_t *)zlistx_first (queue->ready)) &&
           (consumer = s_next_consumer (queue))) {
        zlistx_delete (queue->ready, d->handle);
        d->handle = NULL;
        char *owned = NULL;
        const char *data = NULL;
        size_t size = 0;
        cab_error_t error;
        cab_error_clear (&error);
        if (cabi_delivery_payload (self, d, &owned, &data, &size, &error) != CAB_OK) {
            cabi_delivery_failed (self, d, error.text, error.code != CAB_ERR_NOMEM, false);
            continue;
        }
        int attempt = d->attempts + 1 > 999 ? 999 : d->attempts + 1;
        cabi_proto_t msg = {.command = CABI_PROTO_DELIVER,
                            .delivery = (uint64_t)d->id,
                            .attempt = attempt,
                            .body = data,
                            .body_size = size};
        cabi_proto_copy (msg.queue, sizeof msg.queue, queue->name);
        bool sent = s_send (self, consumer->peer, &msg);
        free (owned);
        if (!sent) {
            consumer->stalled = true;
            d->handle = zlistx_add_start (queue->ready, d);
            continue;
        }
        d->where = CABI_DELIVERY_FLIGHT;
        d->consumer = consumer;
        d->handle = zlistx_add_end (consumer->flight, d);
        queue->unacked++;
        cabi_delivery_due (self, d, zclock_time () + consumer->ack_timeout_ms);
        //  Round robin: the one just served goes last.
        zlistx_move_end (queue->consumers, consumer->queue_handle);
    }
    //  Drained enough: its deliveries waiting in the store come back.
    if (queue->stored && zlistx_size (queue->consumers) > 0 &&
        zlistx_size (queue->ready) < self->config->max_pending_in_memory / S_QUEUE_SHARE / 2) {
        queue->stored = false;
        cabi_delivery_reload_queue (self);
    }
}

void
cabi_queue_push (cabi_broker_t *self, cabi_delivery_t *d, bool head)
{
    cabi_queue_t *queue = cabi_queue_get (self, d->target->queue, true);
    if (!queue) {
        cabi_delivery_failed (self, d, "out of memory", false, false);
        return;
    }
    d->where = CABI_DELIVERY_READY;
    d->consumer = NULL;
    d->handle = head ? zlistx_add_start (queue->ready, d) : zlistx_add_end (queue->ready, d);
    s_serve (self, queue);
}

void
cabi_queue_detach (cabi_broker_t *self, cabi_delivery_t *d)
{
    if (d->consumer) {
        cabi_queue_t *queue = d->consumer->queue;
        if (d->handle)
            zlistx_delete (d->consumer->flight, d->handle);
        if (queue->unacked > 0)
            queue->unacked--;
        d->consumer = NULL;
    } else if (d->handle) {
        cabi_queue_t *queue = cabi_queue_get (self, d->target->queue, false);
        if (queue)
            zlistx_delete (queue->ready, d->handle);
    }
    d->handle = NULL;
}

//  Answer a SUBSCRIBE: {"ok":true,...} or a refusal.
static void
s_subscribed (cabi_broker_t *self, cabi_peer_t *peer, const char *queue, json_t *answer)
{
    if (!json_is_true (json_object_get (answer, "ok"))) {
        json_int_t code = json_integer_value (json_object_get (answer, "code"));
        self->sub_refused[code > 0 && code < CAB_STATUS_COUNT_ ? code : CAB_ERR_NOMEM]++;
    }
    char *text = answer ? json_dumps (answer, JSON_COMPACT) : NULL;
    json_decref (answer);
    zmsg_t *msg = cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBED, queue,
                                            text ? text : "{\"ok\":false,\"code\":1}");
    free (text);
    cabi_broker_send (self, peer->identity, &msg);
}

static cabi_consumer_t *
s_find (cabi_peer_t *peer, const char *queue)
{
    if (!peer->consumers)
        return NULL;
    for (cabi_consumer_t *consumer = (cabi_consumer_t *)zlistx_first (peer->consumers); consumer;
         consumer = (cabi_consumer_t *)zlistx_next (peer->consumers))
        if (strcmp (consumer->queue->name, queue) == 0)
            return consumer;
    return NULL;
}

//  End a subscription: its unacknowledged deliveries back to the queue.
static void
s_end (cabi_broker_t *self, cabi_consumer_t *consumer, bool rebuild)
{
    cabi_queue_t *queue = consumer->queue;
    zlistx_delete (queue->consumers, consumer->queue_handle);
    if (consumer->peer->consumers)
        zlistx_delete (consumer->peer->consumers, consumer->peer_handle);
    //  Out of every list first, so that requeued deliveries go to others.
    cabi_delivery_t *d;
    while ((d = (cabi_delivery_t *)zlistx_first (consumer->flight))) {
        cabi_queue_detach (self, d);
        cabi_delivery_failed (self, d, "consumer gone", false, true);
    }
    bool had_pattern = consumer->pattern != NULL;
    s_consumer_free (consumer);
    if (had_pattern && rebuild) {
        cab_error_t error;
        cab_error_clear (&error);
        if (cabi_delivery_rebuild_rules (self, &error) != CAB_OK)
            zsys_warning ("cabruca-broker: cannot drop a subscription's rule: %s", error.text);
    }
}

//  Add a durable pattern to queue (kept in the file, routing at once).
static cab_status_t
s_durable_add (cabi_broker_t *self, const char *queue, json_t *pattern, cab_error_t *error)
{
    json_t *list = json_object_get (self->durable, queue);
    size_t index, total = 0;
    json_t *have;
    json_array_foreach (list, index, have)
    {
        if (json_equal (have, pattern))
            return CAB_OK;  //  Subscribed again (a reconnection)
    }
    const char *name;
    json_t *patterns;
    json_object_foreach (self->durable, name, patterns) total += json_array_size (patterns);
    if (total >= CABI_DURABLE_MAX)
        return cab_error_set (error, CAB_ERR_BUSY, NULL, "%d durable subscription patterns already",
                              CABI_DURABLE_MAX);
    bool created = list == NULL;
    if (created) {
        list = json_array ();
        if (!list || json_object_set_new (self->durable, queue, list) != 0)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    if (json_array_append (list, pattern) != 0)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    cab_status_t status = cabi_delivery_rebuild_rules (self, error);
    if (status == CAB_OK)
        status = cabi_durable_save (self, error);
    if (status != CAB_OK) {
        json_array_remove (list, json_array_size (list) - 1);
        if (created)
            json_object_del (self->durable, queue);
        cab_error_t ignored;
        cabi_delivery_rebuild_rules (self, &ignored);
    }
    return status;
}

//  A durable subscriber unsubscribes: the queue's durable patterns go.
static void
s_durable_drop (cabi_broker_t *self, const char *queue)
{
    if (!json_object_get (self->durable, queue))
        return;
    json_object_del (self->durable, queue);
    cab_error_t error;
    cab_error_clear (&error);
    if (cabi_durable_save (self, &error) != CAB_OK || cabi_delivery_rebuild_rules (self, &error))
        zsys_warning ("cabruca-broker: dropping the durable subscription of %s: %s", queue,
                      error.text);
}

static json_t *
s_refusal (cab_status_t code, const char *path, const char *message)
{
    return json_pack ("{s:b,s:i,s:s,s:s,s:s}", "ok", 0, "code", (int)code, "error",
                      cab_status_name (code), "path", path ? path : "", "message", message);
}

static void
s_subscribe (cabi_broker_t *self, cabi_peer_t *peer, cabi_proto_t *msg)
{
    json_t *options = msg->body ? json_loadb (msg->body, msg->body_size, 0, NULL) : json_object ();
    size_t max_in_flight = CAB_BROKER_CONSUMER_WINDOW;
    json_t *value = json_object_get (options, "max_in_flight");
    json_t *pattern = json_object_get (options, "pattern");
    json_t *durable = json_object_get (options, "durable");
    json_t *ack_timeout = json_object_get (options, "ack_timeout_ms");
    json_t *answer = NULL;
    if (!json_is_object (options))
        answer = s_refusal (CAB_ERR_INVALID_ARGUMENT, "", "options must be a JSON object");
    else if (value && (!json_is_integer (value) || json_integer_value (value) < 1 ||
                       json_integer_value (value) > CAB_BROKER_CONSUMER_MAX))
        answer = s_refusal (CAB_ERR_INVALID_ARGUMENT, "/max_in_flight",
                            "must be an integer from 1 to 1000");
    else if (ack_timeout &&
             (!json_is_integer (ack_timeout) || json_integer_value (ack_timeout) < 100 ||
              json_integer_value (ack_timeout) > CAB_BROKER_ACK_TIMEOUT_MAX))
        answer = s_refusal (CAB_ERR_INVALID_ARGUMENT, "/ack_timeout_ms",
                            "must be an integer from 100 to 86400000 (24 hours)");
    else if (pattern && !json_is_object (pattern))
        answer = s_refusal (CAB_ERR_INVALID_PATTERN, "/pattern", "must be an event pattern object");
    else if (durable && !json_is_boolean (durable))
        answer = s_refusal (CAB_ERR_INVALID_ARGUMENT, "/durable", "must be true or false");
    else if (json_is_true (durable) && !pattern)
        answer = s_refusal (CAB_ERR_INVALID_ARGUMENT, "/durable", "durable needs a pattern");
    else {
        cab_error_t denied;
        cab_error_clear (&denied);
        if (cabi_security_may_subscribe (self, peer, msg->queue, pattern, &denied) != CAB_OK)
            answer = s_refusal (denied.code, denied.path, denied.text);
    }
    if (value)
        max_in_flight = (size_t)json_integer_value (value);
    cabi_consumer_t *consumer = answer ? NULL : s_find (peer, msg->queue);
    if (!answer && !consumer && peer->consumers &&
        zlistx_size (peer->consumers) >= S_PEER_SUBSCRIPTIONS_MAX)
        answer = s_refusal (CAB_ERR_BUSY, "", "too many subscriptions on this connection");
    if (answer) {
        json_decref (options);
        s_subscribed (self, peer, msg->queue, answer);
        return;
    }
    cabi_queue_t *queue = cabi_queue_get (self, msg->queue, true);
    if (!consumer && queue) {
        consumer = (cabi_consumer_t *)calloc (1, sizeof *consumer);
        if (consumer)
            consumer->flight = zlistx_new ();
        if (!peer->consumers)
            peer->consumers = zlistx_new ();
        if (!consumer || !consumer->flight || !peer->consumers) {
            if (consumer)
                s_consumer_free (consumer);
            consumer = NULL;
        } else {
            consumer->peer = peer;
            consumer->queue = queue;
            consumer->queue_handle = zlistx_add_end (queue->consumers, consumer);
            consumer->peer_handle = zlistx_add_end (peer->consumers, consumer);
        }
    }
    if (!consumer) {
        json_decref (options);
        s_subscribed (self, peer, msg->queue, s_refusal (CAB_ERR_NOMEM, "", "out of memory"));
        return;
    }
    consumer->max_in_flight = max_in_flight;
    consumer->ack_timeout_ms =
        ack_timeout ? json_integer_value (ack_timeout) : self->config->ack_timeout_ms;
    consumer->stalled = false;
    json_t *old_pattern = consumer->pattern;
    bool is_durable = json_is_true (durable);
    consumer->pattern = pattern && !is_durable ? json_incref (pattern) : NULL;
    if (is_durable) {
        cab_error_t error;
        cab_error_clear (&error);
        if (s_durable_add (self, queue->name, pattern, &error) != CAB_OK) {
            char path[CAB_ERROR_PATH_MAX + 16];
            snprintf (path, sizeof path, "/pattern%s", error.path);
            json_decref (options);
            consumer->pattern = old_pattern;
            s_end (self, consumer, old_pattern != NULL);
            s_subscribed (self, peer, msg->queue,
                          s_refusal (error.code, error.code == CAB_ERR_INVALID_PATTERN ? path : "",
                                     error.text));
            return;
        }
        consumer->durable = true;
    }
    json_decref (options);
    if (!is_durable && (consumer->pattern || old_pattern)) {
        cab_error_t error;
        cab_error_clear (&error);
        if (cabi_delivery_rebuild_rules (self, &error) != CAB_OK) {
            char path[CAB_ERROR_PATH_MAX + 16];
            snprintf (path, sizeof path, "/pattern%s", error.path);
            json_decref (consumer->pattern);
            consumer->pattern = old_pattern;
            s_end (self, consumer, old_pattern != NULL);
            s_subscribed (self, peer, msg->queue, s_refusal (error.code, path, error.text));
            return;
        }
    }
    json_decref (old_pattern);
    s_subscribed (self, peer, msg->queue,
                  json_pack ("{s:b,s:I,s:I}", "ok", 1, "ack_timeout_ms",
                             (json_int_t)consumer->ack_timeout_ms, "max_in_flight",
                             (json_int_t)max_in_flight));
    if (queue->stored) {
        //  Deliveries waited in the store for a consumer.
        queue->stored = false;
        cabi_delivery_reload_queue (self);
    }
    s_serve (self, queue);
}

void
cabi_queue_command (cabi_broker_t *self, cabi_peer_t *peer, cabi_proto_t *msg)
{
    if (msg->command == CABI_PROTO_SUBSCRIBE) {
        s_subscribe (self, peer, msg);
        return;
    }
    if (msg->command == CABI_PROTO_UNSUBSCRIBE) {
        cabi_consumer_t *consumer = s_find (peer, msg->queue);
        if (consumer && consumer->durable)
            s_durable_drop (self, msg->queue);
        if (consumer)
            s_end (self, consumer, true);
        return;
    }
    //  DACK or DNACK: only for an agent delivery held here.
    cabi_delivery_t *d = cabi_delivery_find (self, (int64_t)msg->delivery);
    if (!d || d->target->type != CAB_TARGET_AGENT)
        return;  //  Late: already settled (or never ours)
    cabi_queue_t *queue = d->consumer ? d->consumer->queue : NULL;
    bool ours = d->consumer && d->consumer->peer == peer;
    if (msg->command == CABI_PROTO_DACK) {
        if (d->where == CABI_DELIVERY_FLIGHT && !ours)
            return;  //  Redelivered meanwhile: the other consumer answers
        //  Also a late DACK (after the ack timeout) counts: it was handled.
        cabi_queue_detach (self, d);
        cabi_delivery_succeeded (self, d);
    } else {
        if (!ours)
            return;
        cabi_queue_detach (self, d);
        cabi_delivery_failed (self, d, msg->text[0] ? msg->text : "refused by the consumer", false,
                              false);
    }
    if (queue)
        s_serve (self, queue);
    cabi_queue_peer_alive (self, peer);
}

void
cabi_queue_peer_gone (cabi_broker_t *self, cabi_peer_t *peer)
{
    if (!peer->consumers)
        return;
    bool rebuild = false;
    cabi_consumer_t *consumer;
    while ((consumer = (cabi_consumer_t *)zlistx_first (peer->consumers))) {
        rebuild |= consumer->pattern != NULL;
        s_end (self, consumer, false);
    }
    zlistx_destroy (&peer->consumers);
    if (rebuild) {
        cab_error_t error;
        cab_error_clear (&error);
        if (cabi_delivery_rebuild_rules (self, &error) != CAB_OK)
            zsys_warning ("cabruca-broker: cannot drop subscription rules: %s", error.text);
    }
}

json_t *
cabi_queue_refusals (cabi_broker_t *self)
{
    json_t *counts = json_object ();
    for (int code = 1; code < CAB_STATUS_COUNT_; code++)
        if (self->sub_refused[code])
            json_object_set_new (counts, cab_status_name ((cab_status_t)code),
                                 json_integer ((json_int_t)self->sub_refused[code]));
    return counts;
}

void
cabi_queue_peer_alive (cabi_broker_t *self, cabi_peer_t *peer)
{
    if (!peer->consumers)
        return;
    for (cabi_consumer_t *consumer = (cabi_consumer_t *)zlistx_first (peer->consumers); consumer;
         consumer = (cabi_consumer_t *)zlistx_next (peer->consumers))
        if (consumer->stalled) {
            consumer->stalled = false;
            s_serve (self, consumer->queue);
            return;  //  s_serve may have moved the list's cursor: one per call
        }
}
