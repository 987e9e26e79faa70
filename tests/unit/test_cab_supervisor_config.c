/*  =========================================================================
    test_cab_supervisor_config - the supervisor's configuration: defaults,
    and every kind of mistake reported with its exact JSON Pointer. Also
    the log file's size-based rotation.
    =========================================================================
*/
#include "cab_supervisor_config.h"
#include "cab_logfile.h"
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cab_supervisor_config_t *
s_parse (const char *text, cab_error_t *error)
{
    cab_error_clear (error);
    return cab_supervisor_config_parse (text, strlen (text), "/etc/cab", error);
}

START_TEST (test_defaults)
{
    cab_error_t error;
    cab_supervisor_config_t *config =
        s_parse ("{\"programs\": [{\"name\": \"broker\", \"command\": [\"cabruca-broker\"]},"
                 " {\"name\": \"a\", \"command\": [\"x\", \"-v\"], \"depends_on\": [\"broker\"],"
                 "  \"environment\": {\"LANG\": \"C\"}, \"directory\": \"work\","
                 "  \"instances\": 3, \"restart\": \"on-failure\", \"notify_fd\": 3,"
                 "  \"backoff\": {\"initial\": 1, \"maximum\": 4}, \"start_secs\": 0.5,"
                 "  \"stop_signal\": \"SIGINT\", \"stop_timeout\": 2.5}]}",
                 &error);
    ck_assert_msg (config, "%s: %s", error.path, error.text);
    ck_assert_str_eq (config->run_dir, "/tmp/cabruca");
    ck_assert_str_eq (config->log_dir, "/etc/cab/.");
    ck_assert_int_eq (config->log_keep, 5);
    ck_assert_ptr_null (config->broker_endpoint);
    ck_assert_int_eq (config->program_count, 2);
    cab_program_def_t *broker = config->programs[0];
    ck_assert_str_eq (broker->argv[0], "cabruca-broker");
    ck_assert_ptr_null (broker->argv[1]);
    ck_assert_int_eq (broker->instances, 1);
    ck_assert (broker->autostart);
    ck_assert_int_eq (broker->restart, CAB_RESTART_ALWAYS);
    ck_assert_int_eq (broker->backoff_initial_ms, 1000);
    ck_assert_int_eq (broker->start_ms, 1000);
    ck_assert_int_eq (broker->notify_fd, -1);
    ck_assert_int_eq (broker->stop_signal, SIGTERM);
    ck_assert_int_eq (broker->stop_timeout_ms, 10000);
    cab_program_def_t *a = cab_supervisor_config_find (config, "a");
    ck_assert_ptr_nonnull (a);
    ck_assert_str_eq (a->env[0], "LANG=C");
    ck_assert_str_eq (a->directory, "/etc/cab/work");
    ck_assert_int_eq (a->instances, 3);
    ck_assert_int_eq (a->restart, CAB_RESTART_ON_FAILURE);
    ck_assert_int_eq (a->backoff_maximum_ms, 4000);
    ck_assert_int_eq (a->start_ms, 500);
    ck_assert_int_eq (a->stop_signal, SIGINT);
    ck_assert_int_eq (a->stop_timeout_ms, 2500);
    ck_assert_str_eq (a->depends_on[0], "broker");
    ck_assert_ptr_null (cab_supervisor_config_find (config, "nope"));
    cab_supervisor_config_destroy (&config);
    ck_assert_ptr_null (config);
    cab_supervisor_config_destroy (&config);
}
END_TEST

START_TEST (test_normalized_ignores_spelling)
{
    cab_error_t error;
    cab_supervisor_config_t *one =
        s_parse ("{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"]}]}", &error);
    cab_supervisor_config_t *two =
        s_parse ("{\"programs\": [{\"command\": [\"x\"], \"restart\": \"always\","
                 " \"stop_signal\": \"TERM\", \"backoff\": {\"initial\": 1.0}, \"name\": \"a\"}]}",
                 &error);
    cab_supervisor_config_t *three =
        s_parse ("{\"programs\": [{\"name\": \"a\", \"command\": [\"x\", \"y\"]}]}", &error);
    ck_assert (one && two && three);
    ck_assert (json_equal (one->programs[0]->normalized, two->programs[0]->normalized));
    ck_assert (!json_equal (one->programs[0]->normalized, three->programs[0]->normalized));
    cab_supervisor_config_destroy (&one);
    cab_supervisor_config_destroy (&two);
    cab_supervisor_config_destroy (&three);
}
END_TEST

