/*  =========================================================================
    dash_http - the dashboard's HTTP server (libmicrohttpd)

    One thread per connection (at most DASH_CONNECTIONS_MAX), bounded
    request memory (URL and headers: a longer request gets libmicrohttpd's
    414 / 431), GET only (405 otherwise), an optional bearer token for
    /api/ (401), static files from one directory by a whitelist of names
    (no path ever reaches the file system unchecked), and the live stream
    /api/stream: server-sent events, each stream with its own read-only
    store connection polling every 200 ms, at most max_streams at once.
    It also starts the poller (dash_poll) whose cache the API serves.
    Every response carries Content-Security-Policy: default-src 'self'.
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include "cab_lines.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define DASH_CONNECTIONS_MAX 64
#define DASH_REQUEST_MEMORY  (32 * 1024)
#define DASH_ARGS_MAX        16
#define DASH_ARG_VALUE_MAX   8192
#define DASH_STATIC_MAX      (4 * 1024 * 1024)
#define DASH_POLL_MS         200
#define DASH_KEEPALIVE_MS    15000
#define DASH_STREAM_BATCH    64

struct _dash_http_t {
    struct MHD_Daemon *daemon;
    dash_http_config_t config;
    dash_ctx_t ctx;  //  API requests, under mutex: the store, the poller
    pthread_mutex_t mutex;
    atomic_int streams;
    atomic_bool stopping;
    int port;
};

typedef struct {
    dash_http_t *http;
    dash_store_t *store;  //  the stream's own connection
    cab_pattern_t *pattern;
    int64_t last_seq;
    char *buffer;  //  pending output
    size_t length, sent;
    int64_t quiet_ms;  //  since the last bytes sent
    int fd;            //  the client's socket (to see it close)
} s_stream_t;

static void
s_headers (struct MHD_Response *response, const char *type)
{
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "Content-Security-Policy",
                             "default-src 'self'; frame-ancestors 'none'");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, "Cache-Control", "no-store");
}

static enum MHD_Result
s_send_json (struct MHD_Connection *connection, unsigned status, json_t *body)
{
    char *text = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    if (!text)
        return MHD_NO;
    size_t length = strlen (text);
    text[length] = '\0';
    struct MHD_Response *response =
        MHD_create_response_from_buffer (length, text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    s_headers (response, "application/json; charset=utf-8");
    if (status == 405)
        MHD_add_response_header (response, "Allow", "GET");
    if (status == 401)
        MHD_add_response_header (response, "WWW-Authenticate", "Bearer realm=\"cabruca\"");
    enum MHD_Result result = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return result;
}

//  The query arguments, checked, collected into a JSON object.
typedef struct {
    json_t *args;
    json_t *bad;  //  the 400 body of the first bad one
} s_args_t;

static enum MHD_Result
s_collect (void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
           size_t value_size)
{
    (void)kind;
    s_args_t *collect = cls;
    if (collect->bad)
        return MHD_NO;
    if (!value)
        value = "", value_size = 0;
    json_t *name = json_stringn (key, key_size);
    const char *problem = NULL;
    if (!name || key_size == 0 || key_size > 64 || memchr (key, '\0', key_size))
        problem = "a parameter name is not 1 to 64 bytes of UTF-8";
    else if (json_object_size (collect->args) >= DASH_ARGS_MAX)
        problem = "too many parameters";
    else if (json_object_get (collect->args, json_string_value (name)))
        problem = "parameter given twice";
    else if (value_size > DASH_ARG_VALUE_MAX)
        problem = "parameter value too long (at most 8192 bytes)";
    else if (memchr (value, '\0', value_size))
        problem = "parameter value contains NUL";
    else {
        json_t *text = json_stringn (value, value_size);
        if (!text)
            problem = "parameter value is not valid UTF-8";
        else
            json_object_set_new (collect->args, json_string_value (name), text);
    }
    if (problem)
        collect->bad =
            dash_api_error ("InvalidArgument", problem, name ? json_string_value (name) : NULL);
    json_decref (name);
    return problem ? MHD_NO : MHD_YES;
}

static bool
s_authorised (dash_http_t *self, struct MHD_Connection *connection)
{
    if (!self->config.token)
        return true;
    const char *header =
        MHD_lookup_connection_value (connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!header || strncmp (header, "Bearer ", 7) != 0)
        return false;
    const char *given = header + 7, *token = self->config.token;
    size_t given_length = strlen (given), length = strlen (token);
    unsigned char difference = given_length != length;
    for (size_t index = 0; index < given_length; index++)
        difference |= (unsigned char)(given[index] ^ token[index % length]);
    return difference == 0;
}

//  A static file: names [a-z0-9][a-z0-9._-]* with a known extension only.
static enum MHD_Result
s_static (dash_http_t *self, struct MHD_Connection *connection, const char *url)
{
    const char *name = strcmp (url, "/") == 0 ? "index.html" : url + 1;
    static const char *const types[][2] = {{".html", "text/html; charset=utf-8"},
                                           {".js", "text/javascript; charset=utf-8"},
                                           {".css", "text/css; charset=utf-8"},
                                           {".svg", "image/svg+xml"},
                                           {".png", "image/png"},
                                           {".ico", "image/x-icon"}};
    size_t length = strlen (name);
    bool ok = url[0] == '/' && length > 0 && length <= 64 && name[0] != '.';
    for (size_t index = 0; ok && index < length; index++) {
        char c = name[index];
        ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    const char *type = NULL;
    for (size_t index = 0; ok && !type && index < sizeof types / sizeof types[0]; index++) {
        size_t ext = strlen (types[index][0]);
        if (length > ext && strcmp (name + length - ext, types[index][0]) == 0)
            type = types[index][1];
    }
    char path[4096];
    size_t size = 0;
    char *data = NULL;
    if (ok && type && strstr (name, "..") == NULL &&
        snprintf (path, sizeof path, "%s/%s", self->config.www_dir, name) < (int)sizeof path)
        data = cab_file_read (path, DASH_STATIC_MAX, &size, NULL);
    if (!data)
        return s_send_json (connection, 404, dash_api_error ("NotFound", "no such file", NULL));
    struct MHD_Response *response =
        MHD_create_response_from_buffer (size, data, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (data);
        return MHD_NO;
    }
    s_headers (response, type);
    enum MHD_Result result = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return result;
}

//  Append an event to the stream's buffer as one server-sent event.
static void
s_stream_add (s_stream_t *stream, json_t *row)
{
    char *data = json_dumps (row, JSON_COMPACT);
    if (!data)
        return;
    size_t need = strlen (data) + 64;
    char *grown = realloc (stream->buffer, stream->length + need);
    if (grown) {
        stream->buffer = grown;
        stream->length +=
            (size_t)snprintf (grown + stream->length, need, "id: %lld\nevent: event\ndata: %s\n\n",
                              (long long)json_integer_value (json_object_get (row, "seq")), data);
    }
    free (data);
}

//  Fill the stream's buffer with new events; returns the rows examined.
static size_t
s_stream_poll (s_stream_t *stream)
{
    size_t examined_rows = 0;
    json_t *rows = json_array ();
    int64_t examined = stream->last_seq;
    if (rows && dash_store_since (stream->store, stream->last_seq, DASH_STREAM_BATCH, rows,
                                  &examined) == CAB_OK) {
        size_t index;
        json_t *row;
        json_array_foreach (rows, index, row)
        {
            bool matched = true;
            if (stream->pattern) {
                char *text = json_dumps (json_object_get (row, "event"), JSON_COMPACT);
                cab_error_t ignored;
                if (!text || cab_pattern_match (stream->pattern, text, strlen (text), &matched,
                                                &ignored) != CAB_OK)
                    matched = false;
                free (text);
            }
            if (matched)
                s_stream_add (stream, row);
        }
        stream->last_seq = examined;
        examined_rows = json_array_size (rows);
    }
    json_decref (rows);
    return examined_rows;
}

static ssize_t
s_stream_read (void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    s_stream_t *stream = cls;
    while (stream->sent == stream->length) {
        free (stream->buffer);
        stream->buffer = NULL;
        stream->length = stream->sent = 0;
        if (atomic_load (&stream->http->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        //  A full batch that matched nothing: catch up without waiting.
        size_t examined = s_stream_poll (stream);
        if (stream->length)
            break;
        if (examined == DASH_STREAM_BATCH)
            continue;
        if (stream->quiet_ms >= DASH_KEEPALIVE_MS) {
            stream->buffer = strdup (": keepalive\n\n");
            stream->length = stream->buffer ? strlen (stream->buffer) : 0;
            break;
        }
        //  Wait for the next poll, watching for the client to go away.
        struct pollfd watch = {.fd = stream->fd, .events = POLLIN | POLLRDHUP};
        int ready = poll (&watch, stream->fd >= 0 ? 1 : 0, DASH_POLL_MS);
        if (ready > 0 && (watch.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (ready > 0) {
            char byte;
            if (recv (stream->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
            //  The client sent more (pipelining): not read here; just wait.
            struct timespec pause = {0, DASH_POLL_MS * 1000000L};
            nanosleep (&pause, NULL);
        }
        stream->quiet_ms += DASH_POLL_MS;
    }
    size_t count = stream->length - stream->sent < max ? stream->length - stream->sent : max;
    memcpy (out, stream->buffer + stream->sent, count);
    stream->sent += count;
    stream->quiet_ms = 0;
    return (ssize_t)count;
}

static void
s_stream_free (void *cls)
{
    s_stream_t *stream = cls;
    atomic_fetch_sub (&stream->http->streams, 1);
    dash_store_destroy (&stream->store);
    cab_pattern_destroy (&stream->pattern);
    free (stream->buffer);
    free (stream);
}

static enum MHD_Result
s_stream (dash_http_t *self, struct MHD_Connection *connection, json_t *args)
{
    cab_pattern_t *pattern = NULL;
    int64_t after = -1;
    json_t *bad = dash_api_stream_args (args, &pattern, &after);
    if (bad)
        return s_send_json (connection, 400, bad);
    if (atomic_fetch_add (&self->streams, 1) >= self->config.max_streams) {
        atomic_fetch_sub (&self->streams, 1);
        cab_pattern_destroy (&pattern);
        return s_send_json (connection, 503,
                            dash_api_error ("TooManyStreams", "too many live streams", NULL));
    }
    s_stream_t *stream = calloc (1, sizeof *stream);
    if (stream)
        stream->store = dash_store_new (self->config.store_path, NULL);
    if (!stream || !stream->store) {
        atomic_fetch_sub (&self->streams, 1);
        cab_pattern_destroy (&pattern);
        free (stream);
        return s_send_json (connection, 503,
                            dash_api_error ("StoreUnavailable", "the store cannot be read", NULL));
    }
    stream->http = self;
    stream->pattern = pattern;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    stream->fd = info ? info->connect_fd : -1;
    stream->last_seq = after >= 0 ? after : dash_store_last_seq (stream->store);
    //  The first bytes tell the client the stream is open.
    char hello[64];
    snprintf (hello, sizeof hello, ": stream from seq %lld\nretry: 1000\n\n",
              (long long)stream->last_seq);
    stream->buffer = strdup (hello);
    stream->length = stream->buffer ? strlen (hello) : 0;
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, 64 * 1024, s_stream_read, stream, s_stream_free);
    if (!response) {
        s_stream_free (stream);
        return MHD_NO;
    }
    s_headers (response, "text/event-stream; charset=utf-8");
    enum MHD_Result result = MHD_queue_response (connection, MHD_HTTP_OK, response);
    MHD_destroy_response (response);
    return result;
}

//  Called with the raw request target before it is unescaped: a path with
//  an escaped NUL is marked (its unescaped form would be cut at the NUL).
static void *
s_uri_log (void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    for (const char *p = uri; *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0')
            return (void *)uri;
    return NULL;
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    dash_http_t *self = cls;
    if (*state)
        return s_send_json (connection, 400,
                            dash_api_error ("InvalidArgument", "the path contains NUL", NULL));
    if (strcmp (method, "GET") != 0)
        return s_send_json (connection, 405,
                            dash_api_error ("MethodNotAllowed", "only GET is served", NULL));
    if (strncmp (url, "/api/", 5) != 0 && strcmp (url, "/api") != 0)
        return s_static (self, connection, url);
    if (!s_authorised (self, connection))
        return s_send_json (
            connection, 401,
            dash_api_error ("Unauthorized", "a valid bearer token is required", NULL));
    //  The path itself must be UTF-8 (it may hold an event id).
    json_t *check = json_string (url);
    if (!check)
        return s_send_json (
            connection, 400,
            dash_api_error ("InvalidArgument", "the path is not valid UTF-8", "id"));
    json_decref (check);
    s_args_t collect = {json_object (), NULL};
    if (!collect.args)
        return MHD_NO;
    MHD_get_connection_values_n (connection, MHD_GET_ARGUMENT_KIND, s_collect, &collect);
    if (collect.bad) {
        json_decref (collect.args);
        return s_send_json (connection, 400, collect.bad);
    }
    enum MHD_Result result;
    if (strcmp (url, "/api/stream") == 0)
        result = s_stream (self, connection, collect.args);
    else {
        unsigned status = 500;
        pthread_mutex_lock (&self->mutex);
        json_t *body = dash_api_answer (&self->ctx, url, collect.args, &status);
        pthread_mutex_unlock (&self->mutex);
        result = s_send_json (connection, status, body);
    }
    json_decref (collect.args);
    return result;
}

//  Bind and listen on host:port; returns the socket or -1.
static int
s_listen (const char *host, int port, int *port_p, cab_error_t *error)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM};
    struct addrinfo *info = NULL;
    char service[16];
    snprintf (service, sizeof service, "%d", port);
    if (getaddrinfo (host, service, &hints, &info) != 0 || !info) {
        cab_error_set (error, CAB_ERR_INVALID_CONFIG, "/listen",
                       "%s is not a numeric IPv4 or IPv6 address", host);
        return -1;
    }
    int fd = socket (info->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind (fd, info->ai_addr, info->ai_addrlen) != 0 || listen (fd, 64) != 0) {
        cab_error_set (error, CAB_ERR_IO, "/listen", "cannot listen on %s:%d: %s", host, port,
                       strerror (errno));
        if (fd >= 0)
            close (fd);
        freeaddrinfo (info);
        return -1;
    }
    freeaddrinfo (info);
    struct sockaddr_storage address;
    socklen_t size = sizeof address;
    getsockname (fd, (struct sockaddr *)&address, &size);
    *port_p = ntohs (address.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&address)->sin6_port
                                                   : ((struct sockaddr_in *)&address)->sin_port);
    return fd;
}

dash_http_t *
dash_http_new (const dash_http_config_t *config, cab_error_t *error)
{
    dash_http_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->config = *config;
    if (self->config.max_streams <= 0)
        self->config.max_streams = 32;
    pthread_mutex_init (&self->mutex, NULL);
    self->ctx.store_path = config->store_path;
    self->ctx.store = dash_store_new (config->store_path, error);
    //  Aggregate the volumes now (seconds on a large store) rather than in
    //  the first /api/stats request; later requests add only new events.
    if (self->ctx.store) {
        struct timespec now;
        clock_gettime (CLOCK_REALTIME, &now);
        json_decref (
            dash_store_stats (self->ctx.store, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
    }
    //  The broker and the supervisor are asked by their own thread.
    dash_poll_config_t poll = config->poll;
    poll.store_path = config->store_path;
    if (self->ctx.store)
        self->ctx.poll = dash_poll_new (&poll, error);
    int fd = self->ctx.poll ? s_listen (config->host, config->port, &self->port, error) : -1;
    if (fd >= 0) {
        self->daemon = MHD_start_daemon (
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
            NULL, NULL, s_handle, self, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
            (unsigned)DASH_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
            (size_t)DASH_REQUEST_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
            MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, NULL, MHD_OPTION_END);
        if (!self->daemon) {
            close (fd);
            cab_error_set (error, CAB_ERR_IO, NULL, "libmicrohttpd did not start");
        }
    }
    if (!self->daemon) {
        dash_http_destroy (&self);
        return NULL;
    }
    return self;
}

int
dash_http_port (dash_http_t *self)
{
    return self->port;
}

void
dash_http_destroy (dash_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dash_http_t *self = *self_p;
    atomic_store (&self->stopping, true);
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    dash_poll_destroy (&self->ctx.poll);
    cab_store_destroy (&self->ctx.mirror_store);
    dash_store_destroy (&self->ctx.store);
    pthread_mutex_destroy (&self->mutex);
    free (self);
    *self_p = NULL;
}
