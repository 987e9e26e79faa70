/*  =========================================================================
    test_cab_broker_delivery - routing and at-least-once delivery in-process:
    deliveries created with their event, consumers with credit, DACK, DNACK,
    ack timeouts, consumers gone, dead letters and their notice, control
    operations (redrive, purge, replay), rule reloads, restart and resume.
    =========================================================================
*/
#include "broker_fixture.h"
#include "cab_proto.h"
#include "cab_store_delivery.h"
#include <cabruca.h>

//  A rule file: Issue Detection events to queue "q"; with `command`, also
//  to a command target with at most `attempts` retries.
static json_t *
s_rules (const char *command, int attempts)
{
    json_t *rules = json_pack ("{s:[{s:s,s:{s:[s]},s:[{s:s,s:s,s:s}]}]}", "rules", "name",
                               "to-queue", "event_pattern", "source", "cabruca.agents.monitor",
                               "targets", "id", "agent", "type", "agent", "queue", "q");
    if (command) {
        json_t *rule =
            json_pack ("{s:s,s:{s:[s]},s:[{s:s,s:s,s:[s,s,s],s:{s:i,s:i},s:s}]}", "name",
                       "to-command", "event_pattern", "source", "cabruca.agents.monitor", "targets",
                       "id", "cmd", "type", "command", "command", "/bin/sh", "-c", command,
                       "retry_policy", "maximum_retry_attempts", attempts,
                       "maximum_event_age_seconds", 3600, "dead_letter_queue", "critical");
        json_array_append_new (json_object_get (rules, "rules"), rule);
    }
    //  Dead letter notices go to queue "dlq".
    json_array_append_new (json_object_get (rules, "rules"),
                           json_pack ("{s:s,s:{s:[s]},s:[{s:s,s:s,s:s}]}", "name", "notices",
                                      "event_pattern", "source", "cabruca.broker", "targets", "id",
                                      "dlq", "type", "agent", "queue", "dlq"));
    return rules;
}

static cab_broker_config_t *
s_config (fixture_t *fixture, json_t *rules)
{
    cab_broker_config_t *config = fixture_config (fixture, "tcp://127.0.0.1:*");
    config->rules_document = rules;
    config->data_dir = strdup (fixture->dir);
    config->backoff_base_ms = 10;
    config->backoff_max_ms = 40;
    config->ack_timeout_ms = 300;
    config->timeout_ms = 10000;  //  Raw consumers send no heartbeats
    return config;
}

//  Publish one Issue Detection event and wait for its ACK; returns its seq.
static uint64_t
s_publish (cab_client_t *client, char *id_out)
{
    char id[CAB_UUID_LENGTH + 1];
    cab_uuid_v7 (id);
    if (id_out)
        memcpy (id_out, id, sizeof id);
    char *text = fixture_event ("monitor-001", id, "HIGH");
    cab_event_t *event = cab_event_load (text, strlen (text), NULL);
    free (text);
    uint64_t seq = 0;
    ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, &seq, NULL), CAB_OK);
    return seq;
}

//  Deliveries received by a client's handler.
typedef struct {
    int count;
    int refuse;  //  DNACK this many first
    uint64_t last;
    int last_attempt;
    char last_id[CAB_UUID_LENGTH + 1];
    char last_text[1024];
} s_got_t;

static int
s_on_delivery (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    s_got_t *got = (s_got_t *)arg;
    got->count++;
    got->last = delivery->delivery;
    got->last_attempt = delivery->attempt;
    snprintf (got->last_id, sizeof got->last_id, "%s", delivery->event_id);
    snprintf (got->last_text, sizeof got->last_text, "%s", delivery->text);
    if (got->refuse > 0) {
        got->refuse--;
        return 1;
    }
    return 0;
}

//  Poll a client until got->count reaches count (or 10 s pass).
static void
s_wait_count (cab_client_t *client, s_got_t *got, int count)
{
    int64_t deadline = zclock_mono () + 10000;
    while (got->count < count && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    ck_assert_int_ge (got->count, count);
}

//  Count the deliveries in a state (-1: any) in the fixture's store.
static int64_t
s_count (fixture_t *fixture, int state, const char *rule)
{
    cab_store_t *store = cab_store_new_readonly (fixture->store, NULL);
    ck_assert_ptr_nonnull (store);
    cab_delivery_query_t query = {0};
    query.state = state;
    query.rule = rule;
    int64_t count = -1;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, NULL), CAB_OK);
    cab_store_destroy (&store);
    return count;
}

