/*  =========================================================================
    cab_agent - the skeleton every cabruca agent runs on (cab_agent.h)
    =========================================================================
*/
#include "cab_agent.h"
#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

//  How often the client's own timers run, ms (heartbeats are 1 s apart).
#define S_CLIENT_TICK_MS 100

typedef struct {
    int id;
    bool active;
    int64_t interval_ms;
    cab_agent_timer_fn *fn;
    void *arg;
    int loop_id;  //  Its zloop timer while the agent runs, else -1
    struct _cab_agent_t *agent;
} s_timer_t;

typedef struct {
    cab_agent_t *agent;
    cab_agent_handler_fn *fn;
    void *arg;
    bool used;
} s_subscription_t;

struct _cab_agent_t {
    char id[65];
    cab_client_t *client;
    int notify_fd;
    bool ready;
    bool stop;
    cab_log_level_t level;
    s_timer_t timers[CAB_AGENT_MAX_TIMERS];
    int next_timer_id;
    s_subscription_t subscriptions[CAB_AGENT_MAX_SUBSCRIPTIONS];
    cab_event_t *cause;  //  The delivered event, inside a handler
    cab_agent_stats_t stats;
    zloop_t *loop;  //  While cab_agent_run runs
    void *socket;   //  The client socket the loop reads, or NULL
};

static const char *s_level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};

static void
s_vlog (cab_agent_t *self, cab_log_level_t level, const char *format, va_list args)
{
    if (level < self->level || level > CAB_LOG_ERROR)
        return;
    char message[2001];
    vsnprintf (message, sizeof message, format, args);
    for (char *c = message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    char now[CAB_TIME_LENGTH + 1];
    fprintf (stderr, "%s %s %s: %s\n", cab_time_now (now), s_level_names[level], self->id, message);
}

void
cab_agent_log (cab_agent_t *self, cab_log_level_t level, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_vlog (self, level, format, args);
    va_end (args);
}

static void
s_on_result (const cab_client_result_t *result, void *arg)
{
    cab_agent_t *self = (cab_agent_t *)arg;
    if (result->code == CAB_OK) {
        self->stats.acked++;
        return;
    }
    self->stats.nacked++;
    cab_agent_log (self, CAB_LOG_ERROR, "event %s refused: %s%s%s: %s",
                   *result->event_id ? result->event_id : "(no id)", cab_status_name (result->code),
                   *result->path ? " at " : "", result->path, result->text);
}

cab_agent_t *
cab_agent_new (const char *agent_id, const char *endpoint, cab_error_t *error)
{
    if (!agent_id || !*agent_id || strlen (agent_id) > 64) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                       "an agent id is 1 to 64 of A-Z a-z 0-9 . _ -");
        return NULL;
    }
    cab_agent_t *self = (cab_agent_t *)calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->client = cab_client_new (endpoint, agent_id, error);
    if (!self->client) {
        free (self);
        return NULL;
    }
    snprintf (self->id, sizeof self->id, "%s", agent_id);
    //  CURVE (docs/security.md): both certificates from the environment.
    const char *client_cert = getenv ("CABRUCA_CURVE_CERT");
    const char *server_cert = getenv ("CABRUCA_SERVER_CERT");
    if ((client_cert && *client_cert) != (server_cert && *server_cert)) {
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                       "set both CABRUCA_CURVE_CERT and CABRUCA_SERVER_CERT, or neither");
        cab_client_destroy (&self->client);
        free (self);
        return NULL;
    }
    if (client_cert && *client_cert &&
        cab_client_set_curve (self->client, client_cert, server_cert, error) != CAB_OK) {
        cab_client_destroy (&self->client);
        free (self);
        return NULL;
    }
    self->notify_fd = -1;
    self->level = CAB_LOG_INFO;
    cab_client_set_handler (self->client, s_on_result, self);
    return self;
}

