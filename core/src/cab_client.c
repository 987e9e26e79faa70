/*  =========================================================================
    cab_client - an agent's connection to the broker: pipelined publish,
    heartbeats, reconnection and re-sending of unacknowledged events.
    =========================================================================
*/
#include "cab_client.h"
#include "cab_proto.h"
#include "cab_pattern_internal.h"
#include "cab_textbuf.h"
#include <stdlib.h>
#include <string.h>

//  Until the broker's WELCOME says otherwise.
#define S_HEARTBEAT_MS   1000
#define S_TIMEOUT_MS     5000
#define S_HELLO_FIRST_MS 1000
#define S_HELLO_MAX_MS   8000
#define S_BUSY_RETRY_MS  50
#define S_HWM            200000
//  Event texts kept for reuse (cab_textbuf.h): at most this many, 4 KB each.
#define S_TEXT_POOL_MAX 256

typedef struct {
    uint64_t number;                 //  Publish number
    char tag[24];                    //  The number in decimal: unique in this client
    cabi_textbuf_t *text;            //  Event JSON (our reference; ZeroMQ's while sending)
    char id[CABI_PROTO_ID_MAX + 1];  //  "" when published as unchecked text
    bool sent;                       //  Sent in the current session
    bool waited;                     //  A cab_client_publish_wait is waiting for it
    void *handle;                    //  Our item in the pending list
} s_entry_t;

//  A subscription, kept across sessions.
typedef struct {
    char queue[CABI_PROTO_QUEUE_MAX + 1];
    char *options;  //  JSON text (owned), or NULL
    cab_client_deliver_fn *fn;
    void *arg;
    int answer;  //  0: none yet in this session, 1: SUBSCRIBED, -1: refused
    cab_error_t refusal;
    void *handle;  //  In the subscriptions list
} s_sub_t;

struct _cab_client_t {
    char *endpoint;
    char agent_id[CABI_PROTO_AGENT_MAX + 1];
    zsock_t *dealer;
    zlistx_t *pending;      //  s_entry_t, in publish order
    zhashx_t *by_tag;       //  tag -> s_entry_t (borrowed)
    cabi_textpool_t texts;  //  Released event texts, for the next publishes
    size_t window;          //  Ours
    size_t broker_window;   //  From WELCOME (0: unknown)
    size_t unsent;          //  Entries with !sent
    uint64_t next_tag;
    cab_client_result_fn *handler;
    void *handler_arg;
    bool welcomed;  //  Session open
    uint64_t sessions;
    int heartbeat_ms, timeout_ms;
    int hello_wait_ms;       //  Current HELLO deadline (backoff)
    int64_t hello_deadline;  //  When to give up waiting for WELCOME
    int64_t last_recv, next_heartbeat, next_retry;
    //  The one waiter of cab_client_publish_wait
    bool wait_done;
    cab_error_t wait_error;
    uint64_t wait_seq;
    json_t *status_reply;
    json_t *control_reply;
    zlistx_t *subs;         //  s_sub_t
    zhashx_t *later;        //  Delivery id (decimal) -> "1": answered later (cab_client_settle)
    zcert_t *curve_cert;    //  CURVE: our certificate (both keys), or NULL
    char curve_server[41];  //  CURVE: the broker's public key, Z85
    char refused[160];      //  Why the broker refused our last HELLO, or ""
};

static void
s_sub_destroy (void **item_p)
{
    s_sub_t *sub = (s_sub_t *)*item_p;
    if (sub) {
        free (sub->options);
        free (sub);
        *item_p = NULL;
    }
}

static s_sub_t *
s_sub_find (cab_client_t *self, const char *queue)
{
    for (s_sub_t *sub = (s_sub_t *)zlistx_first (self->subs); sub;
         sub = (s_sub_t *)zlistx_next (self->subs))
        if (strcmp (sub->queue, queue) == 0)
            return sub;
    return NULL;
}

static void
s_entry_destroy (void **item_p)
{
    s_entry_t *entry = (s_entry_t *)*item_p;
    if (entry) {
        cabi_textbuf_release (&entry->text, NULL);
        free (entry);
        *item_p = NULL;
    }
}

