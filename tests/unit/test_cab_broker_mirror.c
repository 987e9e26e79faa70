/*  =========================================================================
    test_cab_broker_mirror - the cloud mirror inside the broker, in-process:
    the "mirror" and "budget" configuration sections, the outbox emptied by
    the worker in dry-run, caps over an hour with an injected clock (the
    deferred events go out in the next window), the budget's counts kept
    across a restart, STATUS and the CONTROL ops "budget" and
    "mirror-status", the budget section read again (SIGHUP), a broker with
    the mirror off, and the cloud matches the broker hands to the worker
    (cab_broker_matchlog.c) against those the worker makes.
    =========================================================================
*/
#include "broker_fixture.h"
#include "cab_broker_internal.h"
#include "cab_store_mirror.h"
#include <cabruca.h>

//  The injected clock: UTC ms, moved by the test.
static int64_t s_clock_ms;

static int64_t
s_clock (void *arg)
{
    (void)arg;
    return __atomic_load_n (&s_clock_ms, __ATOMIC_SEQ_CST);
}

static void
s_clock_set (int64_t ms)
{
    __atomic_store_n (&s_clock_ms, ms, __ATOMIC_SEQ_CST);
}

//  2026-11-22T10:30:00Z and the next hour.
#define S_TEN_THIRTY 1795343400000LL
#define S_ELEVEN     1795345200000LL

static cab_broker_config_t *
s_config (fixture_t *fixture, const char *budget)
{
    cab_broker_config_t *config = fixture_config (fixture, "tcp://127.0.0.1:*");
    config->mirror_dry_run = true;
    config->mirror_clock = s_clock;
    if (budget) {
        config->budget = json_loads (budget, 0, NULL);
        ck_assert_ptr_nonnull (config->budget);
    }
    return config;
}

static void
s_publish (cab_client_t *client, int count)
{
    for (int index = 0; index < count; index++) {
        char *text = fixture_event ("monitor-001", NULL, "LOW");
        cab_event_t *event = cab_event_load (text, strlen (text), NULL);
        free (text);
        ck_assert_int_eq (cab_client_publish_wait (client, &event, 5000, NULL, NULL), CAB_OK);
    }
}

//  Wait (5 s at most) until the store shows `dry_run` events mirrored in
//  dry-run and `deferred` rows deferred.
static bool
s_wait_store (fixture_t *fixture, int64_t dry_run, int64_t deferred)
{
    cab_mirror_store_stats_t stats;
    for (int tries = 0; tries < 100; tries++) {
        cab_store_t *store = cab_store_new_readonly (fixture->store, NULL);
        bool done = store &&
                    cab_store_mirror_stats (store, s_clock (NULL), &stats, NULL) == CAB_OK &&
                    stats.dry_run == dry_run && stats.deferred == deferred;
        cab_store_destroy (&store);
        if (done)
            return true;
        zclock_sleep (50);
    }
    return false;
}

static int
s_on_threshold (const cab_store_record_t *record, void *arg)
{
    json_t **events = (json_t **)arg;
    json_t *event = json_loadb (record->text, record->length, 0, NULL);
    if (event)
        json_array_append_new (*events, event);
    return 0;
}

//  The store holds exactly one Budget Threshold event: the monitor's
//  hourly cap of `cap` events reached, the events deferred.
static void
s_check_cap_event (fixture_t *fixture, int64_t cap)
{
    cab_store_t *store = cab_store_new_readonly (fixture->store, NULL);
    ck_assert_ptr_nonnull (store);
    cab_store_query_t query = {0};
    query.source = "cabruca.broker";
    query.detail_type = "Budget Threshold";
    json_t *events = json_array ();
    ck_assert_int_eq (cab_store_scan (store, &query, s_on_threshold, &events, NULL), CAB_OK);
    cab_store_destroy (&store);
    ck_assert_int_eq (json_array_size (events), 1);
    json_t *detail = json_object_get (json_array_get (events, 0), "detail");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "scope")), "HOURLY");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "agent_type")), "monitor");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "unit")), "EVENTS");
    ck_assert_str_eq (json_string_value (json_object_get (detail, "action")), "DEFER");
    ck_assert_int_eq (json_integer_value (json_object_get (detail, "limit")), cap);
    ck_assert_str_eq (json_string_value (json_object_get (detail, "period_start")),
                      "2026-11-22T10:00:00Z");
    json_decref (events);
}

