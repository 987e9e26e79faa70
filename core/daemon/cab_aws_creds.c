/*  =========================================================================
    cab_aws_creds - AWS credentials, region and endpoint, as the SDKs find them
    =========================================================================
*/
#include "cab_aws_creds.h"
#include "cab_lines.h"
#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_FILE_LIMIT     (1024 * 1024)  //  shared files
#define S_HTTP_LIMIT     (64 * 1024)    //  metadata answers
#define S_HTTP_TIMEOUT   2000L          //  ms, whole metadata request
#define S_IMDS_TOKEN_TTL "21600"

struct _cab_aws_creds_t {
    cab_aws_credentials_t cached;
    bool have;
    size_t resolutions;
};

cab_aws_creds_t *
cab_aws_creds_new (cab_error_t *error)
{
    cab_aws_creds_t *self = calloc (1, sizeof *self);
    if (!self)
        cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    return self;
}

void
cab_aws_creds_destroy (cab_aws_creds_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_aws_creds_t *self = *self_p;
    memset (self, 0, sizeof *self);
    free (self);
    *self_p = NULL;
}

static const char *
s_env (const char *name)
{
    const char *value = getenv (name);
    return value && *value ? value : NULL;
}

static bool
s_env_true (const char *name)
{
    const char *value = s_env (name);
    return value && strcasecmp (value, "true") == 0;
}

static bool
s_set (char *to, size_t size, const char *from, size_t length)
{
    if (length >= size)
        return false;
    memcpy (to, from, length);
    to[length] = 0;
    return true;
}

static bool
s_set_str (char *to, size_t size, const char *from)
{
    return s_set (to, size, from, strlen (from));
}

//  ---------------------------------------------------------------------
//  Shared files: INI with [section] and key = value lines.

static char *
s_trim (char *text)
{
    while (isspace ((unsigned char)*text))
        text++;
    size_t length = strlen (text);
    while (length > 0 && isspace ((unsigned char)text[length - 1]))
        text[--length] = 0;
    return text;
}

//  Calls fn for each key/value of section `wanted` in the file at path.
//  Returns CAB_ERR_NOT_FOUND when the file does not exist.
typedef void (s_ini_fn) (void *arg, const char *key, const char *value);

static cab_status_t
s_ini_section (const char *path, const char *wanted, s_ini_fn *fn, void *arg, bool *found_p,
               cab_error_t *error)
{
    *found_p = false;
    cab_error_t local;
    char *text = cab_file_read (path, S_FILE_LIMIT, NULL, &local);
    if (!text) {
        if (local.code == CAB_ERR_TOO_LARGE)
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL, "%s: too large", path);
        return CAB_ERR_NOT_FOUND;
    }
    bool inside = false;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char *at = s_trim (line);
        if (*at == '#' || *at == ';' || *at == 0)
            continue;
        if (*at == '[') {
            char *end = strchr (at, ']');
            if (!end)
                continue;
            *end = 0;
            char *name = s_trim (at + 1);
            inside = strcmp (name, wanted) == 0;
            if (inside)
                *found_p = true;
            continue;
        }
        char *equals = strchr (at, '=');
        if (!inside || !equals)
            continue;
        *equals = 0;
        fn (arg, s_trim (at), s_trim (equals + 1));
    }
    free (text);
    return CAB_OK;
}

typedef struct {
    cab_aws_credentials_t *credentials;
    bool key, secret;
    char *region;
    size_t region_size;
} s_ini_state_t;

static void
s_ini_credentials (void *arg, const char *key, const char *value)
{
    s_ini_state_t *state = arg;
    cab_aws_credentials_t *c = state->credentials;
    //  An empty key or secret is no credential (as the AWS SDKs treat it).
    if (strcmp (key, "aws_access_key_id") == 0)
        state->key = *value && s_set_str (c->access_key_id, sizeof c->access_key_id, value);
    else if (strcmp (key, "aws_secret_access_key") == 0)
        state->secret =
            *value && s_set_str (c->secret_access_key, sizeof c->secret_access_key, value);
    else if (strcmp (key, "aws_session_token") == 0)
        s_set_str (c->session_token, sizeof c->session_token, value);
    else if (strcmp (key, "region") == 0 && state->region)
        s_set_str (state->region, state->region_size, value);
}

static void
s_path (char *buffer, size_t size, const char *env, const char *name)
{
    const char *value = s_env (env);
    const char *home = s_env ("HOME");
    if (value)
        snprintf (buffer, size, "%s", value);
    else
        snprintf (buffer, size, "%s/.aws/%s", home ? home : "", name);
}

