/*  =========================================================================
    cab_store_private - the store handle, shared by the store's source files

    Private to cab_store.c, cab_store_delivery.c, cab_store_sweep.c and
    cab_store_mirror.c: the
    layout of cab_store_t and the small helpers they share. Nothing outside
    the store includes this header.
    =========================================================================
*/
#ifndef CAB_STORE_PRIVATE_H_INCLUDED
#define CAB_STORE_PRIVATE_H_INCLUDED

#include "cab_store.h"
#include "cab_store_delivery.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

//  Fixed statements of the delivery and sweep code, prepared on first use
//  and kept on the handle (indexes into cab_store_t.stmts).
typedef enum {
    CABI_STMT_ROUTE_INSERT,     //  new PENDING delivery
    CABI_STMT_ROUTE_INSERT_8,   //  ... 8 of them
    CABI_STMT_ROUTE_INSERT_32,  //  ... 32 of them
    CABI_STMT_UPDATE,           //  delivery state change
    CABI_STMT_UPDATE_DONE_RUN,  //  a run of consecutive deliveries DONE alike
    CABI_STMT_SEQ_EXISTS,       //  is there an event with this seq
    CABI_STMT_SWEEP_DEAD,       //  delete expired dead letters of one queue
    CABI_STMT_SWEEP_EVENTS,     //  oldest events, ascending seq
    CABI_STMT_SWEEP_HELD,       //  does an event have a PENDING or DEAD delivery
    CABI_STMT_SWEEP_EVENT_DONE, //  delete an event's (DONE) deliveries
    CABI_STMT_SWEEP_EVENT,      //  delete one event
    CABI_STMT_SEQ_FLOOR,        //  record the highest deleted seq
    CABI_STMT_DELIVERY_FLOOR,   //  record the highest delivery id given
    CABI_STMT_OUTBOX_ADD,       //  new outbox row (cab_store_mirror.c)
    CABI_STMT_OUTBOX_ADD_8,     //  ... 8 of them
    CABI_STMT_OUTBOX_ADD_32,    //  ... 32 of them
    CABI_STMT_OUTBOX_DELETE,    //  an outcome takes the row out of the outbox
    CABI_STMT_OUTBOX_DEFER,     //  DEFERRED outcome
    CABI_STMT_OUTBOX_DEFER_RUN, //  DEFERRED outcomes of consecutive seqs alike
    CABI_STMT_OUTBOX_FAIL,      //  FAILED outcome
    CABI_STMT_MIRRORED_SET,     //  record an outcome in mirrored
    CABI_STMT_MIRROR_DEAD,      //  a mirror dead letter (DEAD delivery)
    CABI_STMT_BUDGET_STATE,     //  save meta 'budget_state'
    CABI_STMT_REDRIVE_OUTBOX,   //  redriven mirror dead letters back to the outbox
    CABI_STMT_REDRIVE_MIRRORED, //  ... their mirrored rows deleted
    CABI_STMT_REDRIVE_DELETE,   //  ... and their deliveries
    CABI_STMT_SWEEP_MIRRORED,   //  delete an event's mirrored row
    CABI_STMT_OUTBOX_SCAN,      //  due outbox rows with their events
    CABI_STMT_OUTBOX_NEXT,      //  next not_before_ms above now
    CABI_STMT_MIRROR_OUTBOX,    //  outbox figures
    CABI_STMT_MIRROR_DONE,      //  mirrored figures
    CABI_STMT_MIRROR_GET_OUTBOX,  //  one event's outbox row
    CABI_STMT_MIRROR_GET_DONE,  //  one event's mirrored row
    CABI_STMT_BUDGET_READ,      //  read meta 'budget_state'
    CABI_STMT_COUNT_
} cabi_stmt_t;

//  Statements of the delivery queries, built from the query's filters and
//  cached by their shape (a small round-robin cache).
#define CABI_STORE_QUERIES 16

struct _cab_store_t {
    sqlite3 *db;
    char *path;
    bool readonly;
    int64_t last_seq;  //  writer: highest seq stored (or deleted)
    int64_t count;     //  writer: events stored
    int64_t last_delivery;  //  writer: highest delivery id given (or deleted)
    int64_t sweep_cursor;   //  writer: the retention walk goes on after this seq
    bool checkpointer;      //  opened read-write for checkpoints only
    bool auto_checkpoint;   //  writer: checkpoint inside the commit
    int64_t wal_pages;      //  writer: log pages after the last commit
    int64_t cache_dropped_to;  //  cab_store_drop_cache: file bytes dropped so far
    sqlite3_stmt *begin;
    sqlite3_stmt *commit;
    sqlite3_stmt *rollback;
    sqlite3_stmt *insert;
    sqlite3_stmt *lookup;   //  seq by id
    sqlite3_stmt *get_id;   //  seq, text by id
    sqlite3_stmt *get_seq;  //  text by seq
    sqlite3_stmt *stmts[CABI_STMT_COUNT_];
    struct {
        uint64_t key;       //  shape of the query (0: free slot)
        sqlite3_stmt *stmt;
    } queries[CABI_STORE_QUERIES];
    size_t query_next;      //  next slot to reuse
};