//  A CONTROL request (JSON text); returns the reply (new reference).
static json_t *
s_control (const char *endpoint, const char *request_text)
{
    cab_client_t *client = cab_client_new (endpoint, NULL, NULL);
    ck_assert_ptr_nonnull (client);
    json_t *request = json_loads (request_text, 0, NULL);
    json_t *reply = NULL;
    ck_assert_int_eq (cab_client_control (client, request, &reply, 5000, NULL), CAB_OK);
    json_decref (request);
    cab_client_destroy (&client);
    ck_assert_ptr_nonnull (reply);
    return reply;
}

//  An integer at a JSON Pointer-like path of keys.
static json_int_t
s_int (json_t *root, const char *a, const char *b, const char *c, const char *d)
{
    json_t *value = json_object_get (root, a);
    if (b)
        value = json_object_get (value, b);
    if (c)
        value = json_object_get (value, c);
    if (d)
        value = json_object_get (value, d);
    ck_assert_msg (json_is_integer (value), "%s/%s/%s/%s is not an integer", a, b ? b : "",
                   c ? c : "", d ? d : "");
    return json_integer_value (value);
}

//  Wait (5 s at most) until the "budget" reply has `expected` at keys (the
//  worker publishes its report a moment after a commit).
static bool
s_wait_budget (const char *endpoint, const char *a, const char *b, const char *c, const char *d,
               json_int_t expected)
{
    for (int tries = 0; tries < 100; tries++) {
        json_t *reply = s_control (endpoint, "{\"op\":\"budget\"}");
        json_t *value = json_object_get (reply, "report");
        const char *keys[] = {a, b, c, d};
        for (size_t index = 0; index < 4 && keys[index]; index++)
            value = json_object_get (value, keys[index]);
        bool done = json_is_integer (value) && json_integer_value (value) == expected;
        json_decref (reply);
        if (done)
            return true;
        zclock_sleep (50);
    }
    return false;
}

START_TEST (test_config_sections)
{
    //  Defaults: on, dry-run only without credentials.
    cab_broker_config_t *config = cab_broker_config_new ();
    ck_assert (config->mirror_enabled);
    ck_assert (!config->mirror_dry_run);
    ck_assert_int_eq (config->mirror_max_in_flight, 8);
    ck_assert_int_eq (config->mirror_failed_retry_ms, 60000);
    cab_broker_config_destroy (&config);

    json_t *document = json_loads (
        "{\"endpoints\":[\"tcp://127.0.0.1:*\"],\"store\":{\"path\":\"e.db\"},"
        "\"mirror\":{\"enabled\":true,\"dry_run\":true,\"bus_name\":\"b\","
        "\"endpoint\":\"http://127.0.0.1:1\",\"region\":\"eu-west-1\",\"max_in_flight\":4,"
        "\"cloud_rules\":\"cloud.json\",\"failed_retry_ms\":500},"
        "\"budget\":{\"monthly_budget_usd\":1}}",
        0, NULL);
    cab_error_t error;
    cab_error_clear (&error);
    config = cab_broker_config_parse (document, "/etc/cabruca", &error);
    ck_assert_msg (config != NULL, "%s: %s", error.path, error.text);
    ck_assert (config->mirror_dry_run);
    ck_assert_str_eq (config->mirror_bus_name, "b");
    ck_assert_str_eq (config->mirror_region, "eu-west-1");
    ck_assert_str_eq (config->mirror_cloud_rules, "/etc/cabruca/cloud.json");
    ck_assert_int_eq (config->mirror_max_in_flight, 4);
    ck_assert_int_eq (config->mirror_failed_retry_ms, 500);
    ck_assert (json_is_object (config->budget));
    cab_broker_config_destroy (&config);
    json_decref (document);

    //  Every error names its value.
    const char *bad[][2] = {
        {"\"mirror\":{\"max_in_flight\":0}", "/mirror/max_in_flight"},
        {"\"mirror\":{\"bogus\":1}", "/mirror/bogus"},
        {"\"mirror\":{\"enabled\":\"yes\"}", "/mirror/enabled"},
        {"\"mirror\":{\"endpoint\":\"ftp://x\"}", "/mirror/endpoint"},
        {"\"mirror\":[]", "/mirror"},
        {"\"budget\":{\"caps\":{\"monitor\":{\"per_hour\":-1}}}", "/budget/caps/monitor/per_hour"},
        {"\"budget\":{\"monthly\":1}", "/budget/monthly"}};
    for (size_t index = 0; index < sizeof bad / sizeof bad[0]; index++) {
        char text[512];
        snprintf (text, sizeof text,
                  "{\"endpoints\":[\"tcp://127.0.0.1:*\"],\"store\":{\"path\":\"e.db\"},%s}",
                  bad[index][0]);
        document = json_loads (text, 0, NULL);
        ck_assert_ptr_nonnull (document);
        cab_error_clear (&error);
        config = cab_broker_config_parse (document, NULL, &error);
        ck_assert_msg (config == NULL, "%s was accepted", bad[index][0]);
        ck_assert_int_eq (error.code, CAB_ERR_INVALID_CONFIG);
        ck_assert_str_eq (error.path, bad[index][1]);
        json_decref (document);
    }
}
END_TEST

