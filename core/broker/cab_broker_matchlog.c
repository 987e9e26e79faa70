/*  =========================================================================
    cab_broker_matchlog - each stored event's cloud rule matches, handed
    from the broker thread to the mirror worker

    The budget of the cloud mirror prices every event by the cloud rules it
    matches. When those are the broker's own rules, the broker thread has
    just matched the event to route it; the worker matching it again cost
    about a microsecond per event (docs/performance.md, "Routing cost").
    So the broker records, after the event's commit, how many rules of its
    rule document it matched (run-time subscriptions not counted: they are
    not cloud rules) under the document's generation, and the worker takes
    that count when its own copy of the rules has the same generation and
    no budget policy selects events by rule name (then it needs the names,
    and matches itself). An event not found here (overwritten by a newer
    one in its slot, stored before a restart, matched under other rules)
    is matched by the worker as before.

    One slot per seq modulo CABI_MATCHLOG_SLOTS, under a mutex: the broker
    takes it once per committed batch, the worker once per event.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <pthread.h>

typedef struct {
    int64_t seq;  //  0: empty
    uint32_t gen;
    uint32_t count;
} s_slot_t;

struct _cabi_matchlog_t {
    pthread_mutex_t lock;
    s_slot_t slots[CABI_MATCHLOG_SLOTS];
};

cabi_matchlog_t *
cabi_matchlog_new (void)
{
    cabi_matchlog_t *self = (cabi_matchlog_t *)calloc (1, sizeof *self);
    if (self)
        pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
cabi_matchlog_destroy (cabi_matchlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pthread_mutex_destroy (&(*self_p)->lock);
    free (*self_p);
    *self_p = NULL;
}

void
cabi_matchlog_put (cabi_matchlog_t *self, const cabi_batch_t *batch, uint32_t gen)
{
    if (!self || batch->status != CAB_OK)
        return;
    pthread_mutex_lock (&self->lock);
    for (size_t index = 0; index < batch->count; index++) {
        const cab_store_item_t *item = &batch->items[index];
        uint32_t count = batch->meta[index].cloud_matches;
        if (item->duplicate || item->seq <= 0 || count == CABI_MATCHES_UNKNOWN)
            continue;
        s_slot_t *slot = &self->slots[(uint64_t)item->seq % CABI_MATCHLOG_SLOTS];
        slot->seq = item->seq;
        slot->gen = gen;
        slot->count = count;
    }
    pthread_mutex_unlock (&self->lock);
}

bool
cabi_matchlog_get (cabi_matchlog_t *self, int64_t seq, uint32_t gen, size_t *count_p)
{
    if (!self || seq <= 0)
        return false;
    pthread_mutex_lock (&self->lock);
    const s_slot_t *slot = &self->slots[(uint64_t)seq % CABI_MATCHLOG_SLOTS];
    bool found = slot->seq == seq && slot->gen == gen;
    if (found)
        *count_p = slot->count;
    pthread_mutex_unlock (&self->lock);
    return found;
}
