/*  =========================================================================
    broker_fixture - start a real broker in-process for the client and
    broker tests: a temporary directory for the store (and ipc socket), the
    schemas of the source tree, and a small allow-list.
    =========================================================================
*/
#ifndef BROKER_FIXTURE_H_INCLUDED
#define BROKER_FIXTURE_H_INCLUDED

#include "cab_broker.h"
#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char dir [256];         //  Temporary directory
    char store [300];       //  Store path in it
    char ipc [300];         //  "ipc://DIR/broker.ipc"
    cab_broker_t *broker;
} fixture_t;

static inline void
fixture_init (fixture_t *fixture)
{
    memset (fixture, 0, sizeof *fixture);
    snprintf (fixture->dir, sizeof fixture->dir, "/tmp/cab-test-XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (fixture->dir));
    snprintf (fixture->store, sizeof fixture->store, "%s/events.db", fixture->dir);
    snprintf (fixture->ipc, sizeof fixture->ipc, "ipc://%s/broker.ipc", fixture->dir);
}

static inline int
s_fixture_count (const cab_store_record_t *record, void *arg)
{
    (void)record;
    (*(size_t *)arg)++;
    return 0;
}

//  How many events of this source the fixture's store file holds.
static inline size_t
fixture_count_source (fixture_t *fixture, const char *source)
{
    cab_store_t *store = cab_store_new_readonly (fixture->store, NULL);
    ck_assert_ptr_nonnull (store);
    cab_store_query_t query = {0};
    query.source = source;
    size_t count = 0;
    ck_assert_int_eq (cab_store_scan (store, &query, s_fixture_count, &count, NULL), CAB_OK);
    cab_store_destroy (&store);
    return count;
}

static inline cab_broker_config_t *
fixture_config (fixture_t *fixture, const char *endpoint)
{
    cab_broker_config_t *config = cab_broker_config_new ();
    ck_assert_ptr_nonnull (config);
    ck_assert_int_eq (cab_broker_config_add_endpoint (config, endpoint), CAB_OK);
    config->store_path = strdup (fixture->store);
    const char *srcdir = getenv ("CAB_SRCDIR");
#ifdef CAB_TEST_SRCDIR
    if (!srcdir)
        srcdir = CAB_TEST_SRCDIR;
#endif
    char schemas [512];
    snprintf (schemas, sizeof schemas, "%s/schemas", srcdir ? srcdir : ".");
    config->schemas_dir = strdup (schemas);
    cab_broker_config_allow (config, "monitor-001", "cabruca.agents.monitor");
    cab_broker_config_allow (config, "tester-001", "cabruca.agents.tester");
    cab_broker_config_allow (config, "ops", "*");
    config->validators = 2; //  The full path, whatever the machine
    config->heartbeat_ms = 100;
    config->timeout_ms = 1000;
    return config;
}

//  Start (or restart) the fixture's broker with a configuration (stolen).
static inline const char *
fixture_start (fixture_t *fixture, cab_broker_config_t *config)
{
    cab_error_t error;
    cab_error_clear (&error);
    fixture->broker = cab_broker_new (&config, &error);
    if (!fixture->broker)
        ck_abort_msg ("broker did not start: %s", error.text);
    return cab_broker_endpoint (fixture->broker, 0);
}

static inline void
fixture_stop (fixture_t *fixture)
{
    cab_broker_destroy (&fixture->broker);
}

static inline void
fixture_fini (fixture_t *fixture)
{
    fixture_stop (fixture);
    char command [400];
    snprintf (command, sizeof command, "rm -rf '%s'", fixture->dir);
    if (system (command) != 0)
        fprintf (stderr, "cannot remove %s\n", fixture->dir);
}

//  A valid Issue Detection event of agent_id, with a fresh UUIDv7 (or the
//  given id). Returns a new string; caller frees it.
static inline char *
fixture_event (const char *agent_id, const char *id, const char *severity)
{
    char fresh [CAB_UUID_LENGTH + 1];
    if (!id)
        id = cab_uuid_v7 (fresh);
    char *text = NULL;
    if (asprintf (&text,
                  "{\"version\":\"0\",\"id\":\"%s\",\"detail-type\":\"Issue Detection\","
                  "\"source\":\"cabruca.agents.monitor\",\"account\":\"local\","
                  "\"time\":\"2026-11-22T10:00:00.000Z\",\"region\":\"sa-east-1\","
                  "\"resources\":[],\"detail\":{\"schema_version\":\"1.0\",\"agent_id\":\"%s\","
                  "\"correlation_id\":\"%s\",\"severity\":\"%s\",\"issue_type\":\"disk_full\","
                  "\"description\":\"/var is 97%% full\"}}",
                  id, agent_id, id, severity) < 0)
        return NULL;
    return text;
}

#endif