START_TEST (test_caps_defer_to_next_hour)
{
    //  monitor may send 3 events an hour: 5 published at 10:30, 3 go at
    //  once, 2 wait in the outbox until 11:00, then go. The first deferral
    //  raises the HOURLY Budget Threshold event (cabruca.broker, agent type
    //  "other", without a cap), which is stored and mirrored too.
    fixture_t fixture;
    fixture_init (&fixture);
    s_clock_set (S_TEN_THIRTY);
    const char *budget = "{\"caps\":{\"monitor\":{\"per_hour\":3,\"per_day\":1000}}}";
    const char *endpoint = fixture_start (&fixture, s_config (&fixture, budget));
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    ck_assert_ptr_nonnull (client);
    s_publish (client, 5);
    ck_assert_msg (s_wait_store (&fixture, 4, 2), "3 + 1 mirrored and 2 deferred at 10:30");
    s_check_cap_event (&fixture, 3);

    ck_assert (s_wait_budget (endpoint, "agent_types", "monitor", "hour", "used", 3));
    //  The report is published at most every 200 ms: a report with the first
    //  three sent can still miss the last deferral (seen under valgrind).
    ck_assert (s_wait_budget (endpoint, "counts", "deferred", NULL, NULL, 2));
    json_t *reply = s_control (endpoint, "{\"op\":\"budget\"}");
    ck_assert (json_is_true (json_object_get (reply, "enabled")));
    json_t *hour = json_object_get (
        json_object_get (json_object_get (json_object_get (reply, "report"), "agent_types"),
                         "monitor"),
        "hour");
    ck_assert_int_eq (json_integer_value (json_object_get (hour, "used")), 3);
    ck_assert_int_eq (json_integer_value (json_object_get (hour, "cap")), 3);
    ck_assert_int_eq (s_int (reply, "report", "counts", "deferred", NULL), 2);
    json_decref (reply);

    //  The next window: the deferred events go out, first.
    s_clock_set (S_ELEVEN + 1000);
    ck_assert_msg (s_wait_store (&fixture, 6, 0), "the deferred events went out at 11:00");
    ck_assert (s_wait_budget (endpoint, "month", "events", NULL, NULL, 6));
    reply = s_control (endpoint, "{\"op\":\"budget\"}");
    //  The 11:00 window counts the two that went in it.
    ck_assert_int_eq (
        s_int (json_object_get (reply, "report"), "agent_types", "monitor", "hour", "used"), 2);
    ck_assert_int_eq (s_int (reply, "report", "counts", "deferred", NULL), 2);
    json_decref (reply);

    //  STATUS and mirror-status.
    json_t *status = cab_broker_status (fixture.broker);
    json_t *mirror = json_object_get (status, "mirror");
    ck_assert (json_is_true (json_object_get (mirror, "enabled")));
    ck_assert (json_is_true (json_object_get (mirror, "dry_run")));
    ck_assert_int_eq (s_int (mirror, "outbox", NULL, NULL, NULL), 0);
    ck_assert_int_eq (s_int (mirror, "dry_run_events", NULL, NULL, NULL), 6);
    ck_assert (json_real_value (json_object_get (mirror, "cost_usd_month")) > 0);
    json_decref (status);
    reply = s_control (endpoint, "{\"op\":\"mirror-status\"}");
    ck_assert (json_is_true (json_object_get (reply, "dry_run")));
    ck_assert_str_eq (json_string_value (json_object_get (reply, "bus")), "cabruca-agents-bus");
    ck_assert_int_eq (s_int (reply, "sender", "dry_run_events", NULL, NULL), 6);
    ck_assert_int_eq (s_int (reply, "store", "dry_run", NULL, NULL), 6);
    ck_assert_int_eq (s_int (reply, "store", "outbox", NULL, NULL), 0);
    json_decref (reply);
    cab_client_destroy (&client);

    //  A restart keeps the counts (the state saved with the outcomes).
    fixture_stop (&fixture);
    endpoint = fixture_start (&fixture, s_config (&fixture, budget));
    reply = s_control (endpoint, "{\"op\":\"budget\"}");
    ck_assert_int_eq (s_int (reply, "report", "month", "events", NULL), 6);
    json_decref (reply);
    fixture_fini (&fixture);
}
END_TEST