//  Wait (10 s at most) until the store has `want` deliveries in state.
static void
s_wait_store (fixture_t *fixture, int state, const char *rule, int64_t want)
{
    int64_t deadline = zclock_mono () + 10000;
    int64_t have = -1;
    while ((have = s_count (fixture, state, rule)) != want && zclock_mono () < deadline)
        zclock_sleep (20);
    ck_assert_int_eq (have, want);
}

//  A raw consumer: a DEALER with a session, subscribed to queue.
static zsock_t *
s_raw_consumer (const char *endpoint, const char *queue, const char *options)
{
    zsock_t *raw = zsock_new (ZMQ_DEALER);
    ck_assert_ptr_nonnull (raw);
    zsock_set_rcvtimeo (raw, 5000);
    ck_assert_int_eq (zsock_connect (raw, "%s", endpoint), 0);
    zstr_sendx (raw, "CAB/1", "HELLO", "ops", NULL);
    zmsg_t *msg = cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBE, queue, options);
    zmsg_send (&msg, raw);
    return raw;
}

//  The next message of a raw peer that is not a HEARTBEAT, decoded; NULL on
//  timeout (ms).
static zmsg_t *
s_raw_next (zsock_t *raw, cabi_proto_t *out, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        zmq_pollitem_t item = {zsock_resolve (raw), 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, deadline - zclock_mono ()) <= 0)
            break;
        zmsg_t *msg = zmsg_recv (raw);
        if (!msg)
            break;
        if (cabi_proto_decode (msg, out, NULL) == CAB_OK && out->command != CABI_PROTO_HEARTBEAT)
            return msg;
        zmsg_destroy (&msg);
    }
    return NULL;
}

//  Wait for a raw consumer's next DELIVER; returns its delivery id (0: none).
static uint64_t
s_raw_deliver (zsock_t *raw, int timeout_ms, int *attempt_p)
{
    cabi_proto_t out;
    zmsg_t *msg;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline &&
           (msg = s_raw_next (raw, &out, (int)(deadline - zclock_mono ())))) {
        zmsg_destroy (&msg);
        if (out.command == CABI_PROTO_DELIVER) {
            if (attempt_p)
                *attempt_p = out.attempt;
            return out.delivery;
        }
    }
    return 0;
}