//  Each bad configuration, with the code and JSON Pointer it must give.
static const struct {
    const char *text;
    cab_status_t code;
    const char *path;
} s_bad[] = {
    {"{\"programs\": [", CAB_ERR_INVALID_JSON, ""},
    {"[]", CAB_ERR_INVALID_CONFIG, ""},
    {"{\"programs\": [], \"programs\": []}", CAB_ERR_INVALID_JSON, ""},
    {"{}", CAB_ERR_INVALID_CONFIG, "/programs"},
    {"{\"programs\": {}}", CAB_ERR_INVALID_CONFIG, "/programs"},
    {"{\"programs\": [], \"colour\": 1}", CAB_ERR_INVALID_CONFIG, "/colour"},
    {"{\"programs\": [], \"log_dir\": 7}", CAB_ERR_INVALID_CONFIG, "/log_dir"},
    {"{\"programs\": [], \"log\": {\"max_bytes\": 10}}", CAB_ERR_INVALID_CONFIG, "/log/max_bytes"},
    {"{\"programs\": [], \"log\": {\"keep\": -1}}", CAB_ERR_INVALID_CONFIG, "/log/keep"},
    {"{\"programs\": [], \"log\": {\"size\": 1}}", CAB_ERR_INVALID_CONFIG, "/log/size"},
    {"{\"programs\": [], \"broker\": {}}", CAB_ERR_INVALID_CONFIG, "/broker/endpoint"},
    {"{\"programs\": [], \"broker\": {\"endpoint\": \"udp://x\"}}", CAB_ERR_INVALID_CONFIG,
     "/broker/endpoint"},
    {"{\"programs\": [], \"broker\": {\"endpoint\": \"ipc://x\", \"agent_id\": \"a b\"}}",
     CAB_ERR_INVALID_CONFIG, "/broker/agent_id"},
    {"{\"programs\": [7]}", CAB_ERR_INVALID_CONFIG, "/programs/0"},
    {"{\"programs\": [{\"command\": [\"x\"]}]}", CAB_ERR_INVALID_CONFIG, "/programs/0/name"},
    {"{\"programs\": [{\"name\": \"-a\", \"command\": [\"x\"]}]}", CAB_ERR_INVALID_CONFIG,
     "/programs/0/name"},
    {"{\"programs\": [{\"name\": \"a\"}]}", CAB_ERR_INVALID_CONFIG, "/programs/0/command"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": []}]}", CAB_ERR_INVALID_CONFIG,
     "/programs/0/command"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": \"x -v\"}]}", CAB_ERR_INVALID_CONFIG,
     "/programs/0/command"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\", 1]}]}", CAB_ERR_INVALID_CONFIG,
     "/programs/0/command/1"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"user\": \"root\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/user"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"restart\": \"sometimes\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/restart"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"restart\": true}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/restart"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"instances\": 0}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/instances"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"instances\": 1e9}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/instances"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"instances\": \"2\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/instances"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"autostart\": \"yes\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/autostart"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"environment\": []}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/environment"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"environment\": {\"A\": 1}}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/environment/A"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"environment\": {\"A=B\": \"1\"}}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/environment/A=B"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"backoff\": {\"initial\": 0.1}}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/backoff/initial"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"backoff\": {\"initial\": 5, "
     "\"maximum\": 2}}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/backoff/maximum"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"backoff\": {\"factor\": 3}}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/backoff/factor"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"start_secs\": -1}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/start_secs"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"start_secs\": 1e300}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/start_secs"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"start_limit_burst\": 0}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/start_limit_burst"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"start_limit_interval\": 0}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/start_limit_interval"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"notify_fd\": 1}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/notify_fd"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"stop_signal\": \"STOP\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/stop_signal"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"stop_timeout\": 0}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/stop_timeout"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"directory\": \"\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/directory"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"]}, {\"name\": \"a\", \"command\": "
     "[\"y\"]}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/1/name"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"depends_on\": [\"b\"]}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/depends_on/0"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"depends_on\": \"b\"}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/depends_on"},
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"depends_on\": [\"a\"]}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/0/depends_on/0"},
    //  a -> b -> c -> a: the edge that closes the cycle is named
    {"{\"programs\": [{\"name\": \"a\", \"command\": [\"x\"], \"depends_on\": [\"b\"]},"
     " {\"name\": \"b\", \"command\": [\"x\"], \"depends_on\": [\"c\"]},"
     " {\"name\": \"c\", \"command\": [\"x\"], \"depends_on\": [\"d\", \"a\"]},"
     " {\"name\": \"d\", \"command\": [\"x\"]}]}",
     CAB_ERR_INVALID_CONFIG, "/programs/2/depends_on/1"},
};

