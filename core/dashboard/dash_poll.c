/*  =========================================================================
    dash_poll - what the dashboard asks the broker and the supervisor

    One thread asks, every poll_ms: the broker (cab_client: STATUS,
    CONTROL {"op":"budget"}, CONTROL {"op":"mirror-status"}), the
    supervisor (its control socket: "status"), and, only while the broker
    does not answer the mirror's status, the store (cab_store_mirror_stats
    on a read-only handle). Each answer is cached with the time it came; the
    API serves the cache and never waits for the broker. A question that
    fails leaves the member unavailable with the reason, until the next one
    succeeds. A broker that did not answer in time gets a new connection
    (a CONTROL-REPLY carries no tag: a late one must not answer the next).
    =========================================================================
*/
#include "config.h"
#include "dash.h"
#include "cab_store_mirror.h"
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ERROR_MAX 1024

typedef struct {
    json_t *document;  //  the last answer, or NULL
    bool ok;           //  the last question was answered
    char error[S_ERROR_MAX];
    int64_t ok_mono_ms;  //  when the last answer came (monotonic)
    int64_t ok_real_ms;  //  the same, wall clock
    int64_t asked;       //  questions asked
} s_member_t;

struct _dash_poll_t {
    dash_poll_config_t config;
    char *broker, *curve_cert, *server_cert, *supervisor, *store_path;
    pthread_t thread;
    bool started;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool stopping;  //  under mutex
    s_member_t members[DASH_POLL_COUNT_];
    //  Owned by the thread:
    cab_client_t *client;
    cab_store_t *store;
};

