/*  =========================================================================
    cabruca-dashboard - the web dashboard (a thin main; see
    docs/man/cabruca-dashboard.md and docs/dashboard.md)

    Foreground, logs to stderr, readiness line on a notification fd (s6),
    SIGTERM/SIGINT stop it. Reads the event store read-only. Exit: 0 ok,
    100 usage or configuration error, 111 system error.
    =========================================================================
*/
#include "config.h"
#include "cab_daemon.h"
#include "cab_lines.h"
#include "dash.h"
#include <arpa/inet.h>
#include <czmq.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef DASH_WWWDIR
#define DASH_WWWDIR "/usr/local/share/cabruca/www"
#endif

typedef struct {
    char host[64];
    int port;
    char store[PATH_MAX];
    char www[PATH_MAX];
    char *token;
    char broker[PATH_MAX + 16];  //  endpoint, or ""
    char curve_cert[PATH_MAX];   //  CURVE certificates, or ""
    char server_cert[PATH_MAX];
    char supervisor[PATH_MAX + 16];  //  control endpoint, or ""
    int poll_ms;
} s_config_t;

//  path resolved against dir when relative, into out.
static int
s_resolve (const char *dir, const char *path, char *out, size_t size)
{
    int written = path[0] == '/' ? snprintf (out, size, "%s", path)
                                 : snprintf (out, size, "%s/%s", dir, path);
    return written > 0 && (size_t)written < size ? 0 : -1;
}

//  Parse "HOST:PORT" or "[V6]:PORT".
static int
s_listen (const char *text, s_config_t *config)
{
    const char *colon = strrchr (text, ':');
    if (!colon)
        return -1;
    const char *host = text;
    size_t length = (size_t)(colon - text);
    if (text[0] == '[') {
        if (length < 2 || colon[-1] != ']')
            return -1;
        host++;
        length -= 2;
    }
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    if (length == 0 || length >= sizeof config->host || !colon[1] || *end || port < 0 ||
        port > 65535)
        return -1;
    memcpy (config->host, host, length);
    config->host[length] = '\0';
    config->port = (int)port;
    unsigned char address[sizeof (struct in6_addr)];
    return inet_pton (AF_INET, config->host, address) == 1 ||
                   inet_pton (AF_INET6, config->host, address) == 1
               ? 0
               : -1;
}

//  An endpoint: "ipc://...", "tcp://..." as is; a path becomes ipc://PATH
//  (resolved against dir).
static int
s_endpoint (const char *dir, const char *text, char *out, size_t size)
{
    if (strncmp (text, "ipc://", 6) == 0 || strncmp (text, "tcp://", 6) == 0) {
        int written = snprintf (out, size, "%s", text);
        return text[6] && written > 0 && (size_t)written < size ? 0 : -1;
    }
    if (strstr (text, "://"))
        return -1;
    char path[PATH_MAX];
    if (s_resolve (dir, text, path, sizeof path) != 0)
        return -1;
    int written = snprintf (out, size, "ipc://%s", path);
    return written > 0 && (size_t)written < size ? 0 : -1;
}

