/*  =========================================================================
    test_cab_aws_creds - credentials, region and endpoint as the SDKs find them

    The metadata tests run tests/fake_aws/eventbridge.py in its imds and
    container modes on a free port of 127.0.0.1.
    =========================================================================
*/
#include "cab_aws_creds.h"
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char s_home[256];

static void
s_write (const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", s_home, name);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fputs (text, file);
    fclose (file);
}

//  A clean AWS environment with HOME in a new temporary directory.
static void
s_setup (void)
{
    const char *names[] = {"AWS_ACCESS_KEY_ID",
                           "AWS_SECRET_ACCESS_KEY",
                           "AWS_SESSION_TOKEN",
                           "AWS_PROFILE",
                           "AWS_REGION",
                           "AWS_DEFAULT_REGION",
                           "AWS_CONFIG_FILE",
                           "AWS_SHARED_CREDENTIALS_FILE",
                           "AWS_ENDPOINT_URL",
                           "AWS_ENDPOINT_URL_EVENTBRIDGE",
                           "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                           "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                           "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                           "AWS_EC2_METADATA_SERVICE_ENDPOINT"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv (names[i]);
    setenv ("AWS_EC2_METADATA_DISABLED", "true", 1);
    snprintf (s_home, sizeof s_home, "/tmp/cab-creds-XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_home));
    char aws[300];
    snprintf (aws, sizeof aws, "%s/.aws", s_home);
    ck_assert_int_eq (mkdir (aws, 0700), 0);
    setenv ("HOME", s_home, 1);
}

static void
s_teardown (void)
{
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", s_home);
    ck_assert_int_eq (system (command), 0);
}

static cab_status_t
s_get (cab_aws_credentials_t *c)
{
    cab_aws_creds_t *creds = cab_aws_creds_new (NULL);
    cab_status_t status = cab_aws_creds_get (creds, 0, c, NULL);
    cab_aws_creds_destroy (&creds);
    ck_assert_ptr_null (creds);
    return status;
}

START_TEST (test_nothing_found)
{
    cab_aws_credentials_t c;
    cab_aws_creds_t *creds = cab_aws_creds_new (NULL);
    cab_error_t error;
    ck_assert_int_eq (cab_aws_creds_get (creds, 0, &c, &error), CAB_ERR_NOT_FOUND);
    ck_assert_int_eq (error.code, CAB_ERR_NOT_FOUND);
    cab_aws_creds_destroy (&creds);
    cab_aws_creds_destroy (&creds);
    char region[32];
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_ERR_NOT_FOUND);
    ck_assert_str_eq (region, "");
}
END_TEST

START_TEST (test_environment_first)
{
    s_write (".aws/credentials", "[default]\naws_access_key_id = FILEKEY\n"
                                 "aws_secret_access_key = filesecret\n");
    setenv ("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv ("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv ("AWS_SESSION_TOKEN", "envtoken", 1);
    cab_aws_credentials_t c;
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "ENVKEY");
    ck_assert_str_eq (c.secret_access_key, "envsecret");
    ck_assert_str_eq (c.session_token, "envtoken");
    ck_assert_str_eq (c.source, "environment");
    ck_assert_int_eq (c.expiration, 0);
    //  A key without its secret is not a credential: the file wins.
    unsetenv ("AWS_SECRET_ACCESS_KEY");
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "FILEKEY");
    ck_assert_str_eq (c.session_token, "");
}
END_TEST

