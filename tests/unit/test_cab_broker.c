/*  =========================================================================
    test_cab_broker - the broker in-process on real sockets: ACK after
    commit, a NACK for each refusal code, duplicate ids, hostile peers.
    =========================================================================
*/
#include "broker_fixture.h"
#include <cabruca.h>

//  Publish one text and wait for its result.
typedef struct {
    int count;
    cab_client_result_t last;
    char path[CAB_ERROR_PATH_MAX];
    char text[CAB_ERROR_TEXT_MAX];
    char id[64];
} s_results_t;

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    s_results_t *results = (s_results_t *)arg;
    results->count++;
    results->last = *result;
    snprintf (results->path, sizeof results->path, "%s", result->path);
    snprintf (results->text, sizeof results->text, "%s", result->text);
    snprintf (results->id, sizeof results->id, "%s", result->event_id);
}

static cab_status_t
s_publish_one (cab_client_t *client, s_results_t *results, const char *text, size_t size)
{
    int before = results->count;
    ck_assert_int_eq (cab_client_publish_text (client, text, size, 5000, NULL), CAB_OK);
    ck_assert_int_eq (cab_client_flush (client, 10000, NULL), CAB_OK);
    ck_assert_int_eq (results->count, before + 1);
    return results->last.code;
}

//  Run with the events validated in the broker thread (_i = 0) and by
//  validator actors (_i = 2).
START_TEST (test_ack_and_nacks)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, "tcp://127.0.0.1:*");
    config->validators = (size_t)_i;
    const char *endpoint = fixture_start (&fixture, config);
    ck_assert (strncmp (endpoint, "tcp://127.0.0.1:", 16) == 0);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    ck_assert_ptr_nonnull (client);
    s_results_t results = {0};
    cab_client_set_handler (client, s_on_result, &results);

    //  A valid event: ACK with seq 1, after its commit.
    char *text = fixture_event ("monitor-001", NULL, "HIGH");
    ck_assert_int_eq (s_publish_one (client, &results, text, strlen (text)), CAB_OK);
    ck_assert (results.last.seq == 1);
    ck_assert (!results.last.duplicate);
    //  The same id again: ACKed with the original seq, not stored twice.
    ck_assert_int_eq (s_publish_one (client, &results, text, strlen (text)), CAB_OK);
    ck_assert (results.last.seq == 1);
    ck_assert (results.last.duplicate);
    free (text);

    //  One NACK per refusal, with its code and pointer.
    ck_assert_int_eq (s_publish_one (client, &results, "{\"id\":", 6), CAB_ERR_INVALID_JSON);
    ck_assert_int_eq (s_publish_one (client, &results, "{}", 2), CAB_ERR_INVALID_ENVELOPE);
    text = fixture_event ("monitor-001", NULL, "APOCALYPTIC");
    ck_assert_int_eq (s_publish_one (client, &results, text, strlen (text)),
                      CAB_ERR_SCHEMA_VIOLATION);
    ck_assert_str_eq (results.path, "/detail/severity");
    free (text);
    text = fixture_event ("monitor-002", NULL, "LOW");
    ck_assert_int_eq (s_publish_one (client, &results, text, strlen (text)), CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (results.path, "/detail/agent_id");
    free (text);
    size_t big = CAB_EVENT_MAX_SIZE + 10;
    char *large = (char *)malloc (big);
    memset (large, ' ', big);
    ck_assert_int_eq (s_publish_one (client, &results, large, big), CAB_ERR_TOO_LARGE);
    free (large);

    //  An agent allowed only another source.
    cab_client_t *tester = cab_client_new (endpoint, "tester-001", NULL);
    cab_client_set_handler (tester, s_on_result, &results);
    text = fixture_event ("tester-001", NULL, "LOW");
    ck_assert_int_eq (s_publish_one (tester, &results, text, strlen (text)), CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (results.path, "/source");
    free (text);
    //  An unknown event type (the "ops" agent may publish any source).
    cab_client_t *ops = cab_client_new (endpoint, "ops", NULL);
    cab_client_set_handler (ops, s_on_result, &results);
    text = fixture_event ("ops", NULL, "LOW");
    char *at = strstr (text, "Issue Detection");
    memcpy (at, "Issue Detectiox", 15);
    ck_assert_int_eq (s_publish_one (ops, &results, text, strlen (text)),
                      CAB_ERR_UNKNOWN_EVENT_TYPE);
    free (text);

    //  Counters by code.
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert_ptr_nonnull (status);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "stored")), 1);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "duplicates")), 1);
    json_t *nacked = json_object_get (status, "nacked");
    ck_assert_int_eq (json_integer_value (json_object_get (nacked, "AccessDenied")), 2);
    ck_assert_int_eq (json_integer_value (json_object_get (nacked, "TooLarge")), 1);
    ck_assert_int_eq (json_integer_value (json_object_get (nacked, "SchemaViolation")), 1);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "connected_agents")), 3);
    json_decref (status);
    //  The same counters over the wire.
    ck_assert_int_eq (cab_client_status (client, &status, 5000, NULL), CAB_OK);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "nacked_total")), 7);
    json_decref (status);

    cab_client_destroy (&tester);
    cab_client_destroy (&ops);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

