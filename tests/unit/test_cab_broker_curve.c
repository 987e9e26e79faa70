/*  =========================================================================
    test_cab_broker_curve - who may connect (docs/security.md): a CURVE
    broker admits only known certificates, takes the agent's name and
    sources from its certificate, and refuses to start without its key or
    its clients directory; without CURVE the ipc socket is owner-only and
    tcp stays on loopback.
    =========================================================================
*/
#include "broker_fixture.h"
#include <cabruca.h>
#include <sys/stat.h>

//  How long a client that must not get in is given, ms.
#define S_REFUSED_MS 1500

typedef struct {
    int count;
    cab_client_result_t last;
    char path[CAB_ERROR_PATH_MAX];
} s_results_t;

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    s_results_t *results = (s_results_t *)arg;
    results->count++;
    results->last = *result;
    snprintf (results->path, sizeof results->path, "%s", result->path);
}

//  A certificate pair in DIR: DIR/NAME (public) and DIR/NAME_secret.
static void
s_cert (const char *dir, const char *name, const char *sources)
{
    zcert_t *cert = zcert_new ();
    ck_assert_ptr_nonnull (cert);
    zcert_set_meta (cert, "name", "%s", name);
    if (sources)
        zcert_set_meta (cert, "sources", "%s", sources);
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    ck_assert_int_eq (zcert_save (cert, path), 0);
    zcert_destroy (&cert);
}

//  The fixture with a broker key pair in DIR/keys, the known agents'
//  public certificates in DIR/certs, and an unknown agent's in DIR/other.
static void
s_curve_init (fixture_t *fixture)
{
    fixture_init (fixture);
    char path[512];
    const char *const dirs[] = {"keys", "certs", "other"};
    for (size_t index = 0; index < 3; index++) {
        snprintf (path, sizeof path, "%s/%s", fixture->dir, dirs[index]);
        ck_assert_int_eq (mkdir (path, 0700), 0);
    }
    snprintf (path, sizeof path, "%s/keys", fixture->dir);
    s_cert (path, "broker", NULL);
    snprintf (path, sizeof path, "%s/certs", fixture->dir);
    s_cert (path, "monitor-001", "cabruca.agents.monitor");
    //  The secret halves go elsewhere: the clients directory holds public
    //  certificates only.
    char from[600], to[600];
    snprintf (from, sizeof from, "%s/certs/monitor-001_secret", fixture->dir);
    snprintf (to, sizeof to, "%s/keys/monitor-001_secret", fixture->dir);
    ck_assert_int_eq (rename (from, to), 0);
    snprintf (path, sizeof path, "%s/other", fixture->dir);
    s_cert (path, "monitor-001", "*");
}

static cab_broker_config_t *
s_curve_config (fixture_t *fixture)
{
    cab_broker_config_t *config = fixture_config (fixture, "tcp://127.0.0.1:*");
    char path[512];
    snprintf (path, sizeof path, "%s/keys/broker_secret", fixture->dir);
    config->curve_secret_key = strdup (path);
    snprintf (path, sizeof path, "%s/certs", fixture->dir);
    config->curve_clients_dir = strdup (path);
    return config;
}

//  A client with the certificate DIR/WHICH/monitor-001_secret (NULL: no CURVE).
static cab_client_t *
s_client (fixture_t *fixture, const char *endpoint, const char *agent, const char *which)
{
    cab_client_t *client = cab_client_new (endpoint, agent, NULL);
    ck_assert_ptr_nonnull (client);
    if (which) {
        char cert[512], server[512];
        snprintf (cert, sizeof cert, "%s/%s/monitor-001_secret", fixture->dir, which);
        snprintf (server, sizeof server, "%s/keys/broker", fixture->dir);
        cab_error_t error;
        cab_error_clear (&error);
        ck_assert_msg (cab_client_set_curve (client, cert, server, &error) == CAB_OK, "%s",
                       error.text);
    }
    return client;
}

