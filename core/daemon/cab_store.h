/*  =========================================================================
    cab_store - the durable event store (SQLite, WAL)

    The broker keeps every event it acknowledges in one SQLite file. Each
    event is given a sequence number (seq) by the store: 1, 2, 3, ... in commit
    order, never reused. Events are appended in batches, one transaction per
    batch (group commit), and a batch is all-or-nothing: when append returns
    CAB_OK every item in it is on disk (as durable as the durability setting
    says), when it returns an error nothing of the batch was written.

    Appending is idempotent: an item whose id is already stored (in an
    earlier batch or earlier in the same batch) is not written again; it is
    reported as a duplicate with the seq of the stored copy, so the broker
    can acknowledge a retried publish with its original sequence number.

    The event text is stored exactly as the publisher sent it (never
    re-serialised); the other columns are copies of envelope fields for the
    indexes (by time, by source and detail-type, by correlation id).

    Threads: a store handle is used by ONE thread (the broker's store writer
    actor owns the write connection). Readers (dashboard, CLI, replay) open
    their own handles with cab_store_new_readonly, in their own threads or
    processes; WAL lets them read while the writer writes.

    The file carries a store schema version (cab_store_version). Opening a
    store written by an older cabruca upgrades it in one transaction; a store
    from a newer cabruca is refused. See docs/architecture.md, "Event store".
    =========================================================================
*/
#ifndef CAB_STORE_H_INCLUDED
#define CAB_STORE_H_INCLUDED

#include "cabruca.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _cab_store_t cab_store_t;

//  How durable a commit is. The store always uses WAL.
typedef enum {
    CAB_STORE_NORMAL = 0,   //  synchronous=NORMAL: survives a crash of the process
    CAB_STORE_FULL = 1      //  synchronous=FULL: also survives power loss / OS crash
} cab_store_durability_t;

//  One delivery to create: an (event, rule, target) triple (see
//  cab_store_delivery.h). The strings are borrowed for the duration of the
//  call; id (and seq, for an item's routes) are set by the store.
typedef struct {
    const char *rule;           //  in: rule name (required)
    const char *target;         //  in: target id within the rule (required)
    const char *replay;         //  in: replay name, or NULL for a live delivery
    int64_t seq;                //  in for cab_store_batch_t.routes (the stored event);
                                //  out for an item's routes (the item's seq)
    int64_t next_ms;            //  in: first attempt not before this time (0: now)
    int64_t id;                 //  out: the new delivery id (0 when not created)
} cab_store_route_t;

//  One event to append. The inputs are borrowed for the duration of the
//  call; the outputs are set by cab_store_append.
typedef struct {
    const char *id;             //  in: event id (required, at most 256 bytes)
    const char *source;         //  in: source (required)
    const char *detail_type;    //  in: detail-type (required)
    const char *agent_id;       //  in: detail.agent_id, or NULL
    const char *correlation_id; //  in: detail.correlation_id, or NULL
    int64_t time_ms;            //  in: event time, ms since the Unix epoch (UTC)
    const char *text;           //  in: the event's JSON text, exactly as received
    size_t length;              //  in: bytes of text (1 .. CAB_EVENT_MAX_SIZE)
    int64_t seq;                //  out: the stored seq (the original one for a duplicate)
    bool duplicate;             //  out: the id was already stored; nothing written
    cab_store_route_t *routes;  //  in: deliveries to create with the event, or NULL;
                                //  created only when the item is not a duplicate
                                //  (a duplicate's routes get id 0). cab_store_write.
    size_t route_count;         //  in: entries in routes
    bool mirror;                //  in: also put the event in the mirror outbox
                                //  (not_before 0), in the same transaction;
                                //  ignored for a duplicate (cab_store_mirror.h)
} cab_store_item_t;

