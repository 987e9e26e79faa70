/*  =========================================================================
    test_cab_client - the agent's side: pipelined publish in a window, a
    blocking publish, reconnection and re-sending across a broker restart.
    Each test starts a real broker in-process (tests/unit/broker_fixture.h).
    =========================================================================
*/
#include "broker_fixture.h"
#include <cabruca.h>

typedef struct {
    size_t acks, nacks, duplicates;
    uint64_t max_seq;
    cab_status_t last_code;
} s_tally_t;

static void
s_tally (const cab_client_result_t *result, void *arg)
{
    s_tally_t *tally = (s_tally_t *)arg;
    if (result->code == CAB_OK) {
        tally->acks++;
        tally->duplicates += result->duplicate;
        if (result->seq > tally->max_seq)
            tally->max_seq = result->seq;
    } else
        tally->nacks++;
    tally->last_code = result->code;
}

//  An Issue Detection built with the event API; the client fills agent_id.
static cab_event_t *
s_issue (const char *severity)
{
    cab_error_t error;
    cab_event_t *event = cab_event_new ("cabruca.agents.monitor", "Issue Detection", &error);
    ck_assert_ptr_nonnull (event);
    ck_assert_int_eq (cab_event_update_detail_new (
                          event, json_pack ("{s:s,s:s,s:s}", "severity", severity, "issue_type",
                                            "disk_full", "description", "/var is full")),
                      CAB_OK);
    return event;
}

START_TEST (test_window)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    s_tally_t tally = {0};
    cab_client_set_handler (client, s_tally, &tally);
    ck_assert_int_eq (cab_client_set_window (client, 100), CAB_OK);
    for (int index = 0; index < 5000; index++) {
        cab_event_t *event = s_issue ("LOW");
        ck_assert_int_eq (cab_client_publish (client, &event, 10000, NULL), CAB_OK);
        ck_assert_ptr_null (event);
        ck_assert_uint_le (cab_client_in_flight (client), 100);
    }
    ck_assert_int_eq (cab_client_flush (client, 20000, NULL), CAB_OK);
    ck_assert_uint_eq (tally.acks, 5000);
    ck_assert_uint_eq (tally.nacks, 0);
    //  5,000 monitor events pass the default hourly cap (2,100): the broker
    //  stores its Budget Threshold event too, maybe among ours.
    ck_assert (tally.max_seq == 5000 || tally.max_seq == 5001);
    ck_assert_uint_eq (fixture_count_source (&fixture, "cabruca.agents.monitor"), 5000);
    ck_assert (cab_client_connected (client));
    ck_assert_uint_eq (cab_client_sessions (client), 1);
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "send_failures")), 0);
    json_decref (status);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_publish_wait)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    cab_event_t *event = s_issue ("HIGH");
    uint64_t seq = 0;
    cab_error_t error;
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, &seq, &error), CAB_OK);
    ck_assert (seq == 1);
    event = s_issue ("SEVERE");
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, &seq, &error),
                      CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (error.path, "/detail/severity");
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

//  Events handed over before the broker exists are sent when it comes.
START_TEST (test_broker_later)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_client_t *client = cab_client_new (fixture.ipc, "monitor-001", NULL);
    s_tally_t tally = {0};
    cab_client_set_handler (client, s_tally, &tally);
    for (int index = 0; index < 10; index++) {
        cab_event_t *event = s_issue ("LOW");
        ck_assert_int_eq (cab_client_publish (client, &event, 0, NULL), CAB_OK);
    }
    cab_error_t error;
    ck_assert_int_eq (cab_client_flush (client, 200, &error), CAB_ERR_TIMEOUT);
    ck_assert (!cab_client_connected (client));
    fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    ck_assert_int_eq (cab_client_flush (client, 20000, &error), CAB_OK);
    ck_assert_uint_eq (tally.acks, 10);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

