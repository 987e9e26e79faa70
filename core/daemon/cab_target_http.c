/*  =========================================================================
    cab_target_http - the "http" backend: POST to a webhook with libcurl

    One libcurl multi handle per sender, driven by the sender's zloop: curl
    tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION, one zloop
    poller each) and when to wake it (CURLMOPT_TIMERFUNCTION, one zloop
    timer); the loop hands readiness back with curl_multi_socket_action. The
    multi handle keeps connections alive between requests (its connection
    cache), so a steady stream to one endpoint uses one connection.

    Each task POSTs the payload with "Content-Type: application/json" (unless
    target->headers sets one) and the target's headers, no redirects,
    timeout_ms for the whole exchange. The response body is read and
    dropped; its first CAB_TARGET_EXCERPT_MAX bytes are kept for the error
    text. Outcomes follow EventBridge API destinations ("retries events
    associated with error codes 401, 407, 409, 429 and 5xx; does not retry
    1xx, 2xx, 3xx and other 4xx"):

      2xx                          CAB_OK
      401, 407, 409, 429, 5xx      CAB_ERR_TARGET_FAILED "HTTP 503: <body>", retryable
      1xx, 3xx, other 4xx          CAB_ERR_TARGET_FAILED, permanent
      timeout                      CAB_ERR_TIMEOUT, retryable
      network errors               CAB_ERR_IO "<curl error>", retryable
      a URL curl cannot use        CAB_ERR_TARGET_FAILED, permanent
    =========================================================================
*/
#include "config.h"
#include "cab_target.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_POOL_MAX 16  //  idle easy handles kept for reuse

typedef struct _s_request_t s_request_t;
typedef struct _s_socket_t s_socket_t;
typedef struct _s_http_t s_http_t;

struct _s_request_t {
    s_http_t *owner;
    cab_target_task_t *task;
    CURL *easy;
    struct curl_slist *headers;
    char body[CAB_TARGET_EXCERPT_MAX];
    size_t body_size;
    char curl_error[CURL_ERROR_SIZE];
    int timeout_ms;
    s_request_t *prev, *next;
};

struct _s_socket_t {
    curl_socket_t fd;
    short events;
    s_socket_t *prev, *next;
};

struct _s_http_t {
    cab_target_env_t env;
    CURLM *multi;
    int timer_id;  //  zloop timer for curl, 0 when none
    s_request_t *requests;
    s_socket_t *sockets;
    CURL *pool[S_POOL_MAX];
    size_t pool_size;
    bool global;  //  curl_global_init succeeded
};

static void s_check_done (s_http_t *self);

static void
s_poller_end (s_http_t *self, curl_socket_t fd)
{
    zmq_pollitem_t item = {NULL, fd, 0, 0};
    zloop_poller_end (self->env.loop, &item);
}

static int
s_on_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_http_t *self = (s_http_t *)arg;
    int mask = 0;
    if (item->revents & ZMQ_POLLIN)
        mask |= CURL_CSELECT_IN;
    if (item->revents & ZMQ_POLLOUT)
        mask |= CURL_CSELECT_OUT;
    if (item->revents & ZMQ_POLLERR)
        mask |= CURL_CSELECT_ERR;
    int running = 0;
    curl_multi_socket_action (self->multi, item->fd, mask, &running);
    s_check_done (self);
    return 0;
}

static int
s_socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    s_http_t *self = (s_http_t *)userp;
    s_socket_t *sock = (s_socket_t *)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sock) {
            s_poller_end (self, fd);
            if (sock->prev)
                sock->prev->next = sock->next;
            else
                self->sockets = sock->next;
            if (sock->next)
                sock->next->prev = sock->prev;
            free (sock);
            curl_multi_assign (self->multi, fd, NULL);
        }
        return 0;
    }
    short events = 0;
    if (what & CURL_POLL_IN)
        events |= ZMQ_POLLIN;
    if (what & CURL_POLL_OUT)
        events |= ZMQ_POLLOUT;
    if (!sock) {
        sock = (s_socket_t *)calloc (1, sizeof *sock);
        if (!sock)
            return -1;
        sock->fd = fd;
        sock->next = self->sockets;
        if (self->sockets)
            self->sockets->prev = sock;
        self->sockets = sock;
        curl_multi_assign (self->multi, fd, sock);
    } else if (sock->events == events)
        return 0;
    else
        s_poller_end (self, fd);
    sock->events = events;
    zmq_pollitem_t item = {NULL, fd, events, 0};
    if (zloop_poller (self->env.loop, &item, s_on_socket, self) != 0)
        return -1;
    zloop_poller_set_tolerant (self->env.loop, &item);
    return 0;
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    s_http_t *self = (s_http_t *)arg;
    if (self->timer_id == timer_id)
        self->timer_id = 0;  //  fired (once); curl may set a new one below
    int running = 0;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done (self);
    return 0;
}