static const char *
s_profile (void)
{
    const char *profile = s_env ("AWS_PROFILE");
    return profile ? profile : "default";
}

//  Read the config file's profile section through fn.
static cab_status_t
s_config_section (s_ini_fn *fn, void *arg, bool *found_p, cab_error_t *error)
{
    char path[4096], section[300];
    s_path (path, sizeof path, "AWS_CONFIG_FILE", "config");
    const char *profile = s_profile ();
    if (strcmp (profile, "default") == 0)
        snprintf (section, sizeof section, "default");
    else
        snprintf (section, sizeof section, "profile %s", profile);
    return s_ini_section (path, section, fn, arg, found_p, error);
}

static cab_status_t
s_from_files (cab_aws_credentials_t *c, cab_error_t *error)
{
    char path[4096];
    s_path (path, sizeof path, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
    s_ini_state_t state = {c, false, false, NULL, 0};
    bool found;
    cab_status_t status =
        s_ini_section (path, s_profile (), s_ini_credentials, &state, &found, error);
    if (status == CAB_OK && state.key && state.secret) {
        s_set_str (c->source, sizeof c->source, "shared-credentials-file");
        return CAB_OK;
    }
    if (status != CAB_OK && status != CAB_ERR_NOT_FOUND)
        return status;
    memset (c, 0, sizeof *c);
    state = (s_ini_state_t){c, false, false, NULL, 0};
    status = s_config_section (s_ini_credentials, &state, &found, error);
    if (status == CAB_OK && state.key && state.secret) {
        s_set_str (c->source, sizeof c->source, "shared-config-file");
        return CAB_OK;
    }
    memset (c, 0, sizeof *c);
    return status == CAB_OK || status == CAB_ERR_NOT_FOUND ? CAB_ERR_NOT_FOUND : status;
}

//  ---------------------------------------------------------------------
//  Metadata endpoints (container, IMDS): small bounded HTTP requests.

typedef struct {
    char *data;
    size_t length;
} s_buffer_t;

static size_t
s_write (char *ptr, size_t size, size_t count, void *arg)
{
    s_buffer_t *buffer = arg;
    size_t bytes = size * count;
    if (buffer->length + bytes > S_HTTP_LIMIT)
        return 0;  //  over the bound: curl reports a write error
    memcpy (buffer->data + buffer->length, ptr, bytes);
    buffer->length += bytes;
    buffer->data[buffer->length] = 0;
    return bytes;
}

//  Perform one request; on success returns CAB_OK with the HTTP status in
//  *code_p and the body in buffer (NUL-terminated).
static cab_status_t
s_http (const char *method, const char *url, const char *header1, const char *header2,
        s_buffer_t *buffer, long *code_p, cab_error_t *error)
{
    CURL *curl = curl_easy_init ();
    if (!curl)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    struct curl_slist *headers = NULL, *more;
    if (header1 && (more = curl_slist_append (headers, header1)))
        headers = more;
    if (header2 && (more = curl_slist_append (headers, header2)))
        headers = more;
    buffer->length = 0;
    buffer->data[0] = 0;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp (method, "PUT") == 0) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, buffer);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, S_HTTP_TIMEOUT);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform (curl);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, code_p);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return cab_error_set (error, CAB_ERR_TIMEOUT, NULL, "%s: timed out", url);
    if (rc != CURLE_OK)
        return cab_error_set (error, CAB_ERR_IO, NULL, "%s: %s", url, curl_easy_strerror (rc));
    return CAB_OK;
}

//  Parse {"AccessKeyId","SecretAccessKey","Token","Expiration"}.
static cab_status_t
s_parse_temporary (const char *text, const char *source, cab_aws_credentials_t *c,
                   cab_error_t *error)
{
    json_t *root = json_loads (text, 0, NULL);
    const char *key = json_string_value (json_object_get (root, "AccessKeyId"));
    const char *secret = json_string_value (json_object_get (root, "SecretAccessKey"));
    const char *token = json_string_value (json_object_get (root, "Token"));
    const char *expiration = json_string_value (json_object_get (root, "Expiration"));
    int64_t millis = 0;
    bool ok = key && secret && s_set_str (c->access_key_id, sizeof c->access_key_id, key) &&
              s_set_str (c->secret_access_key, sizeof c->secret_access_key, secret) &&
              (!token || s_set_str (c->session_token, sizeof c->session_token, token)) &&
              (!expiration || cab_time_parse (expiration, &millis) == CAB_OK);
    json_decref (root);
    if (!ok) {
        memset (c, 0, sizeof *c);
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                              "%s credentials: malformed answer", source);
    }
    c->expiration = millis / 1000;
    s_set_str (c->source, sizeof c->source, source);
    return CAB_OK;
}