//  One stored event, as a reader sees it. All pointers are borrowed and
//  valid only during the callback that receives the record.
typedef struct {
    int64_t seq;
    const char *id;
    const char *source;
    const char *detail_type;
    const char *agent_id;       //  NULL if the event had none
    const char *correlation_id; //  NULL if the event had none
    int64_t time_ms;            //  event time, ms since the epoch
    int64_t received_ms;        //  when the store appended it, ms since the epoch
    const char *text;           //  the event's JSON text, exactly as received
    size_t length;              //  bytes of text (not NUL-terminated in the count)
} cab_store_record_t;

//  Called once per record by the scan functions, in scan order. Return 0 to
//  go on, anything else to stop the scan (the scan then returns CAB_OK).
typedef int (cab_store_fn) (const cab_store_record_t *record, void *arg);

//  What to scan. Zero a query (memset or `= {0}`) and set only what you need:
//  zero / NULL fields do not filter. Ranges are inclusive.
typedef struct {
    int64_t from_seq;           //  seq >= from_seq (0: from the first)
    int64_t to_seq;             //  seq <= to_seq (0: to the last)
    int64_t from_ms;            //  time_ms >= from_ms (0: no lower bound)
    int64_t to_ms;              //  time_ms <= to_ms (0: no upper bound)
    const char *source;         //  source equals, or NULL
    const char *detail_type;    //  detail-type equals, or NULL
    const char *correlation_id; //  correlation id equals, or NULL
    size_t limit;               //  at most this many records (0: no limit)
    bool descending;            //  newest first (by seq, or by time with a time range)
} cab_store_query_t;

//  Open the store at path for writing, creating it if it does not exist:
//  WAL journal, the given durability, a bounded page cache, prepared
//  statements. A store of an older schema version is upgraded in one
//  transaction. Returns NULL and fills error on failure:
//  CAB_ERR_STORE_UNAVAILABLE when the file cannot be opened, created or
//  written (missing directory, read-only file or file system, full disk,
//  locked by another writer); CAB_ERR_IO when the file is not an SQLite
//  database, is corrupt, or is an SQLite database that is not a cabruca
//  store; CAB_ERR_UNSUPPORTED_VERSION for a store written by a newer
//  cabruca; CAB_ERR_NOMEM. Caller owns the return value and must destroy it.
cab_store_t *
    cab_store_new (const char *path, cab_store_durability_t durability, cab_error_t *error);

//  Open an existing store read-only (for the dashboard, CLI and replay).
//  Never creates, writes or upgrades the file; cab_store_append on it fails
//  with CAB_ERR_INVALID_ARGUMENT. Returns NULL and fills error on failure:
//  CAB_ERR_STORE_UNAVAILABLE when the file cannot be opened (or does not
//  exist), CAB_ERR_IO as in cab_store_new, CAB_ERR_UNSUPPORTED_VERSION when
//  the store's version is not the one this build writes. Caller owns the
//  return value and must destroy it.
cab_store_t *
    cab_store_new_readonly (const char *path, cab_error_t *error);

//  Close the store (finalising statements; the last connection checkpoints
//  the WAL) and null the pointer; safe on NULL.
void
    cab_store_destroy (cab_store_t **self_p);

//  Append a batch of count items in ONE transaction (group commit). On
//  CAB_OK, every item has seq set and duplicate set when its id was already
//  stored (then nothing was written for it and seq is the stored one). The
//  batch is all-or-nothing: on any error nothing of it is stored, and every
//  item's seq is 0 and duplicate false. Errors:
//  CAB_ERR_INVALID_ARGUMENT (a missing id, source, detail-type or text, an
//  id over 256 bytes, a read-only handle; checked before anything is
//  written; error->text names the item index), CAB_ERR_TOO_LARGE (an item
//  over CAB_EVENT_MAX_SIZE), CAB_ERR_STORE_UNAVAILABLE when SQLite cannot
//  commit (disk full, read-only or unreachable file, I/O error, locked,
//  out of memory in SQLite; error->text says which). After
//  CAB_ERR_STORE_UNAVAILABLE the transaction is rolled back and the handle
//  stays usable: the next call tries again, so appends succeed again once
//  space returns. count 0 is a no-op returning CAB_OK. This is
//  cab_store_write (cab_store_delivery.h) with items only: routes set in
//  the items are created too.
cab_status_t
    cab_store_append (cab_store_t *self, cab_store_item_t *items, size_t count,
                      cab_error_t *error);