//  A raw DEALER, speaking the protocol by hand.
static zsock_t *
s_raw (const char *endpoint)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    ck_assert_ptr_nonnull (dealer);
    zsock_set_rcvtimeo (dealer, 5000);
    return dealer;
}

//  Receive one message and check its command and, for ERROR/NACK, its code.
//  The broker's HEARTBEATs to a peer with a session may come first (a slow
//  machine can take a heartbeat interval between two steps): skipped.
static void
s_expect (zsock_t *dealer, const char *command, cab_status_t code)
{
    zmsg_t *msg = NULL;
    char *signature = NULL, *name = NULL;
    while (true) {
        msg = zmsg_recv (dealer);
        ck_assert_ptr_nonnull (msg);
        signature = zmsg_popstr (msg);
        name = zmsg_popstr (msg);
        if (!name || !streq (name, "HEARTBEAT") || streq (command, "HEARTBEAT"))
            break;
        zstr_free (&signature);
        zstr_free (&name);
        zmsg_destroy (&msg);
    }
    ck_assert_str_eq (signature, "CAB/1");
    ck_assert_str_eq (name, command);
    if (streq (command, "NACK"))
        zstr_free (&name), name = zmsg_popstr (msg);  //  The tag
    if (streq (command, "ERROR") || streq (command, "NACK")) {
        char *number = zmsg_popstr (msg);
        ck_assert_int_eq ((int)strtol (number, NULL, 10), code);
        zstr_free (&number);
    }
    zstr_free (&signature);
    zstr_free (&name);
    zmsg_destroy (&msg);
}

START_TEST (test_hostile_frames)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    zsock_t *raw = s_raw (endpoint);
    //  Not our protocol at all; another version; an unknown command.
    zstr_send (raw, "GET / HTTP/1.0");
    s_expect (raw, "ERROR", CAB_ERR_PROTOCOL);
    zstr_sendx (raw, "CAB/7", "HELLO", "monitor-001", NULL);
    s_expect (raw, "ERROR", CAB_ERR_UNSUPPORTED_VERSION);
    zstr_sendx (raw, "CAB/1", "JUMP", NULL);
    s_expect (raw, "ERROR", CAB_ERR_PROTOCOL);
    //  A publish before HELLO; a command only the broker sends.
    zstr_sendx (raw, "CAB/1", "PUBLISH", "1", "{}", NULL);
    s_expect (raw, "ERROR", CAB_ERR_DISCONNECTED);
    zstr_sendx (raw, "CAB/1", "ACK", "1", "1", "x", "stored", NULL);
    s_expect (raw, "ERROR", CAB_ERR_PROTOCOL);
    //  With a session: a malformed PUBLISH is NACKed by its tag.
    zstr_sendx (raw, "CAB/1", "HELLO", "monitor-001", NULL);
    s_expect (raw, "WELCOME", CAB_OK);
    zstr_sendx (raw, "CAB/1", "PUBLISH", "t1", NULL);
    s_expect (raw, "NACK", CAB_ERR_PROTOCOL);
    zstr_sendx (raw, "CAB/1", "PUBLISH", "t2", "{\"a\":", NULL);
    s_expect (raw, "NACK", CAB_ERR_INVALID_JSON);
    //  An ERROR from a peer is counted, never answered.
    zstr_sendx (raw, "CAB/1", "ERROR", "15", "ProtocolError", "x", NULL);
    zstr_sendx (raw, "CAB/1", "STATUS", NULL);
    s_expect (raw, "STATUS-REPLY", CAB_OK);
    //  A well-behaved client is unaffected.
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    char *text = fixture_event ("monitor-001", NULL, "LOW");
    cab_event_t *event = cab_event_load (text, strlen (text), NULL);
    free (text);
    uint64_t seq = 0;
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, &seq, NULL), CAB_OK);
    ck_assert (seq == 1);
    cab_client_destroy (&client);
    zsock_destroy (&raw);
    fixture_fini (&fixture);
}
END_TEST

