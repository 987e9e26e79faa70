/*  =========================================================================
    cab_store_migrate - store schema creation, version check and upgrades

    Private to cab_store.c. The store schema history and the SQL of every
    version live in cab_store_migrate.c.
    =========================================================================
*/
#ifndef CAB_STORE_MIGRATE_H_INCLUDED
#define CAB_STORE_MIGRATE_H_INCLUDED

#include "cabruca.h"
#include <sqlite3.h>

//  The store schema version this build writes.
#define CABI_STORE_VERSION 5

//  Bring the database on db (open for writing, WAL set) to the current
//  schema: create it when the file has no tables, upgrade an older version,
//  all in one IMMEDIATE transaction. Returns CAB_OK; CAB_ERR_IO (not a
//  cabruca store, corrupt, not a database), CAB_ERR_UNSUPPORTED_VERSION
//  (newer store), CAB_ERR_STORE_UNAVAILABLE (cannot write). path is only
//  used in messages.
cab_status_t
    cabi_store_migrate (sqlite3 *db, const char *path, cab_error_t *error);

//  Read the schema version of a store opened read-only and check it is the
//  current one. Same errors as cabi_store_migrate.
cab_status_t
    cabi_store_check_version (sqlite3 *db, const char *path, cab_error_t *error);

//  Fill error for an SQLite failure rc while doing `what` and return the
//  cabruca code: CAB_ERR_IO for a corrupt or non-database file,
//  CAB_ERR_STORE_UNAVAILABLE for everything else.
cab_status_t
    cabi_store_error (sqlite3 *db, int rc, const char *path, const char *what,
                      cab_error_t *error);

#endif
