/*  =========================================================================
    test_cab_broker_config - the broker's JSON configuration: defaults,
    relative paths, the allow-list, and a precise error for each mistake
    =========================================================================
*/
#include "cab_broker.h"
#include <check.h>
#include <string.h>
#include <unistd.h>

//  Parse text; return the error code and fill error.
static cab_status_t
s_parse (const char *text, cab_error_t *error)
{
    json_t *document = json_loads (text, 0, NULL);
    ck_assert_ptr_nonnull (document);
    cab_error_clear (error);
    cab_broker_config_t *config = cab_broker_config_parse (document, "/etc/cabruca", error);
    json_decref (document);
    cab_status_t status = config ? CAB_OK : error->code;
    cab_broker_config_destroy (&config);
    return status;
}

START_TEST (test_valid)
{
    const char *text = "{\"endpoints\": [\"ipc:///run/cabruca/broker.ipc\", \"tcp://127.0.0.1:*\"],"
                       " \"store\": {\"path\": \"events.db\", \"durability\": \"full\","
                       "            \"cache_tail_mb\": 0},"
                       " \"schemas\": \"/usr/share/cabruca/schemas\","
                       " \"agents\": {\"monitor-001\": {\"sources\": [\"cabruca.agents.monitor\"]},"
                       "            \"ops\": {\"sources\": [\"*\"]}},"
                       " \"limits\": {\"max_in_flight\": 10, \"validators\": 0}}";
    json_t *document = json_loads (text, 0, NULL);
    cab_error_t error;
    cab_broker_config_t *config = cab_broker_config_parse (document, "/etc/cabruca", &error);
    json_decref (document);
    ck_assert_ptr_nonnull (config);
    ck_assert_uint_eq (config->endpoint_count, 2);
    ck_assert_str_eq (config->store_path, "/etc/cabruca/events.db");
    ck_assert_int_eq (config->durability, CAB_STORE_FULL);
    ck_assert_int_eq (config->cache_tail_bytes, 0);
    ck_assert_str_eq (config->schemas_dir, "/usr/share/cabruca/schemas");
    ck_assert_uint_eq (config->max_in_flight, 10);
    ck_assert_uint_eq (config->validators, 0);
    ck_assert_uint_eq (config->batch_max, 1000);  //  A default
    ck_assert_int_eq (config->heartbeat_ms, 1000);
    cab_broker_config_t *defaults = cab_broker_config_new ();
    ck_assert_uint_le (defaults->validators, 4);  //  By the number of CPUs
    ck_assert_int_eq (defaults->cache_tail_bytes, 64 << 20);
    cab_broker_config_destroy (&defaults);
    //  The allow-list
    ck_assert (cab_broker_config_allows (config, "monitor-001", "cabruca.agents.monitor"));
    ck_assert (!cab_broker_config_allows (config, "monitor-001", "cabruca.agents.tester"));
    ck_assert (!cab_broker_config_allows (config, "nobody", "cabruca.agents.monitor"));
    ck_assert (cab_broker_config_allows (config, "ops", "anything.at.all"));
    ck_assert (!cab_broker_config_allows (config, NULL, "x"));
    cab_broker_config_destroy (&config);
    cab_broker_config_destroy (&config);
}
END_TEST

START_TEST (test_errors)
{
    cab_error_t error;
    struct {
        const char *text;
        const char *path;
    } cases[] = {
        {"[]", ""},
        {"{\"store\": {\"path\": \"x\"}}", "/endpoints"},
        {"{\"endpoints\": [], \"store\": {\"path\": \"x\"}}", "/endpoints"},
        {"{\"endpoints\": [\"http://x\"], \"store\": {\"path\": \"x\"}}", "/endpoints/0"},
        {"{\"endpoints\": [\"ipc://a\", 7], \"store\": {\"path\": \"x\"}}", "/endpoints/1"},
        {"{\"endpoints\": [\"ipc://a\"]}", "/store"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {}}", "/store/path"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"durability\": \"max\"}}",
         "/store/durability"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"size\": 1}}",
         "/store/size"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"cache_tail_mb\": -1}}",
         "/store/cache_tail_mb"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"cache_tail_mb\": \"64\"}}",
         "/store/cache_tail_mb"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"cache_tail_mb\": 1.5}}",
         "/store/cache_tail_mb"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\", \"cache_tail_mb\": "
         "1048577}}",
         "/store/cache_tail_mb"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"schemas\": 1}",
         "/schemas"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"agents\": "
         "{\"bad id\": {\"sources\": []}}}",
         "/agents/bad id"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"agents\": "
         "{\"a\": {\"sources\": \"x\"}}}",
         "/agents/a/sources"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"agents\": "
         "{\"a\": {\"sources\": [\"ok\", \"\"]}}}",
         "/agents/a/sources/1"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"limits\": "
         "{\"max_in_flight\": 0}}",
         "/limits/max_in_flight"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"limits\": "
         "{\"batch_max\": 1.5}}",
         "/limits/batch_max"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"limits\": "
         "{\"heartbeat_ms\": 1000, \"timeout_ms\": 1500}}",
         "/limits/timeout_ms"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"limits\": "
         "{\"validators\": 17}}",
         "/limits/validators"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"a/b~c\": 1}", "/a~1b~0c"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"rules\": 1}", "/rules"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"data_dir\": \"\"}",
         "/data_dir"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"archive\": "
         "{\"retention_days\": -1}}",
         "/archive/retention_days"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"archive\": "
         "{\"days\": 1}}",
         "/archive/days"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"dead_letters\": "
         "{\"critical_days\": 4000}}",
         "/dead_letters/critical_days"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"delivery\": "
         "{\"ack_timeout_ms\": 5}}",
         "/delivery/ack_timeout_ms"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"delivery\": "
         "{\"backoff_base_ms\": 5000, \"backoff_max_ms\": 1000}}",
         "/delivery/backoff_max_ms"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"delivery\": "
         "{\"max_pending_in_memory\": 10}}",
         "/delivery/max_pending_in_memory"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"delivery\": "
         "{\"sweep_every_ms\": \"often\"}}",
         "/delivery/sweep_every_ms"},
        {"{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"x\"}, \"delivery\": "
         "{\"retries\": 3}}",
         "/delivery/retries"},
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        ck_assert_msg (s_parse (cases[index].text, &error) == CAB_ERR_INVALID_CONFIG,
                       "case %zu: %s", index, cases[index].text);
        ck_assert_msg (strcmp (error.path, cases[index].path) == 0, "case %zu: path '%s' not '%s'",
                       index, error.path, cases[index].path);
        ck_assert (strlen (error.text) > 0);
    }
}
END_TEST