START_TEST (test_shared_files_profiles)
{
    s_write (".aws/credentials", "# comment\n[default]\naws_access_key_id = DEFKEY\n"
                                 "aws_secret_access_key = defsecret\n\n"
                                 "[dev]\r\naws_access_key_id=DEVKEY\r\n"
                                 "  aws_secret_access_key =  devsecret  \r\n"
                                 "aws_session_token = devtoken\r\n");
    s_write (".aws/config", "[default]\nregion = eu-west-1\n"
                            "[profile dev]\nregion = sa-east-1\n"
                            "[profile cfg]\nregion = ap-south-1\naws_access_key_id = CFGKEY\n"
                            "aws_secret_access_key = cfgsecret\n");
    cab_aws_credentials_t c;
    char region[32];
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "DEFKEY");
    ck_assert_str_eq (c.source, "shared-credentials-file");
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_OK);
    ck_assert_str_eq (region, "eu-west-1");

    setenv ("AWS_PROFILE", "dev", 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "DEVKEY");
    ck_assert_str_eq (c.secret_access_key, "devsecret");
    ck_assert_str_eq (c.session_token, "devtoken");
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_OK);
    ck_assert_str_eq (region, "sa-east-1");

    //  Credentials only in the config file's [profile cfg].
    setenv ("AWS_PROFILE", "cfg", 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "CFGKEY");
    ck_assert_str_eq (c.source, "shared-config-file");

    setenv ("AWS_PROFILE", "nobody", 1);
    ck_assert_int_eq (s_get (&c), CAB_ERR_NOT_FOUND);

    //  An empty key or secret is no credential (the chain goes on).
    s_write (".aws/credentials", "[blank]\naws_access_key_id = BLANKKEY\n"
                                 "aws_secret_access_key =\n");
    setenv ("AWS_PROFILE", "blank", 1);
    ck_assert_int_eq (s_get (&c), CAB_ERR_NOT_FOUND);
    setenv ("AWS_PROFILE", "nobody", 1);

    //  AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE move the files.
    s_write ("other-credentials", "[nobody]\naws_access_key_id = OTHERKEY\n"
                                  "aws_secret_access_key = othersecret\n");
    s_write ("other-config", "[profile nobody]\nregion = us-west-2\n");
    char path[512];
    snprintf (path, sizeof path, "%s/other-credentials", s_home);
    setenv ("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    snprintf (path, sizeof path, "%s/other-config", s_home);
    setenv ("AWS_CONFIG_FILE", path, 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "OTHERKEY");
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_OK);
    ck_assert_str_eq (region, "us-west-2");
}
END_TEST

START_TEST (test_region_and_endpoint)
{
    s_write (".aws/config", "[default]\nregion = eu-west-1\n");
    char region[32], url[128], tiny[4];
    setenv ("AWS_DEFAULT_REGION", "us-east-2", 1);
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_OK);
    ck_assert_str_eq (region, "us-east-2");
    setenv ("AWS_REGION", "sa-east-1", 1);
    ck_assert_int_eq (cab_aws_region (region, sizeof region, NULL), CAB_OK);
    ck_assert_str_eq (region, "sa-east-1");
    ck_assert_int_eq (cab_aws_region (tiny, sizeof tiny, NULL), CAB_ERR_TOO_LARGE);

    ck_assert_int_eq (cab_aws_endpoint ("sa-east-1", url, sizeof url, NULL), CAB_OK);
    ck_assert_str_eq (url, "https://events.sa-east-1.amazonaws.com");
    ck_assert_int_eq (cab_aws_endpoint ("cn-north-1", url, sizeof url, NULL), CAB_OK);
    ck_assert_str_eq (url, "https://events.cn-north-1.amazonaws.com.cn");
    ck_assert_int_eq (cab_aws_endpoint ("", url, sizeof url, NULL), CAB_ERR_INVALID_ARGUMENT);
    setenv ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/", 1);
    ck_assert_int_eq (cab_aws_endpoint ("sa-east-1", url, sizeof url, NULL), CAB_OK);
    ck_assert_str_eq (url, "http://127.0.0.1:4566");
    setenv ("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://localhost:9999", 1);
    ck_assert_int_eq (cab_aws_endpoint (NULL, url, sizeof url, NULL), CAB_OK);
    ck_assert_str_eq (url, "http://localhost:9999");
    ck_assert_int_eq (cab_aws_endpoint (NULL, tiny, sizeof tiny, NULL), CAB_ERR_TOO_LARGE);
    setenv ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
    ck_assert_int_eq (cab_aws_endpoint ("sa-east-1", url, sizeof url, NULL), CAB_OK);
    ck_assert_str_eq (url, "https://events.sa-east-1.amazonaws.com");
}
END_TEST

//  Start the fake in a metadata mode; returns its pid and sets *port.
static pid_t
s_start_fake (const char *mode, const char *extra, const char *extra_value, int *port)
{
    const char *srcdir = getenv ("CAB_SRCDIR");
    const char *python = getenv ("PYTHON3");
    ck_assert_msg (srcdir != NULL, "CAB_SRCDIR is not set (run through make check)");
    char script[512], port_file[300];
    snprintf (script, sizeof script, "%s/tests/fake_aws/eventbridge.py", srcdir);
    snprintf (port_file, sizeof port_file, "%s/port", s_home);
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        freopen ("/dev/null", "w", stdout);
        execl (python ? python : "/usr/bin/python3", "python3", script, "--mode", mode,
               "--port-file", port_file, "--access-key", "ASIAMETA", "--secret-key", "metasecret",
               "--session-token", "metatoken", "--expires-in", "400", extra ? extra : NULL,
               extra_value, (char *)NULL);
        _exit (127);
    }
    *port = 0;
    for (int tries = 0; tries < 200 && *port == 0; tries++) {
        FILE *file = fopen (port_file, "r");
        if (file) {
            if (fscanf (file, "%d", port) != 1)
                *port = 0;
            fclose (file);
        }
        if (*port == 0)
            usleep (25000);
    }
    ck_assert_int_gt (*port, 0);
    return pid;
}

