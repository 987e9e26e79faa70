/*  =========================================================================
    cab_textbuf - event texts shared with ZeroMQ, and a free list of them
    =========================================================================
*/
#include "cab_textbuf.h"
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct cabi_textbuf_t {
    atomic_uint refs;
    size_t size;      //  Bytes of text
    size_t capacity;  //  Bytes of data: CABI_TEXTBUF_POOLED for a pooled one
    char data[];
};

cabi_textbuf_t *
cabi_textbuf_new (cabi_textpool_t *pool, const char *text, size_t size)
{
    bool pooled = size <= CABI_TEXTBUF_POOLED;
    cabi_textbuf_t *self = NULL;
    if (pooled && pool && pool->count > 0)
        self = pool->items[--pool->count];
    else {
        size_t capacity = pooled ? CABI_TEXTBUF_POOLED : size;
        if (capacity > SIZE_MAX - sizeof *self)
            return NULL;
        self = (cabi_textbuf_t *)malloc (sizeof *self + capacity);
        if (!self)
            return NULL;
        self->capacity = capacity;
    }
    atomic_init (&self->refs, 1);
    self->size = size;
    if (size)
        memcpy (self->data, text, size);
    return self;
}

const char *
cabi_textbuf_data (const cabi_textbuf_t *self)
{
    return self->data;
}

size_t
cabi_textbuf_size (const cabi_textbuf_t *self)
{
    return self->size;
}

//  ZeroMQ's release, from whichever thread closes the message. Never the
//  pool: it belongs to the client's thread.
static void
s_zmq_free (void *data, void *hint)
{
    (void)data;
    cabi_textbuf_t *self = (cabi_textbuf_t *)hint;
    if (atomic_fetch_sub_explicit (&self->refs, 1, memory_order_acq_rel) == 1)
        free (self);
}

int
cabi_textbuf_msg (cabi_textbuf_t *self, zmq_msg_t *msg)
{
    atomic_fetch_add_explicit (&self->refs, 1, memory_order_relaxed);
    int rc = zmq_msg_init_data (msg, self->data, self->size, s_zmq_free, self);
    if (rc != 0)
        atomic_fetch_sub_explicit (&self->refs, 1, memory_order_relaxed);
    return rc;
}

void
cabi_textbuf_release (cabi_textbuf_t **self_p, cabi_textpool_t *pool)
{
    cabi_textbuf_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    *self_p = NULL;
    if (atomic_fetch_sub_explicit (&self->refs, 1, memory_order_acq_rel) != 1)
        return;  //  ZeroMQ still holds it and frees it
    if (pool && self->capacity == CABI_TEXTBUF_POOLED && pool->count < pool->max)
        pool->items[pool->count++] = self;
    else
        free (self);
}

bool
cabi_textpool_set_max (cabi_textpool_t *pool, size_t max)
{
    while (pool->count > max)
        free (pool->items[--pool->count]);
    if (max == pool->max)
        return true;
    cabi_textbuf_t **items = NULL;
    if (max > 0) {
        items = (cabi_textbuf_t **)realloc (pool->items, max * sizeof *items);
        if (!items)
            return false;
    } else
        free (pool->items);
    pool->items = items;
    pool->max = max;
    return true;
}

void
cabi_textpool_fini (cabi_textpool_t *pool)
{
    while (pool->count > 0)
        free (pool->items[--pool->count]);
    free (pool->items);
    memset (pool, 0, sizeof *pool);
}