static int
s_count (const cab_store_record_t *record, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

//  The broker stops (draining) and comes back on the same endpoint and
//  store: the events published meanwhile are re-sent and stored once.
START_TEST (test_restart)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    s_tally_t tally = {0};
    cab_client_set_handler (client, s_tally, &tally);
    for (int index = 0; index < 100; index++) {
        cab_event_t *event = s_issue ("LOW");
        ck_assert_int_eq (cab_client_publish (client, &event, 5000, NULL), CAB_OK);
    }
    ck_assert_int_eq (cab_client_flush (client, 10000, NULL), CAB_OK);
    fixture_stop (&fixture);
    for (int index = 0; index < 100; index++) {
        cab_event_t *event = s_issue ("LOW");
        ck_assert_int_eq (cab_client_publish (client, &event, 0, NULL), CAB_OK);
    }
    cab_client_poll (client, 100);
    fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    ck_assert_int_eq (cab_client_flush (client, 20000, NULL), CAB_OK);
    ck_assert_uint_eq (tally.acks, 200);
    ck_assert_uint_eq (tally.nacks, 0);
    ck_assert_uint_ge (cab_client_sessions (client), 2);
    cab_client_destroy (&client);
    fixture_stop (&fixture);
    cab_store_t *store = cab_store_new_readonly (fixture.store, NULL);
    ck_assert_ptr_nonnull (store);
    int count = 0;
    ck_assert_int_eq (cab_store_scan_seq (store, 0, 0, 0, s_count, &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 200);
    cab_store_destroy (&store);
    fixture_fini (&fixture);
}
END_TEST

//  A client that makes no call is silent: the broker forgets it. On its
//  next call the client finds the session gone (its own liveness timeout,
//  or ERROR Disconnected from the broker) and opens a new one by itself.
START_TEST (test_forgotten)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    cab_event_t *event = s_issue ("LOW");
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, NULL, NULL), CAB_OK);
    ck_assert_uint_eq (cab_client_sessions (client), 1);
    //  Wait (with a deadline) until the broker has forgotten the silent client.
    int64_t deadline = zclock_mono () + 10000;
    json_int_t forgotten = 0, connected = 1;
    while ((forgotten < 1 || connected > 0) && zclock_mono () < deadline) {
        json_t *status = cab_broker_status (fixture.broker);
        forgotten = json_integer_value (json_object_get (status, "peers_forgotten"));
        connected = json_integer_value (json_object_get (status, "connected_agents"));
        json_decref (status);
        zclock_sleep (50);
    }
    ck_assert_int_ge (forgotten, 1);
    event = s_issue ("LOW");
    uint64_t seq = 0;
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 10000, &seq, NULL), CAB_OK);
    ck_assert (seq == 2);
    ck_assert_uint_ge (cab_client_sessions (client), 2);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

//  Deliveries answered later; subscriptions sent again after a restart.
typedef struct {
    int count;
    uint64_t last;
    char id[64];
} s_deliveries_t;

static int
s_later (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    s_deliveries_t *got = (s_deliveries_t *)arg;
    got->count++;
    got->last = delivery->delivery;
    snprintf (got->id, sizeof got->id, "%s", delivery->event_id);
    return CAB_CLIENT_LATER;
}

static cab_broker_config_t *
s_routing_config (fixture_t *fixture)
{
    cab_broker_config_t *config = fixture_config (fixture, fixture->ipc);
    config->rules_document = json_pack ("{s:[{s:s,s:{s:[s]},s:[{s:s,s:s,s:s}]}]}", "rules", "name",
                                        "all", "event_pattern", "source", "cabruca.agents.monitor",
                                        "targets", "id", "q", "type", "agent", "queue", "q");
    return config;
}