//  Current time, ms since the Unix epoch (UTC).
int64_t
    cabi_store_now_ms (void);

//  Bind text (borrowed, SQLITE_STATIC) or NULL to parameter index.
void
    cabi_store_bind_text (sqlite3_stmt *stmt, int index, const char *text);

//  Return the cached statement id, preparing it with sql on first use;
//  NULL (and *rc_p set) when it cannot be prepared.
sqlite3_stmt *
    cabi_store_stmt (cab_store_t *self, cabi_stmt_t id, const char *sql, int *rc_p);

//  Most rows one multi-row INSERT writes (statements of 32 and 8 rows:
//  SQLite opens the table's and indexes' cursors once a statement, which
//  for a small row costs about as much as the row).
#define CABI_STORE_ROWS_MAX 32

//  The rows of a multi-row INSERT for `count` rows: 32 or 8 (prepared as
//  head followed by count copies of tuple, comma separated, in slot id or
//  id + 1 for 32) when count allows, else 1 (the caller's one-row
//  statement). Returns the statement for 8 or 32, NULL for 1 (*rows_p 1)
//  or on error (*rc_p set, not SQLITE_OK). id is the 8-row slot; the
//  32-row one follows it.
sqlite3_stmt *
    cabi_store_rows_stmt (cab_store_t *self, cabi_stmt_t id, const char *head, const char *tuple,
                          size_t count, size_t *rows_p, int *rc_p);

//  Begin an IMMEDIATE transaction (the handle's cached BEGIN). Returns the
//  SQLite code (SQLITE_OK on success).
int
    cabi_store_begin (cab_store_t *self);

//  Commit the open transaction. Returns the SQLite code (SQLITE_OK).
int
    cabi_store_commit (cab_store_t *self);

//  Roll back the open transaction, if one is open (some SQLite errors roll
//  back by themselves), so that the next call starts clean.
void
    cabi_store_rollback (cab_store_t *self);

//  Fill error for a failed write or read (SQLite code rc while doing what)
//  and return CAB_ERR_STORE_UNAVAILABLE: to a caller, a failed write never
//  means a corrupt file; it cannot commit, it may be able to later.
cab_status_t
    cabi_store_unavailable (cab_store_t *self, int rc, const char *what, cab_error_t *error);

//  Record the highest delivery id given (self->last_delivery) in meta, so
//  that deleting the newest deliveries never lets their ids be given again.
//  Inside the caller's transaction. Returns the SQLite code.
int
    cabi_store_delivery_floor (cab_store_t *self);

//  Bind error text cut to CABI_STORE_ERROR_MAX bytes at a UTF-8 character
//  boundary (borrowed, SQLITE_STATIC), or NULL.
void
    cabi_store_bind_error (sqlite3_stmt *stmt, int index, const char *text);

//  Longest error text stored, bytes (longer ones are cut at a character).
#define CABI_STORE_ERROR_MAX 1024

//  The dead-letter queue a redrive marks the mirror's dead letters with
//  inside its transaction, before moving them back to the outbox.
#define CABI_MIRROR_REDRIVING "mirror-redriving"

//  Check the mirror part of a batch before anything is written
//  (cab_store_mirror.c): only a count without its array is refused
//  (CAB_ERR_INVALID_ARGUMENT, error filled); bad records are skipped when
//  written, so that the mirror never fails a batch of events.
cab_status_t
    cabi_store_check_mirror (const cab_store_batch_t *batch, cab_error_t *error);

//  Put the new events seqs[0..count) in the outbox (not_before 0), inside
//  the caller's transaction, several rows a statement. Returns the SQLite
//  code.
int
    cabi_store_outbox_add (cab_store_t *self, const int64_t *seqs, size_t count);

//  Write the batch's mirror outcomes and budget state inside the caller's
//  transaction: a DEAD outcome takes a delivery id from *next_delivery_p.
//  Outcomes whose seq has no outbox row are skipped. Returns the SQLite
//  code.
int
    cabi_store_write_mirror (cab_store_t *self, const cab_store_batch_t *batch, int64_t now_ms,
                             int64_t *next_delivery_p);

//  Inside a redrive's transaction: move the dead letters marked
//  CABI_MIRROR_REDRIVING back to the outbox (their mirrored rows and
//  deliveries deleted). Returns the SQLite code.
int
    cabi_store_redrive_mirror (cab_store_t *self);

//  Delete the mirrored row of event seq (the sweep deletes the event).
//  Returns the SQLite code.
int
    cabi_store_sweep_mirrored (cab_store_t *self, int64_t seq);

//  Finalise the delivery statements (cab_store_destroy calls it).
void
    cabi_store_finalize_stmts (cab_store_t *self);

#endif
