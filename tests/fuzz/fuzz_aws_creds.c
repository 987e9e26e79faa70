/*  =========================================================================
    fuzz_aws_creds - the AWS shared credentials and config files
    (cab_aws_creds, core/daemon) as the mirror reads them.

    The input is split at the first "\n====\n": the credentials file, then
    the config file; a first line "#profile NAME" selects AWS_PROFILE (the
    parser skips it as a comment). Both are written to a temporary
    directory (one per input) the environment points at; the environment holds no keys and
    the container and instance metadata sources are off, so nothing leaves
    the process.

    Oracles: credentials are found in one of the files (with both keys,
    terminated) or not found, or the file is refused as InvalidConfig;
    never a network error; the region and the endpoint come back
    terminated, within their buffers.
    =========================================================================
*/
#include "fuzz.h"
#include "cab_aws_creds.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char s_dir[64];
static char s_credentials[128], s_config[128];

//  A directory of its own for each input, gone when the input is done
//  (libFuzzer ends a timed run without running atexit handlers).
static void
s_make_dir (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/cab-fuzz-aws-XXXXXX");
    if (!mkdtemp (s_dir))
        abort ();
    snprintf (s_credentials, sizeof s_credentials, "%s/credentials", s_dir);
    snprintf (s_config, sizeof s_config, "%s/config", s_dir);
    setenv ("AWS_SHARED_CREDENTIALS_FILE", s_credentials, 1);
    setenv ("AWS_CONFIG_FILE", s_config, 1);
}

static void
s_remove_dir (void)
{
    unlink (s_credentials);
    unlink (s_config);
    rmdir (s_dir);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const char *const cleared[] = {"AWS_ACCESS_KEY_ID",
                                          "AWS_SECRET_ACCESS_KEY",
                                          "AWS_SESSION_TOKEN",
                                          "AWS_PROFILE",
                                          "AWS_REGION",
                                          "AWS_DEFAULT_REGION",
                                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                                          "AWS_ENDPOINT_URL_EVENTBRIDGE",
                                          "AWS_ENDPOINT_URL",
                                          NULL};
    for (const char *const *name = cleared; *name; name++)
        unsetenv (*name);
    setenv ("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", 1);
    return 0;
}

static void
s_write (const char *path, const uint8_t *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    if (!file)
        abort ();
    if (size && fwrite (data, 1, size, file) != size)
        abort ();
    fclose (file);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *split = NULL;
    for (size_t at = 0; at + 6 <= size && !split; at++)
        if (memcmp (data + at, "\n====\n", 6) == 0)
            split = data + at;
    size_t first = split ? (size_t)(split - data) : size;
    s_make_dir ();
    s_write (s_credentials, data, first);
    if (split)
        s_write (s_config, split + 6, size - first - 6);
    unsetenv ("AWS_PROFILE");
    if (size > 9 && memcmp (data, "#profile ", 9) == 0) {
        char profile[65];
        size_t length = 0;
        while (9 + length < size && length < 64 && data[9 + length] != '\n' &&
               data[9 + length] != 0)
            length++;
        memcpy (profile, data + 9, length);
        profile[length] = 0;
        if (length)
            setenv ("AWS_PROFILE", profile, 1);
    }
    cab_error_t error;
    cab_error_clear (&error);
    cab_aws_creds_t *creds = cab_aws_creds_new (&error);
    if (!creds) {
        s_remove_dir ();
        return 0;
    }
    cab_aws_credentials_t found;
    memset (&found, 0x5a, sizeof found);
    cab_status_t status = cab_aws_creds_get (creds, 1794825000, &found, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_NOT_FOUND ||
                 status == CAB_ERR_INVALID_CONFIG || status == CAB_ERR_NOMEM);
    if (status == CAB_OK) {
        FUZZ_ASSERT (memchr (found.access_key_id, 0, sizeof found.access_key_id));
        FUZZ_ASSERT (memchr (found.secret_access_key, 0, sizeof found.secret_access_key));
        FUZZ_ASSERT (memchr (found.session_token, 0, sizeof found.session_token));
        //  An empty value ("aws_secret_access_key =") is no credential
        //  (docs/robustness.md, finding 10; corpus/aws_creds/regress-empty-secret).
        FUZZ_ASSERT (found.access_key_id[0] && found.secret_access_key[0]);
        FUZZ_ASSERT (strcmp (found.source, "shared-credentials-file") == 0 ||
                     strcmp (found.source, "shared-config-file") == 0);
        FUZZ_ASSERT (found.expiration == 0);
        //  Cached: the same again, without reading.
        cab_aws_credentials_t again;
        FUZZ_ASSERT (cab_aws_creds_get (creds, 1794825001, &again, &error) == CAB_OK);
        FUZZ_ASSERT (strcmp (again.access_key_id, found.access_key_id) == 0);
        FUZZ_ASSERT (cab_aws_creds_resolutions (creds) == 1);
    }
    cab_aws_creds_destroy (&creds);
    FUZZ_ASSERT (creds == NULL);
    char region[32], endpoint[96];
    memset (region, 0x5a, sizeof region);
    status = cab_aws_region (region, sizeof region, &error);
    FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_NOT_FOUND || status == CAB_ERR_TOO_LARGE ||
                 status == CAB_ERR_INVALID_CONFIG);
    FUZZ_ASSERT (memchr (region, 0, sizeof region));
    if (status == CAB_OK) {
        memset (endpoint, 0x5a, sizeof endpoint);
        status = cab_aws_endpoint (region, endpoint, sizeof endpoint, &error);
        FUZZ_ASSERT (status == CAB_OK || status == CAB_ERR_INVALID_ARGUMENT ||
                     status == CAB_ERR_TOO_LARGE);
        FUZZ_ASSERT (memchr (endpoint, 0, sizeof endpoint));
    }
    s_remove_dir ();
    return 0;
}