//  Wait until the client has a session or timeout_ms passes.
static bool
s_connects (cab_client_t *client, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!cab_client_connected (client) && zclock_mono () < deadline)
        cab_client_poll (client, 50);
    return cab_client_connected (client);
}

static json_int_t
s_stored (fixture_t *fixture)
{
    json_t *status = cab_broker_status (fixture->broker);
    ck_assert_ptr_nonnull (status);
    json_int_t stored = json_integer_value (json_object_get (status, "stored"));
    json_decref (status);
    return stored;
}

START_TEST (test_known_agent)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_curve_config (&fixture));
    cab_client_t *client = s_client (&fixture, endpoint, "monitor-001", "keys");
    s_results_t results = {0};
    cab_client_set_handler (client, s_on_result, &results);
    ck_assert (s_connects (client, 5000));
    char *text = fixture_event ("monitor-001", NULL, "HIGH");
    ck_assert_int_eq (cab_client_publish_text (client, text, strlen (text), 5000, NULL), CAB_OK);
    ck_assert_int_eq (cab_client_flush (client, 10000, NULL), CAB_OK);
    free (text);
    ck_assert_int_eq (results.count, 1);
    ck_assert_int_eq (results.last.code, CAB_OK);
    ck_assert_int_eq (s_stored (&fixture), 1);

    //  Another agent's source: the certificate, not the configuration, says
    //  what monitor-001 may publish.
    text = fixture_event ("monitor-001", NULL, "LOW");
    char *other = NULL;
    ck_assert_int_ge (asprintf (&other, "%s", text), 0);
    char *source = strstr (other, "cabruca.agents.monitor");
    ck_assert_ptr_nonnull (source);
    memcpy (source, "cabruca.agents.testerr", strlen ("cabruca.agents.testerr"));
    ck_assert_int_eq (cab_client_publish_text (client, other, strlen (other), 5000, NULL), CAB_OK);
    ck_assert_int_eq (cab_client_flush (client, 10000, NULL), CAB_OK);
    ck_assert_int_eq (results.count, 2);
    ck_assert_int_eq (results.last.code, CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (results.path, "/source");
    free (other);
    free (text);
    ck_assert_int_eq (s_stored (&fixture), 1);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_certificate_sources_replace_config)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    cab_broker_config_t *config = s_curve_config (&fixture);
    //  The configuration would let ops publish anything; its certificate
    //  (made here with no "sources") lets it publish nothing.
    char path[512];
    snprintf (path, sizeof path, "%s/keys", fixture.dir);
    s_cert (path, "ops", NULL);
    char from[600], to[600];
    snprintf (from, sizeof from, "%s/keys/ops", fixture.dir);
    snprintf (to, sizeof to, "%s/certs/ops", fixture.dir);
    ck_assert_int_eq (rename (from, to), 0);
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "ops", NULL);
    char server[512];
    snprintf (from, sizeof from, "%s/keys/ops_secret", fixture.dir);
    snprintf (server, sizeof server, "%s/keys/broker", fixture.dir);
    ck_assert_int_eq (cab_client_set_curve (client, from, server, NULL), CAB_OK);
    s_results_t results = {0};
    cab_client_set_handler (client, s_on_result, &results);
    char *text = fixture_event ("ops", NULL, "HIGH");
    ck_assert_int_eq (cab_client_publish_text (client, text, strlen (text), 5000, NULL), CAB_OK);
    ck_assert_int_eq (cab_client_flush (client, 10000, NULL), CAB_OK);
    free (text);
    ck_assert_int_eq (results.last.code, CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (results.path, "/source");
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_hello_as_another_agent)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_curve_config (&fixture));
    //  monitor-001's certificate, saying HELLO as tester-001.
    cab_client_t *client = s_client (&fixture, endpoint, "tester-001", "keys");
    ck_assert (!s_connects (client, S_REFUSED_MS));
    //  The client says why its events get no answer.
    cab_error_t error;
    cab_error_clear (&error);
    char *text = fixture_event ("tester-001", NULL, "HIGH");
    ck_assert_int_eq (cab_client_publish_text (client, text, strlen (text), 0, NULL), CAB_OK);
    free (text);
    ck_assert_int_eq (cab_client_flush (client, 300, &error), CAB_ERR_TIMEOUT);
    ck_assert_msg (strstr (error.text, "HELLO refused") != NULL, "%s", error.text);
    json_t *status = cab_broker_status (fixture.broker);
    json_t *errors = json_object_get (status, "errors");
    ck_assert_int_ge (json_integer_value (json_object_get (errors, "AccessDenied")), 1);
    json_decref (status);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_unknown_certificate)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    const char *endpoint = fixture_start (&fixture, s_curve_config (&fixture));
    //  A certificate with the right name that the broker does not know.
    cab_client_t *client = s_client (&fixture, endpoint, "monitor-001", "other");
    char *text = fixture_event ("monitor-001", NULL, "HIGH");
    ck_assert_int_eq (cab_client_publish_text (client, text, strlen (text), 0, NULL), CAB_OK);
    free (text);
    ck_assert (!s_connects (client, S_REFUSED_MS));
    ck_assert_int_eq (cab_client_flush (client, 200, NULL), CAB_ERR_TIMEOUT);
    cab_client_destroy (&client);
    //  And one without CURVE at all.
    client = s_client (&fixture, endpoint, "monitor-001", NULL);
    ck_assert (!s_connects (client, S_REFUSED_MS));
    cab_client_destroy (&client);
    json_t *status = cab_broker_status (fixture.broker);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "received")), 0);
    ck_assert_int_eq (json_integer_value (json_object_get (status, "stored")), 0);
    json_decref (status);
    fixture_fini (&fixture);
}
END_TEST