//  The event and its deliveries are committed together; a consumer gets
//  the event, DACKs it, and the delivery is DONE in the store.
START_TEST (test_route_and_ack)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    char id[CAB_UUID_LENGTH + 1];
    uint64_t seq = s_publish (publisher, id);
    ck_assert (seq == 1);
    //  Acknowledged: its delivery is on disk already, PENDING (no consumer).
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_PENDING, "to-queue"), 1);
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    json_t *options = json_pack ("{s:i}", "max_in_flight", 10);
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "q", options, s_on_delivery, &got, 5000, NULL), CAB_OK);
    json_decref (options);
    s_wait_count (consumer, &got, 1);
    ck_assert_str_eq (got.last_id, id);
    ck_assert_int_eq (got.last_attempt, 1);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "to-queue", 1);
    //  The status counts it.
    json_t *status = cab_broker_status (fixture.broker);
    json_t *delivery = json_object_get (status, "delivery");
    ck_assert_int_eq (json_integer_value (json_object_get (delivery, "delivered")), 1);
    ck_assert_int_eq (json_integer_value (json_object_get (delivery, "pending")), 0);
    json_decref (status);
    //  A refused delivery comes back (attempt 2), then it is DONE.
    got.refuse = 1;
    s_publish (publisher, id);
    s_wait_count (consumer, &got, 3);
    ck_assert_int_eq (got.last_attempt, 2);
    ck_assert_str_eq (got.last_id, id);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "to-queue", 2);
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  Credit, ack timeout and a consumer that goes away: its deliveries go to
//  the other consumer.
START_TEST (test_consumers)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    zsock_t *silent = s_raw_consumer (endpoint, "q", "{\"max_in_flight\":2}");
    cabi_proto_t out;
    zmsg_t *msg = NULL;
    while ((msg = s_raw_next (silent, &out, 5000)) && out.command != CABI_PROTO_SUBSCRIBED)
        zmsg_destroy (&msg);
    ck_assert_ptr_nonnull (msg);
    zmsg_destroy (&msg);
    for (int index = 0; index < 5; index++)
        s_publish (publisher, NULL);
    //  Credit 2: two deliveries, then nothing until an answer.
    uint64_t first = s_raw_deliver (silent, 5000, NULL);
    uint64_t second = s_raw_deliver (silent, 5000, NULL);
    ck_assert (first && second && first != second);
    ck_assert (s_raw_deliver (silent, 150, NULL) == 0);
    msg = cabi_proto_new_dack (CABI_PROTO_DACK, first, NULL);
    zmsg_send (&msg, silent);
    ck_assert (s_raw_deliver (silent, 5000, NULL) != 0);
    //  No answer within ack_timeout_ms: delivered again (attempt 2), after
    //  the events waiting for credit.
    int attempt = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (attempt != 2 && zclock_mono () < deadline)
        ck_assert (s_raw_deliver (silent, 5000, &attempt) != 0);
    ck_assert_int_eq (attempt, 2);
    //  Another consumer joins; the silent one leaves: everything it held
    //  goes to the other one, and every event ends DONE.
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    ck_assert_int_eq (cab_client_subscribe (consumer, "q", NULL, s_on_delivery, &got, 5000, NULL),
                      CAB_OK);
    zstr_sendx (silent, "CAB/1", "BYE", NULL);
    s_wait_count (consumer, &got, 4);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "to-queue", 5);
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_PENDING, NULL), 0);
    zsock_destroy (&silent);
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  A command that always fails: dead-lettered after its attempts, with a
//  notice routed to the "dlq" queue; redriven once the command works, then
//  purged dead letters are gone.
START_TEST (test_dead_letters)
{
    fixture_t fixture;
    fixture_init (&fixture);
    char command[512];
    snprintf (command, sizeof command, "test -f %s/fixed", fixture.dir);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (command, 2)));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    cab_client_t *watcher = cab_client_new (endpoint, "ops", NULL);
    s_got_t notices = {0};
    ck_assert_int_eq (
        cab_client_subscribe (watcher, "dlq", NULL, s_on_delivery, &notices, 5000, NULL), CAB_OK);
    char id[CAB_UUID_LENGTH + 1];
    s_publish (publisher, id);
    s_wait_count (watcher, &notices, 1);
    ck_assert_ptr_nonnull (strstr (notices.last_text, "\"Delivery Dead-Lettered\""));
    ck_assert_ptr_nonnull (strstr (notices.last_text, id));
    ck_assert_ptr_nonnull (strstr (notices.last_text, "\"MAX_ATTEMPTS\""));
    s_wait_store (&fixture, CAB_DELIVERY_DEAD, "to-command", 1);
    //  attempts = 1 + maximum_retry_attempts
    cab_store_t *store = cab_store_new_readonly (fixture.store, NULL);
    cab_delivery_query_t query = {0};
    query.state = CAB_DELIVERY_DEAD;
    int64_t count = 0;
    ck_assert_int_eq (cab_store_count_deliveries (store, &query, &count, NULL), CAB_OK);
    ck_assert_int_eq (count, 1);
    cab_store_destroy (&store);
    //  Fix the command, redrive: DONE.
    char flag[400];
    snprintf (flag, sizeof flag, "%s/fixed", fixture.dir);
    FILE *file = fopen (flag, "w");
    ck_assert_ptr_nonnull (file);
    fclose (file);
    cab_client_t *cli = cab_client_new (endpoint, NULL, NULL);
    json_t *reply = NULL;
    json_t *request = json_pack ("{s:s,s:{s:s}}", "op", "dlq-redrive", "filter", "dlq", "critical");
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert (json_is_true (json_object_get (reply, "ok")));
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "redriven")), 1);
    json_decref (reply);
    json_decref (request);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "to-command", 1);
    //  A second dead letter, purged.
    remove (flag);
    s_publish (publisher, NULL);
    s_wait_store (&fixture, CAB_DELIVERY_DEAD, "to-command", 1);
    request = json_pack ("{s:s,s:{s:s}}", "op", "dlq-purge", "filter", "rule", "to-command");
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "purged")), 1);
    json_decref (reply);
    json_decref (request);
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_DEAD, "to-command"), 0);
    //  Bad requests get a typed refusal.
    request = json_pack ("{s:s}", "op", "jump");
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert (json_is_false (json_object_get (reply, "ok")));
    ck_assert_str_eq (json_string_value (json_object_get (reply, "error")), "InvalidArgument");
    json_decref (reply);
    json_decref (request);
    cab_client_destroy (&cli);
    cab_client_destroy (&watcher);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  A notice that cannot be delivered is dead-lettered too, but never
