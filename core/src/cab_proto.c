/*  =========================================================================
    cab_proto - the wire protocol codec; the grammar is docs/protocol.md
    =========================================================================
*/
#include "cab_proto.h"
#include <errno.h>
#include <string.h>

void
cabi_proto_copy (char *buffer, size_t capacity, const char *src)
{
    size_t length = src ? strnlen (src, capacity - 1) : 0;
    memcpy (buffer, src ? src : "", length);
    buffer[length] = '\0';
}

char *
cabi_proto_decimal (char *number, uint64_t value)
{
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t index = 0; index < count; index++)
        number[index] = digits[count - 1 - index];
    number[count] = '\0';
    return number;
}

typedef struct {
    const char *name;
    int min_args;  //  Frames after the command name
    int max_args;
} s_grammar_t;

//  Indexed by cabi_proto_command_t.
static const s_grammar_t s_grammar[CABI_PROTO_COUNT_] = {
    {"?", 0, 0},
    {"HELLO", 1, 2},
    {"WELCOME", 1, 1},
    {"PUBLISH", 2, 2},
    {"ACK", 4, 4},
    {"NACK", 5, 5},
    {"HEARTBEAT", 0, 0},
    {"STATUS", 0, 0},
    {"STATUS-REPLY", 1, 1},
    {"ERROR", 3, 3},
    {"BYE", 0, 0},
    {"SUBSCRIBE", 1, 2},
    {"UNSUBSCRIBE", 1, 1},
    {"DACK", 1, 1},
    {"DNACK", 1, 2},
    {"SUBSCRIBED", 2, 2},
    {"DELIVER", 4, 4},
    {"CONTROL", 1, 1},
    {"CONTROL-REPLY", 1, 1},
};

const char *
cabi_proto_command_name (cabi_proto_command_t command)
{
    if (command <= CABI_PROTO_NONE || command >= CABI_PROTO_COUNT_)
        return "?";
    return s_grammar[command].name;
}

static bool
s_frame_is (zframe_t *frame, const char *text)
{
    size_t length = strlen (text);
    return zframe_size (frame) == length && memcmp (zframe_data (frame), text, length) == 0;
}

//  True when data is 1..max bytes of printable ASCII 0x21..0x7e (charset
//  NULL) or of alphanumerics plus the bytes in charset.
static bool
s_token_valid (const unsigned char *data, size_t size, size_t max, const char *charset)
{
    if (size == 0 || size > max)
        return false;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = data[index];
        if (charset) {
            bool alnum = (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
                         (byte >= 'A' && byte <= 'Z');
            if (!alnum && (byte == 0 || !strchr (charset, byte)))
                return false;
        } else if (byte < 0x21 || byte > 0x7e)
            return false;
    }
    return true;
}

//  Copy a valid token frame into buffer (capacity max + 1).
static bool
s_copy_token (zframe_t *frame, char *buffer, size_t max, const char *charset)
{
    size_t size = zframe_size (frame);
    if (!s_token_valid (zframe_data (frame), size, max, charset))
        return false;
    memcpy (buffer, zframe_data (frame), size);
    buffer[size] = 0;
    return true;
}

bool
cabi_proto_agent_id_valid (const char *text)
{
    return text &&
           s_token_valid ((const unsigned char *)text, strlen (text), CABI_PROTO_AGENT_MAX, "-_.");
}

bool
cabi_proto_queue_valid (const char *text)
{
    return text &&
           s_token_valid ((const unsigned char *)text, strlen (text), CABI_PROTO_QUEUE_MAX, "-_.");
}

//  Copy a free-text frame, truncating to the buffer; NUL bytes are refused.
static bool
s_copy_text (zframe_t *frame, char *buffer, size_t capacity)
{
    size_t size = zframe_size (frame);
    if (memchr (zframe_data (frame), 0, size))
        return false;
    if (size >= capacity)
        size = capacity - 1;
    memcpy (buffer, zframe_data (frame), size);
    buffer[size] = 0;
    return true;
}

//  Parse 1..digits decimal digits, no sign, into *value.
static bool
s_parse_number (zframe_t *frame, size_t digits, uint64_t *value)
{
    size_t size = zframe_size (frame);
    const unsigned char *data = zframe_data (frame);
    if (size == 0 || size > digits)
        return false;
    uint64_t result = 0;
    for (size_t index = 0; index < size; index++) {
        if (data[index] < '0' || data[index] > '9')
            return false;
        unsigned digit = data[index] - '0';
        if (result > (UINT64_MAX - digit) / 10)
            return false;
        result = result * 10 + digit;
    }
    *value = result;
    return true;
}

static cab_status_t
s_bad (cab_error_t *error, cabi_proto_t *out, const char *what)
{
    return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "%s: %s",
                          cabi_proto_command_name (out->command), what);
}