static int
s_on_delivery (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    (void)delivery;
    (void)arg;
    return 0;
}

//  SUBSCRIBE queue with a pattern (JSON text, NULL: none); the broker's
//  answer, its pointer in path (CAB_ERROR_PATH_MAX bytes).
static cab_status_t
s_subscribe (cab_client_t *client, const char *queue, const char *pattern, char *path)
{
    json_t *options =
        pattern ? json_pack ("{s:o}", "pattern", json_loads (pattern, 0, NULL)) : NULL;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status =
        cab_client_subscribe (client, queue, options, s_on_delivery, NULL, 5000, &error);
    json_decref (options);
    snprintf (path, CAB_ERROR_PATH_MAX, "%s", status == CAB_OK ? "" : error.path);
    return status;
}

static json_int_t
s_refused_subscriptions (fixture_t *fixture)
{
    json_t *status = cab_broker_status (fixture->broker);
    json_t *refused =
        json_object_get (json_object_get (status, "delivery"), "subscriptions_refused");
    json_int_t count = json_integer_value (json_object_get (refused, "AccessDenied"));
    json_decref (status);
    return count;
}

//  What any agent restricted to queue "alerts" and source
//  cabruca.agents.monitor may and may not subscribe to.
static void
s_check_restricted (fixture_t *fixture, cab_client_t *client)
{
    char path[CAB_ERROR_PATH_MAX];
    json_int_t before = s_refused_subscriptions (fixture);
    ck_assert_int_eq (s_subscribe (client, "alerts", NULL, path), CAB_OK);
    ck_assert_int_eq (
        s_subscribe (client, "alerts", "{\"source\":[\"cabruca.agents.monitor\"]}", path), CAB_OK);
    ck_assert_int_eq (s_subscribe (client, "others", NULL, path), CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (path, "/queue");
    //  A pattern that does not pin "source" could match any agent's events.
    ck_assert_int_eq (s_subscribe (client, "alerts", "{\"detail-type\":[\"Alert\"]}", path),
                      CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (path, "/pattern");
    ck_assert_int_eq (
        s_subscribe (client, "alerts",
                     "{\"source\":[\"cabruca.agents.monitor\",\"cabruca.agents.tester\"]}", path),
        CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (path, "/pattern/source/1");
    ck_assert_int_eq (
        s_subscribe (client, "alerts", "{\"source\":[{\"prefix\":\"cabruca.\"}]}", path),
        CAB_ERR_ACCESS_DENIED);
    ck_assert_str_eq (path, "/pattern/source/0");
    ck_assert_int_eq (s_subscribe (client, "alerts",
                                   "{\"$or\":[{\"source\":[\"cabruca.agents.monitor\"]},"
                                   "{\"detail-type\":[\"Alert\"]}]}",
                                   path),
                      CAB_ERR_ACCESS_DENIED);
    ck_assert_int_eq (s_refused_subscriptions (fixture), before + 5);
}

START_TEST (test_subscribe_config)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_broker_config_t *config = fixture_config (&fixture, fixture.ipc);
    json_t *tester = json_object_get (config->agents, "tester-001");
    json_object_set_new (tester, "subscribe", json_pack ("[s]", "alerts"));
    json_object_set_new (tester, "read_sources", json_pack ("[s]", "cabruca.agents.monitor"));
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "tester-001", NULL);
    ck_assert_ptr_nonnull (client);
    s_check_restricted (&fixture, client);
    cab_client_destroy (&client);
    //  No "subscribe" or "read_sources": anything, as before.
    client = cab_client_new (endpoint, "monitor-001", NULL);
    char path[CAB_ERROR_PATH_MAX];
    ck_assert_int_eq (s_subscribe (client, "others", "{\"detail-type\":[\"Alert\"]}", path),
                      CAB_OK);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_subscribe_certificate)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    char dir[512];
    snprintf (dir, sizeof dir, "%s/keys", fixture.dir);
    zcert_t *cert = zcert_new ();
    zcert_set_meta (cert, "name", "tester-001");
    zcert_set_meta (cert, "sources", "cabruca.agents.tester");
    zcert_set_meta (cert, "queues", "alerts");
    zcert_set_meta (cert, "read_sources", "cabruca.agents.monitor");
    char path[600];
    snprintf (path, sizeof path, "%s/certs/tester-001", fixture.dir);
    ck_assert_int_eq (zcert_save_public (cert, path), 0);
    snprintf (path, sizeof path, "%s/keys/tester-001_secret", fixture.dir);
    ck_assert_int_eq (zcert_save_secret (cert, path), 0);
    zcert_destroy (&cert);
    //  The configuration would allow everything: the certificate decides.
    cab_broker_config_t *config = s_curve_config (&fixture);
    json_t *tester = json_object_get (config->agents, "tester-001");
    json_object_set_new (tester, "subscribe", json_pack ("[s]", "*"));
    const char *endpoint = fixture_start (&fixture, config);
    cab_client_t *client = cab_client_new (endpoint, "tester-001", NULL);
    char server[512];
    snprintf (server, sizeof server, "%s/keys/broker", fixture.dir);
    ck_assert_int_eq (cab_client_set_curve (client, path, server, NULL), CAB_OK);
    s_check_restricted (&fixture, client);
    cab_client_destroy (&client);
    //  A certificate without "queues": the configuration, then anything.
    client = s_client (&fixture, endpoint, "monitor-001", "keys");
    char pointer[CAB_ERROR_PATH_MAX];
    ck_assert_int_eq (s_subscribe (client, "others", "{\"detail-type\":[\"Alert\"]}", pointer),
                      CAB_OK);
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_subscribe_config_file)
{
    json_t *document =
        json_pack ("{s:[s], s:{s:s}, s:{s:{s:[s], s:[s], s:[s]}}}", "endpoints",
                   "tcp://127.0.0.1:5570", "store", "path", "events.db", "agents", "tester-001",
                   "sources", "cabruca.agents.tester", "subscribe", "alerts", "read_sources", "*");
    cab_error_t error;
    cab_error_clear (&error);
    cab_broker_config_t *config = cab_broker_config_parse (document, NULL, &error);
    ck_assert_msg (config != NULL, "%s", error.text);
    json_t *tester = json_object_get (config->agents, "tester-001");
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (tester, "subscribe"), 0)),
                      "alerts");
    cab_broker_config_destroy (&config);
    json_t *agent = json_object_get (json_object_get (document, "agents"), "tester-001");
    json_array_append_new (json_object_get (agent, "subscribe"), json_string ("no queue"));
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/agents/tester-001/subscribe/1");
    json_object_set_new (agent, "subscribe", json_string ("alerts"));
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/agents/tester-001/subscribe");
    json_object_del (agent, "subscribe");
    json_object_set_new (agent, "read_sources", json_pack ("[s]", ""));
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/agents/tester-001/read_sources/0");
    json_decref (document);
}
END_TEST