static int64_t
s_clock_ms (clockid_t clock)
{
    struct timespec now;
    clock_gettime (clock, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Record an answer (document stolen; NULL: error says why).
static void
s_set (dash_poll_t *self, dash_poll_member_t member, json_t *document, const char *error)
{
    pthread_mutex_lock (&self->mutex);
    s_member_t *slot = &self->members[member];
    slot->asked++;
    if (document) {
        json_decref (slot->document);
        slot->document = document;
        slot->ok = true;
        slot->error[0] = '\0';
        slot->ok_mono_ms = s_clock_ms (CLOCK_MONOTONIC);
        slot->ok_real_ms = s_clock_ms (CLOCK_REALTIME);
    } else {
        slot->ok = false;
        snprintf (slot->error, sizeof slot->error, "%s", error ? error : "no answer");
    }
    pthread_mutex_unlock (&self->mutex);
}

static void
s_client_open (dash_poll_t *self, cab_error_t *error)
{
    self->client = cab_client_new (self->broker, NULL, error);
    if (self->client && self->curve_cert &&
        cab_client_set_curve (self->client, self->curve_cert, self->server_cert, error) != CAB_OK)
        cab_client_destroy (&self->client);
}

//  One CONTROL question; returns the new reply (without "ok") or NULL with
//  the reason in message.
static json_t *
s_control (dash_poll_t *self, const char *op, char *message, size_t size)
{
    json_t *request = json_pack ("{s:s}", "op", op);
    json_t *reply = NULL;
    cab_error_t error;
    cab_error_clear (&error);
    cab_status_t status = request ? cab_client_control (self->client, request, &reply,
                                                        self->config.timeout_ms, &error)
                                  : CAB_ERR_NOMEM;
    json_decref (request);
    if (status != CAB_OK) {
        snprintf (message, size, "the broker did not answer {\"op\":\"%s\"}: %s [%s]", op,
                  error.text, cab_status_name (status));
        //  A late reply would answer the next question: start afresh.
        cab_client_destroy (&self->client);
        return NULL;
    }
    if (!json_is_true (json_object_get (reply, "ok"))) {
        snprintf (message, size, "the broker refused {\"op\":\"%s\"}: %s: %s", op,
                  json_string_value (json_object_get (reply, "error"))
                      ? json_string_value (json_object_get (reply, "error"))
                      : "?",
                  json_string_value (json_object_get (reply, "message"))
                      ? json_string_value (json_object_get (reply, "message"))
                      : "");
        json_decref (reply);
        return NULL;
    }
    json_object_del (reply, "ok");
    return reply;
}

static void
s_ask_broker (dash_poll_t *self)
{
    char message[S_ERROR_MAX];
    if (!self->broker) {
        const char *none = "no broker in the dashboard's configuration (\"broker\")";
        s_set (self, DASH_POLL_STATUS, NULL, none);
        s_set (self, DASH_POLL_BUDGET, NULL, none);
        s_set (self, DASH_POLL_MIRROR, NULL, none);
        return;
    }
    cab_error_t error;
    cab_error_clear (&error);
    if (!self->client)
        s_client_open (self, &error);
    json_t *status = NULL;
    if (self->client &&
        cab_client_status (self->client, &status, self->config.timeout_ms, &error) != CAB_OK) {
        status = NULL;
        cab_client_destroy (&self->client);
    }
    if (!status) {
        if (error.text[0])
            snprintf (message, sizeof message, "%s [%s]", error.text, cab_status_name (error.code));
        else
            snprintf (message, sizeof message, "the broker at %s did not answer", self->broker);
        s_set (self, DASH_POLL_STATUS, NULL, message);
        s_set (self, DASH_POLL_BUDGET, NULL, message);
        s_set (self, DASH_POLL_MIRROR, NULL, message);
        return;
    }
    s_set (self, DASH_POLL_STATUS, status, NULL);
    pthread_mutex_lock (&self->mutex);
    bool stopping = self->stopping;
    pthread_mutex_unlock (&self->mutex);
    if (stopping)
        return;
    json_t *budget = s_control (self, "budget", message, sizeof message);
    s_set (self, DASH_POLL_BUDGET, budget, message);
    json_t *mirror =
        self->client ? s_control (self, "mirror-status", message, sizeof message) : NULL;
    if (!self->client && !mirror)
        snprintf (message, sizeof message, "the broker at %s stopped answering", self->broker);
    s_set (self, DASH_POLL_MIRROR, mirror, message);
}

//  The mirror's figures from the store (while the broker does not say).
static void
s_ask_store (dash_poll_t *self)
{
    cab_error_t error;
    cab_error_clear (&error);
    if (!self->store)
        self->store = cab_store_new_readonly (self->store_path, &error);
    cab_mirror_store_stats_t stats;
    memset (&stats, 0, sizeof stats);
    if (self->store &&
        cab_store_mirror_stats (self->store, s_clock_ms (CLOCK_REALTIME), &stats, &error) != CAB_OK)
        cab_store_destroy (&self->store);
    if (!self->store) {
        char message[S_ERROR_MAX];
        snprintf (message, sizeof message, "the store's mirror figures cannot be read: %s [%s]",
                  error.text, cab_status_name (error.code));
        s_set (self, DASH_POLL_MIRROR_STORE, NULL, message);
        return;
    }
    //  The budget's counters as last saved with the outcomes (the broker
    //  keeps them in the store): month-to-date while the broker is silent.
    json_t *saved = NULL;
    cab_error_t ignored;
    if (cab_store_budget_state (self->store, &saved, &ignored) != CAB_OK)
        saved = NULL;
    json_t *month = json_object_get (saved, "month");
    json_t *window = json_object_get (json_object_get (saved, "windows"), "month");
    json_t *budget = NULL;
    if (json_is_object (month) && json_is_integer (window)) {
        char start[40];
        dash_iso8601 (json_integer_value (window), start, sizeof start);
        budget =
            json_pack ("{s:s, s:O?, s:f, s:O?, s:O?, s:O?}", "month_start", start, "events",
                       json_object_get (month, "entries"), "cost_usd",
                       (double)json_integer_value (json_object_get (month, "cost_pusd")) / 1e12,
                       "deferred", json_object_get (month, "deferred"), "sampled",
                       json_object_get (month, "sampled"), "shed", json_object_get (month, "shed"));
    }
    json_decref (saved);
    json_t *document = json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o?}", "outbox",
        (json_int_t)stats.outbox, "deferred", (json_int_t)stats.deferred, "failed",
        (json_int_t)stats.failed, "due", (json_int_t)stats.due, "oldest_received_ms",
        (json_int_t)stats.oldest_received_ms, "lag_ms", (json_int_t)stats.lag_ms, "accepted",
        (json_int_t)stats.accepted, "dry_run", (json_int_t)stats.dry_run, "dead",
        (json_int_t)stats.dead, "sampled", (json_int_t)stats.sampled, "shed",
        (json_int_t)stats.shed, "dlq_depth", (json_int_t)stats.dlq_depth, "budget_saved", budget);
    s_set (self, DASH_POLL_MIRROR_STORE, document, "out of memory");
}

static void
s_ask_supervisor (dash_poll_t *self)
{
    if (!self->supervisor) {
        s_set (self, DASH_POLL_SUPERVISOR, NULL,
               "no supervisor in the dashboard's configuration (\"supervisor\")");
        return;
    }
    char message[S_ERROR_MAX];
    zsock_t *socket = zsock_new (ZMQ_REQ);
    char *reply = NULL;
    if (socket && zsock_connect (socket, "%s", self->supervisor) == 0) {
        zsock_set_linger (socket, 0);
        zsock_set_rcvtimeo (socket, self->config.timeout_ms);
        zsock_set_sndtimeo (socket, self->config.timeout_ms);
        if (zstr_send (socket, "status") == 0)
            reply = zstr_recv (socket);
    }
    zsock_destroy (&socket);
    json_t *document = reply ? json_loads (reply, 0, NULL) : NULL;
    zstr_free (&reply);
    if (document && json_is_true (json_object_get (document, "ok")) &&
        json_is_object (json_object_get (document, "programs"))) {
        json_object_del (document, "ok");
        s_set (self, DASH_POLL_SUPERVISOR, document, NULL);
        return;
    }
    if (document)
        snprintf (message, sizeof message, "the supervisor at %s refused: %s", self->supervisor,
                  json_string_value (json_object_get (document, "text"))
                      ? json_string_value (json_object_get (document, "text"))
                      : "not a status reply");
    else
        snprintf (message, sizeof message, "the supervisor at %s did not answer within %d ms",
                  self->supervisor, self->config.timeout_ms);
    json_decref (document);
    s_set (self, DASH_POLL_SUPERVISOR, NULL, message);
}