static void
s_stop_fake (pid_t pid)
{
    kill (pid, SIGTERM);
    waitpid (pid, NULL, 0);
}

START_TEST (test_imds_v2_and_refresh)
{
    int port;
    pid_t pid = s_start_fake ("imds", NULL, NULL, &port);
    char url[64];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/", port);
    setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
    cab_aws_creds_t *creds = cab_aws_creds_new (NULL);
    cab_aws_credentials_t c;
    //  Disabled: IMDS is not asked.
    ck_assert_int_eq (cab_aws_creds_get (creds, 0, &c, NULL), CAB_ERR_NOT_FOUND);
    unsetenv ("AWS_EC2_METADATA_DISABLED");
    cab_error_t error;
    ck_assert_int_eq (cab_aws_creds_get (creds, 0, &c, &error), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "ASIAMETA");
    ck_assert_str_eq (c.secret_access_key, "metasecret");
    ck_assert_str_eq (c.session_token, "metatoken");
    ck_assert_str_eq (c.source, "imds");
    int64_t now = (int64_t)time (NULL);
    ck_assert_int_ge (c.expiration, now + 390);
    ck_assert_int_le (c.expiration, now + 410);
    size_t walks = cab_aws_creds_resolutions (creds);
    //  Well before expiry: cached.
    ck_assert_int_eq (cab_aws_creds_get (creds, now + 10, &c, NULL), CAB_OK);
    ck_assert_uint_eq (cab_aws_creds_resolutions (creds), walks);
    //  Within 5 minutes of expiry: refreshed.
    ck_assert_int_eq (cab_aws_creds_get (creds, now + 200, &c, NULL), CAB_OK);
    ck_assert_uint_eq (cab_aws_creds_resolutions (creds), walks + 1);
    //  The endpoint gone: old credentials kept until they expire, then an error.
    s_stop_fake (pid);
    int64_t expiration = c.expiration;
    ck_assert_int_eq (cab_aws_creds_get (creds, expiration - 100, &c, NULL), CAB_OK);
    ck_assert_str_eq (c.access_key_id, "ASIAMETA");
    ck_assert_int_ne (cab_aws_creds_get (creds, expiration + 1, &c, &error), CAB_OK);
    cab_aws_creds_destroy (&creds);
}
END_TEST

START_TEST (test_container)
{
    int port;
    pid_t pid = s_start_fake ("container", "--auth-token", "Bearer s3cr3t", &port);
    char url[96];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v2/credentials/abc", port);
    setenv ("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
    cab_aws_credentials_t c;
    //  Without the authorization token the endpoint refuses.
    ck_assert_int_ne (s_get (&c), CAB_OK);
    setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer s3cr3t", 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.source, "container");
    ck_assert_str_eq (c.session_token, "metatoken");
    //  The token file wins over the variable.
    s_write ("token", "Bearer s3cr3t\n");
    char path[512];
    snprintf (path, sizeof path, "%s/token", s_home);
    setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong", 1);
    setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    //  A token that would add a header line is refused, not sent.
    unsetenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer s3cr3t\r\nX-Injected: 1", 1);
    ck_assert_int_eq (s_get (&c), CAB_ERR_INVALID_CONFIG);
    setenv ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
    //  Environment keys come before the container.
    setenv ("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv ("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    ck_assert_int_eq (s_get (&c), CAB_OK);
    ck_assert_str_eq (c.source, "environment");
    s_stop_fake (pid);
}
END_TEST

int
main (void)
{
    Suite *suite = suite_create ("cab_aws_creds");
    TCase *tcase = tcase_create ("core");
    tcase_add_checked_fixture (tcase, s_setup, s_teardown);
    tcase_add_test (tcase, test_nothing_found);
    tcase_add_test (tcase, test_environment_first);
    tcase_add_test (tcase, test_shared_files_profiles);
    tcase_add_test (tcase, test_region_and_endpoint);
    tcase_add_test (tcase, test_imds_v2_and_refresh);
    tcase_add_test (tcase, test_container);
    suite_add_tcase (suite, tcase);
    SRunner *runner = srunner_create (suite);
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed ? 1 : 0;
}