//  Start a broker that must fail; return its error code.
static cab_status_t
s_refused (cab_broker_config_t *config, cab_error_t *error)
{
    cab_error_clear (error);
    cab_broker_t *broker = cab_broker_new (&config, error);
    ck_assert_ptr_null (broker);
    ck_assert_ptr_null (config);
    return error->code;
}

START_TEST (test_refuses_to_start)
{
    fixture_t fixture;
    s_curve_init (&fixture);
    cab_error_t error;
    //  No secret key file.
    cab_broker_config_t *config = s_curve_config (&fixture);
    free (config->curve_secret_key);
    config->curve_secret_key = strdup ("/nonexistent/broker_secret");
    ck_assert_int_eq (s_refused (config, &error), CAB_ERR_INVALID_CONFIG);
    ck_assert_str_eq (error.path, "/curve/secret_key_file");
    //  A public certificate is not the broker's key.
    config = s_curve_config (&fixture);
    char path[512];
    snprintf (path, sizeof path, "%s/certs/monitor-001", fixture.dir);
    free (config->curve_secret_key);
    config->curve_secret_key = strdup (path);
    ck_assert_int_eq (s_refused (config, &error), CAB_ERR_INVALID_CONFIG);
    //  No clients directory.
    config = s_curve_config (&fixture);
    free (config->curve_clients_dir);
    config->curve_clients_dir = strdup ("/nonexistent/certs");
    ck_assert_int_eq (s_refused (config, &error), CAB_ERR_INVALID_CONFIG);
    ck_assert_str_eq (error.path, "/curve/clients_dir");
    //  A key without a clients directory.
    config = s_curve_config (&fixture);
    free (config->curve_clients_dir);
    config->curve_clients_dir = NULL;
    ck_assert_int_eq (s_refused (config, &error), CAB_ERR_INVALID_CONFIG);
    //  Two CURVE brokers in one process: one authenticator per process.
    const char *endpoint = fixture_start (&fixture, s_curve_config (&fixture));
    ck_assert_ptr_nonnull (endpoint);
    ck_assert_int_eq (s_refused (s_curve_config (&fixture), &error), CAB_ERR_INVALID_CONFIG);
    fixture_stop (&fixture);
    //  Once stopped, another may start.
    ck_assert_ptr_nonnull (fixture_start (&fixture, s_curve_config (&fixture)));
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_config_file)
{
    json_t *document = json_pack ("{s:[s], s:{s:s}, s:{s:s, s:s}}", "endpoints",
                                  "tcp://0.0.0.0:5570", "store", "path", "events.db", "curve",
                                  "secret_key_file", "broker.key_secret", "clients_dir", "certs");
    cab_error_t error;
    cab_error_clear (&error);
    cab_broker_config_t *config = cab_broker_config_parse (document, "/etc/cabruca", &error);
    ck_assert_msg (config != NULL, "%s", error.text);
    ck_assert_str_eq (config->curve_secret_key, "/etc/cabruca/broker.key_secret");
    ck_assert_str_eq (config->curve_clients_dir, "/etc/cabruca/certs");
    ck_assert (!config->allow_remote);
    cab_broker_config_destroy (&config);
    json_object_set_new (json_object_get (document, "curve"), "verbose", json_true ());
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/curve/verbose");
    json_object_del (json_object_get (document, "curve"), "verbose");
    json_object_del (json_object_get (document, "curve"), "clients_dir");
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/curve/clients_dir");
    json_object_del (document, "curve");
    json_object_set_new (document, "allow_remote", json_string ("yes"));
    ck_assert_ptr_null (cab_broker_config_parse (document, NULL, &error));
    ck_assert_str_eq (error.path, "/allow_remote");
    json_object_set_new (document, "allow_remote", json_true ());
    config = cab_broker_config_parse (document, NULL, &error);
    ck_assert_ptr_nonnull (config);
    ck_assert (config->allow_remote);
    ck_assert_ptr_null (config->curve_secret_key);
    cab_broker_config_destroy (&config);
    json_decref (document);
}
END_TEST