static cab_status_t
s_socket_open (cab_client_t *self, cab_error_t *error)
{
    zsock_destroy (&self->dealer);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->dealer)
        return cab_error_set (error, CAB_ERR_IO, NULL, "cannot create a DEALER socket");
    zsock_set_sndhwm (self->dealer, S_HWM);
    zsock_set_rcvhwm (self->dealer, S_HWM);
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_rcvtimeo (self->dealer, 0);
    zsock_set_linger (self->dealer, 0);
    zsock_set_reconnect_ivl (self->dealer, 100);
    zsock_set_reconnect_ivl_max (self->dealer, 2000);
    if (self->curve_cert) {
        zcert_apply (self->curve_cert, self->dealer);
        zsock_set_curve_serverkey (self->dealer, self->curve_server);
    }
    if (zsock_connect (self->dealer, "%s", self->endpoint) != 0) {
        zsock_destroy (&self->dealer);
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "cannot connect to '%s': %s",
                              self->endpoint, zmq_strerror (errno));
    }
    return CAB_OK;
}

//  Send a message now or not at all (the caller keeps what must be retried).
static bool
s_send (cab_client_t *self, zmsg_t **msg_p)
{
    if (!*msg_p || !self->dealer) {
        zmsg_destroy (msg_p);
        return false;
    }
    bool sent = zmsg_send (msg_p, self->dealer) == 0;
    zmsg_destroy (msg_p);
    return sent;
}

//  Answer a delivery: DACK, or DNACK with a reason (as parts: no zmsg_t).
static void
s_send_dack (cab_client_t *self, bool ack, uint64_t delivery, const char *reason)
{
    cabi_proto_t msg = {.command = ack ? CABI_PROTO_DACK : CABI_PROTO_DNACK, .delivery = delivery};
    cabi_proto_copy (msg.text, sizeof msg.text, reason);
    if (self->dealer)
        cabi_proto_send (zsock_resolve (self->dealer), NULL, 0, &msg);
}

//  Start a session: HELLO, then wait for WELCOME until the backoff deadline.
static void
s_hello (cab_client_t *self, int64_t now)
{
    self->welcomed = false;
    self->hello_deadline = now + self->hello_wait_ms;
    if (!self->agent_id[0])
        return;
    zmsg_t *msg = cabi_proto_new_hello (self->agent_id, "{\"client\":\"libcabruca\"}");
    s_send (self, &msg);
    self->next_heartbeat = now + self->heartbeat_ms;
}

//  Reconnect on a fresh socket, doubling the HELLO deadline each time.
static void
s_reconnect (cab_client_t *self, int64_t now)
{
    self->hello_wait_ms *= 2;
    if (self->hello_wait_ms > S_HELLO_MAX_MS)
        self->hello_wait_ms = S_HELLO_MAX_MS;
    if (s_socket_open (self, NULL) == CAB_OK)
        s_hello (self, now);
    else
        self->hello_deadline = now + self->hello_wait_ms;
    self->last_recv = now;
}

static void
s_send_entry (cab_client_t *self, s_entry_t *entry)
{
    if (entry->sent || !self->welcomed)
        return;
    //  The text goes without a copy: ZeroMQ holds a reference while it sends.
    zmq_msg_t event;
    if (self->dealer && cabi_textbuf_msg (entry->text, &event) == 0 &&
        cabi_proto_send_publish (zsock_resolve (self->dealer), entry->tag, &event) == 0) {
        entry->sent = true;
        self->unsent--;
    } else if (self->next_retry == 0)
        self->next_retry = zclock_mono () + S_BUSY_RETRY_MS;
}

//  Send every entry not sent in this session, in publish order.
static void
s_send_unsent (cab_client_t *self)
{
    for (s_entry_t *entry = (s_entry_t *)zlistx_first (self->pending);
         entry && self->unsent > 0 && self->welcomed;
         entry = (s_entry_t *)zlistx_next (self->pending))
        s_send_entry (self, entry);
}

static void
s_send_subscribe (cab_client_t *self, s_sub_t *sub)
{
    sub->answer = 0;
    if (!self->welcomed)
        return;  //  Sent when the session opens
    zmsg_t *msg = cabi_proto_new_subscribe (CABI_PROTO_SUBSCRIBE, sub->queue, sub->options);
    s_send (self, &msg);
}

//  The top-level "id" of an event's text into buffer ("" if none).
static void
s_event_id (const char *text, size_t size, char *buffer, size_t capacity)
{
    buffer[0] = 0;
    cabi_scan_t scan;
    cabi_scan_init (&scan, text, size, 64);
    if (cabi_scan_next (&scan) == CABI_TOK_OBJECT) {
        cabi_tok_t token;
        while ((token = cabi_scan_next (&scan)) == CABI_TOK_KEY) {
            bool is_id = scan.len == 2 && memcmp (scan.str, "id", 2) == 0;
            token = cabi_scan_next (&scan);
            if (is_id && token == CABI_TOK_STRING) {
                snprintf (buffer, capacity, "%.*s", (int)scan.len, scan.str);
                break;
            }
            if (!cabi_scan_skip (&scan, token))
                break;
        }
    }
    cabi_scan_fini (&scan);
}