void
cab_agent_destroy (cab_agent_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_agent_t *self = *self_p;
    cab_client_destroy (&self->client);
    if (self->notify_fd >= 0)
        close (self->notify_fd);
    free (self);
    *self_p = NULL;
}

const char *
cab_agent_id (cab_agent_t *self)
{
    return self->id;
}

cab_client_t *
cab_agent_client (cab_agent_t *self)
{
    return self->client;
}

void
cab_agent_set_notify_fd (cab_agent_t *self, int fd)
{
    self->notify_fd = fd;
}

void
cab_agent_set_log_level (cab_agent_t *self, cab_log_level_t level)
{
    self->level = level;
}

static void s_arm (cab_agent_t *self, s_timer_t *timer);

int
cab_agent_every (cab_agent_t *self, int64_t interval_ms, cab_agent_timer_fn *fn, void *arg)
{
    if (!fn || interval_ms < 1 || interval_ms > 86400000)
        return -1;
    for (size_t index = 0; index < CAB_AGENT_MAX_TIMERS; index++) {
        s_timer_t *timer = &self->timers[index];
        if (timer->active)
            continue;
        *timer = (s_timer_t){.id = self->next_timer_id++,
                             .active = true,
                             .interval_ms = interval_ms,
                             .fn = fn,
                             .arg = arg,
                             .loop_id = -1,
                             .agent = self};
        if (self->loop)
            s_arm (self, timer);
        return timer->id;
    }
    return -1;
}

cab_status_t
cab_agent_cancel (cab_agent_t *self, int timer_id)
{
    for (size_t index = 0; index < CAB_AGENT_MAX_TIMERS; index++) {
        s_timer_t *timer = &self->timers[index];
        if (timer->active && timer->id == timer_id) {
            if (self->loop && timer->loop_id >= 0)
                zloop_timer_end (self->loop, timer->loop_id);
            timer->active = false;
            timer->loop_id = -1;
            return CAB_OK;
        }
    }
    return CAB_ERR_NOT_FOUND;
}

static int
s_on_delivery (cab_client_t *client, const cab_client_delivery_t *delivery, void *arg)
{
    (void)client;
    s_subscription_t *subscription = (s_subscription_t *)arg;
    cab_agent_t *self = subscription->agent;
    cab_event_t *event = cab_event_load (delivery->text, delivery->size, NULL);
    self->cause = event;
    int rc = subscription->fn (self, event, delivery, subscription->arg);
    self->cause = NULL;
    cab_event_destroy (&event);
    if (rc == 0)
        self->stats.delivered++;
    else if (rc == CAB_AGENT_LATER)
        ;  //  Counted when settled
    else {
        self->stats.refused++;
        cab_agent_log (self, CAB_LOG_WARNING,
                       "delivery %llu from %s refused by its handler (attempt %d)",
                       (unsigned long long)delivery->delivery, delivery->queue, delivery->attempt);
    }
    return rc;
}

cab_status_t
cab_agent_subscribe (cab_agent_t *self, const char *queue, const json_t *options,
                     cab_agent_handler_fn *fn, void *arg, cab_error_t *error)
{
    if (!fn)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "a handler is required");
    s_subscription_t *slot = NULL;
    for (size_t index = 0; index < CAB_AGENT_MAX_SUBSCRIPTIONS && !slot; index++)
        if (!self->subscriptions[index].used)
            slot = &self->subscriptions[index];
    if (!slot)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "at most %d subscriptions per agent", CAB_AGENT_MAX_SUBSCRIPTIONS);
    *slot = (s_subscription_t){.agent = self, .fn = fn, .arg = arg, .used = true};
    cab_status_t status =
        cab_client_subscribe (self->client, queue, options, s_on_delivery, slot, 0, error);
    if (status != CAB_OK) {
        slot->used = false;
        return status;
    }
    cab_agent_log (self, CAB_LOG_DEBUG, "subscribing to %s", queue);
    return CAB_OK;
}