START_TEST (test_consume)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_routing_config (&fixture));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    s_deliveries_t got = {0};
    cab_error_t error;
    ck_assert_int_eq (cab_client_subscribe (client, "bad queue", NULL, s_later, &got, 0, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_client_subscribe (client, "q", NULL, NULL, &got, 0, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq (cab_client_subscribe (client, "q", NULL, s_later, &got, 5000, &error),
                      CAB_OK);
    cab_event_t *event = s_issue ("LOW");
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, NULL, NULL), CAB_OK);
    int64_t deadline = zclock_mono () + 5000;
    while (got.count < 1 && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    ck_assert_int_eq (got.count, 1);
    ck_assert_uint_eq (strlen (got.id), 36);
    //  Answered later, once.
    ck_assert_int_eq (cab_client_settle (client, got.last, true, &error), CAB_OK);
    ck_assert_int_eq (cab_client_settle (client, got.last, true, &error), CAB_ERR_NOT_FOUND);
    json_int_t delivered = 0;
    deadline = zclock_mono () + 5000;
    while (delivered < 1 && zclock_mono () < deadline) {
        json_t *status = cab_broker_status (fixture.broker);
        delivered = json_integer_value (
            json_object_get (json_object_get (status, "delivery"), "delivered"));
        json_decref (status);
        cab_client_poll (client, 20);
    }
    ck_assert_int_eq (delivered, 1);
    //  The broker restarts: the client subscribes again by itself.
    fixture_stop (&fixture);
    fixture_start (&fixture, s_routing_config (&fixture));
    deadline = zclock_mono () + 10000;
    while (cab_client_sessions (client) < 2 && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    event = s_issue ("LOW");
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 10000, NULL, NULL), CAB_OK);
    deadline = zclock_mono () + 10000;
    while (got.count < 2 && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    ck_assert_int_eq (got.count, 2);
    ck_assert_int_eq (cab_client_settle (client, got.last, false, &error), CAB_OK);
    //  Refused: delivered again.
    deadline = zclock_mono () + 10000;
    while (got.count < 3 && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    ck_assert_int_eq (got.count, 3);
    ck_assert_int_eq (cab_client_unsubscribe (client, "q", &error), CAB_OK);
    ck_assert_int_eq (cab_client_unsubscribe (client, "q", &error), CAB_ERR_NOT_FOUND);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_control)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    cab_client_t *client = cab_client_new (endpoint, NULL, NULL);
    json_t *reply = NULL;
    cab_error_t error;
    json_t *request = json_pack ("{s:s,s:s}", "op", "replay-status", "name", "nothing");
    ck_assert_int_eq (cab_client_control (client, request, &reply, 5000, &error), CAB_OK);
    ck_assert (json_is_false (json_object_get (reply, "ok")));
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "code")), CAB_ERR_NOT_FOUND);
    json_decref (reply);
    json_decref (request);
    request = json_pack ("{s:s}", "op", "dlq-redrive");
    ck_assert_int_eq (cab_client_control (client, request, &reply, 5000, &error), CAB_OK);
    ck_assert (json_is_true (json_object_get (reply, "ok")));
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "redriven")), 0);
    json_decref (reply);
    json_decref (request);
    json_t *array = json_array ();
    ck_assert_int_eq (cab_client_control (client, array, &reply, 5000, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    json_decref (array);
    fixture_stop (&fixture);
    request = json_pack ("{s:s}", "op", "dlq-purge");
    ck_assert_int_eq (cab_client_control (client, request, &reply, 200, &error), CAB_ERR_TIMEOUT);
    ck_assert_ptr_null (reply);
    json_decref (request);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_arguments)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_error_t error;
    ck_assert_ptr_null (cab_client_new (fixture.ipc, "bad agent", &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_client_new ("carrier-pigeon://x", "a", &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    //  A status-only client: no agent id, cannot publish, can ask.
    cab_client_t *client = cab_client_new (endpoint, NULL, &error);
    ck_assert_ptr_nonnull (client);
    ck_assert_int_eq (cab_client_set_window (client, 0), CAB_ERR_INVALID_ARGUMENT);
    cab_event_t *event = s_issue ("LOW");
    ck_assert_int_eq (cab_client_publish (client, &event, 0, &error), CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (event);
    json_t *status = NULL;
    ck_assert_int_eq (cab_client_status (client, &status, 5000, &error), CAB_OK);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "protocol")), 1);
    json_decref (status);
    cab_client_destroy (&client);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_client");
    TCase *tcase = tcase_create ("client");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_window);
    tcase_add_test (tcase, test_publish_wait);
    tcase_add_test (tcase, test_broker_later);
    tcase_add_test (tcase, test_restart);
    tcase_add_test (tcase, test_forgotten);
    tcase_add_test (tcase, test_arguments);
    tcase_add_test (tcase, test_consume);
    tcase_add_test (tcase, test_control);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
