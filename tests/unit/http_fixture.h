/*  =========================================================================
    http_fixture - a small HTTP/1.1 server for tests, on 127.0.0.1:0

    Runs in threads of the test process (one accepting, one per
    connection), keeps connections alive, answers every request with the
    next scripted response (http_fixture_push) or else the default one
    (http_fixture_set), after an optional delay, and records what it got:
    method, path, raw headers, body, the connection it came on and when.
    =========================================================================
*/
#ifndef HTTP_FIXTURE_H_INCLUDED
#define HTTP_FIXTURE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _http_fixture_t http_fixture_t;

//  One recorded request (a copy; free with http_fixture_request_clear).
typedef struct {
    char method[16];
    char path[256];
    char *headers;      //  the header lines as received, NUL-terminated
    char *body;         //  NUL-terminated (body_size bytes before the NUL)
    size_t body_size;
    int connection;     //  1-based number of the connection it came on
    int64_t at_us;      //  CLOCK_MONOTONIC arrival time, microseconds
} http_fixture_request_t;

//  Start a server on 127.0.0.1 with a free port; NULL on failure. The
//  default response is 200 with body "ok" and no delay.
http_fixture_t *
    http_fixture_new (void);

//  Stop the server (threads joined, connections closed) and free it.
void
    http_fixture_destroy (http_fixture_t **self_p);

//  The port it listens on.
int
    http_fixture_port (http_fixture_t *self);

//  Write "http://127.0.0.1:PORT<path>" into buffer; returns buffer.
char *
    http_fixture_url (http_fixture_t *self, const char *path, char *buffer, size_t size);

//  Set the default response: status, delay before answering, body (copied).
void
    http_fixture_set (http_fixture_t *self, int status, int delay_ms, const char *body);

//  Queue a one-shot response used by the next request that arrives.
void
    http_fixture_push (http_fixture_t *self, int status, int delay_ms, const char *body);

//  Requests received so far.
size_t
    http_fixture_count (http_fixture_t *self);

//  Connections accepted so far.
int
    http_fixture_connections (http_fixture_t *self);

//  Wait until at least `count` requests arrived, up to timeout_ms. Returns
//  true when they did.
bool
    http_fixture_wait (http_fixture_t *self, size_t count, int timeout_ms);

//  Copy request `index` (0-based, arrival order) into *request. Returns
//  false when there is no such request.
bool
    http_fixture_request (http_fixture_t *self, size_t index, http_fixture_request_t *request);

//  Free the copies in a request.
void
    http_fixture_request_clear (http_fixture_request_t *request);

//  The value of header `name` (case-insensitive) in a request, copied into
//  buffer; NULL when absent.
const char *
    http_fixture_header (const http_fixture_request_t *request, const char *name, char *buffer,
                         size_t size);

#endif