//  A DELIVER: to the queue's handler, answered with DACK or DNACK.
static void
s_on_deliver (cab_client_t *self, const cabi_proto_t *msg)
{
    s_sub_t *sub = s_sub_find (self, msg->queue);
    int refused = 1;
    const char *reason = "not subscribed to this queue";
    if (sub && sub->fn) {
        //  The handler gets a terminated copy (the frame is not terminated).
        char *text = (char *)malloc (msg->body_size + 1);
        if (!text)
            reason = "out of memory";
        else {
            memcpy (text, msg->body, msg->body_size);
            text[msg->body_size] = 0;
            char id[CABI_PROTO_ID_MAX + 1];
            s_event_id (text, msg->body_size, id, sizeof id);
            cab_client_delivery_t delivery = {msg->delivery, msg->queue,     msg->attempt,
                                              text,          msg->body_size, id};
            refused = sub->fn (self, &delivery, sub->arg);
            reason = "refused by the consumer";
            free (text);
            if (refused == CAB_CLIENT_LATER) {
                char key[24];
                snprintf (key, sizeof key, "%" PRIu64, msg->delivery);
                if (zhashx_size (self->later) < CAB_CLIENT_LATER_MAX &&
                    zhashx_insert (self->later, key, (void *)"1") == 0)
                    return;  //  cab_client_settle answers
                if (zhashx_lookup (self->later, key))
                    return;  //  Delivered again while it waits: still one answer
                reason = "too many deliveries waiting for an answer";
            }
        }
    }
    s_send_dack (self, !refused, msg->delivery, refused ? reason : NULL);
}

static void
s_on_subscribed (cab_client_t *self, const cabi_proto_t *msg)
{
    s_sub_t *sub = s_sub_find (self, msg->queue);
    if (!sub)
        return;
    json_t *answer = json_loadb (msg->body, msg->body_size, 0, NULL);
    json_t *ok = json_object_get (answer, "ok");
    if (ok && !json_is_true (ok)) {
        json_int_t code = json_integer_value (json_object_get (answer, "code"));
        const char *path = json_string_value (json_object_get (answer, "path"));
        const char *text = json_string_value (json_object_get (answer, "message"));
        cab_error_set (&sub->refusal,
                       code > 0 && code < 65536 ? (cab_status_t)code : CAB_ERR_PROTOCOL, path, "%s",
                       text ? text : "subscription refused");
        sub->answer = -1;
    } else
        sub->answer = 1;
    json_decref (answer);
}

//  Finish an entry with a result: to the waiter or to the handler.
static void
s_resolve (cab_client_t *self, s_entry_t *entry, const cabi_proto_t *reply)
{
    bool ack = reply->command == CABI_PROTO_ACK;
    cab_client_result_t result = {
        .number = entry->number,
        .event_id = ack ? reply->event_id : entry->id,
        .seq = ack ? reply->seq : 0,
        .duplicate = ack && reply->duplicate,
        .code = ack ? CAB_OK : reply->code,
        .path = ack ? "" : reply->path,
        .text = ack ? "" : reply->text,
    };
    if (!entry->sent)
        self->unsent--;
    //  Out of the window first (the handler may publish), freed last (the
    //  result borrows its id).
    zhashx_delete (self->by_tag, entry->tag);
    void *item = zlistx_detach (self->pending, entry->handle);
    if (entry->waited) {
        self->wait_done = true;
        self->wait_seq = result.seq;
        cab_error_clear (&self->wait_error);
        if (!ack)
            cab_error_set (&self->wait_error, result.code, result.path, "%s", result.text);
    } else if (self->handler)
        self->handler (&result, self->handler_arg);
    cabi_textbuf_release (&entry->text, &self->texts);
    s_entry_destroy (&item);
}

