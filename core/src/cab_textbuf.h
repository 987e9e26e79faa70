/*  =========================================================================
    cab_textbuf - event texts shared with ZeroMQ, and a free list of them
    (private to libcabruca)

    A publisher keeps each event's text until the broker answers (to send
    it again after a reconnection) and hands the same bytes to ZeroMQ,
    which sends them from its I/O thread. A cabi_textbuf_t is that text
    with a reference count: ZeroMQ takes a reference for every send (zero
    copy: zmq_msg_init_data) and drops it from its own thread when the
    bytes are gone; the publisher drops its own when the answer comes. The
    last one to let go frees the buffer, or, when the publisher is last,
    keeps it in a cabi_textpool_t for the next event.

    Why: a 1 KB event is past glibc's per-thread caches (1,032 bytes), so a
    malloc and free of its copy per event, one of them from ZeroMQ's I/O
    thread, went through malloc's slow paths (a fifth of a publisher's CPU
    in a profile). Texts up to CABI_TEXTBUF_POOLED bytes live in buffers of
    that one size and are reused; larger ones are allocated to size and
    freed.

    A pool belongs to one thread (the client's); only the reference count
    is touched by ZeroMQ's thread.
    =========================================================================
*/
#ifndef CAB_TEXTBUF_H_INCLUDED
#define CAB_TEXTBUF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

//  Texts up to this many bytes get a reusable buffer of this capacity.
#define CABI_TEXTBUF_POOLED 4000

typedef struct cabi_textbuf_t cabi_textbuf_t;

//  A free list of pooled buffers, owned by one thread. Zero-initialise it
//  (max 0 keeps nothing), then set its bound with cabi_textpool_set_max.
typedef struct {
    cabi_textbuf_t **items;
    size_t count, max;
} cabi_textpool_t;

//  A new buffer holding a copy of text[0 .. size), with one reference (the
//  caller's). Taken from pool (may be NULL) when the text fits a pooled
//  buffer and one is free. Returns NULL when out of memory.
cabi_textbuf_t *
cabi_textbuf_new (cabi_textpool_t *pool, const char *text, size_t size);

//  The text and its size.
const char *
cabi_textbuf_data (const cabi_textbuf_t *self);
size_t
cabi_textbuf_size (const cabi_textbuf_t *self);

//  Initialise msg to the buffer's bytes without copying them, with a new
//  reference that ZeroMQ drops when it closes the message (from any
//  thread). Returns 0, or -1 (errno from zmq_msg_init_data) and no
//  reference taken.
int
cabi_textbuf_msg (cabi_textbuf_t *self, zmq_msg_t *msg);

//  Drop the caller's reference and set *self_p to NULL. When it was the
//  last, the buffer goes back to pool (may be NULL) if it is a pooled one
//  and the pool is below its bound, else it is freed. Nothing when
//  *self_p is NULL.
void
cabi_textbuf_release (cabi_textbuf_t **self_p, cabi_textpool_t *pool);

//  Bound the pool to max buffers (freeing any beyond it). Returns false
//  when out of memory (the pool is unchanged).
bool
cabi_textpool_set_max (cabi_textpool_t *pool, size_t max);

//  Free every buffer in the pool and its list; the pool is zeroed.
void
cabi_textpool_fini (cabi_textpool_t *pool);

#endif