//  One peer floods past its window: NACK Busy for the excess, memory
//  bounded by the window, every publish answered -- or, when the flood
//  outruns the peer's own reading, its replies dropped and counted.
START_TEST (test_flood)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, fixture.ipc);
    config->max_in_flight = 50;
    const char *endpoint = fixture_start (&fixture, config);
    zsock_t *raw = s_raw (endpoint);
    zstr_sendx (raw, "CAB/1", "HELLO", "monitor-001", NULL);
    s_expect (raw, "WELCOME", CAB_OK);
    int total = 3000, acks = 0, busy = 0, sent = 0;
    while (acks + busy < total) {
        if (sent < total) {
            char *text = fixture_event ("monitor-001", NULL, "LOW");
            char tag[16];
            snprintf (tag, sizeof tag, "%d", sent++);
            zstr_sendx (raw, "CAB/1", "PUBLISH", tag, text, NULL);
            free (text);
        }
        zmq_pollitem_t item = {zsock_resolve (raw), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, sent < total ? 0 : 2000) <= 0) {
            if (sent == total)
                break;  //  Nothing more comes
            continue;
        }
        zmsg_t *msg = zmsg_recv (raw);
        ck_assert_ptr_nonnull (msg);
        zmsg_first (msg);
        zframe_t *command = zmsg_next (msg);
        if (zframe_streq (command, "ACK"))
            acks++;
        else if (zframe_streq (command, "NACK"))
            busy++;
        zmsg_destroy (&msg);
    }
    json_t *status = cab_broker_status (fixture.broker);
    json_int_t nacked_busy =
        json_integer_value (json_object_get (json_object_get (status, "nacked"), "Busy"));
    json_int_t stored = json_integer_value (json_object_get (status, "stored"));
    json_int_t dropped = json_integer_value (json_object_get (status, "send_failures"));
    json_int_t received = json_integer_value (json_object_get (status, "received"));
    //  A flood that outruns its own reading may get the peer forgotten: the
    //  rest is answered ERROR Disconnected, not taken in.
    json_int_t no_session =
        json_integer_value (json_object_get (json_object_get (status, "errors"), "Disconnected"));
    ck_assert_int_eq (received + no_session, total);
    ck_assert_int_eq (stored + nacked_busy, received);
    ck_assert_int_ge (acks + busy + dropped, received);
    //  The window's worth taken in first is stored, whether or not its ACKs
    //  reached a peer that outran its own reading (then they were dropped:
    //  behind a full pipe while a slow commit held them).
    ck_assert_int_ge (stored, 50);
    if (dropped == 0)
        ck_assert_int_gt (acks, 0);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "in_flight")), 0);
    json_decref (status);
    zsock_destroy (&raw);
    fixture_fini (&fixture);
}
END_TEST

//  A peer that never reads its replies: they are dropped and counted, the
//  peer is eventually forgotten, and another agent is served meanwhile.
START_TEST (test_peer_never_reads)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, fixture.ipc);
    config->max_in_flight = 10;
    const char *endpoint = fixture_start (&fixture, config);
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (raw, 10);
    zsock_set_rcvbuf (raw, 4096);
    zsock_set_sndtimeo (raw, 2000);
    ck_assert_int_eq (zsock_connect (raw, "%s", endpoint), 0);
    zstr_sendx (raw, "CAB/1", "HELLO", "monitor-001", NULL);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    int64_t deadline = zclock_mono () + 20000;
    uint64_t failures = 0;
    for (int round = 0; failures == 0 && zclock_mono () < deadline; round++) {
        for (int index = 0; index < 2000; index++)
            if (zstr_sendx (raw, "CAB/1", "PUBLISH", "x", "{}", NULL) != 0)
                break;
        json_t *status = cab_broker_status (fixture.broker);
        failures = (uint64_t)json_integer_value (json_object_get (status, "send_failures"));
        json_decref (status);
        //  The other agent still gets its ACKs.
        char *text = fixture_event ("monitor-001", NULL, "LOW");
        cab_event_t *event = cab_event_load (text, strlen (text), NULL);
        free (text);
        ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, NULL, NULL), CAB_OK);
    }
    ck_assert_uint_gt (failures, 0);
    cab_client_destroy (&client);
    zsock_destroy (&raw);
    fixture_fini (&fixture);
}
END_TEST

//  The commit gap: while several agents publish a steady trickle, the writer
//  takes a batch at most once a millisecond (or when 32 events wait), so
//  commits stay far below one per event, and a held event is still ACKed at
//  once (the gap's timer, not the next heartbeat, releases it); a lone
//  publisher is never held.
static json_int_t
s_store_counter (fixture_t *fixture, const char *name)
{
    json_t *status = cab_broker_status (fixture->broker);
    ck_assert_ptr_nonnull (status);
    json_int_t value =
        json_integer_value (json_object_get (json_object_get (status, "store"), name));
    json_decref (status);
    return value;
}