cab_status_t
cab_agent_settle (cab_agent_t *self, uint64_t delivery, bool ack, cab_error_t *error)
{
    cab_status_t status = cab_client_settle (self->client, delivery, ack, error);
    if (status == CAB_OK) {
        if (ack)
            self->stats.delivered++;
        else
            self->stats.refused++;
    }
    return status;
}

cab_status_t
cab_agent_publish (cab_agent_t *self, cab_event_t **event_p, int timeout_ms, cab_error_t *error)
{
    if (!event_p || !*event_p)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no event");
    cab_event_t *event = *event_p;
    cab_status_t status = CAB_OK;
    if (!cab_event_agent_id (event) || !*cab_event_agent_id (event))
        status = cab_event_set_agent_id (event, self->id);
    if (status == CAB_OK && self->cause && !cab_event_causation_id (event))
        status = cab_event_set_cause (event, self->cause);
    if (status != CAB_OK) {
        cab_event_destroy (event_p);
        return cab_error_set (error, status, NULL, "cannot prepare the event");
    }
    status = cab_event_check (event, error);
    if (status != CAB_OK) {
        cab_event_destroy (event_p);
        return status;
    }
    //  Inside a handler the client may not wait.
    status = cab_client_publish (self->client, event_p, self->cause ? 0 : timeout_ms, error);
    if (status == CAB_OK)
        self->stats.published++;
    return status;
}

cab_status_t
cab_agent_publish_batch (cab_agent_t *self, cab_event_t **events, size_t count, int timeout_ms,
                         size_t *published_p, cab_error_t *error)
{
    size_t published = 0;
    cab_status_t status = CAB_OK;
    for (size_t index = 0; index < count; index++) {
        if (status == CAB_OK) {
            status = cab_agent_publish (self, &events[index], timeout_ms, error);
            if (status == CAB_OK)
                published++;
        } else
            cab_event_destroy (&events[index]);
    }
    if (published_p)
        *published_p = published;
    return status;
}

static void
s_check_ready (cab_agent_t *self)
{
    if (self->ready || !cab_client_connected (self->client))
        return;
    self->ready = true;
    cab_agent_log (self, CAB_LOG_INFO, "ready: connected to the broker");
    if (self->notify_fd >= 0) {
        ssize_t written;
        do
            written = write (self->notify_fd, "\n", 1);
        while (written < 0 && errno == EINTR);
        if (written != 1)
            cab_agent_log (self, CAB_LOG_WARNING, "cannot write the readiness line: %s",
                           strerror (errno));
        close (self->notify_fd);
        self->notify_fd = -1;
    }
}

static int s_on_input (zloop_t *loop, zsock_t *reader, void *arg);

//  After anything that may have called into the client: the client makes
//  a new socket when it reconnects, so the loop follows it; and the agent
//  may have become ready. Returns -1 to end the loop (a stop request).
static int
s_after (cab_agent_t *self)
{
    void *socket = cab_client_socket (self->client);
    if (socket != self->socket) {
        if (self->socket)
            zloop_reader_end (self->loop, (zsock_t *)self->socket);
        self->socket = NULL;
        if (socket && zloop_reader (self->loop, (zsock_t *)socket, s_on_input, self) == 0)
            self->socket = socket;
    }
    s_check_ready (self);
    return self->stop ? -1 : 0;
}

//  Input from the broker: results and deliveries, handled by the client.
static int
s_on_input (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void)loop;
    (void)reader;
    cab_agent_t *self = (cab_agent_t *)arg;
    cab_client_poll (self->client, 0);
    return s_after (self);
}

