/*  =========================================================================
    cab_broker_writer - the store-writer actor and the batches it commits

    One thread owns the SQLite write connection. It takes a batch (a pointer
    on its pipe), writes it in one transaction (the events, their new
    deliveries, delivery state changes and replayed deliveries: group
    commit) and hands the same pointer back with the status set. The broker
    validates the next batch meanwhile. Between batches the writer runs the
    control tasks (redrive, purge) and, every sweep_every_ms, one small step
    of the retention sweep, so that a sweep never stalls ingest.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

//  Re-read the store's size on disk at most this often, ms.
#define S_SIZE_EVERY_MS 1000
//  Rows deleted by one sweep step.
#define S_SWEEP_ROWS 500
//  Most routes one batch may hold (in each of its two pools).
#define S_ROUTES_MAX (4 * 1024 * 1024)

cabi_text_t *
cabi_text_new (const char *data, size_t length, size_t extra)
{
    cabi_text_t *self = (cabi_text_t *)malloc (sizeof *self + length + 1 + extra);
    if (!self)
        return NULL;
    self->refs = 1;
    self->length = length;
    self->ingest_ms = 0;
    if (data)
        memcpy (self->data, data, length);
    self->data[length] = 0;
    return self;
}

cabi_text_t *
cabi_text_ref (cabi_text_t *self)
{
    if (self)
        self->refs++;
    return self;
}

void
cabi_text_unref (cabi_text_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if (--(*self_p)->refs == 0)
        free (*self_p);
    *self_p = NULL;
}

cab_store_route_t *
cabi_routes_add (cabi_routes_t *routes, cab_rules_t *rules, size_t rule, size_t target,
                 cabi_text_t *text)
{
    if (routes->count == routes->capacity) {
        size_t capacity = routes->capacity ? routes->capacity * 2 : 64;
        if (capacity > S_ROUTES_MAX)
            return NULL;
        cab_store_route_t *more =
            (cab_store_route_t *)realloc (routes->routes, capacity * sizeof *more);
        if (!more)
            return NULL;
        routes->routes = more;
        cabi_route_meta_t *meta =
            (cabi_route_meta_t *)realloc (routes->meta, capacity * sizeof *meta);
        if (!meta)
            return NULL;
        routes->meta = meta;
        routes->capacity = capacity;
    }
    cab_store_route_t *route = &routes->routes[routes->count];
    memset (route, 0, sizeof *route);
    cabi_route_meta_t *meta = &routes->meta[routes->count++];
    meta->rules = cab_rules_ref (rules);
    meta->rule = (uint32_t)rule;
    meta->target = (uint32_t)target;
    meta->text = cabi_text_ref (text);
    return route;
}

static void
s_routes_reset (cabi_routes_t *routes)
{
    for (size_t index = 0; index < routes->count; index++) {
        cab_rules_unref (&routes->meta[index].rules);
        cabi_text_unref (&routes->meta[index].text);
    }
    routes->count = 0;
}

static void
s_routes_free (cabi_routes_t *routes)
{
    s_routes_reset (routes);
    free (routes->routes);
    free (routes->meta);
    memset (routes, 0, sizeof *routes);
}

int
cabi_batch_add_update (cabi_batch_t *self, int64_t id, cab_delivery_state_t state, int attempts,
                       int64_t next_ms, const char *dlq, const char *error)
{
    if (self->update_count == self->update_capacity) {
        size_t capacity = self->update_capacity ? self->update_capacity * 2 : 256;
        cab_delivery_update_t *more =
            (cab_delivery_update_t *)realloc (self->updates, capacity * sizeof *more);
        if (!more)
            return -1;
        self->updates = more;
        self->update_capacity = capacity;
    }
    cab_delivery_update_t *update = &self->updates[self->update_count];
    update->id = id;
    update->state = state;
    update->attempts = attempts;
    update->next_ms = next_ms;
    update->dlq = dlq ? strdup (dlq) : NULL;
    update->error = error ? strdup (error) : NULL;
    if ((dlq && !update->dlq) || (error && !update->error)) {
        free ((char *)update->dlq);
        free ((char *)update->error);
        return -1;
    }
    self->update_count++;
    return 0;
}

bool
cabi_batch_empty (cabi_batch_t *self)
{
    return self->count == 0 && self->update_count == 0 && self->routes.count == 0 &&
           !self->mirror_set;
}

cabi_batch_t *
cabi_batch_new (size_t capacity)
{
    cabi_batch_t *self = (cabi_batch_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->capacity = capacity;
    self->items = (cab_store_item_t *)calloc (capacity, sizeof *self->items);
    self->meta = (cabi_batch_meta_t *)calloc (capacity, sizeof *self->meta);
    if (!self->items || !self->meta)
        cabi_batch_destroy (&self);
    return self;
}

void
cabi_batch_reset (cabi_batch_t *self)
{
    for (size_t index = 0; index < self->count; index++) {
        zframe_destroy (&self->meta[index].identity);
        cabi_text_unref (&self->meta[index].blob);
    }
    memset (self->items, 0, self->count * sizeof *self->items);
    memset (self->meta, 0, self->count * sizeof *self->meta);
    self->count = 0;
    s_routes_reset (&self->item_routes);
    s_routes_reset (&self->routes);
    for (size_t index = 0; index < self->update_count; index++) {
        free ((char *)self->updates[index].dlq);
        free ((char *)self->updates[index].error);
    }
    self->update_count = 0;
    self->status = CAB_OK;
    cab_error_clear (&self->error);
}

void
cabi_batch_destroy (cabi_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cabi_batch_t *self = *self_p;
    if (self->items && self->meta)
        cabi_batch_reset (self);
    s_routes_free (&self->item_routes);
    s_routes_free (&self->routes);
    free (self->updates);
    free (self->items);
    free (self->meta);
    free (self);
    *self_p = NULL;
}

typedef struct {
    char *path;
    cab_store_durability_t durability;
    cab_store_retention_t retention;
    int sweep_every_ms;
    int64_t cache_tail_bytes;
    cabi_writer_stats_t *stats;
} s_args_t;

static void
s_publish_size (cab_store_t *store, cabi_writer_stats_t *stats)
{
    __atomic_store_n (&stats->store_bytes, cab_store_size_bytes (store), __ATOMIC_RELAXED);
}

static void
s_write_batch (cab_store_t *store, cabi_batch_t *batch, cabi_writer_stats_t *stats)
{
    //  The item route pool may have moved while it grew: point now.
    for (size_t index = 0; index < batch->count; index++) {
        cabi_batch_meta_t *meta = &batch->meta[index];
        batch->items[index].routes =
            meta->route_count ? &batch->item_routes.routes[meta->route_first] : NULL;
        batch->items[index].route_count = meta->route_count;
    }
    cab_store_batch_t write = {.items = batch->items,
                               .item_count = batch->count,
                               .updates = batch->updates,
                               .update_count = batch->update_count,
                               .routes = batch->routes.routes,
                               .route_count = batch->routes.count};
    if (batch->mirror_set) {
        //  The mirror's outcomes and the budget state that counts them.
        write.mirror_outcomes = batch->mirror_set->recs;
        write.mirror_outcome_count = batch->mirror_set->count;
        write.budget_state = batch->mirror_set->budget_state;
    }
    int64_t start = zclock_usecs ();
    batch->status = cab_store_write (store, &write, &batch->error);
    int64_t now_us = zclock_usecs ();
    __atomic_add_fetch (&stats->commits, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch (&stats->commit_us, now_us - start, __ATOMIC_RELAXED);
    if (batch->status == CAB_OK) {
        for (size_t index = 0; index < batch->count; index++)
            if (batch->items[index].seq > stats->last_seq)
                __atomic_store_n (&stats->last_seq, batch->items[index].seq, __ATOMIC_RELAXED);
    } else
        __atomic_add_fetch (&stats->failures, 1, __ATOMIC_RELAXED);
}

static void
s_run_task (cab_store_t *store, cabi_task_t *task)
{
    int64_t now = zclock_time ();
    if (task->kind == CABI_TASK_REDRIVE)
        task->status = cab_store_redrive (store, &task->query, now, &task->count, &task->error);
    else
        task->status = cab_store_purge (store, &task->query, &task->count, &task->error);
}

//  One step of the retention sweep. Returns true when there is more to do.
static bool
s_sweep (cab_store_t *store, const cab_store_retention_t *retention)
{
    int64_t deleted = 0;
    cab_error_t error;
    cab_error_clear (&error);
    if (cab_store_sweep (store, retention, zclock_time (), S_SWEEP_ROWS, &deleted, &error) !=
        CAB_OK) {
        zsys_warning ("cabruca-broker: retention sweep: %s", error.text);
        return false;
    }
    return deleted > 0;
}

static void
s_writer_actor (zsock_t *pipe, void *arg)
{
    s_args_t *args = (s_args_t *)arg;
    cabi_writer_stats_t *stats = args->stats;
    cab_store_retention_t retention = args->retention;
    int sweep_every_ms = args->sweep_every_ms;
    pthread_setname_np (pthread_self (), "cab-writer");
    zsock_signal (pipe, 0);
    cab_error_t error;
    cab_error_clear (&error);
    cab_store_t *store = cab_store_new (args->path, args->durability, &error);
    if (!store) {
        zsock_send (pipe, "sis", "ERROR", (int)error.code, error.text);
        char *command = NULL;
        while ((command = zstr_recv (pipe)) && strcmp (command, "$TERM") != 0)
            zstr_free (&command);
        zstr_free (&command);
        return;
    }
    __atomic_store_n (&stats->last_seq, cab_store_last_seq (store), __ATOMIC_RELAXED);
    s_publish_size (store, stats);
    //  Checkpoints off the commit path; without a checkpointer (its handle
    //  could not be opened) the commits checkpoint as SQLite does.
    cabi_checkpoints_t checkpoints;
    if (cabi_checkpoints_start (&checkpoints, store, args->cache_tail_bytes, &error) != CAB_OK)
        zsys_warning ("cabruca-broker: checkpoints stay in the commits: %s", error.text);
    zsock_send (pipe, "sis", "READY", 0, "");
    int64_t size_at = zclock_mono ();
    int64_t sweep_at = zclock_mono () + sweep_every_ms;
    while (true) {
        int64_t now = zclock_mono ();
        long wait = sweep_at > now ? (long)(sweep_at - now) : 0;
        zmq_pollitem_t item = {zsock_resolve (pipe), 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll (&item, 1, wait);
        if (ready < 0)
            break;
        if (ready == 0) {
            //  Idle: one sweep step; go on at once while there is more.
            bool more = s_sweep (store, &retention);
            sweep_at = zclock_mono () + (more ? 0 : sweep_every_ms);
            cabi_checkpoints_idle (&checkpoints, store);
            continue;
        }
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        if (zframe_streq (frame, "$TERM")) {
            zmsg_destroy (&msg);
            break;
        }
        void *pointer = NULL;
        zframe_t *data = zmsg_next (msg);
        if (data && zframe_size (data) == sizeof pointer)
            memcpy (&pointer, zframe_data (data), sizeof pointer);
        bool is_batch = zframe_streq (frame, "BATCH");
        bool is_task = zframe_streq (frame, "TASK");
        zmsg_destroy (&msg);
        if (!pointer || (!is_batch && !is_task))
            continue;
        if (is_batch)
            s_write_batch (store, (cabi_batch_t *)pointer, stats);
        else
            s_run_task (store, (cabi_task_t *)pointer);
        if (zclock_mono () - size_at >= S_SIZE_EVERY_MS) {
            s_publish_size (store, stats);
            size_at = zclock_mono ();
        }
        zsock_send (pipe, "sp", is_batch ? "BATCH" : "TASK", pointer);
        //  A sweep step is due even under constant load: run it between two
        //  batches (small, so that it never stalls ingest for long).
        if (zclock_mono () >= sweep_at + sweep_every_ms) {
            bool more = s_sweep (store, &retention);
            sweep_at = zclock_mono () + (more ? 0 : sweep_every_ms);
        }
        cabi_checkpoints_after_commit (&checkpoints, store);
    }
    cabi_checkpoints_stop (&checkpoints, store);
    cab_store_destroy (&store);
}

zactor_t *
cabi_writer_new (const char *path, cab_store_durability_t durability,
                 const cab_store_retention_t *retention, int sweep_every_ms,
                 int64_t cache_tail_bytes, cabi_writer_stats_t *stats, cab_error_t *error)
{
    //  The arguments live on our stack: the actor copies what it needs
    //  before it answers READY or ERROR, and we wait for that answer.
    s_args_t args = {(char *)path, durability, *retention, sweep_every_ms, cache_tail_bytes, stats};
    zactor_t *writer = zactor_new (s_writer_actor, &args);
    if (!writer) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot start the store writer");
        return NULL;
    }
    char *status = NULL, *text = NULL;
    int code = 0;
    if (zsock_recv (writer, "sis", &status, &code, &text) != 0 || !status ||
        strcmp (status, "READY") != 0) {
        cab_error_set (error, code ? (cab_status_t)code : CAB_ERR_INTERNAL, NULL,
                       "cannot open the store %s: %s", path, text ? text : "no answer");
        zactor_destroy (&writer);
    }
    zstr_free (&status);
    zstr_free (&text);
    return writer;
}

int
cabi_writer_send (zactor_t *writer, cabi_batch_t *batch)
{
    return zsock_send (writer, "sp", "BATCH", batch);
}

int
cabi_writer_send_task (zactor_t *writer, cabi_task_t *task)
{
    return zsock_send (writer, "sp", "TASK", task);
}

cabi_batch_t *
cabi_writer_recv (zactor_t *writer, cabi_task_t **task_p)
{
    char *kind = NULL;
    void *pointer = NULL;
    *task_p = NULL;
    if (zsock_recv (writer, "sp", &kind, &pointer) != 0 || !kind) {
        zstr_free (&kind);
        return NULL;
    }
    bool batch = strcmp (kind, "BATCH") == 0;
    zstr_free (&kind);
    if (batch)
        return (cabi_batch_t *)pointer;
    *task_p = (cabi_task_t *)pointer;
    return NULL;
}