//  "broker": "ENDPOINT" or {"endpoint", "curve_cert"?, "server_cert"?}.
//  Without certificates in it, $CABRUCA_CURVE_CERT and $CABRUCA_SERVER_CERT
//  as the agents take them. Returns NULL or the error text (its pointer in
//  pointer).
static const char *
s_broker (const char *dir, json_t *value, s_config_t *config, char *pointer, size_t size)
{
    json_t *endpoint = json_is_object (value) ? json_object_get (value, "endpoint") : value;
    snprintf (pointer, size, "/broker%s", json_is_object (value) ? "/endpoint" : "");
    if (!json_is_string (endpoint) ||
        s_endpoint (dir, json_string_value (endpoint), config->broker, sizeof config->broker) != 0)
        return "the broker is an endpoint (\"ipc://PATH\", \"tcp://HOST:PORT\") or a socket path";
    const char *key;
    json_t *member;
    const char *certs[2] = {getenv ("CABRUCA_CURVE_CERT"), getenv ("CABRUCA_SERVER_CERT")};
    json_object_foreach (json_is_object (value) ? value : NULL, key, member)
    {
        snprintf (pointer, size, "/broker/%s", key);
        int which = strcmp (key, "curve_cert") == 0 ? 0 : strcmp (key, "server_cert") == 0 ? 1 : -1;
        if (strcmp (key, "endpoint") == 0)
            continue;
        if (which < 0)
            return "unknown key (endpoint, curve_cert, server_cert)";
        if (!json_is_string (member) || !*json_string_value (member))
            return "a certificate is a non-empty path";
        certs[which] = json_string_value (member);
    }
    bool cert = certs[0] && *certs[0], server = certs[1] && *certs[1];
    snprintf (pointer, size, "/broker");
    if (cert != server)
        return "CURVE needs both curve_cert and server_cert (or $CABRUCA_CURVE_CERT and "
               "$CABRUCA_SERVER_CERT), or neither";
    if (cert && (s_resolve (dir, certs[0], config->curve_cert, sizeof config->curve_cert) != 0 ||
                 s_resolve (dir, certs[1], config->server_cert, sizeof config->server_cert) != 0))
        return "a certificate path is too long";
    return NULL;
}

static cab_status_t
s_config_load (const char *path, s_config_t *config, cab_error_t *error)
{
    memset (config, 0, sizeof *config);
    char *text = cab_file_read (path, 64 * 1024, NULL, error);
    if (!text)
        return error ? error->code : CAB_ERR_IO;
    json_error_t json_error;
    json_t *root = json_loads (text, 0, &json_error);
    free (text);
    if (!json_is_object (root)) {
        json_decref (root);
        return cab_error_set (error, CAB_ERR_INVALID_CONFIG, NULL, "not a JSON object: %s",
                              json_error.text);
    }
    char *copy = strdup (path);
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s", copy ? dirname (copy) : ".");
    free (copy);
    cab_status_t status = CAB_OK;
    const char *key;
    json_t *value;
    json_object_foreach (root, key, value)
    {
        const char *string = json_string_value (value);
        char pointer[80];
        snprintf (pointer, sizeof pointer, "/%s", key);
        if (strcmp (key, "listen") == 0 && string && s_listen (string, config) == 0)
            continue;
        if (strcmp (key, "store") == 0 && string && *string &&
            s_resolve (dir, string, config->store, sizeof config->store) == 0)
            continue;
        if (strcmp (key, "www") == 0 && string && *string &&
            s_resolve (dir, string, config->www, sizeof config->www) == 0)
            continue;
        if (strcmp (key, "broker") == 0) {
            const char *problem = s_broker (dir, value, config, pointer, sizeof pointer);
            if (!problem)
                continue;
            status = cab_error_set (error, CAB_ERR_INVALID_CONFIG, pointer, "%s", problem);
            break;
        }
        if (strcmp (key, "supervisor") == 0 && string && *string &&
            s_endpoint (dir, string, config->supervisor, sizeof config->supervisor) == 0)
            continue;
        if (strcmp (key, "poll_ms") == 0 && json_is_integer (value) &&
            json_integer_value (value) >= DASH_POLL_MIN_MS &&
            json_integer_value (value) <= DASH_POLL_MAX_MS) {
            config->poll_ms = (int)json_integer_value (value);
            continue;
        }
        if (strcmp (key, "token") == 0 && string && strlen (string) >= 16 &&
            strlen (string) <= 256) {
            config->token = strdup (string);
            continue;
        }
        status = cab_error_set (
            error, CAB_ERR_INVALID_CONFIG, pointer,
            strcmp (key, "listen") == 0  ? "listen is \"HOST:PORT\" (numeric)"
            : strcmp (key, "token") == 0 ? "token is 16 to 256 characters"
            : strcmp (key, "supervisor") == 0
                ? "supervisor is its control endpoint (\"ipc://PATH\") or socket path"
            : strcmp (key, "poll_ms") == 0 ? "poll_ms is an integer from 200 to 60000"
            : strcmp (key, "store") == 0 || strcmp (key, "www") == 0
                ? "a path is a non-empty string"
                : "unknown key");
        break;
    }
    if (status == CAB_OK && !config->store[0])
        status = cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/store", "store is required");
    if (status == CAB_OK && !config->host[0])
        s_listen ("127.0.0.1:8080", config);
    if (status == CAB_OK && !config->www[0])
        snprintf (config->www, sizeof config->www, "%s", DASH_WWWDIR);
    json_decref (root);
    return status;
}