//  Write the fixture's configuration file with a monitor cap per hour.
static void
s_write_config (fixture_t *fixture, const char *path, const char *per_hour)
{
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fprintf (file,
             "{\"endpoints\": [\"tcp://127.0.0.1:*\"], \"store\": {\"path\": \"%s\"},\n"
             " \"agents\": {\"monitor-001\": {\"sources\": [\"cabruca.agents.monitor\"]}},\n"
             " \"mirror\": {\"dry_run\": true},\n"
             " \"budget\": {\"caps\": {\"monitor\": {\"per_hour\": %s, \"per_day\": 1000}}}}\n",
             fixture->store, per_hour);
    fclose (file);
}

START_TEST (test_budget_reload)
{
    //  SIGHUP: the budget section is read again; the counts stay.
    fixture_t fixture;
    fixture_init (&fixture);
    s_clock_set (S_TEN_THIRTY);
    char path[400];
    snprintf (path, sizeof path, "%s/broker.json", fixture.dir);
    s_write_config (&fixture, path, "1");
    cab_error_t error;
    cab_error_clear (&error);
    cab_broker_config_t *config = cab_broker_config_load (path, &error);
    ck_assert_msg (config != NULL, "%s", error.text);
    config->mirror_clock = s_clock;
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    s_publish (client, 3);
    //  The first deferral raised the HOURLY Budget Threshold event (mirrored).
    ck_assert_msg (s_wait_store (&fixture, 2, 2), "1 + 1 mirrored and 2 deferred with a cap of 1");
    s_check_cap_event (&fixture, 1);

    //  A broken file changes nothing.
    FILE *file = fopen (path, "w");
    fputs ("{\"endpoints\": 1}", file);
    fclose (file);
    ck_assert_int_eq (cab_broker_reload (fixture.broker, &error), CAB_ERR_INVALID_CONFIG);
    s_publish (client, 1);
    ck_assert_msg (s_wait_store (&fixture, 2, 3), "the cap of 1 still holds (no second notice)");

    //  A cap of 10: the next events go; the hour's count is kept.
    s_write_config (&fixture, path, "10");
    cab_error_clear (&error);
    ck_assert_int_eq (cab_broker_reload (fixture.broker, &error), CAB_OK);
    s_publish (client, 2);
    ck_assert_msg (s_wait_store (&fixture, 4, 3), "two more mirrored under the new cap");
    s_check_cap_event (&fixture, 1);  //  Still the one
    ck_assert (s_wait_budget (endpoint, "agent_types", "monitor", "hour", "used", 3));
    json_t *reply = s_control (endpoint, "{\"op\":\"budget\"}");
    json_t *hour = json_object_get (
        json_object_get (json_object_get (json_object_get (reply, "report"), "agent_types"),
                         "monitor"),
        "hour");
    ck_assert_int_eq (json_integer_value (json_object_get (hour, "cap")), 10);
    json_decref (reply);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_mirror_off)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = s_config (&fixture, NULL);
    config->mirror_enabled = false;
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    s_publish (client, 2);
    cab_client_destroy (&client);
    json_t *reply = s_control (endpoint, "{\"op\":\"budget\"}");
    ck_assert (json_is_false (json_object_get (reply, "enabled")));
    json_decref (reply);
    reply = s_control (endpoint, "{\"op\":\"mirror-status\"}");
    ck_assert (json_is_false (json_object_get (reply, "enabled")));
    json_decref (reply);
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert (json_is_false (json_object_get (json_object_get (status, "mirror"), "enabled")));
    json_decref (status);
    //  Nothing went to the outbox.
    cab_store_t *store = cab_store_new_readonly (fixture.store, NULL);
    cab_mirror_store_stats_t stats;
    ck_assert_int_eq (cab_store_mirror_stats (store, zclock_time (), &stats, NULL), CAB_OK);
    ck_assert_int_eq (stats.outbox, 0);
    ck_assert_int_eq (stats.dry_run, 0);
    cab_store_destroy (&store);
    fixture_fini (&fixture);
}
END_TEST