static void *
s_run (void *arg)
{
    dash_poll_t *self = arg;
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        pthread_mutex_unlock (&self->mutex);
        int64_t started = s_clock_ms (CLOCK_MONOTONIC);
        s_ask_broker (self);
        pthread_mutex_lock (&self->mutex);
        bool mirror_ok = self->members[DASH_POLL_MIRROR].ok;
        //  Stop between questions: each may wait up to timeout_ms.
        bool stopping = self->stopping;
        pthread_mutex_unlock (&self->mutex);
        if (stopping) {
            pthread_mutex_lock (&self->mutex);
            break;
        }
        if (!mirror_ok)
            s_ask_store (self);
        else
            cab_store_destroy (&self->store);
        s_ask_supervisor (self);
        //  Sleep what is left of the interval, or until told to stop.
        int64_t due = started + self->config.interval_ms;
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        int64_t wait_ms = due - s_clock_ms (CLOCK_MONOTONIC);
        if (wait_ms < 50)
            wait_ms = 50;
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock (&self->mutex);
        while (!self->stopping && pthread_cond_timedwait (&self->wake, &self->mutex, &until) == 0)
            ;
    }
    pthread_mutex_unlock (&self->mutex);
    cab_client_destroy (&self->client);
    cab_store_destroy (&self->store);
    return NULL;
}

static char *
s_strdup (const char *text, bool *failed)
{
    if (!text || !*text)
        return NULL;
    char *copy = strdup (text);
    if (!copy)
        *failed = true;
    return copy;
}

dash_poll_t *
dash_poll_new (const dash_poll_config_t *config, cab_error_t *error)
{
    dash_poll_t *self = calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->config = *config;
    if (self->config.interval_ms <= 0)
        self->config.interval_ms = DASH_POLL_DEFAULT_MS;
    if (self->config.timeout_ms <= 0)
        self->config.timeout_ms = 1000;
    bool failed = false;
    self->broker = s_strdup (config->broker, &failed);
    self->curve_cert = s_strdup (config->curve_cert, &failed);
    self->server_cert = s_strdup (config->server_cert, &failed);
    self->supervisor = s_strdup (config->supervisor, &failed);
    self->store_path = s_strdup (config->store_path, &failed);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init (&attributes);
    pthread_condattr_setclock (&attributes, CLOCK_MONOTONIC);
    pthread_cond_init (&self->wake, &attributes);
    pthread_condattr_destroy (&attributes);
    for (int member = 0; member < DASH_POLL_COUNT_; member++)
        snprintf (self->members[member].error, S_ERROR_MAX, "%s", "not asked yet");
    if (failed || !self->store_path) {
        cab_error_set (error, failed ? CAB_ERR_NOMEM : CAB_ERR_INVALID_ARGUMENT, NULL,
                       failed ? "out of memory" : "the poller needs the store's path");
        dash_poll_destroy (&self);
        return NULL;
    }
    if (pthread_create (&self->thread, NULL, s_run, self) != 0) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot start the poller thread");
        dash_poll_destroy (&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void
dash_poll_destroy (dash_poll_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dash_poll_t *self = *self_p;
    if (self->started) {
        pthread_mutex_lock (&self->mutex);
        self->stopping = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->thread, NULL);
    }
    for (int member = 0; member < DASH_POLL_COUNT_; member++)
        json_decref (self->members[member].document);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->mutex);
    free (self->broker);
    free (self->curve_cert);
    free (self->server_cert);
    free (self->supervisor);
    free (self->store_path);
    free (self);
    *self_p = NULL;
}

json_t *
dash_poll_get (dash_poll_t *self, dash_poll_member_t member)
{
    if (!self || member < 0 || member >= DASH_POLL_COUNT_)
        return json_pack ("{s:b, s:s}", "available", 0, "error", "not polled");
    pthread_mutex_lock (&self->mutex);
    s_member_t *slot = &self->members[member];
    json_t *answer = slot->ok ? json_deep_copy (slot->document)
                              : json_pack ("{s:b, s:s}", "available", 0, "error", slot->error);
    int64_t ok_mono = slot->ok_mono_ms, ok_real = slot->ok_real_ms;
    bool ok = slot->ok;
    pthread_mutex_unlock (&self->mutex);
    if (!answer)
        return NULL;
    char updated[40];
    if (ok) {
        json_object_set_new (answer, "available", json_true ());
        json_object_set_new (answer, "age_ms",
                             json_integer (s_clock_ms (CLOCK_MONOTONIC) - ok_mono));
    }
    if (ok_real) {
        dash_iso8601 (ok_real, updated, sizeof updated);
        json_object_set_new (answer, ok ? "updated" : "last_answer", json_string (updated));
    }
    return answer;
}
