/*  =========================================================================
    cab_broker_ingest - from a message on the ROUTER to an ACK or a NACK

    Per PUBLISH: session and per-peer window, size (by the codec), parse and
    envelope (cab_event_load), the agent's right to the source, the schema
    (cab_registry_validate); then into the filling batch. The writer commits
    the batch in one transaction and each event is ACKed only after that
    commit returns. Every refusal is a NACK (or, for a message with no tag
    to answer, an ERROR) with a stable code, and a counter by code.
    =========================================================================
*/
#include "config.h"
#include "cab_broker_internal.h"
#include <string.h>

//  Most messages read from the ROUTER in one go.
//  (small, so that the loop looks at the writer's answers often).
#define S_READ_MAX 256
//  At most one store failure log line per this many ms.
#define S_STORE_LOG_MS 5000

static void
s_nack (cabi_broker_t *self, zframe_t *identity, const char *tag, const cab_error_t *error)
{
    if (error->code > CAB_OK && error->code < CAB_STATUS_COUNT_)
        self->nacked [error->code]++;
    zmsg_t *msg = cabi_proto_new_nack (tag, error->code, error->path, error->text);
    cabi_broker_send (self, identity, &msg);
}

static void
s_error (cabi_broker_t *self, zframe_t *identity, cab_status_t code, const char *text)
{
    if (code > CAB_OK && code < CAB_STATUS_COUNT_)
        self->errors [code]++;
    zmsg_t *msg = cabi_proto_new_error (code, text);
    cabi_broker_send (self, identity, &msg);
}

static void
s_welcome (cabi_broker_t *self, zframe_t *identity)
{
    char text [256];
    snprintf (text, sizeof text,
              "{\"protocol\":%d,\"broker\":\"cabruca %s\",\"heartbeat_ms\":%d,"
              "\"timeout_ms\":%d,\"max_in_flight\":%zu,\"max_event_size\":%d}",
              CABI_PROTO_VERSION, PACKAGE_VERSION, self->config->heartbeat_ms,
              self->config->timeout_ms, self->config->max_in_flight, CAB_EVENT_MAX_SIZE);
    zmsg_t *msg = cabi_proto_new_json (CABI_PROTO_WELCOME, text);
    cabi_broker_send (self, identity, &msg);
}