START_TEST (test_ipc_owner_only)
{
    fixture_t fixture;
    fixture_init (&fixture);
    fixture_start (&fixture, fixture_config (&fixture, fixture.ipc));
    struct stat info;
    ck_assert_int_eq (stat (fixture.ipc + 6, &info), 0);
    ck_assert_int_eq (info.st_mode & 0777, 0600);
    //  The owner still gets in.
    cab_client_t *client = cab_client_new (fixture.ipc, "monitor-001", NULL);
    ck_assert (s_connects (client, 5000));
    cab_client_destroy (&client);
    fixture_fini (&fixture);
}
END_TEST

START_TEST (test_tcp_loopback_only)
{
    fixture_t fixture;
    fixture_init (&fixture);
    cab_error_t error;
    const char *const refused[] = {"tcp://0.0.0.0:*", "tcp://*:*", "tcp://eth0:*",
                                   "tcp://192.168.1.10:*", "ipc://@cabruca-test"};
    for (size_t index = 0; index < sizeof refused / sizeof *refused; index++) {
        ck_assert_int_eq (s_refused (fixture_config (&fixture, refused[index]), &error),
                          CAB_ERR_INVALID_CONFIG);
        ck_assert_str_eq (error.path, "/endpoints/0");
    }
    //  Unless allow_remote.
    cab_broker_config_t *config = fixture_config (&fixture, "tcp://0.0.0.0:*");
    config->allow_remote = true;
    ck_assert_ptr_nonnull (fixture_start (&fixture, config));
    fixture_stop (&fixture);
    const char *const allowed[] = {"tcp://lo:*", "tcp://127.0.0.2:*"};
    for (size_t index = 0; index < sizeof allowed / sizeof *allowed; index++) {
        ck_assert_ptr_nonnull (fixture_start (&fixture, fixture_config (&fixture, allowed[index])));
        fixture_stop (&fixture);
    }
    fixture_fini (&fixture);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *suite = suite_create ("cab_broker_curve");
    TCase *tcase = tcase_create ("curve");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_known_agent);
    tcase_add_test (tcase, test_certificate_sources_replace_config);
    tcase_add_test (tcase, test_hello_as_another_agent);
    tcase_add_test (tcase, test_unknown_certificate);
    tcase_add_test (tcase, test_refuses_to_start);
    tcase_add_test (tcase, test_subscribe_certificate);
    suite_add_tcase (suite, tcase);
    tcase = tcase_create ("local");
    tcase_set_timeout (tcase, 60);
    tcase_add_test (tcase, test_config_file);
    tcase_add_test (tcase, test_subscribe_config);
    tcase_add_test (tcase, test_subscribe_config_file);
    tcase_add_test (tcase, test_ipc_owner_only);
    tcase_add_test (tcase, test_tcp_loopback_only);
    suite_add_tcase (suite, tcase);
    return suite;
}

int
main (void)
{
    SRunner *runner = srunner_create (s_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
