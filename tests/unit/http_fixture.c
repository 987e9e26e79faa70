/*  =========================================================================
    http_fixture - a small HTTP/1.1 server for tests (see http_fixture.h)
    =========================================================================
*/
#include "http_fixture.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_RECORD_MAX 4096               //  requests kept (more are counted)
#define S_CONN_MAX   256                //  connection threads
#define S_HEAD_MAX   (64 * 1024)        //  request line + headers
#define S_BODY_MAX   (4 * 1024 * 1024)  //  request body
#define S_SCRIPT_MAX 256

typedef struct {
    int status, delay_ms;
    char *body;
} s_response_t;

typedef struct {
    http_fixture_t *owner;
    int fd, number;
    pthread_t thread;
} s_conn_t;

struct _http_fixture_t {
    int listener, port;
    volatile int stop;
    pthread_t acceptor;
    pthread_mutex_t mutex;
    pthread_cond_t arrived;
    s_response_t fallback;
    s_response_t script[S_SCRIPT_MAX];
    size_t script_head, script_count;
    http_fixture_request_t *records;
    size_t count;
    int connections;
    s_conn_t *conns[S_CONN_MAX];
};

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char *
s_reason (int status)
{
    switch (status) {
        case 200:
            return "OK";
        case 204:
            return "No Content";
        case 404:
            return "Not Found";
        case 429:
            return "Too Many Requests";
        case 500:
            return "Internal Server Error";
        default:
            return "Status";
    }
}

//  Sleep up to ms, waking early when the fixture stops.
static void
s_nap (http_fixture_t *self, int ms)
{
    while (ms > 0 && !self->stop) {
        int slice = ms < 20 ? ms : 20;
        struct timespec ts = {0, slice * 1000000L};
        nanosleep (&ts, NULL);
        ms -= slice;
    }
}

//  Read more bytes into buffer; -1 on EOF, error or stop.
static ssize_t
s_read_some (http_fixture_t *self, int fd, char *buffer, size_t size)
{
    while (!self->stop) {
        struct pollfd item = {fd, POLLIN, 0};
        int rc = poll (&item, 1, 50);
        if (rc < 0 && errno != EINTR)
            return -1;
        if (rc <= 0)
            continue;
        ssize_t got = recv (fd, buffer, size, 0);
        if (got < 0 && errno == EINTR)
            continue;
        return got > 0 ? got : -1;
    }
    return -1;
}

static int
s_send_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t put = send (fd, data, size, MSG_NOSIGNAL);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        data += put;
        size -= (size_t)put;
    }
    return 0;
}

