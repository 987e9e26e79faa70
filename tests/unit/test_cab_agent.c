/*  =========================================================================
    test_cab_agent - the agent skeleton against a real broker in-process:
    options and config, timers, publishing, subscriptions with causation,
    answers given later, readiness
    =========================================================================
*/
#include "broker_fixture.h"
#include <cabruca.h>
#include <check.h>
#include <fcntl.h>
#include <unistd.h>

static fixture_t s_fixture;
static const char *s_endpoint;

static void
s_setup (void)
{
    fixture_init (&s_fixture);
    s_endpoint = fixture_start (&s_fixture, fixture_config (&s_fixture, s_fixture.ipc));
}

static void
s_teardown (void)
{
    fixture_fini (&s_fixture);
}

//  ---------------------------------------------------------------------
//  Command line and configuration

static char s_config_path[400];

static void
s_write_config (const char *text)
{
    snprintf (s_config_path, sizeof s_config_path, "%s/agent.json", s_fixture.dir);
    FILE *file = fopen (s_config_path, "w");
    ck_assert_ptr_nonnull (file);
    fputs (text, file);
    fclose (file);
}

START_TEST (test_args_defaults_and_config)
{
    cab_agent_args_t args;
    char *plain[] = {"prog", NULL};
    ck_assert_int_eq (cab_agent_parse_args (1, plain, "monitor", NULL, &args), -1);
    ck_assert_str_eq (args.agent_id, "monitor-001");
    ck_assert_ptr_null (args.endpoint);
    ck_assert_int_eq (args.notify_fd, -1);
    ck_assert (json_is_object (args.config) && json_object_size (args.config) == 0);
    cab_agent_args_release (&args);

    s_write_config ("{\"broker\": \"ipc:///x\", \"monitor\": {\"agent_id\": \"mon-7\", "
                    "\"interval_ms\": 5}}");
    char *with_file[] = {"prog", "--config",    s_config_path, "--notify-fd",
                         "3",    "--log-level", "debug",       NULL};
    ck_assert_int_eq (cab_agent_parse_args (7, with_file, "monitor", NULL, &args), -1);
    ck_assert_str_eq (args.agent_id, "mon-7");
    ck_assert_str_eq (args.endpoint, "ipc:///x");
    ck_assert_int_eq (args.notify_fd, 3);
    ck_assert_int_eq (args.log_level, CAB_LOG_DEBUG);
    ck_assert_int_eq (json_integer_value (json_object_get (args.config, "interval_ms")), 5);
    cab_agent_args_release (&args);

    //  The command line wins over the file.
    char *override[] = {"prog",  "--config", s_config_path,       "--agent-id",
                        "mon-8", "--broker", "tcp://127.0.0.1:1", NULL};
    ck_assert_int_eq (cab_agent_parse_args (7, override, "monitor", NULL, &args), -1);
    ck_assert_str_eq (args.agent_id, "mon-8");
    ck_assert_str_eq (args.endpoint, "tcp://127.0.0.1:1");
    cab_agent_args_release (&args);
    cab_agent_args_release (&args);  //  Twice is harmless
}
END_TEST

START_TEST (test_args_errors)
{
    cab_agent_args_t args;
    char *help[] = {"prog", "--help", NULL};
    ck_assert_int_eq (cab_agent_parse_args (2, help, "tester", "usage\n", &args), 0);
    const char *bad[][3] = {{"--bogus", "1", NULL},
                            {"--agent-id", "bad/id", NULL},
                            {"--agent-id", "", NULL},
                            {"--notify-fd", "-1", NULL},
                            {"--notify-fd", "3x", NULL},
                            {"--log-level", "loud", NULL},
                            {"--config", "/nonexistent/agent.json", NULL},
                            {"--broker", NULL, NULL}};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        char *argv[] = {"prog", (char *)bad[index][0], (char *)bad[index][1], NULL};
        int argc = bad[index][1] ? 3 : 2;
        ck_assert_msg (cab_agent_parse_args (argc, argv, "tester", NULL, &args) == 2, "%s %s",
                       bad[index][0], bad[index][1] ? bad[index][1] : "");
    }
    const char *configs[] = {"[1]", "{\"broker\": 5}", "{\"tester\": []}",
                             "{\"tester\": {\"agent_id\": \"a b\"}}", "{not json"};
    for (size_t index = 0; index < sizeof configs / sizeof configs[0]; index++) {
        s_write_config (configs[index]);
        char *argv[] = {"prog", "--config", s_config_path, NULL};
        ck_assert_msg (cab_agent_parse_args (3, argv, "tester", NULL, &args) == 2, "%s",
                       configs[index]);
    }
}
END_TEST