//  The client's own timers: heartbeats, reconnection with backoff.
static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    cab_agent_t *self = (cab_agent_t *)arg;
    cab_client_poll (self->client, 0);
    return s_after (self);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)timer_id;
    s_timer_t *timer = (s_timer_t *)arg;
    cab_agent_t *self = timer->agent;
    if (timer->active) {
        self->stats.timer_runs++;
        if (timer->fn (self, timer->arg) != 0 && timer->active) {
            zloop_timer_end (loop, timer->loop_id);  //  It returned -1: cancelled
            timer->active = false;
            timer->loop_id = -1;
        }
    }
    return s_after (self);
}

static void
s_arm (cab_agent_t *self, s_timer_t *timer)
{
    timer->loop_id = zloop_timer (self->loop, (size_t)timer->interval_ms, 0, s_on_timer, timer);
    if (timer->loop_id < 0) {
        cab_agent_log (self, CAB_LOG_ERROR, "cannot arm a timer of %lld ms",
                       (long long)timer->interval_ms);
        timer->active = false;
    }
}

cab_status_t
cab_agent_run (cab_agent_t *self, int drain_ms)
{
    self->stop = false;
    self->loop = zloop_new ();
    if (!self->loop) {
        cab_agent_log (self, CAB_LOG_ERROR, "cannot make an event loop");
        return CAB_ERR_NOMEM;
    }
    //  zloop ends on SIGINT and SIGTERM (czmq's interrupt handling).
    for (size_t index = 0; index < CAB_AGENT_MAX_TIMERS; index++)
        if (self->timers[index].active)
            s_arm (self, &self->timers[index]);
    zloop_timer (self->loop, S_CLIENT_TICK_MS, 0, s_on_tick, self);
    if (s_after (self) == 0 && !zsys_interrupted)
        zloop_start (self->loop);
    zloop_destroy (&self->loop);
    self->socket = NULL;
    for (size_t index = 0; index < CAB_AGENT_MAX_TIMERS; index++)
        self->timers[index].loop_id = -1;
    cab_agent_log (self, CAB_LOG_INFO, "stopping: %llu published, %llu acknowledged",
                   (unsigned long long)self->stats.published,
                   (unsigned long long)self->stats.acked);
    cab_error_t error = {0};
    if (cab_client_flush (self->client, drain_ms, &error) != CAB_OK) {
        cab_agent_log (self, CAB_LOG_ERROR, "%zu events still unacknowledged: %s",
                       cab_client_in_flight (self->client), error.text);
        return CAB_ERR_TIMEOUT;
    }
    return CAB_OK;
}

void
cab_agent_stop (cab_agent_t *self)
{
    self->stop = true;
}

cab_agent_stats_t
cab_agent_stats (cab_agent_t *self)
{
    return self->stats;
}

static int
s_usage_error (const char *type, const char *message, const char *value)
{
    fprintf (stderr, "cabruca-%s: %s: '%s' (see --help)\n", type, message, value);
    return 2;
}