//  Validate one event; on success it goes into the filling batch.
static void
s_publish (cabi_broker_t *self, cabi_peer_t *peer, zframe_t *identity, cabi_proto_t *msg)
{
    self->received++;
    cab_error_t error;
    cab_error_clear (&error);
    if (peer->in_flight >= self->config->max_in_flight) {
        cab_error_set (&error, CAB_ERR_BUSY, NULL,
                       "%zu events in flight: over this broker's window of %zu; retry later",
                       peer->in_flight, self->config->max_in_flight);
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    cab_event_t *event = cab_event_load (msg->body, msg->body_size, &error);
    if (!event) {
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    const char *agent_id = cab_event_agent_id (event);
    const char *source = cab_event_source (event);
    if (!agent_id || strcmp (agent_id, peer->agent_id) != 0)
        cab_error_set (&error, CAB_ERR_ACCESS_DENIED, "/detail/agent_id",
                       "the event's agent_id '%s' is not this session's agent '%s'",
                       agent_id ? agent_id : "", peer->agent_id);
    else if (!cab_broker_config_allows (self->config, agent_id, source))
        cab_error_set (&error, CAB_ERR_ACCESS_DENIED, "/source",
                       "agent '%s' may not publish source '%s'", agent_id, source);
    else if (self->registry)
        cab_registry_validate (self->registry, event, &error);
    int64_t time_ms = 0;
    if (error.code == CAB_OK && cab_time_parse (cab_event_time (event), &time_ms) != CAB_OK)
        cab_error_set (&error, CAB_ERR_INVALID_ENVELOPE, "/time", "not an ISO 8601 UTC time");
    if (error.code != CAB_OK) {
        cab_event_destroy (&event);
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    cabi_batch_t *batch = self->accum;
    size_t index = batch->count;
    cabi_batch_meta_t *meta = &batch->meta [index];
    meta->identity = zframe_dup (identity);
    if (!meta->identity) {
        cab_event_destroy (&event);
        cab_error_set (&error, CAB_ERR_NOMEM, NULL, "out of memory");
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    memcpy (meta->tag, msg->tag, sizeof meta->tag);
    cab_store_item_t *item = &batch->items [index];
    item->id = cab_event_id (event);
    item->source = source;
    item->detail_type = cab_event_detail_type (event);
    item->agent_id = agent_id;
    item->correlation_id = cab_event_correlation_id (event);
    item->time_ms = time_ms;
    item->text = cab_event_text (event, &item->length);
    meta->event = event;
    batch->count++;
    peer->in_flight++;
    self->in_flight++;
}

//  Handle one message from the ROUTER (routing id already popped).
static void
s_handle (cabi_broker_t *self, zframe_t *identity, zmsg_t *body)
{
    cabi_proto_t msg;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status = cabi_proto_decode (body, &msg, &error);
    cabi_peer_t *peer = cabi_broker_peer (self, identity);
    if (peer)
        peer->last_seen = zclock_mono ();
    if (status != CAB_OK) {
        if (msg.command == CABI_PROTO_PUBLISH && msg.tag [0] && peer && peer->session &&
            msg.version == CABI_PROTO_VERSION) {
            self->received++;
            s_nack (self, identity, msg.tag, &error);
        } else if (msg.command != CABI_PROTO_ERROR)
            s_error (self, identity, error.code, error.text);
        else
            self->errors [CAB_ERR_PROTOCOL]++;
        return;
    }
    switch (msg.command) {
        case CABI_PROTO_HELLO:
            peer = cabi_broker_peer_add (self, identity);
            if (!peer) {
                s_error (self, identity, CAB_ERR_BUSY, "too many agents connected");
                break;
            }
            peer->session = true;
            memcpy (peer->agent_id, msg.agent_id, sizeof peer->agent_id);
            s_welcome (self, identity);
            break;
        case CABI_PROTO_PUBLISH:
            if (peer && peer->session)
                s_publish (self, peer, identity, &msg);
            else
                s_error (self, identity, CAB_ERR_DISCONNECTED, "no session: send HELLO");
            break;
        case CABI_PROTO_HEARTBEAT:
            if (!peer || !peer->session)
                s_error (self, identity, CAB_ERR_DISCONNECTED, "no session: send HELLO");
            break;
        case CABI_PROTO_STATUS: {
            json_t *status_json = cabi_broker_status (self);
            char *text = status_json ? json_dumps (status_json, JSON_COMPACT) : NULL;
            json_decref (status_json);
            zmsg_t *reply = text ? cabi_proto_new_json (CABI_PROTO_STATUS_REPLY, text) : NULL;
            free (text);
            if (reply)
                cabi_broker_send (self, identity, &reply);
            break;
        }
        case CABI_PROTO_BYE:
            if (peer)
                cabi_broker_peer_forget (self, peer);
            break;
        case CABI_PROTO_ERROR:
            self->errors [CAB_ERR_PROTOCOL]++; //  Never answer an ERROR
            break;
        default: {
            char text [96];
            snprintf (text, sizeof text, "%s is not a command an agent sends",
                      cabi_proto_command_name (msg.command));
            s_error (self, identity, CAB_ERR_PROTOCOL, text);
            break;
        }
    }
}

void
cabi_broker_ingest (cabi_broker_t *self)
{
    for (int count = 0; count < S_READ_MAX && self->accum->count < self->accum->capacity;
         count++) {
        zmsg_t *msg = zmsg_recv (self->router);
        if (!msg)
            break;
        zframe_t *identity = zmsg_pop (msg);
        if (identity)
            s_handle (self, identity, msg);
        zframe_destroy (&identity);
        zmsg_destroy (&msg);
        //  Keep the writer busy: hand it what we have as soon as it is idle.
        cabi_broker_dispatch (self);
    }
}

void
cabi_broker_dispatch (cabi_broker_t *self)
{
    if (self->writer_busy || self->accum->count == 0)
        return;
    cabi_batch_t *batch = self->accum;
    if (cabi_writer_send (self->writer, batch) != 0)
        return; //  Try again on the next turn
    self->writer_busy = true;
    self->batches++;
    self->accum = self->spare;
    self->spare = NULL;
}

//  Log store failures at most every S_STORE_LOG_MS, and the recovery.
static void
s_log_store (cabi_broker_t *self, cabi_batch_t *batch)
{
    int64_t now = zclock_mono ();
    bool may_log = self->store_logged_at == 0 || now - self->store_logged_at >= S_STORE_LOG_MS;
    if (batch->status == CAB_OK) {
        if (self->store_failing && may_log) {
            zsys_info ("cabruca-broker: store: commits again");
            self->store_failing = false;
            self->store_logged_at = now;
        }
        return;
    }
    self->store_failures_unlogged += batch->count;
    if (may_log) {
        zsys_error ("cabruca-broker: store: %s (%" PRIu64 " events NACKed StoreUnavailable)",
                    batch->error.text, self->store_failures_unlogged);
        self->store_failures_unlogged = 0;
        self->store_logged_at = now;
    }
    self->store_failing = true;
}

void
cabi_broker_answer (cabi_broker_t *self, cabi_batch_t *batch)
{
    for (size_t index = 0; index < batch->count; index++) {
        cabi_batch_meta_t *meta = &batch->meta [index];
        cab_store_item_t *item = &batch->items [index];
        cabi_peer_t *peer = cabi_broker_peer (self, meta->identity);
        if (peer && peer->in_flight > 0)
            peer->in_flight--;
        self->in_flight--;
        if (batch->status == CAB_OK) {
            if (item->duplicate)
                self->duplicates++;
            else
                self->stored++;
            zmsg_t *msg =
                cabi_proto_new_ack (meta->tag, (uint64_t) item->seq, item->id, item->duplicate);
            cabi_broker_send (self, meta->identity, &msg);
        } else {
            cab_error_t error = batch->error;
            if (error.code == CAB_OK)
                error.code = CAB_ERR_STORE_UNAVAILABLE;
            if (error.code != CAB_ERR_STORE_UNAVAILABLE) {
                //  Anything else from the store is still a failure to store.
                cab_error_set (&error, CAB_ERR_STORE_UNAVAILABLE, NULL, "%s", batch->error.text);
            }
            error.path [0] = 0;
            s_nack (self, meta->identity, meta->tag, &error);
        }
    }
    s_log_store (self, batch);
    cabi_batch_reset (batch);
    self->spare = batch;
    self->writer_busy = false;
}