//  Publish one event from client and wait (polling it) until `us` have passed.
static void
s_publish_paced (cab_client_t *client, const char *agent, int64_t until_us)
{
    char *text = fixture_event (agent, NULL, "LOW");
    ck_assert_int_eq (cab_client_publish_text (client, text, strlen (text), 5000, NULL), CAB_OK);
    free (text);
    while (zclock_usecs () < until_us)
        cab_client_poll (client, 0);
}

START_TEST (test_commit_gap)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, fixture.ipc);
    config->heartbeat_ms = 10000;  //  The poll's own wait: far above the bounds below
    config->timeout_ms = 30000;
    //  Nothing else wakes the broker's loop: no validator, no mirror.
    config->validators = 0;
    config->mirror_enabled = false;
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    cab_client_t *other = cab_client_new (endpoint, "ops", NULL);
    ck_assert_ptr_nonnull (client);
    ck_assert_ptr_nonnull (other);
    s_results_t results = {0};
    cab_client_set_handler (client, s_on_result, &results);
    cab_client_set_handler (other, s_on_result, &results);

    //  A lone publisher, one event at a time: never held.
    for (int index = 0; index < 20; index++) {
        char *text = fixture_event ("monitor-001", NULL, "LOW");
        ck_assert_int_eq (s_publish_one (client, &results, text, strlen (text)), CAB_OK);
        free (text);
    }
    ck_assert_int_eq (s_store_counter (&fixture, "gap_holds"), 0);

    //  Two publishers: an event from each, the second 300 us after the first
    //  one's commit started, is held, and only the gap's timer can release
    //  it before the next heartbeat.
    for (int round = 0; round < 3; round++) {
        int before = results.count;
        int64_t start = zclock_mono ();
        s_publish_paced (other, "ops", zclock_usecs () + 300);
        s_publish_paced (client, "monitor-001", 0);
        ck_assert_int_eq (cab_client_flush (other, 20000, NULL), CAB_OK);
        ck_assert_int_eq (cab_client_flush (client, 20000, NULL), CAB_OK);
        ck_assert_int_eq (results.count, before + 2);
        ck_assert_int_eq (results.last.code, CAB_OK);
        ck_assert_int_lt (zclock_mono () - start, 3000);
    }

    //  300 events, one every 200 us, from the two in turn.
    json_int_t before = s_store_counter (&fixture, "commits");
    const int events = 300;
    int answered = results.count;
    int64_t start = zclock_usecs ();
    for (int index = 0; index < events; index++)
        s_publish_paced (index % 2 ? client : other, index % 2 ? "monitor-001" : "ops",
                         start + (int64_t)(index + 1) * 200);
    ck_assert_int_eq (cab_client_flush (client, 30000, NULL), CAB_OK);
    ck_assert_int_eq (cab_client_flush (other, 30000, NULL), CAB_OK);
    int64_t elapsed_us = zclock_usecs () - start;
    ck_assert_int_eq (results.count, answered + events);
    json_int_t commits = s_store_counter (&fixture, "commits") - before;
    //  At most one a millisecond, plus one for each time 32 events piled up
    //  (a stall of this machine); one an event would be 300.
    ck_assert_int_le (commits, elapsed_us / 1000 + 1 + events / 32);
    ck_assert_int_lt (commits, events);
    cab_client_destroy (&other);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_store_unavailable_at_start)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, fixture.ipc);
    free (config->store_path);
    config->store_path = strdup ("/nonexistent-dir/events.db");
    cab_error_t error;
    cab_broker_t *broker = cab_broker_new (&config, &error);
    ck_assert_ptr_null (broker);
    ck_assert_ptr_null (config);
    ck_assert_int_eq (error.code, CAB_ERR_STORE_UNAVAILABLE);
    //  A bad endpoint.
    config = fixture_config (&fixture, "tcp://no-such-host-name.invalid:1");
    config->allow_remote = true;  //  Else refused before the bind (not loopback)
    broker = cab_broker_new (&config, &error);
    ck_assert_ptr_null (broker);
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    fixture_fini (&fixture);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_broker");
    TCase *tcase = tcase_create ("broker");
    tcase_set_timeout (tcase, 60);
    tcase_add_loop_test (tcase, test_ack_and_nacks, 0, 3);
    tcase_add_test (tcase, test_hostile_frames);
    tcase_add_test (tcase, test_flood);
    tcase_add_test (tcase, test_peer_never_reads);
    tcase_add_test (tcase, test_commit_gap);
    tcase_add_test (tcase, test_store_unavailable_at_start);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