static int
s_timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
    s_http_t *self = (s_http_t *)userp;
    if (self->timer_id) {
        zloop_timer_end (self->env.loop, self->timer_id);
        self->timer_id = 0;
    }
    if (timeout_ms >= 0) {
        int id = zloop_timer (self->env.loop, (size_t)timeout_ms, 1, s_on_timer, self);
        if (id <= 0)
            return -1;
        self->timer_id = id;
    }
    return 0;
}

static size_t
s_write_cb (char *data, size_t size, size_t count, void *arg)
{
    s_request_t *request = (s_request_t *)arg;
    size_t bytes = size * count;
    size_t room = sizeof request->body - request->body_size;
    size_t keep = bytes < room ? bytes : room;
    memcpy (request->body + request->body_size, data, keep);
    request->body_size += keep;
    return bytes;  //  the rest is read and dropped
}

static bool
s_retryable (long code)
{
    return code == 401 || code == 407 || code == 409 || code == 429 || code >= 500;
}

static void
s_outcome (s_request_t *request, CURLcode rc)
{
    cab_send_job_t *job = request->task->job;
    if (rc == CURLE_OK) {
        long code = 0;
        curl_easy_getinfo (request->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code == 0) {  //  no status line: as a network error
            cab_target_fail (job, CAB_ERR_IO, false, "no HTTP response");
            return;
        }
        if (code >= 200 && code <= 299) {
            job->status = CAB_OK;
            job->permanent = false;
            job->error[0] = '\0';
            return;
        }
        char excerpt[200] = "";
        cab_target_excerpt (excerpt, sizeof excerpt, request->body, request->body_size);
        cab_target_fail (job, CAB_ERR_TARGET_FAILED, !s_retryable (code), "HTTP %ld%s%s", code,
                         excerpt[0] ? ": " : "", excerpt);
        return;
    }
    const char *text = request->curl_error[0] ? request->curl_error : curl_easy_strerror (rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        cab_target_fail (job, CAB_ERR_TIMEOUT, false, "timed out after %d ms: %s",
                         request->timeout_ms, text);
    else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT)
        cab_target_fail (job, CAB_ERR_TARGET_FAILED, true, "unusable URL: %s", text);
    else
        cab_target_fail (job, CAB_ERR_IO, false, "%s", text);
}

//  Detach a request from curl and free it; returns its task.
static cab_target_task_t *
s_request_free (s_http_t *self, s_request_t *request)
{
    curl_multi_remove_handle (self->multi, request->easy);
    if (self->pool_size < S_POOL_MAX) {
        curl_easy_reset (request->easy);
        self->pool[self->pool_size++] = request->easy;
    } else
        curl_easy_cleanup (request->easy);
    curl_slist_free_all (request->headers);
    if (request->prev)
        request->prev->next = request->next;
    else
        self->requests = request->next;
    if (request->next)
        request->next->prev = request->prev;
    cab_target_task_t *task = request->task;
    task->backend = NULL;
    free (request);
    return task;
}

static void
s_check_done (s_http_t *self)
{
    CURLMsg *message;
    int left = 0;
    while ((message = curl_multi_info_read (self->multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL *easy = message->easy_handle;
        CURLcode rc = message->data.result;
        s_request_t *request = NULL;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **)&request);
        if (!request)
            continue;
        s_outcome (request, rc);
        cab_target_task_t *task = s_request_free (self, request);
        self->env.done (task, self->env.arg);
    }
}