//  announced by another notice: no loop.
START_TEST (test_no_notice_loop)
{
    fixture_t fixture;
    fixture_init (&fixture);
    json_t *rules = s_rules ("exit 1", 0);
    json_array_append_new (json_object_get (rules, "rules"),
                           json_pack ("{s:s,s:{s:[s]},s:[{s:s,s:s,s:[s],s:{s:i,s:i}}]}", "name",
                                      "notices-fail", "event_pattern", "source", "cabruca.broker",
                                      "targets", "id", "false", "type", "command", "command",
                                      "/bin/false", "retry_policy", "maximum_retry_attempts", 0,
                                      "maximum_event_age_seconds", 60));
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, rules));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    s_publish (publisher, NULL);
    //  The event's dead letter, then the notice's.
    s_wait_store (&fixture, CAB_DELIVERY_DEAD, "to-command", 1);
    s_wait_store (&fixture, CAB_DELIVERY_DEAD, "notices-fail", 1);
    zclock_sleep (200);
    ck_assert_uint_eq (fixture_count_source (&fixture, "cabruca.broker"), 1);
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert_int_eq (json_integer_value (
                          json_object_get (json_object_get (status, "delivery"), "dead_lettered")),
                      2);
    json_decref (status);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  An agent target with an input transformer: its consumers get the
//  transformed payload.
START_TEST (test_transform)
{
    fixture_t fixture;
    fixture_init (&fixture);
    json_t *rules =
        json_pack ("{s:[{s:s,s:{s:[s]},s:[{s:s,s:s,s:s,s:{s:{s:s},s:s}}]}]}", "rules", "name",
                   "shaped", "event_pattern", "source", "cabruca.agents.monitor", "targets", "id",
                   "t", "type", "agent", "queue", "t", "input_transformer", "input_paths_map",
                   "sev", "$.detail.severity", "input_template", "{\"level\": <sev>}");
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, rules));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    ck_assert_int_eq (cab_client_subscribe (consumer, "t", NULL, s_on_delivery, &got, 5000, NULL),
                      CAB_OK);
    s_publish (publisher, NULL);
    s_wait_count (consumer, &got, 1);
    json_t *payload = json_loads (got.last_text, 0, NULL);
    ck_assert_ptr_nonnull (payload);
    ck_assert_str_eq (json_string_value (json_object_get (payload, "level")), "HIGH");
    json_decref (payload);
    ck_assert_str_eq (got.last_id, "");
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  A replay of a time window: the window's events again, marked.
START_TEST (test_replay)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    //  fixture_event's time is 2026-11-22T10:00:00.000Z
    for (int index = 0; index < 3; index++)
        s_publish (publisher, NULL);
    cab_client_t *cli = cab_client_new (endpoint, NULL, NULL);
    int64_t at = 0;
    ck_assert_int_eq (cab_time_parse ("2026-11-22T10:00:00.000Z", &at), CAB_OK);
    json_t *request = json_pack ("{s:s,s:s,s:I,s:I,s:s,s:s}", "op", "replay", "name", "r1",
                                 "from_ms", (json_int_t)at - 1000, "to_ms", (json_int_t)at, "rule",
                                 "to-queue", "speed", "max");
    json_t *reply = NULL;
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert (json_is_true (json_object_get (reply, "ok")));
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "events")), 3);
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "deliveries")), 3);
    json_decref (reply);
    //  The same name again is refused; a window with nothing is empty.
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert (json_is_false (json_object_get (reply, "ok")));
    json_decref (reply);
    json_decref (request);
    request = json_pack ("{s:s,s:s,s:I,s:I}", "op", "replay", "name", "r2", "from_ms",
                         (json_int_t)at + 1, "to_ms", (json_int_t)at + 1000);
    ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
    ck_assert_int_eq (json_integer_value (json_object_get (reply, "events")), 0);
    json_decref (reply);
    json_decref (request);
    //  The consumer gets 3 live + 3 replayed, the replayed ones marked.
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    ck_assert_int_eq (cab_client_subscribe (consumer, "q", NULL, s_on_delivery, &got, 5000, NULL),
                      CAB_OK);
    s_wait_count (consumer, &got, 6);
    ck_assert_ptr_nonnull (strstr (got.last_text, "\"replay-name\":\"r1\""));
    request = json_pack ("{s:s,s:s}", "op", "replay-status", "name", "r1");
    int64_t deadline = zclock_mono () + 5000;
    json_int_t done = 0;
    while (done != 3 && zclock_mono () < deadline) {
        ck_assert_int_eq (cab_client_control (cli, request, &reply, 5000, NULL), CAB_OK);
        done = json_integer_value (json_object_get (reply, "done"));
        json_decref (reply);
        cab_client_poll (consumer, 20);
    }
    ck_assert_int_eq (done, 3);
    json_decref (request);
    //  Nothing was stored again.
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "stored")), 3);
    json_decref (status);
    cab_client_destroy (&consumer);
    cab_client_destroy (&cli);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  Pending deliveries survive a restart, also beyond the in-memory window.
