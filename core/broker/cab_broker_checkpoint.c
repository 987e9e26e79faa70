/*  =========================================================================
    cab_broker_checkpoint - the store's checkpoints, off the commit path

    A commit appends pages to SQLite's write-ahead log; a checkpoint copies
    them back into the database file and syncs both files. Inside a commit
    (SQLite's automatic checkpoint) that stalls the writer for as long as
    the copy and the syncs take, and every event that arrives meanwhile
    waits for its ACK: that was the broker's whole latency tail
    (docs/performance.md, "Checkpoints off the commit path").

    So the writer's handle does not checkpoint in its commits. This actor,
    with a checkpointer handle of its own, copies the log's pages into the
    database whenever the writer pokes it (every CABI_CKPT_POKE_PAGES new
    pages), while the writer goes on committing. Under constant load the
    log would then never start again from its beginning: SQLite restarts it
    only at a commit that finds every page already copied. So once the log
    holds CABI_CKPT_RESTART_PAGES pages the writer copies the pages left
    itself, between two batches (after it has answered the last one); the
    next commit restarts the log.

    That copy syncs the log and the database file inside the commit path.
    SQLite syncs the database file only at a checkpoint that copies the
    whole log, so that sync flushed every page the checkpointer had copied
    in the whole cycle: 3-10 ms on this disk that every event arriving
    meanwhile waited for (docs/performance.md, "The log's restart"). So the
    checkpointer syncs the database file after each of its copies, and
    past the bound the writer pokes at every commit and finishes only when
    the checkpointer's last copy left at most CABI_CKPT_FINISH_PAGES pages
    (it publishes how far it copied), which it does within a few commits:
    the writer's copy is then as short as the checkpointer's own. Once the
    log is CABI_CKPT_FINISH_SLACK pages past the bound without that (a
    saturated writer appends faster than one copy, or the checkpointer
    fails) it finishes anyway: a log that grew past the size its file is
    truncated back to would allocate blocks again at every cycle.

    After each sync the checkpointer also drops from the page cache what
    fell out of the file's newest cache_tail_bytes (cab_store_drop_cache,
    "drop-behind"): those pages are on the disk and seldom read again.
    =========================================================================
*/
#include "cab_broker_internal.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

//  New log pages that make the writer poke the checkpointer (1 MB).
#define CABI_CKPT_POKE_PAGES 256
//  Log pages at which the writer finishes the checkpoint itself (64 MB,
//  the size the log file is truncated back to). Each finish stalls the
//  writer for two small syncs (2-25 ms measured here), so the longer the
//  log the fewer events wait; what it costs is disk space and a longer
//  recovery after a crash (the log is read again when the store opens).
#define CABI_CKPT_RESTART_PAGES (4 * CAB_STORE_CHECKPOINT_PAGES)
//  Pages the writer copies itself when it finishes (256 KB).
#define CABI_CKPT_FINISH_PAGES 64
//  Log pages past the bound at which the writer finishes whatever is left
//  (4 MB: the log stays under CAB_STORE_WAL_LIMIT).
#define CABI_CKPT_FINISH_SLACK 1024
//  A failing checkpoint is logged at most this often, ms.
#define CABI_CKPT_LOG_MS 10000

static void
s_log (int64_t *logged_at, const char *who, const char *text)
{
    int64_t now = zclock_mono ();
    if (*logged_at && now - *logged_at < CABI_CKPT_LOG_MS)
        return;
    *logged_at = now;
    zsys_warning ("cabruca-broker: %s checkpoint: %s", who, text);
}

//  The checkpointer's handle, and how far its last checkpoint copied
//  the log (frames, as SQLite counts them: the writer's log pages).
struct cabi_ckpt_shared_t {
    cab_store_t *store;
    _Atomic int64_t copied;
    int64_t cache_tail_bytes;  //  Drop-behind: the file's tail kept cached (0: off)
};