//  Build the request headers; NULL when out of memory.
static struct curl_slist *
s_headers (const json_t *headers)
{
    struct curl_slist *list = NULL, *next;
    bool content_type = false;
    const char *name;
    json_t *value;
    if (json_is_object (headers)) {
        json_object_foreach ((json_t *)headers, name, value)
        {
            const char *text = json_string_value (value);
            //  The rule loader checks names and values; a line break
            //  would split the request, so never pass one on.
            if (!text || strpbrk (name, "\r\n:") || strpbrk (text, "\r\n") || !*name)
                continue;
            if (strcasecmp (name, "Content-Type") == 0)
                content_type = true;
            size_t size = strlen (name) + strlen (text) + 3;
            char *line = (char *)malloc (size);
            if (!line)
                goto nomem;
            //  curl drops "Name:" with nothing after it; "Name;" sends it empty.
            if (*text)
                snprintf (line, size, "%s: %s", name, text);
            else
                snprintf (line, size, "%s;", name);
            next = curl_slist_append (list, line);
            free (line);
            if (!next)
                goto nomem;
            list = next;
        }
    }
    if (!content_type) {
        next = curl_slist_append (list, "Content-Type: application/json");
        if (!next)
            goto nomem;
        list = next;
    }
    //  No "Expect: 100-continue" round trip for large bodies.
    next = curl_slist_append (list, "Expect:");
    if (!next)
        goto nomem;
    return next;
nomem:
    curl_slist_free_all (list);
    return NULL;
}

static void
s_http_start (void *state, cab_target_task_t *task)
{
    s_http_t *self = (s_http_t *)state;
    cab_send_job_t *job = task->job;
    const cab_rule_target_t *target = job->target;
    if (!target->url || !*target->url) {
        cab_target_fail (job, CAB_ERR_INVALID_ARGUMENT, true, "http target without url");
        self->env.done (task, self->env.arg);
        return;
    }
    s_request_t *request = (s_request_t *)calloc (1, sizeof *request);
    CURL *easy = NULL;
    if (request)
        easy = self->pool_size > 0 ? self->pool[--self->pool_size] : curl_easy_init ();
    struct curl_slist *headers = easy ? s_headers (target->headers) : NULL;
    if (!request || !easy || !headers) {
        if (easy)
            curl_easy_cleanup (easy);
        free (request);
        cab_target_fail (job, CAB_ERR_NOMEM, false, "out of memory starting a request");
        self->env.done (task, self->env.arg);
        return;
    }
    request->owner = self;
    request->task = task;
    request->easy = easy;
    request->headers = headers;
    request->timeout_ms =
        target->timeout_ms > 0 ? target->timeout_ms : CAB_TARGET_DEFAULT_TIMEOUT_MS;
    curl_easy_setopt (easy, CURLOPT_URL, target->url);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, job->payload ? job->payload : "");
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->size);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long)request->timeout_ms);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "cabruca/" PACKAGE_VERSION);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_write_cb);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, request);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, request->curl_error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, request);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    request->next = self->requests;
    if (self->requests)
        self->requests->prev = request;
    self->requests = request;
    task->backend = request;
    if (curl_multi_add_handle (self->multi, easy) != CURLM_OK) {
        cab_target_fail (job, CAB_ERR_IO, false, "cannot start the request");
        self->env.done (s_request_free (self, request), self->env.arg);
    }
}

static void *
s_http_create (const cab_target_env_t *env)
{
    s_http_t *self = (s_http_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->env = *env;
    self->global = curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK;
    self->multi = self->global ? curl_multi_init () : NULL;
    if (!self->multi) {
        if (self->global)
            curl_global_cleanup ();
        free (self);
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_socket_cb);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_timer_cb);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_MAXCONNECTS, 64L);
    return self;
}

static void
s_http_destroy (void **state_p)
{
    if (!state_p || !*state_p)
        return;
    s_http_t *self = (s_http_t *)*state_p;
    while (self->requests) {
        s_request_t *request = self->requests;
        cab_target_fail (request->task->job, CAB_ERR_DISCONNECTED, false,
                         "abandoned: the sender stopped");
        self->env.done (s_request_free (self, request), self->env.arg);
    }
    curl_multi_cleanup (self->multi);
    while (self->sockets) {
        s_socket_t *sock = self->sockets;
        s_poller_end (self, sock->fd);
        self->sockets = sock->next;
        free (sock);
    }
    if (self->timer_id)
        zloop_timer_end (self->env.loop, self->timer_id);
    while (self->pool_size > 0)
        curl_easy_cleanup (self->pool[--self->pool_size]);
    curl_global_cleanup ();
    free (self);
    *state_p = NULL;
}

const cab_target_ops_t cab_target_http_ops = {
    "http",        CAB_TARGET_HTTP, CAB_TARGET_HTTP_MAX_ACTIVE,
    s_http_create, s_http_destroy,  s_http_start,
};