START_TEST (test_restart_resume)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = s_config (&fixture, s_rules (NULL, 0));
    config->max_pending_in_memory = 100;
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    int total = 250;
    for (int index = 0; index < total; index++) {
        char *text = fixture_event ("monitor-001", NULL, "LOW");
        ck_assert_int_eq (cab_client_publish_text (publisher, text, strlen (text), 5000, NULL),
                          CAB_OK);
        free (text);
    }
    ck_assert_int_eq (cab_client_flush (publisher, 10000, NULL), CAB_OK);
    cab_client_destroy (&publisher);
    fixture_stop (&fixture);
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_PENDING, "to-queue"), total);
    //  A new broker on the same store, a consumer: everything delivered.
    config = s_config (&fixture, s_rules (NULL, 0));
    config->max_pending_in_memory = 100;
    endpoint = fixture_start (&fixture, config);
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    ck_assert_int_eq (cab_client_subscribe (consumer, "q", NULL, s_on_delivery, &got, 5000, NULL),
                      CAB_OK);
    s_wait_count (consumer, &got, total);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "to-queue", total);
    cab_client_destroy (&consumer);
    fixture_fini (&fixture);
}
END_TEST

//  A run-time subscription with a pattern, and a rule reload.
START_TEST (test_subscription_and_reload)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    json_t *options = json_pack ("{s:{s:{s:[s]}}}", "pattern", "detail", "severity", "HIGH");
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "mine", options, s_on_delivery, &got, 5000, NULL), CAB_OK);
    json_decref (options);
    s_publish (publisher, NULL);
    s_wait_count (consumer, &got, 1);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "sub:mine", 1);
    //  A bad pattern or a durable subscription is refused.
    cab_error_t error;
    options = json_pack ("{s:{s:i}}", "pattern", "source", 1);
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "bad", options, s_on_delivery, &got, 5000, &error),
        CAB_ERR_INVALID_PATTERN);
    json_decref (options);
    options = json_pack ("{s:b}", "durable", 1);  //  durable needs a pattern
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "bad", options, s_on_delivery, &got, 5000, &error),
        CAB_ERR_INVALID_ARGUMENT);
    json_decref (options);
    //  Reload without the queue rule: new events are not routed to it.
    json_t *rules = json_pack ("{s:[]}", "rules");
    ck_assert_int_eq (cab_broker_set_rules (fixture.broker, rules, NULL), CAB_OK);
    json_decref (rules);
    s_publish (publisher, NULL);
    s_wait_count (consumer, &got, 2);  //  The subscription stays
    ck_assert_int_eq (s_count (&fixture, -1, "to-queue"), 1);
    //  A rule document with an error keeps the old rules.
    rules = json_pack ("{s:[{s:s}]}", "rules", "name", "x");
    ck_assert_int_ne (cab_broker_set_rules (fixture.broker, rules, &error), CAB_OK);
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
    json_decref (rules);
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  A durable subscription routes across sessions and restarts, until its
//  subscriber says UNSUBSCRIBE.
START_TEST (test_durable)
{
    fixture_t fixture;
    fixture_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    json_t *options =
        json_pack ("{s:{s:{s:[s]}},s:b}", "pattern", "detail", "severity", "HIGH", "durable", 1);
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "keep", options, s_on_delivery, &got, 5000, NULL), CAB_OK);
    cab_client_destroy (&consumer);  //  The session ends; the subscription stays
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    char id[CAB_UUID_LENGTH + 1];
    s_publish (publisher, id);
    cab_client_destroy (&publisher);
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_PENDING, "sub:keep"), 1);
    //  A restart: the durable pattern is back, the delivery too.
    fixture_stop (&fixture);
    endpoint = fixture_start (&fixture, s_config (&fixture, s_rules (NULL, 0)));
    publisher = cab_client_new (endpoint, "monitor-001", NULL);
    s_publish (publisher, NULL);
    ck_assert_int_eq (s_count (&fixture, -1, "sub:keep"), 2);
    consumer = cab_client_new (endpoint, "ops", NULL);
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "keep", options, s_on_delivery, &got, 5000, NULL), CAB_OK);
    s_wait_count (consumer, &got, 2);
    s_wait_store (&fixture, CAB_DELIVERY_DONE, "sub:keep", 2);
    //  UNSUBSCRIBE ends it: new events are not routed to the queue.
    ck_assert_int_eq (cab_client_unsubscribe (consumer, "keep", NULL), CAB_OK);
    cab_client_poll (consumer, 100);
    s_publish (publisher, NULL);
    ck_assert_int_eq (s_count (&fixture, -1, "sub:keep"), 2);
    json_decref (options);
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

