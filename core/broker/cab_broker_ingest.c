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
#include <stdlib.h>
#include <string.h>

//  Most messages read from the ROUTER in one go.
//  (small, so that the loop looks at the writer's answers often).
#define S_READ_MAX 256
//  The batch cut under load, events (see s_cut_due).
#define S_CUT_EVENTS 32
//  The least time from one commit's start to the next one's under
//  moderate load, us (see s_cut_due).
#define S_COMMIT_GAP_US 1000
//  The gap applies while more than one agent publishes: after two PUBLISH
//  from different peers in a row, for this long, us.
#define S_SIBLINGS_US 5000
//  How often the read loop looks whether the writer has answered, us.
#define S_LOOK_US 250
//  At most one store failure log line per this many ms.
#define S_STORE_LOG_MS 5000

static void
s_nack (cabi_broker_t *self, zframe_t *identity, const char *tag, const cab_error_t *error)
{
    if (error->code > CAB_OK && error->code < CAB_STATUS_COUNT_)
        self->nacked[error->code]++;
    zmsg_t *msg = cabi_proto_new_nack (tag, error->code, error->path, error->text);
    cabi_broker_send (self, identity, &msg);
}

static void
s_error (cabi_broker_t *self, zframe_t *identity, cab_status_t code, const char *text)
{
    if (code > CAB_OK && code < CAB_STATUS_COUNT_)
        self->errors[code]++;
    zmsg_t *msg = cabi_proto_new_error (code, text);
    cabi_broker_send (self, identity, &msg);
}

static void
s_welcome (cabi_broker_t *self, zframe_t *identity)
{
    char text[256];
    snprintf (text, sizeof text,
              "{\"protocol\":%d,\"broker\":\"cabruca %s\",\"heartbeat_ms\":%d,"
              "\"timeout_ms\":%d,\"max_in_flight\":%zu,\"max_event_size\":%d}",
              CABI_PROTO_VERSION, PACKAGE_VERSION, self->config->heartbeat_ms,
              self->config->timeout_ms, self->config->max_in_flight, CAB_EVENT_MAX_SIZE);
    zmsg_t *msg = cabi_proto_new_json (CABI_PROTO_WELCOME, text);
    cabi_broker_send (self, identity, &msg);
}

//  Copy a string (NULL stays NULL) to *cursor_p, advancing it.
static const char *
s_copy (char **cursor_p, const char *text)
{
    if (!text)
        return NULL;
    size_t size = strlen (text) + 1;
    char *copy = *cursor_p;
    memcpy (copy, text, size);
    *cursor_p += size;
    return copy;
}

bool
cabi_route_item (cabi_broker_t *self, cabi_batch_t *batch, cabi_batch_meta_t *meta)
{
    meta->route_first = batch->item_routes.count;
    meta->route_count = 0;
    meta->cloud_matches = 0;
    if (!self->rules || cab_rules_count (self->rules) == 0)
        return true;
    size_t count = 0;
    cab_error_t error;
    cab_error_clear (&error);
    //  On the original bytes: no re-serialisation.
    if (cab_rules_match (self->rules, meta->blob->data, meta->blob->length, self->matches,
                         self->match_capacity, &count, &error) != CAB_OK) {
        if (self->route_errors++ == 0)
            zsys_warning ("cabruca-broker: cannot match an event against the rules: %s",
                          error.text);
        meta->cloud_matches = CABI_MATCHES_UNKNOWN;
        return error.code != CAB_ERR_NOMEM;
    }
    if (count > self->match_capacity) {
        count = self->match_capacity;
        meta->cloud_matches = CABI_MATCHES_UNKNOWN;  //  Some not listed
    }
    for (size_t index = 0; index < count; index++) {
        const cab_rule_t *rule = cab_rules_get (self->rules, self->matches[index]);
        //  The rule document's rules: what the mirror's budget counts.
        if (rule && meta->cloud_matches != CABI_MATCHES_UNKNOWN &&
            !cab_rules_is_subscription (rule->name))
            meta->cloud_matches++;
        for (size_t target = 0; rule && target < rule->target_count; target++) {
            cab_store_route_t *route = cabi_routes_add (&batch->item_routes, self->rules,
                                                        self->matches[index], target, meta->blob);
            if (!route) {
                //  Undo this item's routes: the event is refused as a whole.
                while (batch->item_routes.count > meta->route_first) {
                    cabi_route_meta_t *last = &batch->item_routes.meta[--batch->item_routes.count];
                    cab_rules_unref (&last->rules);
                    cabi_text_unref (&last->text);
                }
                return false;
            }
            route->rule = rule->name;
            route->target = rule->targets[target].id;
            meta->route_count++;
        }
    }
    return true;
}