static void
s_on_welcome (cab_client_t *self, const cabi_proto_t *msg)
{
    json_t *settings = json_loadb (msg->body, msg->body_size, 0, NULL);
    json_int_t heartbeat = json_integer_value (json_object_get (settings, "heartbeat_ms"));
    json_int_t timeout = json_integer_value (json_object_get (settings, "timeout_ms"));
    json_int_t window = json_integer_value (json_object_get (settings, "max_in_flight"));
    json_decref (settings);
    if (heartbeat >= 10 && heartbeat <= 600000)
        self->heartbeat_ms = (int)heartbeat;
    if (timeout > heartbeat && timeout <= 3600000)
        self->timeout_ms = (int)timeout;
    if (window >= 1 && window <= CAB_CLIENT_MAX_WINDOW)
        self->broker_window = (size_t)window;
    self->welcomed = true;
    self->refused[0] = 0;
    self->sessions++;
    self->hello_wait_ms = S_HELLO_FIRST_MS;
    //  A new session: whatever the last one did not answer is sent again.
    self->unsent = 0;
    for (s_entry_t *entry = (s_entry_t *)zlistx_first (self->pending); entry;
         entry = (s_entry_t *)zlistx_next (self->pending)) {
        entry->sent = false;
        self->unsent++;
    }
    s_send_unsent (self);
    //  The broker gave the last session's unanswered deliveries to others.
    zhashx_purge (self->later);
    for (s_sub_t *sub = (s_sub_t *)zlistx_first (self->subs); sub;
         sub = (s_sub_t *)zlistx_next (self->subs))
        s_send_subscribe (self, sub);
}

//  A decoded message from the broker.
static void
s_on_message (cab_client_t *self, const cabi_proto_t *reply, int64_t now)
{
    self->last_recv = now;
    s_entry_t *entry = NULL;
    switch (reply->command) {
        case CABI_PROTO_WELCOME:
            s_on_welcome (self, reply);
            break;
        case CABI_PROTO_ACK:
        case CABI_PROTO_NACK:
            entry = (s_entry_t *)zhashx_lookup (self->by_tag, reply->tag);
            if (!entry)
                break;  //  A late answer to an event already answered
            if (reply->command == CABI_PROTO_NACK && reply->code == CAB_ERR_BUSY) {
                //  Transient: send it again a little later.
                if (entry->sent) {
                    entry->sent = false;
                    self->unsent++;
                }
                if (self->next_retry == 0)
                    self->next_retry = now + S_BUSY_RETRY_MS;
                break;
            }
            s_resolve (self, entry, reply);
            break;
        case CABI_PROTO_ERROR:
            //  The broker does not know us (restarted, or forgot us): a new session.
            if (self->welcomed && reply->code == CAB_ERR_DISCONNECTED)
                s_hello (self, now);
            else if (!self->welcomed && reply->code == CAB_ERR_ACCESS_DENIED)
                snprintf (self->refused, sizeof self->refused, " (HELLO refused: %.120s)",
                          reply->text);
            break;
        case CABI_PROTO_BYE:
            if (self->welcomed)
                s_hello (self, now);
            break;
        case CABI_PROTO_STATUS_REPLY:
            json_decref (self->status_reply);
            self->status_reply = json_loadb (reply->body, reply->body_size, 0, NULL);
            break;
        case CABI_PROTO_CONTROL_REPLY:
            json_decref (self->control_reply);
            self->control_reply = json_loadb (reply->body, reply->body_size, 0, NULL);
            if (!self->control_reply)
                self->control_reply = json_null ();  //  Unreadable: the caller says so
            break;
        case CABI_PROTO_SUBSCRIBED:
            s_on_subscribed (self, reply);
            break;
        case CABI_PROTO_DELIVER:
            s_on_deliver (self, reply);
            break;
        default:
            break;
    }
}

static void
s_timers (cab_client_t *self, int64_t now)
{
    if (!self->agent_id[0])
        return;
    if (self->welcomed) {
        if (now - self->last_recv > self->timeout_ms)
            s_reconnect (self, now);  //  The broker went quiet
        else if (now >= self->next_heartbeat) {
            zmsg_t *msg = cabi_proto_new_simple (CABI_PROTO_HEARTBEAT);
            s_send (self, &msg);
            self->next_heartbeat = now + self->heartbeat_ms;
        }
    } else if (now >= self->hello_deadline)
        s_reconnect (self, now);
    if (self->next_retry && now >= self->next_retry) {
        self->next_retry = 0;
        s_send_unsent (self);
    }
}

static int64_t
s_next_timer (cab_client_t *self)
{
    if (!self->agent_id[0])
        return INT64_MAX;
    int64_t next = self->welcomed ? self->next_heartbeat : self->hello_deadline;
    if (self->welcomed && self->last_recv + self->timeout_ms < next)
        next = self->last_recv + self->timeout_ms + 1;
    if (self->next_retry && self->next_retry < next)
        next = self->next_retry;
    return next;
}