//  A queue nobody consumes does not hold the window: with room for 100
//  deliveries in memory, 300 events all reach a log target while their
//  queue deliveries wait in the store; the sweep deletes what is done.
START_TEST (test_window_and_sweep)
{
    fixture_t fixture;
    fixture_init (&fixture);
    json_t *rules = s_rules (NULL, 0);
    json_array_append_new (json_object_get (rules, "rules"),
                           json_pack ("{s:s,s:{s:[s]},s:[{s:s,s:s,s:s}]}", "name", "to-log",
                                      "event_pattern", "source", "cabruca.agents.monitor",
                                      "targets", "id", "log", "type", "log", "path", "out.jsonl"));
    cab_broker_config_t *config = s_config (&fixture, rules);
    config->max_pending_in_memory = 100;
    config->archive_ms = 1;  //  Events done with are swept at once
    config->sweep_every_ms = 10;
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *publisher = cab_client_new (endpoint, "monitor-001", NULL);
    int total = 300;
    for (int index = 0; index < total; index++) {
        char *text = fixture_event ("monitor-001", NULL, "LOW");
        ck_assert_int_eq (cab_client_publish_text (publisher, text, strlen (text), 5000, NULL),
                          CAB_OK);
        free (text);
    }
    ck_assert_int_eq (cab_client_flush (publisher, 10000, NULL), CAB_OK);
    //  (DONE deliveries are swept at once here: count them in the status.)
    int64_t deadline = zclock_mono () + 10000;
    json_int_t delivered = 0;
    while (delivered < total && zclock_mono () < deadline) {
        json_t *status = cab_broker_status (fixture.broker);
        json_t *delivery = json_object_get (status, "delivery");
        delivered = json_integer_value (json_object_get (delivery, "delivered"));
        ck_assert_int_le (json_integer_value (json_object_get (delivery, "held")), 100);
        json_decref (status);
        zclock_sleep (20);
    }
    ck_assert_int_eq (delivered, total);
    ck_assert_int_eq (s_count (&fixture, CAB_DELIVERY_PENDING, "to-queue"), total);
    //  Consumed: every event is done with, and swept.
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    s_got_t got = {0};
    ck_assert_int_eq (cab_client_subscribe (consumer, "q", NULL, s_on_delivery, &got, 5000, NULL),
                      CAB_OK);
    s_wait_count (consumer, &got, total);
    deadline = zclock_mono () + 10000;
    int64_t events = -1;
    while (events != 0 && zclock_mono () < deadline) {
        cab_client_poll (consumer, 20);
        cab_store_t *store = cab_store_new_readonly (fixture.store, NULL);
        events = cab_store_count (store);
        cab_store_destroy (&store);
    }
    ck_assert_int_eq (events, 0);
    cab_client_destroy (&consumer);
    cab_client_destroy (&publisher);
    fixture_fini (&fixture);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_broker_delivery");
    TCase *tcase = tcase_create ("delivery");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_route_and_ack);
    tcase_add_test (tcase, test_consumers);
    tcase_add_test (tcase, test_dead_letters);
    tcase_add_test (tcase, test_no_notice_loop);
    tcase_add_test (tcase, test_transform);
    tcase_add_test (tcase, test_replay);
    tcase_add_test (tcase, test_restart_resume);
    tcase_add_test (tcase, test_subscription_and_reload);
    tcase_add_test (tcase, test_window_and_sweep);
    tcase_add_test (tcase, test_durable);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? 0 : 1;
}