//  Put a validated event (stolen, destroyed) into the filling batch, which
//  has room, with its routes. The batch keeps only the text and the
//  indexed fields, in one block: the parsed document is freed at once, so
//  that events waiting for their commit cost little memory. Returns false
//  when out of memory.
static bool
s_append (cabi_broker_t *self, zframe_t **identity_p, const char *tag, cab_event_t **event_p,
          int64_t time_ms)
{
    cabi_batch_t *batch = self->accum;
    assert (batch->count < batch->capacity);
    cab_event_t *event = *event_p;
    size_t length = 0;
    const char *text = cab_event_text (event, &length);
    const char *fields[] = {cab_event_id (event), cab_event_source (event),
                            cab_event_detail_type (event), cab_event_agent_id (event),
                            cab_event_correlation_id (event)};
    size_t size = 0;
    for (size_t index = 0; index < 5; index++)
        size += fields[index] ? strlen (fields[index]) + 1 : 0;
    cabi_text_t *blob = text ? cabi_text_new (text, length, size) : NULL;
    if (!blob)
        return false;
    blob->ingest_ms = zclock_time ();
    cabi_batch_meta_t *meta = &batch->meta[batch->count];
    cab_store_item_t *item = &batch->items[batch->count];
    char *cursor = blob->data + length + 1;
    item->text = blob->data;
    item->length = length;
    item->id = s_copy (&cursor, fields[0]);
    item->source = s_copy (&cursor, fields[1]);
    item->detail_type = s_copy (&cursor, fields[2]);
    item->agent_id = s_copy (&cursor, fields[3]);
    item->correlation_id = s_copy (&cursor, fields[4]);
    item->time_ms = time_ms;
    item->mirror = self->mirror != NULL;  //  Into the mirror's outbox with the event
    meta->blob = blob;
    if (!cabi_route_item (self, batch, meta)) {
        memset (item, 0, sizeof *item);
        cabi_text_unref (&meta->blob);
        return false;
    }
    meta->identity = identity_p ? *identity_p : NULL;
    if (identity_p)
        *identity_p = NULL;
    snprintf (meta->tag, sizeof meta->tag, "%s", tag ? tag : "");
    cab_event_destroy (event_p);
    batch->count++;
    return true;
}

bool
cabi_broker_append_notice (cabi_broker_t *self, cab_event_t **event_p)
{
    int64_t time_ms = 0;
    if (self->accum->count == self->accum->capacity ||
        cab_time_parse (cab_event_time (*event_p), &time_ms) != CAB_OK)
        return false;
    return s_append (self, NULL, NULL, event_p, time_ms);
}

//  An event taken in is answered (NACKed before the store): forget it.
static void
s_refused (cabi_broker_t *self, zframe_t *identity)
{
    cabi_peer_t *peer = cabi_broker_peer (self, identity);
    if (peer && peer->in_flight > 0)
        peer->in_flight--;
    self->in_flight--;
}

