/*  =========================================================================
    store_seed - write a small, known event store for the CLI's tests

        store_seed PATH        a current store (tests/integration/cli-dlq.sh)
        store_seed --v2 PATH   a store as cabruca 0.1 wrote it (schema 2)

    The current store holds events 1..6 (ids 0190a0b0-0000-7000-8000-
    00000000000N), each routed to rule "poison" target "fail" and to rule
    "audit" target "log": event N has deliveries 2N-1 (poison) and 2N
    (audit). Then:
        1, 3, 5   DEAD in "standard", 4 attempts, error "exit status 1"
        7         DEAD in "critical", 2 attempts, an error of two lines
        2, 4      DONE
        the rest  PENDING
    Exit status 0, or 1 with a message.
    =========================================================================
*/
#include "cab_store_delivery.h"
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define EVENTS 6

static int
s_v2 (const char *path)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open (path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (
            db,
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('format', 'cabruca-store'), ('schema_version', '2');"
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
            " time_ms INTEGER NOT NULL, source TEXT NOT NULL, detail_type TEXT NOT NULL,"
            " agent_id TEXT, correlation_id TEXT, received_ms INTEGER NOT NULL,"
            " text TEXT NOT NULL);"
            "CREATE UNIQUE INDEX events_id ON events (id);",
            NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        fprintf (stderr, "store_seed: %s: %s\n", path, sqlite3_errmsg (db));
    sqlite3_close (db);
    return rc == SQLITE_OK ? 0 : 1;
}

int
main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv[1], "--v2") == 0)
        return s_v2 (argv[2]);
    if (argc != 2) {
        fprintf (stderr, "usage: store_seed [--v2] PATH\n");
        return 1;
    }
    cab_error_t error;
    cab_store_t *store = cab_store_new (argv[1], CAB_STORE_NORMAL, &error);
    if (!store) {
        fprintf (stderr, "store_seed: %s\n", error.text);
        return 1;
    }
    char ids[EVENTS][48], texts[EVENTS][256];
    cab_store_item_t items[EVENTS];
    cab_store_route_t routes[EVENTS][2];
    memset (items, 0, sizeof items);
    for (int i = 0; i < EVENTS; i++) {
        snprintf (ids[i], sizeof ids[i], "0190a0b0-0000-7000-8000-%012d", i + 1);
        int length = snprintf (texts[i], sizeof texts[i],
                               "{\"version\":\"0\",\"id\":\"%s\",\"source\":\"cabruca.test\","
                               "\"detail-type\":\"Seed Event\",\"time\":"
                               "\"2026-11-22T10:00:0%d.000Z\",\"detail\":{\"n\":%d}}",
                               ids[i], i + 1, i + 1);
        routes[i][0] = (cab_store_route_t){.rule = "poison", .target = "fail"};
        routes[i][1] = (cab_store_route_t){.rule = "audit", .target = "log"};
        items[i] = (cab_store_item_t){.id = ids[i],
                                      .source = "cabruca.test",
                                      .detail_type = "Seed Event",
                                      .time_ms = 1795341600000 + (i + 1) * 1000,
                                      .text = texts[i],
                                      .length = (size_t)length,
                                      .routes = routes[i],
                                      .route_count = 2};
    }
    cab_delivery_update_t updates[] = {
        {.id = 1,
         .state = CAB_DELIVERY_DEAD,
         .attempts = 4,
         .dlq = "standard",
         .error = "exit status 1"},
        {.id = 3,
         .state = CAB_DELIVERY_DEAD,
         .attempts = 4,
         .dlq = "standard",
         .error = "exit status 1"},
        {.id = 5,
         .state = CAB_DELIVERY_DEAD,
         .attempts = 4,
         .dlq = "standard",
         .error = "exit status 1"},
        {.id = 7,
         .state = CAB_DELIVERY_DEAD,
         .attempts = 2,
         .dlq = "critical",
         .error = "timeout\nafter 10000 ms"},
        {.id = 2, .state = CAB_DELIVERY_DONE, .attempts = 1},
        {.id = 4, .state = CAB_DELIVERY_DONE, .attempts = 1},
    };
    cab_store_batch_t batch = {.items = items, .item_count = EVENTS};
    cab_status_t status = cab_store_write (store, &batch, &error);
    batch =
        (cab_store_batch_t){.updates = updates, .update_count = sizeof updates / sizeof updates[0]};
    if (status == CAB_OK)
        status = cab_store_write (store, &batch, &error);
    if (status == CAB_OK && routes[0][0].id != 1)
        fprintf (stderr, "store_seed: unexpected delivery id %lld\n", (long long)routes[0][0].id);
    if (status != CAB_OK)
        fprintf (stderr, "store_seed: %s\n", error.text);
    cab_store_destroy (&store);
    return status == CAB_OK && routes[0][0].id == 1 ? 0 : 1;
}