START_TEST (test_new_refuses_bad_ids)
{
    cab_error_t error;
    ck_assert_ptr_null (cab_agent_new ("", s_endpoint, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null (cab_agent_new (NULL, s_endpoint, &error));
    char long_id[80];
    memset (long_id, 'a', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    ck_assert_ptr_null (cab_agent_new (long_id, s_endpoint, &error));
}
END_TEST

//  ---------------------------------------------------------------------
//  Timers

typedef struct {
    int runs;
    int stop_after;
    int cancel_after;
} s_ticks_t;

static int
s_tick (cab_agent_t *agent, void *arg)
{
    s_ticks_t *ticks = (s_ticks_t *)arg;
    ticks->runs++;
    if (ticks->stop_after && ticks->runs >= ticks->stop_after)
        cab_agent_stop (agent);
    return ticks->cancel_after && ticks->runs >= ticks->cancel_after ? -1 : 0;
}

START_TEST (test_timers)
{
    cab_agent_t *agent = cab_agent_new ("ops", s_endpoint, NULL);
    ck_assert_ptr_nonnull (agent);
    ck_assert_int_eq (cab_agent_every (agent, 0, s_tick, NULL), -1);
    ck_assert_int_eq (cab_agent_every (agent, 86400001, s_tick, NULL), -1);
    ck_assert_int_eq (cab_agent_every (agent, 10, NULL, NULL), -1);
    s_ticks_t stopper = {.stop_after = 5}, cancelled = {.cancel_after = 2}, removed = {0};
    int id = cab_agent_every (agent, 20, s_tick, &stopper);
    ck_assert_int_ge (id, 0);
    ck_assert_int_ge (cab_agent_every (agent, 10, s_tick, &cancelled), 0);
    int gone = cab_agent_every (agent, 10, s_tick, &removed);
    ck_assert_int_eq (cab_agent_cancel (agent, gone), CAB_OK);
    ck_assert_int_eq (cab_agent_cancel (agent, gone), CAB_ERR_NOT_FOUND);
    int64_t start = zclock_mono ();
    ck_assert_int_eq (cab_agent_run (agent, 1000), CAB_OK);
    int64_t elapsed = zclock_mono () - start;
    ck_assert_int_eq (stopper.runs, 5);
    ck_assert_int_eq (cancelled.runs, 2);  //  Returned -1 on its second run
    ck_assert_int_eq (removed.runs, 0);
    ck_assert_int_ge (elapsed, 90);  //  Five runs 20 ms apart, the first after 20 ms
    ck_assert_int_eq (cab_agent_stats (agent).timer_runs, 7);
    //  The table is bounded.
    int made = 0;
    while (cab_agent_every (agent, 1000, s_tick, &removed) >= 0)
        made++;
    ck_assert_int_le (made, CAB_AGENT_MAX_TIMERS);
    cab_agent_destroy (&agent);
    cab_agent_destroy (&agent);
}
END_TEST

//  ---------------------------------------------------------------------
//  Publishing, readiness

static int
s_publish_then_stop (cab_agent_t *agent, void *arg)
{
    int *round = (int *)arg;
    if ((*round)++ == 0) {
        cab_event_t *events[3];
        for (int index = 0; index < 3; index++)
            events[index] = cab_issue_detection_new ("monitor-001", CAB_SEVERITY_LOW, "disk_full",
                                                     "a test", NULL);
        size_t published = 0;
        ck_assert_int_eq (cab_agent_publish_batch (agent, events, 3, 1000, &published, NULL),
                          CAB_OK);
        ck_assert_int_eq (published, 3);
        //  An event of another source: the broker refuses it (AccessDenied).
        cab_event_t *denied = cab_test_results_new ("monitor-001", CAB_TEST_TYPE_UNIT,
                                                    CAB_TEST_STATUS_PASSED, 5, NULL);
        ck_assert_int_eq (cab_agent_publish (agent, &denied, 1000, NULL), CAB_OK);
        ck_assert_ptr_null (denied);
    } else if (cab_agent_stats (agent).acked + cab_agent_stats (agent).nacked == 4)
        cab_agent_stop (agent);
    return 0;
}

START_TEST (test_publish_and_readiness)
{
    cab_agent_t *agent = cab_agent_new ("monitor-001", s_endpoint, NULL);
    ck_assert_ptr_nonnull (agent);
    ck_assert_str_eq (cab_agent_id (agent), "monitor-001");
    ck_assert_ptr_nonnull (cab_agent_client (agent));
    int fds[2];
    ck_assert_int_eq (pipe (fds), 0);
    cab_agent_set_notify_fd (agent, fds[1]);
    cab_agent_set_log_level (agent, CAB_LOG_ERROR);
    //  A bad event is refused before it leaves (and is destroyed).
    cab_event_t *bad = cab_event_new ("cabruca.agents.monitor", "Issue Detection", NULL);
    cab_event_set_time (bad, "2026-11-22T10:00:00Z");
    json_object_set_new (cab_event_detail (bad), "correlation_id", json_string ("not-a-uuid"));
    cab_error_t error;
    ck_assert_int_ne (cab_agent_publish (agent, &bad, 0, &error), CAB_OK);
    ck_assert_ptr_null (bad);
    cab_event_t *nothing = NULL;
    ck_assert_int_eq (cab_agent_publish (agent, &nothing, 0, NULL), CAB_ERR_INVALID_ARGUMENT);
    int round = 0;
    cab_agent_every (agent, 10, s_publish_then_stop, &round);
    ck_assert_int_eq (cab_agent_run (agent, 2000), CAB_OK);
    cab_agent_stats_t stats = cab_agent_stats (agent);
    ck_assert_int_eq (stats.published, 4);
    ck_assert_int_eq (stats.acked, 3);
    ck_assert_int_eq (stats.nacked, 1);
    char line[4] = "";
    ck_assert_int_eq (read (fds[0], line, sizeof line), 1);
    ck_assert_int_eq (line[0], '\n');
    ck_assert_int_eq (read (fds[0], line, sizeof line), 0);  //  Closed after the line
    close (fds[0]);
    cab_agent_destroy (&agent);
}
END_TEST

//  ---------------------------------------------------------------------
//  Subscriptions: causation, answers given later

typedef struct {
    char cause_id[CAB_UUID_LENGTH + 1];
    char cause_correlation[CAB_UUID_LENGTH + 1];
    char effect_causation[CAB_UUID_LENGTH + 1];
    char effect_correlation[CAB_UUID_LENGTH + 1];
    uint64_t later;  //  The delivery answered later
    int issues, results;
} s_chain_t;

static int
s_on_issue (cab_agent_t *agent, cab_event_t *event, const cab_client_delivery_t *delivery,
            void *arg)
{
    s_chain_t *chain = (s_chain_t *)arg;
    ck_assert_ptr_nonnull (event);
    chain->issues++;
    snprintf (chain->cause_id, sizeof chain->cause_id, "%s", cab_event_id (event));
    snprintf (chain->cause_correlation, sizeof chain->cause_correlation, "%s",
              cab_event_correlation_id (event));
    //  Published while handling: caused by the delivered event.
    cab_event_t *effect =
        cab_test_results_new ("ops", CAB_TEST_TYPE_SMOKE, CAB_TEST_STATUS_PASSED, 1, NULL);
    ck_assert_int_eq (cab_agent_publish (agent, &effect, -1, NULL), CAB_OK);
    chain->later = delivery->delivery;
    return CAB_AGENT_LATER;
}

static int
s_on_result (cab_agent_t *agent, cab_event_t *event, const cab_client_delivery_t *delivery,
             void *arg)
{
    (void)delivery;
    s_chain_t *chain = (s_chain_t *)arg;
    chain->results++;
    snprintf (chain->effect_causation, sizeof chain->effect_causation, "%s",
              cab_event_causation_id (event));
    snprintf (chain->effect_correlation, sizeof chain->effect_correlation, "%s",
              cab_event_correlation_id (event));
    //  Now answer the first delivery.
    ck_assert_int_eq (cab_agent_settle (agent, chain->later, true, NULL), CAB_OK);
    ck_assert_int_eq (cab_agent_settle (agent, chain->later, true, NULL), CAB_ERR_NOT_FOUND);
    return 0;
}

static int
s_start_chain (cab_agent_t *agent, void *arg)
{
    s_chain_t *chain = (s_chain_t *)arg;
    if (chain->results) {
        cab_agent_stop (agent);
        return -1;
    }
    static bool sent;
    if (!sent && cab_client_connected (cab_agent_client (agent))) {
        sent = true;
        cab_event_t *cause =
            cab_issue_detection_new ("ops", CAB_SEVERITY_HIGH, "disk_full", "the cause", NULL);
        cab_event_set_cause (cause, cause);  //  Refused: its own cause
        ck_assert_int_eq (cab_agent_publish (agent, &cause, 1000, NULL), CAB_OK);
    }
    return 0;
}

START_TEST (test_subscribe_causation_and_later)
{
    cab_agent_t *agent = cab_agent_new ("ops", s_endpoint, NULL);
    ck_assert_ptr_nonnull (agent);
    cab_agent_set_log_level (agent, CAB_LOG_ERROR);
    s_chain_t chain = {0};
    json_t *issues = json_pack ("{s:{s:[s]}}", "pattern", "detail-type", "Issue Detection");
    json_t *results = json_pack ("{s:{s:[s]}}", "pattern", "detail-type", "Test Results");
    cab_error_t error;
    ck_assert_int_eq (cab_agent_subscribe (agent, "issues", issues, s_on_issue, &chain, &error),
                      CAB_OK);
    ck_assert_int_eq (cab_agent_subscribe (agent, "results", results, s_on_result, &chain, &error),
                      CAB_OK);
    ck_assert_int_eq (cab_agent_subscribe (agent, "x", NULL, NULL, NULL, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_int_ne (cab_agent_subscribe (agent, "bad queue!", NULL, s_on_issue, &chain, &error),
                      CAB_OK);
    json_decref (issues);
    json_decref (results);
    cab_agent_every (agent, 20, s_start_chain, &chain);
    zsys_interrupted = 0;
    ck_assert_int_eq (cab_agent_run (agent, 2000), CAB_OK);
    ck_assert_int_eq (chain.issues, 1);
    ck_assert_int_eq (chain.results, 1);
    ck_assert_str_eq (chain.effect_causation, chain.cause_id);
    ck_assert_str_eq (chain.effect_correlation, chain.cause_correlation);
    cab_agent_stats_t stats = cab_agent_stats (agent);
    ck_assert_int_eq (stats.delivered, 2);  //  One at once, one settled later
    ck_assert_int_eq (stats.refused, 0);
    ck_assert_int_eq (cab_agent_settle (agent, 999999, false, &error), CAB_ERR_NOT_FOUND);
    cab_agent_destroy (&agent);
}
END_TEST

//  ---------------------------------------------------------------------
//  A subscription's own acknowledgement timeout

typedef struct {
    int attempts[4];
    int calls;
} s_held_t;

static int
s_hold (cab_agent_t *agent, cab_event_t *event, const cab_client_delivery_t *delivery, void *arg)
{
    (void)event;
    s_held_t *held = (s_held_t *)arg;
    if (held->calls < 4)
        held->attempts[held->calls] = delivery->attempt;
    if (++held->calls == 2)
        cab_agent_stop (agent);
    return CAB_AGENT_LATER;  //  And never answer: the broker takes it back
}

static int
s_publish_once (cab_agent_t *agent, void *arg)
{
    (void)arg;
    cab_event_t *event =
        cab_issue_detection_new ("ops", CAB_SEVERITY_LOW, "disk_full", "held", NULL);
    cab_agent_publish (agent, &event, 1000, NULL);
    return -1;
}

static int
s_client_ack (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    (void)delivery;
    (void)arg;
    return 0;
}

START_TEST (test_ack_timeout_option)
{
    //  Out of range: refused by the broker with a pointer.
    cab_client_t *client = cab_client_new (s_endpoint, "ops", NULL);
    json_t *bad = json_pack ("{s:i}", "ack_timeout_ms", 50);
    cab_error_t error;
    ck_assert_int_eq (cab_client_subscribe (client, "held", bad, s_client_ack, NULL, 5000, &error),
                      CAB_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq (error.path, "/ack_timeout_ms");
    json_decref (bad);
    cab_client_destroy (&client);

    cab_agent_t *agent = cab_agent_new ("ops", s_endpoint, NULL);
    cab_agent_set_log_level (agent, CAB_LOG_ERROR);
    s_held_t held = {{0}, 0};
    json_t *options = json_pack ("{s:i, s:{s:[s]}}", "ack_timeout_ms", 300, "pattern",
                                 "detail-type", "Issue Detection");
    ck_assert_int_eq (cab_agent_subscribe (agent, "held", options, s_hold, &held, &error), CAB_OK);
    json_decref (options);
    cab_agent_every (agent, 100, s_publish_once, NULL);
    int64_t start = zclock_mono ();
    ck_assert_int_eq (cab_agent_run (agent, 1000), CAB_OK);
    //  Delivered again after 300 ms, not after the broker's 30 s default.
    ck_assert_int_eq (held.calls, 2);
    ck_assert_int_eq (held.attempts[0], 1);
    ck_assert_int_eq (held.attempts[1], 2);
    ck_assert_int_lt (zclock_mono () - start, 10000);
    cab_agent_destroy (&agent);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_agent");
    TCase *tcase = tcase_create ("agent");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_set_timeout (tcase, 30);
    tcase_add_test (tcase, test_args_defaults_and_config);
    tcase_add_test (tcase, test_args_errors);
    tcase_add_test (tcase, test_new_refuses_bad_ids);
    tcase_add_test (tcase, test_timers);
    tcase_add_test (tcase, test_publish_and_readiness);
    tcase_add_test (tcase, test_subscribe_causation_and_later);
    tcase_add_test (tcase, test_ack_timeout_option);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
