/*  =========================================================================
    cab_broker_writer - the store-writer actor and the batches it commits

    One thread owns the SQLite write connection. It takes a batch (a pointer
    on its pipe), appends it in one transaction and hands the same pointer
    back with the status set. The broker validates the next batch meanwhile.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

//  Re-read the store's size on disk at most this often, ms.
#define S_SIZE_EVERY_MS 1000

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
        free (self->meta[index].blob);
        self->meta[index].blob = NULL;
    }
    memset (self->items, 0, self->count * sizeof *self->items);
    self->count = 0;
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
    free (self->items);
    free (self->meta);
    free (self);
    *self_p = NULL;
}

typedef struct {
    char *path;
    cab_store_durability_t durability;
    cabi_writer_stats_t *stats;
} s_args_t;

static void
s_publish_size (cab_store_t *store, cabi_writer_stats_t *stats)
{
    __atomic_store_n (&stats->store_bytes, cab_store_size_bytes (store), __ATOMIC_RELAXED);
}

static void
s_writer_actor (zsock_t *pipe, void *arg)
{
    s_args_t *args = (s_args_t *)arg;
    cabi_writer_stats_t *stats = args->stats;
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
    zsock_send (pipe, "sis", "READY", 0, "");
    int64_t size_at = zclock_mono ();
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        if (zframe_streq (frame, "$TERM")) {
            zmsg_destroy (&msg);
            break;
        }
        cabi_batch_t *batch = NULL;
        zframe_t *pointer = zmsg_next (msg);
        if (zframe_streq (frame, "BATCH") && pointer && zframe_size (pointer) == sizeof batch)
            memcpy (&batch, zframe_data (pointer), sizeof batch);
        zmsg_destroy (&msg);
        if (!batch)
            continue;
        int64_t start = zclock_usecs ();
        batch->status = cab_store_append (store, batch->items, batch->count, &batch->error);
        int64_t now_us = zclock_usecs ();
        __atomic_add_fetch (&stats->commits, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch (&stats->commit_us, now_us - start, __ATOMIC_RELAXED);
        if (batch->status == CAB_OK) {
            for (size_t index = 0; index < batch->count; index++)
                if (batch->items[index].seq > stats->last_seq)
                    __atomic_store_n (&stats->last_seq, batch->items[index].seq, __ATOMIC_RELAXED);
        } else
            __atomic_add_fetch (&stats->failures, 1, __ATOMIC_RELAXED);
        if (zclock_mono () - size_at >= S_SIZE_EVERY_MS) {
            s_publish_size (store, stats);
            size_at = zclock_mono ();
        }
        zsock_send (pipe, "p", batch);
    }
    cab_store_destroy (&store);
}

zactor_t *
cabi_writer_new (const char *path, cab_store_durability_t durability, cabi_writer_stats_t *stats,
                 cab_error_t *error)
{
    //  The arguments live on our stack: the actor copies what it needs
    //  before it answers READY or ERROR, and we wait for that answer.
    s_args_t args = {(char *)path, durability, stats};
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

cabi_batch_t *
cabi_writer_recv (zactor_t *writer)
{
    void *pointer = NULL;
    if (zsock_recv (writer, "p", &pointer) != 0)
        return NULL;
    return (cabi_batch_t *)pointer;
}