static cab_status_t
s_from_container (cab_aws_credentials_t *c, s_buffer_t *buffer, cab_error_t *error)
{
    const char *relative = s_env ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = s_env ("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[2048];
    if (relative)
        snprintf (url, sizeof url, "http://169.254.170.2%s", relative);
    else if (full)
        snprintf (url, sizeof url, "%s", full);
    else
        return CAB_ERR_NOT_FOUND;
    char header[2200] = "";
    const char *token_file = s_env ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *token = s_env ("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *file_token = NULL;
    if (token_file) {
        file_token = cab_file_read (token_file, 4096, NULL, NULL);
        if (!file_token)
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                                  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: cannot read %s",
                                  token_file);
        token = s_trim (file_token);
    }
    //  A token with a control character would inject a header: refused.
    for (const char *at = token; at && *at; at++)
        if ((unsigned char)*at < 0x20 || *at == 0x7f) {
            free (file_token);
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                                  "AWS_CONTAINER_AUTHORIZATION_TOKEN: a control character "
                                  "in the token");
        }
    if (token)
        snprintf (header, sizeof header, "Authorization: %s", token);
    free (file_token);
    long code = 0;
    cab_status_t status = s_http ("GET", url, *header ? header : NULL, NULL, buffer, &code, error);
    if (status != CAB_OK)
        return status;
    if (code != 200)
        return cab_error_set (error, CAB_ERR_IO, NULL, "container credentials: HTTP %ld", code);
    return s_parse_temporary (buffer->data, "container", c, error);
}

static cab_status_t
s_from_imds (cab_aws_credentials_t *c, s_buffer_t *buffer, cab_error_t *error)
{
    if (s_env_true ("AWS_EC2_METADATA_DISABLED"))
        return CAB_ERR_NOT_FOUND;
    const char *base = s_env ("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base)
        base = "http://169.254.169.254";
    size_t base_length = strlen (base);
    while (base_length > 0 && base[base_length - 1] == '/')
        base_length--;
    char url[2048], header[1200];
    long code = 0;
    snprintf (url, sizeof url, "%.*s/latest/api/token", (int)base_length, base);
    cab_status_t status =
        s_http ("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: " S_IMDS_TOKEN_TTL, NULL, buffer,
                &code, error);
    //  No IMDSv2 answering here (not on EC2, or metadata blocked): no
    //  credentials from it, as the AWS SDKs do; the chain ends.
    if (status != CAB_OK && status != CAB_ERR_NOMEM) {
        char reason[CAB_ERROR_TEXT_MAX];
        snprintf (reason, sizeof reason, "%s", error ? error->text : "");
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "IMDS: %.400s", reason);
    }
    if (status != CAB_OK)
        return status;
    if (code != 200)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "IMDSv2 token: HTTP %ld", code);
    if (buffer->length == 0 || buffer->length > 1000)
        return cab_error_set (error, CAB_ERR_IO, NULL, "IMDSv2 token: HTTP %ld", code);
    snprintf (header, sizeof header, "X-aws-ec2-metadata-token: %s", s_trim (buffer->data));
    snprintf (url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)base_length,
              base);
    status = s_http ("GET", url, header, NULL, buffer, &code, error);
    if (status != CAB_OK)
        return status;
    if (code == 404)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "IMDS: no instance role");
    char role[256];
    char *first = s_trim (buffer->data);
    first[strcspn (first, "\r\n")] = 0;
    if (code != 200 || !*first || !s_set_str (role, sizeof role, first) || strchr (role, '/'))
        return cab_error_set (error, CAB_ERR_IO, NULL, "IMDS role: HTTP %ld", code);
    snprintf (url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s",
              (int)base_length, base, role);
    status = s_http ("GET", url, header, NULL, buffer, &code, error);
    if (status != CAB_OK)
        return status;
    if (code != 200)
        return cab_error_set (error, CAB_ERR_IO, NULL, "IMDS credentials: HTTP %ld", code);
    return s_parse_temporary (buffer->data, "imds", c, error);
}