static cab_status_t
s_decode_signature (zframe_t *frame, cabi_proto_t *out, cab_error_t *error)
{
    size_t size = zframe_size (frame);
    const char *data = (const char *)zframe_data (frame);
    if (size < 5 || size > 8 || memcmp (data, "CAB/", 4) != 0)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "first frame is not a protocol signature \"CAB/<version>\"");
    int version = 0;
    for (size_t index = 4; index < size; index++) {
        if (data[index] < '0' || data[index] > '9')
            return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "malformed protocol signature");
        version = version * 10 + (data[index] - '0');
    }
    out->version = version;
    if (version != CABI_PROTO_VERSION)
        return cab_error_set (error, CAB_ERR_UNSUPPORTED_VERSION, NULL,
                              "protocol version %d is not supported; this peer speaks %s", version,
                              CABI_PROTO_SIGNATURE);
    return CAB_OK;
}

static cab_status_t
s_decode_body (zframe_t *frame, cabi_proto_t *out, size_t limit, cab_error_t *error)
{
    if (zframe_size (frame) > limit) {
        if (out->command == CABI_PROTO_PUBLISH)
            return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                                  "event of %zu bytes is over the limit of %zu bytes",
                                  zframe_size (frame), limit);
        return s_bad (error, out, "body over the size limit");
    }
    out->body = (const char *)zframe_data (frame);
    out->body_size = zframe_size (frame);
    return CAB_OK;
}

//  Decode the arguments of a command whose frame count is already checked.
static cab_status_t
s_decode_args (zframe_t **args, int count, cabi_proto_t *out, cab_error_t *error)
{
    uint64_t number = 0;
    switch (out->command) {
        case CABI_PROTO_HELLO:
            if (!s_copy_token (args[0], out->agent_id, CABI_PROTO_AGENT_MAX, "-_."))
                return s_bad (error, out, "agent id must be 1-64 of [A-Za-z0-9._-]");
            if (count == 2)
                return s_decode_body (args[1], out, CABI_PROTO_JSON_MAX, error);
            return CAB_OK;
        case CABI_PROTO_WELCOME:
        case CABI_PROTO_STATUS_REPLY:
        case CABI_PROTO_CONTROL:
        case CABI_PROTO_CONTROL_REPLY:
            return s_decode_body (args[0], out, CABI_PROTO_JSON_MAX, error);
        case CABI_PROTO_SUBSCRIBE:
        case CABI_PROTO_UNSUBSCRIBE:
        case CABI_PROTO_SUBSCRIBED:
            if (!s_copy_token (args[0], out->queue, CABI_PROTO_QUEUE_MAX, "-_."))
                return s_bad (error, out, "queue must be 1-64 of [A-Za-z0-9._-]");
            if (count == 2)
                return s_decode_body (args[1], out, CABI_PROTO_JSON_MAX, error);
            return CAB_OK;
        case CABI_PROTO_DACK:
        case CABI_PROTO_DNACK:
        case CABI_PROTO_DELIVER:
            if (!s_parse_number (args[0], 20, &out->delivery) || out->delivery == 0)
                return s_bad (error, out, "delivery id must be a positive decimal");
            if (out->command == CABI_PROTO_DNACK && count == 2 &&
                !s_copy_text (args[1], out->text, sizeof out->text))
                return s_bad (error, out, "malformed text");
            if (out->command != CABI_PROTO_DELIVER)
                return CAB_OK;
            if (!s_copy_token (args[1], out->queue, CABI_PROTO_QUEUE_MAX, "-_."))
                return s_bad (error, out, "queue must be 1-64 of [A-Za-z0-9._-]");
            if (!s_parse_number (args[2], 3, &number) || number == 0)
                return s_bad (error, out, "attempt must be a decimal from 1 to 999");
            out->attempt = (int)number;
            return s_decode_body (args[3], out, CAB_EVENT_MAX_SIZE, error);
        case CABI_PROTO_PUBLISH:
            return s_decode_body (args[1], out, CAB_EVENT_MAX_SIZE, error);
        case CABI_PROTO_ACK:
            if (!s_parse_number (args[1], 20, &out->seq) || out->seq == 0)
                return s_bad (error, out, "sequence number must be a positive decimal");
            if (!s_copy_token (args[2], out->event_id, CABI_PROTO_ID_MAX, NULL))
                return s_bad (error, out, "malformed event id");
            if (s_frame_is (args[3], "duplicate"))
                out->duplicate = true;
            else if (!s_frame_is (args[3], "stored"))
                return s_bad (error, out, "disposition must be \"stored\" or \"duplicate\"");
            return CAB_OK;
        case CABI_PROTO_NACK:
        case CABI_PROTO_ERROR: {
            zframe_t **rest = out->command == CABI_PROTO_NACK ? args + 1 : args;
            if (!s_parse_number (rest[0], 5, &number) || number == 0 || number > 65535)
                return s_bad (error, out, "code must be a decimal status code");
            out->code = (cab_status_t)number;
            //  rest[1] is the code's name: informative, the number rules.
            if (out->command == CABI_PROTO_NACK &&
                !s_copy_text (rest[2], out->path, sizeof out->path))
                return s_bad (error, out, "malformed pointer");
            zframe_t *text = rest[out->command == CABI_PROTO_NACK ? 3 : 2];
            if (!s_copy_text (text, out->text, sizeof out->text))
                return s_bad (error, out, "malformed text");
            return CAB_OK;
        }
        default:
            return CAB_OK;
    }
}