//  Wait until `deadline` (INT64_MAX: forever) for input, then drain it.
static void
s_pump (cab_client_t *self, int64_t deadline)
{
    int64_t now = zclock_mono ();
    s_timers (self, now);
    int64_t until = s_next_timer (self);
    if (deadline < until)
        until = deadline;
    long wait = until == INT64_MAX ? -1 : (long)(until > now ? until - now : 0);
    if (!self->dealer) {
        //  No socket (a reconnection could not make one): wait, then retry.
        zclock_sleep (wait < 0 || wait > 100 ? 100 : (int)wait);
        s_timers (self, zclock_mono ());
        return;
    }
    zmq_pollitem_t item = {zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, wait) <= 0) {
        s_timers (self, zclock_mono ());
        return;
    }
    now = zclock_mono ();
    //  Received as parts, not as a zmsg_t: an ACK allocates nothing. (A
    //  message may reconnect, which replaces the socket: resolved each time.)
    cabi_proto_parts_t parts;
    for (int count = 0; count < 10000 && self->dealer; count++) {
        if (cabi_proto_recv (zsock_resolve (self->dealer), &parts) <= 0)
            break;
        cabi_proto_t reply;
        if (cabi_proto_decode_parts (&parts, 0, &reply, NULL) == CAB_OK)
            s_on_message (self, &reply, now);
        //  (Anything else: not for us to argue with the broker, ignored.)
        cabi_proto_parts_close (&parts);
    }
    s_timers (self, now);
}

static int64_t
s_deadline (int timeout_ms)
{
    return timeout_ms < 0 ? INT64_MAX : zclock_mono () + timeout_ms;
}

