/*  =========================================================================
    cab_broker_delivery - at-least-once delivery: scheduling, retries with
    backoff, dead letters, and the bounded window of deliveries in memory

    Every delivery is a row of the store (created with its event, in the
    same transaction). The broker holds at most max_pending_in_memory of
    the PENDING ones in memory (cabi_delivery_t); the rest stay in the store
    and are read back, a chunk at a time, when the window has room (a "pass"
    over the store's PENDING rows, by ascending id): at start (resume after
    a restart), after a commit that could not hold all its new deliveries,
    after a redrive, when a consumer comes for a queue that had none.

    One attempt: an agent target goes to its queue (cab_broker_queue.c), any
    other target to the sender actor (cab_sender.h) with its payload (replay
    mark, input transformer). Success: DONE. Failure: attempts + 1; when the
    target's retry policy is used up (attempts > maximum_retry_attempts, or
    older than maximum_event_age_seconds) or the failure is permanent: DEAD
    in the target's dead-letter queue, and a `cabruca.broker` "Delivery
    Dead-Lettered" event is stored and routed like any other event (but a
    dead letter of such an event is only logged, never published again);
    else PENDING again, its next attempt after a backoff with full jitter:
    uniform in [0, min(backoff_max, backoff_base * 2^(attempts-1))].

    Every state change goes to the filling batch (group commit); a pass
    never reads back the row of a delivery whose change has not committed
    yet (it is in that batch or at the writer: cabi_delivery_unsettled), so
    a delivery that leaves memory before its change commits is not made
    again.
    Timers: one heap of deliveries by due time (next attempt, ack deadline);
    the broker's loop waits until the earliest (its zmq_poll timeout; the
    loop predates zloop here, and one heap serves any number of timers).
    The passes, rule changes and setup are in cab_broker_pass.c.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include "cab_sender.h"
#include "cab_transform.h"
#include <stdlib.h>
#include <string.h>

//  Most jobs the broker keeps at the sender (the rest wait in sender_wait).
#define S_SENDER_MAX (CAB_SENDER_MAX_JOBS / 2)
//  Dead letter notices waiting for room in a batch, at most.
#define S_NOTICES_MAX 10000
//  A delivery waiting longer than this for its next attempt leaves memory
//  (it is "parked" in the store) while the window is half full, ms.
#define S_PARK_MS 5000

//  ---- The timer heap (by due_ms) ----------------------------------------------

static void
s_heap_swap (cabi_broker_t *self, size_t a, size_t b)
{
    cabi_delivery_t *d = self->heap[a];
    self->heap[a] = self->heap[b];
    self->heap[b] = d;
    self->heap[a]->heap_index = a;
    self->heap[b]->heap_index = b;
}

static void
s_heap_up (cabi_broker_t *self, size_t index)
{
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (self->heap[parent]->due_ms <= self->heap[index]->due_ms)
            break;
        s_heap_swap (self, parent, index);
        index = parent;
    }
}

static void
s_heap_down (cabi_broker_t *self, size_t index)
{
    while (true) {
        size_t least = index, left = 2 * index + 1, right = left + 1;
        if (left < self->heap_count && self->heap[left]->due_ms < self->heap[least]->due_ms)
            least = left;
        if (right < self->heap_count && self->heap[right]->due_ms < self->heap[least]->due_ms)
            least = right;
        if (least == index)
            break;
        s_heap_swap (self, least, index);
        index = least;
    }
}

static void
s_heap_remove (cabi_broker_t *self, cabi_delivery_t *d)
{
    size_t index = d->heap_index;
    if (index == SIZE_MAX)
        return;
    d->heap_index = SIZE_MAX;
    if (index != --self->heap_count) {
        self->heap[index] = self->heap[self->heap_count];
        self->heap[index]->heap_index = index;
        s_heap_down (self, index);
        s_heap_up (self, index);
    }
}

//  Put d in the heap at due_ms (moving it if it is there). The heap has
//  room for every delivery held (its capacity is the window).
static void
s_heap_set (cabi_broker_t *self, cabi_delivery_t *d, int64_t due_ms)
{
    s_heap_remove (self, d);
    d->due_ms = due_ms;
    d->heap_index = self->heap_count;
    self->heap[self->heap_count++] = d;
    s_heap_up (self, d->heap_index);
}

void
cabi_delivery_due (cabi_broker_t *self, cabi_delivery_t *d, int64_t due_ms)
{
    s_heap_set (self, d, due_ms);
}

//  ---- Holding deliveries ------------------------------------------------------

cabi_delivery_t *
cabi_delivery_find (cabi_broker_t *self, int64_t id)
{
    return (cabi_delivery_t *)zhashx_lookup (self->deliveries, CABI_ID_KEY (id));
}

bool
cabi_delivery_window_full (cabi_broker_t *self)
{
    return zhashx_size (self->deliveries) >= self->config->max_pending_in_memory;
}

bool
cabi_delivery_unsettled (cabi_broker_t *self, int64_t **ids_p, size_t *count_p)
{
    //  The batch at the writer is only read there, as here: no race.
    const cabi_batch_t *batches[] = {self->accum, self->at_writer};
    size_t count = 0;
    for (size_t index = 0; index < 2; index++)
        count += batches[index] ? batches[index]->update_count : 0;
    *ids_p = NULL;
    *count_p = 0;
    if (count == 0)
        return true;
    int64_t *ids = (int64_t *)malloc (count * sizeof *ids);
    if (!ids)
        return false;
    size_t at = 0;
    for (size_t index = 0; index < 2; index++)
        for (size_t update = 0; batches[index] && update < batches[index]->update_count; update++)
            ids[at++] = batches[index]->updates[update].id;
    qsort (ids, count, sizeof *ids, cabi_id_order);
    *ids_p = ids;
    *count_p = count;
    return true;
}

void
cabi_delivery_record (cabi_broker_t *self, int64_t id, cab_delivery_state_t state, int attempts,
                      int64_t next_ms, const char *dlq, const char *error)
{
    //  Out of memory, the store keeps the old row: at worst a duplicate
    //  after a restart.
    if (cabi_batch_add_update (self->accum, id, state, attempts, next_ms, dlq, error) != 0)
        zsys_error ("cabruca-broker: out of memory recording delivery %" PRId64, id);
}

//  Forget a delivery held in memory (detached from lists by the caller).
void
cabi_delivery_release (cabi_broker_t *self, cabi_delivery_t *d)
{
    s_heap_remove (self, d);
    zhashx_delete (self->deliveries, CABI_ID_KEY (d->id));
    cab_rules_unref (&d->rules);
    cabi_text_unref (&d->text);
    free (d->replay);
    free (d);
}

cabi_delivery_t *
cabi_delivery_hold (cabi_broker_t *self, int64_t id, int64_t seq, cab_rules_t *rules,
                    const cab_rule_t *rule, const cab_rule_target_t *target, cabi_text_t *text,
                    const char *replay, int attempts, int64_t created_ms)
{
    cabi_delivery_t *d = (cabi_delivery_t *)calloc (1, sizeof *d);
    if (!d)
        return NULL;
    d->id = id;
    d->seq = seq;
    d->rules = cab_rules_ref (rules);
    d->rule = rule;
    d->target = target;
    d->text = cabi_text_ref (text);
    d->replay = replay ? strdup (replay) : NULL;
    d->attempts = attempts;
    d->created_ms = created_ms;
    d->heap_index = SIZE_MAX;
    d->where = CABI_DELIVERY_READY;
    if ((replay && !d->replay) || zhashx_insert (self->deliveries, CABI_ID_KEY (id), d) != 0) {
        cab_rules_unref (&d->rules);
        cabi_text_unref (&d->text);
        free (d->replay);
        free (d);
        return NULL;
    }
    return d;
}

//  ---- Dead letters --------------------------------------------------------------

//  A detail string of the original event, or NULL.
static const char *
s_member (json_t *object, const char *key)
{
    return json_string_value (json_object_get (object, key));
}

//  Publish a Delivery Dead-Lettered event about an event (its text) that
//  could not reach (rule, target).
void
cabi_delivery_notice (cabi_broker_t *self, const char *text, size_t length, const char *rule,
                      const char *target, const char *dlq, const char *reason, int attempts,
                      const char *error)
{
    json_t *original = json_loadb (text, length, 0, NULL);
    const char *source = s_member (original, "source");
    const char *detail_type = s_member (original, "detail-type");
    const char *event_id = s_member (original, "id");
    const char *correlation = s_member (json_object_get (original, "detail"), "correlation_id");
    if (source && detail_type && strcmp (source, "cabruca.broker") == 0 &&
        strcmp (detail_type, "Delivery Dead-Lettered") == 0) {
        //  Never a notice about a notice: no loop.
        zsys_warning ("cabruca-broker: dead letter notice %s not delivered to %s/%s (%s): "
                      "logged, not published again",
                      event_id ? event_id : "?", rule, target, error ? error : reason);
        json_decref (original);
        return;
    }
    if (zlistx_size (self->notices) >= S_NOTICES_MAX || !event_id || !cab_uuid_valid (event_id)) {
        self->dead_notices_lost++;
        zsys_warning ("cabruca-broker: event %s dead-lettered (%s/%s, %s) without a notice",
                      event_id ? event_id : "?", rule, target, reason);
        json_decref (original);
        return;
    }
    cab_event_t *event = cab_event_new ("cabruca.broker", "Delivery Dead-Lettered", NULL);
    char error_text[1025];
    snprintf (error_text, sizeof error_text, "%s", error ? error : "");
    json_t *detail = json_pack ("{s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "agent_id", "broker",
                                "event_id", event_id, "rule", rule, "target", target, "queue", dlq,
                                "reason", reason, "attempts", attempts, "last_error", error_text);
    if (detail && source)
        json_object_set_new (detail, "event_source", json_string (source));
    if (detail && detail_type)
        json_object_set_new (detail, "event_detail_type", json_string (detail_type));
    if (detail)
        json_object_set_new (
            detail, "correlation_id",
            json_string (correlation && cab_uuid_valid (correlation) ? correlation : event_id));
    cab_status_t status =
        event && detail ? cab_event_update_detail_new (event, detail) : CAB_ERR_NOMEM;
    if (!event)
        json_decref (detail);
    cab_error_t check;
    cab_error_clear (&check);
    if (status == CAB_OK && self->registry)
        status = cab_registry_validate (self->registry, event, &check);
    if (status != CAB_OK || !zlistx_add_end (self->notices, event)) {
        self->dead_notices_lost++;
        zsys_warning ("cabruca-broker: no notice for dead letter %s (%s)", event_id,
                      check.text[0] ? check.text : "out of memory");
        cab_event_destroy (&event);
    }
    json_decref (original);
}

//  d is dead: its row goes DEAD, a notice is published, it leaves memory.
void
cabi_delivery_dead (cabi_broker_t *self, cabi_delivery_t *d, const char *reason, const char *error,
                    int attempts)
{
    const char *dlq = cab_dlq_name (d->target->dlq);
    cabi_delivery_record (self, d->id, CAB_DELIVERY_DEAD, attempts, 0, dlq, error ? error : reason);
    self->dead_lettered++;
    zsys_info ("cabruca-broker: delivery %" PRId64 " (%s/%s) dead-lettered in %s after %d "
               "attempts: %s",
               d->id, d->rule->name, d->target->id, dlq, attempts, error ? error : reason);
    cabi_delivery_notice (self, d->text->data, d->text->length, d->rule->name, d->target->id, dlq,
                          reason, attempts, error);
    cabi_delivery_release (self, d);
}

//  ---- Attempts ------------------------------------------------------------------

//  The deliveries of subscriptions that ended keep their queue: a rule set
//  with that subscription alone (cached per queue).
static const cab_rule_target_t *
s_orphan_target (cabi_broker_t *self, const char *rule, cab_rules_t **rules_p)
{
    if (!cab_rules_is_subscription (rule))
        return NULL;
    const char *queue = rule + strlen (CAB_RULES_SUBSCRIPTION_PREFIX);
    if (!cabi_proto_queue_valid (queue))
        return NULL;
    cab_rules_t *rules = (cab_rules_t *)zhashx_lookup (self->orphans, queue);
    if (!rules) {
        rules = cab_rules_new_empty ();
        json_t *never = json_pack ("{s:[s]}", "source", "cabruca.broker.never");
        if (!rules || !never || cab_rules_add_subscription (rules, queue, never, NULL) != CAB_OK ||
            zhashx_insert (self->orphans, queue, rules) != 0) {
            cab_rules_unref (&rules);
            json_decref (never);
            return NULL;
        }
        json_decref (never);
    }
    *rules_p = rules;
    return cab_rules_target (rules, rule, "queue");
}

//  Find (rule, target) in the current rules, or for a subscription gone
//  in its orphan set. Sets *rules_p (borrowed) and returns the target.
const cab_rule_target_t *
cabi_delivery_lookup (cabi_broker_t *self, const char *rule, const char *target,
                      cab_rules_t **rules_p)
{
    *rules_p = self->rules;
    const cab_rule_target_t *found = cab_rules_target (self->rules, rule, target);
    return found ? found : s_orphan_target (self, rule, rules_p);
}

static int64_t
s_backoff (cabi_broker_t *self, int attempts)
{
    int64_t cap = self->config->backoff_base_ms;
    for (int shift = 1; shift < attempts && cap < self->config->backoff_max_ms; shift++)
        cap *= 2;
    if (cap > self->config->backoff_max_ms)
        cap = self->config->backoff_max_ms;
    //  xorshift64*: full jitter, uniform in [0, cap]
    self->rng ^= self->rng >> 12;
    self->rng ^= self->rng << 25;
    self->rng ^= self->rng >> 27;
    uint64_t random = self->rng * 2685821657736338717ULL;
    return (int64_t)(random % (uint64_t)(cap + 1));
}

cab_status_t
cabi_delivery_payload (cabi_broker_t *self, cabi_delivery_t *d, char **owned_p, const char **data_p,
                       size_t *size_p, cab_error_t *error)
{
    (void)self;
    const char *data = d->text->data;
    size_t size = d->text->length;
    char *marked = NULL;
    *owned_p = NULL;
    if (d->replay) {
        //  {"replay-name":"NAME", + the event's members
        const char *brace = memchr (data, '{', size);
        if (!brace)
            return cab_error_set (error, CAB_ERR_INVALID_JSON, NULL, "the event is not an object");
        const char *rest = brace + 1;
        while (rest < data + size &&
               (*rest == ' ' || *rest == '\n' || *rest == '\t' || *rest == '\r'))
            rest++;
        bool empty = rest < data + size && *rest == '}';
        size_t tail = (size_t)(data + size - rest);
        size_t capacity = tail + strlen (d->replay) + 32;
        marked = (char *)malloc (capacity);
        if (!marked)
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        int head =
            snprintf (marked, capacity, "{\"replay-name\":\"%s\"%s", d->replay, empty ? "" : ",");
        memcpy (marked + head, rest, tail);
        size = (size_t)head + tail;
        marked[size] = 0;
        data = marked;
    }
    if (d->target->transform) {
        char *out = NULL;
        size_t out_size = 0;
        cab_status_t status = cab_transform_apply (d->target->transform, data, size, d->rule->name,
                                                   d->text->ingest_ms, &out, &out_size, error);
        free (marked);
        if (status != CAB_OK)
            return status;
        marked = out;
        data = out;
        size = out_size;
    }
    *owned_p = marked;
    *data_p = data;
    *size_p = size;
    return CAB_OK;
}

//  A job's reference to the event text it borrows (released when the job
//  is destroyed: in the broker thread, or in the sender's while
//  cab_sender_destroy waits for it).
static void
s_release_text (void *arg)
{
    cabi_text_t *text = (cabi_text_t *)arg;
    cabi_text_unref (&text);
}

//  Hand d to the sender (the event text itself when the target sends it
//  as it is, no copy), or handle the failure.
static void
s_send_job (cabi_broker_t *self, cabi_delivery_t *d)
{
    char *owned = NULL;
    const char *data = NULL;
    size_t size = 0;
    cab_error_t error;
    cab_error_clear (&error);
    if (cabi_delivery_payload (self, d, &owned, &data, &size, &error) != CAB_OK) {
        cabi_delivery_failed (self, d, error.text, error.code != CAB_ERR_NOMEM, false);
        return;
    }
    cab_send_job_t *job = NULL;
    if (owned)
        job = cab_send_job_new (d->id, d->target, d->rule->name, &owned, size);
    else if ((job = cab_send_job_borrow (d->id, d->target, d->rule->name, data, size,
                                         s_release_text, d->text)))
        cabi_text_ref (d->text);
    if (!job || cab_sender_send (self->sender, job) != 0) {
        cab_send_job_destroy (&job);
        cabi_delivery_failed (self, d, "cannot hand the delivery to the sender", false, false);
        return;
    }
    d->where = CABI_DELIVERY_FLIGHT;
    d->at_sender = true;
    self->at_sender++;
}

//  One attempt of d, now: its rule still there, its age in bounds.
static void
s_dispatch (cabi_broker_t *self, cabi_delivery_t *d)
{
    int64_t now = zclock_time ();
    if (d->rules != self->rules) {
        //  The rules were reloaded: take the new definition of the target.
        cab_rules_t *rules = NULL;
        const cab_rule_target_t *target =
            cabi_delivery_lookup (self, d->rule->name, d->target->id, &rules);
        if (!target) {
            cabi_delivery_dead (self, d, "TARGET_REJECTED", "rule removed", d->attempts);
            return;
        }
        const cab_rule_t *rule = cab_rules_find (rules, d->rule->name);
        cab_rules_unref (&d->rules);
        d->rules = cab_rules_ref (rules);
        d->rule = rule;
        d->target = target;
    }
    if (now - d->created_ms > (int64_t)d->target->max_age_s * 1000) {
        cabi_delivery_dead (self, d, "MAX_AGE", "maximum event age passed", d->attempts);
        return;
    }
    s_heap_remove (self, d);
    d->where = CABI_DELIVERY_READY;
    if (d->target->type == CAB_TARGET_AGENT) {
        cabi_queue_t *queue = cabi_queue_get (self, d->target->queue, true);
        if (queue && cabi_queue_full (self, queue)) {
            //  Nobody consumes the queue (or it has its share of the window
            //  already): the delivery waits in the store, not in memory,
            //  until a consumer comes (or the queue drains).
            queue->stored = true;
            cabi_delivery_release (self, d);
            return;
        }
        cabi_queue_push (self, d, false);
    } else if (self->at_sender < S_SENDER_MAX && zlistx_size (self->sender_wait) == 0)
        s_send_job (self, d);
    else
        d->handle = zlistx_add_end (self->sender_wait, d);
}

//  d goes out now, or waits in the heap until next_ms -- or, for a long
//  wait while the window is half full, in the store only (a pass reads it
//  back when it is due).
void
cabi_delivery_schedule (cabi_broker_t *self, cabi_delivery_t *d, int64_t next_ms)
{
    int64_t now = zclock_time ();
    if (next_ms <= now) {
        s_dispatch (self, d);
        return;
    }
    if (next_ms - now > S_PARK_MS &&
        2 * zhashx_size (self->deliveries) >= self->config->max_pending_in_memory) {
        if (self->wake_at == 0 || next_ms < self->wake_at)
            self->wake_at = next_ms;
        cabi_delivery_release (self, d);
        return;
    }
    d->where = CABI_DELIVERY_WAIT;
    s_heap_set (self, d, next_ms);
}

void
cabi_delivery_succeeded (cabi_broker_t *self, cabi_delivery_t *d)
{
    cabi_delivery_record (self, d->id, CAB_DELIVERY_DONE, d->attempts + 1, 0, NULL, NULL);
    self->delivered++;
    cabi_delivery_release (self, d);
}

void
cabi_delivery_failed (cabi_broker_t *self, cabi_delivery_t *d, const char *error, bool permanent,
                      bool at_once)
{
    int attempts = d->attempts + 1;
    int64_t now = zclock_time ();
    if (permanent) {
        cabi_delivery_dead (self, d, "TARGET_REJECTED", error, attempts);
        return;
    }
    if (attempts > d->target->max_attempts) {
        cabi_delivery_dead (self, d, "MAX_ATTEMPTS", error, attempts);
        return;
    }
    if (now - d->created_ms > (int64_t)d->target->max_age_s * 1000) {
        cabi_delivery_dead (self, d, "MAX_AGE", error, attempts);
        return;
    }
    self->retried++;
    d->attempts = attempts;
    int64_t next_ms = at_once ? now : now + s_backoff (self, attempts);
    cabi_delivery_record (self, d->id, CAB_DELIVERY_PENDING, attempts, next_ms, NULL, error);
    cabi_delivery_schedule (self, d, next_ms);
}

//  ---- The sender ------------------------------------------------------------------

//  Hand the deliveries waiting for the sender while it has room.
static void
s_feed_sender (cabi_broker_t *self)
{
    cabi_delivery_t *d;
    while (self->at_sender < S_SENDER_MAX &&
           (d = (cabi_delivery_t *)zlistx_first (self->sender_wait))) {
        zlistx_delete (self->sender_wait, d->handle);
        d->handle = NULL;
        s_send_job (self, d);
    }
}

void
cabi_delivery_sent (cabi_broker_t *self)
{
    cab_send_job_t *job;
    while ((job = cab_sender_try_recv (self->sender))) {
        cabi_delivery_t *d = cabi_delivery_find (self, job->delivery);
        if (self->at_sender > 0)
            self->at_sender--;
        if (d && d->at_sender) {
            d->at_sender = false;
            if (job->status == CAB_OK)
                cabi_delivery_succeeded (self, d);
            else if (job->status == CAB_ERR_BUSY) {
                d->where = CABI_DELIVERY_READY;
                d->handle = zlistx_add_start (self->sender_wait, d);
            } else
                cabi_delivery_failed (self, d,
                                      job->error[0] ? job->error : cab_strerror (job->status),
                                      job->permanent, false);
        }
        cab_send_job_destroy (&job);
    }
    s_feed_sender (self);
}

//  ---- Commits ---------------------------------------------------------------------

//  A new delivery (just committed) of route with meta: held and scheduled,
//  or left in the store when the window is full.
static void
s_create (cabi_broker_t *self, const cab_store_route_t *route, const cabi_route_meta_t *meta)
{
    self->routed++;
    if (cabi_delivery_window_full (self)) {
        self->reload_dirty = true;
        if (self->reload_at == 0)
            self->reload_at = zclock_time ();
        return;
    }
    const cab_rule_t *rule = cab_rules_get (meta->rules, meta->rule);
    cabi_delivery_t *d = cabi_delivery_hold (self, route->id, route->seq, meta->rules, rule,
                                             &rule->targets[meta->target], meta->text,
                                             route->replay, 0, zclock_time ());
    if (!d) {
        self->reload_dirty = true;
        if (self->reload_at == 0)
            self->reload_at = zclock_time () + CABI_PASS_RETRY_MS;
        return;
    }
    cabi_delivery_schedule (self, d, route->next_ms);
}

void
cabi_delivery_committed (cabi_broker_t *self, cabi_batch_t *batch)
{
    if (batch->status != CAB_OK) {
        //  Not written: the state changes go again with the next batch --
        //  unless the broker is stopping (then the store keeps the older
        //  state: at worst a delivery is made again after the restart).
        for (size_t index = 0; index < batch->update_count && !self->terminating; index++) {
            cab_delivery_update_t *u = &batch->updates[index];
            cabi_delivery_record (self, u->id, u->state, u->attempts, u->next_ms, u->dlq, u->error);
        }
        if (batch->routes.count)
            cabi_control_replay_committed (self, batch->routes.count, batch->status);
        return;
    }
    if (self->reload_after_commits > 0 && --self->reload_after_commits == 0)
        cabi_delivery_reload (self);
    for (size_t index = 0; index < batch->count; index++) {
        cabi_batch_meta_t *meta = &batch->meta[index];
        if (batch->items[index].duplicate)
            continue;
        for (size_t route = meta->route_first; route < meta->route_first + meta->route_count;
             route++)
            if (batch->item_routes.routes[route].id > 0)
                s_create (self, &batch->item_routes.routes[route], &batch->item_routes.meta[route]);
    }
    for (size_t route = 0; route < batch->routes.count; route++)
        if (batch->routes.routes[route].id > 0)
            s_create (self, &batch->routes.routes[route], &batch->routes.meta[route]);
    if (batch->routes.count)
        cabi_control_replay_committed (self, batch->routes.count, CAB_OK);
}

//  ---- Timers -----------------------------------------------------------------------

void
cabi_delivery_timers (cabi_broker_t *self, int64_t now)
{
    //  Due deliveries: next attempts, and ack deadlines passed.
    for (int count = 0; self->heap_count > 0 && self->heap[0]->due_ms <= now && count < 10000;
         count++) {
        cabi_delivery_t *d = self->heap[0];
        s_heap_remove (self, d);
        if (d->where == CABI_DELIVERY_WAIT)
            s_dispatch (self, d);
        else if (d->where == CABI_DELIVERY_FLIGHT && d->consumer) {
            cabi_queue_detach (self, d);
            cabi_delivery_failed (self, d, "ack timeout", false, false);
        }
    }
    if (self->wake_at && now >= self->wake_at - CABI_PASS_AHEAD_MS) {
        self->wake_at = 0;
        cabi_delivery_reload (self);
    }
    if (self->reload_at && now >= self->reload_at && !cabi_delivery_window_full (self) &&
        self->reader)
        cabi_pass_step (self, now);
    //  Dead letter notices into the filling batch, while it has room.
    cab_event_t *event;
    while ((event = (cab_event_t *)zlistx_first (self->notices))) {
        if (!cabi_broker_append_notice (self, &event))
            break;
        zlistx_detach_cur (self->notices);
    }
    if (self->replay)
        cabi_control_replay_step (self);
}

int64_t
cabi_delivery_next_timer (cabi_broker_t *self)
{
    int64_t next = INT64_MAX;
    if (self->heap_count > 0)
        next = self->heap[0]->due_ms;
    if (self->reload_at && self->reload_at < next && !cabi_delivery_window_full (self))
        next = self->reload_at;
    if (self->wake_at && self->wake_at - CABI_PASS_AHEAD_MS < next)
        next = self->wake_at - CABI_PASS_AHEAD_MS;
    if (zlistx_size (self->notices) > 0 || (self->replay && !self->replay->scanned))
        next = 0;
    return next;
}