static void
s_send_chunk (cabi_broker_t *self)
{
    cabi_chunk_t *chunk = self->chunk;
    self->chunk = NULL;
    chunk->handle = zlistx_add_end (self->chunks, chunk);
    zactor_t *validator = self->validators[self->next_validator++ % self->validator_count];
    if (cabi_validator_send (validator, chunk) != 0) {
        //  Cannot happen with a live validator; refuse rather than lose.
        for (size_t index = 0; index < chunk->count; index++) {
            chunk->jobs[index].event = NULL;
            cab_error_set (&chunk->jobs[index].error, CAB_ERR_INTERNAL, NULL,
                           "no validator answered");
        }
        chunk->done = true;
    }
}

//  One PUBLISH from a peer with a session: bounded by its window, then
//  validated here or by a validator, which takes the event's frame (the
//  last of parts) when it keeps it.
static void
s_publish (cabi_broker_t *self, cabi_peer_t *peer, zframe_t *identity, cabi_proto_t *msg,
           cabi_proto_parts_t *parts)
{
    self->received++;
    if (peer != self->last_publisher) {
        //  Another agent publishes too: the commit gap applies (s_cut_due).
        if (self->last_publisher)
            self->siblings_us = zclock_usecs ();
        self->last_publisher = peer;
    }
    cab_error_t error;
    cab_error_clear (&error);
    if (peer->in_flight >= self->config->max_in_flight) {
        cab_error_set (&error, CAB_ERR_BUSY, NULL,
                       "%zu events in flight: over this broker's window of %zu; retry later",
                       peer->in_flight, self->config->max_in_flight);
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    zframe_t *copy = zframe_dup (identity);
    char *sources =
        self->validator_count && peer->cert_sources ? strdup (peer->cert_sources) : NULL;
    if (!copy || (self->validator_count && peer->cert_sources && !sources) ||
        (self->validator_count && !self->chunk && !(self->chunk = cabi_chunk_new ()))) {
        zframe_destroy (&copy);
        free (sources);
        cab_error_set (&error, CAB_ERR_NOMEM, NULL, "out of memory");
        s_nack (self, identity, msg->tag, &error);
        return;
    }
    peer->in_flight++;
    self->in_flight++;
    if (self->validator_count == 0) {
        int64_t time_ms = 0;
        cab_event_t *event =
            cabi_validate_event (self->config, self->registry, peer->agent_id, peer->cert_sources,
                                 msg->body, msg->body_size, &time_ms, &error);
        if (!event || !s_append (self, &copy, msg->tag, &event, time_ms)) {
            if (event)
                cab_error_set (&error, CAB_ERR_NOMEM, NULL, "out of memory");
            cab_event_destroy (&event);
            s_refused (self, identity);
            s_nack (self, identity, msg->tag, &error);
            zframe_destroy (&copy);
        }
        return;
    }
    cabi_job_t *job = &self->chunk->jobs[self->chunk->count++];
    job->identity = copy;
    job->sources = sources;
    //  Moved, not copied: an event of up to 33 bytes lives inside the
    //  zmq_msg_t itself, so the bytes are found again after the move.
    zmq_msg_init (&job->body_part);
    zmq_msg_move (&job->body_part, &parts->parts[parts->count - 1]);
    job->body = (const char *)zmq_msg_data (&job->body_part);
    job->body_size = msg->body_size;
    snprintf (job->tag, sizeof job->tag, "%s", msg->tag);
    snprintf (job->agent_id, sizeof job->agent_id, "%s", peer->agent_id);
    self->validating++;
    if (self->chunk->count == CABI_CHUNK_MAX)
        s_send_chunk (self);
}

//  Move validated events, in the order received, into the filling batch
//  while it has room; NACK the refused ones.
static void
s_take_validated (cabi_broker_t *self)
{
    cabi_chunk_t *chunk;
    while ((chunk = (cabi_chunk_t *)zlistx_first (self->chunks)) && chunk->done) {
        for (; chunk->taken < chunk->count; chunk->taken++) {
            cabi_job_t *job = &chunk->jobs[chunk->taken];
            if (job->event && self->accum->count == self->accum->capacity)
                return;  //  Until the writer frees a batch
            self->validating--;
            if (job->event &&
                !s_append (self, &job->identity, job->tag, &job->event, job->time_ms)) {
                cab_event_destroy (&job->event);
                cab_error_set (&job->error, CAB_ERR_NOMEM, NULL, "out of memory");
            }
            if (job->identity) {  //  Not taken: refused
                s_refused (self, job->identity);
                s_nack (self, job->identity, job->tag, &job->error);
            }
        }
        zlistx_delete (self->chunks, chunk->handle);
        cabi_chunk_destroy (&chunk);
    }
}

void
cabi_broker_validated (cabi_broker_t *self, cabi_chunk_t *chunk)
{
    chunk->done = true;
    s_take_validated (self);
}

bool
cabi_broker_can_read (cabi_broker_t *self)
{
    if (self->validator_count == 0)
        return self->accum->count < self->accum->capacity;
    return self->accum->count + self->validating < 2 * self->accum->capacity;
}

//  CURVE: the agent named in HELLO must be the one its certificate names;
//  the certificate's sources become the session's allow-list. Returns
//  false, having answered ERROR AccessDenied, when they differ.
static bool
s_identify (cabi_broker_t *self, cabi_peer_t *peer, zframe_t *identity, const char *user_id,
            const char *agent_id)
{
    const char *name = NULL, *sources = NULL;
    cabi_security_identity (self, user_id, &name, &sources);
    if (!name || strcmp (name, agent_id) != 0) {
        zsys_warning ("cabruca-broker: HELLO as '%s' refused: the certificate names %s%s%s",
                      agent_id, name ? "'" : "", name ? name : "no agent", name ? "'" : "");
        char text[256];
        snprintf (text, sizeof text, "this certificate is not agent '%s'", agent_id);
        s_error (self, identity, CAB_ERR_ACCESS_DENIED, text);
        cabi_broker_peer_forget (self, peer);
        return false;
    }
    char *copy = strdup (sources ? sources : "");
    if (!copy) {
        s_error (self, identity, CAB_ERR_NOMEM, "out of memory");
        return false;
    }
    free (peer->cert_sources);
    peer->cert_sources = copy;
    if (cabi_security_grants (self, peer, user_id) != CAB_OK) {
        s_error (self, identity, CAB_ERR_NOMEM, "out of memory");
        return false;
    }
    return true;
}

//  Handle one message from the ROUTER (parts[0] is the routing id, also
//  in identity).
static void
s_handle (cabi_broker_t *self, zframe_t *identity, cabi_proto_parts_t *parts)
{
    cabi_proto_t msg;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status = cabi_proto_decode_parts (parts, 1, &msg, &error);
    cabi_peer_t *peer = cabi_broker_peer (self, identity);
    if (peer)
        peer->last_seen = zclock_mono ();
    if (status != CAB_OK) {
        if (msg.command == CABI_PROTO_PUBLISH && msg.tag[0] && peer && peer->session &&
            msg.version == CABI_PROTO_VERSION) {
            self->received++;
            s_nack (self, identity, msg.tag, &error);
        } else if (msg.command != CABI_PROTO_ERROR)
            s_error (self, identity, error.code, error.text);
        else
            self->errors[CAB_ERR_PROTOCOL]++;
        return;
    }
    switch (msg.command) {
        case CABI_PROTO_HELLO:
            peer = cabi_broker_peer_add (self, identity);
            if (!peer) {
                s_error (self, identity, CAB_ERR_BUSY, "too many agents connected");
                break;
            }
            if (self->auth &&
                !s_identify (self, peer, identity, cabi_security_user_id (parts), msg.agent_id))
                break;
            //  A new session: the subscriptions of the last one end.
            cabi_queue_peer_gone (self, peer);
            peer->session = true;
            memcpy (peer->agent_id, msg.agent_id, sizeof peer->agent_id);
            s_welcome (self, identity);
            break;
        case CABI_PROTO_PUBLISH:
            if (peer && peer->session)
                s_publish (self, peer, identity, &msg, parts);
            else
                s_error (self, identity, CAB_ERR_DISCONNECTED, "no session: send HELLO");
            break;
        case CABI_PROTO_HEARTBEAT:
            if (!peer || !peer->session)
                s_error (self, identity, CAB_ERR_DISCONNECTED, "no session: send HELLO");
            else
                cabi_queue_peer_alive (self, peer);
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
        case CABI_PROTO_SUBSCRIBE:
        case CABI_PROTO_UNSUBSCRIBE:
        case CABI_PROTO_DACK:
        case CABI_PROTO_DNACK:
            if (peer && peer->session)
                cabi_queue_command (self, peer, &msg);
            else
                s_error (self, identity, CAB_ERR_DISCONNECTED, "no session: send HELLO");
            break;
        case CABI_PROTO_CONTROL:
            cabi_control (self, identity, &msg);
            break;
        case CABI_PROTO_ERROR:
            self->errors[CAB_ERR_PROTOCOL]++;  //  Never answer an ERROR
            break;
        default: {
            char text[96];
            snprintf (text, sizeof text, "%s is not a command an agent sends",
                      cabi_proto_command_name (msg.command));
            s_error (self, identity, CAB_ERR_PROTOCOL, text);
            break;
        }
    }
}

//  The batch cut. The idle writer gets the filling batch once it holds
//  S_CUT_EVENTS events, so that under load a commit carries many events
//  (the cost of a commit, its WAL frames and so the checkpoints are shared
//  by more events); else when the ROUTER has nothing more to read and, while
//  several agents publish, S_COMMIT_GAP_US have passed since the writer took
//  the last batch. Each commit rewrites the pages it touches (table and
//  index leaves), so at 10,000 events/s a commit for every two or three
//  events put nine pages in the log per commit, and the log restarted twice
//  a second (docs/performance.md, "The event parser and the commit gap").
//  A lone publisher is not held: when its events come one at a time it is
//  likely waiting for each ACK, and nobody else would fill the batch. When
//  the broker cannot read (full queues, draining), at once.
static bool
s_cut_due (cabi_broker_t *self)
{
    if (self->accum->count >= S_CUT_EVENTS || self->terminating || !cabi_broker_can_read (self))
        return true;
    if (self->router_more)
        return false;
    int64_t now = zclock_usecs ();
    if (now - self->siblings_us >= S_SIBLINGS_US || now - self->dispatched_us >= S_COMMIT_GAP_US)
        return true;
    self->accum_held = true;
    return false;
}

int64_t
cabi_broker_cut_wait (cabi_broker_t *self)
{
    if (self->writer_busy || cabi_batch_empty (self->accum) || s_cut_due (self))
        return -1;
    if (self->router_more)
        return 0;  //  The loop reads on at once
    int64_t left = self->dispatched_us + S_COMMIT_GAP_US - zclock_usecs ();
    return left > 0 ? left : 0;
}

//  Hand the filling batch to the writer if it is idle, not empty, and the
//  batch cut is due.
static void
s_dispatch_writer (cabi_broker_t *self)
{
    if (self->writer_busy || cabi_batch_empty (self->accum) || !s_cut_due (self))
        return;
    cabi_batch_t *batch = self->accum;
    if (cabi_writer_send (self->writer, batch) != 0)
        return;  //  Try again on the next turn
    self->writer_busy = true;
    self->at_writer = batch;
    self->dispatched_us = zclock_usecs ();
    if (self->accum_held)
        self->gap_holds++;
    self->accum_held = false;
    self->batches++;
    self->accum = self->spare;
    self->spare = NULL;
}

void
cabi_broker_ingest (cabi_broker_t *self)
{
    int64_t looked = zclock_usecs ();
    bool drained = false;
    self->router_more = true;
    void *router = zsock_resolve (self->router);
    for (int count = 0; count < S_READ_MAX && cabi_broker_can_read (self); count++) {
        //  As parts, not a zmsg_t: a PUBLISH costs one allocation (its
        //  routing id's zframe_t) instead of a dozen.
        cabi_proto_parts_t parts;
        if (cabi_proto_recv (router, &parts) <= 0) {
            drained = true;
            break;
        }
        zframe_t *identity =
            zframe_new (zmq_msg_data (&parts.parts[0]), zmq_msg_size (&parts.parts[0]));
        if (identity)
            s_handle (self, identity, &parts);
        zframe_destroy (&identity);
        cabi_proto_parts_close (&parts);
        //  Keep the writer busy: hand it what we have when it is idle and
        //  the batch cut is due.
        s_dispatch_writer (self);
        //  Every S_LOOK_US: if the writer has answered, back to the loop,
        //  which sends the ACKs and hands it the next batch now rather than
        //  after up to S_READ_MAX more validations (docs/performance.md,
        //  "Missed targets"). Not after each message: the look costs a
        //  system call.
        int64_t now = zclock_usecs ();
        if (self->writer_busy && now - looked >= S_LOOK_US) {
            looked = now;
            if (zsock_events (self->writer) & ZMQ_POLLIN)
                break;
        }
    }
    self->router_more = !drained && (zsock_events (self->router) & ZMQ_POLLIN);
    s_dispatch_writer (self);
}

void
cabi_broker_dispatch (cabi_broker_t *self)
{
    if (self->chunk && self->chunk->count > 0)
        s_send_chunk (self);
    s_take_validated (self);
    if (!self->writer_busy && self->accum->count == self->accum->capacity) {
        //  A full batch goes; the next one has room for what waits.
        s_dispatch_writer (self);
        s_take_validated (self);
    }
    s_dispatch_writer (self);
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
        cabi_batch_meta_t *meta = &batch->meta[index];
        cab_store_item_t *item = &batch->items[index];
        if (!meta->identity) {
            //  The broker's own event (a dead letter notice).
            if (batch->status == CAB_OK && !item->duplicate)
                self->stored++;
            continue;
        }
        cabi_peer_t *peer = cabi_broker_peer (self, meta->identity);
        if (peer && peer->in_flight > 0)
            peer->in_flight--;
        self->in_flight--;
        if (batch->status == CAB_OK) {
            if (item->duplicate)
                self->duplicates++;
            else
                self->stored++;
            cabi_proto_t ack = {.command = CABI_PROTO_ACK,
                                .seq = (uint64_t)item->seq,
                                .duplicate = item->duplicate};
            cabi_proto_copy (ack.tag, sizeof ack.tag, meta->tag);
            cabi_proto_copy (ack.event_id, sizeof ack.event_id, item->id);
            cabi_broker_reply (self, peer, meta->identity, &ack);
        } else {
            cab_error_t error = batch->error;
            if (error.code == CAB_OK)
                error.code = CAB_ERR_STORE_UNAVAILABLE;
            if (error.code != CAB_ERR_STORE_UNAVAILABLE) {
                //  Anything else from the store is still a failure to store.
                cab_error_set (&error, CAB_ERR_STORE_UNAVAILABLE, NULL, "%s", batch->error.text);
            }
            error.path[0] = 0;
            s_nack (self, meta->identity, meta->tag, &error);
        }
    }
    s_log_store (self, batch);
    //  After the ACKs: the new deliveries go out, the updates settle.
    cabi_delivery_committed (self, batch);
    cabi_batch_reset (batch);
    self->spare = batch;
    self->at_writer = NULL;
    self->writer_busy = false;
}