cab_client_t *
cab_client_new (const char *endpoint, const char *agent_id, cab_error_t *error)
{
    if (!endpoint || !*endpoint)
        endpoint = getenv ("CABRUCA_BROKER");
    if (!endpoint || !*endpoint)
        endpoint = CAB_CLIENT_DEFAULT_ENDPOINT;
    cab_client_t *self = (cab_client_t *)calloc (1, sizeof *self);
    if (!self) {
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    if (agent_id && !cabi_proto_agent_id_valid (agent_id)) {
        free (self);
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                       "agent id '%s' is not 1-64 of [A-Za-z0-9._-]", agent_id);
        return NULL;
    }
    self->endpoint = strdup (endpoint);
    self->pending = zlistx_new ();
    self->by_tag = zhashx_new ();
    self->subs = zlistx_new ();
    self->later = zhashx_new ();
    if (!self->endpoint || !self->pending || !self->by_tag || !self->subs || !self->later) {
        cab_client_destroy (&self);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    zlistx_set_destructor (self->pending, s_entry_destroy);
    zlistx_set_destructor (self->subs, s_sub_destroy);
    if (!cabi_textpool_set_max (&self->texts, S_TEXT_POOL_MAX)) {
        cab_client_destroy (&self);
        cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        return NULL;
    }
    self->window = CAB_CLIENT_DEFAULT_WINDOW;
    self->heartbeat_ms = S_HEARTBEAT_MS;
    self->timeout_ms = S_TIMEOUT_MS;
    self->hello_wait_ms = S_HELLO_FIRST_MS;
    if (s_socket_open (self, error) != CAB_OK) {
        cab_client_destroy (&self);
        return NULL;
    }
    if (agent_id)
        snprintf (self->agent_id, sizeof self->agent_id, "%s", agent_id);
    int64_t now = zclock_mono ();
    self->last_recv = now;
    s_hello (self, now);
    return self;
}

void
cab_client_destroy (cab_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cab_client_t *self = *self_p;
    if (self->dealer && self->welcomed) {
        zmsg_t *msg = cabi_proto_new_simple (CABI_PROTO_BYE);
        s_send (self, &msg);
    }
    zsock_destroy (&self->dealer);
    zhashx_destroy (&self->by_tag);
    zlistx_destroy (&self->pending);
    cabi_textpool_fini (&self->texts);
    zlistx_destroy (&self->subs);
    zhashx_destroy (&self->later);
    json_decref (self->status_reply);
    json_decref (self->control_reply);
    zcert_destroy (&self->curve_cert);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
cab_client_set_handler (cab_client_t *self, cab_client_result_fn *handler, void *arg)
{
    assert (self);
    self->handler = handler;
    self->handler_arg = arg;
}

cab_status_t
cab_client_set_window (cab_client_t *self, size_t window)
{
    assert (self);
    if (window < 1 || window > CAB_CLIENT_MAX_WINDOW)
        return CAB_ERR_INVALID_ARGUMENT;
    self->window = window;
    return CAB_OK;
}

//  Load a certificate file; with secret, it must have its secret key.
static zcert_t *
s_cert_load (const char *path, bool secret, cab_error_t *error)
{
    if (!path || !zsys_file_exists (path)) {
        cab_error_set (error, CAB_ERR_IO, NULL, "cannot read certificate %s", path ? path : "");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (cert && secret &&
        strcmp (zcert_secret_txt (cert), "0000000000000000000000000000000000000000") == 0)
        zcert_destroy (&cert);
    if (!cert)
        cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "%s is not a %s certificate", path,
                       secret ? "secret (agent's NAME_secret)" : "CURVE");
    return cert;
}

cab_status_t
cab_client_set_curve (cab_client_t *self, const char *client_cert_file,
                      const char *server_cert_file, cab_error_t *error)
{
    assert (self);
    if (!zsys_has_curve ())
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "this ZeroMQ library has no CURVE support");
    zcert_t *cert = s_cert_load (client_cert_file, true, error);
    if (!cert)
        return error ? error->code : CAB_ERR_INVALID_ARGUMENT;
    zcert_t *server = s_cert_load (server_cert_file, false, error);
    if (!server) {
        zcert_destroy (&cert);
        return error ? error->code : CAB_ERR_INVALID_ARGUMENT;
    }
    snprintf (self->curve_server, sizeof self->curve_server, "%s", zcert_public_txt (server));
    zcert_destroy (&server);
    zcert_destroy (&self->curve_cert);
    self->curve_cert = cert;
    //  Start over on a CURVE connection (WELCOME sends the unanswered again).
    int64_t now = zclock_mono ();
    cab_status_t status = s_socket_open (self, error);
    if (status != CAB_OK)
        return status;
    self->last_recv = now;
    s_hello (self, now);
    return CAB_OK;
}

static size_t
s_window (cab_client_t *self)
{
    if (self->broker_window && self->broker_window < self->window)
        return self->broker_window;
    return self->window;
}

//  Take a copy of text into a new entry and send it when we can.
static cab_status_t
s_publish (cab_client_t *self, const char *text, size_t size, const char *id, int timeout_ms,
           s_entry_t **entry_p, cab_error_t *error)
{
    if (!self->agent_id[0])
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a client without an agent id cannot publish");
    int64_t deadline = s_deadline (timeout_ms);
    while (zlistx_size (self->pending) >= s_window (self)) {
        if (zclock_mono () >= deadline)
            return cab_error_set (error, CAB_ERR_BUSY, NULL, "%zu events in flight (window full)",
                                  zlistx_size (self->pending));
        s_pump (self, deadline);
    }
    s_entry_t *entry = (s_entry_t *)calloc (1, sizeof *entry);
    if (entry)
        entry->text = cabi_textbuf_new (&self->texts, text, size);
    if (!entry || !entry->text) {
        void *item = entry;
        s_entry_destroy (&item);
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    }
    cabi_proto_copy (entry->id, sizeof entry->id, id);
    entry->number = ++self->next_tag;
    cabi_proto_decimal (entry->tag, entry->number);
    entry->handle = zlistx_add_end (self->pending, entry);
    zhashx_insert (self->by_tag, entry->tag, entry);
    self->unsent++;
    s_send_entry (self, entry);
    if (entry_p)
        *entry_p = entry;
    return CAB_OK;
}

static cab_status_t
s_publish_event (cab_client_t *self, cab_event_t **event_p, int timeout_ms, s_entry_t **entry_p,
                 cab_error_t *error)
{
    assert (event_p);
    cab_event_t *event = *event_p;
    *event_p = NULL;
    if (!event)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no event");
    cab_status_t status = CAB_OK;
    if (!cab_event_agent_id (event) && self->agent_id[0])
        status = cab_event_set_agent_id (event, self->agent_id);
    size_t size = 0;
    const char *text = status == CAB_OK ? cab_event_text (event, &size) : NULL;
    if (!text)
        status = cab_error_set (error, CAB_ERR_NOMEM, NULL, "cannot serialise the event");
    else
        status = s_publish (self, text, size, cab_event_id (event), timeout_ms, entry_p, error);
    cab_event_destroy (&event);
    return status;
}

cab_status_t
cab_client_publish (cab_client_t *self, cab_event_t **event_p, int timeout_ms, cab_error_t *error)
{
    assert (self);
    return s_publish_event (self, event_p, timeout_ms, NULL, error);
}

cab_status_t
cab_client_publish_text (cab_client_t *self, const char *text, size_t size, int timeout_ms,
                         cab_error_t *error)
{
    assert (self);
    if (!text)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no text");
    return s_publish (self, text, size, NULL, timeout_ms, NULL, error);
}

cab_status_t
cab_client_publish_wait (cab_client_t *self, cab_event_t **event_p, int timeout_ms, uint64_t *seq_p,
                         cab_error_t *error)
{
    assert (self);
    int64_t deadline = s_deadline (timeout_ms);
    s_entry_t *entry = NULL;
    cab_status_t status = s_publish_event (self, event_p, timeout_ms, &entry, error);
    if (status != CAB_OK)
        return status;
    entry->waited = true;
    self->wait_done = false;
    while (!self->wait_done) {
        if (zclock_mono () >= deadline) {
            entry->waited = false;  //  Its late result goes to the handler
            return cab_error_set (error, CAB_ERR_TIMEOUT, NULL, "no answer from the broker at %s%s",
                                  self->endpoint, self->refused);
        }
        s_pump (self, deadline);
    }
    if (self->wait_error.code != CAB_OK) {
        if (error)
            *error = self->wait_error;
        return self->wait_error.code;
    }
    if (seq_p)
        *seq_p = self->wait_seq;
    return CAB_OK;
}

cab_status_t
cab_client_poll (cab_client_t *self, int timeout_ms)
{
    assert (self);
    s_pump (self, s_deadline (timeout_ms));
    return CAB_OK;
}

cab_status_t
cab_client_flush (cab_client_t *self, int timeout_ms, cab_error_t *error)
{
    assert (self);
    int64_t deadline = s_deadline (timeout_ms);
    while (zlistx_size (self->pending) > 0) {
        if (zclock_mono () >= deadline)
            return cab_error_set (error, CAB_ERR_TIMEOUT, NULL,
                                  "%zu events still in flight to %s%s", zlistx_size (self->pending),
                                  self->endpoint, self->refused);
        s_pump (self, deadline);
    }
    return CAB_OK;
}

cab_status_t
cab_client_status (cab_client_t *self, json_t **report_p, int timeout_ms, cab_error_t *error)
{
    assert (self);
    assert (report_p);
    *report_p = NULL;
    int64_t deadline = s_deadline (timeout_ms);
    json_decref (self->status_reply);
    self->status_reply = NULL;
    int64_t next_ask = 0;
    while (!self->status_reply) {
        int64_t now = zclock_mono ();
        if (now >= deadline)
            return cab_error_set (error, CAB_ERR_TIMEOUT, NULL, "no status from the broker at %s",
                                  self->endpoint);
        if (now >= next_ask) {
            //  Ask again now and then: a request sent before the connection
            //  was up may be gone.
            zmsg_t *msg = cabi_proto_new_simple (CABI_PROTO_STATUS);
            s_send (self, &msg);
            next_ask = now + 500;
        }
        s_pump (self, deadline < next_ask ? deadline : next_ask);
    }
    if (!json_is_object (self->status_reply))
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unreadable STATUS-REPLY");
    *report_p = self->status_reply;
    self->status_reply = NULL;
    return CAB_OK;
}

size_t
cab_client_in_flight (cab_client_t *self)
{
    assert (self);
    return zlistx_size (self->pending);
}

bool
cab_client_connected (cab_client_t *self)
{
    assert (self);
    return self->welcomed;
}

uint64_t
cab_client_sessions (cab_client_t *self)
{
    assert (self);
    return self->sessions;
}

cab_status_t
cab_client_subscribe (cab_client_t *self, const char *queue, const json_t *options,
                      cab_client_deliver_fn *fn, void *arg, int timeout_ms, cab_error_t *error)
{
    assert (self);
    if (!self->agent_id[0])
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a client without an agent id cannot subscribe");
    if (!cabi_proto_queue_valid (queue))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "queue '%s' is not 1-64 of [A-Za-z0-9._-]", queue ? queue : "");
    if (!fn)
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL, "no delivery handler");
    if (options && !json_is_object (options))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "subscription options must be a JSON object");
    char *text = options ? json_dumps (options, JSON_COMPACT) : NULL;
    if (options && !text)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    if (text && strlen (text) > CABI_PROTO_JSON_MAX) {
        free (text);
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "subscription options over %d bytes", CABI_PROTO_JSON_MAX);
    }
    s_sub_t *sub = s_sub_find (self, queue);
    if (!sub) {
        sub = (s_sub_t *)calloc (1, sizeof *sub);
        if (!sub || !(sub->handle = zlistx_add_end (self->subs, sub))) {
            free (sub);
            free (text);
            return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
        }
        snprintf (sub->queue, sizeof sub->queue, "%s", queue);
    }
    free (sub->options);
    sub->options = text;
    sub->fn = fn;
    sub->arg = arg;
    s_send_subscribe (self, sub);
    if (timeout_ms == 0)
        return CAB_OK;
    int64_t deadline = s_deadline (timeout_ms);
    while (sub->answer == 0) {
        if (zclock_mono () >= deadline)
            return cab_error_set (error, CAB_ERR_TIMEOUT, NULL,
                                  "no answer to SUBSCRIBE %s from the broker at %s", queue,
                                  self->endpoint);
        s_pump (self, deadline);
    }
    if (sub->answer > 0)
        return CAB_OK;
    cab_status_t code = sub->refusal.code;
    if (error)
        *error = sub->refusal;
    void *item = zlistx_detach (self->subs, sub->handle);
    s_sub_destroy (&item);
    return code;
}