//  The match log alone: a count is found under its seq and generation only,
//  until a newer seq takes its slot; duplicates, unknown counts and failed
//  commits are not remembered.
START_TEST (test_matchlog)
{
    cabi_matchlog_t *log = cabi_matchlog_new ();
    ck_assert_ptr_nonnull (log);
    cab_store_item_t items[4];
    cabi_batch_meta_t meta[4];
    memset (items, 0, sizeof items);
    memset (meta, 0, sizeof meta);
    cabi_batch_t batch;
    memset (&batch, 0, sizeof batch);
    batch.items = items;
    batch.meta = meta;
    batch.count = 4;
    batch.capacity = 4;
    int64_t seqs[] = {7, 8, 9, 10};
    uint32_t counts[] = {2, 0, 5, CABI_MATCHES_UNKNOWN};
    for (size_t index = 0; index < 4; index++) {
        items[index].seq = seqs[index];
        meta[index].cloud_matches = counts[index];
    }
    items[2].duplicate = true;
    batch.status = CAB_ERR_STORE_UNAVAILABLE;
    cabi_matchlog_put (log, &batch, 3);
    size_t count = 99;
    ck_assert (!cabi_matchlog_get (log, 7, 3, &count));  //  Not committed
    batch.status = CAB_OK;
    cabi_matchlog_put (log, &batch, 3);
    ck_assert (cabi_matchlog_get (log, 7, 3, &count));
    ck_assert_uint_eq (count, 2);
    ck_assert (cabi_matchlog_get (log, 8, 3, &count));
    ck_assert_uint_eq (count, 0);
    ck_assert (!cabi_matchlog_get (log, 9, 3, &count));   //  A duplicate
    ck_assert (!cabi_matchlog_get (log, 10, 3, &count));  //  Unknown
    ck_assert (!cabi_matchlog_get (log, 7, 4, &count));   //  Another generation
    ck_assert (!cabi_matchlog_get (log, 11, 3, &count));  //  Never seen
    ck_assert (!cabi_matchlog_get (log, 0, 3, &count));
    //  A newer event in the same slot.
    items[0].seq = 7 + CABI_MATCHLOG_SLOTS;
    meta[0].cloud_matches = 1;
    batch.count = 1;
    cabi_matchlog_put (log, &batch, 3);
    ck_assert (!cabi_matchlog_get (log, 7, 3, &count));
    ck_assert (cabi_matchlog_get (log, 7 + CABI_MATCHLOG_SLOTS, 3, &count));
    ck_assert_uint_eq (count, 1);
    ck_assert (!cabi_matchlog_get (NULL, 7, 3, &count));
    cabi_matchlog_put (NULL, &batch, 3);
    cabi_matchlog_destroy (&log);
    cabi_matchlog_destroy (&log);
    ck_assert_ptr_null (log);
}
END_TEST

//  A rule document: every monitor event, LOW ones, HIGH ones (log targets).
static json_t *
s_rules (bool with_low)
{
    json_t *rules = json_pack (
        "{s:[{s:s,s:{s:[s]},s:[{s:s,s:s,s:s}]},{s:s,s:{s:{s:[s]}},s:[{s:s,s:s,s:s}]}]}", "rules",
        "name", "all-monitor", "event_pattern", "source", "cabruca.agents.monitor", "targets", "id",
        "log", "type", "log", "path", "logs/all.jsonl", "name", "high", "event_pattern", "detail",
        "severity", "HIGH", "targets", "id", "log", "type", "log", "path", "logs/high.jsonl");
    ck_assert_ptr_nonnull (rules);
    if (with_low) {
        json_t *low = json_pack ("{s:s,s:{s:{s:[s]}},s:[{s:s,s:s,s:s}]}", "name", "low",
                                 "event_pattern", "detail", "severity", "LOW", "targets", "id",
                                 "log", "type", "log", "path", "logs/low.jsonl");
        ck_assert_int_eq (json_array_append_new (json_object_get (rules, "rules"), low), 0);
    }
    return rules;
}