static void
s_checkpointer_actor (zsock_t *pipe, void *arg)
{
    cabi_ckpt_shared_t *shared = (cabi_ckpt_shared_t *)arg;
    cab_store_t *store = shared->store;
    pthread_setname_np (pthread_self (), "cab-checkpoint");
    zsock_signal (pipe, 0);
    void *socket = zsock_resolve (pipe);
    int64_t logged_at = 0;
    bool stop = false;
    while (!stop) {
        zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        //  Every poke that queued while we copied counts once.
        while (zsock_events (pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || strcmp (command, "$TERM") == 0)
                stop = true;
            zstr_free (&command);
            if (stop)
                break;
        }
        if (stop)
            break;
        cab_error_t error;
        cab_error_clear (&error);
        int64_t done = 0;
        cab_status_t status = cab_store_checkpoint (store, NULL, &done, &error);
        //  Pages copied: to the disk now, not in the writer's finishing
        //  checkpoint (SQLite syncs the database only there).
        if (status == CAB_OK && done != atomic_load (&shared->copied))
            status = cab_store_sync_database (store, &error);
        if (status == CAB_OK)
            atomic_store (&shared->copied, done);
        else if (status != CAB_ERR_BUSY)
            s_log (&logged_at, "background", error.text);
        //  The copied pages are on the disk: what fell out of the file's
        //  tail leaves the page cache (cab_store_cache.c).
        if (status == CAB_OK && shared->cache_tail_bytes > 0 &&
            cab_store_drop_cache (store, shared->cache_tail_bytes, NULL, &error) != CAB_OK)
            s_log (&logged_at, "drop-behind after a", error.text);
    }
    cab_store_destroy (&shared->store);
}

cab_status_t
cabi_checkpoints_start (cabi_checkpoints_t *self, cab_store_t *store, int64_t cache_tail_bytes,
                        cab_error_t *error)
{
    memset (self, 0, sizeof *self);
    self->poke_pages = CABI_CKPT_POKE_PAGES;
    self->restart_pages = CABI_CKPT_RESTART_PAGES;
    self->finish_pages = CABI_CKPT_FINISH_PAGES;
    self->finish_slack = CABI_CKPT_FINISH_SLACK;
    cabi_ckpt_shared_t *shared = (cabi_ckpt_shared_t *)calloc (1, sizeof *shared);
    if (!shared)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot start the checkpointer");
    atomic_init (&shared->copied, 0);
    shared->cache_tail_bytes = cache_tail_bytes;
    shared->store = cab_store_new_checkpointer (cab_store_path (store), error);
    if (!shared->store) {
        free (shared);
        return error ? error->code : CAB_ERR_STORE_UNAVAILABLE;
    }
    self->actor = zactor_new (s_checkpointer_actor, shared);
    if (!self->actor) {
        cab_store_destroy (&shared->store);
        free (shared);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot start the checkpointer");
    }
    self->shared = shared;
    cab_store_set_auto_checkpoint (store, false);
    return CAB_OK;
}

//  Have the checkpointer copy the log up to its `pages` pages. Never
//  blocks: a poke that finds the pipe full is not needed.
static void
s_poke (cabi_checkpoints_t *self, int64_t pages)
{
    zmq_send (zsock_resolve (self->actor), "C", 1, ZMQ_DONTWAIT);
    self->poked = pages;
}

void
cabi_checkpoints_after_commit (cabi_checkpoints_t *self, cab_store_t *store)
{
    if (!self->actor)
        return;
    int64_t pages = cab_store_wal_pages (store);
    if (pages < self->poked)
        self->poked = 0;  //  The log restarted
    if (pages >= self->restart_pages) {
        //  What the checkpointer left (a count above pages is from before
        //  the last restart: all of it is left).
        int64_t copied = atomic_load (&self->shared->copied);
        int64_t left = copied <= pages ? pages - copied : pages;
        if (left > self->finish_pages && pages < self->restart_pages + self->finish_slack) {
            if (pages > self->poked)
                s_poke (self, pages);
            return;
        }
        //  Copy what the checkpointer has not (BUSY: it is still copying;
        //  the next commit tries again).
        cab_error_t error;
        cab_error_clear (&error);
        cab_status_t status = cab_store_checkpoint (store, NULL, NULL, &error);
        if (status == CAB_OK) {
            self->finishes++;
            self->forced += left > self->finish_pages;
        } else if (status != CAB_ERR_BUSY)
            s_log (&self->logged_at, "writer", error.text);
        return;
    }
    if (pages - self->poked >= self->poke_pages)
        s_poke (self, pages);
}

void
cabi_checkpoints_idle (cabi_checkpoints_t *self, cab_store_t *store)
{
    if (!self->actor)
        return;
    int64_t pages = cab_store_wal_pages (store);
    if (pages > self->poked)
        s_poke (self, pages);
}

void
cabi_checkpoints_stop (cabi_checkpoints_t *self, cab_store_t *store)
{
    if (!self->actor)
        return;
    zactor_destroy (&self->actor);
    free (self->shared);
    self->shared = NULL;
    if (store)
        cab_store_set_auto_checkpoint (store, true);
}