static cab_status_t
s_resolve (cab_aws_credentials_t *c, cab_error_t *error)
{
    memset (c, 0, sizeof *c);
    const char *key = s_env ("AWS_ACCESS_KEY_ID");
    const char *secret = s_env ("AWS_SECRET_ACCESS_KEY");
    const char *token = s_env ("AWS_SESSION_TOKEN");
    if (key && secret) {
        if (!s_set_str (c->access_key_id, sizeof c->access_key_id, key) ||
            !s_set_str (c->secret_access_key, sizeof c->secret_access_key, secret) ||
            (token && !s_set_str (c->session_token, sizeof c->session_token, token)))
            return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL,
                                  "AWS credentials in the environment are too long");
        s_set_str (c->source, sizeof c->source, "environment");
        return CAB_OK;
    }
    cab_status_t status = s_from_files (c, error);
    if (status != CAB_ERR_NOT_FOUND)
        return status;
    s_buffer_t buffer = {malloc (S_HTTP_LIMIT + 1), 0};
    if (!buffer.data)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, NULL);
    status = s_from_container (c, &buffer, error);
    if (status == CAB_ERR_NOT_FOUND)
        status = s_from_imds (c, &buffer, error);
    memset (buffer.data, 0, S_HTTP_LIMIT + 1);
    free (buffer.data);
    if (status == CAB_ERR_NOT_FOUND)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "no AWS credentials found");
    return status;
}

cab_status_t
cab_aws_creds_get (cab_aws_creds_t *self, int64_t now, cab_aws_credentials_t *credentials,
                   cab_error_t *error)
{
    if (now == 0)
        now = (int64_t)time (NULL);
    if (self->have && (self->cached.expiration == 0 ||
                       now < self->cached.expiration - CAB_AWS_CREDS_REFRESH_AHEAD)) {
        *credentials = self->cached;
        return CAB_OK;
    }
    cab_aws_credentials_t fresh;
    self->resolutions++;
    cab_status_t status = s_resolve (&fresh, error);
    if (status == CAB_OK) {
        self->cached = fresh;
        self->have = true;
    } else if (!(self->have && now < self->cached.expiration)) {
        memset (&fresh, 0, sizeof fresh);
        return status;
    }
    //  A failed refresh keeps the old credentials until they expire.
    memset (&fresh, 0, sizeof fresh);
    cab_error_clear (error);
    *credentials = self->cached;
    return CAB_OK;
}

void
cab_aws_creds_invalidate (cab_aws_creds_t *self)
{
    memset (&self->cached, 0, sizeof self->cached);
    self->have = false;
}

size_t
cab_aws_creds_resolutions (cab_aws_creds_t *self)
{
    return self->resolutions;
}

static void
s_ini_region (void *arg, const char *key, const char *value)
{
    s_ini_state_t *state = arg;
    if (strcmp (key, "region") == 0)
        snprintf (state->region, state->region_size, "%s", value);
}

cab_status_t
cab_aws_region (char *buffer, size_t size, cab_error_t *error)
{
    if (size == 0)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "region buffer is empty");
    buffer[0] = 0;
    const char *region = s_env ("AWS_REGION");
    if (!region)
        region = s_env ("AWS_DEFAULT_REGION");
    char from_file[128] = "";
    if (!region) {
        s_ini_state_t state = {NULL, false, false, from_file, sizeof from_file};
        bool found;
        s_config_section (s_ini_region, &state, &found, NULL);
        if (*from_file)
            region = from_file;
    }
    if (!region)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "no AWS region configured");
    if (!s_set_str (buffer, size, region))
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "region name too long");
    return CAB_OK;
}

cab_status_t
cab_aws_endpoint (const char *region, char *buffer, size_t size, cab_error_t *error)
{
    const char *url = NULL;
    if (!s_env_true ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) {
        url = s_env ("AWS_ENDPOINT_URL_EVENTBRIDGE");
        if (!url)
            url = s_env ("AWS_ENDPOINT_URL");
    }
    int length;
    if (url) {
        size_t n = strlen (url);
        while (n > 0 && url[n - 1] == '/')
            n--;
        length = snprintf (buffer, size, "%.*s", (int)n, url);
    } else {
        if (!region || !*region)
            return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                                  "no region and no endpoint override");
        const char *suffix = strncmp (region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
        length = snprintf (buffer, size, "https://events.%s.%s", region, suffix);
    }
    if (length < 0 || (size_t)length >= size)
        return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL, "endpoint URL too long");
    return CAB_OK;
}