//  Look an event up by id. On CAB_OK sets *text_p (new, NUL-terminated;
//  caller must free() it; may be NULL to skip), *length_p and *seq_p (each
//  may be NULL). Returns CAB_ERR_NOT_FOUND when no event has this id,
//  CAB_ERR_STORE_UNAVAILABLE when the read fails, CAB_ERR_NOMEM.
cab_status_t
    cab_store_get (cab_store_t *self, const char *id, char **text_p, size_t *length_p,
                   int64_t *seq_p, cab_error_t *error);

//  Look an event up by seq. On CAB_OK sets *text_p (new, NUL-terminated;
//  caller must free() it; may be NULL to skip) and *length_p (may be NULL).
//  Returns CAB_ERR_NOT_FOUND, CAB_ERR_STORE_UNAVAILABLE, CAB_ERR_NOMEM.
cab_status_t
    cab_store_get_seq (cab_store_t *self, int64_t seq, char **text_p, size_t *length_p,
                       cab_error_t *error);

//  Call fn for every event with from_seq <= seq <= to_seq (to_seq 0: up to
//  the last), in ascending seq order, at most limit records (0: no limit).
//  Returns CAB_OK (also when fn stopped the scan), CAB_ERR_INVALID_ARGUMENT
//  for a NULL fn, CAB_ERR_STORE_UNAVAILABLE when the read fails.
cab_status_t
    cab_store_scan_seq (cab_store_t *self, int64_t from_seq, int64_t to_seq, size_t limit,
                        cab_store_fn *fn, void *arg, cab_error_t *error);

//  Call fn for every event matching query (see cab_store_query_t), ordered
//  by seq, or by time_ms (then seq) when the query has a time range; uses
//  the store's indexes. Returns as cab_store_scan_seq.
cab_status_t
    cab_store_scan (cab_store_t *self, const cab_store_query_t *query, cab_store_fn *fn,
                    void *arg, cab_error_t *error);

//  Return the number of stored events, or -1 if the store cannot be read.
int64_t
    cab_store_count (cab_store_t *self);

//  Return the highest seq stored (0 for an empty store), or -1 if the store
//  cannot be read.
int64_t
    cab_store_last_seq (cab_store_t *self);

//  Return the store's size on disk in bytes: database pages plus the WAL
//  file; -1 if it cannot be read.
int64_t
    cab_store_size_bytes (cab_store_t *self);

//  Return the store file's path. Borrowed, valid while the store lives.
const char *
    cab_store_path (cab_store_t *self);

//  Set the page cache ceiling in KiB (default CAB_STORE_CACHE_KIB). Returns
//  CAB_OK or CAB_ERR_INVALID_ARGUMENT when kib is below 256.
cab_status_t
    cab_store_set_cache_size (cab_store_t *self, int64_t kib);

//  Return the store schema version this build writes (and reads).
int
    cab_store_version (void);

//  ---- Checkpoints -------------------------------------------------------------
//  A commit appends pages to the write-ahead log; a checkpoint copies them
//  back into the database file (two syncs on a durable store) so that the
//  log can start again from its beginning. By default the write handle
//  checkpoints inside the commit that takes the log past
//  CAB_STORE_CHECKPOINT_PAGES pages, and that commit returns only when the
//  copy is synced. A writer that must answer quickly (the broker) turns that
//  off and checkpoints from a second handle in a thread of its own
//  (cab_store_new_checkpointer), finishing the last few pages itself so that
//  the log restarts (docs/architecture.md, "Checkpoints").