static const char *
s_find_header (const char *headers, const char *name, size_t *length_p)
{
    size_t name_length = strlen (name);
    for (const char *line = headers; line && *line;) {
        const char *end = strstr (line, "\r\n");
        size_t length = end ? (size_t)(end - line) : strlen (line);
        if (length > name_length && line[name_length] == ':' &&
            strncasecmp (line, name, name_length) == 0) {
            const char *value = line + name_length + 1;
            while (*value == ' ')
                value++;
            *length_p = (size_t)(line + length - value);
            return value;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

static void
s_record (http_fixture_t *self, http_fixture_request_t *request, s_response_t *response)
{
    pthread_mutex_lock (&self->mutex);
    if (self->count < S_RECORD_MAX)
        self->records[self->count] = *request;
    else
        http_fixture_request_clear (request);
    self->count++;
    if (self->script_count > 0) {
        *response = self->script[self->script_head];
        self->script_head = (self->script_head + 1) % S_SCRIPT_MAX;
        self->script_count--;
    } else {
        *response = self->fallback;
        response->body = strdup (self->fallback.body);
    }
    pthread_cond_broadcast (&self->arrived);
    pthread_mutex_unlock (&self->mutex);
}

static void *
s_connection (void *arg)
{
    s_conn_t *conn = (s_conn_t *)arg;
    http_fixture_t *self = conn->owner;
    char *buffer = (char *)malloc (S_HEAD_MAX + 1);
    size_t have = 0;
    while (buffer && !self->stop) {
        //  Request line and headers.
        char *end = NULL;
        while (!(end = (have ? strstr (buffer, "\r\n\r\n") : NULL))) {
            if (have >= S_HEAD_MAX)
                goto done;
            ssize_t got = s_read_some (self, conn->fd, buffer + have, S_HEAD_MAX - have);
            if (got < 0)
                goto done;
            have += (size_t)got;
            buffer[have] = '\0';
        }
        http_fixture_request_t request;
        memset (&request, 0, sizeof request);
        request.connection = conn->number;
        request.at_us = s_now_us ();
        size_t head = (size_t)(end - buffer) + 4;
        char *line_end = strstr (buffer, "\r\n");
        if (sscanf (buffer, "%15s %255s", request.method, request.path) != 2)
            goto done;
        request.headers = strndup (line_end + 2, (size_t)(end + 2 - (line_end + 2)));
        size_t value_length = 0;
        const char *value = s_find_header (request.headers, "Content-Length", &value_length);
        size_t body_size = value ? (size_t)strtoul (value, NULL, 10) : 0;
        bool close_after = false;
        value = s_find_header (request.headers, "Connection", &value_length);
        if (value && strncasecmp (value, "close", 5) == 0)
            close_after = true;
        if (body_size > S_BODY_MAX) {
            free (request.headers);
            goto done;
        }
        request.body = (char *)malloc (body_size + 1);
        request.body_size = body_size;
        size_t in_buffer = have - head < body_size ? have - head : body_size;
        memcpy (request.body, buffer + head, in_buffer);
        size_t got_body = in_buffer;
        //  Keep what follows the body (a pipelined request).
        memmove (buffer, buffer + head + in_buffer, have - head - in_buffer);
        have -= head + in_buffer;
        buffer[have] = '\0';
        while (got_body < body_size) {
            ssize_t got =
                s_read_some (self, conn->fd, request.body + got_body, body_size - got_body);
            if (got < 0) {
                http_fixture_request_clear (&request);
                goto done;
            }
            got_body += (size_t)got;
        }
        request.body[body_size] = '\0';
        s_response_t response;
        s_record (self, &request, &response);
        s_nap (self, response.delay_ms);
        //  Head and body in one send: two small writes would meet Nagle
        //  and the peer's delayed ACK (40 ms a request).
        const char *body = response.body ? response.body : "";
        if (response.status == 204 || response.status == 304)
            body = "";
        size_t size = strlen (body) + 256;
        char *answer = (char *)malloc (size);
        int length = answer ? snprintf (answer, size,
                                        "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                                        "Content-Length: %zu\r\n%s\r\n%s",
                                        response.status, s_reason (response.status), strlen (body),
                                        close_after ? "Connection: close\r\n" : "", body)
                            : -1;
        int rc = self->stop || length < 0 ? -1 : s_send_all (conn->fd, answer, (size_t)length);
        free (answer);
        free (response.body);
        if (rc != 0 || close_after)
            break;
    }
done:
    free (buffer);
    close (conn->fd);
    conn->fd = -1;
    return NULL;
}

static void *
s_accept (void *arg)
{
    http_fixture_t *self = (http_fixture_t *)arg;
    while (!self->stop) {
        struct pollfd item = {self->listener, POLLIN, 0};
        if (poll (&item, 1, 50) <= 0)
            continue;
        int fd = accept (self->listener, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock (&self->mutex);
        int number = self->connections < S_CONN_MAX ? ++self->connections : 0;
        pthread_mutex_unlock (&self->mutex);
        s_conn_t *conn = number ? (s_conn_t *)calloc (1, sizeof *conn) : NULL;
        if (!conn) {
            close (fd);
            continue;
        }
        conn->owner = self;
        conn->fd = fd;
        conn->number = number;
        if (pthread_create (&conn->thread, NULL, s_connection, conn) != 0) {
            close (fd);
            free (conn);
            continue;
        }
        self->conns[number - 1] = conn;
    }
    return NULL;
}

http_fixture_t *
http_fixture_new (void)
{
    http_fixture_t *self = (http_fixture_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->records = (http_fixture_request_t *)calloc (S_RECORD_MAX, sizeof *self->records);
    self->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address;
    memset (&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (!self->records || self->listener < 0 ||
        bind (self->listener, (struct sockaddr *)&address, sizeof address) != 0 ||
        listen (self->listener, 64) != 0 ||
        getsockname (self->listener, (struct sockaddr *)&address, &length) != 0) {
        if (self->listener >= 0)
            close (self->listener);
        free (self->records);
        free (self);
        return NULL;
    }
    self->port = ntohs (address.sin_port);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->arrived, NULL);
    self->fallback.status = 200;
    self->fallback.body = strdup ("ok");
    if (pthread_create (&self->acceptor, NULL, s_accept, self) != 0) {
        close (self->listener);
        free (self->fallback.body);
        free (self->records);
        free (self);
        return NULL;
    }
    return self;
}

void
http_fixture_destroy (http_fixture_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    http_fixture_t *self = *self_p;
    self->stop = 1;
    pthread_join (self->acceptor, NULL);
    for (int index = 0; index < S_CONN_MAX; index++)
        if (self->conns[index]) {
            pthread_join (self->conns[index]->thread, NULL);
            free (self->conns[index]);
        }
    close (self->listener);
    size_t kept = self->count < S_RECORD_MAX ? self->count : S_RECORD_MAX;
    for (size_t index = 0; index < kept; index++)
        http_fixture_request_clear (&self->records[index]);
    free (self->records);
    for (size_t index = 0; index < self->script_count; index++)
        free (self->script[(self->script_head + index) % S_SCRIPT_MAX].body);
    free (self->fallback.body);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->arrived);
    free (self);
    *self_p = NULL;
}

int
http_fixture_port (http_fixture_t *self)
{
    return self->port;
}

char *
http_fixture_url (http_fixture_t *self, const char *path, char *buffer, size_t size)
{
    snprintf (buffer, size, "http://127.0.0.1:%d%s", self->port, path ? path : "/");
    return buffer;
}

void
http_fixture_set (http_fixture_t *self, int status, int delay_ms, const char *body)
{
    pthread_mutex_lock (&self->mutex);
    free (self->fallback.body);
    self->fallback.status = status;
    self->fallback.delay_ms = delay_ms;
    self->fallback.body = strdup (body ? body : "");
    pthread_mutex_unlock (&self->mutex);
}

void
http_fixture_push (http_fixture_t *self, int status, int delay_ms, const char *body)
{
    pthread_mutex_lock (&self->mutex);
    if (self->script_count < S_SCRIPT_MAX) {
        s_response_t *response =
            &self->script[(self->script_head + self->script_count) % S_SCRIPT_MAX];
        response->status = status;
        response->delay_ms = delay_ms;
        response->body = strdup (body ? body : "");
        self->script_count++;
    }
    pthread_mutex_unlock (&self->mutex);
}

size_t
http_fixture_count (http_fixture_t *self)
{
    pthread_mutex_lock (&self->mutex);
    size_t count = self->count;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

int
http_fixture_connections (http_fixture_t *self)
{
    pthread_mutex_lock (&self->mutex);
    int count = self->connections;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

bool
http_fixture_wait (http_fixture_t *self, size_t count, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock (&self->mutex);
    while (self->count < count)
        if (pthread_cond_timedwait (&self->arrived, &self->mutex, &deadline) == ETIMEDOUT)
            break;
    bool ok = self->count >= count;
    pthread_mutex_unlock (&self->mutex);
    return ok;
}

bool
http_fixture_request (http_fixture_t *self, size_t index, http_fixture_request_t *request)
{
    memset (request, 0, sizeof *request);
    pthread_mutex_lock (&self->mutex);
    bool ok = index < self->count && index < S_RECORD_MAX;
    if (ok) {
        *request = self->records[index];
        request->headers = strdup (self->records[index].headers);
        request->body = (char *)malloc (request->body_size + 1);
        memcpy (request->body, self->records[index].body, request->body_size + 1);
    }
    pthread_mutex_unlock (&self->mutex);
    return ok;
}

void
http_fixture_request_clear (http_fixture_request_t *request)
{
    free (request->headers);
    free (request->body);
    request->headers = NULL;
    request->body = NULL;
}

const char *
http_fixture_header (const http_fixture_request_t *request, const char *name, char *buffer,
                     size_t size)
{
    size_t length = 0;
    const char *value = s_find_header (request->headers, name, &length);
    if (!value || size == 0)
        return NULL;
    if (length >= size)
        length = size - 1;
    memcpy (buffer, value, length);
    buffer[length] = '\0';
    return buffer;
}