cab_status_t
cab_client_settle (cab_client_t *self, uint64_t delivery, bool ack, cab_error_t *error)
{
    assert (self);
    char key[24];
    snprintf (key, sizeof key, "%" PRIu64, delivery);
    if (!zhashx_lookup (self->later, key))
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL,
                              "delivery %s does not wait for an answer", key);
    zhashx_delete (self->later, key);
    s_send_dack (self, ack, delivery, ack ? NULL : "refused by the consumer");
    return CAB_OK;
}

cab_status_t
cab_client_unsubscribe (cab_client_t *self, const char *queue, cab_error_t *error)
{
    assert (self);
    s_sub_t *sub = queue ? s_sub_find (self, queue) : NULL;
    if (!sub)
        return cab_error_set (error, CAB_ERR_NOT_FOUND, NULL, "not subscribed to '%s'",
                              queue ? queue : "");
    if (self->welcomed) {
        zmsg_t *msg = cabi_proto_new_unsubscribe (sub->queue);
        s_send (self, &msg);
    }
    void *item = zlistx_detach (self->subs, sub->handle);
    s_sub_destroy (&item);
    return CAB_OK;
}

cab_status_t
cab_client_control (cab_client_t *self, const json_t *request, json_t **reply_p, int timeout_ms,
                    cab_error_t *error)
{
    assert (self);
    assert (reply_p);
    *reply_p = NULL;
    if (!json_is_object (request))
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "a control request is a JSON object");
    char *text = json_dumps (request, JSON_COMPACT);
    if (!text)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    if (strlen (text) > CABI_PROTO_JSON_MAX) {
        free (text);
        return cab_error_set (error, CAB_ERR_INVALID_ARGUMENT, NULL,
                              "control request over %d bytes", CABI_PROTO_JSON_MAX);
    }
    json_decref (self->control_reply);
    self->control_reply = NULL;
    zmsg_t *msg = cabi_proto_new_json (CABI_PROTO_CONTROL, text);
    free (text);
    if (!msg)
        return cab_error_set (error, CAB_ERR_NOMEM, NULL, "out of memory");
    //  Sent once; ZeroMQ keeps it until the connection is up.
    int64_t deadline = s_deadline (timeout_ms);
    bool sent = false;
    while (!self->control_reply) {
        if (!sent && self->dealer) {
            sent = zmsg_send (&msg, self->dealer) == 0;
            if (!sent && zclock_mono () + S_BUSY_RETRY_MS < deadline)
                zclock_sleep (S_BUSY_RETRY_MS);
        }
        if (zclock_mono () >= deadline) {
            zmsg_destroy (&msg);
            return cab_error_set (error, CAB_ERR_TIMEOUT, NULL,
                                  "no answer to the control request from the broker at %s",
                                  self->endpoint);
        }
        if (sent)
            s_pump (self, deadline);
    }
    zmsg_destroy (&msg);
    if (!json_is_object (self->control_reply)) {
        json_decref (self->control_reply);
        self->control_reply = NULL;
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unreadable CONTROL-REPLY");
    }
    *reply_p = self->control_reply;
    self->control_reply = NULL;
    return CAB_OK;
}

void *
cab_client_socket (cab_client_t *self)
{
    assert (self);
    return self->dealer;
}