//  The mirror-status "cloud_matches" counts, once they add up to total
//  (the worker publishes them a moment after its decisions).
static void
s_wait_cloud_matches (const char *endpoint, json_int_t total, json_int_t *from_broker_p,
                      json_int_t *by_worker_p)
{
    for (int tries = 0; tries < 100; tries++) {
        json_t *reply = s_control (endpoint, "{\"op\":\"mirror-status\"}");
        *from_broker_p = s_int (reply, "cloud_matches", "from_broker", NULL, NULL);
        *by_worker_p = s_int (reply, "cloud_matches", "by_worker", NULL, NULL);
        json_decref (reply);
        if (*from_broker_p + *by_worker_p == total)
            return;
        zclock_sleep (50);
    }
    ck_abort_msg ("cloud matches: %lld from the broker + %lld by the worker, not %lld",
                  (long long)*from_broker_p, (long long)*by_worker_p, (long long)total);
}

//  A subscriber that acknowledges everything.
static int
s_ack_all (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    (void)delivery;
    (void)arg;
    return 0;
}

//  The broker's rules are the cloud rules: the worker takes the broker's
//  counts, which leave run-time subscriptions out, and follows a reload;
//  the budget's month counts the same matches as the worker would.
START_TEST (test_cloud_matches_from_broker)
{
    fixture_t fixture;
    fixture_init (&fixture);
    s_clock_set (S_TEN_THIRTY);
    cab_broker_config_t *config = s_config (&fixture, NULL);
    config->rules_document = s_rules (true);
    const char *endpoint = fixture_start (&fixture, config);
    //  A subscription matching every monitor event: routed, not a cloud rule.
    cab_client_t *consumer = cab_client_new (endpoint, "ops", NULL);
    ck_assert_ptr_nonnull (consumer);
    json_t *options = json_pack ("{s:{s:[s]}}", "pattern", "source", "cabruca.agents.monitor");
    ck_assert_int_eq (
        cab_client_subscribe (consumer, "watch", options, s_ack_all, NULL, 5000, NULL), CAB_OK);
    json_decref (options);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    ck_assert_ptr_nonnull (client);
    s_publish (client, 5);
    //  LOW events: all-monitor and low, 2 each.
    ck_assert (s_wait_budget (endpoint, "month", "events", NULL, NULL, 5));
    ck_assert (s_wait_budget (endpoint, "month", "rule_matches", NULL, NULL, 10));
    json_int_t from_broker = 0, by_worker = 0;
    s_wait_cloud_matches (endpoint, 5, &from_broker, &by_worker);
    ck_assert_int_ge (from_broker, 1);

    //  New rules (low gone): 1 match each from now on.
    json_t *rules = s_rules (false);
    ck_assert_int_eq (cab_broker_set_rules (fixture.broker, rules, NULL), CAB_OK);
    json_decref (rules);
    s_publish (client, 5);
    ck_assert (s_wait_budget (endpoint, "month", "events", NULL, NULL, 10));
    ck_assert (s_wait_budget (endpoint, "month", "rule_matches", NULL, NULL, 15));
    json_int_t from_broker_after = 0;
    s_wait_cloud_matches (endpoint, 10, &from_broker_after, &by_worker);
    ck_assert_int_gt (from_broker_after, from_broker);
    cab_client_destroy (&client);
    cab_client_destroy (&consumer);
    fixture_fini (&fixture);
}
END_TEST

//  A budget policy that selects by rule name needs the names: the worker
//  matches every event itself, with the same counts.
START_TEST (test_cloud_matches_by_worker)
{
    fixture_t fixture;
    fixture_init (&fixture);
    s_clock_set (S_TEN_THIRTY);
    cab_broker_config_t *config =
        s_config (&fixture, "{\"policies\":[{\"rule\":\"high\",\"policy\":\"shed\"}]}");
    config->rules_document = s_rules (true);
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "monitor-001", NULL);
    ck_assert_ptr_nonnull (client);
    s_publish (client, 4);
    ck_assert (s_wait_budget (endpoint, "month", "rule_matches", NULL, NULL, 8));
    json_int_t from_broker = 0, by_worker = 0;
    s_wait_cloud_matches (endpoint, 4, &from_broker, &by_worker);
    ck_assert_int_eq (from_broker, 0);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_broker_mirror");
    TCase *tcase = tcase_create ("mirror");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_config_sections);
    tcase_add_test (tcase, test_caps_defer_to_next_hour);
    tcase_add_test (tcase, test_budget_reload);
    tcase_add_test (tcase, test_mirror_off);
    tcase_add_test (tcase, test_matchlog);
    tcase_add_test (tcase, test_cloud_matches_from_broker);
    tcase_add_test (tcase, test_cloud_matches_by_worker);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? 0 : 1;
}