START_TEST (test_bad)
{
    cab_error_t error;
    cab_supervisor_config_t *config = s_parse (s_bad[_i].text, &error);
    ck_assert_msg (!config, "accepted: %s", s_bad[_i].text);
    ck_assert_msg (error.code == s_bad[_i].code && strcmp (error.path, s_bad[_i].path) == 0,
                   "%s\n  gave %s at '%s' (%s), want %s at '%s'", s_bad[_i].text,
                   cab_status_name (error.code), error.path, error.text,
                   cab_status_name (s_bad[_i].code), s_bad[_i].path);
    ck_assert_str_ne (error.text, "");
}
END_TEST

START_TEST (test_load)
{
    char dir[] = "/tmp/cab-supcfg-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    char path[128];
    snprintf (path, sizeof path, "%s/s.json", dir);
    FILE *file = fopen (path, "w");
    fputs ("{\"log_dir\": \"logs\", \"programs\": []}", file);
    fclose (file);
    cab_error_t error;
    cab_supervisor_config_t *config = cab_supervisor_config_load (path, &error);
    ck_assert_ptr_nonnull (config);
    char want[160];
    snprintf (want, sizeof want, "%s/logs", dir);
    ck_assert_str_eq (config->log_dir, want);
    cab_supervisor_config_destroy (&config);
    unlink (path);
    ck_assert_ptr_null (cab_supervisor_config_load (path, &error));
    ck_assert_int_eq (error.code, CAB_ERR_IO);
    rmdir (dir);
}
END_TEST

START_TEST (test_logfile_rotation)
{
    char dir[] = "/tmp/cab-suplog-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    cab_error_t error;
    cab_logfile_t *log = cab_logfile_new (dir, "p", 1024, 2, &error);
    ck_assert_ptr_nonnull (log);
    char line[100];
    memset (line, 'x', sizeof line);
    for (int index = 0; index < 40; index++)  //  4000 bytes: rotates 3 times, keeps 2
        ck_assert_int_eq (cab_logfile_write (log, line, sizeof line), CAB_OK);
    ck_assert_int_le (cab_logfile_size (log), 1024);
    cab_logfile_destroy (&log);
    ck_assert_ptr_null (log);
    char path[160];
    struct stat info;
    const char *names[] = {"p.log", "p.log.1", "p.log.2"};
    for (int index = 0; index < 3; index++) {
        snprintf (path, sizeof path, "%s/%s", dir, names[index]);
        ck_assert_int_eq (stat (path, &info), 0);
        ck_assert_int_le (info.st_size, 1024);
        if (index > 0)
            ck_assert_int_eq (info.st_size, 1000);
        unlink (path);
    }
    snprintf (path, sizeof path, "%s/p.log.3", dir);
    ck_assert_int_ne (stat (path, &info), 0);
    ck_assert_int_eq (rmdir (dir), 0);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_supervisor_config");
    TCase *tcase = tcase_create ("config");
    tcase_add_test (tcase, test_defaults);
    tcase_add_test (tcase, test_normalized_ignores_spelling);
    tcase_add_loop_test (tcase, test_bad, 0, (int)(sizeof s_bad / sizeof s_bad[0]));
    tcase_add_test (tcase, test_load);
    tcase_add_test (tcase, test_logfile_rotation);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