//  Open a second handle on an existing store that only checkpoints (and
//  reads like a cab_store_new_readonly handle): it never creates, upgrades
//  or writes rows. Errors as cab_store_new_readonly, and
//  CAB_ERR_STORE_UNAVAILABLE when the file cannot be opened for writing.
//  Caller owns the return value and must destroy it.
cab_store_t *
    cab_store_new_checkpointer (const char *path, cab_error_t *error);

//  Checkpoint inside this write handle's commits (automatic true, the
//  default) or only when cab_store_checkpoint is called (false). Returns
//  CAB_OK, or CAB_ERR_INVALID_ARGUMENT on a handle that does not write.
cab_status_t
    cab_store_set_auto_checkpoint (cab_store_t *self, bool automatic);

//  Return the pages in the write-ahead log after this write handle's last
//  commit (creating or upgrading the schema is one), or -1 on NULL. A drop means the log
//  restarted from its beginning.
int64_t
    cab_store_wal_pages (cab_store_t *self);

//  Copy the log's committed pages into the database without waiting for
//  readers or the writer (SQLite's PASSIVE checkpoint), from a write or
//  checkpointer handle. *log_p (may be NULL) gets the pages in the log,
//  *done_p (may be NULL) how many of them are now in the database; when
//  they are equal the next commit restarts the log (unless a reader still
//  reads an older snapshot). Returns CAB_OK; CAB_ERR_BUSY when another
//  handle is checkpointing (nothing done); CAB_ERR_INVALID_ARGUMENT on a
//  read-only handle; CAB_ERR_STORE_UNAVAILABLE when the copy or a sync
//  fails (full disk, I/O error).
cab_status_t
    cab_store_checkpoint (cab_store_t *self, int64_t *log_p, int64_t *done_p, cab_error_t *error);

//  Write to the disk the database file's pages that checkpoints copied
//  (SQLite's own sync of the file, through SQLITE_FCNTL_FILE_POINTER),
//  from a write or checkpointer handle. SQLite syncs the database file only
//  at a checkpoint that copies the whole log, which then flushes every page
//  the partial checkpoints before it copied; a checkpointer that calls
//  this after its copies leaves that one little to flush. Returns CAB_OK,
//  CAB_ERR_INVALID_ARGUMENT on a read-only handle, CAB_ERR_STORE_UNAVAILABLE
//  when the sync fails.
cab_status_t
    cab_store_sync_database (cab_store_t *self, cab_error_t *error);

//  Drop-behind (cab_store_cache.c): drop from the operating system's page
//  cache the database file's pages that lie before its last keep_bytes and
//  were not dropped by an earlier call, from a write or checkpointer
//  handle, right after cab_store_sync_database (dirty pages are not
//  dropped, only written out sooner). Does nothing until at least 4 MiB
//  more fell out of the tail. *dropped_p (may be NULL) gets the bytes of
//  the file advised. Returns CAB_OK; CAB_ERR_INVALID_ARGUMENT on a read-only
//  handle or a negative keep_bytes; CAB_ERR_STORE_UNAVAILABLE when the file
//  cannot be stat'ed; CAB_ERR_NOT_FOUND when no descriptor of it is found in
//  /proc/self/fd; CAB_ERR_IO when posix_fadvise fails.
cab_status_t
    cab_store_drop_cache (cab_store_t *self, int64_t keep_bytes, int64_t *dropped_p,
                          cab_error_t *error);

//  Log pages after which a write handle checkpoints inside its commit
//  (when automatic checkpoints are on).
#define CAB_STORE_CHECKPOINT_PAGES 4000
//  Default page cache ceiling, KiB. Bounded so that the broker stays under
//  its RSS goal whatever the store's size (docs/performance.md): 8 MiB
//  holds the hot pages of every index of a store of UUIDv7 ids.
#define CAB_STORE_CACHE_KIB 8192
//  Longest event id the store accepts, bytes.
#define CAB_STORE_ID_MAX 256

#endif
