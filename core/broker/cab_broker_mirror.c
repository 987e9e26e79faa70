/*  =========================================================================
    cab_broker_mirror - the broker thread's side of the cloud mirror

    The mirror worker (cab_mirror_worker.c) decides and sends; it never
    writes the store. Its outcome sets come here ("SET"): one at a time, a
    set waits for a batch that has none, goes to the store writer with it
    (cab_store_batch_t.mirror_outcomes and budget_state, the same
    transaction as the batch's events) together with the Budget Threshold
    events it asks for, and goes back to the worker with the commit's status
    ("DONE"). Every commit that stored events wakes the worker ("WAKE").

    STATUS-REPLY's "mirror" member and the CONTROL ops "budget" and
    "mirror-status" read the store's mirror figures on the broker's
    read-only handle and the figures the worker publishes (the sender's
    counters, the budget report). docs/mirror.md, docs/protocol.md.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <stdlib.h>
#include <string.h>

//  How long the broker waits for the worker to stop, ms.
#define S_STOP_WAIT_MS 10000

static int64_t
s_now (cabi_broker_t *self)
{
    return self->config->mirror_clock ? self->config->mirror_clock (self->config->mirror_clock_arg)
                                      : zclock_time ();
}

cab_status_t
cabi_mirror_setup (cabi_broker_t *self, cab_error_t *error)
{
    if (!self->config->mirror_enabled)
        return CAB_OK;
    cabi_mirror_shared_t *shared = (cabi_mirror_shared_t *)calloc (1, sizeof *shared);
    if (!shared)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    pthread_mutex_init (&shared->lock, NULL);
    self->mirror_shared = shared;
    //  The worker's cloud rules are the broker's: it can take the broker's
    //  match counts (cab_broker_matchlog.c).
    if (!self->config->mirror_cloud_rules && !(shared->matchlog = cabi_matchlog_new ()))
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    self->mirror = cabi_mirror_worker_new (self->config, self->rules_document, shared, error);
    if (!self->mirror)
        return error && error->code ? error->code : CAB_ERR_INTERNAL;
    return CAB_OK;
}

void
cabi_mirror_teardown (cabi_broker_t *self)
{
    if (self->mirror && zstr_send (self->mirror, "STOP") == 0) {
        //  Take what the worker still sends until it says it stopped: a set
        //  not committed now is decided again at the next start.
        zsock_set_rcvtimeo (self->mirror, S_STOP_WAIT_MS);
        while (true) {
            char *kind = NULL;
            void *pointer = NULL;
            if (zsock_recv (self->mirror, "sp", &kind, &pointer) != 0 || !kind)
                break;
            bool stopped = streq (kind, "STOPPED");
            if (streq (kind, "SET")) {
                cabi_mirror_set_t *set = (cabi_mirror_set_t *)pointer;
                cabi_mirror_set_destroy (&set);
            }
            zstr_free (&kind);
            if (stopped)
                break;
        }
    }
    zactor_destroy (&self->mirror);
    cabi_mirror_set_destroy (&self->mirror_pending);
    if (self->mirror_shared) {
        free (self->mirror_shared->report);
        cabi_matchlog_destroy (&self->mirror_shared->matchlog);
        pthread_mutex_destroy (&self->mirror_shared->lock);
        free (self->mirror_shared);
        self->mirror_shared = NULL;
    }
}

//  Hand a set back to the worker with a status.
static void
s_done (cabi_broker_t *self, cabi_mirror_set_t *set, cab_status_t status)
{
    set->status = status;
    if (zsock_send (self->mirror, "sp", "DONE", set) != 0) {
        zsys_error ("cabruca-broker: mirror: cannot hand outcomes back to the worker");
        cabi_mirror_set_destroy (&set);
    }
}

void
cabi_mirror_recv (cabi_broker_t *self)
{
    char *kind = NULL;
    void *pointer = NULL;
    if (zsock_recv (self->mirror, "sp", &kind, &pointer) != 0 || !kind) {
        zstr_free (&kind);
        return;
    }
    if (streq (kind, "SET") && pointer) {
        cabi_mirror_set_t *set = (cabi_mirror_set_t *)pointer;
        if (self->mirror_pending || (self->terminating && !self->mirror_draining))
            s_done (self, set, CAB_ERR_BUSY);  //  The worker sends one at a time
        else
            self->mirror_pending = set;
    } else if (streq (kind, "DRAINED"))
        self->mirror_draining = false;
    zstr_free (&kind);
}

//  A Budget Threshold event with a detail (JSON text). New event or NULL.
static cab_event_t *
s_notice (cabi_broker_t *self, const char *detail_text)
{
    json_t *detail = json_loads (detail_text, 0, NULL);
    cab_event_t *event = detail ? cab_event_new ("cabruca.broker", "Budget Threshold", NULL) : NULL;
    if (!event) {
        json_decref (detail);
        return NULL;
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status = cab_event_update_detail_new (event, detail);
    if (status == CAB_OK && self->registry)
        status = cab_registry_validate (self->registry, event, &error);
    if (status != CAB_OK) {
        zsys_warning ("cabruca-broker: mirror: a Budget Threshold event is not valid: %s",
                      error.text);
        cab_event_destroy (&event);
    }
    return event;
}

void
cabi_mirror_drain (cabi_broker_t *self)
{
    if (!self->mirror || zstr_send (self->mirror, "DRAIN") != 0)
        return;
    self->mirror_draining = true;
    self->mirror_drain_until = zclock_mono () + CABI_MIRROR_DRAIN_MS;
}

bool
cabi_mirror_draining (cabi_broker_t *self)
{
    if (self->mirror_draining && zclock_mono () >= self->mirror_drain_until) {
        zsys_warning ("cabruca-broker: mirror: stopping without its last outcomes (their "
                      "events are sent again at the next start)");
        self->mirror_draining = false;
    }
    return self->mirror_draining;
}

void
cabi_mirror_attach (cabi_broker_t *self)
{
    cabi_mirror_set_t *set = self->mirror_pending;
    cabi_batch_t *batch = self->accum;
    //  The notices wait for room in the batch; a batch smaller than them
    //  (batch_max under CABI_MIRROR_NOTICES_MAX) takes what fits when it
    //  is empty, and the rest are counted lost.
    if (!set || batch->mirror_set ||
        (batch->count > 0 && batch->capacity - batch->count < set->notice_count) ||
        (self->terminating && !self->mirror_draining))
        return;
    //  The Budget Threshold events go in the same transaction as the
    //  budget state that says they were published.
    for (size_t index = 0; index < set->notice_count; index++) {
        cab_event_t *event = s_notice (self, set->notices[index]);
        if (!event || !cabi_broker_append_notice (self, &event)) {
            self->mirror_notices_lost++;
            zsys_warning ("cabruca-broker: mirror: a Budget Threshold event was not published");
            cab_event_destroy (&event);
        } else
            zsys_info ("cabruca-broker: mirror: Budget Threshold: %s", set->notices[index]);
    }
    batch->mirror_set = set;
    self->mirror_pending = NULL;
}

void
cabi_mirror_committed (cabi_broker_t *self, cabi_batch_t *batch)
{
    if (!self->mirror)
        return;
    cabi_mirror_set_t *set = batch->mirror_set;
    batch->mirror_set = NULL;
    if (set)
        s_done (self, set, batch->status);
    if (batch->status != CAB_OK)
        return;
    cabi_matchlog_put (self->mirror_shared->matchlog, batch, self->rules_gen);
    for (size_t index = 0; index < batch->count; index++)
        if (!batch->items[index].duplicate) {
            zstr_send (self->mirror, "WAKE");
            break;
        }
}

void
cabi_mirror_rules (cabi_broker_t *self, json_t *document)
{
    if (!self->mirror || self->config->mirror_cloud_rules || !document)
        return;
    json_t *copy = json_deep_copy (document);
    uint32_t gen = self->rules_gen;
    if (copy && zsock_send (self->mirror, "spb", "RULES", copy, &gen, sizeof gen) != 0)
        json_decref (copy);
}

void
cabi_mirror_budget (cabi_broker_t *self, json_t *section)
{
    if (!self->mirror || !section || zsock_send (self->mirror, "sp", "BUDGET", section) != 0)
        json_decref (section);
}

//  The store's mirror figures; zeros when they cannot be read.
static void
s_store_stats (cabi_broker_t *self, cab_mirror_store_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    cab_error_t error;
    cab_error_clear (&error);
    if (self->reader &&
        cab_store_mirror_stats (self->reader, s_now (self), stats, &error) != CAB_OK)
        memset (stats, 0, sizeof *stats);
}

json_t *
cabi_mirror_status (cabi_broker_t *self)
{
    if (!self->mirror)
        return json_pack ("{s:b}", "enabled", 0);
    cab_mirror_store_stats_t stats;
    s_store_stats (self, &stats);
    cabi_mirror_shared_t *shared = self->mirror_shared;
    pthread_mutex_lock (&shared->lock);
    bool dry_run = shared->dry_run;
    double cost = shared->cost_usd_month;
    pthread_mutex_unlock (&shared->lock);
    return json_pack ("{s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:f}", "enabled", 1, "dry_run", dry_run,
                      "outbox", (json_int_t)stats.outbox, "lag_ms", (json_int_t)stats.lag_ms,
                      "accepted", (json_int_t)stats.accepted, "dry_run_events",
                      (json_int_t)stats.dry_run, "dead", (json_int_t)stats.dead, "cost_usd_month",
                      cost);
}

json_t *
cabi_mirror_control_budget (cabi_broker_t *self)
{
    if (!self->mirror)
        return json_pack ("{s:b,s:b}", "ok", 1, "enabled", 0);
    cabi_mirror_shared_t *shared = self->mirror_shared;
    pthread_mutex_lock (&shared->lock);
    json_t *report = shared->report ? json_loads (shared->report, 0, NULL) : NULL;
    pthread_mutex_unlock (&shared->lock);
    if (!report)
        return cabi_control_error (CAB_ERR_NOMEM, NULL, "no budget report");
    return json_pack ("{s:b,s:b,s:o}", "ok", 1, "enabled", 1, "report", report);
}

//  A string or null.
static json_t *
s_string_or_null (const char *text)
{
    return text && *text ? json_string (text) : json_null ();
}

json_t *
cabi_mirror_control_status (cabi_broker_t *self)
{
    if (!self->mirror)
        return json_pack ("{s:b,s:b}", "ok", 1, "enabled", 0);
    cab_mirror_store_stats_t st;
    s_store_stats (self, &st);
    cabi_mirror_shared_t *shared = self->mirror_shared;
    pthread_mutex_lock (&shared->lock);
    cab_mirror_stats_t s = shared->sender;
    bool dry_run = shared->dry_run, up = shared->sender_up;
    json_t *reply =
        json_pack ("{s:b,s:b,s:b,s:s,s:o,s:o,s:o,s:{s:I,s:I}}", "ok", 1, "enabled", 1, "dry_run",
                   dry_run, "bus", shared->bus, "endpoint", s_string_or_null (shared->endpoint),
                   "region", s_string_or_null (shared->region), "sender_error",
                   up ? json_null () : json_string (shared->error), "cloud_matches", "from_broker",
                   (json_int_t)shared->matches_from_broker, "by_worker",
                   (json_int_t)shared->matches_by_worker);
    pthread_mutex_unlock (&shared->lock);
    json_t *sender =
        json_pack ("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:s}",
                   "submitted", (json_int_t)s.submitted, "requests", (json_int_t)s.requests,
                   "accepted", (json_int_t)s.accepted, "dead_lettered", (json_int_t)s.dead_lettered,
                   "failed", (json_int_t)s.failed, "dry_run_events", (json_int_t)s.dry_run_events,
                   "retries", (json_int_t)s.retries, "throttled", (json_int_t)s.throttled,
                   "server_errors", (json_int_t)s.server_errors, "network_errors",
                   (json_int_t)s.network_errors, "auth_errors", (json_int_t)s.auth_errors, "bytes",
                   (json_int_t)s.bytes, "chunks", (json_int_t)s.chunks, "cost_usd", s.cost_usd,
                   "queued", (json_int_t)s.queued, "in_flight", (json_int_t)s.in_flight,
                   "retry_tokens", (json_int_t)s.retry_tokens, "last_error", s.last_error);
    json_t *store = json_pack (
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "outbox", (json_int_t)st.outbox,
        "deferred", (json_int_t)st.deferred, "failed", (json_int_t)st.failed, "due",
        (json_int_t)st.due, "oldest_received_ms", (json_int_t)st.oldest_received_ms, "lag_ms",
        (json_int_t)st.lag_ms, "accepted", (json_int_t)st.accepted, "dry_run",
        (json_int_t)st.dry_run, "dead", (json_int_t)st.dead, "sampled", (json_int_t)st.sampled,
        "shed", (json_int_t)st.shed, "dlq_depth", (json_int_t)st.dlq_depth);
    if (!reply || !sender || !store) {
        json_decref (reply);
        json_decref (sender);
        json_decref (store);
        return cabi_control_error (CAB_ERR_NOMEM, NULL, "out of memory");
    }
    json_object_set_new (reply, "sender", sender);
    json_object_set_new (reply, "store", store);
    return reply;
}