int
main (int argc, char **argv)
{
    cab_daemon_options_t options;
    int exit_code = cab_daemon_parse (
        argc, argv, "cabruca-dashboard", "the dashboard's JSON configuration (required)",
        "check the configuration and open the store, then exit", &options);
    if (exit_code != CAB_DAEMON_RUN)
        return exit_code;
    cab_error_t error;
    cab_error_clear (&error);
    char message[CAB_ERROR_PATH_MAX + CAB_ERROR_TEXT_MAX + 8];
    s_config_t config;
    if (s_config_load (options.config_path, &config, &error) != CAB_OK) {
        fprintf (stderr, "cabruca-dashboard: %s: %s [%s]\n", options.config_path,
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        free (config.token);
        return error.code == CAB_ERR_INVALID_CONFIG ? CAB_DAEMON_EXIT_USAGE
                                                    : CAB_DAEMON_EXIT_SYSTEM;
    }
    if (options.check_only) {
        dash_store_t *store = dash_store_new (config.store, &error);
        free (config.token);
        if (!store) {
            fprintf (stderr, "cabruca-dashboard: %s: %s\n", options.config_path,
                     cab_error_format (&error, message, sizeof message));
            return CAB_DAEMON_EXIT_SYSTEM;
        }
        dash_store_destroy (&store);
        fprintf (stderr, "cabruca-dashboard: %s: configuration OK\n", options.config_path);
        return CAB_DAEMON_EXIT_OK;
    }
    //  Signals are taken with sigwait below, not by czmq (the poller's
    //  client uses it).
    zsys_handler_set (NULL);
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGINT);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    signal (SIGPIPE, SIG_IGN);

    dash_http_config_t http_config = {.host = config.host,
                                      .port = config.port,
                                      .store_path = config.store,
                                      .token = config.token,
                                      .www_dir = config.www,
                                      .max_streams = 32,
                                      .poll = {.broker = config.broker,
                                               .curve_cert = config.curve_cert,
                                               .server_cert = config.server_cert,
                                               .supervisor = config.supervisor,
                                               .interval_ms = config.poll_ms}};
    dash_http_t *http = dash_http_new (&http_config, &error);
    if (!http) {
        fprintf (stderr, "cabruca-dashboard: cannot start: %s [%s]\n",
                 cab_error_format (&error, message, sizeof message), cab_status_name (error.code));
        free (config.token);
        return error.code == CAB_ERR_INVALID_CONFIG ? CAB_DAEMON_EXIT_USAGE
                                                    : CAB_DAEMON_EXIT_SYSTEM;
    }
    fprintf (stderr, "cabruca-dashboard: ready on http://%s%s%s:%d/ (store %s%s%s%s%s%s)\n",
             strchr (config.host, ':') ? "[" : "", config.host,
             strchr (config.host, ':') ? "]" : "", dash_http_port (http), config.store,
             config.broker[0] ? ", broker " : "", config.broker,
             config.supervisor[0] ? ", supervisor " : "", config.supervisor,
             config.token ? ", bearer token required" : "");
    cab_daemon_notify_ready ("cabruca-dashboard", options.notify_fd);
    int signal_number = 0;
    sigwait (&signals, &signal_number);
    fprintf (stderr, "cabruca-dashboard: %s: stopping\n", strsignal (signal_number));
    dash_http_destroy (&http);
    free (config.token);
    fprintf (stderr, "cabruca-dashboard: stopped\n");
    return CAB_DAEMON_EXIT_OK;
}
