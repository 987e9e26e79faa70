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
                       " \"store\": {\"path\": \"events.db\", \"durability\": \"full\"},"
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
    ck_assert_str_eq (config->schemas_dir, "/usr/share/cabruca/schemas");
    ck_assert_uint_eq (config->max_in_flight, 10);
    ck_assert_uint_eq (config->validators, 0);
    ck_assert_uint_eq (config->batch_max, 1000);  //  A default
    ck_assert_int_eq (config->heartbeat_ms, 1000);
    cab_broker_config_t *defaults = cab_broker_config_new ();
    ck_assert_uint_le (defaults->validators, 4);  //  By the number of CPUs
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
    tcase_add_test (tcase, test_load);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