cab_status_t
cabi_proto_decode (zmsg_t *msg, cabi_proto_t *out, cab_error_t *error)
{
    memset (out, 0, sizeof *out);
    size_t frames = msg ? zmsg_size (msg) : 0;
    if (frames < 2)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "a message needs at least a signature and a command frame");
    zframe_t *frame = zmsg_first (msg);
    cab_status_t status = s_decode_signature (frame, out, error);
    //  Read the command even for another version: the caller may log it.
    frame = zmsg_next (msg);
    for (int command = CABI_PROTO_HELLO; command < CABI_PROTO_COUNT_; command++)
        if (s_frame_is (frame, s_grammar[command].name)) {
            out->command = (cabi_proto_command_t)command;
            break;
        }
    if (status != CAB_OK)
        return status;
    if (out->command == CABI_PROTO_NONE) {
        char name[33];
        if (!s_copy_token (frame, name, sizeof name - 1, NULL))
            return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unknown command");
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unknown command '%s'", name);
    }
    zframe_t *args[CABI_PROTO_FRAMES_MAX];
    int count = 0;
    while ((frame = zmsg_next (msg))) {
        if (count == CABI_PROTO_FRAMES_MAX)
            return s_bad (error, out, "too many frames");
        args[count++] = frame;
    }
    //  The tag first, so that a bad PUBLISH can still be NACKed by tag.
    bool tagged = out->command == CABI_PROTO_PUBLISH || out->command == CABI_PROTO_ACK ||
                  out->command == CABI_PROTO_NACK;
    if (tagged && count > 0 && !s_copy_token (args[0], out->tag, CABI_PROTO_TAG_MAX, NULL))
        return s_bad (error, out, "tag must be 1-64 printable ASCII bytes");
    const s_grammar_t *grammar = &s_grammar[out->command];
    if (count < grammar->min_args || count > grammar->max_args)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "%s takes %d to %d argument frames, not %d", grammar->name,
                              grammar->min_args, grammar->max_args, count);
    return s_decode_args (args, count, out, error);
}

static int
s_add_string (zmsg_t *msg, const char *text)
{
    return zmsg_addmem (msg, text ? text : "", text ? strlen (text) : 0);
}

zmsg_t *
cabi_proto_encode (const cabi_proto_t *in)
{
    assert (in->command > CABI_PROTO_NONE && in->command < CABI_PROTO_COUNT_);
    zmsg_t *msg = zmsg_new ();
    if (!msg)
        return NULL;
    char number[24];
    int rc = s_add_string (msg, CABI_PROTO_SIGNATURE);
    rc |= s_add_string (msg, s_grammar[in->command].name);
    switch (in->command) {
        case CABI_PROTO_HELLO:
            rc |= s_add_string (msg, in->agent_id);
            if (in->body)
                rc |= zmsg_addmem (msg, in->body, in->body_size);
            break;
        case CABI_PROTO_PUBLISH:
            rc |= s_add_string (msg, in->tag);
            rc |= zmsg_addmem (msg, in->body, in->body_size);
            break;
        case CABI_PROTO_WELCOME:
        case CABI_PROTO_STATUS_REPLY:
        case CABI_PROTO_CONTROL:
        case CABI_PROTO_CONTROL_REPLY:
            rc |= zmsg_addmem (msg, in->body, in->body_size);
            break;
        case CABI_PROTO_SUBSCRIBE:
        case CABI_PROTO_UNSUBSCRIBE:
        case CABI_PROTO_SUBSCRIBED:
            rc |= s_add_string (msg, in->queue);
            if (in->body && in->command != CABI_PROTO_UNSUBSCRIBE)
                rc |= zmsg_addmem (msg, in->body, in->body_size);
            break;
        case CABI_PROTO_DACK:
        case CABI_PROTO_DNACK:
        case CABI_PROTO_DELIVER:
            rc |= s_add_string (msg, cabi_proto_decimal (number, in->delivery));
            if (in->command == CABI_PROTO_DNACK && in->text[0])
                rc |= s_add_string (msg, in->text);
            if (in->command == CABI_PROTO_DELIVER) {
                rc |= s_add_string (msg, in->queue);
                snprintf (number, sizeof number, "%d", in->attempt);
                rc |= s_add_string (msg, number);
                rc |= zmsg_addmem (msg, in->body, in->body_size);
            }
            break;
        case CABI_PROTO_ACK:
            rc |= s_add_string (msg, in->tag);
            rc |= s_add_string (msg, cabi_proto_decimal (number, in->seq));
            rc |= s_add_string (msg, in->event_id);
            rc |= s_add_string (msg, in->duplicate ? "duplicate" : "stored");
            break;
        case CABI_PROTO_NACK:
        case CABI_PROTO_ERROR:
            if (in->command == CABI_PROTO_NACK)
                rc |= s_add_string (msg, in->tag);
            snprintf (number, sizeof number, "%d", (int)in->code);
            rc |= s_add_string (msg, number);
            rc |= s_add_string (msg, cab_status_name (in->code));
            if (in->command == CABI_PROTO_NACK)
                rc |= s_add_string (msg, in->path);
            rc |= s_add_string (msg, in->text);
            break;
        default:
            break;
    }
    if (rc != 0)
        zmsg_destroy (&msg);
    return msg;
}

