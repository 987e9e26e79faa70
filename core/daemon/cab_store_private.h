/*  =========================================================================
    cab_store_private - the store handle, shared by the store's source files

    Private to cab_store.c, cab_store_delivery.c and cab_store_sweep.c: the
    layout of cab_store_t and the small helpers they share. Nothing outside
    the store includes this header.
    =========================================================================
*/
#ifndef CAB_STORE_PRIVATE_H_INCLUDED
#define CAB_STORE_PRIVATE_H_INCLUDED

#include "cab_store.h"
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

//  Fixed statements of the delivery and sweep code, prepared on first use
//  and kept on the handle (indexes into cab_store_t.stmts).
typedef enum {
    CABI_STMT_ROUTE_INSERT,     //  new PENDING delivery
    CABI_STMT_UPDATE,           //  delivery state change
    CABI_STMT_SEQ_EXISTS,       //  is there an event with this seq
    CABI_STMT_SWEEP_DONE,       //  delete expired DONE deliveries
    CABI_STMT_SWEEP_DEAD,       //  delete expired dead letters of one queue
    CABI_STMT_SWEEP_EVENTS,     //  oldest events, ascending seq
    CABI_STMT_SWEEP_HELD,       //  does an event have a PENDING or DEAD delivery
    CABI_STMT_SWEEP_EVENT_DONE, //  delete an event's (DONE) deliveries
    CABI_STMT_SWEEP_EVENT,      //  delete one event
    CABI_STMT_SEQ_FLOOR,        //  record the highest deleted seq
    CABI_STMT_DELIVERY_FLOOR,   //  record the highest delivery id given
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

//  Finalise the delivery statements (cab_store_destroy calls it).
void
    cabi_store_finalize_stmts (cab_store_t *self);

#endif