//  The routing and delivery settings: defaults, values, the rule file.
START_TEST (test_delivery)
{
    const char *text = "{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"db/e.db\"},"
                       " \"rules\": \"rules.json\", \"archive\": {\"retention_days\": 2},"
                       " \"dead_letters\": {\"standard_days\": 1},"
                       " \"delivery\": {\"ack_timeout_ms\": 1000, \"backoff_base_ms\": 100,"
                       " \"backoff_max_ms\": 2000, \"max_pending_in_memory\": 500,"
                       " \"sweep_every_ms\": 50}}";
    json_t *document = json_loads (text, 0, NULL);
    cab_error_t error;
    cab_broker_config_t *config = cab_broker_config_parse (document, "/etc/cabruca", &error);
    json_decref (document);
    ck_assert_ptr_nonnull (config);
    ck_assert_str_eq (config->rules_path, "/etc/cabruca/rules.json");
    ck_assert_str_eq (config->data_dir, "/etc/cabruca/db");  //  The store's directory
    ck_assert (config->archive_ms == 2 * 86400000LL);
    ck_assert (config->standard_ms == 86400000LL);
    ck_assert (config->critical_ms == 4 * 86400000LL);
    ck_assert_int_eq (config->ack_timeout_ms, 1000);
    ck_assert_int_eq (config->backoff_base_ms, 100);
    ck_assert_int_eq (config->backoff_max_ms, 2000);
    ck_assert_uint_eq (config->max_pending_in_memory, 500);
    ck_assert_int_eq (config->sweep_every_ms, 50);
    //  The rule file is read when asked: here it does not exist.
    cab_rules_t *rules = NULL;
    ck_assert_int_eq (cab_broker_config_load_rules (config, &rules, &error), CAB_ERR_IO);
    ck_assert_ptr_null (rules);
    //  A rule document with an error: the pointer is into the rules.
    config->rules_document =
        json_pack ("{s:[{s:s,s:{},s:[]}]}", "rules", "name", "r", "event_pattern", "targets");
    ck_assert_int_ne (cab_broker_config_load_rules (config, &rules, &error), CAB_OK);
    ck_assert_int_eq (strncmp (error.path, "/rules/0", 8), 0);
    cab_broker_config_destroy (&config);
    //  Defaults, and an empty rule set without a rule file.
    config = cab_broker_config_new ();
    ck_assert_int_eq (config->ack_timeout_ms, 30000);
    ck_assert_int_eq (config->backoff_base_ms, 1000);
    ck_assert_int_eq (config->backoff_max_ms, 300000);
    ck_assert_uint_eq (config->max_pending_in_memory, 10000);
    ck_assert (config->archive_ms == 7 * 86400000LL);
    ck_assert_int_eq (cab_broker_config_load_rules (config, &rules, &error), CAB_OK);
    ck_assert_uint_eq (cab_rules_count (rules), 0);
    cab_rules_unref (&rules);
    cab_broker_config_destroy (&config);
}
END_TEST

START_TEST (test_load)
{
    cab_error_t error;
    ck_assert_ptr_null (cab_broker_config_load ("/nonexistent/broker.json", &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    char path[] = "/tmp/cab-config-XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    const char *text = "{\"endpoints\": [\"ipc://a\"], \"store\": {\"path\": \"e.db\"}}";
    ck_assert_int_eq (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    close (fd);
    cab_broker_config_t *config = cab_broker_config_load (path, &error);
    ck_assert_ptr_nonnull (config);
    ck_assert_str_eq (config->store_path, "/tmp/e.db");
    cab_broker_config_destroy (&config);
    //  Not JSON, and a key given twice.
    FILE *file = fopen (path, "w");
    fputs ("{\"endpoints\": [\"ipc://a\"], \"endpoints\": [\"ipc://b\"]}", file);
    fclose (file);
    ck_assert_ptr_null (cab_broker_config_load (path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_INVALID_JSON);
    unlink (path);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_broker_config");
    TCase *tcase = tcase_create ("config");
    tcase_add_test (tcase, test_valid);
    tcase_add_test (tcase, test_errors);
    tcase_add_test (tcase, test_delivery);
    tcase_add_test (tcase, test_load);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