static bool
s_id_valid (const char *id)
{
    size_t length = strlen (id);
    if (length < 1 || length > 64)
        return false;
    for (const char *c = id; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

int
cab_agent_parse_args (int argc, char **argv, const char *type, const char *usage,
                      cab_agent_args_t *args)
{
    static char default_id[80];
    memset (args, 0, sizeof *args);
    args->notify_fd = -1;
    args->log_level = CAB_LOG_INFO;
    for (int index = 1; index < argc; index++) {
        const char *arg = argv[index];
        if (streq (arg, "--help") || streq (arg, "-h")) {
            printf ("usage: cabruca-%s [--config FILE] [--agent-id ID] [--broker ENDPOINT]\n"
                    "       [--notify-fd N] [--log-level debug|info|warning|error]\n\n"
                    "--config FILE     JSON settings: the member \"%s\" holds this agent's,\n"
                    "                  the top-level \"broker\" the endpoint\n"
                    "--agent-id ID     default: the config's agent_id, else %s-001\n"
                    "--broker ENDPOINT default: the config's, else $CABRUCA_BROKER, else %s\n"
                    "--notify-fd N     write a readiness line on fd N once connected\n"
                    "--log-level L     default info\n\n%s",
                    type, type, type, CAB_CLIENT_DEFAULT_ENDPOINT, usage ? usage : "");
            return 0;
        }
        if (index + 1 >= argc)
            return s_usage_error (type, "option needs a value", arg);
        const char *value = argv[++index];
        if (streq (arg, "--config"))
            args->config_path = value;
        else if (streq (arg, "--agent-id")) {
            if (!s_id_valid (value))
                return s_usage_error (type, "bad agent id (1 to 64 of A-Z a-z 0-9 . _ -)", value);
            args->agent_id = value;
        } else if (streq (arg, "--broker"))
            args->endpoint = value;
        else if (streq (arg, "--notify-fd")) {
            char *end = NULL;
            long fd = strtol (value, &end, 10);
            if (!*value || *end || fd < 0 || fd > 1023)
                return s_usage_error (type, "bad --notify-fd (0 to 1023)", value);
            args->notify_fd = (int)fd;
        } else if (streq (arg, "--log-level")) {
            int level = -1;
            for (int known = 0; known <= CAB_LOG_ERROR; known++)
                if (strcasecmp (value, s_level_names[known]) == 0)
                    level = known;
            if (level < 0)
                return s_usage_error (type, "bad --log-level (debug, info, warning, error)", value);
            args->log_level = (cab_log_level_t)level;
        } else
            return s_usage_error (type, "unknown option", arg);
    }
    if (args->config_path) {
        json_error_t jerror;
        args->file = json_load_file (args->config_path, JSON_REJECT_DUPLICATES, &jerror);
        if (!json_is_object (args->file)) {
            fprintf (stderr, "cabruca-%s: %s: %s\n", type, args->config_path,
                     args->file ? "not a JSON object" : jerror.text);
            cab_agent_args_release (args);
            return 2;
        }
        json_t *broker = json_object_get (args->file, "broker");
        if (broker && !json_is_string (broker)) {
            fprintf (stderr, "cabruca-%s: %s: /broker must be a string\n", type, args->config_path);
            cab_agent_args_release (args);
            return 2;
        }
        if (!args->endpoint && broker)
            args->endpoint = json_string_value (broker);
        args->config = json_object_get (args->file, type);
        if (args->config && !json_is_object (args->config)) {
            fprintf (stderr, "cabruca-%s: %s: /%s must be an object\n", type, args->config_path,
                     type);
            cab_agent_args_release (args);
            return 2;
        }
    }
    if (!args->config) {
        args->config = json_object ();
        if (args->file)
            json_object_set_new (args->file, type, args->config);
        else {
            args->file = json_object ();
            json_object_set_new (args->file, type, args->config);
        }
    }
    if (!args->agent_id) {
        json_t *id = json_object_get (args->config, "agent_id");
        if (id && (!json_is_string (id) || !s_id_valid (json_string_value (id)))) {
            fprintf (stderr, "cabruca-%s: /%s/agent_id: 1 to 64 of A-Z a-z 0-9 . _ -\n", type,
                     type);
            cab_agent_args_release (args);
            return 2;
        }
        if (id)
            args->agent_id = json_string_value (id);
        else {
            snprintf (default_id, sizeof default_id, "%s-001", type);
            args->agent_id = default_id;
        }
    }
    return -1;
}

void
cab_agent_args_release (cab_agent_args_t *args)
{
    json_decref (args->file);
    args->file = NULL;
    args->config = NULL;
}

cab_agent_t *
cab_agent_new_from_args (const cab_agent_args_t *args, cab_error_t *error)
{
    cab_agent_t *self = cab_agent_new (args->agent_id, args->endpoint, error);
    if (self) {
        cab_agent_set_notify_fd (self, args->notify_fd);
        cab_agent_set_log_level (self, args->log_level);
    }
    return self;
}