zmsg_t *
cabi_proto_new_simple (cabi_proto_command_t command)
{
    cabi_proto_t msg = {.command = command};
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_hello (const char *agent_id, const char *options_json)
{
    cabi_proto_t msg = {.command = CABI_PROTO_HELLO};
    cabi_proto_copy (msg.agent_id, sizeof msg.agent_id, agent_id);
    if (options_json) {
        msg.body = options_json;
        msg.body_size = strlen (options_json);
    }
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_publish (const char *tag, const char *event, size_t size)
{
    cabi_proto_t msg = {.command = CABI_PROTO_PUBLISH, .body = event, .body_size = size};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    return cabi_proto_encode (&msg);
}

int
cabi_proto_send_publish (void *socket, const char *tag, zmq_msg_t *event)
{
    const char *command = s_grammar[CABI_PROTO_PUBLISH].name;
    const int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    //  The first frame decides: once it is queued, ZeroMQ takes the rest
    //  of the message whatever its high-water mark.
    int rc = zmq_send (socket, CABI_PROTO_SIGNATURE, strlen (CABI_PROTO_SIGNATURE), more);
    if (rc >= 0)
        rc = zmq_send (socket, command, strlen (command), more);
    if (rc >= 0)
        rc = zmq_send (socket, tag, strnlen (tag, CABI_PROTO_TAG_MAX), more);
    if (rc >= 0)
        rc = zmq_msg_send (event, socket, ZMQ_DONTWAIT);
    if (rc < 0) {
        int saved = errno;
        zmq_msg_close (event);
        errno = saved;
        return -1;
    }
    return 0;
}

zmsg_t *
cabi_proto_new_ack (const char *tag, uint64_t seq, const char *event_id, bool duplicate)
{
    cabi_proto_t msg = {.command = CABI_PROTO_ACK, .seq = seq, .duplicate = duplicate};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    cabi_proto_copy (msg.event_id, sizeof msg.event_id, event_id);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_nack (const char *tag, cab_status_t code, const char *path, const char *text)
{
    cabi_proto_t msg = {.command = CABI_PROTO_NACK, .code = code};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    cabi_proto_copy (msg.path, sizeof msg.path, path);
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_error (cab_status_t code, const char *text)
{
    cabi_proto_t msg = {.command = CABI_PROTO_ERROR, .code = code};
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_json (cabi_proto_command_t command, const char *json)
{
    cabi_proto_t msg = {.command = command, .body = json, .body_size = strlen (json)};
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_subscribe (cabi_proto_command_t command, const char *queue, const char *options_json)
{
    cabi_proto_t msg = {.command = command};
    cabi_proto_copy (msg.queue, sizeof msg.queue, queue);
    if (options_json) {
        msg.body = options_json;
        msg.body_size = strlen (options_json);
    }
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_unsubscribe (const char *queue)
{
    return cabi_proto_new_subscribe (CABI_PROTO_UNSUBSCRIBE, queue, NULL);
}

zmsg_t *
cabi_proto_new_dack (cabi_proto_command_t command, uint64_t delivery, const char *text)
{
    cabi_proto_t msg = {.command = command, .delivery = delivery};
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_deliver (uint64_t delivery, const char *queue, int attempt, const char *event,
                        size_t size)
{
    cabi_proto_t msg = {.command = CABI_PROTO_DELIVER,
                        .delivery = delivery,
                        .attempt = attempt,
                        .body = event,
                        .body_size = size};
    cabi_proto_copy (msg.queue, sizeof msg.queue, queue);
    return cabi_proto_encode (&msg);
}
